import { sql } from 'kysely'
import { migrationsCurrent } from '../../src/db/migrator.ts'
import { captureQueries, type CapturedQuery } from '../lib/database.ts'
import { defineScenario } from '../lib/scenario.ts'

/**
 * Readiness: `select 1`, then the migrator's check (catalog introspection and the migration
 * table). The raw baseline replays exactly the statements the check issues, captured once.
 */
export const readyz = defineScenario<CapturedQuery[]>({
  name: 'readyz',
  description: 'GET /readyz (public): database ping and migrations-current check',
  setup: (ctx) =>
    captureQueries(ctx.pool, async (db) => {
      await sql`select 1`.execute(db)
      await migrationsCurrent(db)
    }),
  request: () => ({ method: 'GET', path: '/readyz' }),
  raw: {
    label: 'same statements as /readyz (select 1 + migrator check), replayed',
    async run(pool, queries) {
      for (const q of queries) await pool.query(q.sql, q.parameters as unknown[])
    },
  },
})
