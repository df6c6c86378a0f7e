import type { FastifyPluginAsync } from 'fastify'
import { Type, type Static } from '@sinclair/typebox'
import { problems } from '../../http/errors.ts'
import { idempotent, IdempotencyHeaders } from '../../http/idempotency.ts'
import * as service from './roi-fee.service.ts'
import {
  CreateInvoiceBodySchema,
  FacilityParams,
  PaymentBodySchema,
  PutFeeScheduleBodySchema,
  RequestParams,
  StateParams,
  WaiverBodySchema,
} from './roi.schemas.ts'

const tags = ['release-of-information']
type ReqParams = Static<typeof RequestParams>

export const roiFeeRoutes: FastifyPluginAsync = async (app) => {
  const Schedule = Type.Ref('RoiFeeSchedule')
  const Invoice = Type.Ref('RoiInvoice')

  app.put<{ Params: Static<typeof StateParams>; Body: Static<typeof PutFeeScheduleBodySchema> }>('/roi-fee-schedules/states/:stateCode', {
    config: { permission: 'roi:write' },
    schema: {
      operationId: 'putStateRoiFeeSchedule', tags, summary: 'Set a state\'s third-party copy fee schedule',
      description: 'Applies to every facility in the state without its own schedule. State schedules are shared, so only tokens for all facilities (`*`) may set them.',
      params: StateParams, body: PutFeeScheduleBodySchema,
      response: { 200: Schedule, 201: Schedule, ...problems(400, 401, 403, 404, 413, 415, 503) },
    },
  }, async (req, reply) => {
    const { schedule, created } = await service.putStateFeeSchedule(req.ctx, req.params.stateCode, req.body)
    return reply.code(created ? 201 : 200).send(schedule)
  })

  app.put<{ Params: Static<typeof FacilityParams>; Body: Static<typeof PutFeeScheduleBodySchema> }>('/facilities/:facilityId/roi-fee-schedule', {
    config: { permission: 'roi:write' },
    schema: {
      operationId: 'putFacilityRoiFeeSchedule', tags, summary: 'Override the state fee schedule for one facility',
      params: FacilityParams, body: PutFeeScheduleBodySchema,
      response: { 200: Schedule, 201: Schedule, ...problems(400, 401, 403, 404, 413, 415, 422, 503) },
    },
  }, async (req, reply) => {
    const { schedule, created } = await service.putFacilityFeeSchedule(req.ctx, req.params.facilityId, req.body)
    return reply.code(created ? 201 : 200).send(schedule)
  })

  app.get<{ Params: Static<typeof FacilityParams> }>('/facilities/:facilityId/roi-fee-schedule', {
    config: { permission: 'roi:read' },
    schema: {
      operationId: 'getFacilityRoiFeeSchedule', tags, summary: 'The fee schedule that applies at a facility (its own, else its state\'s)',
      params: FacilityParams,
      response: { 200: Schedule, ...problems(400, 401, 403, 404, 503) },
    },
  }, (req) => service.getFacilityFeeSchedule(req.ctx, req.params.facilityId))

  app.post<{ Params: ReqParams; Body: Static<typeof CreateInvoiceBodySchema> }>('/roi-requests/:requestId/invoice', {
    config: { permission: 'roi:write' },
    schema: {
      operationId: 'createRoiInvoice', tags, summary: 'Invoice the copy fee of a request',
      description: 'Individual access (164.524(c)(4)): labour, supplies and postage, or the $6.50 flat fee for electronic copies; a search or retrieval fee is refused (422). ' +
        'Other requests: the facility\'s fee schedule (its own, else its state\'s) applied to `pages`, capped. A zero total is settled at once.',
      params: RequestParams, headers: IdempotencyHeaders, body: CreateInvoiceBodySchema,
      response: { 201: Invoice, ...problems(400, 401, 403, 404, 409, 413, 415, 422, 503) },
    },
  }, (req, reply) => idempotent(req, reply, 201, (ctx) => service.createInvoice(ctx, req.params.requestId, req.body)))

  app.get<{ Params: ReqParams }>('/roi-requests/:requestId/invoice', {
    config: { permission: 'roi:read' },
    schema: {
      operationId: 'getRoiInvoice', tags, summary: 'Read the invoice of a request',
      params: RequestParams,
      response: { 200: Invoice, ...problems(400, 401, 403, 404, 503) },
    },
  }, (req) => service.getInvoice(req.ctx, req.params.requestId))

  app.post<{ Params: ReqParams; Body: Static<typeof PaymentBodySchema> }>('/roi-requests/:requestId/invoice/payments', {
    config: { permission: 'roi:write' },
    schema: {
      operationId: 'payRoiInvoice', tags, summary: 'Record a payment against the invoice',
      params: RequestParams, body: PaymentBodySchema,
      response: { 200: Invoice, ...problems(400, 401, 403, 404, 409, 413, 415, 422, 503) },
    },
  }, (req) => service.recordPayment(req.ctx, req.params.requestId, req.body))

  app.post<{ Params: ReqParams; Body: Static<typeof WaiverBodySchema> }>('/roi-requests/:requestId/invoice/waiver', {
    config: { permission: 'roi:write' },
    schema: {
      operationId: 'waiveRoiInvoice', tags, summary: 'Waive the open invoice, with a reason',
      params: RequestParams, body: WaiverBodySchema,
      response: { 200: Invoice, ...problems(400, 401, 403, 404, 409, 413, 415, 503) },
    },
  }, (req) => service.waiveInvoice(req.ctx, req.params.requestId, req.body.reason))
}
