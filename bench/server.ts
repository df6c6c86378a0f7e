import { parseArgs } from 'node:util'
import pino from 'pino'
import { buildApp } from '../src/app.ts'
import { loadConfig } from '../src/config.ts'
import { createDb } from '../src/db/create-db.ts'
import { poolOptions } from '../src/runtime.ts'

/**
 * The app as `src/server.ts` builds it, on a free loopback port, for bench/run.ts (which forks
 * this file and receives the port over IPC). `--audit off` makes read auditing a no-op and runs no
 * sealer: only the comparator for "the same read without auditing", never a way to run the service.
 */
const { values } = parseArgs({ options: { audit: { type: 'string', default: 'on' } } })
if (values.audit !== 'on' && values.audit !== 'off') throw new Error('--audit must be on or off')
if (!process.send) throw new Error('bench/server.ts is started by bench/run.ts')

const config = loadConfig({ ...process.env, HOST: '127.0.0.1', PORT: '0', MIGRATE_ON_START: 'false', SEED_DEMO: 'false' })
if (!config.DATABASE_URL) throw new Error('bench/server.ts needs DATABASE_URL (the bench runs against PostgreSQL only)')
const log = pino({ level: config.LOG_LEVEL })
const db = await createDb({ databaseUrl: config.DATABASE_URL, ...poolOptions(config), log })
// The audit-off server runs no sealer either: sealing and the recomputation before signing are
// audit work (the audited server's sealer chains every event), and a second sealer would recompute
// the chain again while the audited server is measured.
const app = await buildApp({ config, db, sealer: values.audit === 'on' })
if (values.audit === 'off') app.auditWriter.writeAll = async () => {}

let stopping = false
async function stop() {
  if (stopping) return
  stopping = true
  await app.close()
  await db.close()
  process.exit(0)
}
process.on('SIGTERM', () => void stop())
process.on('SIGINT', () => void stop())
// The parent went away without stopping us: do not outlive it.
process.on('disconnect', () => void stop())

await app.listen({ host: '127.0.0.1', port: 0 })
const address = app.server.address()
if (!address || typeof address === 'string') throw new Error('no TCP address')
// A parent that is already gone cannot be told: stop instead of crashing on EPIPE.
process.send({ port: address.port }, (err: Error | null) => {
  if (err) void stop()
})
