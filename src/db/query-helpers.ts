import { sql, type Expression, type SqlBool } from 'kysely'

// A uuid no row has: `IN` over an empty facility list must match nothing, and SQL has no `IN ()`.
const NO_ID = '00000000-0000-0000-0000-000000000000'

/** Facility ids for an `IN` filter; an empty scope matches no row. */
export const scopeIds = (ids: string[]) => (ids.length > 0 ? ids : [NO_ID])

/** Keyset condition `(a, b) > (x, y)`: the rows after a cursor, index-friendly. */
export function after(columns: [string, string], key: (string | number)[]): Expression<SqlBool> {
  return sql<SqlBool>`(${sql.ref(columns[0])}, ${sql.ref(columns[1])}) > (${key[0]}, ${key[1]})`
}
