import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { sql } from 'kysely'
import pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import pino from 'pino'
import { loadConfig } from '../src/config.ts'
import { createDb } from '../src/db/create-db.ts'
import { migrateToLatest } from '../src/db/migrator.ts'
import { mintTrialToken } from '../src/http/auth.ts'
import { startAppServer } from './lib/app-server.ts'
import { ensureDatabase } from './lib/database.ts'
import { cpuMeter } from './lib/cpu.ts'

/**
 * Batch import of patients against real PostgreSQL, next to a raw COPY of the same rows into the
 * same table in the same run.
 *
 *   npx tsx bench/import-patients.ts                            (1,000,000 rows)
 *   BENCH_IMPORT_ROWS=200000 npx tsx bench/import-patients.ts
 *
 * 1. Recreates the bench database BENCH_IMPORT_DATABASE_URL (default pa_bench_import), migrates it,
 *    adds one organisation and facility.
 * 2. Forks the app as it ships (bench/server.ts) and streams N generated NDJSON rows to
 *    PUT /imports/{id}/file over HTTP; the rows never exist as a file. Duplicate detection is on.
 * 3. COPYs the same N patients (new MRNs) into `patient` through pg-copy-streams.
 * Reports rows/s of both, their ratio, the server's peak RSS (VmHWM) sampled during the import, and
 * the CPU seconds the import took in the server and in Postgres (its backends: the import's and the
 * audit sealer's). BENCH_CPU_PROFILE_DIR=<dir> has the server write a V8 CPU profile there;
 * BENCH_LOG_STATEMENTS=true has Postgres log every statement of the import with its parse, bind and
 * execute durations (log_min_duration_statement = 0 on the bench database, without parameters).
 */
const ROWS = Number(process.env.BENCH_IMPORT_ROWS ?? 1_000_000)
const url = process.env.BENCH_IMPORT_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/pa_bench_import'

const S = ['ba', 'ko', 'ri', 'mu', 'te', 'sa', 'lo', 'vi', 'ne', 'da', 'zu', 'pe', 'ha', 'mi', 'go', 'ra', 'tu', 'fe', 'ji', 'wo', 'ke', 'ly', 'no', 'shi', 'ar', 'el', 'or', 'in', 'ul', 'an', 'ber', 'cas', 'dor', 'fin', 'gal', 'hol', 'kin', 'lam', 'mor', 'nes', 'pol', 'quin', 'ros', 'sel', 'tam', 'val', 'wes', 'yor', 'zan', 'bri']
const G = ['Ada', 'Ben', 'Cleo', 'Dara', 'Eli', 'Fay', 'Gus', 'Hana', 'Ivo', 'Jun', 'Kai', 'Lea', 'Milo', 'Nia', 'Otto', 'Pia', 'Quin', 'Rhea', 'Sol', 'Tess', 'Uma', 'Vic', 'Wren', 'Xia', 'Yuri', 'Zoe']
const cap = (s: string) => s[0].toUpperCase() + s.slice(1)

/** Row i, deterministic: ~125,000 distinct family names, so duplicate detection finds few candidates. */
function patient(i: number) {
  const family = cap(S[i % 50] + S[Math.floor(i / 50) % 50] + S[Math.floor(i / 2500) % 50])
  const given = G[Math.floor(i / 125_000) % 26] + (i % 7 === 0 ? ' Marie' : '')
  const day = (i * 7919) % 25_000
  const birthDate = new Date(Date.UTC(1940, 0, 1) + day * 86_400_000).toISOString().slice(0, 10)
  return {
    familyName: family, givenNames: given, birthDate, administrativeSex: i % 2 ? 'female' : 'male',
    phones: [{ use: 'mobile', number: `+1555${String(i).padStart(7, '0')}` }],
    identifiers: [{ system: 'urn:bench:ehr', value: `B${i}` }],
  }
}

function rows(format: (i: number) => string) {
  let i = 0
  return new Readable({
    read() {
      const out: string[] = []
      for (let n = 0; n < 1000 && i < ROWS; n++, i++) out.push(format(i))
      this.push(out.join(''))
      if (i >= ROWS) this.push(null)
    },
  })
}

const peakRss = (pid: number) => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024
const rssNow = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024
const mb = (b: number) => `${(b / 1024 / 1024).toFixed(0)} MB`
await ensureDatabase(url, true)
const dataDir = mkdtempSync(join(tmpdir(), 'pa-import-bench-'))
const config = loadConfig({ DATABASE_URL: url, DATA_DIR: dataDir })
const db = await createDb({ databaseUrl: url, poolMax: 4, log: pino({ level: 'warn' }) })
await migrateToLatest(db.kysely)
const dbName = sql.id(new URL(url).pathname.slice(1))
const logStatements = process.env.BENCH_LOG_STATEMENTS === 'true'
if (logStatements) await sql`ALTER DATABASE ${dbName} SET log_min_duration_statement = 0`.execute(db.kysely)
if (logStatements) await sql`ALTER DATABASE ${dbName} SET log_parameter_max_length = 0`.execute(db.kysely)
const org = await db.kysely.insertInto('organization').values({ name: 'Bench import org' }).returningAll().executeTakeFirstOrThrow()
const facility = await db.kysely.insertInto('facility').values({ organizationId: org.id, name: 'Bench import facility', kind: 'hospital', timeZone: 'America/New_York' })
  .returningAll().executeTakeFirstOrThrow()
/** The Postgres backends serving the bench database, other than the one asking. */
const backends = async () => (await sql<{ pid: number }>`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`.execute(db.kysely)).rows.map((r) => r.pid)
const token = await mintTrialToken(dataDir, { sub: 'bench-import', roles: ['integrator'], facilities: [facility.id], audience: config.AUTH_AUDIENCE, expiresIn: '12h' })

const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: url, DATA_DIR: dataDir, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' }
delete env.AUTH_ISSUER
delete env.AUTH_JWKS_URL
const server = await startAppServer('on', env, process.env.BENCH_CPU_PROFILE_DIR)
const auth = { authorization: `Bearer ${token}` }
let result: { status: number; body: string }
let importSeconds: number
let rssSamples: number[] = []
let serverPeak = 0
let serverCpu = 0
let postgresCpu = 0
try {
  const created = await fetch(`${server.baseUrl}/imports`, {
    method: 'POST', headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ kind: 'patients', format: 'ndjson', facilityId: facility.id }),
  })
  const job = (await created.json()) as { id: string }
  console.log(`importing ${ROWS.toLocaleString('en-US')} patients through the API (import ${job.id}, batches of ${config.IMPORT_BATCH_ROWS})...`)
  const sampler = setInterval(() => rssSamples.push(rssNow(server.pid)), 1000)
  const cpu = await cpuMeter(backends, [server.pid])
  const started = performance.now()
  result = await new Promise((resolve, reject) => {
    const req = request(`${server.baseUrl}/imports/${job.id}/file`, { method: 'PUT', headers: { ...auth, 'content-type': 'application/x-ndjson' } }, (res) => {
      let body = ''
      res.on('data', (c) => (body += c))
      res.on('end', () => resolve({ status: res.statusCode!, body }))
    })
    req.on('error', reject)
    rows((i) => `${JSON.stringify(patient(i))}\n`).pipe(req)
  })
  importSeconds = (performance.now() - started) / 1000
  clearInterval(sampler)
  rssSamples = [...rssSamples, rssNow(server.pid)]
  ;({ client: serverCpu, postgres: postgresCpu } = await cpu.stop(false))
  serverPeak = peakRss(server.pid)
} finally {
  await server.stop()
  if (logStatements) await sql`ALTER DATABASE ${dbName} RESET ALL`.execute(db.kysely)
}
if (result.status !== 200) throw new Error(`import failed: ${result.status} ${result.body}`)
const summary = JSON.parse(result.body)

// The raw baseline: the same patients (fresh MRNs) straight into the same table.
console.log('COPY of the same rows into patient...')
const client = new pg.Client({ connectionString: url })
await client.connect()
const csvField = (v: string) => `"${v.replace(/"/g, '""')}"`
const copyStarted = performance.now()
await pipeline(
  rows((i) => {
    const p = patient(i)
    return [
      org.id, facility.id, `C${i}`, p.familyName, p.givenNames, p.birthDate, p.administrativeSex,
      csvField(JSON.stringify(p.phones)), `{${p.phones[0].number}}`,
    ].join(',') + '\n'
  }),
  client.query(copyFrom('COPY patient (organization_id, facility_id, mrn, family_name, given_names, birth_date, administrative_sex, phones, phone_numbers) FROM STDIN (FORMAT csv)')),
)
const copySeconds = (performance.now() - copyStarted) / 1000
await client.end()

const counts = await db.kysely.selectFrom('patient').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()
await db.close()
rmSync(dataDir, { recursive: true, force: true })

const importRate = ROWS / importSeconds
const copyRate = ROWS / copySeconds
console.log(JSON.stringify({
  rows: ROWS,
  import: {
    seconds: Number(importSeconds.toFixed(1)), rowsPerSecond: Math.round(importRate), status: summary.status,
    created: summary.created, rejected: summary.rejected, duplicates: summary.duplicates,
    serverPeakRss: mb(serverPeak), serverRssSamples: [rssSamples[0], rssSamples[Math.floor(rssSamples.length / 2)], rssSamples[rssSamples.length - 1]].map((b) => mb(b ?? 0)),
    // On a shared machine wall time moves with the neighbours' load; CPU time much less.
    serverCpuSeconds: Number(serverCpu.toFixed(1)), postgresCpuSeconds: Number(postgresCpu.toFixed(1)),
  },
  copy: { seconds: Number(copySeconds.toFixed(1)), rowsPerSecond: Math.round(copyRate) },
  importVsCopy: Number((importRate / copyRate).toFixed(3)),
  patientRows: Number(counts.n),
}, null, 2))
