import type { FastifyPluginAsync } from 'fastify'
import { Type, type Static } from '@sinclair/typebox'
import { problems } from '../../http/errors.ts'
import { idempotent, IdempotencyHeaders } from '../../http/idempotency.ts'
import { decodeCursor, Page } from '../../http/pagination.ts'
import { IfMatchHeaders, ifMatchVersion, sendVersioned } from '../../http/versioning.ts'
import { loadPhiKey, phiCrypto } from '../patients/phi-crypto.ts'
import {
  ChangeFlowBodySchema,
  ChangeStatusBodySchema,
  CheckInBodySchema,
  CheckInSchema,
  CollectPaymentBodySchema,
  CreateRegistrationBodySchema,
  IntakeBodySchema,
  IntakeSchema,
  ListRegistrationsQuerySchema,
  PaymentParams,
  PaymentSchema,
  QueueQuerySchema,
  QueueSchema,
  RefundBodySchema,
  RegistrationParams,
  RegistrationSchema,
} from './registration.schemas.ts'
import * as service from './registration.service.ts'
import { etagHeader as etag } from '../../http/versioning.ts'

const tags = ['registrations']
type ById = { Params: Static<typeof RegistrationParams> }

export const registrationRoutes: FastifyPluginAsync = async (app) => {
  const phi = phiCrypto(loadPhiKey(app.config))
  app.addSchema(RegistrationSchema)
  app.addSchema(PaymentSchema)
  app.addSchema(CheckInSchema)
  app.addSchema(IntakeSchema)
  app.addSchema(QueueSchema)
  const Registration = Type.Ref('Registration')
  const Payment = Type.Ref('Payment')

  app.post<{ Body: Static<typeof CreateRegistrationBodySchema> }>('/registrations', {
    config: { permission: 'registration:write' },
    schema: {
      operationId: 'createRegistration', tags, summary: 'Register an encounter',
      description:
        'Kinds: outpatient_diagnostic (ordered tests), surgery (procedure, surgeon), direct_admission (admitting physician, referring office, unit, bed type), ' +
        'emergency (starts arrived, in the queue), newborn_admission (creates the baby\'s patient record linked to the mother and her delivery registration, ' +
        'in one transaction; needs patient:write too). Statuses: planned -> arrived -> in_progress -> finished, or cancelled.',
      headers: IdempotencyHeaders, body: CreateRegistrationBodySchema,
      response: { 201: Registration, ...problems(400, 401, 403, 404, 409, 413, 415, 422, 503) },
    },
  }, (req, reply) => idempotent(req, reply, 201, (ctx) => service.createRegistration(ctx, phi, req.body), etag))

  app.get<{ Querystring: Static<typeof ListRegistrationsQuerySchema> }>('/registrations', {
    config: { permission: 'registration:read' },
    schema: {
      operationId: 'listRegistrations', tags, summary: 'List registrations, newest first',
      querystring: ListRegistrationsQuerySchema,
      response: { 200: Page(Registration, 'RegistrationPage'), ...problems(400, 401, 403, 404, 503) },
    },
  }, (req) => service.listRegistrations(req.ctx, req.query, decodeCursor(req.query.cursor, ['text', 'uuid'])))

  app.get<ById>('/registrations/:registrationId', {
    config: { permission: 'registration:read' },
    schema: {
      operationId: 'getRegistration', tags, summary: 'Read a registration',
      params: RegistrationParams,
      response: { 200: Registration, ...problems(400, 401, 403, 404, 503) },
    },
  }, async (req, reply) => sendVersioned(reply, await service.getRegistration(req.ctx, req.params.registrationId)))

  app.post<ById & { Body: Static<typeof ChangeStatusBodySchema> }>('/registrations/:registrationId/status', {
    config: { permission: 'registration:write' },
    schema: {
      operationId: 'changeRegistrationStatus', tags, summary: 'Move a registration along its lifecycle',
      description: 'planned -> arrived | cancelled; arrived -> in_progress | cancelled; in_progress -> finished. Anything else is 409 `illegal-transition`. Cancelling needs a reason.',
      params: RegistrationParams, headers: IfMatchHeaders, body: ChangeStatusBodySchema,
      response: { 200: Registration, ...problems(400, 401, 403, 404, 409, 412, 413, 415, 503) },
    },
  }, async (req, reply) => sendVersioned(reply, await service.changeStatus(req.ctx, req.params.registrationId, ifMatchVersion(req), req.body)))

  app.post<ById & { Body: Static<typeof ChangeFlowBodySchema> }>('/registrations/:registrationId/flow', {
    config: { permission: 'registration:write' },
    schema: {
      operationId: 'changePatientFlow', tags, summary: 'Record patient flow (waiting, roomed, with provider, checked out)',
      description: 'Forward only. Rooming or seeing a provider starts the encounter (in_progress); checking out finishes it.',
      params: RegistrationParams, body: ChangeFlowBodySchema,
      response: { 200: Registration, ...problems(400, 401, 403, 404, 409, 413, 415, 503) },
    },
  }, async (req, reply) => sendVersioned(reply, await service.changeFlow(req.ctx, req.params.registrationId, req.body.state, req.body.at)))

  app.post<ById & { Body: Static<typeof CheckInBodySchema> }>('/registrations/:registrationId/check-in', {
    config: { permission: 'registration:write' },
    schema: {
      operationId: 'checkInRegistration', tags, summary: 'Check a patient in',
      description:
        'Records arrival, demographics confirmed, insurance verified, eligibility (when the patient has coverage in force on the day of service, a usable ' +
        'eligibility check: the one named by `eligibilityCheckId`, or the newest on file from the same day, or as many days before as ELIGIBILITY_MAX_CHECK_AGE_DAYS allows; ' +
        'without one the `eligibility` item is missing and a new check is needed), referral verified when required, consent forms, ' +
        'and the co-payment (integer cents, method, reference; a receipt number is issued). Lists what is complete and missing; with required items ' +
        'missing the answer is 422 `check-in-incomplete` listing them, unless `override.reason` is given (audited).',
      headers: IdempotencyHeaders, params: RegistrationParams, body: CheckInBodySchema,
      response: { 201: Type.Ref('CheckIn'), ...problems(400, 401, 403, 404, 409, 413, 415, 422, 503) },
    },
  }, (req, reply) => idempotent(req, reply, 201, (ctx) => service.checkIn(ctx, req.params.registrationId, req.body, app.config.ELIGIBILITY_MAX_CHECK_AGE_DAYS)))

  app.post<{ Params: { appointmentId: string }; Body: Static<typeof CheckInBodySchema> }>('/appointments/:appointmentId/check-in', {
    config: { permission: 'registration:write' },
    schema: {
      operationId: 'checkInAppointment', tags, summary: 'Check a patient in for an appointment',
      description:
        'The same check-in as for a registration; the appointment becomes checked-in (409 from a status that cannot check in; ' +
        "scheduling's referral gate applies). Co-payments collected here are linked to the check-in.",
      headers: IdempotencyHeaders, params: Type.Object({ appointmentId: Type.String({ format: 'uuid', description: 'Appointment id.' }) }), body: CheckInBodySchema,
      response: { 201: Type.Ref('CheckIn'), ...problems(400, 401, 403, 404, 409, 413, 415, 422, 503) },
    },
  }, (req, reply) => idempotent(req, reply, 201, (ctx) => service.checkInAppointment(ctx, req.params.appointmentId, req.body, app.config.ELIGIBILITY_MAX_CHECK_AGE_DAYS)))

  app.post<ById & { Body: Static<typeof CollectPaymentBodySchema> }>('/registrations/:registrationId/payments', {
    config: { permission: 'registration:write' },
    schema: {
      operationId: 'collectPayment', tags, summary: 'Collect a payment (co-payment, deposit)',
      headers: IdempotencyHeaders, params: RegistrationParams, body: CollectPaymentBodySchema,
      response: { 201: Payment, ...problems(400, 401, 403, 404, 409, 413, 415, 422, 503) },
    },
  }, (req, reply) => idempotent(req, reply, 201, (ctx) => service.collectPayment(ctx, req.params.registrationId, req.body)))

  app.get<ById>('/registrations/:registrationId/payments', {
    config: { permission: 'registration:read' },
    schema: {
      operationId: 'listPayments', tags, summary: "A registration's payments with their refunds",
      params: RegistrationParams,
      response: { 200: Type.Object({ items: Type.Array(Payment) }, { additionalProperties: false }), ...problems(400, 401, 403, 404, 503) },
    },
  }, async (req) => ({ items: await service.listPayments(req.ctx, req.params.registrationId) }))

  app.post<{ Params: Static<typeof PaymentParams>; Body: Static<typeof RefundBodySchema> }>('/payments/:paymentId/refunds', {
    config: { permission: 'registration:write' },
    schema: {
      operationId: 'refundPayment', tags, summary: 'Refund (part of) a payment',
      description: 'A refund is a record of its own with its receipt number; refunds of a payment never exceed it (409 `refund-exceeds-payment`).',
      headers: IdempotencyHeaders, params: PaymentParams, body: RefundBodySchema,
      response: { 201: Payment, ...problems(400, 401, 403, 404, 409, 413, 415, 422, 503) },
    },
  }, (req, reply) => idempotent(req, reply, 201, (ctx) => service.refundPayment(ctx, req.params.paymentId, req.body)))

  app.post<ById & { Body: Static<typeof IntakeBodySchema> }>('/registrations/:registrationId/intake', {
    config: { permission: 'registration:write' },
    schema: {
      operationId: 'recordIntake', tags, summary: 'Record the intake interview and triage level',
      description:
        'From the answers the service proposes an Emergency Severity Index level (ESI v4: A life-saving intervention -> 1; B high risk, confusion, ' +
        'severe pain or distress -> 2; C resources 0 -> 5, 1 -> 4, 2+ -> 3 unless danger-zone vitals -> 2). `esiOverride` sets another level with a reason (audited).',
      headers: IdempotencyHeaders, params: RegistrationParams, body: IntakeBodySchema,
      response: { 201: Type.Ref('Intake'), ...problems(400, 401, 403, 404, 409, 413, 415, 422, 503) },
    },
  }, (req, reply) => idempotent(req, reply, 201, (ctx) => service.recordIntake(ctx, req.params.registrationId, req.body)))

  app.get<ById>('/registrations/:registrationId/intake', {
    config: { permission: 'registration:read' },
    schema: {
      operationId: 'getIntake', tags, summary: "Read a registration's intake",
      params: RegistrationParams,
      response: { 200: Type.Ref('Intake'), ...problems(400, 401, 403, 404, 503) },
    },
  }, (req) => service.getIntake(req.ctx, req.params.registrationId))

  app.get<{ Querystring: Static<typeof QueueQuerySchema> }>('/queue', {
    config: { permission: 'registration:read' },
    schema: {
      operationId: 'getQueue', tags, summary: 'The waiting list',
      description: 'Patients on site (waiting, roomed, with provider), ordered by ESI level (untriaged last) then arrival, with each wait so far. ' +
        'A restricted patient outside your care team keeps its place but shows as `Restricted record` (send X-Break-Glass-Reason to see the name).',
      querystring: QueueQuerySchema,
      response: { 200: Type.Ref('Queue'), ...problems(400, 401, 403, 404, 503) },
    },
  }, (req) => service.getQueue(req.ctx, req.query.facilityId, req.query.location))
}
