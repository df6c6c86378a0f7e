import type { Kysely } from 'kysely'
import type { Database } from '../../db/database.ts'
import { findSlotSearch, type SlotSearchLookup, type SlotSearchQuery } from './scheduling.repository.ts'

export const slotSearchCacheLimits = {
  /**
   * What is kept per database handle, in busy-time bounds (8 bytes each; a busy four weeks of one
   * provider is about 1,300, a specialty's fifty providers 60,000): about 32 MB. The least
   * recently used lookups go first.
   */
  maxBounds: 4_000_000,
  /**
   * Longest a lookup is kept, however current: the schedule change log keeps an hour of rows
   * (migration 20261128T200000Z), so a snapshot this old is still checked against every change
   * since it.
   */
  maxAgeMs: 10 * 60_000,
}

interface Entry {
  /** The snapshot the lookup was read under (pg_snapshot as text). */
  snapshot: string
  lookup: SlotSearchLookup
  /** Epoch ms after which it is read afresh: its age limit, or the first of its live holds to expire. */
  until: number
  /** Its busy-time bounds, and one per row it names besides: its share of maxBounds. */
  weight: number
}

interface Kept {
  entries: Map<string, Entry>
  weight: number
}

const caches = new WeakMap<Kysely<Database>, Kept>()

const weightOf = (l: SlotSearchLookup) => {
  let w = l.providers.length + l.resources.length + l.rules.length + l.exceptions.length + 2
  for (const spans of l.busy.values()) w += spans.length
  return w
}

/**
 * What a slot search reads (findSlotSearch), kept between searches. The same search (a booking
 * widget's four weeks of a popular physician's calendar, asked for by every patient looking) reads
 * the same reservations, rules and reference rows again and again; decoding them was most of the
 * search's cost, and reading them most of the database's. Each search still asks the database,
 * in one statement of the same round trip, whether any transaction that changed these schedules
 * (their reservations, or anything else a search reads: schedule_change) has committed since the
 * snapshot the kept lookup was read under, and reads the lookup afresh when one has: answers are
 * as current as without the cache, on every node. A hold expiring is not a change anyone commits:
 * a lookup with live holds is kept only until the first of them expires.
 *
 * Inside a transaction it reads afresh and keeps nothing: a lookup read there could hold the
 * transaction's uncommitted changes.
 */
export async function readSlotSearch(db: Kysely<Database>, q: SlotSearchQuery): Promise<SlotSearchLookup> {
  if (db.isTransaction) return (await findSlotSearch(db, q)).lookup!
  let kept = caches.get(db)
  if (!kept) caches.set(db, (kept = { entries: new Map(), weight: 0 }))
  const { entries } = kept
  const key = JSON.stringify([q.facilityId, q.scope ?? null, q.appointmentTypeId, q.providerIds ?? null, q.specialtyId ?? null, q.from.getTime(), q.to.getTime(), q.expandFrom.getTime()])
  const now = Date.now()
  const before = entries.get(key)
  const read = await findSlotSearch(db, q, before && before.until > now ? before.snapshot : undefined)
  const entry = read.lookup
    ? { snapshot: read.snapshot, lookup: read.lookup, until: Math.min(now + slotSearchCacheLimits.maxAgeMs, read.holdsExpireAt ?? Infinity), weight: weightOf(read.lookup) }
    : before!
  // Searches of the same key run at once: the entry read last is kept (the most recently used, at
  // the end of the map's order), unless another search replaced it meanwhile with a newer one.
  const current = entries.get(key)
  if (current === before || current === undefined || entry !== before) {
    if (current) kept.weight -= current.weight
    entries.delete(key)
    if (entry.weight <= slotSearchCacheLimits.maxBounds) {
      entries.set(key, entry)
      kept.weight += entry.weight
    }
    for (const [oldest, e] of entries) {
      if (kept.weight <= slotSearchCacheLimits.maxBounds) break
      entries.delete(oldest)
      kept.weight -= e.weight
    }
  }
  return entry.lookup
}

/** How many lookups are kept for the handle, and their weight in bounds (tests). */
export function keptSlotSearches(db: Kysely<Database>) {
  const kept = caches.get(db)
  return { lookups: kept?.entries.size ?? 0, bounds: kept?.weight ?? 0 }
}
