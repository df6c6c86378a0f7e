/**
 * Burst booking: rounds of 50 concurrent POST /appointments for one slot, then for overlapping
 * shifted times, over real HTTP against the app on PostgreSQL. Prints winners per round, the
 * status codes and latency percentiles of the requests, each burst's wall time, and the CPU the
 * server and Postgres spent per request.
 *
 *   npx tsx bench/scenarios/scheduling-burst.ts            # 40 + 20 rounds, warm then cold connections
 *   BURST_ROUNDS=10 BURST_WARMUP=5 BURST_CONNECTIONS=warm npx tsx bench/scenarios/scheduling-burst.ts
 *   BENCH_CPU_PROFILE_DIR=/tmp/prof npx tsx bench/scenarios/scheduling-burst.ts   # V8 profile of the server
 *
 * The server runs in a process of its own (bench/server.ts, as `npm run bench` starts it): the 50
 * clients of a real burst are other machines, and a client in the server's event loop would count
 * its own CPU (building 50 requests, reading 50 responses) into the server's latency.
 *
 * Connections: `warm` sends each burst over 50 kept-alive connections opened by the warm-up burst,
 * as a client pool or a gateway in front of the service would; `cold` opens a new TCP connection
 * for every request (no keep-alive), as 50 separate browsers arriving at once would. `both` (the
 * default) measures warm, then cold.
 *
 * Uses BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/pa_bench): creates,
 * migrates and seeds it when needed, like `npm run bench`. The server's pool is DB_POOL_MAX when
 * set, else the app's default. Exits 1 when a burst did not have exactly one 201, or any request
 * got a 5xx or failed.
 */
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
const rounds = Number(process.env.BURST_ROUNDS ?? 40)
const warmups = Number(process.env.BURST_WARMUP ?? 10)
const modeEnv = process.env.BURST_CONNECTIONS ?? 'both'
if (!['warm', 'cold', 'both'].includes(modeEnv)) throw new Error('BURST_CONNECTIONS must be warm, cold or both')
const modes = (modeEnv === 'both' ? ['warm', 'cold'] : [modeEnv]) as ('warm' | 'cold')[]
const CONCURRENCY = 50
const SUB = 'bench-burst'

await ensureDatabase(url, false)
const dataDir = mkdtempSync(join(tmpdir(), 'pa-burst-'))
const { AUTH_ISSUER: _issuer, AUTH_JWKS_URL: _jwks, ...inherited } = process.env
const serverEnv: NodeJS.ProcessEnv = { ...inherited, DATABASE_URL: url, DATA_DIR: dataDir, LOG_LEVEL: process.env.LOG_LEVEL || 'warn' }
const config = loadConfig(serverEnv)
const db = await createDb({ databaseUrl: url, poolMax: 4 })
const pool = new pg.Pool({ connectionString: url, max: 2 })
let server: AppServer | undefined

try {
  await migrateToLatest(db.kysely)
  await seedDemo(db.kysely, config, { info: () => {} })
  await db.kysely.deleteFrom('appointment').where('createdBy', '=', SUB).execute()
  // A type without minimum notice or referral, reserving provider and exam room.
  const typeId = '5e0c3d8a-9999-4a6b-9c1d-bbbbbbbbbbbb'
  await db.kysely.insertInto('appointmentType').values({
    id: typeId, organizationId: DEMO.organizationId, code: 'bench-burst', name: 'Burst visit', specialtyId: null,
    durationMinutes: 30, bufferAfterMinutes: 10, resourceKinds: ['exam-room'],
  }).onConflict((oc) => oc.doNothing()).execute()
  // Dr. Ruiz works at the demo clinic 08:00-12:00 and 13:00-17:00 on weekdays (New York time).
  const patientId = DEMO_PATIENTS[0].id
  await db.kysely.insertInto('patientFacility').values({ patientId, facilityId: DEMO.clinicId }).onConflict((oc) => oc.doNothing()).execute()
  // Minted before the server starts: this creates the trial key in DATA_DIR that the server reads.
  const token = await mintTrialToken(dataDir, { sub: SUB, roles: ['scheduler'], facilities: [DEMO.clinicId], audience: config.AUTH_AUDIENCE })

  server = await startAppServer('on', serverEnv, process.env.BENCH_CPU_PROFILE_DIR || undefined)
  const target = new URL(server.baseUrl)

  /** The k-th weekday from 2031-01-06 (a Monday) at 09:00 New York time (EST, -05:00). */
  const weekdayAt = (k: number, minutesAfterNine = 0) => {
    const day = Math.floor(k / 5) * 7 + (k % 5)
    return new Date(Date.parse('2031-01-06T14:00:00Z') + day * 86_400_000 + minutesAfterNine * 60_000).toISOString()
  }
  let nextDay = 0

  function post(agent: http.Agent, body: string) {
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

  async function burst(agent: http.Agent, startOf: (i: number) => string) {
    // Bodies are built before the clock starts: a real burst's clients each have theirs ready.
    const bodies = Array.from({ length: CONCURRENCY }, (_, i) => JSON.stringify({
      facilityId: DEMO.clinicId, patientId, providerId: DEMO_SCHEDULING.drRuizId, appointmentTypeId: typeId, start: startOf(i),
      resourceIds: [DEMO_SCHEDULING.clinicExam1Id],
    }))
    const t0 = performance.now()
    const results = await Promise.all(bodies.map(async (body) => {
      const s = performance.now()
      const status = await post(agent, body).catch(() => 0)
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

  async function measure(label: string, agent: http.Agent, starts: (k: number) => (i: number) => string, count: number) {
    await waitForSealed(pool, 30_000)
    const meter = await cpuMeter(pool, [server!.pid])
    const bursts = []
    for (let k = 0; k < count; k++) bursts.push(await burst(agent, starts(nextDay++)))
    report(label, bursts, await meter.stop(false))
  }

  for (const mode of modes) {
    const agent = new http.Agent(mode === 'warm' ? { keepAlive: true, maxSockets: CONCURRENCY } : { keepAlive: false, maxSockets: Infinity })
    // Warm-up, not reported: the server's JIT (a server that has just started spends twice the
    // CPU per request) and pool, and (warm) the 50 connections.
    for (let k = 0; k < warmups; k++) {
      const day = nextDay++
      await burst(agent, () => weekdayAt(day))
    }
    // One slot: every request names 09:00 of the same day.
    await measure(`same slot, ${mode} connections`, agent, (day) => () => weekdayAt(day), rounds)
    // Starts 09:00 ... 09:09 (every pair overlaps: 30 minutes + 10 buffer), a different day each round.
    await measure(`overlapping shifted times, ${mode} connections`, agent, (day) => (i) => weekdayAt(day, i % 10), Math.ceil(rounds / 2))
    agent.destroy()
  }
  if (failed) {
    console.log('FAILED: a burst without exactly one 201, or a 5xx or failed request')
    process.exitCode = 1
  }
} finally {
  await server?.stop()
  await pool.end()
  await db.close()
  rmSync(dataDir, { recursive: true, force: true })
}
