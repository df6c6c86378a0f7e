import { sql, type Kysely } from 'kysely'
import type { Database, FacilityUpdate, NewFacility } from '../../db/database.ts'
import { after, scopeIds } from '../../db/query-helpers.ts'

type Db = Kysely<Database>

export const insertOrganization = (db: Db, name: string) =>
  db.insertInto('organization').values({ name }).returningAll().executeTakeFirstOrThrow()

/** Organisations are visible through their facilities: `facilityIds` undefined means all. */
function organizations(db: Db, facilityIds: string[] | undefined) {
  const q = db.selectFrom('organization').selectAll()
  if (!facilityIds) return q
  return q.where((eb) =>
    eb.exists(
      eb.selectFrom('facility').select('facility.id')
        .whereRef('facility.organizationId', '=', 'organization.id')
        .where('facility.id', 'in', scopeIds(facilityIds)),
    ),
  )
}

export const findOrganizationById = (db: Db, id: string, facilityIds: string[] | undefined) =>
  organizations(db, facilityIds).where('id', '=', id).executeTakeFirst()

export function listOrganizations(db: Db, facilityIds: string[] | undefined, cursor: (string | number)[] | undefined, limit: number) {
  let q = organizations(db, facilityIds).orderBy('name').orderBy('id').limit(limit + 1)
  if (cursor) q = q.where(after(['name', 'id'], cursor))
  return q.execute()
}

export function updateOrganization(db: Db, id: string, expectedVersion: number | undefined, name: string) {
  let q = db.updateTable('organization').set({ name, version: sql`version + 1`, updatedAt: sql`now()` }).where('id', '=', id)
  if (expectedVersion !== undefined) q = q.where('version', '=', expectedVersion)
  return q.returningAll().executeTakeFirst()
}

export const insertFacility = (db: Db, facility: NewFacility) =>
  db.insertInto('facility').values(facility).returningAll().executeTakeFirstOrThrow()

export function findFacilityById(db: Db, id: string, facilityIds: string[] | undefined) {
  let q = db.selectFrom('facility').selectAll().where('id', '=', id)
  if (facilityIds) q = q.where('id', 'in', scopeIds(facilityIds))
  return q.executeTakeFirst()
}

export function listFacilities(
  db: Db,
  filter: { facilityIds?: string[]; organizationId?: string },
  cursor: (string | number)[] | undefined,
  limit: number,
) {
  let q = db.selectFrom('facility').selectAll().orderBy('name').orderBy('id').limit(limit + 1)
  if (filter.facilityIds) q = q.where('id', 'in', scopeIds(filter.facilityIds))
  if (filter.organizationId) q = q.where('organizationId', '=', filter.organizationId)
  if (cursor) q = q.where(after(['name', 'id'], cursor))
  return q.execute()
}

export function updateFacility(db: Db, id: string, expectedVersion: number | undefined, changes: FacilityUpdate) {
  let q = db.updateTable('facility').set({ ...changes, version: sql`version + 1`, updatedAt: sql`now()` }).where('id', '=', id)
  if (expectedVersion !== undefined) q = q.where('version', '=', expectedVersion)
  return q.returningAll().executeTakeFirst()
}
