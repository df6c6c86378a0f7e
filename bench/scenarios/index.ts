import type { Scenario } from '../lib/scenario.ts'
import { facilityRead, facilityReadAuditOff } from './facility-read.ts'
import { readyz } from './readyz.ts'
import { booking, slotSearch, slotSearchUncached } from './scheduling.ts'
import { eligibilityCheck } from './eligibility.ts'
import { patientCreate, patientRead, patientSearch, patientSearchAuditOff } from './patients.ts'

/** Every scenario, in the order they run. A domain adds its file here. */
export const scenarios: Scenario<any>[] = [readyz, facilityRead, facilityReadAuditOff, slotSearch, slotSearchUncached, booking, eligibilityCheck, patientCreate, patientRead, patientSearch, patientSearchAuditOff]
