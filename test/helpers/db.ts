import { createHash, randomBytes } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { createDb, kyselyFor, pgliteExtensions, type Db } from '../../src/db/create-db.ts'
import { migrateToLatest } from '../../src/db/migrator.ts'

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL

/** Changes whenever a migration changes, so stale templates are never reused. */
const migrationsHash = (() => {
  const dir = new URL('../../migrations/', import.meta.url).pathname
  const h = createHash('sha256')
  for (const f of readdirSync(dir).sort()) h.update(f).update(readFileSync(join(dir, f)))
  return h.digest('hex').slice(0, 12)
})()

export const usingPostgres = () => Boolean(TEST_DATABASE_URL)

/**
 * A fresh, migrated database for one test file. Real Postgres (TEST_DATABASE_URL): a database
 * cloned from a template migrated once per migration set. Otherwise PGlite restored from a
 * migrated snapshot. Either way, test files never see each other's rows.
 */
export async function freshDatabase(): Promise<{ db: Db; url?: string; drop: () => Promise<void> }> {
  if (TEST_DATABASE_URL) return freshPostgres(TEST_DATABASE_URL)
  return freshPglite(join(tmpdir(), `patient-access-pglite-${migrationsHash}.tar.gz`))
}

async function freshPglite(snapshot: string) {
  if (!existsSync(snapshot)) {
    const { PGlite } = await import('@electric-sql/pglite')
    const { PGliteDialect } = await import('kysely-pglite-dialect')
    const pglite = await PGlite.create({ extensions: await pgliteExtensions() })
    const k = kyselyFor(new PGliteDialect(pglite))
    await migrateToLatest(k)
    const dump = await pglite.dumpDataDir('gzip')
    const tmp = `${snapshot}.${process.pid}`
    writeFileSync(tmp, Buffer.from(await dump.arrayBuffer()))
    renameSync(tmp, snapshot)
    await pglite.close()
  }
  const db = await createDb({ loadDataDir: new Blob([readFileSync(snapshot)]) })
  return { db, drop: () => db.close() }
}

function withDatabase(url: string, name: string) {
  const u = new URL(url)
  u.pathname = `/${name}`
  return u.toString()
}

async function freshPostgres(adminUrl: string) {
  const template = `pa_tmpl_${migrationsHash}`
  const admin = new pg.Client({ connectionString: adminUrl })
  await admin.connect()
  try {
    await admin.query('SELECT pg_advisory_lock(747001)')
    try {
      const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [template])
      if (!rowCount) {
        await admin.query(`CREATE DATABASE ${template}`)
        const tdb = await createDb({ databaseUrl: withDatabase(adminUrl, template), poolMax: 1 })
        await migrateToLatest(tdb.kysely)
        await tdb.close()
      }
    } finally {
      await admin.query('SELECT pg_advisory_unlock(747001)')
    }
    const name = `pa_test_${randomBytes(6).toString('hex')}`
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.query(`CREATE DATABASE ${name} TEMPLATE ${template}`)
        break
      } catch (err) {
        // Another file cloning the template at the same instant: wait and retry.
        if (attempt > 20 || !/being accessed by other users/.test((err as Error).message)) throw err
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 200))
      }
    }
    const url = withDatabase(adminUrl, name)
    const db = await createDb({ databaseUrl: url, poolMax: 20 })
    return {
      db,
      url,
      drop: async () => {
        await db.close()
        const c = new pg.Client({ connectionString: adminUrl })
        await c.connect()
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
        await c.end()
      },
    }
  } finally {
    await admin.end()
  }
}
