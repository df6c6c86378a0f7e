import { randomUUID } from 'node:crypto'
import { sql, type Transaction } from 'kysely'
import type { AppointmentRow, AppointmentStatus, AppointmentTypeRow, Database, ResourceRow, SlotHoldRow } from '../../db/database.ts'
import { after, scopeIds } from '../../db/query-helpers.ts'
import { facilityScope } from '../../http/auth.ts'
import { auditChange, auditChangeIn, withTransaction, type RequestContext } from '../../http/context.ts'
import { BadRequestError, ConflictError, ForbiddenError, NotFoundError } from '../../http/errors.ts'
import { checkVersion } from '../../http/versioning.ts'
import { toPage } from '../../http/pagination.ts'
import { formatInZone, localDate } from './availability.ts'
import { checkReferral, countReferralVisit, returnReferralVisit } from './referral.service.ts'
import { dbOf, scopedFacility, scopedProvider } from './reference.service.ts'
import { findPatientCore } from '../patients/patient.repository.ts'
import * as repo from './scheduling.repository.ts'
import type { Appointment, BookAppointmentBody, CreateSlotHoldBody, RescheduleBody } from './scheduling.schemas.ts'
import { findWaitlistMatches, intervalsOf, pickResources, spanIndex, type FacilityInfo } from './slots.service.ts'
import { guardPatientRead, guardPatientReads, RESTRICTED_DISPLAY_NAME } from '../patients/patient-guard.ts'

type Trx = Transaction<Database>
const MINUTE = 60_000
/** Cancelling less than this before the start counts as a late cancellation. */
const LATE_CANCELLATION_HOURS = 24

const pgCode = (err: unknown) => (err as { code?: string }).code

/**
 * Runs a booking's statement, or its transaction (bookingTransaction): an exclusion violation
 * (23P01) is someone else holding the time, 409 slot-unavailable. A deadlock (40P01) should not
 * happen under the sorted advisory locks; if one does, it is retried once (only when the request
 * has no transaction of its own, which the deadlock has aborted).
 */
async function booking<T>(ctx: RequestContext, run: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await run()
    } catch (err) {
      const code = pgCode(err)
      if (code === '40P01' && attempt === 0 && !ctx.trx) continue
      if (code === '23P01' || code === '40P01') throw slotUnavailable()
      throw err
    }
  }
}

const bookingTransaction = <T>(ctx: RequestContext, fn: (trx: Trx) => Promise<T>) => booking(ctx, () => withTransaction(ctx, fn))

interface Target {
  facility: FacilityInfo & { name: string }
  type: AppointmentTypeRow
  providerId: string
  providerName: string
  resourceIds: string[]
  /** The resources of resourceIds, in that order. */
  resources: ResourceName[]
  start: Date
  end: Date
  /** The reserved span: buffers included. */
  spanStart: Date
  spanEnd: Date
}

/**
 * Validates what a hold, booking or reschedule asks for, outside any transaction: scope,
 * provider at the facility, resources of the kinds the type needs, minimum notice and (unless
 * overbooking) the provider's availability. Picks free resources when none are named.
 */
async function resolveTarget(
  ctx: RequestContext,
  q: { facilityId: string; providerId: string; appointmentTypeId: string; start: string; resourceIds?: string[]; patientId?: string },
  opts: { overbook: boolean },
): Promise<Target> {
  const start = new Date(q.start)
  const found = await repo.findTarget(dbOf(ctx), { ...q, scope: facilityScope(ctx.principal), start })
  const { facility, type } = found
  if (!facility) throw new NotFoundError('Facility')
  if (found.providerName === null) throw new NotFoundError('Provider')
  if (!type) throw new NotFoundError('Appointment type')
  const end = new Date(start.getTime() + type.durationMinutes * MINUTE)
  const spanStart = new Date(start.getTime() - type.bufferBeforeMinutes * MINUTE)
  const spanEnd = new Date(end.getTime() + type.bufferAfterMinutes * MINUTE)
  if (start.getTime() < Date.now() + type.minimumNoticeMinutes * MINUTE) {
    throw new ConflictError('insufficient-notice', `This appointment type must be booked at least ${type.minimumNoticeMinutes} minutes ahead`)
  }
  const window = [new Date(start.getTime() - 86_400_000), new Date(end.getTime() + 86_400_000)] as const
  const intervals = intervalsOf(facility, [q.providerId], window[0], window[1], found.rules, found.exceptions).get(q.providerId)!
  const within = intervals.find((i) => i.start <= start.getTime() && i.end >= end.getTime())
  if (!within && !opts.overbook) throw new ConflictError('outside-availability', 'The provider is not available at this time')
  // Only the kinds the type needs: a named resource of another kind fails the check below as one
  // of no kind at all would (the same 400).
  const { resources } = found
  let resourceIds: string[]
  if (type.resourceKinds.length === 0 && !q.resourceIds?.length) {
    resourceIds = []
  } else if (q.resourceIds) {
    const named = q.resourceIds.map((id) => resources.find((r) => r.id === id))
    const kinds = named.map((r) => r?.kind).sort()
    if (named.some((r) => !r) || JSON.stringify(kinds) !== JSON.stringify([...type.resourceKinds].sort())) {
      throw new BadRequestError('The resources do not fit the appointment type', [{ pointer: '/resourceIds', detail: `one active resource of each kind: ${type.resourceKinds.join(', ') || 'none'}` }])
    }
    resourceIds = q.resourceIds
  } else {
    const byKind = new Map(type.resourceKinds.map((k) => [k, resources.filter((r) => r.kind === k)]))
    const busy = await repo.busySpans(dbOf(ctx), [], resources.map((r) => r.id), spanStart, spanEnd)
    const busyOf = new Map(resources.map((r) => [r.id, spanIndex(busy.get(r.id))]))
    const picked = pickResources(byKind, within?.resourceId ?? null, busyOf, spanStart.getTime(), spanEnd.getTime())
    if (!picked) throw new ConflictError('slot-unavailable', 'No resource the appointment type needs is free at this time')
    resourceIds = picked
  }
  const picked = resourceIds.map((id) => resources.find((r) => r.id === id)!)
  // Checked last, as the separate lookup it replaces was.
  if (found.patientLinked === false) throw new NotFoundError('Patient')
  return { facility, type, providerId: q.providerId, providerName: found.providerName, resourceIds, resources: picked, start, end, spanStart, spanEnd }
}

const slotUnavailable = () => new ConflictError('slot-unavailable', 'The time is no longer free for this provider or resource')

/**
 * Why schedule_claim refused the time, in the order it checks (undefined when it proceeded): what
 * resolveTarget validated outside the transaction may have been retired since (it answers as it
 * would have before), or something live (deliberate overbookings included, which the constraint
 * leaves out) overlaps, so the losers of a burst leave the lock after one query. The constraint
 * stays the guarantee.
 */
function refusal(claim: repo.ClaimOutcome) {
  if (!claim.providerActive) return new NotFoundError('Provider')
  if (!claim.typeActive) return new NotFoundError('Appointment type')
  if (!claim.resourcesActive) return new ConflictError('slot-unavailable', 'A resource the appointment needs was retired')
  if (!claim.proceed) return slotUnavailable()
}

/** Takes the schedules' locks and checks the time can be taken (repo.claimBookable), in a transaction that goes on to take it. */
async function claimTime(trx: Trx, t: Target, opts: { overbook: boolean; exceptAppointmentId?: string }) {
  const refused = refusal(await repo.claimBookable(trx, {
    providerId: t.providerId, appointmentTypeId: t.type.id, resourceIds: t.resourceIds, from: t.spanStart, to: t.spanEnd, ...opts,
  }))
  if (refused) throw refused
}

/** Takes the time for an owner. Caller runs inside bookingTransaction (23P01 becomes 409). */
async function reserve(trx: Trx, t: Target, owner: repo.ReservationOwner) {
  await claimTime(trx, t, { overbook: owner.overbook ?? false })
  await repo.insertReservations(trx, owner, [t.providerId], t.resourceIds, t.spanStart, t.spanEnd)
}

async function patientAt(ctx: RequestContext, patientId: string, facilityId: string) {
  const patient = await findPatientCore(dbOf(ctx), patientId, [facilityId])
  if (!patient) throw new NotFoundError('Patient')
  return patient
}

const toHold = (h: SlotHoldRow, zone: string) => ({
  id: h.id, facilityId: h.facilityId, providerId: h.providerId, appointmentTypeId: h.appointmentTypeId, patientId: h.patientId,
  resourceIds: h.resourceIds, start: formatInZone(h.startAt.getTime(), zone), end: formatInZone(h.endAt.getTime(), zone),
  expiresAt: formatInZone(h.expiresAt.getTime(), zone), status: h.expiresAt.getTime() > Date.now() ? ('busy-tentative' as const) : ('expired' as const),
})

export async function createHold(ctx: RequestContext, body: CreateSlotHoldBody) {
  const t = await resolveTarget(ctx, body, { overbook: false })
  return bookingTransaction(ctx, async (trx) => {
    const hold = await trx.insertInto('slotHold').values({
      facilityId: t.facility.id, providerId: t.providerId, appointmentTypeId: t.type.id, patientId: body.patientId ?? null,
      resourceIds: t.resourceIds, startAt: t.start, endAt: t.end, createdBy: ctx.principal.sub,
      expiresAt: sql<Date>`now() + make_interval(secs => ${body.expiresInSeconds ?? 300})`,
    }).returningAll().executeTakeFirstOrThrow()
    await reserve(trx, t, { holdId: hold.id, expiresAt: hold.expiresAt })
    await auditChange(trx, ctx, { action: 'create', verb: 'slot-hold.create', resourceType: 'slot-hold', resourceId: hold.id, patientId: hold.patientId, facilityId: hold.facilityId })
    return toHold(hold, t.facility.timeZone)
  })
}

export function releaseHold(ctx: RequestContext, holdId: string) {
  return withTransaction(ctx, async (trx) => {
    const hold = await trx.selectFrom('slotHold').selectAll().where('id', '=', holdId).executeTakeFirst()
    const scope = facilityScope(ctx.principal)
    if (!hold || (scope && !scope.includes(hold.facilityId))) throw new NotFoundError('Slot hold')
    await trx.deleteFrom('slotHold').where('id', '=', holdId).execute()
    await auditChange(trx, ctx, { action: 'delete', verb: 'slot-hold.release', resourceType: 'slot-hold', resourceId: holdId, patientId: hold.patientId, facilityId: hold.facilityId })
  })
}

type AppointmentView = AppointmentRow & { providerName: string; facilityName: string; timeZone: string; appointmentTypeName: string }

type ResourceName = Pick<ResourceRow, 'id' | 'name' | 'kind'>

/** The response body; `appointmentOf` when the resources' names are not at hand. */
function toAppointment(row: AppointmentView, resources: ResourceName[]): Appointment {
  const zone = row.timeZone
  return {
    id: row.id, status: row.status, facilityId: row.facilityId, facilityName: row.facilityName, patientId: row.patientId,
    providerId: row.providerId, providerName: row.providerName, appointmentTypeId: row.appointmentTypeId, appointmentTypeName: row.appointmentTypeName,
    resources: row.resourceIds.map((id) => resources.find((r) => r.id === id)!).map((r) => ({ id: r.id, name: r.name, kind: r.kind })),
    start: formatInZone(row.startAt.getTime(), zone), end: formatInZone(row.endAt.getTime(), zone),
    overbooked: row.overbooked, referralId: row.referralId, referralOverridden: row.referralOverrideReason !== null, note: row.note,
    cancellation: row.cancelledAt
      ? { at: formatInZone(row.cancelledAt.getTime(), zone), by: row.cancelledBy!, reason: row.cancelReason!, late: row.lateCancellation ?? false }
      : null,
    enteredInError: row.erroredAt ? { at: formatInZone(row.erroredAt.getTime(), zone), by: row.erroredBy!, reason: row.errorReason! } : null,
    version: row.version,
  }
}

async function appointmentOf(db: RequestContext['db'], row: AppointmentView): Promise<Appointment> {
  return toAppointment(row, await repo.resourceNames(db, row.resourceIds))
}

const loadView = (db: RequestContext['db'], id: string) => repo.appointmentView(db).where('appointment.id', '=', id).executeTakeFirstOrThrow()

export async function bookAppointment(ctx: RequestContext, body: BookAppointmentBody): Promise<Appointment> {
  const overbook = body.overbookReason !== undefined
  if (overbook && !ctx.principal.permissions.has('scheduling:overbook')) {
    throw new ForbiddenError('Overbooking needs the scheduling:overbook permission')
  }
  let resourceIds = body.resourceIds
  if (body.holdId && !resourceIds) {
    const hold = await dbOf(ctx).selectFrom('slotHold').select('resourceIds').where('id', '=', body.holdId).where('facilityId', '=', body.facilityId).executeTakeFirst()
    resourceIds = hold?.resourceIds
  }
  const t = await resolveTarget(ctx, { ...body, resourceIds }, { overbook })
  const referral = await checkReferral(dbOf(ctx), {
    type: t.type, referralId: body.referralId, overrideReason: body.referralOverrideReason, patientId: body.patientId,
    facilityId: t.facility.id, visitDate: localDate(t.start.getTime(), t.facility.timeZone),
  })
  // The id is chosen here so that the audit event can go in the booking's own statement.
  const id = randomUUID()
  const book = async (db: RequestContext['db']) => {
    const booked = await repo.insertAppointmentReserving(db, {
      id, facilityId: t.facility.id, patientId: body.patientId, providerId: t.providerId, appointmentTypeId: t.type.id, resourceIds: t.resourceIds,
      startAt: t.start, endAt: t.end, overbooked: overbook, overbookReason: body.overbookReason ?? null, referralId: referral?.id ?? null,
      referralOverrideReason: body.referralOverrideReason ?? null, note: body.note ?? null, createdBy: ctx.principal.sub,
    }, { start: t.spanStart, end: t.spanEnd }, (inserted) => auditChangeIn(ctx, {
      action: 'create', verb: 'appointment.book', resourceType: 'appointment', resourceId: id, patientId: body.patientId, facilityId: t.facility.id,
      detail: { overbooked: overbook, referralOverride: body.referralOverrideReason !== undefined, fromHold: body.holdId !== undefined },
    }, inserted))
    const refused = refusal(booked)
    if (refused) throw refused
    return booked.appointment!
  }
  // Without a hold, one statement in autocommit (or in the request's own transaction), whose
  // transaction holds the locks its claim takes. A hold is consumed under the schedules' locks in
  // the booking's transaction, so it is given back if the booking fails.
  const holdId = body.holdId
  const row = holdId
    ? await bookingTransaction(ctx, async (trx) => {
      await repo.lockSchedules(trx, [t.providerId, ...t.resourceIds])
      await consumeHold(trx, holdId, t, body.patientId)
      return book(trx)
    })
    : await booking(ctx, () => book(dbOf(ctx)))
  // Names come from the lookups above (the target), not from a re-read.
  return toAppointment({ ...row, providerName: t.providerName, facilityName: t.facility.name, timeZone: t.facility.timeZone, appointmentTypeName: t.type.name }, t.resources)
}

/** A live hold of exactly this slot is turned into the booking. Caller holds the schedules' locks. */
async function consumeHold(trx: Trx, holdId: string, t: Target, patientId: string) {
  const hold = await trx.selectFrom('slotHold').selectAll().where('id', '=', holdId).where('facilityId', '=', t.facility.id).executeTakeFirst()
  if (!hold) throw new NotFoundError('Slot hold')
  const live = await trx.selectFrom('reservation').select('id').where('holdId', '=', holdId).where('expiresAt', '>', sql<Date>`now()`).executeTakeFirst()
  if (!live) throw new ConflictError('hold-expired', 'The hold has expired; search for slots again')
  if (hold.providerId !== t.providerId || hold.appointmentTypeId !== t.type.id || hold.startAt.getTime() !== t.start.getTime() || (hold.patientId && hold.patientId !== patientId)) {
    throw new ConflictError('hold-mismatch', 'The hold is for another slot, type or patient')
  }
  await trx.deleteFrom('slotHold').where('id', '=', holdId).execute()
}

async function lockAppointment(ctx: RequestContext, trx: Trx, id: string, expectedVersion?: number) {
  const row = await trx.selectFrom('appointment').selectAll().where('id', '=', id).forUpdate().executeTakeFirst()
  const scope = facilityScope(ctx.principal)
  if (!row || (scope && !scope.includes(row.facilityId))) throw new NotFoundError('Appointment')
  checkVersion(row.version, expectedVersion)
  return row
}

export async function getAppointment(ctx: RequestContext, id: string) {
  const row = await repo.appointmentView(dbOf(ctx)).where('appointment.id', '=', id).executeTakeFirst()
  const scope = facilityScope(ctx.principal)
  if (!row || (scope && !scope.includes(row.facilityId))) throw new NotFoundError('Appointment')
  await guardPatientRead(ctx, { verb: 'appointment.read', resourceType: 'appointment', resourceId: id, patientId: row.patientId, facilityId: row.facilityId })
  return appointmentOf(dbOf(ctx), row)
}

export async function listPatientAppointments(ctx: RequestContext, facilityId: string, patientId: string, cursor: (string | number)[] | undefined, limit: number) {
  await scopedFacility(ctx, facilityId)
  await patientAt(ctx, patientId, facilityId)
  let q = repo.appointmentView(dbOf(ctx)).where('appointment.patientId', '=', patientId).where('appointment.facilityId', '=', facilityId)
    .orderBy('appointment.startAt').orderBy('appointment.id').limit(limit + 1)
  if (cursor) q = q.where(after(['appointment.startAt', 'appointment.id'], cursor))
  const rows = await q.execute()
  await guardPatientRead(ctx, { verb: 'appointment.search', resourceType: 'appointment', patientId, facilityId, detail: { returned: Math.min(rows.length, limit) } })
  const page = toPage(rows, limit, (r) => [r.startAt.toISOString(), r.id], (r) => r)
  return { items: await Promise.all(page.items.map((r) => appointmentOf(dbOf(ctx), r))), next: page.next }
}

const illegal = (from: string, to: string) => new ConflictError('invalid-transition', `An appointment that is ${from} cannot become ${to}`)

export async function reschedule(ctx: RequestContext, id: string, body: RescheduleBody, expectedVersion?: number) {
  const current = await dbOf(ctx).selectFrom('appointment').selectAll().where('id', '=', id).executeTakeFirst()
  const scope = facilityScope(ctx.principal)
  if (!current || (scope && !scope.includes(current.facilityId))) throw new NotFoundError('Appointment')
  if (current.status !== 'booked') throw illegal(current.status, 'rescheduled')
  const t = await resolveTarget(ctx, {
    facilityId: current.facilityId, providerId: body.providerId ?? current.providerId, appointmentTypeId: current.appointmentTypeId,
    start: body.start, resourceIds: body.resourceIds ?? current.resourceIds,
  }, { overbook: current.overbooked })
  await checkReferral(dbOf(ctx), {
    type: t.type, referralId: current.referralId, overrideReason: current.referralOverrideReason, patientId: current.patientId,
    facilityId: current.facilityId, visitDate: localDate(t.start.getTime(), t.facility.timeZone),
  })
  return bookingTransaction(ctx, async (trx) => {
    await repo.lockSchedules(trx, [current.providerId, ...current.resourceIds, t.providerId, ...t.resourceIds])
    const row = await lockAppointment(ctx, trx, id, expectedVersion)
    if (row.status !== 'booked') throw illegal(row.status, 'rescheduled')
    await claimTime(trx, t, { overbook: row.overbooked, exceptAppointmentId: id })
    await repo.moveReservations(trx, id, t.providerId, t.resourceIds, t.spanStart, t.spanEnd)
    await trx.updateTable('appointment').set((eb) => ({
      providerId: t.providerId, resourceIds: t.resourceIds, startAt: t.start, endAt: t.end, version: eb('version', '+', 1), updatedAt: sql<Date>`now()`,
    })).where('id', '=', id).execute()
    await auditChange(trx, ctx, {
      action: 'update', verb: 'appointment.reschedule', resourceType: 'appointment', resourceId: id, patientId: row.patientId, facilityId: row.facilityId,
      detail: { providerChanged: t.providerId !== row.providerId },
    })
    return appointmentOf(trx, await loadView(trx, id))
  })
}

/** Waiting patients named in a cancel response, at most. */
const CANCEL_MATCHES = 10

/**
 * Cancels and frees the time, then names the waiting patients who could take the freed time
 * (the waitlist matching of GET /waitlist/matches, narrowed to this provider and span).
 */
export async function cancel(ctx: RequestContext, id: string, reason: string, expectedVersion?: number) {
  const { appointment, freed } = await cancelAppointment(ctx, id, reason, expectedVersion)
  const waitlistMatches = await findWaitlistMatches(ctx, freed.facility, { within: freed.within, limit: CANCEL_MATCHES })
  return { ...appointment, waitlistMatches: waitlistMatches.items }
}

function cancelAppointment(ctx: RequestContext, id: string, reason: string, expectedVersion?: number) {
  return withTransaction(ctx, async (trx) => {
    const row = await lockAppointment(ctx, trx, id, expectedVersion)
    if (row.status !== 'booked') throw illegal(row.status, 'cancelled')
    const late = row.startAt.getTime() - Date.now() < LATE_CANCELLATION_HOURS * 3_600_000
    await repo.deleteReservations(trx, { appointmentId: id })
    await trx.updateTable('appointment').set((eb) => ({
      status: 'cancelled', cancelledAt: sql<Date>`now()`, cancelledBy: ctx.principal.sub, cancelReason: reason, lateCancellation: late,
      version: eb('version', '+', 1), updatedAt: sql<Date>`now()`,
    })).where('id', '=', id).execute()
    await auditChange(trx, ctx, {
      action: 'update', verb: 'appointment.cancel', resourceType: 'appointment', resourceId: id, patientId: row.patientId, facilityId: row.facilityId, detail: { late },
    })
    const view = await loadView(trx, id)
    const type = await trx.selectFrom('appointmentType').select(['bufferBeforeMinutes', 'bufferAfterMinutes']).where('id', '=', row.appointmentTypeId).executeTakeFirstOrThrow()
    const facility = await trx.selectFrom('facility').select(['id', 'organizationId', 'timeZone']).where('id', '=', row.facilityId).executeTakeFirstOrThrow()
    return {
      appointment: await appointmentOf(trx, view),
      freed: {
        facility,
        within: {
          providerId: row.providerId,
          from: new Date(row.startAt.getTime() - type.bufferBeforeMinutes * MINUTE),
          to: new Date(row.endAt.getTime() + type.bufferAfterMinutes * MINUTE),
        },
      },
    }
  })
}

/**
 * FHIR entered-in-error: the appointment should never have existed. Frees its time (the
 * reservations go, so the exclusion constraints no longer see it) and gives back the referral
 * visit it counted. Allowed from any other status; a cancellation record is kept.
 */
export function markEnteredInError(ctx: RequestContext, id: string, reason: string, expectedVersion?: number) {
  return withTransaction(ctx, async (trx) => {
    const row = await lockAppointment(ctx, trx, id, expectedVersion)
    if (row.status === 'entered-in-error') throw illegal(row.status, 'entered-in-error')
    await repo.deleteReservations(trx, { appointmentId: id })
    const returnVisit = row.referralId !== null && row.referralVisitCounted
    if (returnVisit) await returnReferralVisit(trx, row.referralId!)
    await trx.updateTable('appointment').set((eb) => ({
      status: 'entered-in-error', erroredAt: sql<Date>`now()`, erroredBy: ctx.principal.sub, errorReason: reason, referralVisitCounted: false,
      version: eb('version', '+', 1), updatedAt: sql<Date>`now()`,
    })).where('id', '=', id).execute()
    await auditChange(trx, ctx, {
      action: 'update', verb: 'appointment.entered-in-error', resourceType: 'appointment', resourceId: id, patientId: row.patientId, facilityId: row.facilityId,
      detail: { from: row.status, referralVisitReturned: returnVisit },
    })
    return appointmentOf(trx, await loadView(trx, id))
  })
}

const TRANSITIONS: Record<string, AppointmentStatus[]> = {
  arrived: ['booked'],
  'checked-in': ['booked', 'arrived'],
  fulfilled: ['arrived', 'checked-in'],
  noshow: ['booked'],
}

/**
 * Moves an appointment along its FHIR lifecycle. Arrival and check-in pass the referral gate
 * again and count the visit against the referral, once per appointment. Exported for the
 * registration module's check-in, which calls it inside its own transaction.
 */
export async function transitionAppointment(ctx: RequestContext, trx: Trx, id: string, to: 'arrived' | 'checked-in' | 'fulfilled' | 'noshow', expectedVersion?: number) {
  const row = await lockAppointment(ctx, trx, id, expectedVersion)
  if (!TRANSITIONS[to].includes(row.status)) throw illegal(row.status, to)
  if (to === 'noshow') {
    if (row.startAt.getTime() > Date.now()) throw new ConflictError('too-early', 'A no-show can be recorded only after the start time')
    await repo.deleteReservations(trx, { appointmentId: id })
  }
  let counted = row.referralVisitCounted
  if ((to === 'arrived' || to === 'checked-in') && !counted) {
    const type = (await trx.selectFrom('appointmentType').selectAll().where('id', '=', row.appointmentTypeId).executeTakeFirstOrThrow())
    const facility = await trx.selectFrom('facility').select('timeZone').where('id', '=', row.facilityId).executeTakeFirstOrThrow()
    await checkReferral(trx, {
      type, referralId: row.referralId, overrideReason: row.referralOverrideReason, patientId: row.patientId, facilityId: row.facilityId,
      visitDate: localDate(row.startAt.getTime(), facility.timeZone),
    })
    if (row.referralId) {
      await countReferralVisit(trx, row.referralId)
      counted = true
    }
  }
  await trx.updateTable('appointment').set((eb) => ({ status: to, referralVisitCounted: counted, version: eb('version', '+', 1), updatedAt: sql<Date>`now()` }))
    .where('id', '=', id).execute()
  await auditChange(trx, ctx, {
    action: 'update', verb: `appointment.${to}`, resourceType: 'appointment', resourceId: id, patientId: row.patientId, facilityId: row.facilityId,
    detail: { from: row.status, referralVisitCounted: counted && !row.referralVisitCounted },
  })
  return appointmentOf(trx, await loadView(trx, id))
}

export const transition = (ctx: RequestContext, id: string, to: 'arrived' | 'checked-in' | 'fulfilled' | 'noshow', expectedVersion?: number) =>
  withTransaction(ctx, (trx) => transitionAppointment(ctx, trx, id, to, expectedVersion))

/** A provider's appointments, live holds, blocks and surgical cases in a window, in the caller's facilities. */
export async function calendar(ctx: RequestContext, providerId: string, fromText: string, toText: string) {
  const from = new Date(fromText)
  const to = new Date(toText)
  if (to <= from || to.getTime() - from.getTime() > 31 * 86_400_000) {
    throw new BadRequestError('The window is not valid', [{ pointer: 'to', detail: 'must be after from and at most 31 days later' }])
  }
  const provider = await scopedProvider(ctx, providerId)
  const scope = facilityScope(ctx.principal)
  const inScope = <T extends { facilityId: string }>(rows: T[]) => (scope ? rows.filter((r) => scope.includes(r.facilityId)) : rows)
  const showNames = ctx.principal.permissions.has('patient:read')
  const [appointments, holds, blocks, cases] = await Promise.all([
    dbOf(ctx).selectFrom('appointment')
      .innerJoin('appointmentType', 'appointmentType.id', 'appointment.appointmentTypeId')
      .innerJoin('patient', 'patient.id', 'appointment.patientId')
      .select(['appointment.id', 'appointment.facilityId', 'appointment.startAt', 'appointment.endAt', 'appointment.status', 'appointment.patientId',
        'appointmentType.name as label', 'patient.familyName', 'patient.givenNames'])
      .where('appointment.providerId', '=', providerId).where('appointment.startAt', '<', to).where('appointment.endAt', '>', from)
      .where('appointment.status', 'not in', ['cancelled', 'entered-in-error']).execute(),
    dbOf(ctx).selectFrom('slotHold').selectAll().where('providerId', '=', providerId).where('startAt', '<', to).where('endAt', '>', from)
      .where('expiresAt', '>', sql<Date>`now()`).execute(),
    repo.listExceptions(dbOf(ctx), [providerId], undefined, from, to),
    dbOf(ctx).selectFrom('surgicalCase').innerJoin('patient', 'patient.id', 'surgicalCase.patientId')
      .select(['surgicalCase.id', 'surgicalCase.facilityId', 'surgicalCase.startAt', 'surgicalCase.endAt', 'surgicalCase.status', 'surgicalCase.patientId',
        'surgicalCase.procedureCodes', 'patient.familyName', 'patient.givenNames'])
      .where('surgicalCase.surgeonId', '=', providerId).where('surgicalCase.startAt', '<', to).where('surgicalCase.endAt', '>', from)
      .where('surgicalCase.status', 'in', ['pending-facility-confirmation', 'scheduled']).execute(),
  ])
  const facilityIds = [...new Set([...appointments, ...holds, ...blocks, ...cases].map((r) => r.facilityId))]
  const zones = new Map((await dbOf(ctx).selectFrom('facility').select(['id', 'timeZone']).where('id', 'in', scopeIds(facilityIds)).execute()).map((f) => [f.id, f.timeZone]))
  const at = (ms: number, facilityId: string) => formatInZone(ms, zones.get(facilityId)!)
  const name = (r: { familyName: string; givenNames: string }) => (showNames ? { patientName: `${r.familyName}, ${r.givenNames}` } : {})
  const entries = [
    ...inScope(appointments).map((a) => ({
      kind: 'appointment' as const, id: a.id, facilityId: a.facilityId, start: at(a.startAt.getTime(), a.facilityId), end: at(a.endAt.getTime(), a.facilityId),
      status: a.status, patientId: a.patientId, ...name(a), label: a.label, sort: a.startAt.getTime(),
    })),
    ...inScope(holds).map((h) => ({
      kind: 'hold' as const, id: h.id, facilityId: h.facilityId, start: at(h.startAt.getTime(), h.facilityId), end: at(h.endAt.getTime(), h.facilityId),
      status: 'busy-tentative', patientId: h.patientId, label: null, sort: h.startAt.getTime(),
    })),
    ...inScope(blocks.filter((b) => b.kind === 'block')).map((b) => ({
      kind: 'block' as const, id: b.id, facilityId: b.facilityId, start: at(b.startAt.getTime(), b.facilityId), end: at(b.endAt.getTime(), b.facilityId),
      status: 'busy-unavailable', patientId: null, label: b.reason, sort: b.startAt.getTime(),
    })),
    ...inScope(cases).map((c) => ({
      kind: 'surgical-case' as const, id: c.id, facilityId: c.facilityId, start: at(c.startAt!.getTime(), c.facilityId), end: at(c.endAt!.getTime(), c.facilityId),
      status: c.status, patientId: c.patientId, ...name(c), label: `CPT ${c.procedureCodes.join(', ')}`, sort: c.startAt!.getTime(),
    })),
  ].sort((a, b) => a.sort - b.sort)
  const seen = new Set<string>()
  const reads = []
  for (const e of entries) {
    if (!e.patientId || seen.has(`${e.patientId}/${e.facilityId}`)) continue
    seen.add(`${e.patientId}/${e.facilityId}`)
    reads.push({ verb: 'provider.calendar', resourceType: 'appointment', patientId: e.patientId, facilityId: e.facilityId, detail: { providerId, names: showNames } })
  }
  // A restricted patient's booking stays on the calendar (the time is taken), without the name.
  const withheld = await guardPatientReads(ctx, reads)
  return {
    providerId, providerName: provider.displayName,
    entries: entries.map(({ sort: _sort, ...e }) => ('patientName' in e && e.patientId && withheld.has(e.patientId) ? { ...e, patientName: RESTRICTED_DISPLAY_NAME } : e)),
  }
}
