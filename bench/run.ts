import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import pino from 'pino'
import { seedDemo } from '../src/cli/seed-data.ts'
import { loadConfig } from '../src/config.ts'
import { createDb } from '../src/db/create-db.ts'
import { migrateToLatest } from '../src/db/migrator.ts'
import { mintTrialToken } from '../src/http/auth.ts'
import { startAppServer, type AppServer } from './lib/app-server.ts'
import { cpuMeter } from './lib/cpu.ts'
import { ensureDatabase, waitForSealed } from './lib/database.ts'
import { runHttp, runRaw, type Figures, type HttpLoad } from './lib/load.ts'
import { markdown, verdictsFor, type Comparison, type CpuSplit, type ScenarioResult } from './lib/report.ts'
import type { BenchContext, Scenario } from './lib/scenario.ts'
import { scenarios } from './scenarios/index.ts'

function intEnv(name: string, dflt: number, min: number, max: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return dflt
  const v = Number(raw)
  if (!Number.isInteger(v) || v < min || v > max) throw new Error(`${name} must be an integer from ${min} to ${max}`)
  return v
}

const databaseUrl = process.env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/pa_bench'
const seconds = intEnv('BENCH_DURATION', 10, 1, 600)
const connections = intEnv('BENCH_CONNECTIONS', 50, 1, 200)
const roundCount = intEnv('BENCH_ROUNDS', 1, 1, 20)
const reset = process.env.BENCH_RESET === 'true'
const cpuProfileDir = process.env.BENCH_CPU_PROFILE_DIR || undefined
const warmupSeconds = Math.min(2, seconds)
const settleTimeoutMs = 300_000
const say = (msg: string) => process.stderr.write(`[bench] ${msg}\n`)

const wanted = process.argv.slice(2)
const unknown = wanted.filter((w) => !scenarios.some((s) => s.name === w))
if (unknown.length) {
  say(`unknown scenario(s): ${unknown.join(', ')}. Known: ${scenarios.map((s) => s.name).join(', ')}`)
  process.exit(2)
}
const selected = wanted.length ? scenarios.filter((s) => wanted.includes(s.name)) : scenarios

const dataDir = mkdtempSync(join(tmpdir(), 'pa-bench-'))
const { AUTH_ISSUER: _issuer, AUTH_JWKS_URL: _jwks, ...inherited } = process.env
const serverEnv: NodeJS.ProcessEnv = { ...inherited, DATABASE_URL: databaseUrl, DATA_DIR: dataDir, LOG_LEVEL: process.env.LOG_LEVEL || 'warn' }
const config = loadConfig(serverEnv)
const pool = new pg.Pool({ connectionString: databaseUrl, max: connections })
const servers = new Map<'audited' | 'audit-off', AppServer>()
let db: Awaited<ReturnType<typeof createDb>> | undefined

async function cleanUp() {
  for (const s of servers.values()) await s.stop()
  servers.clear()
  await db?.close()
  await pool.end().catch(() => undefined)
  rmSync(dataDir, { recursive: true, force: true })
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    say(`${signal}: stopping the servers`)
    void cleanUp().finally(() => process.exit(130))
  })
}

const tokens = new Map<string, Promise<string>>()
const token = (roles: string[], facilities: string[]) => {
  const key = `${roles.join(',')}|${facilities.join(',')}`
  if (!tokens.has(key)) tokens.set(key, mintTrialToken(dataDir, { sub: 'bench', roles, facilities, audience: config.AUTH_AUDIENCE, expiresIn: '12h' }))
  return tokens.get(key)!
}

async function settle(what: string): Promise<number | null> {
  const s = await waitForSealed(pool, settleTimeoutMs)
  if (s === undefined) say(`warning: audit events still unsealed ${settleTimeoutMs / 1000} s after ${what}`)
  return s ?? null
}

interface Prepared {
  s: Scenario<unknown>
  serverKind: 'audited' | 'audit-off'
  state: unknown
  load: Omit<HttpLoad, 'seconds'>
  next: () => number
}

interface Round {
  http: Figures
  raw: Figures
  sealedAfterSeconds: number | null
  /** Milliseconds of CPU per request (server and Postgres, sealing included) and per raw operation (client and Postgres). */
  httpCpuMs: CpuSplit
  rawCpuMs: CpuSplit
}

async function prepare(s: Scenario<unknown>, ctx: BenchContext): Promise<Prepared> {
  const serverKind = s.server ?? 'audited'
  say(`${s.name}: setup`)
  const state = await s.setup(ctx)
  let counter = 0
  const next = () => counter++
  const load = { baseUrl: servers.get(serverKind)!.baseUrl, request: s.request(state), vary: s.vary && (() => s.vary!(state, next())), connections }
  await settle('setup')
  say(`${s.name}: warm-up ${warmupSeconds} s`)
  await runHttp({ ...load, seconds: warmupSeconds })
  return { s, serverKind, state, load, next }
}

async function measure({ s, serverKind, state, load, next }: Prepared): Promise<Round> {
  await settle('the previous load')
  say(`${s.name}: HTTP ${seconds} s at ${connections} connections (${load.baseUrl}, ${serverKind})`)
  const httpCpu = await cpuMeter(pool, [servers.get(serverKind)!.pid])
  const http = await runHttp({ ...load, seconds })
  const sealedAfterSeconds = await settle('the HTTP load')
  // Autocannon runs in this process: its CPU is the load's, not the server's.
  const httpCpuMs = perOperation(await httpCpu.stop(false), http.total)
  say(`${s.name}: raw ${seconds} s, ${connections} loops: ${s.raw.label}`)
  const rawCpu = await cpuMeter(pool, [])
  const raw = await runRaw(pool, connections, seconds, () => s.raw.run(pool, state, next()))
  const rawCpuMs = perOperation(await rawCpu.stop(true), raw.total)
  if (raw.firstFailure) say(`${s.name}: ${raw.failures} raw operations failed, first: ${raw.firstFailure}`)
  return { http, raw, sealedAfterSeconds, httpCpuMs, rawCpuMs }
}

const perOperation = (s: CpuSplit, n: number): CpuSplit => ({ client: (s.client * 1000) / Math.max(1, n), postgres: (s.postgres * 1000) / Math.max(1, n) })
const medianSplit = (xs: CpuSplit[]): CpuSplit => ({ client: median(xs.map((x) => x.client)), postgres: median(xs.map((x) => x.postgres)) })

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]

/** Several rounds' figures as one: medians of rates and latencies, sums of counts. */
function combine(fs: Figures[]): Figures {
  const statusCodes: Record<string, number> = {}
  for (const f of fs) for (const [code, count] of Object.entries(f.statusCodes ?? {})) statusCodes[code] = (statusCodes[code] ?? 0) + count
  const sum = (k: 'total' | 'failures' | 'errors') => fs.reduce((a, f) => a + (f[k] ?? 0), 0)
  return {
    perSecond: median(fs.map((f) => f.perSecond)),
    p50Ms: median(fs.map((f) => f.p50Ms)),
    p99Ms: median(fs.map((f) => f.p99Ms)),
    total: sum('total'),
    failures: sum('failures'),
    ...(fs[0].errors !== undefined && { errors: sum('errors'), statusCodes }),
    firstFailure: fs.find((f) => f.firstFailure)?.firstFailure,
  }
}

function result(p: Prepared, rounds: Round[]): ScenarioResult {
  const http = combine(rounds.map((r) => r.http))
  const raw = combine(rounds.map((r) => r.raw))
  const rawRatio = raw.perSecond > 0 ? http.perSecond / raw.perSecond : 0
  const lags = rounds.map((r) => r.sealedAfterSeconds)
  return {
    name: p.s.name,
    description: p.s.description,
    server: p.serverKind,
    http,
    raw: { label: p.s.raw.label, ...raw },
    rawRatio,
    cpuMsPerRequest: medianSplit(rounds.map((r) => r.httpCpuMs)),
    rawCpuMsPerOperation: medianSplit(rounds.map((r) => r.rawCpuMs)),
    sealedAfterSeconds: lags.includes(null) ? null : Math.max(...(lags as number[])),
    targets: p.s.targets,
    verdicts: verdictsFor(http, rawRatio, p.s.targets),
    rounds: rounds.map((r) => ({ http: r.http.perSecond, raw: r.raw.perSecond })),
  }
}

const loadAtStart = loadavg()[0]
let exitCode = 0
try {
  say(`database ${new URL(databaseUrl).pathname.slice(1)}: ${await ensureDatabase(databaseUrl, reset)}`)
  db = await createDb({ databaseUrl, poolMax: 4 })
  await migrateToLatest(db.kysely).catch((err) => {
    throw new Error(`migrating the bench database failed (BENCH_RESET=true recreates it): ${(err as Error).message}`)
  })
  await seedDemo(db.kysely, config, pino({ level: 'warn' }))
  const ctx: BenchContext = { db: db.kysely, pool, config, runId: Date.now().toString(36), token }
  await token(['front_desk'], []) // creates the trial key in DATA_DIR before a server reads it

  // The audited server always: its sealer is the only one (bench/server.ts), and a measurement
  // waits until every pending event is sealed.
  for (const kind of new Set(['audited' as const, ...selected.map((s) => s.server ?? 'audited')])) {
    const server = await startAppServer(kind === 'audited' ? 'on' : 'off', serverEnv, cpuProfileDir)
    servers.set(kind, server)
    say(`server ${kind}: ${server.baseUrl} (pid ${server.pid})`)
  }

  const prepared: Prepared[] = []
  for (const s of selected) prepared.push(await prepare(s, ctx))
  // Autovacuum keeps a production database's visibility maps and statistics current; a bench
  // database loaded in bulk and written by earlier runs may have neither (this machine's Postgres
  // runs with autovacuum off), which would change index-only scans and plans from run to run.
  const vacuumStart = Date.now()
  await pool.query('VACUUM (ANALYZE)')
  say(`VACUUM (ANALYZE) of the bench database: ${((Date.now() - vacuumStart) / 1000).toFixed(1)} s`)
  // Rounds go round-robin over the scenarios, so a change in the machine's load hits all of them.
  const rounds = prepared.map((): Round[] => [])
  for (let r = 1; r <= roundCount; r++) {
    if (roundCount > 1) say(`round ${r} of ${roundCount}`)
    for (const [i, p] of prepared.entries()) rounds[i].push(await measure(p))
  }
  await settle('the last load')
  const results = prepared.map((p, i) => result(p, rounds[i]))

  const comparisons: Comparison[] = []
  for (const s of selected) {
    if (!s.compare) continue
    const mine = results.find((r) => r.name === s.name)!
    const other = results.find((r) => r.name === s.compare!.scenario)
    if (!other) {
      say(`${s.name}: comparison with ${s.compare.scenario} skipped (not selected)`)
      continue
    }
    // Paired by round: both were measured minutes apart under the same machine load.
    const ratio = median(mine.rounds.map((r, i) => r.http / other.rounds[i].http))
    const { minRatio, label } = s.compare
    comparisons.push({ label, scenario: s.name, against: other.name, ratio, minRatio, ok: minRatio === undefined ? undefined : ratio >= minRatio })
  }

  const { rows } = await pool.query<{ v: string }>('select current_setting($1) as v', ['server_version'])
  const settings = {
    durationSeconds: seconds,
    rounds: roundCount,
    connections,
    appPoolMax: config.DB_POOL_MAX,
    appLogLevel: serverEnv.LOG_LEVEL,
    cpus: cpus().length,
    loadAverageAtStart: loadAtStart.toFixed(1),
    loadAverageAtEnd: loadavg()[0].toFixed(1),
    node: process.version,
    postgres: rows[0].v,
    autovacuum: (await pool.query<{ v: string }>('select current_setting($1) as v', ['autovacuum'])).rows[0].v,
  }
  const table = markdown(results, comparisons, settings)
  process.stdout.write(`\n${table}\n`)

  const resultsDir = fileURLToPath(new URL('./results/', import.meta.url))
  mkdirSync(resultsDir, { recursive: true })
  const file = join(resultsDir, `${new Date().toISOString().replace(/[:.]/g, '-')}.json`)
  writeFileSync(file, `${JSON.stringify({ finishedAt: new Date().toISOString(), settings, scenarios: results, comparisons, markdown: table }, null, 2)}\n`)
  say(`results written to ${file}`)
} catch (err) {
  say(`failed: ${(err as Error).stack ?? err}`)
  exitCode = 1
} finally {
  await cleanUp()
}
process.exit(exitCode)
