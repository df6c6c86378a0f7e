import { randomUUID } from 'node:crypto'
import type pg from 'pg'
import { DEMO, DEMO_PATIENTS } from '../../src/cli/seed-data.ts'
import { slotSearchStatement } from '../../src/modules/scheduling/scheduling.repository.ts'
import { defineScenario, type BenchContext } from '../lib/scenario.ts'

/**
 * Scheduling load: 1,000 bench providers at the demo hospital with 1,000 appointments each
 * (1M appointments, 1M provider reservations), loaded once set-based; the bench database persists.
 */
const PROVIDERS = 1000
const PER_PROVIDER = 1000
const BOOKING_PROVIDERS = 200
const LOADED_BY = 'bench-load'
const RAW_BY = 'bench-raw'
// Loaded appointments: one 30-minute appointment every hour from here, round the clock.
const LOAD_BASE = '2027-01-04T00:00:00Z'
// HTTP bookings and raw inserts go to separate, empty years.
const BOOKING_BASE = Date.parse('2030-01-07T13:00:00Z')
const RAW_BASE = Date.parse('2035-01-01T00:00:00Z')

const providerId = (i: number) => `5e0c3d8a-9999-4a6b-9c1d-${String(i).padStart(12, '0')}`
const TYPE_ID = '5e0c3d8a-9999-4a6b-9c1d-aaaaaaaaaaaa'

interface State {
  token: string
  typeId: string
  patientId: string
  providerId: string
}

async function loadOnce(pool: pg.Pool) {
  await pool.query(
    `insert into appointment_type (id, organization_id, code, name, duration_minutes, resource_kinds)
     values ($1, $2, 'bench-visit', 'Bench visit', 30, '{}') on conflict do nothing`,
    [TYPE_ID, DEMO.organizationId],
  )
  const { rows } = await pool.query<{ n: string }>(`select count(*) as n from appointment where created_by = $1`, [LOADED_BY])
  if (Number(rows[0].n) >= PROVIDERS * PER_PROVIDER) return
  await pool.query(`delete from appointment where created_by = $1`, [LOADED_BY])
  await pool.query(
    `insert into provider (id, organization_id, npi, display_name)
     select ('5e0c3d8a-9999-4a6b-9c1d-' || lpad(i::text, 12, '0'))::uuid, $1, lpad((9000000000 + i)::text, 10, '0'), 'Bench provider ' || i
       from generate_series(1, $2::int) i on conflict do nothing`,
    [DEMO.organizationId, PROVIDERS],
  )
  await pool.query(
    `insert into provider_facility (provider_id, facility_id)
     select ('5e0c3d8a-9999-4a6b-9c1d-' || lpad(i::text, 12, '0'))::uuid, $1 from generate_series(1, $2::int) i on conflict do nothing`,
    [DEMO.hospitalId, PROVIDERS],
  )
  // Every bench provider is available every day, 08:00-18:00 hospital time (New York).
  await pool.query(
    `insert into availability_rule (provider_id, facility_id, weekday, start_time, end_time, effective_from)
     select ('5e0c3d8a-9999-4a6b-9c1d-' || lpad(i::text, 12, '0'))::uuid, $1, d, '08:00', '18:00', '2026-01-01'
       from generate_series(1, $2::int) i, generate_series(1, 7) d
      where not exists (select 1 from availability_rule r where r.provider_id = ('5e0c3d8a-9999-4a6b-9c1d-' || lpad(i::text, 12, '0'))::uuid)`,
    [DEMO.hospitalId, PROVIDERS],
  )
  for (let first = 1; first <= PROVIDERS; first += 100) {
    await pool.query(
      `with rows as (
         insert into appointment (facility_id, patient_id, provider_id, appointment_type_id, start_at, end_at, created_by)
         select $1, $2, ('5e0c3d8a-9999-4a6b-9c1d-' || lpad(i::text, 12, '0'))::uuid, $3,
                $4::timestamptz + j * interval '1 hour', $4::timestamptz + j * interval '1 hour' + interval '30 minutes', $5
           from generate_series($6::int, $7::int) i, generate_series(0, $8::int - 1) j
         returning id, provider_id, start_at, end_at)
       insert into reservation (provider_id, period, appointment_id)
       select provider_id, tstzrange(start_at, end_at, '[)'), id from rows`,
      [DEMO.hospitalId, DEMO_PATIENTS[0].id, TYPE_ID, LOAD_BASE, LOADED_BY, first, Math.min(first + 99, PROVIDERS), PER_PROVIDER],
    )
  }
  await pool.query('analyze appointment')
  await pool.query('analyze reservation')
}

async function setup(ctx: BenchContext): Promise<State> {
  await loadOnce(ctx.pool)
  // Earlier runs' bookings (HTTP and raw, all in 2030 and later) would occupy this run's times.
  await ctx.pool.query(`delete from appointment where start_at >= $1 and appointment_type_id = $2`, [new Date(BOOKING_BASE - 86_400_000), TYPE_ID])
  return {
    token: await ctx.token(['scheduler'], [DEMO.hospitalId]),
    typeId: TYPE_ID,
    patientId: DEMO_PATIENTS[1].id,
    providerId: providerId(500),
  }
}

const windowFrom = LOAD_BASE
const windowTo = new Date(Date.parse(LOAD_BASE) + 28 * 86_400_000).toISOString()

/** The statement the API sends for the scenario's query when it has no lookup kept (findSlotSearch): text and values, built once. */
let slotSearchSelectOnce: { text: string; values: unknown[] } | undefined
const slotSearchSelect = (s: State) => (slotSearchSelectOnce ??= slotSearchStatement({
  facilityId: DEMO.hospitalId, scope: [DEMO.hospitalId], appointmentTypeId: s.typeId, providerIds: [s.providerId],
  from: new Date(windowFrom), to: new Date(windowTo), expandFrom: new Date(Date.parse(windowFrom) - 86_400_000),
}))

/** GET /slots for one provider over four weeks, with 1M appointments in the table. */
export const slotSearch = defineScenario<State>({
  name: 'slot-search',
  description: 'GET /slots for one provider over 4 weeks as scheduler, repeated (each answered from the kept lookup after the change-log check); 1M appointments loaded (issue 4: >= 1,000 req/s, p99 <= 50 ms)',
  setup,
  request: (s) => ({
    method: 'GET',
    path: slotPath(s, windowFrom, windowTo),
    headers: { authorization: `Bearer ${s.token}` },
  }),
  raw: {
    label: 'the search\'s one SELECT read in full, as without a kept lookup (what it names, rules, exceptions, busy time of the window; prepared) + single-row INSERT audit_event',
    async run(pool, s) {
      await pool.query({ name: 'slot-search', ...slotSearchSelect(s) })
      await pool.query(
        `insert into audit_event (request_id, actor_sub, actor_roles, facility_id, action, verb, resource_type, outcome, purpose_of_use, client_ip, user_agent)
         values ($1, 'bench-raw', '{scheduler}', $2, 'read', 'slot.search', 'slot', 'success', 'HOPERAT', '127.0.0.1', 'bench-raw')`,
        [randomUUID(), DEMO.hospitalId],
      )
    },
  },
  targets: { minReqPerSec: 1000, maxP99Ms: 50 },
})

const slotPath = (s: State, from: string, to: string) =>
  `/slots?facilityId=${DEMO.hospitalId}&appointmentTypeId=${s.typeId}&providerId=${s.providerId}&from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}&limit=500`

/**
 * The same search with nothing kept to answer it from: request n's four weeks start n minutes
 * after the others', so every request is a search the server has not seen, read in full (and
 * fills the kept lookups, a thousand of them, as a stream of distinct searches would).
 */
export const slotSearchUncached = defineScenario<State>({
  name: 'slot-search-uncached',
  description: 'GET /slots for one provider over 4 weeks as scheduler, every request a window not searched before (read in full); 1M appointments loaded',
  setup,
  request: (s) => ({ method: 'GET', path: slotPath(s, windowFrom, windowTo), headers: { authorization: `Bearer ${s.token}` } }),
  vary: (s, n) => {
    const from = Date.parse(windowFrom) + (n % 100_000) * 60_000
    return { path: slotPath(s, new Date(from).toISOString(), new Date(from + 28 * 86_400_000).toISOString()) }
  },
  raw: slotSearch.raw,
})

/** Booking n: provider n mod 200, then the next free 30-minute slot of that provider's 08:00-18:00 day. */
function bookingStart(n: number): string {
  const slot = Math.floor(n / BOOKING_PROVIDERS)
  const day = Math.floor(slot / 20)
  return new Date(BOOKING_BASE + day * 86_400_000 + (slot % 20) * 30 * 60_000).toISOString()
}

/** POST /appointments with unique times across 200 providers: booking throughput against raw INSERTs. */
export const booking = defineScenario<State>({
  name: 'booking',
  description: 'POST /appointments as scheduler, every request a free slot (200 providers), 1M appointments loaded (issue 4: >= 35% of raw)',
  setup,
  request: (s) => ({ method: 'POST', path: '/appointments', headers: { authorization: `Bearer ${s.token}` } }),
  vary: (s, n) => ({
    body: {
      facilityId: DEMO.hospitalId, patientId: s.patientId, providerId: providerId(1 + (n % BOOKING_PROVIDERS)), appointmentTypeId: s.typeId, start: bookingStart(n),
    },
  }),
  raw: {
    label: 'transaction: INSERT appointment + INSERT reservation (exclusion-constrained)',
    async run(pool, s, n) {
      const start = new Date(RAW_BASE + n * 30 * 60_000)
      const end = new Date(start.getTime() + 30 * 60_000)
      const client = await pool.connect()
      try {
        await client.query('begin')
        const { rows } = await client.query<{ id: string }>(
          `insert into appointment (facility_id, patient_id, provider_id, appointment_type_id, start_at, end_at, created_by)
           values ($1, $2, $3, $4, $5, $6, $7) returning id`,
          [DEMO.hospitalId, s.patientId, providerId(PROVIDERS - (n % 100)), s.typeId, start, end, RAW_BY],
        )
        await client.query(`insert into reservation (provider_id, period, appointment_id) values ($1, tstzrange($2, $3, '[)'), $4)`, [
          providerId(PROVIDERS - (n % 100)), start, end, rows[0].id,
        ])
        await client.query('commit')
      } catch (err) {
        await client.query('rollback')
        throw err
      } finally {
        client.release()
      }
    },
  },
  targets: { minRawRatio: 0.35 },
})
