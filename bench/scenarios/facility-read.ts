import { randomUUID } from 'node:crypto'
import type pg from 'pg'
import { DEMO } from '../../src/cli/seed-data.ts'
import { defineScenario, type BenchContext } from '../lib/scenario.ts'

interface State {
  facilityId: string
  token: string
}

async function setup(ctx: BenchContext): Promise<State> {
  return { facilityId: DEMO.hospitalId, token: await ctx.token(['front_desk'], [DEMO.hospitalId]) }
}

const request = (s: State) => ({
  method: 'GET' as const,
  path: `/facilities/${s.facilityId}`,
  headers: { authorization: `Bearer ${s.token}` },
})

const pointSelect = (pool: pg.Pool, s: State) => pool.query('select * from facility where id = $1', [s.facilityId])

/** The naive audit: one synchronous single-row INSERT per read, the row the app would write. */
const insertAuditRow = (pool: pg.Pool, s: State) =>
  pool.query(
    `insert into audit_event (request_id, actor_sub, actor_roles, facility_id, action, verb, resource_type,
       resource_id, outcome, purpose_of_use, client_ip, user_agent)
     values ($1, 'bench-raw', '{front_desk}', $2, 'read', 'facility.read', 'facility', $3, 'success', 'HOPERAT', '127.0.0.1', 'bench-raw')`,
    [randomUUID(), s.facilityId, s.facilityId],
  )

/** The audited read: authentication, scoped point SELECT, group-committed audit event. */
export const facilityRead = defineScenario<State>({
  name: 'facility-read',
  description: 'GET /facilities/{id} as front_desk: authenticated, facility-scoped, audited read',
  setup,
  request,
  raw: {
    label: 'point SELECT facility + single-row INSERT audit_event',
    async run(pool, s) {
      await pointSelect(pool, s)
      await insertAuditRow(pool, s)
    },
  },
  compare: { scenario: 'facility-read-audit-off', minRatio: 0.7, label: 'audited / audit off' },
})

/** The same read on a server whose read-audit writer is a no-op: the comparator only. */
export const facilityReadAuditOff = defineScenario<State>({
  name: 'facility-read-audit-off',
  description: 'the same GET /facilities/{id} with read auditing replaced by a no-op (comparator only)',
  server: 'audit-off',
  setup,
  request,
  raw: { label: 'point SELECT facility', run: pointSelect },
})
