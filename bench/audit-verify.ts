/**
 * Audit chain at scale: inserts AUDIT_BENCH_EVENTS (default 1,000,000) audit events into a bench
 * database of their own with generate_series, seals them with the service's sealer, signs a
 * checkpoint, and times full and ranged verification while sampling the process's memory.
 *
 *   npx tsx bench/audit-verify.ts
 *   AUDIT_BENCH_EVENTS=200000 AUDIT_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/pa_bench_audit npx tsx bench/audit-verify.ts
 *
 * The database is dropped and recreated at the start of every run (it holds nothing else), unless
 * AUDIT_BENCH_REUSE=true and it already holds that many sealed events: then only the
 * verification is timed again. The checkpoint key stays in $TMPDIR/pa-audit-bench between runs.
 */
import { mkdirSync, readFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { sql } from 'kysely'
import pino from 'pino'
import { loadConfig } from '../src/config.ts'
import { createDb } from '../src/db/create-db.ts'
import { migrateToLatest } from '../src/db/migrator.ts'
import { verifyChain } from '../src/modules/audit/audit-chain.ts'
import { AuditSealer } from '../src/modules/audit/audit-sealer.ts'
import { loadAuditSigner } from '../src/modules/audit/audit-signing.ts'
import { ensureDatabase } from './lib/database.ts'

const events = Number(process.env.AUDIT_BENCH_EVENTS || 1_000_000)
if (!Number.isInteger(events) || events < 1 || events > 50_000_000) throw new Error('AUDIT_BENCH_EVENTS must be an integer from 1 to 50000000')
const url = process.env.AUDIT_BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/pa_bench_audit'
const say = (msg: string) => process.stderr.write(`[audit-bench] ${msg}\n`)

let peakRss = 0
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20)
const mb = (bytes: number) => Math.round(bytes / 1048576)
/**
 * CPU seconds the database's backends have used so far (Linux /proc). Wall time on a shared
 * machine says more about the neighbours than about this code; CPU time does not.
 */
async function backendCpuSeconds(): Promise<number | undefined> {
  try {
    const { rows } = await sql<{ pid: number }>`select pid from pg_stat_activity where datname = current_database()`.execute(db.kysely)
    let ticks = 0
    for (const { pid } of rows) {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
      ticks += Number(fields[11]) + Number(fields[12])
    }
    return ticks / 100
  } catch {
    return undefined
  }
}

async function timed<T>(label: string, fn: () => Promise<T>) {
  peakRss = process.memoryUsage().rss
  const dbCpuBefore = await backendCpuSeconds()
  const nodeCpuBefore = process.cpuUsage()
  const start = performance.now()
  const value = await fn()
  const seconds = (performance.now() - start) / 1000
  const node = process.cpuUsage(nodeCpuBefore)
  const nodeCpuSeconds = +((node.user + node.system) / 1e6).toFixed(2)
  const dbCpuAfter = await backendCpuSeconds()
  // Backends that closed during fn are missed; the pool keeps its connections, so few are.
  const dbCpuSeconds = dbCpuBefore !== undefined && dbCpuAfter !== undefined ? +(dbCpuAfter - dbCpuBefore).toFixed(2) : null
  say(`${label}: ${seconds.toFixed(2)} s wall, CPU ${nodeCpuSeconds} s node + ${dbCpuSeconds ?? '?'} s postgres, peak RSS ${mb(peakRss)} MB`)
  return { seconds, value, peakRssMb: mb(peakRss), nodeCpuSeconds, dbCpuSeconds }
}

const dataDir = join(tmpdir(), 'pa-audit-bench')
mkdirSync(dataDir, { recursive: true })
// Reused only when it holds exactly the requested number of events, all sealed.
async function sealedEvents(): Promise<number | undefined> {
  if (process.env.AUDIT_BENCH_REUSE !== 'true' || (await ensureDatabase(url, false)) !== 'exists') return undefined
  const probe = await createDb({ databaseUrl: url, poolMax: 1 })
  try {
    const { rows } = await sql<{ n: string }>`select count(*)::text as n from audit_seal`.execute(probe.kysely)
    return Number(rows[0].n)
  } catch {
    return undefined
  } finally {
    await probe.close()
  }
}
const fresh = (await sealedEvents()) !== events
if (fresh) await ensureDatabase(url, true)
else say(`reusing ${events} sealed events`)
const db = await createDb({ databaseUrl: url, poolMax: 4 })
try {
  await migrateToLatest(db.kysely)
  const config = loadConfig({ DATA_DIR: dataDir, DATABASE_URL: url })
  const sealer = new AuditSealer(db.kysely, config.AUDIT_SEAL_INTERVAL_MS, pino({ level: 'warn' }), loadAuditSigner(config))

  // Spread over the last 30 days, in id order, with the variety of real events.
  const chunk = 100_000
  const insert = await timed(`insert ${events} events`, async () => {
    if (!fresh) return
    for (let first = 1; first <= events; first += chunk) {
      const last = Math.min(events, first + chunk - 1)
      await sql`
        INSERT INTO audit_event (occurred_at, request_id, actor_sub, actor_roles, facility_id, action, verb, resource_type,
                                 resource_id, patient_id, outcome, purpose_of_use, client_ip, user_agent, detail)
        SELECT now() - interval '30 days' + (n * (interval '30 days' / ${events}::int)),
               md5(n::text), 'user-' || (n % 500), ARRAY['front_desk'],
               ('00000000-0000-4000-8000-' || lpad(to_hex(n % 20), 12, '0'))::uuid,
               (ARRAY['read','read','read','create','update'])[1 + n % 5], 'patient.read', 'patient', md5((n % 100000)::text),
               ('00000000-0000-4000-9000-' || lpad(to_hex(n % 100000), 12, '0'))::uuid,
               'success', 'TREAT', '10.0.' || (n % 250) || '.1', 'bench/1.0',
               CASE WHEN n % 10 = 0 THEN jsonb_build_object('returned', n % 25) END
        FROM generate_series(${first}::int, ${last}::int) AS n`.execute(db.kysely)
    }
  })
  await sql`VACUUM ANALYZE audit_event, audit_pending`.execute(db.kysely)
  const seal = await timed('seal', () => sealer.sealAll())
  await sql`VACUUM ANALYZE audit_event, audit_seal, audit_pending`.execute(db.kysely)
  const checkpoint = await timed('first checkpoint (recomputes the whole chain before signing)', () => sealer.checkpoint())
  const full = await timed('verify all', () => verifyChain(db.kysely, { overdueAfterMs: 60_000, signer: sealer.signer }))
  const dayAgo = new Date(Date.now() - 86_400_000)
  const lastDay = await timed('verify the last day', () => verifyChain(db.kysely, { overdueAfterMs: 60_000, signer: sealer.signer, from: dayAgo }))
  const results = {
    events,
    loadAverage: loadavg().map((l) => +l.toFixed(1)),
    insertSeconds: +insert.seconds.toFixed(2),
    sealSeconds: +seal.seconds.toFixed(2),
    sealCpuSeconds: { node: seal.nodeCpuSeconds, postgres: seal.dbCpuSeconds },
    sealedPerSecond: seal.value ? Math.round(seal.value / seal.seconds) : null,
    firstCheckpoint: { seconds: +checkpoint.seconds.toFixed(2), cpuSeconds: { node: checkpoint.nodeCpuSeconds, postgres: checkpoint.dbCpuSeconds } },
    verifyAll: { seconds: +full.seconds.toFixed(2), cpuSeconds: { node: full.nodeCpuSeconds, postgres: full.dbCpuSeconds }, eventsPerSecond: Math.round(full.value.checked / full.seconds), ok: full.value.ok, checked: full.value.checked, peakRssMb: full.peakRssMb },
    verifyLastDay: { seconds: +lastDay.seconds.toFixed(2), cpuSeconds: { node: lastDay.nodeCpuSeconds, postgres: lastDay.dbCpuSeconds }, ok: lastDay.value.ok, checked: lastDay.value.checked },
  }
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`)
  if (!full.value.ok || full.value.checked !== events || !lastDay.value.ok) process.exitCode = 1
} finally {
  clearInterval(sampler)
  await db.close()
}
