import t from 'tap'
import { expandAvailability, formatInZone, localToInstant, type WeeklyRule } from '../../../src/modules/scheduling/availability.ts'

const H = 3_600_000
const iso = (ms: number) => new Date(ms).toISOString()
const rule = (weekday: number, startTime: string, endTime: string, o: Partial<WeeklyRule> = {}): WeeklyRule => ({
  weekday, startTime, endTime, effectiveFrom: '2026-01-01', effectiveTo: null, resourceId: null, ...o,
})
const day = (zone: string, date: string, rules: WeeklyRule[], extra: Partial<Parameters<typeof expandAvailability>[0]> = {}) =>
  expandAvailability({
    zone, rules, extras: [], blocks: [],
    from: localToInstant(date, '00:00', zone), to: localToInstant(date, '23:59', zone), ...extra,
  })

t.test('local wall-clock times become the right instants on both DST transitions, in two zones', async (t) => {
  // New York: clocks go forward 2026-03-08 02:00 EST, back 2026-11-01 02:00 EDT.
  t.equal(iso(localToInstant('2026-03-07', '09:00', 'America/New_York')), '2026-03-07T14:00:00.000Z', 'EST the day before')
  t.equal(iso(localToInstant('2026-03-08', '09:00', 'America/New_York')), '2026-03-08T13:00:00.000Z', 'EDT the same day')
  t.equal(iso(localToInstant('2026-03-08', '02:30', 'America/New_York')), '2026-03-08T07:30:00.000Z', 'a time in the gap moves forward (03:30 EDT)')
  t.equal(iso(localToInstant('2026-11-01', '01:30', 'America/New_York')), '2026-11-01T05:30:00.000Z', 'a repeated time resolves to the earlier (EDT)')
  t.equal(iso(localToInstant('2026-11-01', '09:00', 'America/New_York')), '2026-11-01T14:00:00.000Z', 'EST after falling back')
  // Berlin: forward 2026-03-29 02:00 CET, back 2026-10-25 03:00 CEST.
  t.equal(iso(localToInstant('2026-03-29', '09:00', 'Europe/Berlin')), '2026-03-29T07:00:00.000Z')
  t.equal(iso(localToInstant('2026-03-28', '09:00', 'Europe/Berlin')), '2026-03-28T08:00:00.000Z')
  t.equal(iso(localToInstant('2026-03-29', '02:30', 'Europe/Berlin')), '2026-03-29T01:30:00.000Z', 'gap: 03:30 CEST')
  t.equal(iso(localToInstant('2026-10-25', '02:30', 'Europe/Berlin')), '2026-10-25T00:30:00.000Z', 'repeated: the CEST one')
  t.equal(iso(localToInstant('2026-10-25', '09:00', 'Europe/Berlin')), '2026-10-25T08:00:00.000Z')
})

t.test('offsets in responses follow the zone at that instant', async (t) => {
  t.equal(formatInZone(Date.parse('2026-03-08T13:00:00Z'), 'America/New_York'), '2026-03-08T09:00:00-04:00')
  t.equal(formatInZone(Date.parse('2026-03-07T14:00:00Z'), 'America/New_York'), '2026-03-07T09:00:00-05:00')
  t.equal(formatInZone(Date.parse('2026-10-25T08:00:00Z'), 'Europe/Berlin'), '2026-10-25T09:00:00+01:00')
  t.equal(formatInZone(Date.parse('2026-03-29T07:00:00Z'), 'Europe/Berlin'), '2026-03-29T09:00:00+02:00')
  t.equal(formatInZone(Date.parse('2026-06-01T12:00:00Z'), 'Asia/Kolkata'), '2026-06-01T17:30:00+05:30')
})

t.test('a Sunday night rule spanning the change is an hour shorter in spring and longer in autumn', async (t) => {
  const sunday = [rule(7, '01:00', '04:00'), rule(7, '09:00', '17:00')]
  for (const [zone, spring, autumn] of [['America/New_York', '2026-03-08', '2026-11-01'], ['Europe/Berlin', '2026-03-29', '2026-10-25']]) {
    const s = day(zone, spring, sunday)
    t.same(s.map((i) => (i.end - i.start) / H), [2, 8], `${zone} spring forward`)
    const a = day(zone, autumn, sunday)
    t.same(a.map((i) => (i.end - i.start) / H), [4, 8], `${zone} fall back`)
    t.equal(formatInZone(s[1].start, zone).slice(11, 16), '09:00', `${zone} 09:00 local stays 09:00 local in spring`)
    t.equal(formatInZone(a[1].start, zone).slice(11, 16), '09:00', `${zone} 09:00 local stays 09:00 local in autumn`)
  }
  const ny = day('America/New_York', '2026-11-01', sunday)
  t.equal(iso(ny[0].start), '2026-11-01T05:00:00.000Z')
  t.equal(iso(ny[0].end), '2026-11-01T09:00:00.000Z')
})

t.test('a week of weekday rules keeps local hours across the change', async (t) => {
  const zone = 'America/New_York'
  const week = expandAvailability({
    zone, extras: [], blocks: [],
    rules: [1, 2, 3, 4, 5].map((d) => rule(d, '09:00', '12:00')),
    from: Date.parse('2026-03-05T00:00:00Z'), to: Date.parse('2026-03-12T00:00:00Z'),
  })
  t.same(week.map((i) => formatInZone(i.start, zone)), [
    '2026-03-05T09:00:00-05:00', '2026-03-06T09:00:00-05:00', '2026-03-09T09:00:00-04:00', '2026-03-10T09:00:00-04:00', '2026-03-11T09:00:00-04:00',
  ])
})

t.test('effective dates, one-off extra availability and blocks', async (t) => {
  const zone = 'Europe/Berlin'
  const rules = [rule(2, '09:00', '17:00', { effectiveFrom: '2026-12-08', effectiveTo: '2026-12-15', resourceId: 'room-1' })]
  const from = Date.parse('2026-12-01T00:00:00Z')
  const to = Date.parse('2026-12-31T00:00:00Z')
  const tuesdays = expandAvailability({ zone, rules, extras: [], blocks: [], from, to })
  t.same(tuesdays.map((i) => formatInZone(i.start, zone)), ['2026-12-08T09:00:00+01:00', '2026-12-15T09:00:00+01:00'], 'only inside the effective dates')
  t.equal(tuesdays[0].resourceId, 'room-1')

  const extraStart = Date.parse('2026-12-19T09:00:00+01:00')
  const blocked = expandAvailability({
    zone, rules, from, to,
    extras: [{ start: extraStart, end: extraStart + 2 * H, resourceId: null }],
    blocks: [{ start: Date.parse('2026-12-08T12:00:00+01:00'), end: Date.parse('2026-12-08T13:00:00+01:00') }, { start: Date.parse('2026-12-15T00:00:00+01:00'), end: Date.parse('2026-12-16T00:00:00+01:00') }],
  })
  t.same(blocked.map((i) => [formatInZone(i.start, zone), formatInZone(i.end, zone)]), [
    ['2026-12-08T09:00:00+01:00', '2026-12-08T12:00:00+01:00'],
    ['2026-12-08T13:00:00+01:00', '2026-12-08T17:00:00+01:00'],
    ['2026-12-19T09:00:00+01:00', '2026-12-19T11:00:00+01:00'],
  ], 'a meeting splits a day, leave removes one, an extra Saturday morning is added')
})
