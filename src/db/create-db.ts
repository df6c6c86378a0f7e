import { mkdirSync } from 'node:fs'
import { CamelCasePlugin, Kysely, PostgresDialect, type Dialect } from 'kysely'
import pg from 'pg'
import type { Logger } from 'pino'
import type { Database } from './database.ts'

export type Engine = 'postgres' | 'pglite'

export interface Db {
  kysely: Kysely<Database>
  engine: Engine
  close(): Promise<void>
}

export interface DbOptions {
  databaseUrl?: string
  dataDir?: string
  /** A PGlite data dump (from dumpDataDir) to start from instead of an empty cluster. */
  loadDataDir?: Blob
  poolMax?: number
  /** Postgres only: statement_timeout of every pooled connection (0 or unset: none). */
  statementTimeoutMs?: number
  /** Postgres only: idle_in_transaction_session_timeout of every pooled connection (0 or unset: none). */
  idleInTransactionTimeoutMs?: number
  log?: Pick<Logger, 'warn' | 'error' | 'info'>
}

// int8 (bigint) and numeric come back as strings: JS numbers would silently lose digits.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => v)

/**
 * Sends Kysely's parameterised queries as named prepared statements, so each connection parses a
 * statement once and Postgres may reuse its plan: the API runs the same few hundred statements
 * over and over, and parse plus plan was most of the database time of a patient search (four
 * short queries, 1.4 ms of 2 ms each). Statements whose text changes with a row count (multi-row
 * VALUES lists: many parameters) stay unnamed: each would pin a cached plan. Batches that travel
 * as one JSON parameter (audit events, import rows: recordset) keep one text and are prepared like
 * the rest. The text limit is a guard only: at 4,000 characters the name search (5,400) was
 * planned at every call, 3.7 ms against 1.6 of execution.
 */
const MAX_PREPARED_TEXT = 16_000
const MAX_PREPARED_PARAMS = 100
function preparedStatements(client: pg.PoolClient) {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown
  const names = new Map<string, string>()
  ;(client as { query: unknown }).query = (text: unknown, values?: unknown, callback?: unknown) => {
    if (typeof text !== 'string' || !Array.isArray(values) || values.length === 0 || values.length > MAX_PREPARED_PARAMS || text.length > MAX_PREPARED_TEXT) {
      return query(text, values, callback)
    }
    let name = names.get(text)
    if (!name) {
      name = `k${names.size}`
      names.set(text, name)
    }
    return query({ name, text, values }, callback)
  }
}

export function kyselyFor(dialect: Dialect): Kysely<Database> {
  return new Kysely<Database>({ dialect, plugins: [new CamelCasePlugin({ maintainNestedObjectKeys: true })] })
}

/**
 * One Kysely type over either engine: a pg pool when a URL is given, otherwise the embedded
 * PGlite cluster (Postgres in WASM) persisted under dataDir, or in memory when dataDir is unset.
 */
export async function createDb(opts: DbOptions): Promise<Db> {
  if (opts.databaseUrl) {
    // The limits travel in the startup packet: each connection's own defaults, which RESET restores
    // (migrateToLatest lifts them on its connection and puts them back).
    const pool = new pg.Pool({
      connectionString: opts.databaseUrl, max: opts.poolMax ?? 20, connectionTimeoutMillis: 5000,
      ...(opts.statementTimeoutMs ? { statement_timeout: opts.statementTimeoutMs } : {}),
      ...(opts.idleInTransactionTimeoutMs ? { idle_in_transaction_session_timeout: opts.idleInTransactionTimeoutMs } : {}),
    })
    // An idle client losing its server (Postgres restarted) emits 'error' on the pool; unhandled, it
    // would crash the process. Requests meanwhile fail with connection errors and get 503.
    pool.on('error', (err) => opts.log?.error({ code: (err as { code?: string }).code }, 'postgres pool client error'))
    // The pool listens only to idle clients. A checked-out client whose connection drops (in a
    // query or a transaction) emits 'error' with no listener, and that would crash the process;
    // its query fails on its own, and the pool discards it on release.
    pool.on('connect', (client) => {
      client.on('error', (err) => opts.log?.warn({ code: (err as { code?: string }).code }, 'postgres connection lost'))
      preparedStatements(client)
    })
    const kysely = kyselyFor(new PostgresDialect({ pool }))
    return { kysely, engine: 'postgres', close: () => kysely.destroy() }
  }
  const { PGlite } = await import('@electric-sql/pglite')
  const { PGliteDialect } = await import('kysely-pglite-dialect')
  const extensions = await pgliteExtensions()
  if (opts.dataDir) mkdirSync(opts.dataDir, { recursive: true })
  const pglite = await PGlite.create({ dataDir: opts.dataDir, extensions, loadDataDir: opts.loadDataDir })
  const kysely = kyselyFor(new PGliteDialect(pglite))
  return {
    kysely,
    engine: 'pglite',
    close: async () => {
      await kysely.destroy()
      if (!pglite.closed) await pglite.close()
    },
  }
}

export async function pgliteExtensions() {
  const [{ btree_gist }, { pg_trgm }, { fuzzystrmatch }] = await Promise.all([
    import('@electric-sql/pglite/contrib/btree_gist'),
    import('@electric-sql/pglite/contrib/pg_trgm'),
    import('@electric-sql/pglite/contrib/fuzzystrmatch'),
  ])
  return { btree_gist, pg_trgm, fuzzystrmatch }
}
