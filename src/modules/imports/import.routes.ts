import { Readable } from 'node:stream'
import type { FastifyPluginAsync } from 'fastify'
import { Type, type Static } from '@sinclair/typebox'
import { ProblemError, problems } from '../../http/errors.ts'
import { idempotent, IdempotencyHeaders } from '../../http/idempotency.ts'
import { importHandlers } from './import-handlers.ts'
import { CreateImportBodySchema, ImportParams, ImportResultSchema, ImportSchema, IMPORT_MEDIA_TYPES } from './import.schemas.ts'
import * as service from './import.service.ts'

const tags = ['imports']

/**
 * The upload's body, handed to the handler unread. Its one field is private: request hooks that
 * walk a parsed body (the NUL check) see an empty object, not the socket behind the stream.
 */
class UploadBody {
  readonly #stream: Readable
  constructor(stream: Readable) {
    this.#stream = stream
  }
  get stream() {
    return this.#stream
  }
}

export const importRoutes: FastifyPluginAsync = async (app) => {
  const handlers = importHandlers(app.config)
  // PGlite is one connection: a second batch's transaction would only queue behind the first.
  const opts = { maxBytes: app.config.IMPORT_MAX_BYTES, batchRows: app.config.IMPORT_BATCH_ROWS, overlapBatches: app.db.engine === 'postgres' }
  app.addSchema(ImportSchema)
  app.addSchema(ImportResultSchema)
  const Import = Type.Ref('Import')

  // Only in this plugin: the file streams through to the import, never buffered whole.
  app.addContentTypeParser(Object.values(IMPORT_MEDIA_TYPES), (_req, payload, done) => done(null, new UploadBody(payload as Readable)))

  app.post<{ Body: Static<typeof CreateImportBodySchema> }>('/imports', {
    config: { permission: 'import:write' },
    schema: {
      operationId: 'createImport', tags, summary: 'Create a batch import',
      description:
        'Creates an empty import of one record kind for one facility; then PUT its file to `/imports/{importId}/file`. ' +
        'Each row is the body of the kind\'s single-record create endpoint (validated by the same schema), matched on a natural key and ' +
        'created, updated (fields the row leaves out keep their values) or left unchanged; sending the same file again changes nothing. ' +
        'patients: any of `identifiers` (system|value), or `mrn`; `facilityId` defaults to the import\'s. New patients that look like ' +
        'existing ones are reported as `duplicate` unless `allowDuplicates` (or the row carries `duplicateOverride`). ' +
        'providers (POST /providers body): the NPI within the organisation; `facilityIds` defaults to the import\'s facility and is added ' +
        'to the provider\'s links; `specialtyIds`, when given, replaces the specialties. ' +
        'coverages (POST /patients/{patientId}/coverages body): patient + payer (the plan\'s) + `memberId`, the patient named by ' +
        '`patientMrn` or `patientIdentifier` ({system, value}); a row that would give the patient two active coverages of one priority ' +
        'is rejected (409 coverage-priority-taken, /priority). ' +
        'appointments (POST /appointments body without holdId and referral fields): `sourceSystem` + `sourceId`, unique per facility; ' +
        'the patient by `patientId`, `patientMrn` or `patientIdentifier`, the provider by `providerId` or `providerNpi`; optional ' +
        '`status` (default booked) and `cancelReason`; minimum notice and availability are not applied, double booking is: an ' +
        'overlapping row is rejected (409 slot-unavailable, /start) unless it carries `overbookReason` (scheduling:overbook). ' +
        'The caller needs the permission of the kind\'s endpoint as well (patient:write, scheduling:write, eligibility:write). ' +
        '`dryRun` validates and reports without writing.',
      headers: IdempotencyHeaders, body: CreateImportBodySchema,
      response: { 201: Import, ...problems(400, 401, 403, 404, 413, 415, 422, 503) },
    },
  }, (req, reply) => idempotent(req, reply, 201, (ctx) => service.createImport(ctx, handlers, req.body), (b) => ({ location: `/imports/${b.id}` })))

  app.put<{ Params: ImportParams; Body: UploadBody }>('/imports/:importId/file', {
    config: { permission: 'import:write' },
    bodyLimit: app.config.IMPORT_MAX_BYTES,
    schema: {
      operationId: 'uploadImportFile', tags, summary: "Stream an import's file and apply it",
      description:
        'The body is the file (NDJSON: one JSON object per line; CSV: a header row, then one row per record, RFC 4180 quoting, an optional ' +
        'UTF-8 BOM), streamed: it is read and applied in batches of IMPORT_BATCH_ROWS rows, each committed with its results and the ' +
        'checkpoint. A bad row is rejected alone (see the results). If the upload breaks off, or the server stops, send the same file ' +
        'again: rows up to the checkpoint are skipped, so none is applied twice. Larger than IMPORT_MAX_BYTES: 413 (the job fails at its ' +
        'last committed batch). A CSV header naming a list item the list cannot hold (`identifiers.20.value` where at most 20 are ' +
        'allowed) or a file that cannot be read as CSV is 400. Answers the finished import.',
      params: ImportParams,
      body: { content: Object.fromEntries(Object.values(IMPORT_MEDIA_TYPES).map((t) => [t, { schema: { description: 'The file.', format: 'binary' } }])) },
      response: { 200: Import, ...problems(400, 401, 403, 404, 409, 413, 415, 503) },
    },
  }, async (req, reply) => {
    if (!(req.body instanceof UploadBody)) {
      throw new ProblemError(415, 'unsupported-media-type', 'Unsupported Media Type', 'Send the file as text/csv or application/x-ndjson')
    }
    const format = req.headers['content-type']!.startsWith(IMPORT_MEDIA_TYPES.csv) ? 'csv' : 'ndjson'
    const length = req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length'])
    try {
      return await service.runImport(req.ctx, handlers, opts, req.params.importId, { format, contentLength: length, source: req.body.stream })
    } catch (err) {
      // Answered before the end of the file (413, 409...): close the connection rather than read
      // the rest of a body that may be gigabytes long.
      if (!req.raw.complete) reply.header('connection', 'close')
      throw err
    }
  })

  app.get<{ Params: ImportParams }>('/imports/:importId', {
    config: { permission: 'import:write' },
    schema: {
      operationId: 'getImport', tags, summary: "An import's progress",
      description: 'Rows read (committed) and their outcomes so far; poll while the file uploads.',
      params: ImportParams,
      response: { 200: Import, ...problems(400, 401, 403, 404, 503) },
    },
  }, (req) => service.getImport(req.ctx, req.params.importId))

  app.get<{ Params: ImportParams }>('/imports/:importId/results', {
    config: { permission: 'import:write' },
    schema: {
      operationId: 'getImportResults', tags, summary: "An import's per-row results (NDJSON)",
      description: 'One line per committed row, in row order: `row`, `outcome`, `recordId`, and for rejected rows the `problem` with JSON pointers to the bad fields.',
      params: ImportParams,
      response: {
        200: { description: 'One ImportResult per line.', content: { 'application/x-ndjson': { schema: Type.Ref('ImportResult') } } },
        ...problems(400, 401, 403, 404, 503),
      },
    },
  }, async (req, reply) => {
    const lines = await service.importResults(req.ctx, req.params.importId)
    return reply.type('application/x-ndjson').send(Readable.from(lines))
  })
}
