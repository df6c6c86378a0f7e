import type { Kysely } from 'kysely'
import type { AppointmentTypeRow, Database, ResourceRow, WaitlistEntryRow } from '../../db/database.ts'
import { scopeIds } from '../../db/query-helpers.ts'
import { auditChange, auditRead, withTransaction, type RequestContext } from '../../http/context.ts'
import { BadRequestError, NotFoundError } from '../../http/errors.ts'
import { addDays, expandAvailability, formatInZone, isoDate, localToInstant, type Interval } from './availability.ts'
import { dbOf, providerAt, scopedFacility } from './reference.service.ts'
import * as repo from './scheduling.repository.ts'
import type { CreateWaitlistEntryBody, SlotQuery } from './scheduling.schemas.ts'

const MINUTE = 60_000
const MAX_WINDOW_DAYS = 31

export interface FacilityInfo {
  id: string
  organizationId: string
  timeZone: string
}

/** Availability intervals (instants) of each provider at a facility within [from, to). */
export async function availableIntervals(db: Kysely<Database>, facility: FacilityInfo, providerIds: string[], from: Date, to: Date) {
  const [rules, exceptions] = await Promise.all([
    repo.listRules(db, providerIds, facility.id),
    repo.listExceptions(db, providerIds, undefined, from, to),
  ])
  const out = new Map<string, Interval[]>()
  for (const providerId of providerIds) {
    const mine = exceptions.filter((e) => e.providerId === providerId)
    out.set(providerId, expandAvailability({
      zone: facility.timeZone,
      from: from.getTime(),
      to: to.getTime(),
      rules: rules.filter((r) => r.providerId === providerId).map((r) => ({
        weekday: r.weekday, startTime: r.startTime, endTime: r.endTime, resourceId: r.resourceId,
        effectiveFrom: isoDate(r.effectiveFrom), effectiveTo: r.effectiveTo === null ? null : isoDate(r.effectiveTo),
      })),
      // Extra availability counts only at its own facility; a block stops the provider everywhere.
      extras: mine.filter((e) => e.kind === 'extra' && e.facilityId === facility.id)
        .map((e) => ({ start: e.startAt.getTime(), end: e.endAt.getTime(), resourceId: e.resourceId })),
      blocks: mine.filter((e) => e.kind === 'block').map((e) => ({ start: e.startAt.getTime(), end: e.endAt.getTime() })),
    }))
  }
  return out
}

export interface SlotCandidate {
  providerId: string
  providerName: string
  start: number
  end: number
  resourceIds: string[]
}

/** Busy time as sorted, disjoint [start, end) pairs: overlap tests by binary search. */
export function busyIndex(rows: { start: Date; end: Date }[]) {
  const sorted = rows.map((r) => [r.start.getTime(), r.end.getTime()]).sort((a, b) => a[0] - b[0])
  const merged: number[][] = []
  for (const [s, e] of sorted) {
    const last = merged[merged.length - 1]
    if (last && s <= last[1]) last[1] = Math.max(last[1], e)
    else merged.push([s, e])
  }
  return (start: number, end: number) => {
    let lo = 0
    let hi = merged.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (merged[mid][0] < end) lo = mid + 1
      else hi = mid
    }
    return lo > 0 && merged[lo - 1][1] > start
  }
}

/**
 * Free slots: availability minus blocks, stepped by the type's duration, keeping those whose
 * buffered span is clear for the provider and for one resource of each kind the type needs,
 * and that start after the minimum notice.
 */
export async function findFreeSlots(
  db: Kysely<Database>,
  s: { facility: FacilityInfo; type: AppointmentTypeRow; providers: { id: string; displayName: string }[]; from: Date; to: Date; limit: number },
): Promise<SlotCandidate[]> {
  const { type } = s
  const duration = type.durationMinutes * MINUTE
  const before = type.bufferBeforeMinutes * MINUTE
  const after = type.bufferAfterMinutes * MINUTE
  const earliest = Date.now() + type.minimumNoticeMinutes * MINUTE
  const from = new Date(Math.max(s.from.getTime(), earliest))
  if (from >= s.to || s.providers.length === 0) return []
  const resources = type.resourceKinds.length ? await repo.listResources(db, s.facility.id) : []
  const byKind = new Map(type.resourceKinds.map((k) => [k, resources.filter((r) => r.kind === k)]))
  if ([...byKind.values()].some((list) => list.length === 0)) return []
  const providerIds = s.providers.map((p) => p.id)
  const [intervals, busy] = await Promise.all([
    // Expanded from a day earlier so slots keep the grid of their interval's start.
    availableIntervals(db, s.facility, providerIds, new Date(s.from.getTime() - 86_400_000), s.to),
    repo.listOccupancy(db, providerIds, resources.map((r) => r.id), new Date(from.getTime() - before), new Date(s.to.getTime() + after)),
  ])
  const out: SlotCandidate[] = []
  const resourceBusy = new Map(resources.map((r) => [r.id, busyIndex(busy.filter((b) => b.resourceId === r.id))]))
  for (const provider of s.providers) {
    const providerBusy = busyIndex(busy.filter((b) => b.providerId === provider.id))
    for (const interval of intervals.get(provider.id) ?? []) {
      for (let start = interval.start; start + duration <= interval.end; start += duration) {
        if (start < from.getTime()) continue
        const span = [start - before, start + duration + after] as const
        if (providerBusy(...span)) continue
        const rooms = pickResources(byKind, interval.resourceId, resourceBusy, span[0], span[1])
        if (!rooms) continue
        out.push({ providerId: provider.id, providerName: provider.displayName, start, end: start + duration, resourceIds: rooms })
      }
    }
  }
  return out.sort((a, b) => a.start - b.start || a.providerName.localeCompare(b.providerName)).slice(0, s.limit)
}

/** One free resource of each kind, the availability's own room first; null when a kind has none free. */
export function pickResources(
  byKind: Map<string, ResourceRow[]>, preferred: string | null, busy: Map<string, (start: number, end: number) => boolean>, start: number, end: number,
): string[] | null {
  const picked: string[] = []
  for (const candidates of byKind.values()) {
    const ordered = [...candidates].sort((a, b) => Number(b.id === preferred) - Number(a.id === preferred))
    const free = ordered.find((r) => !busy.get(r.id)?.(start, end))
    if (!free) return null
    picked.push(free.id)
  }
  return picked
}

async function typeFor(ctx: RequestContext, id: string, organizationId: string) {
  const type = await repo.findAppointmentType(dbOf(ctx), id, organizationId)
  if (!type) throw new NotFoundError('Appointment type')
  return type
}

async function providersFor(ctx: RequestContext, facilityId: string, providerIds: string[] | undefined, specialtyId: string | null | undefined) {
  if (providerIds?.length) return Promise.all(providerIds.map((id) => providerAt(ctx, id, facilityId)))
  let q = dbOf(ctx).selectFrom('provider').innerJoin('providerFacility', 'providerFacility.providerId', 'provider.id')
    .select(['provider.id', 'provider.displayName']).where('providerFacility.facilityId', '=', facilityId).where('provider.active', '=', true)
  if (specialtyId) {
    q = q.where((eb) => eb.exists(eb.selectFrom('providerSpecialty').select('providerId')
      .whereRef('providerSpecialty.providerId', '=', 'provider.id').where('providerSpecialty.specialtyId', '=', specialtyId)))
  }
  return q.orderBy('provider.id').limit(50).execute()
}

export async function searchSlots(ctx: RequestContext, query: SlotQuery) {
  const from = new Date(query.from)
  const to = new Date(query.to)
  if (to <= from || to.getTime() - from.getTime() > MAX_WINDOW_DAYS * 86_400_000) {
    throw new BadRequestError('The search window is not valid', [{ pointer: 'to', detail: `must be after from and at most ${MAX_WINDOW_DAYS} days later` }])
  }
  const facility = await scopedFacility(ctx, query.facilityId)
  const type = await typeFor(ctx, query.appointmentTypeId, facility.organizationId)
  const providers = await providersFor(ctx, facility.id, query.providerId, query.specialtyId ?? (query.providerId ? undefined : type.specialtyId))
  const slots = await findFreeSlots(dbOf(ctx), { facility, type, providers, from, to, limit: query.limit ?? 100 })
  await auditRead(ctx, { verb: 'slot.search', resourceType: 'slot', facilityId: facility.id, detail: { returned: slots.length } })
  return slots.map((s) => toSlot(s, facility, type.id))
}

export const toSlot = (s: SlotCandidate, facility: FacilityInfo, appointmentTypeId: string) => ({
  status: 'free' as const,
  start: formatInZone(s.start, facility.timeZone),
  end: formatInZone(s.end, facility.timeZone),
  providerId: s.providerId,
  providerName: s.providerName,
  facilityId: facility.id,
  appointmentTypeId,
  resourceIds: s.resourceIds,
})

export const toWaitlistEntry = (r: WaitlistEntryRow) => ({
  id: r.id, facilityId: r.facilityId, patientId: r.patientId, appointmentTypeId: r.appointmentTypeId, providerId: r.providerId,
  specialtyId: r.specialtyId, earliestDate: isoDate(r.earliestDate), latestDate: isoDate(r.latestDate), status: r.status,
})

export async function addToWaitlist(ctx: RequestContext, body: CreateWaitlistEntryBody) {
  const facility = await scopedFacility(ctx, body.facilityId)
  if (!(await repo.findPatientAtFacility(dbOf(ctx), body.patientId, facility.id))) throw new NotFoundError('Patient')
  await typeFor(ctx, body.appointmentTypeId, facility.organizationId)
  if (body.providerId) await providerAt(ctx, body.providerId, facility.id)
  if (body.latestDate < body.earliestDate) throw new BadRequestError('The entry is not valid', [{ pointer: '/latestDate', detail: 'must not be before earliestDate' }])
  return withTransaction(ctx, async (trx) => {
    const row = await trx.insertInto('waitlistEntry').values({
      facilityId: facility.id, patientId: body.patientId, appointmentTypeId: body.appointmentTypeId, providerId: body.providerId ?? null,
      specialtyId: body.specialtyId ?? null, earliestDate: body.earliestDate, latestDate: body.latestDate, createdBy: ctx.principal.sub,
    }).returningAll().executeTakeFirstOrThrow()
    await auditChange(trx, ctx, { action: 'create', verb: 'waitlist-entry.create', resourceType: 'waitlist-entry', resourceId: row.id, patientId: row.patientId, facilityId: row.facilityId })
    return toWaitlistEntry(row)
  })
}

/** Waiting patients who could take a free slot now, with up to three such slots each. */
export async function waitlistMatches(ctx: RequestContext, facilityId: string) {
  const facility = await scopedFacility(ctx, facilityId)
  const entries = await dbOf(ctx).selectFrom('waitlistEntry').selectAll()
    .where('facilityId', '=', facility.id).where('status', '=', 'waiting').orderBy('createdAt').orderBy('id').limit(50).execute()
  const types = await dbOf(ctx).selectFrom('appointmentType').selectAll().where('id', 'in', scopeIds(entries.map((e) => e.appointmentTypeId))).execute()
  const matches = []
  for (const entry of entries) {
    const type = types.find((t) => t.id === entry.appointmentTypeId)!
    const providers = await providersFor(ctx, facility.id, entry.providerId ? [entry.providerId] : undefined, entry.specialtyId ?? type.specialtyId)
    const from = new Date(localToInstant(isoDate(entry.earliestDate), '00:00', facility.timeZone))
    const to = new Date(localToInstant(addDays(isoDate(entry.latestDate), 1), '00:00', facility.timeZone))
    if (to.getTime() <= Date.now()) continue
    const slots = await findFreeSlots(dbOf(ctx), { facility, type, providers, from, to, limit: 3 })
    if (slots.length) matches.push({ entry: toWaitlistEntry(entry), slots: slots.map((s) => toSlot(s, facility, type.id)) })
  }
  await Promise.all(matches.map((m) =>
    auditRead(ctx, { verb: 'waitlist-entry.match', resourceType: 'waitlist-entry', resourceId: m.entry.id, patientId: m.entry.patientId, facilityId: facility.id })))
  return matches
}
