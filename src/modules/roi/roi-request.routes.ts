import type { FastifyPluginAsync } from 'fastify'
import { Type, type Static } from '@sinclair/typebox'
import { problems } from '../../http/errors.ts'
import { idempotent, IdempotencyHeaders } from '../../http/idempotency.ts'
import { decodeCursor, Page } from '../../http/pagination.ts'
import { IfMatchHeaders, ifMatchVersion, sendVersioned } from '../../http/versioning.ts'
import * as authorizations from './roi-authorization.service.ts'
import * as service from './roi-request.service.ts'
import {
  AccessRequestParams,
  AuthorizationParams,
  CreateAuthorizationBodySchema,
  CreateRoiRequestBodySchema,
  DenialBodySchema,
  ExtensionBodySchema,
  RequestParams,
  RevocationBodySchema,
  RoiRequestListQuery,
  TransitionBodySchema,
} from './roi.schemas.ts'
import { etagHeader as etag } from '../../http/versioning.ts'

const tags = ['release-of-information']
type ReqParams = Static<typeof RequestParams>

export const roiRequestRoutes: FastifyPluginAsync = async (app) => {
  const RoiRequest = Type.Ref('RoiRequest')

  app.post<{ Body: Static<typeof CreateRoiRequestBodySchema> }>('/roi-requests', {
    config: { permission: 'roi:write' },
    schema: {
      operationId: 'createRoiRequest', tags, summary: 'Log a release-of-information request',
      description: 'The due date is the received date plus the facility\'s deadline (`roiDeadlineDays`, 30 by default per HIPAA 164.524(b)(2)). ' +
        'Individual access is requested by the patient or a personal representative.',
      headers: IdempotencyHeaders, body: CreateRoiRequestBodySchema,
      response: { 201: RoiRequest, ...problems(400, 401, 403, 404, 413, 415, 422, 503) },
    },
  }, (req, reply) => idempotent(req, reply, 201, (ctx) => service.createRequest(ctx, req.body), etag))

  app.get<{ Querystring: Static<typeof RoiRequestListQuery> }>('/roi-requests', {
    config: { permission: 'roi:read' },
    schema: {
      operationId: 'listRoiRequests', tags, summary: 'The release-of-information work queue',
      description: 'Earliest (extended) due date first. `dueWithinDays=7` and `overdue=true` consider open requests only, with dates at each facility.',
      querystring: RoiRequestListQuery,
      response: { 200: Page(RoiRequest, 'RoiRequestPage'), ...problems(400, 401, 403, 503) },
    },
  }, (req) => service.listRequests(req.ctx, req.query, decodeCursor(req.query.cursor, ['text', 'uuid'])))

  app.get<{ Params: ReqParams }>('/roi-requests/:requestId', {
    config: { permission: 'roi:read' },
    schema: {
      operationId: 'getRoiRequest', tags, summary: 'Read a release-of-information request',
      params: RequestParams,
      response: { 200: RoiRequest, ...problems(400, 401, 403, 404, 503) },
    },
  }, async (req, reply) => sendVersioned(reply, await service.getRequest(req.ctx, req.params.requestId)))

  app.get<{ Params: ReqParams }>('/roi-requests/:requestId/status-history', {
    config: { permission: 'roi:read' },
    schema: {
      operationId: 'listRoiRequestStatusHistory', tags, summary: 'Who moved the request, when and why',
      params: RequestParams,
      response: { 200: Type.Array(Type.Ref('RoiStatusChange')), ...problems(400, 401, 403, 404, 503) },
    },
  }, (req) => service.listHistory(req.ctx, req.params.requestId))

  app.post<{ Params: ReqParams; Body: Static<typeof TransitionBodySchema> }>('/roi-requests/:requestId/transitions', {
    config: { permission: 'roi:write' },
    schema: {
      operationId: 'transitionRoiRequest', tags, summary: 'Move a request to its next status, with a reason',
      description: 'Allowed moves: received → in_review; in_review → pending_authorization | in_progress; pending_authorization → in_review | in_progress; ' +
        'in_progress → pending_authorization | ready_for_release; ready_for_release → in_progress; any open status → withdrawn. ' +
        'Any other move is 409 with `allowed`. Requests under an authorization reach in_progress only with a valid one (422 naming what is missing).',
      params: RequestParams, headers: IfMatchHeaders, body: TransitionBodySchema,
      response: { 200: RoiRequest, ...problems(400, 401, 403, 404, 409, 412, 413, 415, 422, 503) },
    },
  }, async (req, reply) =>
    sendVersioned(reply, await service.transition(req.ctx, req.params.requestId, ifMatchVersion(req), req.body.to, req.body.reason)))

  app.post<{ Params: ReqParams; Body: Static<typeof ExtensionBodySchema> }>('/roi-requests/:requestId/extension', {
    config: { permission: 'roi:write' },
    schema: {
      operationId: 'extendRoiRequest', tags, summary: 'Extend the deadline once (HIPAA 164.524(b)(2))',
      description: 'One extension only, of at most 30 days, made on or before the original due date, with the reason and the date the requester was notified in writing.',
      params: AccessRequestParams, body: ExtensionBodySchema,
      response: { 200: RoiRequest, ...problems(400, 401, 403, 404, 409, 413, 415, 422, 503) },
    },
  }, async (req, reply) => sendVersioned(reply, await service.extend(req.ctx, req.params.requestId, req.body)))

  app.post<{ Params: ReqParams; Body: Static<typeof DenialBodySchema> }>('/roi-requests/:requestId/denial', {
    config: { permission: 'roi:write' },
    schema: {
      operationId: 'denyRoiRequest', tags, summary: 'Deny a request in whole or in part (HIPAA 164.524(a), (d))',
      description: 'A full denial ends the request. A partial denial names the denied record types; the rest goes on to release.',
      params: AccessRequestParams, headers: IdempotencyHeaders, body: DenialBodySchema,
      response: { 201: Type.Ref('RoiDenial'), ...problems(400, 401, 403, 404, 409, 413, 415, 422, 503) },
    },
  }, (req, reply) => idempotent(req, reply, 201, (ctx) => service.deny(ctx, req.params.requestId, req.body)))

  app.get<{ Params: ReqParams }>('/roi-requests/:requestId/denial', {
    config: { permission: 'roi:read' },
    schema: {
      operationId: 'getRoiDenial', tags, summary: 'Read the denial of a request',
      params: AccessRequestParams,
      response: { 200: Type.Ref('RoiDenial'), ...problems(400, 401, 403, 404, 503) },
    },
  }, (req) => service.getDenial(req.ctx, req.params.requestId))

  app.post<{ Params: ReqParams; Body: Static<typeof CreateAuthorizationBodySchema> }>('/roi-requests/:requestId/authorizations', {
    config: { permission: 'roi:write' },
    schema: {
      operationId: 'createRoiAuthorization', tags, summary: 'Record the authorization of a request (HIPAA 164.508)',
      description: 'Recorded as found, even incomplete; `problems` lists what makes it invalid today. The latest recorded authorization is the one checked.',
      params: RequestParams, headers: IdempotencyHeaders, body: CreateAuthorizationBodySchema,
      response: { 201: Type.Ref('RoiAuthorization'), ...problems(400, 401, 403, 404, 409, 413, 415, 422, 503) },
    },
  }, (req, reply) => idempotent(req, reply, 201, (ctx) => authorizations.createAuthorization(ctx, req.params.requestId, req.body)))

  app.get<{ Params: ReqParams }>('/roi-requests/:requestId/authorizations', {
    config: { permission: 'roi:read' },
    schema: {
      operationId: 'listRoiAuthorizations', tags, summary: 'The authorizations recorded for a request',
      params: RequestParams,
      response: { 200: Type.Array(Type.Ref('RoiAuthorization')), ...problems(400, 401, 403, 404, 503) },
    },
  }, (req) => authorizations.listAuthorizations(req.ctx, req.params.requestId))

  app.post<{ Params: Static<typeof AuthorizationParams>; Body: Static<typeof RevocationBodySchema> }>(
    '/roi-requests/:requestId/authorizations/:authorizationId/revocation', {
      config: { permission: 'roi:write' },
      schema: {
        operationId: 'revokeRoiAuthorization', tags, summary: 'Record the written revocation of an authorization',
        description: 'No release under this authorization may happen on or after `revokedOn`.',
        params: AuthorizationParams, body: RevocationBodySchema,
        response: { 200: Type.Ref('RoiAuthorization'), ...problems(400, 401, 403, 404, 409, 413, 415, 422, 503) },
      },
    }, (req) => authorizations.revokeAuthorization(req.ctx, req.params.requestId, req.params.authorizationId, req.body))
}
