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
  /**
   * Waits for the upload's previous batch to commit, then takes the import's row lock (the
   * checkpoint this batch advances). Answers the ids of the records that batch created or changed
   * after this batch began: reads made before the call did not see those changes. Empty when the
   * previous batch had committed before this batch began, as it always has for a handler that does
   * not overlap (runImport calls this before its apply).
   */
  previous(): Promise<string[]>
  /**
   * For a handler that overlaps: it holds every lock it will take and will not throw RunAlone, so
   * the next batch may begin its reads. Called after previous(), before the writes.
   */
  locked(): void
}

/**
 * Thrown by an overlapping apply, after previous(), when the previous batch wrote records this
 * batch's rows matched or now match by natural key: its reads are rolled back and the batch runs
 * again alone, after the previous one, as if it had never overlapped.
 */
export class RunAlone extends Error {}

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
  /**
   * apply may begin while the previous batch of the upload is still writing (real Postgres only):
   * it reads and locks first, calls previous(), completes its reads for the records answered,
   * calls locked(), then writes. Rows sharing a natural key with the previous batch never overlap it.
   */
  overlaps?: boolean
  apply(batch: BatchContext, rows: { row: number; value: Row }[]): Promise<RowOutcome[]>
}
