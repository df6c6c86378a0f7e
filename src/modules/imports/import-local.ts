import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import { Readable } from 'node:stream'
import type { Kysely } from 'kysely'
import type { Config } from '../../config.ts'
import type { Engine } from '../../db/create-db.ts'
import type { Database } from '../../db/database.ts'
import { AuditWriter } from '../../http/audit.ts'
import type { Principal } from '../../http/auth.ts'
import type { RequestContext } from '../../http/context.ts'
import { ForbiddenError } from '../../http/errors.ts'
import { DEFAULT_PURPOSE_OF_USE } from '../../http/security.ts'
import { importHandlers } from './import-handlers.ts'
import type { CreateImportBody, Import, ImportFormat } from './import.schemas.ts'
import * as service from './import.service.ts'

/** What the import CLI needs of an import service, over HTTP or in this process. */
export interface ImportClient {
  create(body: CreateImportBody): Promise<Import>
  get(id: string): Promise<Import>
  upload(id: string, format: ImportFormat, size: number, source: Readable): Promise<Import>
  results(id: string): Promise<Readable>
  close(): Promise<void>
}

/**
 * The service layer in this process, against a database, for the principal of a verified token:
 * the same jobs, checks, facility scoping, audit events and results as over the API, without the
 * HTTP hop (a migration from a host next to the database). The requests are audited as coming
 * from this host.
 */
export function localImportClient(opts: {
  config: Config
  db: Kysely<Database>
  principal: Principal
  /** The engine behind db: batches overlap on real Postgres only (PGlite is one connection). */
  engine?: Engine
}): ImportClient {
  const { config, db, principal } = opts
  const handlers = importHandlers(config)
  const auditWriter = new AuditWriter(db, config.AUDIT_FLUSH_MAX_BATCH)
  const ctx = (): RequestContext => {
    // The permission the API's routes ask of import callers.
    if (!principal.permissions.has('import:write')) throw new ForbiddenError()
    return { principal, requestId: randomUUID(), purposeOfUse: DEFAULT_PURPOSE_OF_USE, clientIp: `local:${hostname()}`, userAgent: 'patient-access-import-cli', db, auditWriter }
  }
  const limits = { maxBytes: config.IMPORT_MAX_BYTES, batchRows: config.IMPORT_BATCH_ROWS, overlapBatches: opts.engine === 'postgres' }
  return {
    create: async (body) => service.createImport(ctx(), handlers, body),
    get: async (id) => service.getImport(ctx(), id),
    upload: async (id, format, size, source) => service.runImport(ctx(), handlers, limits, id, { format, contentLength: size, source }),
    results: async (id) => Readable.from(await service.importResults(ctx(), id)),
    close: () => auditWriter.drain(),
  }
}
