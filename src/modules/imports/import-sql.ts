import { sql, type RawBuilder, type Transaction } from 'kysely'
import type { Database } from '../../db/database.ts'

export { lockKeys, recordset } from '../../db/query-helpers.ts'

/**
 * As recordset, for rows already shaped as the record: each column is the row's property of the
 * same name (quoted, so camelCase names work), and an absent property reads as null. The rows are
 * serialized as they are, without a copy of each with every column: the import's rows hold only
 * the fields they set, and most of a patient's columns are usually absent.
 */
export function rowsRecordset(rows: readonly object[], columns: readonly (readonly [string, string])[]): RawBuilder<unknown> {
  return sql`jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS v(${sql.raw(columns.map(([name, type]) => `"${name}" ${type}`).join(', '))})`
}

/** JSON with sorted keys: jsonb does not keep the key order it was given. */
export function canonical(v: unknown): string {
  if (v === undefined || v === null) return 'null'
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>
    return `{${Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`
  }
  return JSON.stringify(v)
}

/** Names of the fields whose values differ (by canonical JSON). */
export function changedFields<T extends object>(wanted: T, current: T): (keyof T & string)[] {
  return (Object.keys(wanted) as (keyof T & string)[]).filter((k) => canonical(wanted[k]) !== canonical(current[k]))
}

export const pgCode = (err: unknown) => (err as { code?: string }).code

/**
 * Runs a batch's reads and writes under a savepoint and runs them again, from fresh reads, when a
 * constraint raced them: a writer that takes none of the import's locks (a coverage created over
 * the API between our read and our insert) committed a conflicting row. The second pass sees that
 * row and rejects the import's row alone, instead of failing the batch.
 */
export async function rerunOnRace<T>(trx: Transaction<Database>, fn: () => Promise<T>, codes = ['23505', '23P01'], attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    await sql`SAVEPOINT import_rows`.execute(trx)
    try {
      const out = await fn()
      await sql`RELEASE SAVEPOINT import_rows`.execute(trx)
      return out
    } catch (err) {
      if (!codes.includes(pgCode(err) ?? '') || attempt >= attempts) throw err
      await sql`ROLLBACK TO SAVEPOINT import_rows`.execute(trx)
    }
  }
}
