import { canActFor, facilityScope } from '../../http/auth.ts'
import { withTransaction, type RequestContext } from '../../http/context.ts'
import { BadRequestError, ConflictError, NotFoundError, UnprocessableError } from '../../http/errors.ts'
import { checkVersion } from '../../http/versioning.ts'
import { addDays, isoDate } from '../../lib/dates.ts'
import { checkAuthorizationForRequest } from './roi-authorization.service.ts'
import { auditRequest, changeStatus, dateIn, effectiveDue, findRequest, lockRequest, toRoiRequest } from './roi-common.ts'
import { findPatientCore } from '../patients/patient.repository.ts'
import * as repo from './roi.repository.ts'
import {
  ACCESS_BASES,
  DENIAL_GROUNDS,
  type CreateRoiRequestBody,
  type Denial,
  type DenialBody,
  type DenialGround,
  type LegalBasis,
  type RoiRequest,
  type RoiRequestListQueryT,
  type RoiStatus,
  type StatusChange,
} from './roi.schemas.ts'
import type { RoiDenialRow } from '../../db/database.ts'
import { guardedPage, guardPatientRead } from '../patients/patient-guard.ts'

const OPEN = new Set(repo.OPEN_STATUSES)

export function createRequest(ctx: RequestContext, body: CreateRoiRequestBody): Promise<RoiRequest> {
  const { from, to } = body.recordsRequested
  if (from && to && from > to) {
    throw new BadRequestError('The records date range is not valid', [{ pointer: '/recordsRequested/from', detail: 'after `to`' }])
  }
  // HIPAA 164.524 belongs to the individual: only they or their personal representative invoke it.
  if (body.legalBasis === 'individual_access' && !['patient', 'personal_representative'].includes(body.requester.type)) {
    throw new UnprocessableError('requester-not-individual', 'Individual access is requested by the patient or a personal representative')
  }
  return withTransaction(ctx, async (trx) => {
    if (!canActFor(ctx.principal, body.facilityId)) throw new NotFoundError('Facility')
    const facility = await repo.findFacility(trx, body.facilityId)
    if (!facility) throw new NotFoundError('Facility')
    const patient = await findPatientCore(trx, body.patientId, [body.facilityId])
    if (!patient) throw new NotFoundError('Patient')
    if (body.receivedOn > dateIn(facility.timeZone)) {
      throw new BadRequestError('The request cannot be received in the future', [{ pointer: '/receivedOn', detail: 'after today at the facility' }])
    }
    const r = body.requester
    const row = await repo.insertRoiRequest(trx, {
      organizationId: facility.organizationId,
      facilityId: facility.id,
      patientId: patient.id,
      requesterType: r.type,
      requesterName: r.name,
      requesterOrganization: r.organization ?? null,
      requesterAddress: r.address ?? null,
      requesterEmail: r.email ?? null,
      requesterPhone: r.phone ?? null,
      legalBasis: body.legalBasis,
      purpose: body.purpose ?? null,
      recordTypes: body.recordsRequested.types,
      recordsFrom: from ?? null,
      recordsTo: to ?? null,
      format: body.format,
      deliveryMethod: body.deliveryMethod,
      receivedOn: body.receivedOn,
      // HIPAA 164.524(b)(2): act within 30 days of receipt; states may set fewer (facility setting).
      dueOn: addDays(body.receivedOn, facility.roiDeadlineDays),
      createdBy: ctx.principal.sub,
    })
    await repo.insertStatusChange(trx, { requestId: row.id, fromStatus: null, toStatus: 'received', reason: 'Request received', actorSub: ctx.principal.sub })
    await auditRequest(trx, ctx, row, 'create', 'roi_request.create', { legalBasis: row.legalBasis, requesterType: row.requesterType })
    return toRoiRequest(row)
  })
}

export async function getRequest(ctx: RequestContext, id: string): Promise<RoiRequest> {
  const row = await findRequest(ctx, id)
  await guardPatientRead(ctx, { verb: 'roi_request.read', resourceType: 'roi_request', resourceId: id, patientId: row.patientId, facilityId: row.facilityId })
  return toRoiRequest(row)
}

export async function listRequests(ctx: RequestContext, q: RoiRequestListQueryT, cursor: (string | number)[] | undefined) {
  const limit = q.limit ?? 25
  const rows = await repo.listRoiRequests(ctx.db, {
    facilityIds: facilityScope(ctx.principal),
    facilityId: q.facilityId,
    status: q.status,
    patientId: q.patientId,
    requesterType: q.requesterType,
    dueWithinDays: q.dueWithinDays,
    overdue: q.overdue,
  }, cursor, limit)
  const filters = Object.keys(q).filter((k) => k !== 'limit' && k !== 'cursor')
  const detail = { filters, returned: Math.min(rows.length, limit) }
  // One event per request listed; restricted patients' requests are withheld (403 when asked for that patient).
  return guardedPage(ctx, rows, limit, { verb: 'roi_request.search', resourceType: 'roi_request', patientId: q.patientId, facilityId: q.facilityId, detail },
    (r) => [r.effectiveDue, r.id], toRoiRequest)
}

export async function listHistory(ctx: RequestContext, id: string): Promise<StatusChange[]> {
  const row = await findRequest(ctx, id)
  const changes = await repo.listStatusChanges(ctx.db, id)
  await guardPatientRead(ctx, { verb: 'roi_request.history', resourceType: 'roi_request', resourceId: id, patientId: row.patientId, facilityId: row.facilityId })
  return changes.map((c) => ({
    from: c.fromStatus as RoiStatus | null, to: c.toStatus as RoiStatus, reason: c.reason, actor: c.actorSub, at: c.changedAt.toISOString(),
  }))
}

export function transition(ctx: RequestContext, id: string, expectedVersion: number | undefined, to: RoiStatus, reason: string): Promise<RoiRequest> {
  return withTransaction(ctx, async (trx) => {
    const row = await lockRequest(trx, ctx, id)
    checkVersion(row.version, expectedVersion)
    // HIPAA 164.508: work on an authorization request starts only with a valid authorization.
    if ((to === 'in_progress' || to === 'ready_for_release') && row.legalBasis === 'authorization') {
      const facility = (await repo.findFacility(trx, row.facilityId))!
      await checkAuthorizationForRequest(trx, row.id, dateIn(facility.timeZone))
    }
    return toRoiRequest(await changeStatus(trx, ctx, row, to, reason))
  })
}

export function extend(ctx: RequestContext, id: string, body: { days: number; reason: string; requesterNotifiedOn: string }): Promise<RoiRequest> {
  return withTransaction(ctx, async (trx) => {
    const row = await lockRequest(trx, ctx, id)
    if (!OPEN.has(row.status)) throw new ConflictError('request-closed', `A request in status ${row.status} cannot be extended`)
    // HIPAA 164.524(b)(2): one extension only, of at most 30 days, notified before the original due date.
    if (row.extendedDueOn) throw new ConflictError('already-extended', 'The deadline has already been extended once; only one extension is allowed')
    const facility = (await repo.findFacility(trx, row.facilityId))!
    const today = dateIn(facility.timeZone)
    const dueOn = isoDate(row.dueOn)
    if (today > dueOn) throw new ConflictError('extension-too-late', 'An extension must be made on or before the original due date')
    const receivedOn = isoDate(row.receivedOn)
    const n = body.requesterNotifiedOn
    if (n < receivedOn || n > dueOn || n > today) {
      throw new UnprocessableError('notice-date-invalid', 'The requester must be notified between receipt and the original due date, and not in the future', {
        errors: [{ pointer: '/requesterNotifiedOn', detail: 'outside the allowed period' }],
      })
    }
    const updated = await repo.updateRoiRequest(trx, row.id, {
      extendedDueOn: addDays(dueOn, body.days), extensionReason: body.reason, extensionNotifiedOn: n,
    })
    await auditRequest(trx, ctx, row, 'update', 'roi_request.extend', { days: body.days, extendedDueOn: effectiveDue(updated) })
    return toRoiRequest(updated)
  })
}

export const toDenial = (row: RoiDenialRow): Denial => ({
  requestId: row.requestId,
  scope: row.scope,
  grounds: row.grounds,
  reviewable: row.reviewable,
  deniedRecordTypes: row.deniedRecordTypes,
  explanation: row.explanation,
  reviewRightsText: row.reviewRightsText,
  complaintRightsText: row.complaintRightsText,
  sentOn: isoDate(row.sentOn),
  deniedBy: row.deniedBy,
  createdAt: row.createdAt.toISOString(),
})

export function deny(ctx: RequestContext, id: string, body: DenialBody): Promise<Denial> {
  return withTransaction(ctx, async (trx) => {
    const row = await lockRequest(trx, ctx, id)
    if (!OPEN.has(row.status)) throw new ConflictError('request-closed', `A request in status ${row.status} cannot be denied`)
    if (await repo.findDenial(trx, id)) throw new ConflictError('already-denied', 'A denial has already been recorded for this request')
    const access = (ACCESS_BASES as string[]).includes(row.legalBasis)
    const grounds = body.grounds as DenialGround[]
    const misplaced = grounds.filter((g) => DENIAL_GROUNDS[g].access !== access)
    if (misplaced.length) {
      throw new UnprocessableError('denial-ground-not-applicable', access
        ? 'A right-of-access request is denied only on the grounds of 164.524(a)'
        : '164.524(a) grounds apply only to right-of-access requests', { errors: misplaced.map((g) => ({ pointer: '/grounds', detail: `${g} does not apply` })) })
    }
    const reviewable = grounds.some((g) => DENIAL_GROUNDS[g].reviewable)
    // HIPAA 164.524(d)(2)(ii): a reviewable denial must tell the individual how to ask for review.
    if (reviewable && !body.reviewRightsText) {
      throw new UnprocessableError('review-rights-required', 'A denial on reviewable grounds (164.524(a)(3)) must state the right to a review', {
        errors: [{ pointer: '/reviewRightsText', detail: 'required for reviewable grounds' }],
      })
    }
    const denied = body.deniedRecordTypes ?? []
    if (denied.length) {
      const notRequested = denied.filter((t) => !row.recordTypes.includes(t))
      if (notRequested.length) {
        throw new UnprocessableError('record-type-not-requested', 'A partial denial names only record types of the request', {
          errors: notRequested.map((t) => ({ pointer: '/deniedRecordTypes', detail: `${t} was not requested` })),
        })
      }
      if (denied.length === row.recordTypes.length) {
        throw new UnprocessableError('partial-denial-covers-all', 'A partial denial that covers every requested record type is a full denial: omit deniedRecordTypes')
      }
    }
    const today = dateIn((await repo.findFacility(trx, row.facilityId))!.timeZone)
    if (body.sentOn < isoDate(row.receivedOn) || body.sentOn > today) {
      throw new UnprocessableError('sent-date-invalid', 'The denial is sent between receipt of the request and today', {
        errors: [{ pointer: '/sentOn', detail: 'outside the allowed period' }],
      })
    }
    const scope = denied.length ? 'partial' : 'full'
    const denial = await repo.insertDenial(trx, {
      requestId: id, scope, grounds, reviewable, deniedRecordTypes: denied, explanation: body.explanation,
      reviewRightsText: body.reviewRightsText ?? null, complaintRightsText: body.complaintRightsText, sentOn: body.sentOn, deniedBy: ctx.principal.sub,
    })
    if (scope === 'full') {
      await changeStatus(trx, ctx, row, 'denied', `Denied: ${grounds.join(', ')}`)
    } else {
      await repo.updateRoiRequest(trx, row.id, {})
    }
    await auditRequest(trx, ctx, row, 'update', 'roi_request.deny', { scope, grounds, reviewable })
    return toDenial(denial)
  })
}

export async function getDenial(ctx: RequestContext, id: string): Promise<Denial> {
  const row = await findRequest(ctx, id)
  const denial = await repo.findDenial(ctx.db, id)
  if (!denial) throw new NotFoundError('Denial')
  await guardPatientRead(ctx, { verb: 'roi_denial.read', resourceType: 'roi_request', resourceId: id, patientId: row.patientId, facilityId: row.facilityId })
  return toDenial(denial)
}

export const legalBasisLabel = (b: LegalBasis) => b.replace(/_/g, ' ')
