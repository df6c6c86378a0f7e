import type { TSchema } from '@sinclair/typebox'
import type { Transaction } from 'kysely'
import type { Database } from '../../db/database.ts'
import type { RequestContext } from '../../http/context.ts'
import type { Permission } from '../../http/permissions.ts'
import type { RowProblem } from './import-parse.ts'
import type { ImportJobRow } from './import.repository.ts'
import type { ImportOutcome } from './import.schemas.ts'

export type FieldProblem = { pointer: string; detail: string }

export interface RowOutcome {
  outcome: ImportOutcome
  recordId: string | null
  problem?: RowProblem
}

export interface BatchContext {
  trx: Transaction<Database>
  ctx: RequestContext
  job: ImportJobRow
}

/**
 * What one record kind brings to the generic import: the row schema (the single-record create
 * schema, extended only by the natural key and by references a file from another system can give,
 * such as an MRN or an NPI for our ids), the checks a schema cannot state, the natural keys
 * of a row, and the batch upsert. `apply` runs inside the batch's transaction, answers one outcome
 * per row in order, and writes nothing in a dry run.
 */
export interface ImportKindHandler<Row = Record<string, unknown>> {
  schema: TSchema
  /** What the single-record endpoint of the kind requires: an import does no more than it allows. */
  permission: Permission
  /** Fills job-level fields (the facility) and returns what the schema cannot check. */
  prepare(row: Row, job: ImportJobRow): FieldProblem[]
  /** Natural keys of a valid row; two rows sharing one never go in the same batch. */
  keys(row: Row): string[]
  apply(batch: BatchContext, rows: { row: number; value: Row }[]): Promise<RowOutcome[]>
}
