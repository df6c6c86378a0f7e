import { randomUUID } from 'node:crypto'
import type { Db } from '../../src/db/create-db.ts'

/** An organisation with one facility, straight into the database. */
export async function orgWithFacility(db: Db, overrides: { timeZone?: string; roiDeadlineDays?: number } = {}) {
  const organization = await db.kysely.insertInto('organization').values({ name: `Org ${randomUUID().slice(0, 8)}` }).returningAll().executeTakeFirstOrThrow()
  const facility = await db.kysely
    .insertInto('facility')
    .values({
      organizationId: organization.id,
      name: `Facility ${randomUUID().slice(0, 8)}`,
      kind: 'hospital',
      timeZone: overrides.timeZone ?? 'America/New_York',
      roiDeadlineDays: overrides.roiDeadlineDays,
    })
    .returningAll()
    .executeTakeFirstOrThrow()
  return { organization, facility }
}

export async function auditEventsFor(db: Db, where: { verb?: string; resourceId?: string; requestId?: string }) {
  let q = db.kysely.selectFrom('auditEvent').selectAll().orderBy('id')
  if (where.verb) q = q.where('verb', '=', where.verb)
  if (where.resourceId) q = q.where('resourceId', '=', where.resourceId)
  if (where.requestId) q = q.where('requestId', '=', where.requestId)
  return q.execute()
}

/**
 * A patient of the facility's organisation, straight into the database, linked to the facility
 * (patient_facility) so that facility's users see it. Returns the core fields.
 */
export async function createPatient(
  db: Db,
  facilityId: string,
  overrides: { familyName?: string; givenNames?: string; birthDate?: string; mrn?: string; organizationId?: string } = {},
) {
  const organizationId =
    overrides.organizationId ??
    (await db.kysely.selectFrom('facility').select('organizationId').where('id', '=', facilityId).executeTakeFirstOrThrow()).organizationId
  return db.kysely.transaction().execute(async (trx) => {
    const patient = await trx
      .insertInto('patient')
      .values({
        organizationId,
        facilityId,
        mrn: overrides.mrn ?? `T${randomUUID().replace(/-/g, '').slice(0, 12)}`,
        familyName: overrides.familyName ?? `Testpatient${randomUUID().slice(0, 6)}`,
        givenNames: overrides.givenNames ?? 'Alex',
        birthDate: overrides.birthDate ?? '1980-05-17',
      })
      .returning(['id', 'organizationId', 'facilityId', 'mrn', 'familyName', 'givenNames'])
      .executeTakeFirstOrThrow()
    await trx.insertInto('patientFacility').values({ patientId: patient.id, facilityId }).execute()
    return { ...patient, birthDate: overrides.birthDate ?? '1980-05-17' }
  })
}
