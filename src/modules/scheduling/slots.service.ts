import { sql, type Kysely } from 'kysely'
import type { AppointmentTypeRow, Database, ResourceRow, WaitlistEntryRow } from '../../db/database.ts'
import { scopeIds } from '../../db/query-helpers.ts'
import { auditChange, auditRead, withTransaction, type RequestContext } from '../../http/context.ts'
import { facilityScope } from '../../http/auth.ts'
import { BadRequestError, NotFoundError } from '../../http/errors.ts'
import { encodeCursor, toPage } from '../../http/pagination.ts'
import { addDays, isoDate } from '../../lib/dates.ts'
import { guardPatientReads } from '../patients/patient-guard.ts'
import { expandAvailability, formatInZone, localDate, localToInstant, type Interval } from './availability.ts'
import { checkSpecialties, dbOf, providerAt, scopedFacility } from './reference.service.ts'
import { findPatientCore } from '../patients/patient.repository.ts'
import * as repo from './scheduling.repository.ts'
import { readSlotSearch } from './slot-search-cache.ts'
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
  return intervalsOf(facility, providerIds, from, to, rules, exceptions)
}

/**
 * availableIntervals from rules and exceptions already read (the facility's rules of these
 * providers, their exceptions overlapping at least [from, to)).
 */
export function intervalsOf(
  facility: FacilityInfo, providerIds: string[], from: Date, to: Date, rules: repo.TargetLookup['rules'], exceptions: repo.TargetLookup['exceptions'],
) {
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

/**
 * Busy time from flat [start, end, start, end, ...] epoch milliseconds as sorted, disjoint
 * [start, end) spans: overlap tests by binary search. The database sends each owner's spans in
 * start order; they are sorted here only when they are not.
 */
export function spanIndex(flat: number[] = []) {
  const n = flat.length >> 1
  let order: number[] | null = null
  for (let i = 1; i < n && !order; i++) {
    if (flat[2 * i] < flat[2 * i - 2]) order = Array.from({ length: n }, (_, k) => k).sort((a, b) => flat[2 * a] - flat[2 * b])
  }
  const starts = new Array<number>(n)
  const ends = new Array<number>(n)
  let count = 0
  for (let k = 0; k < n; k++) {
    const i = order ? order[k] : k
    const s = flat[2 * i]
    const e = flat[2 * i + 1]
    if (count > 0 && s <= ends[count - 1]) ends[count - 1] = Math.max(ends[count - 1], e)
    else {
      starts[count] = s
      ends[count] = e
      count++
    }
  }
  return (start: number, end: number) => {
    let lo = 0
    let hi = count
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (starts[mid] < end) lo = mid + 1
      else hi = mid
    }
    return lo > 0 && ends[lo - 1] > start
  }
}

/** What a free-slot search is over; `after` is a page cursor: only slots after that one in the result order. */
interface SlotSearch {
  facility: FacilityInfo; type: AppointmentTypeRow; providers: { id: string; displayName: string }[]; from: Date; to: Date; limit: number; after?: SlotKey
}

/**
 * Where a search can find free slots: from after the minimum notice to its end, the busy time to
 * read (buffers included), and the day before its start from which availability is expanded, so
 * slots keep the grid of their interval's start. Null when it can find none.
 */
function searchWindow(s: SlotSearch) {
  const { type } = s
  const before = type.bufferBeforeMinutes * MINUTE
  const after = type.bufferAfterMinutes * MINUTE
  const from = Math.max(s.from.getTime(), Date.now() + type.minimumNoticeMinutes * MINUTE)
  if (from >= s.to.getTime() || s.providers.length === 0) return null
  return { from, before, after, busyFrom: new Date(from - before), busyTo: new Date(s.to.getTime() + after), expandFrom: new Date(s.from.getTime() - 86_400_000) }
}

/** The resources of each kind the type needs; null when a kind has none. */
function byKindOf(type: AppointmentTypeRow, resources: Pick<ResourceRow, 'id' | 'kind'>[]) {
  const byKind = new Map(type.resourceKinds.map((k) => [k, resources.filter((r) => r.kind === k)]))
  return [...byKind.values()].some((list) => list.length === 0) ? null : byKind
}

/**
 * Free slots: availability minus blocks, stepped by the type's duration, keeping those whose
 * buffered span is clear for the provider and for one resource of each kind the type needs,
 * and that start after the minimum notice.
 */
export async function findFreeSlots(db: Kysely<Database>, s: SlotSearch): Promise<SlotCandidate[]> {
  const w = searchWindow(s)
  if (!w) return []
  const byKind = byKindOf(s.type, s.type.resourceKinds.length ? await repo.listResources(db, s.facility.id) : [])
  if (!byKind) return []
  const providerIds = s.providers.map((p) => p.id)
  const [intervals, busy] = await Promise.all([
    availableIntervals(db, s.facility, providerIds, w.expandFrom, s.to),
    repo.busySpans(db, providerIds, [...byKind.values()].flat().map((r) => r.id), w.busyFrom, w.busyTo),
  ])
  return slotsOf(s, w, byKind, intervals, busy)
}

/** The free slots of a search from its availability intervals and busy time. */
function slotsOf(
  s: SlotSearch, w: NonNullable<ReturnType<typeof searchWindow>>, byKind: Map<string, { id: string }[]>, intervals: Map<string, Interval[]>, busy: Map<string, number[]>,
): SlotCandidate[] {
  const duration = s.type.durationMinutes * MINUTE
  const out: SlotCandidate[] = []
  const resourceBusy = new Map([...byKind.values()].flat().map((r) => [r.id, spanIndex(busy.get(r.id))]))
  for (const provider of s.providers) {
    const providerBusy = spanIndex(busy.get(provider.id))
    for (const interval of intervals.get(provider.id) ?? []) {
      for (let start = interval.start; start + duration <= interval.end; start += duration) {
        if (start < w.from) continue
        const spanStart = start - w.before
        const spanEnd = start + duration + w.after
        if (providerBusy(spanStart, spanEnd)) continue
        const rooms = pickResources(byKind, interval.resourceId, resourceBusy, spanStart, spanEnd)
        if (!rooms) continue
        out.push({ providerId: provider.id, providerName: provider.displayName, start, end: start + duration, resourceIds: rooms })
      }
    }
  }
  const sorted = out.sort(compareSlots)
  const rest = s.after ? sorted.filter((c) => compareSlots(c, keyToSlot(s.after!)) > 0) : sorted
  return rest.slice(0, s.limit)
}

/** A slot's place in the result order: start, then provider name, then provider id. */
export type SlotKey = [number, string, string]
export const slotKey = (c: SlotCandidate): SlotKey => [c.start, c.providerName, c.providerId]
const keyToSlot = (k: SlotKey) => ({ start: Number(k[0]), providerName: String(k[1]), providerId: String(k[2]) })
function compareSlots(a: Pick<SlotCandidate, 'start' | 'providerName' | 'providerId'>, b: Pick<SlotCandidate, 'start' | 'providerName' | 'providerId'>) {
  return a.start - b.start || (a.providerName < b.providerName ? -1 : a.providerName > b.providerName ? 1 : 0) || (a.providerId < b.providerId ? -1 : a.providerId > b.providerId ? 1 : 0)
}

/** One free resource of each kind, the availability's own room first; null when a kind has none free. */
export function pickResources(
  byKind: Map<string, { id: string }[]>, preferred: string | null, busy: Map<string, (start: number, end: number) => boolean>, start: number, end: number,
): string[] | null {
  const picked: string[] = []
  for (const candidates of byKind.values()) {
    const free = candidates.find((r) => r.id === preferred && !busy.get(r.id)?.(start, end)) ?? candidates.find((r) => !busy.get(r.id)?.(start, end))
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

/** Up to 50 providers at the facility, of the specialty when one is given: those a waitlist entry without a provider may take. */
const providersFor = (ctx: RequestContext, facilityId: string, specialtyId: string | null) =>
  repo.providersOfSpecialtyAt(dbOf(ctx), facilityId, specialtyId).execute()

/**
 * The free slots of a query. What it names and its busy time are read in one statement; the
 * errors come in the order separate lookups gave them: facility, appointment type, provider.
 */
export async function searchSlots(ctx: RequestContext, query: SlotQuery, cursor: (string | number)[] | undefined) {
  const from = new Date(query.from)
  const to = new Date(query.to)
  if (to <= from || to.getTime() - from.getTime() > MAX_WINDOW_DAYS * 86_400_000) {
    throw new BadRequestError('The search window is not valid', [{ pointer: 'to', detail: `must be after from and at most ${MAX_WINDOW_DAYS} days later` }])
  }
  const q: repo.SlotSearchQuery = {
    facilityId: query.facilityId, scope: facilityScope(ctx.principal), appointmentTypeId: query.appointmentTypeId,
    providerIds: query.providerId, specialtyId: query.specialtyId, from, to, expandFrom: new Date(from.getTime() - 86_400_000),
  }
  const found = await readSlotSearch(dbOf(ctx), q)
  const { facilityId, page } = slotPage(found, query, from, to, cursor)
  // The audit event is written with others a while later (group commit); only the page waits for
  // it. What the search worked with (the reservations, every candidate) is gone by then: held that
  // long, it was most of what the young generation's collector copied and promoted under load
  // (3-4 MB a scavenge at 50 connections; 1.2 MB now).
  await auditRead(ctx, { verb: 'slot.search', resourceType: 'slot', facilityId, detail: { returned: page.items.length } })
  return page
}

/** The page of free slots of what a search found; the errors in the order separate lookups gave them. */
function slotPage(found: repo.SlotSearchLookup, query: SlotQuery, from: Date, to: Date, cursor: (string | number)[] | undefined) {
  const { facility, type } = found
  if (!facility) throw new NotFoundError('Facility')
  if (!type) throw new NotFoundError('Appointment type')
  const providers = query.providerId?.map((id) => found.providers.find((p) => p.id === id)) ?? found.providers
  if (providers.some((p) => !p)) throw new NotFoundError('Provider')
  const limit = query.limit ?? 100
  const s: SlotSearch = { facility, type, providers: providers as SlotSearch['providers'], from, to, limit: limit + 1, after: cursor as SlotKey | undefined }
  const w = searchWindow(s)
  const byKind = w && byKindOf(type, found.resources)
  let slots: SlotCandidate[] = []
  if (w && byKind) {
    const providerIds = s.providers.map((p) => p.id)
    const intervals = intervalsOf(facility, providerIds, w.expandFrom, to, found.rules, found.exceptions)
    slots = slotsOf(s, w, byKind, intervals, found.busy)
  }
  return { facilityId: facility.id, page: toPage(slots, limit, slotKey, (c) => toSlot(c, facility, type.id)) }
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

export type Slot = ReturnType<typeof toSlot>

// The "start" and "end" of slots already written, by their text: the same half hours of the same
// days come back search after search (as formatInZone's).
const slotTimes = new Map<string, Map<string, string>>()

function slotTimeJson(start: string, end: string): string {
  let ends = slotTimes.get(start)
  if (!ends) {
    if (slotTimes.size >= 50_000) slotTimes.clear()
    slotTimes.set(start, (ends = new Map()))
  }
  let text = ends.get(end)
  if (text === undefined) ends.set(end, (text = `"start":${JSON.stringify(start)},"end":${JSON.stringify(end)},`))
  return text
}

const sameSlotContext = (a: Slot, b: Slot) =>
  a.status === b.status && a.providerId === b.providerId && a.providerName === b.providerName && a.facilityId === b.facilityId
  && a.appointmentTypeId === b.appointmentTypeId && a.resourceIds.length === b.resourceIds.length && a.resourceIds.every((id, i) => id === b.resourceIds[i])

/**
 * A page of slots as JSON: the text JSON.stringify writes for it (toSlot's fields in order), in
 * one piece. Built by JSON.stringify, a four-week page (280 slots, 85 KB) came out as a rope of
 * small strings that Node then copied whole to measure and send it, 0.14 ms of CPU per search;
 * here each slot is its time (kept between searches) between the fields it shares with the slot
 * before (provider, facility, type, resources, usually all of a page's), joined once.
 */
export function slotPageJson(page: { items: Slot[]; next: string | null }): string {
  const { items } = page
  const parts = new Array<string>(items.length)
  let head = ''
  let tail = ''
  for (let i = 0; i < items.length; i++) {
    const slot = items[i]
    if (i === 0 || !sameSlotContext(slot, items[i - 1])) {
      head = `{"status":${JSON.stringify(slot.status)},`
      tail = `"providerId":${JSON.stringify(slot.providerId)},"providerName":${JSON.stringify(slot.providerName)},"facilityId":${JSON.stringify(slot.facilityId)},`
        + `"appointmentTypeId":${JSON.stringify(slot.appointmentTypeId)},"resourceIds":${JSON.stringify(slot.resourceIds)}}`
    }
    parts[i] = head + slotTimeJson(slot.start, slot.end) + tail
  }
  const end = `],"next":${JSON.stringify(page.next)}}`
  if (parts.length === 0) return `{"items":[${end}`
  parts[0] = `{"items":[${parts[0]}`
  parts[parts.length - 1] += end
  return parts.join(',')
}

export const toWaitlistEntry = (r: WaitlistEntryRow) => ({
  id: r.id, facilityId: r.facilityId, patientId: r.patientId, appointmentTypeId: r.appointmentTypeId, providerId: r.providerId,
  specialtyId: r.specialtyId, earliestDate: isoDate(r.earliestDate), latestDate: isoDate(r.latestDate), status: r.status,
})

export async function addToWaitlist(ctx: RequestContext, body: CreateWaitlistEntryBody) {
  const facility = await scopedFacility(ctx, body.facilityId)
  if (!(await findPatientCore(dbOf(ctx), body.patientId, [facility.id]))) throw new NotFoundError('Patient')
  await typeFor(ctx, body.appointmentTypeId, facility.organizationId)
  if (body.providerId) await providerAt(ctx, body.providerId, facility.id)
  if (body.specialtyId) await checkSpecialties(dbOf(ctx), [body.specialtyId])
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

/** Waiting entries looked at for one page of matches, at most: each costs a slot search. */
const WAITLIST_SCAN = 100

/**
 * The one waitlist matching: waiting patients, first come first, who could take time that is
 * free now, with up to three such slots each. `within` narrows it to time just freed (a cancel):
 * that provider, that span, and entries whose days include it.
 */
export async function findWaitlistMatches(
  ctx: RequestContext,
  facility: FacilityInfo,
  o: { within?: { providerId: string; from: Date; to: Date }; cursor?: (string | number)[]; limit: number },
) {
  const db = dbOf(ctx)
  let q = db.selectFrom('waitlistEntry').innerJoin('appointmentType', 'appointmentType.id', 'waitlistEntry.appointmentTypeId')
    .selectAll('waitlistEntry').select(repo.cursorInstant('waitlistEntry.createdAt').as('cursorAt'))
    .where('waitlistEntry.facilityId', '=', facility.id).where('waitlistEntry.status', '=', 'waiting').where('appointmentType.active', '=', true)
    .orderBy('waitlistEntry.createdAt').orderBy('waitlistEntry.id').limit(WAITLIST_SCAN)
  const within = o.within
  if (within) {
    q = q.where((eb) => eb.or([eb('waitlistEntry.providerId', 'is', null), eb('waitlistEntry.providerId', '=', within.providerId)]))
      .where('waitlistEntry.earliestDate', '<=', localDate(within.to.getTime() - 1, facility.timeZone))
      .where('waitlistEntry.latestDate', '>=', localDate(within.from.getTime(), facility.timeZone))
  }
  if (o.cursor) {
    q = q.where(sql<boolean>`(waitlist_entry.created_at, waitlist_entry.id) > (${String(o.cursor[0])}::timestamptz, ${String(o.cursor[1])}::uuid)`)
  }
  const entries = await q.execute()
  const types = await db.selectFrom('appointmentType').selectAll().where('id', 'in', scopeIds([...new Set(entries.map((e) => e.appointmentTypeId))])).execute()
  const items = []
  let next: string | null = null
  for (const [i, entry] of entries.entries()) {
    if (items.length === o.limit) {
      next = encodeCursor([entries[i - 1].cursorAt, entries[i - 1].id])
      break
    }
    if (i === entries.length - 1 && entries.length === WAITLIST_SCAN) next = encodeCursor([entry.cursorAt, entry.id])
    const type = types.find((t) => t.id === entry.appointmentTypeId)!
    let providers: { id: string; displayName: string }[]
    if (entry.providerId) {
      // A provider since retired or moved elsewhere matches nothing, rather than failing the list.
      const wanted = await repo.findProviderAtFacility(db, entry.providerId, facility.id)
      providers = wanted ? [wanted] : []
    } else {
      providers = await providersFor(ctx, facility.id, entry.specialtyId ?? type.specialtyId)
    }
    if (within) providers = providers.filter((p) => p.id === within.providerId)
    let from = localToInstant(isoDate(entry.earliestDate), '00:00', facility.timeZone)
    let to = localToInstant(addDays(isoDate(entry.latestDate), 1), '00:00', facility.timeZone)
    if (within) {
      from = Math.max(from, within.from.getTime())
      to = Math.min(to, within.to.getTime())
    }
    if (providers.length === 0 || to <= Date.now() || to <= from) continue
    const slots = await findFreeSlots(db, { facility, type, providers, from: new Date(from), to: new Date(to), limit: 3 })
    if (slots.length) items.push({ entry: toWaitlistEntry(entry), slots: slots.map((s) => toSlot(s, facility, type.id)) })
  }
  // Naming a waiting patient is a read of their data: audited, and withheld when the record is restricted.
  const withheld = await guardPatientReads(ctx, items.map((m) => ({
    verb: 'waitlist-entry.match', resourceType: 'waitlist-entry', resourceId: m.entry.id, patientId: m.entry.patientId, facilityId: facility.id,
  })), db)
  return { items: items.filter((m) => !withheld.has(m.entry.patientId)), next }
}

export async function waitlistMatches(ctx: RequestContext, facilityId: string, cursor: (string | number)[] | undefined, limit: number) {
  const facility = await scopedFacility(ctx, facilityId)
  return findWaitlistMatches(ctx, facility, { cursor, limit })
}
