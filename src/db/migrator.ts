import { Migrator, type Kysely, type Migration, type MigrationProvider, type MigrationResultSet } from 'kysely'
import { migrations } from '../../migrations/index.ts'

// Migrations are listed in a static index (no directory scan), so bundling and tsx agree.
const provider: MigrationProvider = { getMigrations: async () => migrations as Record<string, Migration> }

export function migratorFor(db: Kysely<any>) {
  return new Migrator({ db, provider })
}

export async function migrateToLatest(db: Kysely<any>): Promise<MigrationResultSet> {
  const result = await migratorFor(db).migrateToLatest()
  if (result.error) throw result.error
  return result
}

/** True when every known migration has been applied (readiness). */
export async function migrationsCurrent(db: Kysely<any>): Promise<boolean> {
  const infos = await migratorFor(db).getMigrations()
  return infos.every((m) => m.executedAt !== undefined)
}
