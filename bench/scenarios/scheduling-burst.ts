/**
 * Burst booking: rounds of 50 concurrent POST /appointments for one slot, then for overlapping
 * shifted times, over real HTTP against the app on PostgreSQL. Prints winners per round, the
 * status codes and latency percentiles of the requests, each burst's wall time, and the CPU the
 * server and Postgres spent per request.
 *
 *   npx tsx bench/scenarios/scheduling-burst.ts            # 40 + 20 rounds, warm then cold connections
 *   BURST_ROUNDS=10 BURST_WARMUP=20 BURST_CONNECTIONS=warm npx tsx bench/scenarios/scheduling-burst.ts
 *   BENCH_CPU_PROFILE_DIR=/tmp/prof npx tsx bench/scenarios/scheduling-burst.ts   # V8 profile of the server
 *
 * The server runs in a process of its own (bench/server.ts, as `npm run bench` starts it): the 50
 * clients of a real burst are other machines, and a client in the server's event loop would count
 * its own CPU (building 50 requests, reading 50 responses) into the server's latency.
 *
 * Connections: `warm` sends each burst over 50 kept-alive connections opened by the warm-up burst,
 * as a client pool or a gateway in front of the service would; `cold` opens a new TCP connection
 * for every request (no keep-alive), as 50 separate browsers arriving at once would. The default,
 * `warm,cold`, measures both in that order.
 *
 * Old against new, paired burst by burst: BURST_BASELINE names another checkout (the old code, with
 * its node_modules and this version of this file) and BURST_BASELINE_DATABASE_URL a database of its
 * own (its migrations differ). Its server runs beside this one, and every round sends one burst to
 * each, in alternating order, so a neighbour's load on this shared machine falls on both alike.
 *
 * Uses BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/pa_bench): creates,
 * migrates and seeds it when needed, like `npm run bench` (BURST_SETUP_ONLY=1: only that). The
 * server's pool is DB_POOL_MAX when set, else the app's default. Exits 1 when a burst did not
 * have exactly one 201, or any request got a 5xx or failed.
 */
import { execFileSync } from 'node:child_process'
import http from 'node:http'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { DEMO, DEMO_PATIENTS, DEMO_SCHEDULING, seedDemo } from '../../src/cli/seed-data.ts'
import { loadConfig } from '../../src/config.ts'
import { createDb } from '../../src/db/create-db.ts'
import { migrateToLatest } from '../../src/db/migrator.ts'
import { mintTrialToken } from '../../src/http/auth.ts'
import { startAppServer, type AppServer } from '../lib/app-server.ts'
import { cpuMeter } from '../lib/cpu.ts'
import { ensureDatabase, waitForSealed } from '../lib/database.ts'

const url = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/pa_bench'
const baseline = process.env.BURST_BASELINE
const baselineUrl = process.env.BURST_BASELINE_DATABASE_URL
if (baseline && (!baselineUrl || baselineUrl === url)) throw new Error('BURST_BASELINE needs BURST_BASELINE_DATABASE_URL, a database other than BENCH_DATABASE_URL')
const rounds = Number(process.env.BURST_ROUNDS ?? 40)
const warmups = Number(process.env.BURST_WARMUP ?? 60)
const modes = (process.env.BURST_CONNECTIONS ?? 'warm,cold').split(',') as ('warm' | 'cold')[]
if (!modes.length || modes.some((m) => m !== 'warm' && m !== 'cold')) throw new Error('BURST_CONNECTIONS must be warm, cold, or both in some order (warm,cold)')
const CONCURRENCY = 50
const SUB = 'bench-burst'
// A type without minimum notice or referral, reserving provider and exam room.
const typeId = '5e0c3d8a-9999-4a6b-9c1d-bbbbbbbbbbbb'
// Dr. Ruiz works at the demo clinic 08:00-12:00 and 13:00-17:00 on weekdays (New York time).
const patientId = DEMO_PATIENTS[0].id

/** Creates, migrates and seeds the database with this checkout's code; removes earlier bursts' bookings. */
async function setUp(databaseUrl: string) {
  await ensureDatabase(databaseUrl, false)
  const db = await createDb({ databaseUrl, poolMax: 4 })
  try {
    await migrateToLatest(db.kysely)
    await seedDemo(db.kysely, loadConfig({ DATABASE_URL: databaseUrl }), { info: () => {} })
    await db.kysely.deleteFrom('appointment').where('createdBy', '=', SUB).execute()
    await db.kysely.insertInto('appointmentType').values({
      id: typeId, organizationId: DEMO.organizationId, code: 'bench-burst', name: 'Burst visit', specialtyId: null,
      durationMinutes: 30, bufferAfterMinutes: 10, resourceKinds: ['exam-room'],
    }).onConflict((oc) => oc.doNothing()).execute()
    await db.kysely.insertInto('patientFacility').values({ patientId, facilityId: DEMO.clinicId }).onConflict((oc) => oc.doNothing()).execute()
  } finally {
    await db.close()
  }
}

await setUp(url)
if (process.env.BURST_SETUP_ONLY === '1') process.exit(0)
// The baseline's database is set up by the baseline's own code (its migrations, its seed).
if (baseline) {
  const { BURST_BASELINE: _b, BURST_BASELINE_DATABASE_URL: _u, ...env } = process.env
  execFileSync('npx', ['tsx', 'bench/scenarios/scheduling-burst.ts'], {
    cwd: baseline, stdio: 'inherit', env: { ...env, BENCH_DATABASE_URL: baselineUrl, BURST_SETUP_ONLY: '1' },
  })
}

const dataDir = mkdtempSync(join(tmpdir(), 'pa-burst-'))
const { AUTH_ISSUER: _issuer, AUTH_JWKS_URL: _jwks, ...inherited } = process.env
const serverEnv: NodeJS.ProcessEnv = { ...inherited, DATABASE_URL: url, DATA_DIR: dataDir, LOG_LEVEL: process.env.LOG_LEVEL || 'warn' }
const config = loadConfig(serverEnv)

interface Target {
  label: string
  server: AppServer
  /** Lists the Postgres backends of its database, for the CPU meter and the sealing wait. */
  pool: pg.Pool
}
const targets: Target[] = []

try {
  // Minted before the servers start: this creates the trial key in DATA_DIR that both read.
  const token = await mintTrialToken(dataDir, { sub: SUB, roles: ['scheduler'], facilities: [DEMO.clinicId], audience: config.AUTH_AUDIENCE })
  const profileDir = process.env.BENCH_CPU_PROFILE_DIR || undefined
  targets.push({ label: baseline ? 'new' : '', server: await startAppServer('on', serverEnv, profileDir), pool: new pg.Pool({ connectionString: url, max: 2 }) })
  if (baseline) {
    targets.push({
      label: 'old', server: await startAppServer('on', { ...serverEnv, DATABASE_URL: baselineUrl }, profileDir, baseline),
      pool: new pg.Pool({ connectionString: baselineUrl, max: 2 }),
    })
  }

  /** The k-th weekday from 2031-01-06 (a Monday) at 09:00 New York time (EST, -05:00). */
  const weekdayAt = (k: number, minutesAfterNine = 0) => {
    const day = Math.floor(k / 5) * 7 + (k % 5)
    return new Date(Date.parse('2031-01-06T14:00:00Z') + day * 86_400_000 + minutesAfterNine * 60_000).toISOString()
  }
  let nextDay = 0

  function post(target: URL, agent: http.Agent, body: string) {
    return new Promise<number>((resolve, reject) => {
      const req = http.request({
        host: target.hostname, port: target.port, path: '/appointments', method: 'POST', agent,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      }, (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode!))
        res.on('error', reject)
      })
      req.on('error', reject)
      req.end(body)
    })
  }

  async function burst(target: URL, agent: http.Agent, startOf: (i: number) => string) {
    // Bodies are built before the clock starts: a real burst's clients each have theirs ready.
    const bodies = Array.from({ length: CONCURRENCY }, (_, i) => JSON.stringify({
      facilityId: DEMO.clinicId, patientId, providerId: DEMO_SCHEDULING.drRuizId, appointmentTypeId: typeId, start: startOf(i),
      resourceIds: [DEMO_SCHEDULING.clinicExam1Id],
    }))
    const t0 = performance.now()
    const results = await Promise.all(bodies.map(async (body) => {
      const s = performance.now()
      const status = await post(target, agent, body).catch(() => 0)
      return { status, ms: performance.now() - s }
    }))
    return { wallMs: performance.now() - t0, results }
  }

  const pct = (xs: number[], p: number) => {
    const s = [...xs].sort((a, b) => a - b)
    return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]
  }

  let failed = false
  function report(label: string, bursts: Awaited<ReturnType<typeof burst>>[], cpu: { client: number; postgres: number }) {
    const all = bursts.flatMap((b) => b.results)
    const statuses: Record<number, number> = {}
    for (const r of all) statuses[r.status] = (statuses[r.status] ?? 0) + 1
    const exactlyOne = bursts.filter((b) => b.results.filter((r) => r.status === 201).length === 1).length
    const bad = all.filter((r) => r.status === 0 || r.status >= 500).length
    if (exactlyOne !== bursts.length || bad > 0) failed = true
    const walls = bursts.map((b) => b.wallMs)
    const ms = all.map((r) => r.ms)
    console.log(`${label}: ${bursts.length} bursts of ${CONCURRENCY}; exactly one 201 in ${exactlyOne}/${bursts.length}; statuses ${JSON.stringify(statuses)} (0: no response)`)
    console.log(`  request latency ms: p50 ${pct(ms, 50).toFixed(1)}, p99 ${pct(ms, 99).toFixed(1)}, max ${Math.max(...ms).toFixed(1)}`)
    console.log(`  burst wall time ms: p50 ${pct(walls, 50).toFixed(1)}, p99 ${pct(walls, 99).toFixed(1)}, max ${Math.max(...walls).toFixed(1)}`)
    console.log(`  CPU ms per request: server ${((cpu.client * 1000) / all.length).toFixed(2)}, postgres ${((cpu.postgres * 1000) / all.length).toFixed(2)}`)
  }

  /** `count` rounds: a burst to each target, on a day of its own, in alternating order. */
  async function measure(label: string, agents: http.Agent[], starts: (day: number) => (i: number) => string, count: number) {
    for (const t of targets) await waitForSealed(t.pool, 30_000)
    const meters = await Promise.all(targets.map((t) => cpuMeter(t.pool, [t.server.pid])))
    const bursts = targets.map((): Awaited<ReturnType<typeof burst>>[] => [])
    for (let k = 0; k < count; k++) {
      const day = nextDay++
      const order = k % 2 === 0 ? targets.keys() : [...targets.keys()].reverse()
      for (const i of order) bursts[i].push(await burst(new URL(targets[i].server.baseUrl), agents[i], starts(day)))
    }
    for (const [i, t] of targets.entries()) report(`${t.label ? `${t.label}: ` : ''}${label}`, bursts[i], await meters[i].stop(false))
  }

  for (const [m, mode] of modes.entries()) {
    const agents = targets.map(() => new http.Agent(mode === 'warm' ? { keepAlive: true, maxSockets: CONCURRENCY } : { keepAlive: false, maxSockets: Infinity }))
    // Warm-up, not reported: the server's JIT (a server that has just started spends 2-3 times the
    // CPU per request; it settles after about 3,000 requests) and pool, and (warm) the 50
    // connections.
    for (let k = 0; k < (m === 0 ? warmups : 2); k++) {
      const day = nextDay++
      for (const [i, t] of targets.entries()) await burst(new URL(t.server.baseUrl), agents[i], () => weekdayAt(day))
    }
    // One slot: every request names 09:00 of the same day.
    await measure(`same slot, ${mode} connections`, agents, (day) => () => weekdayAt(day), rounds)
    // Starts 09:00 ... 09:09 (every pair overlaps: 30 minutes + 10 buffer), a different day each round.
    await measure(`overlapping shifted times, ${mode} connections`, agents, (day) => (i) => weekdayAt(day, i % 10), Math.ceil(rounds / 2))
    for (const a of agents) a.destroy()
  }
  if (failed) {
    console.log('FAILED: a burst without exactly one 201, or a 5xx or failed request')
    process.exitCode = 1
  }
} finally {
  for (const t of targets) {
    await t.server.stop()
    await t.pool.end()
  }
  rmSync(dataDir, { recursive: true, force: true })
}
