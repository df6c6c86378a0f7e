import type { FastifyPluginAsync } from 'fastify'
import { Type, type Static } from '@sinclair/typebox'
import { ConfigError, type Config } from '../../config.ts'
import { problems } from '../../http/errors.ts'
import { idempotent, IdempotencyHeaders } from '../../http/idempotency.ts'
import { decodeCursor, Page, PageQuery } from '../../http/pagination.ts'
import { IfMatchHeaders, ifMatchVersion, sendVersioned } from '../../http/versioning.ts'
import { isoDate } from '../../lib/dates.ts'
import * as coverages from './coverage.service.ts'
import * as checks from './eligibility-check.service.ts'
import * as estimates from './estimate.service.ts'
import * as repo from './eligibility.repository.ts'
import {
  BatchParams, BatchSchema, BenefitSchema, CheckParams, CoverageParams, CoverageSchema, CreateBatchBodySchema, CreateCoverageBodySchema,
  CreateEligibilityCheckBodySchema, CreateEstimateBodySchema, CreateNetworkBodySchema, CreatePayerBodySchema, CreatePlanBodySchema,
  EligibilityCheckSchema, EstimateParams, EstimateSchema, FacilityParams, FeeScheduleItemSchema, ImportFeeScheduleBodySchema, ImportResultSchema,
  NetworkParams, NetworkProviderSchema, NetworkSchema, NewCoverageParams, ParticipationParams, ParticipationSchema, PatientParams, PayerParams, PayerSchema,
  PlanParams, PlanSchema, PutParticipationBodySchema, RejectionSchema, UpdateCoverageBodySchema, UpdatePayerBodySchema, UpdatePlanBodySchema,
  type ImportFeeScheduleBody,
} from './eligibility.schemas.ts'
import { httpGateway } from './http-gateway.ts'
import { sandboxGateway } from './sandbox-gateway.ts'
import { etagHeader as etag } from '../../http/versioning.ts'

const tags = ['eligibility']
const DateQuery = Type.String({ format: 'date' })

/** The gateway and limits from config; ELIGIBILITY_GATEWAY picks the clearinghouse. */
export function eligibilityRuntime(config: Config): checks.EligibilityRuntime {
  const limits = { maxLength: config.ELIGIBILITY_MAX_271_BYTES, maxSegments: 20_000 }
  let gateway: checks.EligibilityRuntime['gateway']
  if (config.ELIGIBILITY_GATEWAY === 'http') {
    if (!config.ELIGIBILITY_HTTP_URL) throw new ConfigError('Invalid configuration:\n  ELIGIBILITY_HTTP_URL is required when ELIGIBILITY_GATEWAY is http')
    const http = httpGateway({ url: config.ELIGIBILITY_HTTP_URL, receiverId: config.ELIGIBILITY_RECEIVER_ID, maxResponseBytes: config.ELIGIBILITY_MAX_271_BYTES })
    gateway = () => http
  } else {
    gateway = (db) => sandboxGateway({
      slowMs: config.ELIGIBILITY_SANDBOX_SLOW_MS,
      lookup: async (payerId, memberId) => {
        const m = await repo.findSandboxMember(db, payerId, memberId)
        return m && { ...m, effectiveFrom: isoDate(m.effectiveFrom), effectiveTo: isoDate(m.effectiveTo) }
      },
    })
  }
  return {
    gateway, limits, timeoutMs: config.ELIGIBILITY_TIMEOUT_MS, senderId: config.ELIGIBILITY_SUBMITTER_ID,
    batchConcurrency: config.ELIGIBILITY_BATCH_CONCURRENCY,
  }
}

export const eligibilityRoutes: FastifyPluginAsync = async (app) => {
  const rt = eligibilityRuntime(app.config)
  const runner = new checks.BatchRunner(app.db.kysely, app.auditWriter, rt, app.log)
  // The OpenAPI export builds the app without a database: nothing to resume there.
  if (app.db.kysely) app.addHook('onReady', async () => void runner.kick())
  app.addHook('onClose', () => runner.stop())

  for (const s of [PayerSchema, NetworkSchema, ParticipationSchema, PlanSchema, NetworkProviderSchema, CoverageSchema, BenefitSchema, RejectionSchema, EligibilityCheckSchema, BatchSchema, FeeScheduleItemSchema, ImportResultSchema, EstimateSchema]) {
    app.addSchema(s)
  }
  const ref = (id: string) => Type.Ref(id)

  // ---- payers, networks, plans ----

  app.post<{ Body: Static<typeof CreatePayerBodySchema> }>('/payers', {
    config: { permission: 'eligibility:write' },
    schema: {
      operationId: 'createPayer', tags, summary: 'Add a payer',
      description: 'Payers are shared by every facility. The X12 payer id is what the clearinghouse routes on.',
      headers: IdempotencyHeaders, body: CreatePayerBodySchema,
      response: { 201: ref('Payer'), ...problems(400, 401, 403, 409, 413, 415, 422, 503) },
    },
  }, (req, reply) => idempotent(req, reply, 201, (ctx) => coverages.createPayer(ctx, req.body), etag))

  app.get<{ Querystring: { limit?: number; cursor?: string } }>('/payers', {
    config: { permission: 'eligibility:read' },
    schema: {
      operationId: 'listPayers', tags, summary: 'List payers',
      querystring: Type.Object(PageQuery, { additionalProperties: false }),
      response: { 200: Page(ref('Payer'), 'PayerPage'), ...problems(400, 401, 403, 503) },
    },
  }, (req) => coverages.listPayers(req.ctx, decodeCursor(req.query.cursor, ['text', 'uuid']), req.query.limit ?? 25))

  app.get<{ Params: Static<typeof PayerParams> }>('/payers/:payerId', {
    config: { permission: 'eligibility:read' },
    schema: { operationId: 'getPayer', tags, summary: 'Read a payer', params: PayerParams, response: { 200: ref('Payer'), ...problems(400, 401, 403, 404, 503) } },
  }, async (req, reply) => sendVersioned(reply, await coverages.getPayer(req.ctx, req.params.payerId)))

  app.patch<{ Params: Static<typeof PayerParams>; Body: Static<typeof UpdatePayerBodySchema> }>('/payers/:payerId', {
    config: { permission: 'eligibility:write' },
    schema: {
      operationId: 'updatePayer', tags, summary: 'Change a payer', params: PayerParams, headers: IfMatchHeaders, body: UpdatePayerBodySchema,
      response: { 200: ref('Payer'), ...problems(400, 401, 403, 404, 409, 412, 413, 415, 503) },
    },
  }, async (req, reply) => sendVersioned(reply, await coverages.updatePayer(req.ctx, req.params.payerId, ifMatchVersion(req), req.body)))

  app.post<{ Params: Static<typeof PayerParams>; Body: Static<typeof CreateNetworkBodySchema> }>('/payers/:payerId/networks', {
    config: { permission: 'eligibility:write' },
    schema: {
      operationId: 'createNetwork', tags, summary: "Add a provider network to a payer",
      params: PayerParams, headers: IdempotencyHeaders, body: CreateNetworkBodySchema,
      response: { 201: ref('Network'), ...problems(400, 401, 403, 404, 409, 413, 415, 422, 503) },
    },
  }, (req, reply) => idempotent(req, reply, 201, (ctx) => coverages.createNetwork(ctx, req.params.payerId, req.body.name)))

  app.get<{ Params: Static<typeof PayerParams> }>('/payers/:payerId/networks', {
    config: { permission: 'eligibility:read' },
    schema: {
      operationId: 'listNetworks', tags, summary: "A payer's networks", params: PayerParams,
      response: { 200: Type.Object({ items: Type.Array(ref('Network')) }, { additionalProperties: false }), ...problems(400, 401, 403, 404, 503) },
    },
  }, async (req) => ({ items: await coverages.listNetworks(req.ctx, req.params.payerId) }))

  app.put<{ Params: Static<typeof ParticipationParams>; Body: Static<typeof PutParticipationBodySchema> }>('/networks/:networkId/providers/:npi', {
    config: { permission: 'eligibility:write' },
    schema: {
      operationId: 'putNetworkParticipation', tags, summary: "Set a provider's participation in a network",
      description: 'Keyed by NPI, so a provider is in network before or without a scheduling record. Repeating the call replaces the period.',
      params: ParticipationParams, body: PutParticipationBodySchema,
      response: { 200: ref('NetworkParticipation'), ...problems(400, 401, 403, 404, 413, 415, 503) },
    },
  }, (req) => coverages.putParticipation(req.ctx, req.params.networkId, req.params.npi, req.body))

  app.delete<{ Params: Static<typeof ParticipationParams> }>('/networks/:networkId/providers/:npi', {
    config: { permission: 'eligibility:write' },
    schema: {
      operationId: 'deleteNetworkParticipation', tags, summary: 'Remove a provider from a network', params: ParticipationParams,
      response: { 204: Type.Null({ description: 'Removed.' }), ...problems(400, 401, 403, 404, 503) },
    },
  }, async (req, reply) => {
    await coverages.deleteParticipation(req.ctx, req.params.networkId, req.params.npi)
    return reply.code(204).send()
  })

  app.post<{ Body: Static<typeof CreatePlanBodySchema> }>('/plans', {
    config: { permission: 'eligibility:write' },
    schema: {
      operationId: 'createPlan', tags, summary: 'Add a plan with its benefit design',
      headers: IdempotencyHeaders, body: CreatePlanBodySchema,
      response: { 201: ref('Plan'), ...problems(400, 401, 403, 404, 409, 413, 415, 422, 503) },
    },
  }, (req, reply) => idempotent(req, reply, 201, (ctx) => coverages.createPlan(ctx, req.body), etag))

  app.get<{ Querystring: { limit?: number; cursor?: string; payerId?: string } }>('/plans', {
    config: { permission: 'eligibility:read' },
    schema: {
      operationId: 'listPlans', tags, summary: 'List plans',
      querystring: Type.Object({ ...PageQuery, payerId: Type.Optional(Type.String({ format: 'uuid' })) }, { additionalProperties: false }),
      response: { 200: Page(ref('Plan'), 'PlanPage'), ...problems(400, 401, 403, 503) },
    },
  }, (req) => coverages.listPlans(req.ctx, req.query.payerId, decodeCursor(req.query.cursor, ['text', 'uuid']), req.query.limit ?? 25))

  app.get<{ Params: Static<typeof PlanParams> }>('/plans/:planId', {
    config: { permission: 'eligibility:read' },
    schema: { operationId: 'getPlan', tags, summary: 'Read a plan', params: PlanParams, response: { 200: ref('Plan'), ...problems(400, 401, 403, 404, 503) } },
  }, async (req, reply) => sendVersioned(reply, await coverages.getPlan(req.ctx, req.params.planId)))

  app.patch<{ Params: Static<typeof PlanParams>; Body: Static<typeof UpdatePlanBodySchema> }>('/plans/:planId', {
    config: { permission: 'eligibility:write' },
    schema: {
      operationId: 'updatePlan', tags, summary: 'Change a plan', params: PlanParams, headers: IfMatchHeaders, body: UpdatePlanBodySchema,
      response: { 200: ref('Plan'), ...problems(400, 401, 403, 404, 409, 412, 413, 415, 503) },
    },
  }, async (req, reply) => sendVersioned(reply, await coverages.updatePlan(req.ctx, req.params.planId, ifMatchVersion(req), req.body)))

  app.get<{ Params: Static<typeof PlanParams>; Querystring: { limit?: number; cursor?: string; date?: string } }>('/plans/:planId/network-providers', {
    config: { permission: 'eligibility:read' },
    schema: {
      operationId: 'listPlanNetworkProviders', tags, summary: "In-network providers of a plan (NPIs)",
      description: "Providers participating in the plan's network; with `date`, only those in network that day. Join on NPI for names.",
      params: PlanParams,
      querystring: Type.Object({ ...PageQuery, date: Type.Optional(DateQuery) }, { additionalProperties: false }),
      response: { 200: Page(ref('NetworkProvider'), 'NetworkProviderPage'), ...problems(400, 401, 403, 404, 503) },
    },
  }, (req) => coverages.listPlanNetworkProviders(req.ctx, req.params.planId, req.query.date, decodeCursor(req.query.cursor, ['text']), req.query.limit ?? 25))

  // ---- coverages ----

  app.post<{ Params: Static<typeof NewCoverageParams>; Body: Static<typeof CreateCoverageBodySchema> }>('/patients/:patientId/coverages', {
    config: { permission: 'eligibility:write' },
    schema: {
      operationId: 'createCoverage', tags, summary: "Add a coverage to a patient",
      description: 'One active coverage per priority (primary, secondary, tertiary): a second one is 409 `coverage-priority-taken`.',
      params: NewCoverageParams, headers: IdempotencyHeaders, body: CreateCoverageBodySchema,
      response: { 201: ref('Coverage'), ...problems(400, 401, 403, 404, 409, 413, 415, 422, 503) },
    },
  }, (req, reply) => idempotent(req, reply, 201, (ctx) => coverages.createCoverage(ctx, req.params.patientId, req.body), etag))

  app.get<{ Params: Static<typeof PatientParams> }>('/patients/:patientId/coverages', {
    config: { permission: 'eligibility:read' },
    schema: {
      operationId: 'listCoverages', tags, summary: "A patient's coverages", description: 'Active ones first, by priority.',
      params: PatientParams,
      response: { 200: Type.Object({ items: Type.Array(ref('Coverage')) }, { additionalProperties: false }), ...problems(400, 401, 403, 404, 503) },
    },
  }, (req) => coverages.listCoverages(req.ctx, req.params.patientId))

  app.get<{ Params: Static<typeof CoverageParams> }>('/coverages/:coverageId', {
    config: { permission: 'eligibility:read' },
    schema: { operationId: 'getCoverage', tags, summary: 'Read a coverage', params: CoverageParams, response: { 200: ref('Coverage'), ...problems(400, 401, 403, 404, 503) } },
  }, async (req, reply) => sendVersioned(reply, await coverages.getCoverage(req.ctx, req.params.coverageId)))

  app.patch<{ Params: Static<typeof CoverageParams>; Body: Static<typeof UpdateCoverageBodySchema> }>('/coverages/:coverageId', {
    config: { permission: 'eligibility:write' },
    schema: {
      operationId: 'updateCoverage', tags, summary: 'Change a coverage', params: CoverageParams, headers: IfMatchHeaders, body: UpdateCoverageBodySchema,
      response: { 200: ref('Coverage'), ...problems(400, 401, 403, 404, 409, 412, 413, 415, 503) },
    },
  }, async (req, reply) => sendVersioned(reply, await coverages.updateCoverage(req.ctx, req.params.coverageId, ifMatchVersion(req), req.body)))

  app.delete<{ Params: Static<typeof CoverageParams> }>('/coverages/:coverageId', {
    config: { permission: 'eligibility:write' },
    schema: {
      operationId: 'deleteCoverage', tags, summary: 'Remove a coverage entered in error',
      description: 'The coverage is kept with status entered-in-error, so its checks and estimates stay explained.',
      params: CoverageParams, headers: IfMatchHeaders,
      response: { 204: Type.Null({ description: 'Removed.' }), ...problems(400, 401, 403, 404, 412, 503) },
    },
  }, async (req, reply) => {
    await coverages.deleteCoverage(req.ctx, req.params.coverageId, ifMatchVersion(req))
    return reply.code(204).send()
  })

  app.get<{ Params: Static<typeof CoverageParams>; Querystring: { limit?: number; cursor?: string } }>('/coverages/:coverageId/eligibility-checks', {
    config: { permission: 'eligibility:read' },
    schema: {
      operationId: 'listCoverageEligibilityChecks', tags, summary: 'Checks of a coverage, newest first', params: CoverageParams,
      querystring: Type.Object(PageQuery, { additionalProperties: false }),
      response: { 200: Page(ref('EligibilityCheck'), 'EligibilityCheckPage'), ...problems(400, 401, 403, 404, 503) },
    },
  }, (req) => checks.listChecksOfCoverage(req.ctx, req.params.coverageId, decodeCursor(req.query.cursor, ['text', 'uuid']), req.query.limit ?? 25))

  // ---- eligibility checks ----

  app.post<{ Body: Static<typeof CreateEligibilityCheckBodySchema> }>('/eligibility-checks', {
    config: { permission: 'eligibility:write' },
    schema: {
      operationId: 'createEligibilityCheck', tags, summary: 'Run a real-time eligibility check (X12 270/271)',
      description:
        'Builds a 005010X279A1 270, sends it through the configured clearinghouse and parses the 271. 201 with status complete (benefits) or ' +
        'rejected (AAA reason codes). A gateway fault or an unusable 271 is 502, no answer in ELIGIBILITY_TIMEOUT_MS is 504; either way the ' +
        'check is recorded (the problem carries `checkId`) and the coverage is left unchanged. Only a complete check updates the coverage\'s ' +
        'verifiedAt and verifiedActive.',
      headers: IdempotencyHeaders, body: CreateEligibilityCheckBodySchema,
      response: { 201: ref('EligibilityCheck'), ...problems(400, 401, 403, 404, 409, 413, 415, 422, 502, 503, 504) },
    },
  }, async (req, reply) => {
    try {
      return await idempotent(req, reply, 201, (ctx) => checks.createCheck(ctx, rt, req.body))
    } catch (err) {
      if (err instanceof checks.CheckFault) throw await checks.recordFault(req.ctx, err)
      throw err
    }
  })

  app.get<{ Params: Static<typeof CheckParams> }>('/eligibility-checks/:checkId', {
    config: { permission: 'eligibility:read' },
    schema: {
      operationId: 'getEligibilityCheck', tags, summary: 'Read an eligibility check with its raw 270 and 271', params: CheckParams,
      response: { 200: ref('EligibilityCheck'), ...problems(400, 401, 403, 404, 503) },
    },
  }, (req) => checks.getCheck(req.ctx, req.params.checkId))

  app.post<{ Body: Static<typeof CreateBatchBodySchema> }>('/eligibility-checks/batch', {
    config: { permission: 'eligibility:write' },
    schema: {
      operationId: 'createEligibilityBatch', tags, summary: 'Check many coverages in the background',
      description:
        'Either listed coverage and date items, or every appointment of the facility on `appointmentDate` (each with its own provider and ' +
        'date of service). 202 with the batch; follow its progress at GET /eligibility-check-batches/{batchId}. At most ' +
        'ELIGIBILITY_BATCH_CONCURRENCY checks run at once. A listed coverage that does not exist, or whose patient is neither ' +
        'registered at nor linked to the facility, is 404 naming the item (`errors[0].pointer`), and no batch is created.',
      headers: IdempotencyHeaders, body: CreateBatchBodySchema,
      response: { 202: ref('EligibilityBatch'), ...problems(400, 401, 403, 404, 413, 415, 422, 503) },
    },
  }, async (req, reply) => {
    await idempotent(req, reply, 202, (ctx) => checks.createBatch(ctx, req.body), (b) => ({ location: `/eligibility-check-batches/${b.id}` }))
    void runner.kick()
    return reply
  })

  app.get<{ Params: Static<typeof BatchParams> }>('/eligibility-check-batches/:batchId', {
    config: { permission: 'eligibility:read' },
    schema: {
      operationId: 'getEligibilityBatch', tags, summary: 'Progress and per-item results of a batch', params: BatchParams,
      response: { 200: ref('EligibilityBatch'), ...problems(400, 401, 403, 404, 503) },
    },
  }, (req) => checks.getBatch(req.ctx, req.params.batchId))

  // ---- fee schedules and estimates ----

  app.addContentTypeParser('text/csv', { parseAs: 'string', bodyLimit: app.config.BODY_LIMIT_BYTES }, (_req, body, done) => done(null, body))

  app.post<{ Params: Static<typeof FacilityParams>; Querystring: { replace?: boolean }; Body: ImportFeeScheduleBody | string }>('/facilities/:facilityId/fee-schedule', {
    config: { permission: 'eligibility:write' },
    schema: {
      operationId: 'importFeeSchedule', tags, summary: "Import a facility's fee schedule (JSON or CSV)",
      description:
        'JSON `{ items: [{ cptCode, chargeCents, description? }], replace? }`, or text/csv with a header naming `cpt_code`, `charge_cents` and ' +
        'optionally `description` (then `?replace=true` instead of the replace field). Codes present are updated, new ones added; with replace, ' +
        'codes not in the import are removed. All or nothing: one bad row rejects the import with its line number.',
      params: FacilityParams,
      querystring: Type.Object({ replace: Type.Optional(Type.Boolean({ description: 'text/csv only: remove codes not in the import.' })) }, { additionalProperties: false }),
      body: {
        content: {
          'application/json': { schema: ImportFeeScheduleBodySchema },
          'text/csv': { schema: Type.String({ minLength: 1, description: 'CSV: cpt_code,charge_cents[,description]', examples: ['cpt_code,charge_cents,description\n99213,18500,Office visit\n'] }) },
        },
      },
      response: { 200: ref('FeeScheduleImport'), ...problems(400, 401, 403, 404, 413, 415, 503) },
    },
  }, (req) => {
    const body = typeof req.body === 'string' ? { items: estimates.parseFeeScheduleCsv(req.body), replace: req.query.replace } : req.body
    return estimates.importFeeSchedule(req.ctx, req.params.facilityId, body)
  })

  app.get<{ Params: Static<typeof FacilityParams>; Querystring: { limit?: number; cursor?: string } }>('/facilities/:facilityId/fee-schedule', {
    config: { permission: 'eligibility:read' },
    schema: {
      operationId: 'listFeeSchedule', tags, summary: "A facility's fee schedule by CPT code", params: FacilityParams,
      querystring: Type.Object({ ...PageQuery, limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })) }, { additionalProperties: false }),
      response: { 200: Page(ref('FeeScheduleItem'), 'FeeSchedulePage'), ...problems(400, 401, 403, 404, 503) },
    },
  }, (req) => estimates.listFeeSchedule(req.ctx, req.params.facilityId, decodeCursor(req.query.cursor, ['text']), req.query.limit ?? 100))

  app.post<{ Body: Static<typeof CreateEstimateBodySchema> }>('/estimates', {
    config: { permission: 'eligibility:write' },
    schema: {
      operationId: 'createEstimate', tags, summary: "Estimate the patient's share of planned services",
      description:
        'With a coverage: line by line from the latest complete eligibility check (or the one named): copay, else deductible from what remains ' +
        'and coinsurance on the rest, capped by the out-of-pocket remaining, for in or out of network; every figure names the benefit it came ' +
        'from. Without a coverage: a self-pay good-faith estimate from the facility fee schedule. Integer cents.',
      headers: IdempotencyHeaders, body: CreateEstimateBodySchema,
      response: { 201: ref('Estimate'), ...problems(400, 401, 403, 404, 409, 413, 415, 422, 503) },
    },
  }, (req, reply) => idempotent(req, reply, 201, (ctx) => estimates.createEstimate(ctx, req.body)))

  app.get<{ Params: Static<typeof EstimateParams> }>('/estimates/:estimateId', {
    config: { permission: 'eligibility:read' },
    schema: { operationId: 'getEstimate', tags, summary: 'Read an estimate', params: EstimateParams, response: { 200: ref('Estimate'), ...problems(400, 401, 403, 404, 503) } },
  }, (req) => estimates.getEstimate(req.ctx, req.params.estimateId))
}
