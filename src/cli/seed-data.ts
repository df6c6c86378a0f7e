import type { Kysely } from 'kysely'
import type { Logger } from 'pino'
import type { Config } from '../config.ts'
import type { Database } from '../db/database.ts'

/** Fixed ids so the README's examples work against a seeded trial server. */
export const DEMO = {
  organizationId: '5e0c3d8a-1111-4a6b-9c1d-000000000001',
  hospitalId: '5e0c3d8a-2222-4a6b-9c1d-000000000001',
  clinicId: '5e0c3d8a-2222-4a6b-9c1d-000000000002',
  ascId: '5e0c3d8a-2222-4a6b-9c1d-000000000003',
}

/** Loads the demo organisation; running it again changes nothing. */
export async function seedDemo(db: Kysely<Database>, _config: Config, log: Pick<Logger, 'info'>) {
  await db.transaction().execute(async (trx) => {
    await trx.insertInto('organization').values({ id: DEMO.organizationId, name: 'Riverside Health (demo)' } as never)
      .onConflict((oc) => oc.column('id').doNothing()).execute()
    await trx.insertInto('facility').values([
      { id: DEMO.hospitalId, organizationId: DEMO.organizationId, name: 'Riverside General Hospital', kind: 'hospital', timeZone: 'America/New_York', npi: '1234567893', stateCode: 'NY' },
      { id: DEMO.clinicId, organizationId: DEMO.organizationId, name: 'Riverside Family Clinic', kind: 'clinic', timeZone: 'America/New_York', stateCode: 'NY', roiDeadlineDays: 15 },
      { id: DEMO.ascId, organizationId: DEMO.organizationId, name: 'Riverside Surgery Center', kind: 'ambulatory_surgery_center', timeZone: 'America/Chicago', stateCode: 'IL' },
    ] as never).onConflict((oc) => oc.column('id').doNothing()).execute()
  })
  log.info({ organizationId: DEMO.organizationId, facilities: [DEMO.hospitalId, DEMO.clinicId, DEMO.ascId] }, 'demo organisation loaded')
}
