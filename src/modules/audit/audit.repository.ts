import { sql, type Kysely } from 'kysely'
import type { Database } from '../../db/database.ts'
import { after, scopeIds } from '../../db/query-helpers.ts'
import { checkpointColumns, toCheckpoint } from './audit-chain.ts'
import type { AuditEventFilter } from './audit.schemas.ts'

type Db = Kysely<Database>

const UTC_MICROS = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`

/**
 * Audit events as the API reads them, each with its seal once sealed. occurred_at is rendered by
 * Postgres to the microsecond: a JS Date would drop the microseconds, and the (occurred_at, id)
 * cursor must be exact.
 */
function auditEvents(db: Db) {
  return db
    .selectFrom('auditEvent')
    .leftJoin('auditSeal', 'auditSeal.eventId', 'auditEvent.id')
    .select([
      sql<string>`audit_event.id::text`.as('id'),
      sql<string>`to_char(occurred_at AT TIME ZONE 'UTC', ${sql.raw(UTC_MICROS)})`.as('occurredAt'),
      'requestId', 'actorSub', 'actorRoles', 'facilityId', 'action', 'verb', 'resourceType', 'resourceId', 'patientId',
      'outcome', 'purposeOfUse', 'clientIp', 'userAgent', 'breakGlass', 'detail',
      sql<string | null>`audit_seal.seq::text`.as('seq'),
      sql<string | null>`encode(audit_seal.hash, 'hex')`.as('hash'),
      'auditSeal.sealedAt',
    ])
}

export type AuditEventListRow = Awaited<ReturnType<ReturnType<typeof auditEvents>['executeTakeFirstOrThrow']>>

/**
 * Events in (occurred_at, id) order. A facility-scoped caller (`facilityIds` set) sees the
 * events of those facilities only; events without a facility are left to all-facility callers.
 *
 * A listing is of the events before its first page was asked for (its horizon, each row's
 * `horizon`, kept in the cursor): reading a page is itself audited, often under the same filter
 * (a patient's access report lists its own reads), so without one a walk through the pages kept
 * finding the events of its own pages and, a page of one at a time, never ended.
 */
export function listAuditEvents(
  db: Db,
  filter: AuditEventFilter,
  facilityIds: string[] | undefined,
  cursor: (string | number)[] | undefined,
  limit: number,
) {
  const horizon = cursor ? sql<Date>`${String(cursor[2])}::timestamptz` : sql<Date>`statement_timestamp()`
  let q = auditEvents(db).select(sql<string>`to_char(${horizon} AT TIME ZONE 'UTC', ${sql.raw(UTC_MICROS)})`.as('horizon'))
    .where('occurredAt', '<', horizon).orderBy('auditEvent.occurredAt').orderBy('auditEvent.id').limit(limit + 1)
  if (facilityIds) q = q.where('facilityId', 'in', scopeIds(facilityIds))
  if (filter.patientId) q = q.where('patientId', '=', filter.patientId)
  if (filter.actor) q = q.where('actorSub', '=', filter.actor)
  if (filter.action) q = q.where('action', '=', filter.action as Database['auditEvent']['action'])
  if (filter.verb) q = q.where('verb', '=', filter.verb)
  if (filter.resourceType) q = q.where('resourceType', '=', filter.resourceType)
  if (filter.resourceId) q = q.where('resourceId', '=', filter.resourceId)
  if (filter.outcome) q = q.where('outcome', '=', filter.outcome as Database['auditEvent']['outcome'])
  if (filter.facilityId) q = q.where('facilityId', '=', filter.facilityId)
  if (filter.purposeOfUse) q = q.where('purposeOfUse', '=', filter.purposeOfUse)
  if (filter.breakGlass !== undefined) q = q.where('breakGlass', '=', filter.breakGlass)
  if (filter.from) q = q.where('occurredAt', '>=', new Date(filter.from))
  if (filter.to) q = q.where('occurredAt', '<', new Date(filter.to))
  if (cursor) q = q.where(after(['audit_event.occurred_at', 'audit_event.id'], [cursor[0], cursor[1]]))
  return q.execute()
}

export async function listCheckpoints(db: Db, beforeSeq: string | undefined, limit: number) {
  let q = db.selectFrom('auditCheckpoint').select(checkpointColumns).orderBy('auditCheckpoint.seq', 'desc').limit(limit + 1)
  if (beforeSeq !== undefined) q = q.where('seq', '<', beforeSeq)
  return (await q.execute()).map(toCheckpoint)
}
