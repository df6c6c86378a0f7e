import { Migrator, sql, type Kysely, type Migration, type MigrationProvider, type MigrationResultSet } from 'kysely'
import { migrations } from '../../migrations/index.ts'

// Migrations are listed in a static index (no directory scan), so bundling and tsx agree.
const provider: MigrationProvider = { getMigrations: async () => migrations as Record<string, Migration> }

export function migratorFor(db: Kysely<any>) {
  return new Migrator({ db, provider })
}

/**
 * Applies every pending migration, on one connection with the API's statement and idle-in-
 * transaction limits lifted (DB_STATEMENT_TIMEOUT_MS: an index built over a million rows takes
 * longer than any request should), and restored before the connection returns to the pool.
 */
export async function migrateToLatest(db: Kysely<any>): Promise<MigrationResultSet> {
  const result = await db.connection().execute(async (conn) => {
    await sql`SET statement_timeout = 0`.execute(conn)
    await sql`SET idle_in_transaction_session_timeout = 0`.execute(conn)
    try {
      return await migratorFor(conn).migrateToLatest()
    } finally {
      await sql`RESET statement_timeout`.execute(conn)
      await sql`RESET idle_in_transaction_session_timeout`.execute(conn)
    }
  })
  if (result.error) throw result.error
  return result
}

/** True when every known migration has been applied (readiness). */
export async function migrationsCurrent(db: Kysely<any>): Promise<boolean> {
  const infos = await migratorFor(db).getMigrations()
  return infos.every((m) => m.executedAt !== undefined)
}
