/**
 * Burst booking: rounds of 50 concurrent POST /appointments for one slot, then for overlapping
 * shifted times, over real HTTP against the app on PostgreSQL. Prints winners per round, the
 * status codes and latency percentiles of the requests, and each burst's wall time.
 *
 *   npx tsx bench/scenarios/scheduling-burst.ts            # 40 + 20 rounds
 *   BURST_ROUNDS=10 npx tsx bench/scenarios/scheduling-burst.ts
 *
 * Uses BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/pa_bench): creates,
 * migrates and seeds it when needed, like `npm run bench`.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { buildApp } from '../../src/app.ts'
import { DEMO, DEMO_PATIENTS, DEMO_SCHEDULING, seedDemo } from '../../src/cli/seed-data.ts'
import { loadConfig } from '../../src/config.ts'
import { createDb } from '../../src/db/create-db.ts'
import { migrateToLatest } from '../../src/db/migrator.ts'
import { mintTrialToken } from '../../src/http/auth.ts'
import { ensureDatabase } from '../lib/database.ts'

const url = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/pa_bench'
const rounds = Number(process.env.BURST_ROUNDS ?? 40)
const CONCURRENCY = 50
const SUB = 'bench-burst'

await ensureDatabase(url, false)
const dataDir = mkdtempSync(join(tmpdir(), 'pa-burst-'))
const config = loadConfig({ DATABASE_URL: url, DATA_DIR: dataDir, LOG_LEVEL: 'warn', DB_POOL_MAX: process.env.DB_POOL_MAX ?? '20' })
const db = await createDb({ databaseUrl: url, poolMax: config.DB_POOL_MAX })
await migrateToLatest(db.kysely)
await seedDemo(db.kysely, config, { info: () => {} })
await db.kysely.deleteFrom('appointment').where('createdBy', '=', SUB).execute()
// A type without minimum notice or referral, reserving provider and exam room.
const typeId = '5e0c3d8a-9999-4a6b-9c1d-bbbbbbbbbbbb'
await db.kysely.insertInto('appointmentType').values({
  id: typeId, organizationId: DEMO.organizationId, code: 'bench-burst', name: 'Burst visit', specialtyId: null,
  durationMinutes: 30, bufferAfterMinutes: 10, resourceKinds: ['exam-room'],
}).onConflict((oc) => oc.doNothing()).execute()

const app = await buildApp({ config, db })
await app.listen({ host: '127.0.0.1', port: 0 })
const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
const token = await mintTrialToken(dataDir, { sub: SUB, roles: ['scheduler'], facilities: [DEMO.clinicId], audience: config.AUTH_AUDIENCE })
// Dr. Ruiz works at the demo clinic 08:00-12:00 and 13:00-17:00 on weekdays (New York time).
const patientId = DEMO_PATIENTS[0].id
await db.kysely.insertInto('patientFacility').values({ patientId, facilityId: DEMO.clinicId }).onConflict((oc) => oc.doNothing()).execute()

/** The k-th weekday from 2031-01-06 (a Monday) at 09:00 New York time (EST, -05:00). */
function weekdayAt(k: number, minutesAfterNine = 0) {
  const day = Math.floor(k / 5) * 7 + (k % 5)
  return new Date(Date.parse('2031-01-06T14:00:00Z') + day * 86_400_000 + minutesAfterNine * 60_000).toISOString()
}

async function burst(startOf: (i: number) => string) {
  const t0 = performance.now()
  const results = await Promise.all(Array.from({ length: CONCURRENCY }, async (_, i) => {
    const s = performance.now()
    const res = await fetch(`${base}/appointments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        facilityId: DEMO.clinicId, patientId, providerId: DEMO_SCHEDULING.drRuizId, appointmentTypeId: typeId, start: startOf(i),
        resourceIds: [DEMO_SCHEDULING.clinicExam1Id],
      }),
    })
    await res.arrayBuffer()
    return { status: res.status, ms: performance.now() - s }
  }))
  return { wallMs: performance.now() - t0, results }
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]
}

function report(label: string, bursts: Awaited<ReturnType<typeof burst>>[]) {
  const all = bursts.flatMap((b) => b.results)
  const statuses: Record<number, number> = {}
  for (const r of all) statuses[r.status] = (statuses[r.status] ?? 0) + 1
  const exactlyOne = bursts.filter((b) => b.results.filter((r) => r.status === 201).length === 1).length
  const walls = bursts.map((b) => b.wallMs)
  console.log(`${label}: ${bursts.length} bursts of ${CONCURRENCY}; exactly one 201 in ${exactlyOne}/${bursts.length}; statuses ${JSON.stringify(statuses)}`)
  console.log(`  request latency ms: p50 ${pct(all.map((r) => r.ms), 50).toFixed(1)}, p99 ${pct(all.map((r) => r.ms), 99).toFixed(1)}, max ${Math.max(...all.map((r) => r.ms)).toFixed(1)}`)
  console.log(`  burst wall time ms: p50 ${pct(walls, 50).toFixed(1)}, p99 ${pct(walls, 99).toFixed(1)}, max ${Math.max(...walls).toFixed(1)}`)
}

try {
  await burst((i) => weekdayAt(rounds * 3 + 1, i)) // warm-up, not reported
  const same = []
  for (let k = 0; k < rounds; k++) same.push(await burst(() => weekdayAt(k)))
  report('same slot', same)
  const shifted = []
  // Starts 09:00 ... 09:09 (every pair overlaps: 30 minutes + 10 buffer), a different day each round.
  for (let k = 0; k < Math.ceil(rounds / 2); k++) shifted.push(await burst((i) => weekdayAt(rounds + 1 + k, i % 10)))
  report('overlapping shifted times', shifted)
} finally {
  await app.close()
  await db.close()
  rmSync(dataDir, { recursive: true, force: true })
}
