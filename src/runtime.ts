import { resolve } from 'node:path'
import pino from 'pino'
import { ConfigError, loadConfig, type Config } from './config.ts'
import { createDb, type Db, type DbOptions } from './db/create-db.ts'

/** The PostgreSQL pool as the configuration sets it (the server, the CLIs and the bench's servers). */
export const poolOptions = (config: Config): Pick<DbOptions, 'poolMax' | 'statementTimeoutMs' | 'idleInTransactionTimeoutMs'> => ({
  poolMax: config.DB_POOL_MAX,
  statementTimeoutMs: config.DB_STATEMENT_TIMEOUT_MS,
  idleInTransactionTimeoutMs: config.DB_IDLE_IN_TRANSACTION_TIMEOUT_MS,
})

/** Config and database as the server and the CLIs open them (one way, so they agree). */
export async function openRuntime(env: Record<string, string | undefined> = process.env): Promise<{ config: Config; db: Db; log: pino.Logger }> {
  let config: Config
  try {
    config = loadConfig(env)
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`)
      process.exit(2)
    }
    throw err
  }
  const log = pino({ level: config.LOG_LEVEL })
  const db = await createDb({
    databaseUrl: config.DATABASE_URL,
    dataDir: resolve(config.DATA_DIR, 'pgdata'),
    ...poolOptions(config),
    log,
  })
  if (db.engine === 'pglite') {
    log.warn({ dataDir: resolve(config.DATA_DIR, 'pgdata') }, 'Using the EMBEDDED TRIAL DATABASE (PGlite). Set DATABASE_URL to use PostgreSQL in production.')
  }
  return { config, db, log }
}
