import { sql, type Expression, type Kysely, type RawBuilder, type SqlBool, type Transaction } from 'kysely'
import type { Database } from './database.ts'

// A uuid no row has: `IN` over an empty facility list must match nothing, and SQL has no `IN ()`.
const NO_ID = '00000000-0000-0000-0000-000000000000'

/** Facility ids for an `IN` filter; an empty scope matches no row. */
export const scopeIds = (ids: string[]) => (ids.length > 0 ? ids : [NO_ID])

const plainDbs = new WeakMap<Kysely<Database>, Kysely<Database>>()

/**
 * The handle without its plugins, for statements written as text whose columns are already named
 * as the code reads them. db.withoutPlugins() builds a new Kysely and executor at every call: one
 * per database handle here.
 */
export function plain<D extends Kysely<Database>>(db: D): D {
  let p = plainDbs.get(db)
  if (!p) plainDbs.set(db, (p = db.withoutPlugins()))
  return p as D
}

/** Keyset condition `(a, b) > (x, y)`: the rows after a cursor, index-friendly. */
export function after(columns: [string, string], key: (string | number)[]): Expression<SqlBool> {
  return sql<SqlBool>`(${sql.ref(columns[0])}, ${sql.ref(columns[1])}) > (${key[0]}, ${key[1]})`
}

/**
 * `jsonb_to_recordset` over rows given as one JSON parameter, aliased `v`: any number of rows in
 * one statement whose text does not depend on how many. Columns are [property, column, SQL type].
 */
export function recordset(rows: readonly object[], columns: readonly (readonly [string, string, string])[]): RawBuilder<unknown> {
  const json = JSON.stringify(rows.map((r) => Object.fromEntries(columns.map(([camel, snake]) => [snake, (r as Record<string, unknown>)[camel] ?? null]))))
  return sql`jsonb_to_recordset(${json}::jsonb) AS v(${sql.raw(columns.map(([, snake, type]) => `${snake} ${type}`).join(', '))})`
}

/**
 * Transaction-scoped advisory locks on many keys in one statement, in sorted order (the set
 * function yields the array in order), so two transactions locking overlapping sets never wait on
 * each other in a cycle. `seed` is the namespace of the keys.
 */
export async function lockKeys(trx: Transaction<Database> | Kysely<Database>, keys: string[], seed: number) {
  if (keys.length === 0) return
  const sorted = [...new Set(keys)].sort()
  await sql`SELECT pg_advisory_xact_lock(hashtextextended(k, ${sql.lit(seed)})) FROM jsonb_array_elements_text(${JSON.stringify(sorted)}::jsonb) AS k`.execute(trx)
}
