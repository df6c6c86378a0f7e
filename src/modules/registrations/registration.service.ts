import type { Transaction, Updateable } from 'kysely'
import type { Database, PaymentRow, RegistrationRow, RegistrationTable } from '../../db/database.ts'
import { canActFor, facilityScope } from '../../http/auth.ts'
import { auditChange, auditRead, withTransaction, type RequestContext } from '../../http/context.ts'
import { BadRequestError, ConflictError, ForbiddenError, NotFoundError, UnprocessableError } from '../../http/errors.ts'
import { checkVersion } from '../../http/versioning.ts'
import { isValidNpi } from '../../lib/identifiers.ts'
import * as patientRepo from '../patients/patient.repository.ts'
import { insertPatientChecked } from '../patients/patient.service.ts'
import { transitionAppointment } from '../scheduling/booking.service.ts'
import { localDate } from '../scheduling/availability.ts'
import { eligibilityAtCheckIn } from '../eligibility/eligibility-check.service.ts'
import type { PhiCrypto } from '../patients/phi-crypto.ts'
import { ageInMonths, proposeEsi } from './esi.ts'
import * as repo from './registration.repository.ts'
import type {
  ChangeStatusBody,
  CheckIn,
  CheckInBody,
  CollectPaymentBody,
  CreateRegistrationBody,
  Intake,
  IntakeAnswers,
  IntakeBody,
  Payment,
  Queue,
  RefundBody,
  Registration,
} from './registration.schemas.ts'
import { guardedPage, guardPatientRead, guardPatientReads, RESTRICTED_DISPLAY_NAME } from '../patients/patient-guard.ts'

type Status = RegistrationRow['status']
type FlowState = NonNullable<RegistrationRow['flowState']>

const iso = (d: Date | null) => (d ? d.toISOString() : null)

export const toRegistration = (r: RegistrationRow): Registration => ({
  id: r.id,
  organizationId: r.organizationId,
  facilityId: r.facilityId,
  patientId: r.patientId,
  kind: r.kind,
  status: r.status,
  location: r.location,
  plannedAt: iso(r.plannedAt),
  referralRequired: r.referralRequired,
  copayDueCents: r.copayDueCents,
  details: r.details as Registration['details'],
  newborn: r.deliveryRegistrationId ? { motherPatientId: r.motherPatientId!, deliveryRegistrationId: r.deliveryRegistrationId, birthOrder: r.birthOrder! } : null,
  arrivedAt: iso(r.arrivedAt),
  startedAt: iso(r.startedAt),
  finishedAt: iso(r.finishedAt),
  cancelledAt: iso(r.cancelledAt),
  cancelReason: r.cancelReason,
  flow: { state: r.flowState, waitingAt: iso(r.waitingAt), roomedAt: iso(r.roomedAt), withProviderAt: iso(r.withProviderAt), checkedOutAt: iso(r.checkedOutAt) },
  esiLevel: r.esiLevel,
  version: r.version,
  createdAt: r.createdAt.toISOString(),
  updatedAt: r.updatedAt.toISOString(),
})

const toPayment = (p: repo.PaymentRecord): Payment => ({
  id: p.id,
  facilityId: p.facilityId,
  patientId: p.patientId,
  registrationId: p.registrationId,
  checkInId: p.checkInId,
  kind: p.kind as Payment['kind'],
  amountCents: p.amountCents,
  method: p.method as Payment['method'],
  reference: p.reference,
  receiptNumber: p.receiptNumber,
  collectedAt: p.collectedAt.toISOString(),
  refunds: p.refunds.map((r) => ({ ...r, method: r.method as Payment['method'], refundedAt: new Date(r.refundedAt).toISOString() })),
  refundedCents: p.refunds.reduce((s, r) => s + r.amountCents, 0),
})

const audit = (r: { id: string; patientId: string; facilityId: string }) => ({ resourceId: r.id, patientId: r.patientId, facilityId: r.facilityId })

function checkClinicians(details: Record<string, unknown>) {
  const errors: { pointer: string; detail: string }[] = []
  for (const [key, value] of Object.entries(details)) {
    const npi = (value as { npi?: unknown } | null)?.npi
    if (typeof npi === 'string' && !isValidNpi(npi)) errors.push({ pointer: `/details/${key}/npi`, detail: 'NPI check digit is wrong' })
  }
  if (errors.length) throw new BadRequestError('The registration is not valid', errors)
}

async function facilityOf(trx: Transaction<Database>, ctx: RequestContext, facilityId: string) {
  const facility = canActFor(ctx.principal, facilityId)
    ? await trx.selectFrom('facility').select(['id', 'organizationId', 'timeZone']).where('id', '=', facilityId).executeTakeFirst()
    : undefined
  if (!facility) throw new NotFoundError('Facility')
  return facility
}

async function activePatient(trx: Transaction<Database>, ctx: RequestContext, patientId: string, organizationId: string, what = 'Patient') {
  const patient = await patientRepo.lockPatient(trx, patientId, facilityScope(ctx.principal))
  if (!patient || patient.organizationId !== organizationId) throw new NotFoundError(what)
  if (!patient.active) throw new ConflictError('patient-merged', 'This patient was merged into another record; register the surviving record')
  return patient
}

/** Hospital convention: "Baby Girl", "Baby Boy" or "Baby", with A, B, C... for multiples. */
export function newbornGivenName(sex: string | undefined, order: number, multiple: boolean) {
  const base = sex === 'female' ? 'Baby Girl' : sex === 'male' ? 'Baby Boy' : 'Baby'
  return multiple ? `${base} ${String.fromCharCode(64 + order)}` : base
}

export function createRegistration(ctx: RequestContext, phi: PhiCrypto, body: CreateRegistrationBody): Promise<Registration> {
  if (body.kind !== 'newborn_admission') checkClinicians(body.details)
  return withTransaction(ctx, async (trx) => {
    const facility = await facilityOf(trx, ctx, body.facilityId)
    const common = {
      organizationId: facility.organizationId, facilityId: facility.id, location: body.location ?? null, plannedAt: body.plannedAt ?? null,
      referralRequired: body.referralRequired ?? false, copayDueCents: body.copayDueCents ?? 0, createdBy: ctx.principal.sub,
    }
    let row: RegistrationRow
    if (body.kind === 'newborn_admission') {
      row = await admitNewborn(trx, ctx, phi, body, facility, common)
    } else {
      const patient = await activePatient(trx, ctx, body.patientId, facility.organizationId)
      await patientRepo.linkPatientToFacility(trx, patient.id, facility.id)
      const arrivedAt = body.kind === 'emergency' ? new Date(body.arrivedAt ?? Date.now()) : null
      row = await repo.insertRegistration(trx, {
        ...common, patientId: patient.id, kind: body.kind, details: JSON.stringify(body.details),
        ...(arrivedAt ? { status: 'arrived' as const, arrivedAt, flowState: 'waiting' as const, waitingAt: arrivedAt } : {}),
      })
    }
    await auditChange(trx, ctx, { action: 'create', verb: 'registration.create', resourceType: 'registration', ...audit(row), detail: { kind: row.kind } })
    return toRegistration(row)
  })
}

async function admitNewborn(
  trx: Transaction<Database>,
  ctx: RequestContext,
  phi: PhiCrypto,
  body: Extract<CreateRegistrationBody, { kind: 'newborn_admission' }>,
  facility: { id: string; organizationId: string; timeZone: string },
  common: Omit<Parameters<typeof repo.insertRegistration>[1], 'patientId' | 'kind'>,
) {
  if (!ctx.principal.permissions.has('patient:write')) throw new ForbiddenError('Newborn admission registers a patient: patient:write is needed')
  const nb = body.newborn
  await activePatient(trx, ctx, nb.motherPatientId, facility.organizationId, 'Mother')
  const delivery = await repo.lockRegistration(trx, nb.deliveryRegistrationId, facilityScope(ctx.principal))
  if (!delivery) throw new NotFoundError('Delivery registration')
  if (delivery.patientId !== nb.motherPatientId || delivery.facilityId !== facility.id || delivery.status === 'cancelled' || delivery.kind === 'newborn_admission') {
    throw new ConflictError('invalid-delivery', "The delivery registration must be the mother's, at this facility, and not cancelled")
  }
  const birthTime = new Date(nb.birthTime)
  if (birthTime.getTime() > Date.now() + 60_000) throw new BadRequestError('The newborn is not valid', [{ pointer: '/newborn/birthTime', detail: 'must not be in the future' }])
  const order = nb.birthOrder ?? 1
  const multiple = nb.multipleBirth ?? order > 1
  const mother = await trx.selectFrom('patient').select('familyName').where('id', '=', nb.motherPatientId).executeTakeFirstOrThrow()
  const { id: patientId } = await insertPatientChecked(
    trx, ctx, phi,
    {
      facilityId: facility.id,
      familyName: nb.familyName ?? mother.familyName,
      givenNames: nb.givenNames ?? newbornGivenName(nb.administrativeSex, order, multiple),
      birthDate: localDate(birthTime.getTime(), facility.timeZone),
      administrativeSex: nb.administrativeSex,
    },
    { motherPatientId: nb.motherPatientId, birthTime, multipleBirthOrder: multiple ? order : null },
    false,
  )
  try {
    return await repo.insertRegistration(trx, {
      ...common, patientId, kind: 'newborn_admission', details: JSON.stringify({}), motherPatientId: nb.motherPatientId,
      deliveryRegistrationId: delivery.id, birthOrder: order, status: 'arrived', arrivedAt: birthTime,
    })
  } catch (err) {
    if ((err as { code?: string }).code === '23505') throw new ConflictError('newborn-exists', 'A newborn with this birth order is already admitted for this delivery')
    throw err
  }
}

async function visibleRegistration(ctx: RequestContext, id: string) {
  const row = await repo.findRegistrationById(ctx.db, id, facilityScope(ctx.principal))
  if (!row) throw new NotFoundError('Registration')
  return row
}

export async function getRegistration(ctx: RequestContext, id: string): Promise<Registration> {
  const row = await visibleRegistration(ctx, id)
  await guardPatientRead(ctx, { verb: 'registration.read', resourceType: 'registration', ...audit(row) })
  return toRegistration(row)
}

/** Lists registrations; one read event per returned registration (its patient and facility). */
export async function listRegistrations(
  ctx: RequestContext,
  q: { patientId?: string; facilityId?: string; status?: string; limit?: number },
  cursor: (string | number)[] | undefined,
) {
  const limit = q.limit ?? 25
  if (q.facilityId && !canActFor(ctx.principal, q.facilityId)) throw new NotFoundError('Facility')
  const rows = await repo.listRegistrations(ctx.db, { facilityIds: facilityScope(ctx.principal), ...q }, cursor, limit)
  const detail = { criteria: Object.keys(q).filter((k) => k !== 'limit' && k !== 'cursor'), returned: Math.min(rows.length, limit) }
  // One event per registration listed; restricted patients' rows are withheld (403 when asked for that patient).
  return guardedPage(ctx, rows, limit, { verb: 'registration.search', resourceType: 'registration', patientId: q.patientId, facilityId: q.facilityId, detail },
    (r) => [r.createdAt.toISOString(), r.id], toRegistration)
}

const TRANSITIONS: Record<Status, Status[]> = {
  planned: ['arrived', 'cancelled'],
  arrived: ['in_progress', 'cancelled'],
  in_progress: ['finished'],
  finished: [],
  cancelled: [],
}

function transition(row: RegistrationRow, to: Status, at: Date, reason?: string): Updateable<RegistrationTable> {
  if (!TRANSITIONS[row.status].includes(to)) throw new ConflictError('illegal-transition', `A registration that is ${row.status} cannot become ${to}`)
  switch (to) {
    case 'arrived':
      return { status: to, arrivedAt: at, flowState: 'waiting', waitingAt: at }
    case 'in_progress':
      return { status: to, startedAt: at }
    case 'finished':
      return { status: to, finishedAt: at }
    case 'cancelled':
      if (!reason) throw new BadRequestError('A reason is required to cancel', [{ pointer: '/reason', detail: 'required to cancel' }])
      // Leaves the queue if on site.
      return { status: to, cancelledAt: at, cancelReason: reason, ...(row.flowState && row.flowState !== 'checked_out' ? { flowState: 'checked_out', checkedOutAt: at } : {}) }
    default:
      throw new ConflictError('illegal-transition', `A registration cannot become ${to}`)
  }
}

async function lockVisible(trx: Transaction<Database>, ctx: RequestContext, id: string, expectedVersion?: number) {
  const row = await repo.lockRegistration(trx, id, facilityScope(ctx.principal))
  if (!row) throw new NotFoundError('Registration')
  checkVersion(row.version, expectedVersion)
  return row
}

export function changeStatus(ctx: RequestContext, id: string, expectedVersion: number | undefined, body: ChangeStatusBody): Promise<Registration> {
  return withTransaction(ctx, async (trx) => {
    const row = await lockVisible(trx, ctx, id, expectedVersion)
    const updated = await repo.updateRegistration(trx, id, transition(row, body.status, new Date(body.at ?? Date.now()), body.reason))
    await auditChange(trx, ctx, { action: 'update', verb: `registration.${body.status}`, resourceType: 'registration', ...audit(row), detail: { from: row.status, to: body.status } })
    return toRegistration(updated)
  })
}

const FLOW_ORDER: FlowState[] = ['waiting', 'roomed', 'with_provider', 'checked_out']
const FLOW_COLUMN = { waiting: 'waitingAt', roomed: 'roomedAt', with_provider: 'withProviderAt', checked_out: 'checkedOutAt' } as const

/** Patient flow moves forward only; rooming starts the encounter and checking out finishes it. */
export function changeFlow(ctx: RequestContext, id: string, state: FlowState, atIso: string | undefined): Promise<Registration> {
  return withTransaction(ctx, async (trx) => {
    const row = await lockVisible(trx, ctx, id)
    if (row.status !== 'arrived' && row.status !== 'in_progress') throw new ConflictError('not-on-site', 'Patient flow applies to arrived registrations only')
    const current = row.flowState ? FLOW_ORDER.indexOf(row.flowState) : -1
    if (FLOW_ORDER.indexOf(state) <= current) throw new ConflictError('illegal-transition', `Patient flow cannot go from ${row.flowState} to ${state}`)
    const at = new Date(atIso ?? Date.now())
    const changes: Updateable<RegistrationTable> = { flowState: state, [FLOW_COLUMN[state]]: at }
    if (!row.waitingAt) changes.waitingAt = row.arrivedAt
    if (state !== 'waiting' && row.status === 'arrived') changes.status = 'in_progress'
    if (state !== 'waiting' && !row.startedAt) changes.startedAt = at
    if (state === 'checked_out') Object.assign(changes, { status: 'finished', finishedAt: at })
    const updated = await repo.updateRegistration(trx, id, changes)
    await auditChange(trx, ctx, { action: 'update', verb: 'registration.flow', resourceType: 'registration', ...audit(row), detail: { from: row.flowState, to: state } })
    return toRegistration(updated)
  })
}

type PaymentTarget = { patientId: string; facilityId: string; registrationId: string | null }

async function insertPayment(trx: Transaction<Database>, ctx: RequestContext, to: PaymentTarget, body: CollectPaymentBody, checkInId: string | null): Promise<PaymentRow> {
  const payment = await trx
    .insertInto('payment')
    .values({
      facilityId: to.facilityId, patientId: to.patientId, registrationId: to.registrationId, checkInId, kind: body.kind ?? 'copay',
      amountCents: body.amountCents, method: body.method, reference: body.reference ?? null, receiptNumber: await repo.nextReceiptNumber(trx),
      collectedBy: ctx.principal.sub,
    })
    .returningAll()
    .executeTakeFirstOrThrow()
  await auditChange(trx, ctx, {
    action: 'create', verb: 'payment.collect', resourceType: 'payment', resourceId: payment.id, patientId: to.patientId, facilityId: to.facilityId,
    detail: { registrationId: to.registrationId, checkInId, amountCents: body.amountCents, method: body.method },
  })
  return payment
}

interface CheckInTarget extends PaymentTarget {
  appointmentId: string | null
  referralRequired: boolean
  copayDueCents: number
  /** Co-payments collected before this check-in, net of refunds. */
  paidCents: number
  /** The day of service in the facility's time zone: the eligibility check must be usable for it. */
  dateOfService: string
}

/**
 * The check-in record. Items: demographics, insurance, eligibility (a usable check when the patient
 * has coverage in force: see `eligibilityAtCheckIn`), referral (when required), consent (a signed
 * form), co-payment (when one is due: collected now or before, net of refunds). With items missing
 * it completes only with an override reason (audited); otherwise 422 lists them.
 */
async function recordCheckIn(trx: Transaction<Database>, ctx: RequestContext, target: CheckInTarget, body: CheckInBody, arrivedAt: Date, maxCheckAgeDays: number): Promise<CheckIn> {
  const eligibility = await eligibilityAtCheckIn(trx, target.patientId, target.dateOfService, maxCheckAgeDays, body.eligibilityCheckId)
  const collected = target.paidCents + (body.copayment && (body.copayment.kind ?? 'copay') === 'copay' ? body.copayment.amountCents : 0)
  const items: [string, boolean, boolean][] = [
    ['demographics', true, body.demographicsConfirmed],
    ['insurance', true, body.insuranceVerified],
    ['eligibility', eligibility.required, eligibility.checkId !== null],
    ['referral', target.referralRequired, body.referralVerified ?? false],
    ['consent', true, (body.consentForms ?? []).length > 0],
    ['copayment', target.copayDueCents > 0, collected > 0 && collected >= target.copayDueCents],
  ]
  const complete = items.filter(([, , done]) => done).map(([name]) => name)
  const missing = items.filter(([, required, done]) => required && !done).map(([name]) => name)
  if (missing.length > 0 && !body.override) {
    throw new UnprocessableError('check-in-incomplete', 'Required check-in items are missing; complete them or send override.reason', { missing })
  }
  const row = await trx
    .insertInto('checkIn')
    .values({
      facilityId: target.facilityId, patientId: target.patientId, registrationId: target.registrationId, appointmentId: target.appointmentId, arrivedAt,
      demographicsConfirmed: body.demographicsConfirmed, insuranceVerified: body.insuranceVerified, eligibilityCheckId: eligibility.checkId,
      referralRequired: target.referralRequired, referralVerified: body.referralVerified ?? false, consentForms: JSON.stringify(body.consentForms ?? []),
      complete, missing, overrideReason: missing.length > 0 ? body.override!.reason : null, createdBy: ctx.principal.sub,
    })
    .returningAll()
    .executeTakeFirstOrThrow()
  if (body.copayment) await insertPayment(trx, ctx, target, body.copayment, row.id)
  await auditChange(trx, ctx, {
    action: 'create', verb: 'check-in.create', resourceType: 'check-in', resourceId: row.id, patientId: target.patientId, facilityId: target.facilityId,
    detail: {
      registrationId: target.registrationId, appointmentId: target.appointmentId, eligibilityCheckId: eligibility.checkId, complete, missing,
      ...(missing.length > 0 ? { overrideReason: body.override!.reason } : {}),
    },
  })
  const payments = await repo.paymentsWithRefunds(trx, { checkInId: row.id, registrationId: target.registrationId ?? undefined })
  return {
    id: row.id, registrationId: row.registrationId, appointmentId: row.appointmentId, patientId: row.patientId, facilityId: row.facilityId,
    arrivedAt: row.arrivedAt.toISOString(), eligibilityCheckId: row.eligibilityCheckId, consentForms: row.consentForms, complete: row.complete,
    missing: row.missing, overrideReason: row.overrideReason, payments: payments.map(toPayment), createdAt: row.createdAt.toISOString(),
  }
}

/** Check-in of a registration: it arrives (planned -> arrived) and joins the queue. */
/** The calendar date of an instant in the facility's time zone. */
async function facilityDate(trx: Transaction<Database>, facilityId: string, at: Date): Promise<string> {
  const { timeZone } = await trx.selectFrom('facility').select('timeZone').where('id', '=', facilityId).executeTakeFirstOrThrow()
  return localDate(at.getTime(), timeZone)
}

export function checkIn(ctx: RequestContext, registrationId: string, body: CheckInBody, maxCheckAgeDays: number): Promise<CheckIn> {
  return withTransaction(ctx, async (trx) => {
    const reg = await lockVisible(trx, ctx, registrationId)
    if (reg.status !== 'planned' && reg.status !== 'arrived') throw new ConflictError('illegal-transition', `A registration that is ${reg.status} cannot be checked in`)
    const existing = await trx.selectFrom('checkIn').select('id').where('registrationId', '=', reg.id).executeTakeFirst()
    if (existing) throw new ConflictError('already-checked-in', 'This registration is already checked in')
    const { rows: [paid] } = await repo.paidCopay(trx, reg.id)
    const arrivedAt = new Date(body.arrivedAt ?? reg.arrivedAt ?? Date.now())
    const result = await recordCheckIn(trx, ctx, {
      patientId: reg.patientId, facilityId: reg.facilityId, registrationId: reg.id, appointmentId: null,
      referralRequired: reg.referralRequired, copayDueCents: reg.copayDueCents, paidCents: Number(paid.cents),
      dateOfService: await facilityDate(trx, reg.facilityId, arrivedAt),
    }, body, arrivedAt, maxCheckAgeDays)
    if (reg.status === 'planned') await repo.updateRegistration(trx, reg.id, transition(reg, 'arrived', arrivedAt))
    else if (!reg.flowState) await repo.updateRegistration(trx, reg.id, { flowState: 'waiting', waitingAt: arrivedAt })
    return result
  })
}

/**
 * Check-in of a scheduled appointment: scheduling moves it to checked-in (404 outside your
 * facilities, 409 from a status that cannot check in, and its referral gate), then the same
 * check-in record as for registrations. The referral is scheduling's gate, so it is not an item here.
 */
export function checkInAppointment(ctx: RequestContext, appointmentId: string, body: CheckInBody, maxCheckAgeDays: number): Promise<CheckIn> {
  return withTransaction(ctx, async (trx) => {
    const appointment = await transitionAppointment(ctx, trx, appointmentId, 'checked-in')
    return recordCheckIn(trx, ctx, {
      patientId: appointment.patientId, facilityId: appointment.facilityId, registrationId: null, appointmentId,
      referralRequired: false, copayDueCents: 0, paidCents: 0, dateOfService: await facilityDate(trx, appointment.facilityId, new Date(appointment.start)),
    }, body, new Date(body.arrivedAt ?? Date.now()), maxCheckAgeDays)
  })
}

export function collectPayment(ctx: RequestContext, registrationId: string, body: CollectPaymentBody): Promise<Payment> {
  return withTransaction(ctx, async (trx) => {
    const reg = await lockVisible(trx, ctx, registrationId)
    if (reg.status === 'cancelled') throw new ConflictError('illegal-transition', 'A cancelled registration takes no payments')
    const payment = await insertPayment(trx, ctx, { patientId: reg.patientId, facilityId: reg.facilityId, registrationId: reg.id }, body, null)
    return toPayment({ ...payment, refunds: [] })
  })
}

export async function listPayments(ctx: RequestContext, registrationId: string): Promise<Payment[]> {
  const reg = await visibleRegistration(ctx, registrationId)
  const rows = await repo.paymentsWithRefunds(ctx.db, { registrationId })
  await guardPatientRead(ctx, { verb: 'payment.search', resourceType: 'payment', patientId: reg.patientId, facilityId: reg.facilityId, detail: { registrationId, returned: rows.length } })
  return rows.map(toPayment)
}

/** A refund is its own record; refunds of one payment never exceed it (payment row locked). */
export function refundPayment(ctx: RequestContext, paymentId: string, body: RefundBody): Promise<Payment> {
  return withTransaction(ctx, async (trx) => {
    const scope = facilityScope(ctx.principal)
    let q = trx.selectFrom('payment').selectAll().where('id', '=', paymentId).forUpdate()
    if (scope) q = q.where('facilityId', 'in', scope.length ? scope : ['00000000-0000-0000-0000-000000000000'])
    const payment = await q.executeTakeFirst()
    if (!payment) throw new NotFoundError('Payment')
    const { rows: [refunded] } = await repo.refundedCents(trx, paymentId)
    if (Number(refunded.cents) + body.amountCents > payment.amountCents) {
      throw new ConflictError('refund-exceeds-payment', 'Refunds would exceed the amount paid')
    }
    const refund = await trx
      .insertInto('paymentRefund')
      .values({
        paymentId, amountCents: body.amountCents, method: body.method, reference: body.reference ?? null, reason: body.reason,
        receiptNumber: await repo.nextReceiptNumber(trx), refundedBy: ctx.principal.sub,
      })
      .returning('id')
      .executeTakeFirstOrThrow()
    await auditChange(trx, ctx, {
      action: 'create', verb: 'payment.refund', resourceType: 'payment-refund', resourceId: refund.id, patientId: payment.patientId, facilityId: payment.facilityId,
      detail: { paymentId, amountCents: body.amountCents, reason: body.reason },
    })
    const [result] = await repo.paymentsWithRefunds(trx, { paymentId })
    return toPayment(result)
  })
}

const toIntake = (r: { id: string; registrationId: string; patientId: string; chiefComplaint: string; answers: unknown; proposedEsi: number; decisionPoint: Intake['decisionPoint']; esiLevel: number; overrideReason: string | null; recordedAt: Date }): Intake => ({
  id: r.id, registrationId: r.registrationId, patientId: r.patientId, chiefComplaint: r.chiefComplaint, answers: r.answers as IntakeAnswers,
  proposedEsi: r.proposedEsi, decisionPoint: r.decisionPoint, esiLevel: r.esiLevel, overrideReason: r.overrideReason, recordedAt: r.recordedAt.toISOString(),
})

/** Intake interview: the service proposes an ESI level; staff may override it with a reason. */
export function recordIntake(ctx: RequestContext, registrationId: string, body: IntakeBody): Promise<Intake> {
  return withTransaction(ctx, async (trx) => {
    const reg = await lockVisible(trx, ctx, registrationId)
    if (reg.status !== 'arrived' && reg.status !== 'in_progress') throw new ConflictError('not-arrived', 'Intake needs an arrived (checked-in) registration')
    const existing = await trx.selectFrom('intake').select('id').where('registrationId', '=', reg.id).executeTakeFirst()
    if (existing) throw new ConflictError('intake-exists', 'This registration already has an intake')
    const patient = await patientRepo.findPatientById(trx, reg.patientId, undefined)
    const proposal = proposeEsi(body.answers, ageInMonths(patient!.birthDate, new Date()))
    const esiLevel = body.esiOverride?.level ?? proposal.level
    const row = await trx
      .insertInto('intake')
      .values({
        registrationId: reg.id, patientId: reg.patientId, facilityId: reg.facilityId, chiefComplaint: body.chiefComplaint, answers: JSON.stringify(body.answers),
        proposedEsi: proposal.level, decisionPoint: proposal.decisionPoint, esiLevel, overrideReason: body.esiOverride?.reason ?? null, recordedBy: ctx.principal.sub,
      })
      .returningAll()
      .executeTakeFirstOrThrow()
    const now = new Date()
    await repo.updateRegistration(trx, reg.id, { esiLevel, ...(reg.flowState ? {} : { flowState: 'waiting', waitingAt: now }) })
    await auditChange(trx, ctx, {
      action: 'create', verb: 'registration.intake', resourceType: 'intake', resourceId: row.id, patientId: reg.patientId, facilityId: reg.facilityId,
      detail: { registrationId: reg.id, proposedEsi: proposal.level, decisionPoint: proposal.decisionPoint, esiLevel, ...(body.esiOverride ? { overrideReason: body.esiOverride.reason } : {}) },
    })
    return toIntake(row)
  })
}

export async function getIntake(ctx: RequestContext, registrationId: string): Promise<Intake> {
  const reg = await visibleRegistration(ctx, registrationId)
  const row = await ctx.db.selectFrom('intake').selectAll().where('registrationId', '=', reg.id).executeTakeFirst()
  if (!row) throw new NotFoundError('Intake')
  await guardPatientRead(ctx, { verb: 'intake.read', resourceType: 'intake', resourceId: row.id, patientId: reg.patientId, facilityId: reg.facilityId })
  return toIntake(row)
}

/** The waiting list: ESI level (untriaged last), then arrival; one read event per listed patient. */
export async function getQueue(ctx: RequestContext, facilityId: string, location: string | undefined): Promise<Queue> {
  if (!canActFor(ctx.principal, facilityId)) throw new NotFoundError('Facility')
  const rows = await repo.queueEntries(ctx.db, facilityId, location)
  const now = new Date()
  if (rows.length === 0) await auditRead(ctx, { verb: 'queue.read', resourceType: 'queue', facilityId, detail: { returned: 0 } })
  const withheld = await guardPatientReads(ctx, rows.map((r) => ({ verb: 'queue.read', resourceType: 'registration', resourceId: r.id, patientId: r.patientId, facilityId })))
  return {
    asOf: now.toISOString(),
    entries: rows.map((r) => ({
      registrationId: r.id,
      patientId: r.patientId,
      displayName: withheld.has(r.patientId) ? RESTRICTED_DISPLAY_NAME : `${r.givenNames} ${r.familyName}`,
      location: r.location,
      esiLevel: r.esiLevel,
      arrivedAt: r.arrivedAt!.toISOString(),
      waitMinutes: Math.max(0, Math.floor(((r.roomedAt ?? now).getTime() - r.arrivedAt!.getTime()) / 60000)),
      flow: { state: r.flowState, waitingAt: iso(r.waitingAt), roomedAt: iso(r.roomedAt), withProviderAt: iso(r.withProviderAt), checkedOutAt: iso(r.checkedOutAt) },
    })),
  }
}
