import type { Config } from '../../config.ts'
import { loadPhiKey, phiCrypto } from '../patients/phi-crypto.ts'
import { appointmentImport } from './import-appointments.ts'
import { coverageImport } from './import-coverages.ts'
import { patientImport } from './import-patients.ts'
import { providerImport } from './import-providers.ts'
import type { KindHandlers } from './import.service.ts'

/** Every record kind an import can load: the API and the CLI's in-process mode share these. */
export function importHandlers(config: Config): KindHandlers {
  return {
    patients: patientImport(phiCrypto(loadPhiKey(config))),
    coverages: coverageImport(),
    providers: providerImport(),
    appointments: appointmentImport(),
  }
}
