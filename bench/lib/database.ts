import { CamelCasePlugin, Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import type { Database } from '../../src/db/database.ts'

/** Creates the bench database on its server when it does not exist yet; `reset` drops it first. */
export async function ensureDatabase(url: string, reset: boolean): Promise<'created' | 'recreated' | 'exists'> {
  const target = new URL(url)
  const name = decodeURIComponent(target.pathname.slice(1))
  if (!/^[A-Za-z0-9_]{1,63}$/.test(name)) throw new Error(`BENCH_DATABASE_URL: database name "${name}" must be letters, digits and _`)
  const admin = new URL(url)
  admin.pathname = '/postgres'
  const client = new pg.Client({ connectionString: admin.toString() })
  await client.connect()
  try {
    if (reset) await client.query(`drop database if exists "${name}" with (force)`)
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [name])
    if (rowCount) return 'exists'
    await client.query(`create database "${name}"`)
    return reset ? 'recreated' : 'created'
  } finally {
    await client.end()
  }
}

export interface CapturedQuery {
  sql: string
  parameters: readonly unknown[]
}

/** Runs fn against a Kysely that records every statement it sends, so a raw baseline can replay them. */
export async function captureQueries(pool: pg.Pool, fn: (db: Kysely<Database>) => Promise<unknown>): Promise<CapturedQuery[]> {
  const queries: CapturedQuery[] = []
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({ pool }),
    plugins: [new CamelCasePlugin({ maintainNestedObjectKeys: true })],
    log: (event) => {
      if (event.level === 'query') queries.push({ sql: event.query.sql, parameters: event.query.parameters })
    },
  })
  // Not destroyed: that would end the shared pool it borrows.
  await fn(db)
  return queries
}

/**
 * Waits until the servers' sealers have chained every audit event, so one scenario's backlog
 * does not load the next measurement. Returns the seconds it took, or undefined on timeout.
 */
export async function waitForSealed(pool: pg.Pool, timeoutMs: number): Promise<number | undefined> {
  const start = performance.now()
  for (;;) {
    const { rows } = await pool.query<{ pending: boolean }>('select exists (select 1 from audit_pending) as pending')
    if (!rows[0].pending) return (performance.now() - start) / 1000
    if (performance.now() - start > timeoutMs) return undefined
    await new Promise((r) => setTimeout(r, 100))
  }
}
