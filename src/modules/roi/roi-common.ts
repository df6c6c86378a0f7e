import type { Transaction } from 'kysely'
import type { Database, RoiRequestRow } from '../../db/database.ts'
import { facilityScope } from '../../http/auth.ts'
import { auditChange, type RequestContext } from '../../http/context.ts'
import { ConflictError, NotFoundError } from '../../http/errors.ts'
import { isoDate } from '../../lib/dates.ts'
import * as repo from './roi.repository.ts'
import type { LegalBasis, RoiRequest, RoiStatus } from './roi.schemas.ts'

/** The calendar date at an IANA time zone. */
export function dateIn(timeZone: string, at: Date = new Date()): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(at)
}

/** The workflow. Denied and released are reached only through their own actions (denial, release). */
export const TRANSITIONS: Record<RoiStatus, RoiStatus[]> = {
  received: ['in_review', 'denied', 'withdrawn'],
  in_review: ['pending_authorization', 'in_progress', 'denied', 'withdrawn'],
  pending_authorization: ['in_review', 'in_progress', 'denied', 'withdrawn'],
  in_progress: ['pending_authorization', 'ready_for_release', 'denied', 'withdrawn'],
  ready_for_release: ['in_progress', 'released', 'denied', 'withdrawn'],
  released: [],
  denied: [],
  withdrawn: [],
}

export function assertTransition(row: RoiRequestRow, to: RoiStatus) {
  const allowed = TRANSITIONS[row.status as RoiStatus]
  if (!allowed.includes(to)) {
    throw new ConflictError('invalid-transition', `A request in status ${row.status} cannot move to ${to}`, { currentStatus: row.status, allowed })
  }
}

export const effectiveDue = (row: RoiRequestRow) => isoDate(row.extendedDueOn ?? row.dueOn)

export const toRoiRequest = (row: RoiRequestRow): RoiRequest => ({
  id: row.id,
  organizationId: row.organizationId,
  facilityId: row.facilityId,
  patientId: row.patientId,
  requester: {
    type: row.requesterType as RoiRequest['requester']['type'],
    name: row.requesterName,
    organization: row.requesterOrganization,
    address: row.requesterAddress,
    email: row.requesterEmail,
    phone: row.requesterPhone,
  },
  legalBasis: row.legalBasis as LegalBasis,
  purpose: row.purpose,
  recordsRequested: { types: row.recordTypes, from: isoDate(row.recordsFrom), to: isoDate(row.recordsTo) },
  format: row.format,
  deliveryMethod: row.deliveryMethod as RoiRequest['deliveryMethod'],
  receivedOn: isoDate(row.receivedOn),
  dueOn: isoDate(row.dueOn),
  extension: row.extendedDueOn
    ? { extendedDueOn: isoDate(row.extendedDueOn), reason: row.extensionReason!, requesterNotifiedOn: isoDate(row.extensionNotifiedOn!) }
    : null,
  effectiveDueOn: effectiveDue(row),
  status: row.status as RoiStatus,
  allowedTransitions: TRANSITIONS[row.status as RoiStatus],
  version: row.version,
  createdAt: row.createdAt.toISOString(),
  updatedAt: row.updatedAt.toISOString(),
})

/** The request locked for a change, or 404 when it does not exist or belongs to another facility. */
export async function lockRequest(trx: Transaction<Database>, ctx: RequestContext, id: string) {
  const row = await repo.lockRoiRequest(trx, id, facilityScope(ctx.principal))
  if (!row) throw new NotFoundError('ROI request')
  return row
}

export async function findRequest(ctx: RequestContext, id: string) {
  const row = await repo.findRoiRequest(ctx.db, id, facilityScope(ctx.principal))
  if (!row) throw new NotFoundError('ROI request')
  return row
}

/** Today at the request's facility. */
export async function facilityDate(db: RequestContext['db'], facilityId: string, at?: Date) {
  const facility = await repo.findFacility(db, facilityId)
  return dateIn(facility!.timeZone, at)
}

/** Moves the request, recording who and why (roi_status_change). */
export async function changeStatus(trx: Transaction<Database>, ctx: RequestContext, row: RoiRequestRow, to: RoiStatus, reason: string) {
  assertTransition(row, to)
  const updated = await repo.updateRoiRequest(trx, row.id, { status: to })
  const change = await repo.insertStatusChange(trx, { requestId: row.id, fromStatus: row.status, toStatus: to, reason, actorSub: ctx.principal.sub })
  // The reason is free text that may name clinical facts: the audit event points to it instead of copying it.
  await auditRequest(trx, ctx, row, 'update', 'roi_request.transition', { from: row.status, to, statusChangeId: String(change.id) })
  return updated
}

export function auditRequest(
  trx: Transaction<Database>,
  ctx: RequestContext,
  row: RoiRequestRow,
  action: 'create' | 'update' | 'read' | 'execute',
  verb: string,
  detail?: Record<string, unknown>,
) {
  return auditChange(trx, ctx, { action, verb, resourceType: 'roi_request', resourceId: row.id, patientId: row.patientId, facilityId: row.facilityId, detail })
}
