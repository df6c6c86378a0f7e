/**
 * Local wall-clock time in an IANA zone <-> instants, and the one function that turns weekly
 * availability rules, one-off extra availability and blocks into free intervals of instants.
 * Everything daylight-saving related happens here and nowhere else.
 */
import { addDays } from '../../lib/dates.ts'

const formatters = new Map<string, Intl.DateTimeFormat>()

function formatterFor(zone: string) {
  let f = formatters.get(zone)
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
    })
    formatters.set(zone, f)
  }
  return f
}

/** Wall-clock fields of an instant in a zone, read through Intl (slow: only to learn an offset). */
function intlWallClock(ms: number, zone: string) {
  const parts: Record<string, number> = {}
  for (const p of formatterFor(zone).formatToParts(ms)) if (p.type !== 'literal') parts[p.type] = Number(p.value)
  return parts as { year: number; month: number; day: number; hour: number; minute: number; second: number }
}

// Offsets change only on quarter-hour boundaries (every zone since the 1970s), so one Intl call per
// zone and quarter hour serves every instant in it; slot searches format thousands of instants.
const QUARTER_HOUR = 900_000
const offsets = new Map<string, Map<number, number>>()

/** The zone's UTC offset at an instant, in minutes (New York in winter: -300). */
export function offsetMinutes(ms: number, zone: string): number {
  let byQuarter = offsets.get(zone)
  if (!byQuarter) offsets.set(zone, (byQuarter = new Map()))
  const quarter = Math.floor(ms / QUARTER_HOUR)
  let offset = byQuarter.get(quarter)
  if (offset === undefined) {
    if (byQuarter.size >= 100_000) byQuarter.clear()
    const w = intlWallClock(ms, zone)
    const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second)
    offset = Math.round((asUtc - Math.floor(ms / 1000) * 1000) / 60000)
    byQuarter.set(quarter, offset)
  }
  return offset
}

/** Wall-clock fields of an instant in a zone. */
function wallClock(ms: number, zone: string) {
  const d = new Date(ms + offsetMinutes(ms, zone) * 60000)
  return {
    year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(),
    hour: d.getUTCHours(), minute: d.getUTCMinutes(), second: d.getUTCSeconds(),
  }
}

/**
 * The instant at which a zone's clocks show `date` `time`. Times that occur twice (clocks going
 * back) resolve to the earlier instant; times that never occur (clocks going forward) move
 * forward by the length of the gap: 02:30 on a spring-forward night in New York is 03:30 EDT.
 * This is ECMAScript Temporal's 'compatible' disambiguation.
 */
export function localToInstant(date: string, time: string, zone: string): number {
  const key = `${zone}|${date}|${time}`
  let instant = instants.get(key)
  if (instant === undefined) {
    if (instants.size >= 100_000) instants.clear()
    instant = computeInstant(date, time, zone)
    instants.set(key, instant)
  }
  return instant
}

// Slot searches convert the same rule times on the same days over and over; a zone's rules do
// not change while the process runs.
const instants = new Map<string, number>()

function computeInstant(date: string, time: string, zone: string): number {
  const [y, mo, d] = date.split('-').map(Number)
  const [h, mi, s = 0] = time.split(':').map(Number)
  const wall = Date.UTC(y, mo - 1, d, h, mi, s)
  const before = offsetMinutes(wall - 86_400_000, zone)
  const after = offsetMinutes(wall + 86_400_000, zone)
  const candidates = [...new Set([before, after])]
    .map((o) => wall - o * 60000)
    .filter((t) => offsetMinutes(t, zone) * 60000 === wall - t)
  if (candidates.length > 0) return Math.min(...candidates)
  return wall - before * 60000
}

const pad = (n: number, w = 2) => String(Math.abs(n)).padStart(w, '0')

/** ISO 8601 with the zone's offset at that instant: `2026-03-08T09:00:00-04:00`. */
export function formatInZone(ms: number, zone: string): string {
  let byInstant = formatted.get(zone)
  if (!byInstant) formatted.set(zone, (byInstant = new Map()))
  let text = byInstant.get(ms)
  if (text === undefined) {
    if (byInstant.size >= 100_000) byInstant.clear()
    byInstant.set(ms, (text = format(ms, zone)))
  }
  return text
}

// Slot grids repeat (the same half hours of the same days, search after search): each instant is
// formatted once.
const formatted = new Map<string, Map<number, string>>()

function format(ms: number, zone: string): string {
  const off = offsetMinutes(ms, zone)
  // The wall clock is the instant shifted by the offset, printed as if it were UTC (whole seconds).
  const wall = new Date(Math.floor(ms / 1000) * 1000 + off * 60000).toISOString().slice(0, 19)
  return `${wall}${off < 0 ? '-' : '+'}${pad(Math.trunc(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`
}

/** The zone's calendar date at an instant, `YYYY-MM-DD`. */
export function localDate(ms: number, zone: string): string {
  const w = wallClock(ms, zone)
  return `${w.year}-${pad(w.month)}-${pad(w.day)}`
}

/** ISO weekday of a calendar date: Monday 1 ... Sunday 7. */
export const isoWeekday = (date: string) => ((new Date(`${date}T00:00:00Z`).getUTCDay() + 6) % 7) + 1

// A search walks the same calendar days as the searches before it: each day's successor and
// weekday are worked out (through Date) once.
const successors = new Map<string, string>()
const weekdays = new Map<string, number>()

function nextDay(date: string): string {
  let next = successors.get(date)
  if (next === undefined) {
    if (successors.size >= 100_000) successors.clear()
    successors.set(date, (next = addDays(date, 1)))
  }
  return next
}

function weekdayOf(date: string): number {
  let weekday = weekdays.get(date)
  if (weekday === undefined) {
    if (weekdays.size >= 100_000) weekdays.clear()
    weekdays.set(date, (weekday = isoWeekday(date)))
  }
  return weekday
}

export interface Interval {
  start: number
  end: number
  /** The room the availability comes with, when the rule names one. */
  resourceId: string | null
}

export interface WeeklyRule {
  weekday: number
  startTime: string
  endTime: string
  effectiveFrom: string
  effectiveTo: string | null
  resourceId: string | null
}

/**
 * Free intervals (instants, ms) of one provider at one facility within [from, to): every
 * weekly rule occurrence on the zone's calendar days, plus one-off extra availability, minus
 * blocks, clipped to the window.
 */
export function expandAvailability(input: {
  zone: string
  from: number
  to: number
  rules: WeeklyRule[]
  extras: { start: number; end: number; resourceId: string | null }[]
  blocks: { start: number; end: number }[]
}): Interval[] {
  const { zone, from, to } = input
  const intervals: Interval[] = []
  // One calendar day of margin either side: a local day can start up to 14 h from UTC midnight.
  const lastDay = addDays(localDate(to, zone), 1)
  for (let day = addDays(localDate(from, zone), -1); day <= lastDay; day = nextDay(day)) {
    const weekday = weekdayOf(day)
    for (const r of input.rules) {
      if (r.weekday !== weekday || day < r.effectiveFrom || (r.effectiveTo !== null && day > r.effectiveTo)) continue
      intervals.push({ start: localToInstant(day, r.startTime, zone), end: localToInstant(day, r.endTime, zone), resourceId: r.resourceId })
    }
  }
  for (const e of input.extras) intervals.push({ ...e })

  let free = intervals
    .map((i) => ({ ...i, start: Math.max(i.start, from), end: Math.min(i.end, to) }))
    .filter((i) => i.end > i.start)
  for (const b of input.blocks) {
    free = free.flatMap((i) => {
      if (b.end <= i.start || b.start >= i.end) return [i]
      const pieces: Interval[] = []
      if (b.start > i.start) pieces.push({ ...i, end: b.start })
      if (b.end < i.end) pieces.push({ ...i, start: b.end })
      return pieces
    })
  }
  return free.sort((a, b) => a.start - b.start || a.end - b.end)
}
