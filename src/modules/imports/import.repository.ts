import { sql, type Kysely, type Transaction } from 'kysely'
import type { Database } from '../../db/database.ts'
import { scopeIds } from '../../db/query-helpers.ts'
import type { CreateImportBody } from './import.schemas.ts'

type Db = Kysely<Database>

export function insertImportJob(trx: Transaction<Database>, body: Required<CreateImportBody>, organizationId: string, createdBy: string) {
  return trx
    .insertInto('importJob')
    .values({ ...body, organizationId, createdBy, status: 'created' })
    .returningAll()
    .executeTakeFirstOrThrow()
}

export function findImportJob(db: Db, id: string, facilityIds: string[] | undefined) {
  let q = db.selectFrom('importJob').selectAll().where('id', '=', id)
  if (facilityIds) q = q.where('facilityId', 'in', scopeIds(facilityIds))
  return q.executeTakeFirst()
}

export type ImportJobRow = NonNullable<Awaited<ReturnType<typeof findImportJob>>>

/** Row lock on the job: each batch takes it, so two uploads of one job cannot interleave. */
export function lockImportJob(trx: Transaction<Database>, id: string) {
  return trx.selectFrom('importJob').selectAll().where('id', '=', id).forUpdate().executeTakeFirstOrThrow()
}

export function setImportStatus(db: Db, id: string, status: 'running' | 'interrupted' | 'completed' | 'failed', problem: Record<string, unknown> | null) {
  return db
    .updateTable('importJob')
    .set({ status, problem: problem && JSON.stringify(problem), updatedAt: sql`now()`, completedAt: status === 'completed' ? sql`now()` : null })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow()
}

export interface BatchCounts {
  created: number
  updated: number
  unchanged: number
  rejected: number
  duplicate: number
}

/** Stores a batch's results and advances the checkpoint, in the batch's own transaction. */
export async function commitBatch(trx: Transaction<Database>, id: string, firstRow: number, results: unknown[], counts: BatchCounts) {
  const lastRow = firstRow + results.length - 1
  await trx.insertInto('importBatch').values({ importId: id, firstRow, lastRow, results: JSON.stringify(results) }).execute()
  await trx
    .updateTable('importJob')
    .set({
      rowsProcessed: sql`rows_processed + ${results.length}`,
      createdCount: sql`created_count + ${counts.created}`,
      updatedCount: sql`updated_count + ${counts.updated}`,
      unchangedCount: sql`unchanged_count + ${counts.unchanged}`,
      rejectedCount: sql`rejected_count + ${counts.rejected}`,
      duplicateCount: sql`duplicate_count + ${counts.duplicate}`,
      updatedAt: sql`now()`,
    })
    .where('id', '=', id)
    .execute()
}

/** Committed batches in row order, a page at a time (keyset on first_row). */
export function listBatches(db: Db, id: string, afterRow: number, limit: number) {
  return db
    .selectFrom('importBatch')
    .select(['firstRow', 'results'])
    .where('importId', '=', id)
    .where('firstRow', '>', afterRow as unknown as string)
    .orderBy('firstRow')
    .limit(limit)
    .execute()
}
