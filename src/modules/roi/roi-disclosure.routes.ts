import type { FastifyPluginAsync } from 'fastify'
import { Type, type Static } from '@sinclair/typebox'
import { problems } from '../../http/errors.ts'
import { idempotent, IdempotencyHeaders } from '../../http/idempotency.ts'
import { decodeCursor, Page } from '../../http/pagination.ts'
import * as service from './roi-release.service.ts'
import { AccountingQuery, PatientParams, RecordDisclosureBodySchema, ReleaseBodySchema, ReleaseParams, ReleaseRequestParams } from './roi.schemas.ts'

const tags = ['release-of-information']

export const roiDisclosureRoutes: FastifyPluginAsync = async (app) => {
  const Disclosure = Type.Ref('Disclosure')

  app.post<{ Params: Static<typeof ReleaseRequestParams>; Body: Static<typeof ReleaseBodySchema> }>('/roi-requests/:requestId/release', {
    config: { permission: 'roi:write' },
    schema: {
      operationId: 'releaseRoiRequest', tags, summary: 'Release the records and write the disclosure record',
      description: 'From ready_for_release only. Records what was released (documents, pages, checksums), to whom, how, when and by whom, and writes the ' +
        'disclosure for the 164.528 accounting. Refused when: a document is of a record type not requested or denied (422); the authorization is invalid (422) ' +
        'or revoked on or before the release date (409); the facility requires payment and the invoice is open (409).',
      params: ReleaseRequestParams, headers: IdempotencyHeaders, body: ReleaseBodySchema,
      response: { 201: Type.Ref('RoiRelease'), ...problems(400, 401, 403, 404, 409, 413, 415, 422, 503) },
    },
  }, (req, reply) => idempotent(req, reply, 201, (ctx) => service.release(ctx, req.params.requestId, req.body)))

  app.get<{ Params: Static<typeof ReleaseParams> }>('/roi-requests/:requestId/release', {
    config: { permission: 'roi:read' },
    schema: {
      operationId: 'getRoiRelease', tags, summary: 'Read what was released for a request',
      params: ReleaseParams,
      response: { 200: Type.Ref('RoiRelease'), ...problems(400, 401, 403, 404, 503) },
    },
  }, (req) => service.getRelease(req.ctx, req.params.requestId))

  app.get<{ Params: Static<typeof PatientParams>; Querystring: Static<typeof AccountingQuery> }>('/patients/:patientId/disclosures', {
    config: { permission: 'roi:read' },
    schema: {
      operationId: 'getDisclosureAccounting', tags, summary: 'Accounting of disclosures (HIPAA 164.528)',
      description: 'Accountable disclosures only: those for treatment, payment or operations, to the individual (or at their direction), under an ' +
        'authorization, or for national security are left out. Default period: the last six years. Oldest first.',
      params: PatientParams, querystring: AccountingQuery,
      response: { 200: Page(Disclosure, 'DisclosurePage'), ...problems(400, 401, 403, 404, 503) },
    },
  }, (req) => service.accounting(req.ctx, req.params.patientId, req.query, decodeCursor(req.query.cursor, ['text', 'uuid'])))

  app.post<{ Params: Static<typeof PatientParams>; Body: Static<typeof RecordDisclosureBodySchema> }>('/patients/:patientId/disclosures', {
    config: { permission: 'roi:write' },
    schema: {
      operationId: 'recordDisclosure', tags, summary: 'Record a disclosure made outside the request workflow',
      description: 'A public health report, a report of abuse, a court-ordered disclosure... Whether it is accountable follows from its legal basis.',
      params: PatientParams, headers: IdempotencyHeaders, body: RecordDisclosureBodySchema,
      response: { 201: Disclosure, ...problems(400, 401, 403, 404, 413, 415, 422, 503) },
    },
  }, (req, reply) => idempotent(req, reply, 201, (ctx) => service.recordDisclosure(ctx, req.params.patientId, req.body)))
}
