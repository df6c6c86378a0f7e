import type { Readable } from 'node:stream'
import type { ValidateFunction } from 'ajv'
import { sql } from 'kysely'
import { canActFor, facilityScope } from '../../http/auth.ts'
import { auditChange, auditRead, withTransaction, type RequestContext } from '../../http/context.ts'
import { BadRequestError, ConflictError, ForbiddenError, NotFoundError, ProblemError } from '../../http/errors.ts'
import { buildValidator } from '../../http/validation.ts'
import { RunAlone, type ImportKindHandler, type RowOutcome } from './import-kind.ts'
import { byteLimit, readRows, rowProblem, TooLargeError, type ParsedRow, type RowProblem } from './import-parse.ts'
import * as repo from './import.repository.ts'
import type { CreateImportBody, Import, ImportFormat, ImportKind, ImportResult } from './import.schemas.ts'

export type KindHandlers = Partial<Record<ImportKind, ImportKindHandler<any>>>

export interface ImportOptions {
  maxBytes: number
  batchRows: number
  /**
   * Whether a handler that overlaps may have two batches in flight, each on its own connection:
   * real Postgres. PGlite is one connection, whose transactions run one after another.
   */
  overlapBatches: boolean
}

export function toImport(row: repo.ImportJobRow): Import {
  return {
    id: row.id,
    facilityId: row.facilityId,
    kind: row.kind,
    format: row.format,
    dryRun: row.dryRun,
    allowDuplicates: row.allowDuplicates,
    status: row.status,
    rowsRead: Number(row.rowsProcessed),
    created: Number(row.createdCount),
    updated: Number(row.updatedCount),
    unchanged: Number(row.unchangedCount),
    rejected: Number(row.rejectedCount),
    duplicates: Number(row.duplicateCount),
    problem: row.problem as Import['problem'],
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    completedAt: row.completedAt ? row.completedAt.toISOString() : null,
  }
}

export async function createImport(ctx: RequestContext, handlers: KindHandlers, body: CreateImportBody): Promise<Import> {
  if (!canActFor(ctx.principal, body.facilityId)) throw new NotFoundError('Facility')
  const handler = handlers[body.kind]
  if (!handler) {
    throw new BadRequestError(`Imports of ${body.kind} are not available yet`, [{ pointer: '/kind', detail: 'not available' }])
  }
  checkKindPermission(ctx, handler, body.kind)
  return withTransaction(ctx, async (trx) => {
    const facility = await trx.selectFrom('facility').select('organizationId').where('id', '=', body.facilityId).executeTakeFirst()
    if (!facility) throw new NotFoundError('Facility')
    const job = await repo.insertImportJob(trx, { ...body, dryRun: body.dryRun ?? false, allowDuplicates: body.allowDuplicates ?? false }, facility.organizationId, ctx.principal.sub)
    await auditChange(trx, ctx, {
      action: 'create', verb: 'import.create', resourceType: 'import', resourceId: job.id, facilityId: job.facilityId,
      detail: { kind: job.kind, format: job.format, dryRun: job.dryRun, allowDuplicates: job.allowDuplicates },
    })
    return toImport(job)
  })
}

/** An import does no more than the kind's single-record endpoint would let the caller do. */
function checkKindPermission(ctx: RequestContext, handler: ImportKindHandler<any>, kind: ImportKind) {
  if (!ctx.principal.permissions.has(handler.permission)) throw new ForbiddenError(`Imports of ${kind} need the ${handler.permission} permission`)
}

async function findJob(ctx: RequestContext, id: string) {
  const job = await repo.findImportJob(ctx.db, id, facilityScope(ctx.principal))
  if (!job) throw new NotFoundError('Import')
  return job
}

export async function getImport(ctx: RequestContext, id: string): Promise<Import> {
  return toImport(await findJob(ctx, id))
}

/**
 * The per-row results in row order, as NDJSON lines, read a few batches at a time so a million
 * rows stream in bounded memory. Audited as one read of the import (the results name patient ids).
 */
export async function importResults(ctx: RequestContext, id: string): Promise<AsyncGenerator<string>> {
  const job = await findJob(ctx, id)
  await auditRead(ctx, { verb: 'import.results', resourceType: 'import', resourceId: job.id, facilityId: job.facilityId })
  return (async function* () {
    let after = 0
    for (;;) {
      const page = await repo.listBatches(ctx.db, id, after, 20)
      if (page.length === 0) return
      for (const batch of page) {
        const first = Number(batch.firstRow)
        yield (batch.results as Omit<ImportResult, 'row'>[]).map((r, n) => `${JSON.stringify({ row: first + n, ...r })}\n`).join('')
        after = first
      }
    }
  })()
}

const validators = new WeakMap<ImportKindHandler<any>, ValidateFunction>()
function validatorFor(handler: ImportKindHandler<any>): ValidateFunction {
  let v = validators.get(handler)
  if (!v) validators.set(handler, (v = buildValidator()({ schema: handler.schema, httpPart: 'body' })))
  return v
}

interface Pending {
  row: number
  value?: Record<string, unknown>
  problem?: RowProblem
}

/**
 * Reads an import's file from `source` and applies it batch by batch. Each batch is one
 * transaction holding its records, their audit events, its results and the advanced checkpoint;
 * batches commit in file order, so a crash or a broken upload loses at most the batches in flight,
 * and sending the same file again skips exactly the rows already committed. Rows whose natural
 * keys repeat a key of the batch being filled start a new batch, so a later row always sees the
 * earlier one committed.
 */
export async function runImport(
  ctx: RequestContext,
  handlers: KindHandlers,
  opts: ImportOptions,
  id: string,
  upload: { format: ImportFormat; contentLength: number | undefined; source: Readable },
): Promise<Import> {
  const job = await findJob(ctx, id)
  if (job.status === 'completed') throw new ConflictError('import-completed', 'This import has completed; create a new import to load another file')
  if (upload.format !== job.format) {
    throw new ProblemError(415, 'unsupported-media-type', 'Unsupported Media Type', `This import expects ${job.format === 'csv' ? 'text/csv' : 'application/x-ndjson'}`)
  }
  if (upload.contentLength !== undefined && upload.contentLength > opts.maxBytes) {
    throw new TooLargeError(`The file is larger than the configured limit of ${opts.maxBytes} bytes`)
  }
  const handler = handlers[job.kind]!
  checkKindPermission(ctx, handler, job.kind)
  const validate = validatorFor(handler)
  const checkpoint = Number(job.rowsProcessed)

  await ctx.db.transaction().execute(async (trx) => {
    await repo.lockImportJob(trx, id)
    await repo.setImportStatus(trx, id, 'running', null)
    await auditChange(trx, ctx, {
      action: 'execute', verb: 'import.execute', resourceType: 'import', resourceId: id, facilityId: job.facilityId,
      detail: { kind: job.kind, format: job.format, dryRun: job.dryRun, resumeAfterRow: checkpoint },
    })
  })

  // Not pipeline(): it would destroy the request on a limit error, and with it the socket that
  // must still carry the 413.
  const limiter = byteLimit(opts.maxBytes)
  upload.source.on('error', (err) => limiter.destroy(err))
  upload.source.pipe(limiter)

  // The next batch is read and validated while the database applies the ones before. A handler
  // that overlaps has two batches in flight: one writing, the next reading and locking (see
  // startBatch); at most three batches are in memory.
  const overlap = opts.overlapBatches && handler.overlaps === true
  let batch: Pending[] = []
  let batchKeys = new Set<string>()
  let last: InFlight = { committed: Promise.resolve([]), locked: Promise.resolve() }
  let lastKeys = new Set<string>()
  const flush = async () => {
    if (batch.length === 0) return
    const rows = batch
    const keys = batchKeys
    batch = []
    batchKeys = new Set()
    // A natural key of the batch before resolves otherwise once that batch commits: wait for it.
    const early = overlap && ![...keys].some((k) => lastKeys.has(k))
    await (early ? last.locked : last.committed)
    last = startBatch(ctx, handler, job, rows, early ? last.committed : undefined)
    lastKeys = keys
  }

  try {
    for await (const parsed of readRows(limiter, job.format, handler.schema) as AsyncGenerator<ParsedRow>) {
      if (parsed.row <= checkpoint) continue
      const pending = checkRow(handler, validate, job, parsed)
      const keys = pending.value ? handler.keys(pending.value) : []
      if (keys.some((k) => batchKeys.has(k))) await flush()
      batch.push(pending)
      for (const k of keys) batchKeys.add(k)
      if (batch.length >= opts.batchRows) await flush()
    }
    await flush()
    await last.committed
  } catch (err) {
    upload.source.unpipe(limiter)
    // The batches in flight settle first: the last commit is the checkpoint a resumed upload starts after.
    await last.committed.catch(() => undefined)
    await stop(ctx, id, err)
    throw err
  }
  return toImport(await repo.setImportStatus(ctx.db, id, 'completed', null))
}

function checkRow(handler: ImportKindHandler<any>, validate: ValidateFunction, job: repo.ImportJobRow, parsed: ParsedRow): Pending {
  if (!parsed.value) return { row: parsed.row, problem: parsed.problem }
  const value = parsed.value
  const schemaOk = validate(value)
  const problems = schemaOk ? handler.prepare(value, job) : []
  if (!schemaOk) {
    return { row: parsed.row, problem: { ...rowProblem({ validation: validate.errors, validationContext: 'body' }), detail: 'The row is not valid' } }
  }
  if (problems.length > 0) return { row: parsed.row, problem: rowProblem(new BadRequestError('The row is not valid', problems)) }
  return { row: parsed.row, value }
}

interface InFlight {
  /**
   * Settles when the batch has committed, with the ids of the records it wrote, or has failed; never
   * before the batch before it has settled, so a failure cannot let a later batch commit.
   */
  committed: Promise<string[]>
  /** Settles once the batch holds all its locks (the next may begin its reads), or has failed. */
  locked: Promise<void>
}

/**
 * Applies one batch in its own transaction. `before` is the previous batch still in flight, for an
 * overlapping handler; without it, the previous batch has committed. Commits stay in file order:
 * the batch commits only after `before` has, inside its own transaction, so the checkpoint only
 * moves forward and a failed batch stops every later one from committing.
 */
function startBatch(ctx: RequestContext, handler: ImportKindHandler<any>, job: repo.ImportJobRow, rows: Pending[], before: Promise<string[]> | undefined): InFlight {
  let signal!: () => void
  let fail!: (err: unknown) => void
  const locked = new Promise<void>((resolve, reject) => ((signal = resolve), (fail = reject)))
  const committed = (async () => {
    try {
      try {
        return await applyBatch(ctx, handler, job, rows, before, signal)
      } catch (err) {
        if (!(err instanceof RunAlone)) throw err
        return await applyBatch(ctx, handler, job, rows, undefined, signal, before)
      }
    } catch (err) {
      fail(err)
      await before?.catch(() => undefined)
      throw err
    }
  })()
  // Awaited by the next batch or at the end; a failure until then is not an unhandled rejection.
  committed.catch(() => undefined)
  locked.catch(() => undefined)
  return { committed, locked }
}

async function applyBatch(
  ctx: RequestContext,
  handler: ImportKindHandler<any>,
  job: repo.ImportJobRow,
  rows: Pending[],
  before: Promise<string[]> | undefined,
  locked: () => void,
  // A batch run again alone: it begins once the batch before has committed.
  after?: Promise<string[]>,
): Promise<string[]> {
  await after
  const valid = rows.filter((r) => r.value) as { row: number; value: Record<string, unknown> }[]
  const results = await ctx.db.transaction().execute(async (trx) => {
    // A batch's statements each take milliseconds; Postgres' JIT would spend hundreds compiling them.
    await sql`SET LOCAL jit = off`.execute(trx)
    let settled: Promise<string[]> | undefined
    const previous = () =>
      (settled ??= (async () => {
        const missed = (await before) ?? []
        const current = await repo.lockImportJob(trx, job.id)
        // Another upload of the same import got here first: its rows are not ours to repeat.
        if (Number(current.rowsProcessed) !== rows[0].row - 1 || current.status !== 'running') {
          throw new ConflictError('import-in-progress', 'Another upload of this import is running; watch its progress or retry later')
        }
        return missed
      })())
    // An overlapping handler takes the import's lock last, after its own locks: the batch before it
    // holds that lock until it commits, and must never wait for this batch.
    if (!handler.overlaps) await previous()
    const applied = valid.length > 0 ? await handler.apply({ trx, ctx, job, previous, locked }, valid) : []
    await previous()
    locked()
    const byRow = new Map<number, RowOutcome>(valid.map((r, n) => [r.row, applied[n]]))
    const results = rows.map((r) => byRow.get(r.row) ?? { outcome: 'rejected' as const, recordId: null, problem: r.problem })
    const counts = { created: 0, updated: 0, unchanged: 0, rejected: 0, duplicate: 0 }
    for (const r of results) counts[r.outcome]++
    await repo.commitBatch(trx, job.id, rows[0].row, results, counts)
    return results
  })
  return job.dryRun ? [] : results.flatMap((r) => (r.recordId && (r.outcome === 'created' || r.outcome === 'updated') ? [r.recordId] : []))
}

/**
 * Records why the upload stopped. A broken connection or a database failure leaves the job
 * `interrupted` (send the file again to resume); a file that cannot be read on marks it `failed`.
 * A concurrent upload's conflict changes nothing: that upload owns the job.
 */
async function stop(ctx: RequestContext, id: string, err: unknown) {
  if (err instanceof ConflictError) return
  const fatal = err instanceof TooLargeError || err instanceof BadRequestError
  const problem = fatal
    ? rowProblem(err)
    : { ...rowProblem(new ProblemError(503, 'upload-interrupted', 'Service Unavailable', 'The upload stopped before its end; send the same file again to resume')) }
  try {
    await repo.setImportStatus(ctx.db, id, fatal ? 'failed' : 'interrupted', problem)
  } catch {
    // The database itself is gone: the job stays `running`, and a new upload resumes it all the same.
  }
}
