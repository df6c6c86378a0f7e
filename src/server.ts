import { buildApp } from './app.ts'
import { flag } from './config.ts'
import { migrateToLatest } from './db/migrator.ts'
import { seedDemo } from './cli/seed-data.ts'
import { openRuntime } from './runtime.ts'

const { config, db, log } = await openRuntime()

if (flag(config.MIGRATE_ON_START)) {
  const { results } = await migrateToLatest(db.kysely)
  for (const r of results ?? []) log.info({ migration: r.migrationName, status: r.status }, 'migration')
}
if (flag(config.SEED_DEMO)) await seedDemo(db.kysely, config, log)

const app = await buildApp({ config, db })
if (config.trial) {
  log.warn('Trial authentication: tokens are signed by a key in DATA_DIR. Mint one with `npm run token -- --role front_desk --facility <id>`.')
}

let stopping = false
async function shutdown(signal: string) {
  if (stopping) return
  stopping = true
  log.info({ signal }, 'shutting down: no new connections, finishing in-flight requests')
  const force = setTimeout(() => {
    log.error('in-flight requests did not finish in time; exiting')
    process.exit(1)
  }, config.SHUTDOWN_TIMEOUT_MS)
  force.unref()
  try {
    await app.close()
    await db.close()
    log.info('stopped')
    process.exit(0)
  } catch (err) {
    log.error({ err }, 'shutdown failed')
    process.exit(1)
  }
}
process.on('SIGTERM', () => void shutdown('SIGTERM'))
process.on('SIGINT', () => void shutdown('SIGINT'))

await app.listen({ port: config.PORT, host: config.HOST })
