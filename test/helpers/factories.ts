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
