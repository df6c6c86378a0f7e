import { Readable } from 'node:stream'
import type { FastifyPluginAsync } from 'fastify'
import { Type, type Static } from '@sinclair/typebox'
import { problems } from '../../http/errors.ts'
import { decodeCursor, Page, PageQuery } from '../../http/pagination.ts'
import {
  AccessReportEntrySchema,
  AccessReportQuery,
  AuditEventQuery,
  AuditEventSchema,
  ChainVerificationSchema,
  CheckpointPageSchema,
  CheckpointSchema,
  ExportQuery,
  PatientParams,
  TimeRangeQuery,
} from './audit.schemas.ts'
import * as service from './audit.service.ts'

const tags = ['audit']

const FACILITY_RULE =
  'Facility rule: a token limited to some facilities sees the events of those facilities only; events that belong to no facility ' +
  '(organisation changes, refused requests without a facility, audit queries) are visible only to tokens whose facilities include `*`.'

export const auditRoutes: FastifyPluginAsync = async (app) => {
  app.addSchema(AuditEventSchema)
  app.addSchema(ChainVerificationSchema)
  app.addSchema(CheckpointSchema)
  app.addSchema(AccessReportEntrySchema)
  const signer = app.auditSealer.signer
  if (!signer) throw new Error('the audit routes need the sealer to hold a signing key')
  // Unsealed events older than this are reported by verification: ten sealing intervals leave
  // room for a slow or restarting sealer without hiding one that has stopped.
  const overdueAfterMs = Math.max(10 * app.config.AUDIT_SEAL_INTERVAL_MS, 30_000)

  app.get<{ Querystring: Static<typeof AuditEventQuery> }>('/audit-events', {
    config: { permission: 'audit:read' },
    schema: {
      operationId: 'listAuditEvents', tags, summary: 'Search the audit trail',
      description:
        'Events in time order (occurred_at, then id), with a cursor for the next page; the pages list the events before the first ' +
        'page was asked for (the reads of the pages themselves, audited below, are in the next listing). Filters combine with AND. ' +
        '`breakGlass=true` lists break-the-glass accesses for review. ' + FACILITY_RULE + ' The query itself is audited (`audit-event.search`).',
      querystring: AuditEventQuery,
      response: { 200: Page(Type.Ref('AuditEvent'), 'AuditEventPage'), ...problems(400, 401, 403, 503) },
    },
  }, (req) => {
    const { limit, cursor, ...filter } = req.query
    return service.searchAuditEvents(req.ctx, filter, decodeCursor(cursor, ['text', 'text', 'text']), limit ?? 25)
  })

  app.get<{ Querystring: Static<typeof ExportQuery> }>('/audit-events/export', {
    config: { permission: 'audit:read' },
    schema: {
      operationId: 'exportAuditEvents', tags, summary: 'Export the audit trail as FHIR R4 AuditEvent NDJSON',
      description:
        'Streams one FHIR R4 AuditEvent per line (application/x-ndjson) for the events of [from, to), in time order, shaped after ' +
        'IHE Basic Audit Log Patterns: type `rest` with the FHIR interaction and the domain verb as subtypes; action C/R/U/D/E ' +
        '(searches are E); outcome 0 success, 4 refused or not found, 8 failed; the user as requesting agent with roles, ' +
        'purpose of use (HL7 v3 ActReason) and network address; this service as observer; the patient, the resource (or the query) ' +
        'and the request id as entities; break-the-glass accesses carry the security label BTG. ' + FACILITY_RULE +
        ' The export is audited (`audit-event.export`) before the first line is sent.',
      querystring: ExportQuery,
      response: {
        200: {
          description: 'FHIR R4 AuditEvent resources, one per line.',
          content: { 'application/x-ndjson': { schema: Type.String({ description: 'Newline-delimited JSON: one AuditEvent resource per line.' }) } },
        },
        ...problems(400, 401, 403, 503),
      },
    },
  }, async (req, reply) => {
    const lines = await service.exportAuditEvents(req.ctx, req.query.from, req.query.to)
    return reply.type('application/x-ndjson').send(Readable.from(lines))
  })

  app.get<{ Querystring: Static<typeof TimeRangeQuery> }>('/audit-events/verify', {
    config: { permission: 'audit:read' },
    schema: {
      operationId: 'verifyAuditChain', tags, summary: 'Verify the audit hash chain and its latest signed checkpoint',
      description:
        'Recomputes hash = sha256(prev_hash || canonical(event)) for every sealed event, in seq order, a page at a time; without ' +
        '`from`/`to` from the first event, otherwise over the smallest seq span that holds every sealed event of [from, to) ' +
        '(linked to the event just before it). Reports the first break (an altered event, a missing seq), events still unsealed ' +
        'after ten sealing intervals (at least 30 s), and checks the latest signed checkpoint: its Ed25519 signature, and that the ' +
        'chain still reaches its seq with its hash (a cut-off tail is a break). Covers all facilities; the verification is audited.',
      querystring: TimeRangeQuery,
      response: { 200: Type.Ref('AuditChainVerification'), ...problems(400, 401, 403, 503) },
    },
  }, (req) => service.verifyAuditChain(req.ctx, signer, overdueAfterMs, req.query.from, req.query.to))

  app.get<{ Querystring: { limit?: number; cursor?: string } }>('/audit-events/checkpoints', {
    config: { permission: 'audit:read' },
    schema: {
      operationId: 'listAuditCheckpoints', tags, summary: 'Signed checkpoints of the audit chain, with the public key',
      description:
        'Newest first. Each checkpoint is an Ed25519 signature over `message` (UTF-8), built from its seq, hash and signedAt; ' +
        'the response carries the public key (JWK and SPKI). Archive them outside this system: a later export whose chain does not ' +
        'reach an archived checkpoint was altered, even if the checkpoints table was altered too.',
      querystring: Type.Object(PageQuery, { additionalProperties: false }),
      response: { 200: CheckpointPageSchema, ...problems(400, 401, 403, 503) },
    },
  }, (req) => service.listCheckpoints(req.ctx, signer, decodeCursor(req.query.cursor, ['text', 'text']), req.query.limit ?? 25))

  app.get<{ Params: Static<typeof PatientParams>; Querystring: Static<typeof AccessReportQuery> }>('/patients/:patientId/access-report', {
    config: { permission: 'audit:read' },
    schema: {
      operationId: 'getPatientAccessReport', tags, summary: "Who read or changed a patient's record, when and why",
      description:
        "The patient's audit events in time order: who (token subject and roles), when, what (action, domain verb, resource), " +
        'why (purpose of use, break-the-glass) and the outcome. Needs audit:read: a record of which workforce members looked at a ' +
        'patient is itself sensitive, so it is for privacy and compliance staff (release-of-information staff answer the ' +
        'HIPAA 164.528 accounting of disclosures from their own module). A patient the caller cannot see is 404. ' + FACILITY_RULE +
        ' The report is audited (`patient.access-report`); its pages list the events before its first page was asked for, so ' +
        'the reads of its own pages are in the next report.',
      params: PatientParams,
      querystring: AccessReportQuery,
      response: { 200: Page(Type.Ref('AccessReportEntry'), 'AccessReportPage'), ...problems(400, 401, 403, 404, 503) },
    },
  }, (req) => {
    const { limit, cursor, from, to } = req.query
    return service.patientAccessReport(req.ctx, req.params.patientId, { from, to }, decodeCursor(cursor, ['text', 'text', 'text']), limit ?? 25)
  })
}
