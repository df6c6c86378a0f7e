import { migrateToLatest, migratorFor } from '../db/migrator.ts'
import { openRuntime } from '../runtime.ts'

const { db } = await openRuntime()
try {
  if (process.argv.includes('--down')) {
    const { results, error } = await migratorFor(db.kysely).migrateDown()
    for (const r of results ?? []) process.stdout.write(`${r.direction} ${r.migrationName}: ${r.status}\n`)
    if (error) throw error
  } else {
    const { results } = await migrateToLatest(db.kysely)
    if (!results?.length) process.stdout.write('Database is up to date.\n')
    for (const r of results ?? []) process.stdout.write(`${r.direction} ${r.migrationName}: ${r.status}\n`)
  }
} finally {
  await db.close()
}
