import type { Kysely } from 'kysely'
import type { Database, RoiFeeScheduleRow, RoiInvoiceRow, RoiRequestRow } from '../../db/database.ts'
import { canActFor } from '../../http/auth.ts'
import { auditChange, auditRead, withTransaction, type RequestContext } from '../../http/context.ts'
import { ConflictError, ForbiddenError, NotFoundError, UnprocessableError } from '../../http/errors.ts'
import { isoDate } from '../../lib/dates.ts'
import { auditRequest, dateIn, findRequest, lockRequest } from './roi-common.ts'
import * as repo from './roi.repository.ts'
import { US_STATE_CODES, type CreateInvoiceBody, type FeeSchedule, type Invoice, type PutFeeScheduleBody } from './roi.schemas.ts'
import { guardPatientRead } from '../patients/patient-guard.ts'

/** HHS guidance on 164.524(c)(4): the flat fee an entity may charge for an electronic copy. */
export const FLAT_ELECTRONIC_FEE_CENTS = 650

export const toFeeSchedule = (row: RoiFeeScheduleRow): FeeSchedule => ({
  stateCode: row.stateCode,
  facilityId: row.facilityId,
  baseFeeCents: row.baseFeeCents,
  perPageCents: row.perPageCents,
  capCents: row.capCents,
  paymentRequiredBeforeRelease: row.paymentRequiredBeforeRelease,
  updatedAt: row.updatedAt.toISOString(),
})

export const toInvoice = (row: RoiInvoiceRow): Invoice => ({
  requestId: row.requestId,
  method: row.method,
  laborCents: row.laborCents,
  suppliesCents: row.suppliesCents,
  postageCents: row.postageCents,
  pages: row.pages,
  scheduleBaseCents: row.scheduleBaseCents,
  schedulePageCents: row.schedulePageCents,
  totalCents: row.totalCents,
  paidCents: row.paidCents,
  balanceCents: row.status === 'open' ? row.totalCents - row.paidCents : 0,
  status: row.status,
  paymentMethod: row.paymentMethod,
  paymentReference: row.paymentReference,
  paidOn: isoDate(row.paidOn),
  waiverReason: row.waiverReason,
  createdAt: row.createdAt.toISOString(),
  updatedAt: row.updatedAt.toISOString(),
})

/** State schedules are shared by every organisation in the state: only platform-wide tokens change them. */
export function putStateFeeSchedule(ctx: RequestContext, stateCode: string, body: PutFeeScheduleBody) {
  if (ctx.principal.facilities !== 'all') throw new ForbiddenError('Only a platform-wide token may change a state fee schedule')
  if (!US_STATE_CODES.has(stateCode)) throw new NotFoundError('State')
  return withTransaction(ctx, async (trx) => {
    const { row, created } = await repo.upsertFeeSchedule(trx, stateCode, null, { ...body, capCents: body.capCents ?? null })
    await auditChange(trx, ctx, { action: created ? 'create' : 'update', verb: 'roi_fee_schedule.put', resourceType: 'roi_fee_schedule', resourceId: row.id, detail: { stateCode } })
    return { schedule: toFeeSchedule(row), created }
  })
}

export function putFacilityFeeSchedule(ctx: RequestContext, facilityId: string, body: PutFeeScheduleBody) {
  return withTransaction(ctx, async (trx) => {
    if (!canActFor(ctx.principal, facilityId)) throw new NotFoundError('Facility')
    const facility = await repo.findFacility(trx, facilityId)
    if (!facility) throw new NotFoundError('Facility')
    if (!facility.stateCode) throw new UnprocessableError('facility-state-unknown', 'Set the facility\'s stateCode before giving it a fee schedule')
    const { row, created } = await repo.upsertFeeSchedule(trx, facility.stateCode, facilityId, { ...body, capCents: body.capCents ?? null })
    await auditChange(trx, ctx, { action: created ? 'create' : 'update', verb: 'roi_fee_schedule.put', resourceType: 'roi_fee_schedule', resourceId: row.id, facilityId })
    return { schedule: toFeeSchedule(row), created }
  })
}

export async function getFacilityFeeSchedule(ctx: RequestContext, facilityId: string): Promise<FeeSchedule> {
  if (!canActFor(ctx.principal, facilityId)) throw new NotFoundError('Facility')
  const facility = await repo.findFacility(ctx.db, facilityId)
  if (!facility) throw new NotFoundError('Facility')
  const row = await repo.findEffectiveFeeSchedule(ctx.db, facilityId, facility.stateCode)
  if (!row) throw new NotFoundError('Fee schedule')
  await auditRead(ctx, { verb: 'roi_fee_schedule.read', resourceType: 'roi_fee_schedule', resourceId: row.id, facilityId })
  return toFeeSchedule(row)
}

async function scheduleFor(db: Kysely<Database>, request: RoiRequestRow) {
  const facility = (await repo.findFacility(db, request.facilityId))!
  return repo.findEffectiveFeeSchedule(db, facility.id, facility.stateCode)
}

/** Work out the fee. The request's legal basis decides which rules apply (Ciox Health v. Azar, 2020). */
function priceInvoice(request: RoiRequestRow, body: CreateInvoiceBody, schedule: RoiFeeScheduleRow | undefined) {
  const itemised = (body.laborCents ?? 0) + (body.suppliesCents ?? 0) + (body.postageCents ?? 0)
  if (request.legalBasis === 'individual_access') {
    // HIPAA 164.524(c)(4): cost-based only (labour for copying, supplies, postage); no search or retrieval fee.
    if (body.searchRetrievalCents) {
      throw new UnprocessableError('search-retrieval-fee-not-allowed', 'Search and retrieval fees may not be charged for individual access (164.524(c)(4))', {
        errors: [{ pointer: '/searchRetrievalCents', detail: 'not allowed for individual access' }],
      })
    }
    if (body.flatElectronic) {
      if (request.format !== 'electronic') {
        throw new UnprocessableError('flat-fee-electronic-only', 'The flat fee applies only to electronic copies')
      }
      if (itemised > 0) throw new UnprocessableError('flat-fee-exclusive', 'The flat fee replaces itemised costs; send one or the other')
      return { method: 'flat_electronic' as const, totalCents: FLAT_ELECTRONIC_FEE_CENTS }
    }
    return {
      method: 'cost_based' as const,
      laborCents: body.laborCents ?? 0,
      suppliesCents: body.suppliesCents ?? 0,
      postageCents: body.postageCents ?? 0,
      totalCents: itemised,
    }
  }
  if (itemised > 0 || body.flatElectronic || body.searchRetrievalCents) {
    throw new UnprocessableError('fee-schedule-only', 'Requests other than individual access are charged by the facility\'s fee schedule: send only `pages`')
  }
  if (!schedule) throw new UnprocessableError('no-fee-schedule', 'Neither the facility nor its state has a fee schedule')
  if (body.pages === undefined) {
    throw new UnprocessableError('pages-required', 'The fee schedule charges by page: send `pages`', { errors: [{ pointer: '/pages', detail: 'required' }] })
  }
  const pageCents = schedule.perPageCents * body.pages
  const uncapped = schedule.baseFeeCents + pageCents
  return {
    method: 'fee_schedule' as const,
    scheduleBaseCents: schedule.baseFeeCents,
    schedulePageCents: pageCents,
    totalCents: schedule.capCents === null ? uncapped : Math.min(uncapped, schedule.capCents),
  }
}

export function createInvoice(ctx: RequestContext, requestId: string, body: CreateInvoiceBody): Promise<Invoice> {
  return withTransaction(ctx, async (trx) => {
    const request = await lockRequest(trx, ctx, requestId)
    if (['released', 'denied', 'withdrawn'].includes(request.status)) {
      throw new ConflictError('request-closed', `A request in status ${request.status} cannot be invoiced`)
    }
    if (await repo.findInvoice(trx, requestId)) throw new ConflictError('invoice-exists', 'The request already has an invoice')
    const priced = priceInvoice(request, body, await scheduleFor(trx, request))
    const row = await repo.insertInvoice(trx, {
      requestId, pages: body.pages ?? null, ...priced, status: priced.totalCents === 0 ? 'paid' : 'open',
    })
    await auditRequest(trx, ctx, request, 'create', 'roi_invoice.create', { method: row.method, totalCents: row.totalCents })
    return toInvoice(row)
  })
}

export async function getInvoice(ctx: RequestContext, requestId: string): Promise<Invoice> {
  const request = await findRequest(ctx, requestId)
  const row = await repo.findInvoice(ctx.db, requestId)
  if (!row) throw new NotFoundError('Invoice')
  await guardPatientRead(ctx, { verb: 'roi_invoice.read', resourceType: 'roi_request', resourceId: requestId, patientId: request.patientId, facilityId: request.facilityId })
  return toInvoice(row)
}

async function lockOpenInvoice(ctx: RequestContext, trx: Parameters<typeof lockRequest>[0], requestId: string) {
  const request = await lockRequest(trx, ctx, requestId)
  const invoice = await repo.findInvoice(trx, requestId)
  if (!invoice) throw new NotFoundError('Invoice')
  if (invoice.status !== 'open') throw new ConflictError('invoice-settled', `The invoice is already ${invoice.status}`)
  return { request, invoice }
}

export function recordPayment(ctx: RequestContext, requestId: string, body: { amountCents: number; method: string; reference?: string; paidOn: string }) {
  return withTransaction(ctx, async (trx) => {
    const { request, invoice } = await lockOpenInvoice(ctx, trx, requestId)
    const balance = invoice.totalCents - invoice.paidCents
    if (body.amountCents > balance) {
      throw new UnprocessableError('overpayment', 'The payment is more than the balance', { errors: [{ pointer: '/amountCents', detail: `at most ${balance}` }] })
    }
    if (body.paidOn > dateIn((await repo.findFacility(trx, request.facilityId))!.timeZone)) {
      throw new UnprocessableError('paid-date-invalid', 'A payment cannot be received in the future', { errors: [{ pointer: '/paidOn', detail: 'in the future' }] })
    }
    const paidCents = invoice.paidCents + body.amountCents
    const row = await repo.updateInvoice(trx, requestId, {
      paidCents, status: paidCents === invoice.totalCents ? 'paid' : 'open',
      paymentMethod: body.method, paymentReference: body.reference ?? null, paidOn: body.paidOn,
    })
    await auditRequest(trx, ctx, request, 'update', 'roi_invoice.pay', { amountCents: body.amountCents, status: row.status })
    return toInvoice(row)
  })
}

export function waiveInvoice(ctx: RequestContext, requestId: string, reason: string) {
  return withTransaction(ctx, async (trx) => {
    const { request } = await lockOpenInvoice(ctx, trx, requestId)
    const row = await repo.updateInvoice(trx, requestId, { status: 'waived', waiverReason: reason })
    await auditRequest(trx, ctx, request, 'update', 'roi_invoice.waive')
    return toInvoice(row)
  })
}

/** Release waits for payment where the facility's schedule says so and an invoice is open. */
export async function assertPaidIfRequired(db: Kysely<Database>, request: RoiRequestRow) {
  const invoice = await repo.findInvoice(db, request.id)
  if (!invoice || invoice.status !== 'open') return
  const schedule = await scheduleFor(db, request)
  if (schedule?.paymentRequiredBeforeRelease) {
    throw new ConflictError('payment-required', 'The facility releases records only after the invoice is paid or waived', {
      balanceCents: invoice.totalCents - invoice.paidCents,
    })
  }
}
