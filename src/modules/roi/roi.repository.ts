import { sql, type Insertable, type Kysely, type Transaction, type Updateable } from 'kysely'
import type {
  Database,
  DisclosureTable,
  RoiAttachmentTable,
  RoiAuthorizationTable,
  RoiDenialTable,
  RoiInvoiceTable,
  RoiReleaseTable,
  RoiRequestTable,
} from '../../db/database.ts'
import { scopeIds } from '../../db/query-helpers.ts'

type Db = Kysely<Database>

export const OPEN_STATUSES = ['received', 'in_review', 'pending_authorization', 'in_progress', 'ready_for_release']

/** Today's date where the facility is: deadlines are calendar days at the facility. */
const facilityToday = sql<string>`(now() AT TIME ZONE facility.time_zone)::date`

export const findFacility = (db: Db, id: string) =>
  db.selectFrom('facility').select(['id', 'organizationId', 'timeZone', 'stateCode', 'roiDeadlineDays']).where('id', '=', id).executeTakeFirst()

export const insertRoiRequest = (db: Db, row: Insertable<RoiRequestTable>) =>
  db.insertInto('roiRequest').values(row).returningAll().executeTakeFirstOrThrow()

export function findRoiRequest(db: Db, id: string, facilityIds: string[] | undefined) {
  let q = db.selectFrom('roiRequest').selectAll().where('id', '=', id)
  if (facilityIds) q = q.where('facilityId', 'in', scopeIds(facilityIds))
  return q.executeTakeFirst()
}

/** Serialises every change to one request: callers check the status after taking the lock. */
export function lockRoiRequest(trx: Transaction<Database>, id: string, facilityIds: string[] | undefined) {
  let q = trx.selectFrom('roiRequest').selectAll().where('id', '=', id).forUpdate()
  if (facilityIds) q = q.where('facilityId', 'in', scopeIds(facilityIds))
  return q.executeTakeFirst()
}

export const updateRoiRequest = (db: Db, id: string, changes: Updateable<RoiRequestTable>) =>
  db.updateTable('roiRequest').set({ ...changes, version: sql`version + 1`, updatedAt: sql`now()` }).where('id', '=', id).returningAll().executeTakeFirstOrThrow()

export interface RoiRequestFilter {
  facilityIds?: string[]
  facilityId?: string
  status?: string
  patientId?: string
  requesterType?: string
  dueWithinDays?: number
  overdue?: boolean
}

/** Work-queue order: earliest (extended) due date first. */
export function listRoiRequests(db: Db, f: RoiRequestFilter, cursor: (string | number)[] | undefined, limit: number) {
  const due = sql<string>`coalesce(roi_request.extended_due_on, roi_request.due_on)`
  let q = db.selectFrom('roiRequest').innerJoin('facility', 'facility.id', 'roiRequest.facilityId')
    .selectAll('roiRequest').select(sql<string>`${due}::text`.as('effectiveDue'))
    .orderBy(due).orderBy('roiRequest.id').limit(limit + 1)
  if (f.facilityIds) q = q.where('roiRequest.facilityId', 'in', scopeIds(f.facilityIds))
  if (f.facilityId) q = q.where('roiRequest.facilityId', '=', f.facilityId)
  if (f.status) q = q.where('roiRequest.status', '=', f.status)
  if (f.patientId) q = q.where('roiRequest.patientId', '=', f.patientId)
  if (f.requesterType) q = q.where('roiRequest.requesterType', '=', f.requesterType)
  if (f.dueWithinDays !== undefined || f.overdue !== undefined) q = q.where('roiRequest.status', 'in', OPEN_STATUSES)
  if (f.dueWithinDays !== undefined) q = q.where(sql<boolean>`${due} BETWEEN ${facilityToday} AND ${facilityToday} + ${f.dueWithinDays}::int`)
  if (f.overdue === true) q = q.where(sql<boolean>`${due} < ${facilityToday}`)
  if (f.overdue === false) q = q.where(sql<boolean>`${due} >= ${facilityToday}`)
  if (cursor) q = q.where(sql<boolean>`(${due}, roi_request.id) > (${cursor[0]}::date, ${cursor[1]}::uuid)`)
  return q.execute()
}

export const insertStatusChange = (db: Db, row: { requestId: string; fromStatus: string | null; toStatus: string; reason: string; actorSub: string }) =>
  db.insertInto('roiStatusChange').values(row).returning('id').executeTakeFirstOrThrow()

export const listStatusChanges = (db: Db, requestId: string) =>
  db.selectFrom('roiStatusChange').selectAll().where('requestId', '=', requestId).orderBy('id').execute()

const attachmentColumns = ['id', 'requestId', 'kind', 'mediaType', 'sizeBytes', 'sha256', 'pageCount', 'createdBy', 'createdAt'] as const

export const insertAttachment = (db: Db, row: Insertable<RoiAttachmentTable>) =>
  db.insertInto('roiAttachment').values(row).returning(attachmentColumns).executeTakeFirstOrThrow()

export const listAttachments = (db: Db, requestId: string) =>
  db.selectFrom('roiAttachment').select(attachmentColumns).where('requestId', '=', requestId).orderBy('createdAt').orderBy('id').execute()

export const findAttachment = (db: Db, requestId: string, id: string) =>
  db.selectFrom('roiAttachment').select(attachmentColumns).where('requestId', '=', requestId).where('id', '=', id).executeTakeFirst()

export const findAttachmentContent = (db: Db, requestId: string, id: string) =>
  db.selectFrom('roiAttachment').select([...attachmentColumns, 'content']).where('requestId', '=', requestId).where('id', '=', id).executeTakeFirst()

export const insertAuthorization = (db: Db, row: Insertable<RoiAuthorizationTable>) =>
  db.insertInto('roiAuthorization').values(row).returningAll().executeTakeFirstOrThrow()

export const listAuthorizations = (db: Db, requestId: string) =>
  db.selectFrom('roiAuthorization').selectAll().where('requestId', '=', requestId).orderBy('createdAt').orderBy('id').execute()

export const findAuthorization = (db: Db, requestId: string, id: string) =>
  db.selectFrom('roiAuthorization').selectAll().where('requestId', '=', requestId).where('id', '=', id).executeTakeFirst()

export const revokeAuthorization = (db: Db, id: string, revokedOn: string, receivedOn: string) =>
  db.updateTable('roiAuthorization').set({ revokedOn, revocationReceivedOn: receivedOn }).where('id', '=', id).returningAll().executeTakeFirstOrThrow()

export const insertDenial = (db: Db, row: Insertable<RoiDenialTable>) =>
  db.insertInto('roiDenial').values(row).returningAll().executeTakeFirstOrThrow()

export const findDenial = (db: Db, requestId: string) =>
  db.selectFrom('roiDenial').selectAll().where('requestId', '=', requestId).executeTakeFirst()

export const insertInvoice = (db: Db, row: Insertable<RoiInvoiceTable>) =>
  db.insertInto('roiInvoice').values(row).returningAll().executeTakeFirstOrThrow()

export const findInvoice = (db: Db, requestId: string) =>
  db.selectFrom('roiInvoice').selectAll().where('requestId', '=', requestId).executeTakeFirst()

export const updateInvoice = (db: Db, requestId: string, changes: Updateable<RoiInvoiceTable>) =>
  db.updateTable('roiInvoice').set({ ...changes, updatedAt: sql`now()` }).where('requestId', '=', requestId).returningAll().executeTakeFirstOrThrow()

/** The facility's own schedule if it has one, else its state's. */
export const findEffectiveFeeSchedule = (db: Db, facilityId: string, stateCode: string | null) =>
  db.selectFrom('roiFeeSchedule').selectAll()
    .where((eb) => eb.or([eb('facilityId', '=', facilityId), eb.and([eb('facilityId', 'is', null), eb('stateCode', '=', stateCode ?? '')])]))
    .orderBy(sql`facility_id IS NULL`).limit(1).executeTakeFirst()

export interface FeeScheduleValues {
  baseFeeCents: number
  perPageCents: number
  capCents: number | null
  paymentRequiredBeforeRelease: boolean
}

/**
 * The state's schedule (facilityId null) or a facility's, created or replaced in one statement:
 * two PUTs at once both find no row to update, so an update-then-insert had the second one fail
 * on the unique index. `created`: the row was inserted (xmax 0), not updated.
 */
export async function upsertFeeSchedule(db: Db, stateCode: string, facilityId: string | null, values: FeeScheduleValues) {
  const { created, ...row } = await db.insertInto('roiFeeSchedule').values({ ...values, stateCode, facilityId })
    .onConflict((oc) => (facilityId ? oc.column('facilityId').where('facilityId', 'is not', null) : oc.column('stateCode').where('facilityId', 'is', null))
      .doUpdateSet({ ...values, stateCode, updatedAt: sql`now()` }))
    .returningAll().returning(sql<boolean>`xmax = 0`.as('created')).executeTakeFirstOrThrow()
  return { row, created }
}

export const insertRelease = (db: Db, row: Insertable<RoiReleaseTable>) =>
  db.insertInto('roiRelease').values(row).returningAll().executeTakeFirstOrThrow()

export const findRelease = (db: Db, requestId: string) =>
  db.selectFrom('roiRelease').leftJoin('disclosure', 'disclosure.releaseId', 'roiRelease.id')
    .selectAll('roiRelease').select('disclosure.id as disclosureId').where('roiRelease.requestId', '=', requestId).executeTakeFirst()

export const insertDisclosure = (db: Db, row: Insertable<DisclosureTable>) =>
  db.insertInto('disclosure').values(row).returningAll().executeTakeFirstOrThrow()

/** HIPAA 164.528: accountable disclosures of one patient between two facility-agnostic dates (UTC days). */
export function listAccountableDisclosures(
  db: Db,
  f: { patientId: string; facilityIds?: string[]; from: string; to: string },
  cursor: (string | number)[] | undefined,
  limit: number,
) {
  let q = db.selectFrom('disclosure').selectAll()
    .where('patientId', '=', f.patientId).where('accountable', '=', true)
    .where('disclosedAt', '>=', sql<Date>`${f.from}::date::timestamptz`)
    .where('disclosedAt', '<', sql<Date>`(${f.to}::date + 1)::timestamptz`)
    .orderBy('disclosedAt').orderBy('id').limit(limit + 1)
  if (f.facilityIds) q = q.where('facilityId', 'in', scopeIds(f.facilityIds))
  if (cursor) q = q.where(sql<boolean>`(disclosed_at, id) > (${cursor[0]}::timestamptz, ${cursor[1]}::uuid)`)
  return q.execute()
}
