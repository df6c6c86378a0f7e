import type { FastifyPluginAsync } from 'fastify'
import { Type, type TSchema } from '@sinclair/typebox'
import { problems } from '../../http/errors.ts'
import { idempotent, IdempotencyHeaders } from '../../http/idempotency.ts'
import { etagHeader, IfMatchHeaders, ifMatchVersion, sendVersioned } from '../../http/versioning.ts'
import * as booking from './booking.service.ts'
import * as reference from './reference.service.ts'
import * as referrals from './referral.service.ts'
import * as S from './scheduling.schemas.ts'
import * as slots from './slots.service.ts'
import * as surgery from './surgery.service.ts'

const tags = ['scheduling']
const Items = (item: TSchema, title: string) => Type.Object({ items: Type.Array(item) }, { title, additionalProperties: false })
const Uuid = (description: string) => Type.String({ format: 'uuid', description })
const Window = { from: Type.String({ format: 'date-time', maxLength: 40 }), to: Type.String({ format: 'date-time', maxLength: 40 }) }

export const schedulingRoutes: FastifyPluginAsync = async (app) => {
  for (const schema of [S.SpecialtySchema, S.ProviderSchema, S.ResourceSchema, S.AppointmentTypeSchema, S.AvailabilityRuleSchema, S.AvailabilityExceptionSchema,
    S.SlotSchema, S.SlotHoldSchema, S.AppointmentSchema, S.CalendarSchema, S.ReferralSchema, S.SurgicalCaseSchema, S.WaitlistEntrySchema, S.WaitlistMatchSchema]) {
    app.addSchema(schema)
  }
  const ref = (id: string) => Type.Ref(id)
  const ProviderParams = S.IdParams('providerId', 'Provider id.')
  const FacilityParams = S.IdParams('facilityId', 'Facility id.')
  const AppointmentParams = S.IdParams('appointmentId', 'Appointment id.')
  const CaseParams = S.IdParams('caseId', 'Surgical case id.')
  const read = { permission: 'scheduling:read' as const }
  const write = { permission: 'scheduling:write' as const }

  // Reference data
  app.post<{ Body: { code: string; name: string } }>('/specialties', {
    config: write,
    schema: { operationId: 'createSpecialty', tags, summary: 'Add a specialty', headers: IdempotencyHeaders, body: S.CreateSpecialtyBodySchema,
      response: { 201: ref('Specialty'), ...problems(400, 401, 403, 409, 413, 415, 422, 503) } },
  }, (req, reply) => idempotent(req, reply, 201, (ctx) => reference.createSpecialty(ctx, req.body)))

  app.get('/specialties', {
    config: read,
    schema: { operationId: 'listSpecialties', tags, summary: 'List specialties', response: { 200: Items(ref('Specialty'), 'SpecialtyList'), ...problems(400, 401, 403, 503) } },
  }, async (req) => ({ items: await reference.listSpecialties(req.ctx) }))

  app.post<{ Body: S.CreateProviderBody }>('/providers', {
    config: write,
    schema: { operationId: 'createProvider', tags, summary: 'Add a provider (NPI check digit validated)', headers: IdempotencyHeaders, body: S.CreateProviderBodySchema,
      response: { 201: ref('Provider'), ...problems(400, 401, 403, 404, 409, 413, 415, 422, 503) } },
  }, (req, reply) => idempotent(req, reply, 201, (ctx) => reference.createProvider(ctx, req.body)))

  app.get<{ Querystring: { facilityId: string; specialtyId?: string } }>('/providers', {
    config: read,
    schema: { operationId: 'listProviders', tags, summary: 'Providers working at a facility',
      querystring: Type.Object({ facilityId: Uuid('Facility.'), specialtyId: Type.Optional(Uuid('Only this specialty.')) }, { additionalProperties: false }),
      response: { 200: Items(ref('Provider'), 'ProviderList'), ...problems(400, 401, 403, 404, 503) } },
  }, async (req) => ({ items: await reference.listProviders(req.ctx, req.query) }))

  app.get<{ Params: { providerId: string } }>('/providers/:providerId', {
    config: read,
    schema: { operationId: 'getProvider', tags, summary: 'Read a provider', params: ProviderParams, response: { 200: ref('Provider'), ...problems(400, 401, 403, 404, 503) } },
  }, async (req, reply) => sendVersioned(reply, await reference.getProvider(req.ctx, req.params.providerId)))

  app.post<{ Params: { facilityId: string }; Body: { kind: S.ResourceKind; name: string } }>('/facilities/:facilityId/resources', {
    config: write,
    schema: { operationId: 'createResource', tags, summary: 'Add a room or piece of equipment to a facility', params: FacilityParams, headers: IdempotencyHeaders,
      body: S.CreateResourceBodySchema, response: { 201: ref('Resource'), ...problems(400, 401, 403, 404, 409, 413, 415, 422, 503) } },
  }, (req, reply) => idempotent(req, reply, 201, (ctx) => reference.createResource(ctx, req.params.facilityId, req.body)))

  app.get<{ Params: { facilityId: string } }>('/facilities/:facilityId/resources', {
    config: read,
    schema: { operationId: 'listResources', tags, summary: 'Rooms and equipment of a facility', params: FacilityParams,
      response: { 200: Items(ref('Resource'), 'ResourceList'), ...problems(400, 401, 403, 404, 503) } },
  }, async (req) => ({ items: await reference.listResources(req.ctx, req.params.facilityId) }))

  app.post<{ Body: S.CreateAppointmentTypeBody }>('/appointment-types', {
    config: write,
    schema: { operationId: 'createAppointmentType', tags, summary: 'Add an appointment type', headers: IdempotencyHeaders, body: S.CreateAppointmentTypeBodySchema,
      response: { 201: ref('AppointmentType'), ...problems(400, 401, 403, 404, 409, 413, 415, 422, 503) } },
  }, (req, reply) => idempotent(req, reply, 201, (ctx) => reference.createAppointmentType(ctx, req.body)))

  app.get<{ Querystring: { organizationId: string } }>('/appointment-types', {
    config: read,
    schema: { operationId: 'listAppointmentTypes', tags, summary: 'Appointment types of an organisation',
      querystring: Type.Object({ organizationId: Uuid('Organisation.') }, { additionalProperties: false }),
      response: { 200: Items(ref('AppointmentType'), 'AppointmentTypeList'), ...problems(400, 401, 403, 404, 503) } },
  }, async (req) => ({ items: await reference.listAppointmentTypes(req.ctx, req.query.organizationId) }))

  // Availability
  app.post<{ Params: { providerId: string }; Body: S.CreateAvailabilityRuleBody }>('/providers/:providerId/availability-rules', {
    config: write,
    schema: { operationId: 'createAvailabilityRule', tags, summary: 'Add weekly recurring availability (facility local time)',
      params: ProviderParams, headers: IdempotencyHeaders, body: S.CreateAvailabilityRuleBodySchema,
      response: { 201: ref('AvailabilityRule'), ...problems(400, 401, 403, 404, 413, 415, 422, 503) } },
  }, (req, reply) => idempotent(req, reply, 201, (ctx) => reference.createRule(ctx, req.params.providerId, req.body)))

  app.get<{ Params: { providerId: string }; Querystring: { facilityId: string } }>('/providers/:providerId/availability-rules', {
    config: read,
    schema: { operationId: 'listAvailabilityRules', tags, summary: 'Weekly availability of a provider at a facility', params: ProviderParams,
      querystring: Type.Object({ facilityId: Uuid('Facility.') }, { additionalProperties: false }),
      response: { 200: Items(ref('AvailabilityRule'), 'AvailabilityRuleList'), ...problems(400, 401, 403, 404, 503) } },
  }, async (req) => ({ items: await reference.listRules(req.ctx, req.params.providerId, req.query.facilityId) }))

  app.delete<{ Params: { providerId: string; ruleId: string } }>('/providers/:providerId/availability-rules/:ruleId', {
    config: write,
    schema: { operationId: 'deleteAvailabilityRule', tags, summary: 'Remove a weekly availability rule (booked appointments stay)',
      params: Type.Object({ providerId: Uuid('Provider id.'), ruleId: Uuid('Rule id.') }),
      response: { 204: Type.Null({ description: 'Removed.' }), ...problems(400, 401, 403, 404, 503) } },
  }, async (req, reply) => {
    await reference.deleteRule(req.ctx, req.params.providerId, req.params.ruleId)
    return reply.code(204).send()
  })

  app.post<{ Params: { providerId: string }; Body: S.CreateAvailabilityExceptionBody }>('/providers/:providerId/availability-exceptions', {
    config: write,
    schema: { operationId: 'createAvailabilityException', tags, summary: 'Add one-off extra availability or a block (leave, meeting)',
      params: ProviderParams, headers: IdempotencyHeaders, body: S.CreateAvailabilityExceptionBodySchema,
      response: { 201: ref('AvailabilityException'), ...problems(400, 401, 403, 404, 413, 415, 422, 503) } },
  }, (req, reply) => idempotent(req, reply, 201, (ctx) => reference.createException(ctx, req.params.providerId, req.body)))

  app.get<{ Params: { providerId: string }; Querystring: { from: string; to: string } }>('/providers/:providerId/calendar', {
    config: read,
    schema: { operationId: 'getProviderCalendar', tags, summary: 'A provider\'s appointments, holds, blocks and cases in a window',
      description: 'Patient names appear only for roles with patient:read. Each patient shown is an audited read.',
      params: ProviderParams, querystring: Type.Object(Window, { additionalProperties: false }),
      response: { 200: ref('Calendar'), ...problems(400, 401, 403, 404, 503) } },
  }, (req) => booking.calendar(req.ctx, req.params.providerId, req.query.from, req.query.to))

  // Slots, holds, appointments
  app.get<{ Querystring: S.SlotQuery }>('/slots', {
    config: read,
    schema: { operationId: 'findSlots', tags, summary: 'Free slots (FHIR $find)',
      description: 'By provider(s) or specialty at a facility, for an appointment type. Honours availability, blocks, appointments, live holds, buffers and minimum notice.',
      querystring: S.SlotQuerySchema, response: { 200: Items(ref('Slot'), 'SlotList'), ...problems(400, 401, 403, 404, 503) } },
  }, async (req) => ({ items: await slots.searchSlots(req.ctx, req.query) }))

  app.post<{ Body: S.CreateSlotHoldBody }>('/slot-holds', {
    config: write,
    schema: { operationId: 'holdSlot', tags, summary: 'Hold a slot tentatively (FHIR $hold); expires by itself',
      headers: IdempotencyHeaders, body: S.CreateSlotHoldBodySchema, response: { 201: ref('SlotHold'), ...problems(400, 401, 403, 404, 409, 413, 415, 422, 503) } },
  }, (req, reply) => idempotent(req, reply, 201, (ctx) => booking.createHold(ctx, req.body)))

  app.delete<{ Params: { holdId: string } }>('/slot-holds/:holdId', {
    config: write,
    schema: { operationId: 'releaseSlotHold', tags, summary: 'Release a hold', params: S.IdParams('holdId', 'Hold id.'),
      response: { 204: Type.Null({ description: 'Released.' }), ...problems(400, 401, 403, 404, 503) } },
  }, async (req, reply) => {
    await booking.releaseHold(req.ctx, req.params.holdId)
    return reply.code(204).send()
  })

  app.post<{ Body: S.BookAppointmentBody }>('/appointments', {
    config: write,
    schema: { operationId: 'bookAppointment', tags, summary: 'Book a slot (FHIR $book): provider and resources atomically',
      description: 'Exactly one of any number of concurrent requests for overlapping time wins; the others get 409 slot-unavailable. ' +
        'overbookReason books over occupied time and needs scheduling:overbook.',
      headers: IdempotencyHeaders, body: S.BookAppointmentBodySchema, response: { 201: ref('Appointment'), ...problems(400, 401, 403, 404, 409, 413, 415, 422, 503) } },
  }, (req, reply) => idempotent(req, reply, 201, (ctx) => booking.bookAppointment(ctx, req.body), (b) => ({ ...etagHeader(b), location: `/appointments/${b.id}` })))

  app.get<{ Querystring: { facilityId: string; patientId: string } }>('/appointments', {
    config: read,
    schema: { operationId: 'listPatientAppointments', tags, summary: 'A patient\'s appointments at a facility',
      querystring: Type.Object({ facilityId: Uuid('Facility.'), patientId: Uuid('Patient.') }, { additionalProperties: false }),
      response: { 200: Items(ref('Appointment'), 'AppointmentList'), ...problems(400, 401, 403, 404, 503) } },
  }, async (req) => ({ items: await booking.listPatientAppointments(req.ctx, req.query.facilityId, req.query.patientId) }))

  app.get<{ Params: { appointmentId: string } }>('/appointments/:appointmentId', {
    config: read,
    schema: { operationId: 'getAppointment', tags, summary: 'Read an appointment', params: AppointmentParams, response: { 200: ref('Appointment'), ...problems(400, 401, 403, 404, 503) } },
  }, async (req, reply) => sendVersioned(reply, await booking.getAppointment(req.ctx, req.params.appointmentId)))

  app.post<{ Params: { appointmentId: string }; Body: S.RescheduleBody }>('/appointments/:appointmentId/reschedule', {
    config: write,
    schema: { operationId: 'rescheduleAppointment', tags, summary: 'Move an appointment: the new time is taken before the old is freed',
      params: AppointmentParams, headers: IfMatchHeaders, body: S.RescheduleBodySchema, response: { 200: ref('Appointment'), ...problems(400, 401, 403, 404, 409, 412, 413, 415, 503) } },
  }, async (req, reply) => sendVersioned(reply, await booking.reschedule(req.ctx, req.params.appointmentId, req.body, ifMatchVersion(req))))

  app.post<{ Params: { appointmentId: string }; Body: { reason: string } }>('/appointments/:appointmentId/cancel', {
    config: write,
    schema: { operationId: 'cancelAppointment', tags, summary: 'Cancel an appointment (reason, who, late flag); frees its time',
      params: AppointmentParams, headers: IfMatchHeaders, body: S.CancelBodySchema, response: { 200: ref('Appointment'), ...problems(400, 401, 403, 404, 409, 412, 413, 415, 503) } },
  }, async (req, reply) => sendVersioned(reply, await booking.cancel(req.ctx, req.params.appointmentId, req.body.reason, ifMatchVersion(req))))

  for (const [path, to, operationId, summary] of [
    ['arrive', 'arrived', 'markAppointmentArrived', 'The patient has arrived (counts the referral visit)'],
    ['no-show', 'noshow', 'markAppointmentNoShow', 'The patient did not come (after the start time); frees the time'],
    ['fulfil', 'fulfilled', 'markAppointmentFulfilled', 'The visit took place'],
  ] as const) {
    app.post<{ Params: { appointmentId: string } }>(`/appointments/:appointmentId/${path}`, {
      config: write,
      schema: { operationId, tags, summary, params: AppointmentParams, headers: IfMatchHeaders, response: { 200: ref('Appointment'), ...problems(400, 401, 403, 404, 409, 412, 503) } },
    }, async (req, reply) => sendVersioned(reply, await booking.transition(req.ctx, req.params.appointmentId, to, ifMatchVersion(req))))
  }

  // Waitlist
  app.post<{ Body: S.CreateWaitlistEntryBody }>('/waitlist', {
    config: write,
    schema: { operationId: 'addToWaitlist', tags, summary: 'Put a patient on the waitlist for an earlier slot', headers: IdempotencyHeaders,
      body: S.CreateWaitlistEntryBodySchema, response: { 201: ref('WaitlistEntry'), ...problems(400, 401, 403, 404, 413, 415, 422, 503) } },
  }, (req, reply) => idempotent(req, reply, 201, (ctx) => slots.addToWaitlist(ctx, req.body)))

  app.get<{ Querystring: { facilityId: string } }>('/waitlist/matches', {
    config: read,
    schema: { operationId: 'listWaitlistMatches', tags, summary: 'Waiting patients who could take a slot that is free now',
      querystring: Type.Object({ facilityId: Uuid('Facility.') }, { additionalProperties: false }),
      response: { 200: Items(ref('WaitlistMatch'), 'WaitlistMatchList'), ...problems(400, 401, 403, 404, 503) } },
  }, async (req) => ({ items: await slots.waitlistMatches(req.ctx, req.query.facilityId) }))

  // Referrals
  app.post<{ Body: S.CreateReferralBody }>('/referrals', {
    config: write,
    schema: { operationId: 'createReferral', tags, summary: 'Record an inbound referral', headers: IdempotencyHeaders, body: S.CreateReferralBodySchema,
      response: { 201: ref('Referral'), ...problems(400, 401, 403, 404, 413, 415, 422, 503) } },
  }, (req, reply) => idempotent(req, reply, 201, (ctx) => referrals.createReferral(ctx, req.body)))

  app.get<{ Params: { referralId: string } }>('/referrals/:referralId', {
    config: read,
    schema: { operationId: 'getReferral', tags, summary: 'Read a referral', params: S.IdParams('referralId', 'Referral id.'), response: { 200: ref('Referral'), ...problems(400, 401, 403, 404, 503) } },
  }, async (req, reply) => sendVersioned(reply, await referrals.getReferral(req.ctx, req.params.referralId)))

  // Surgical cases
  app.post<{ Body: S.CreateSurgicalCaseBody }>('/surgical-cases', {
    config: write,
    schema: { operationId: 'createSurgicalCase', tags, summary: 'Request a surgical case', headers: IdempotencyHeaders, body: S.CreateSurgicalCaseBodySchema,
      response: { 201: ref('SurgicalCase'), ...problems(400, 401, 403, 404, 413, 415, 422, 503) } },
  }, (req, reply) => idempotent(req, reply, 201, (ctx) => surgery.createCase(ctx, req.body)))

  app.get<{ Params: { caseId: string } }>('/surgical-cases/:caseId', {
    config: read,
    schema: { operationId: 'getSurgicalCase', tags, summary: 'Read a surgical case', params: CaseParams, response: { 200: ref('SurgicalCase'), ...problems(400, 401, 403, 404, 503) } },
  }, async (req, reply) => sendVersioned(reply, await surgery.getCase(req.ctx, req.params.caseId)))

  app.patch<{ Params: { caseId: string }; Body: S.UpdateChecklistBody }>('/surgical-cases/:caseId/checklist', {
    config: write,
    schema: { operationId: 'updateSurgicalChecklist', tags, summary: 'Set pre-op checklist items', params: CaseParams, body: S.UpdateChecklistBodySchema,
      response: { 200: ref('SurgicalCase'), ...problems(400, 401, 403, 404, 409, 413, 415, 503) } },
  }, async (req, reply) => sendVersioned(reply, await surgery.updateChecklist(req.ctx, req.params.caseId, req.body)))

  app.post<{ Params: { caseId: string }; Body: S.ScheduleSurgicalCaseBody }>('/surgical-cases/:caseId/schedule', {
    config: write,
    schema: { operationId: 'scheduleSurgicalCase', tags, summary: 'Reserve surgeon and operating room together',
      description: 'An emergency case with bumpElective displaces overlapping elective cases, which return to needs-reschedule with the reason.',
      params: CaseParams, body: S.ScheduleSurgicalCaseBodySchema, response: { 200: ref('SurgicalCase'), ...problems(400, 401, 403, 404, 409, 413, 415, 503) } },
  }, async (req, reply) => sendVersioned(reply, await surgery.scheduleCase(req.ctx, req.params.caseId, req.body)))

  app.post<{ Params: { caseId: string }; Body: { reason: string } }>('/surgical-cases/:caseId/cancel', {
    config: write,
    schema: { operationId: 'cancelSurgicalCase', tags, summary: 'Cancel the case; frees surgeon and room', params: CaseParams, body: S.CancelBodySchema,
      response: { 200: ref('SurgicalCase'), ...problems(400, 401, 403, 404, 409, 413, 415, 503) } },
  }, async (req, reply) => sendVersioned(reply, await surgery.moveCase(req.ctx, req.params.caseId, 'cancel', req.body.reason)))

  for (const [action, summary] of [
    ['confirm', 'The facility confirms the scheduled case (elective: checklist must be done)'],
    ['complete', 'The surgery took place'],
  ] as const) {
    app.post<{ Params: { caseId: string } }>(`/surgical-cases/:caseId/${action}`, {
      config: write,
      schema: { operationId: `${action}SurgicalCase`, tags, summary, params: CaseParams, response: { 200: ref('SurgicalCase'), ...problems(400, 401, 403, 404, 409, 503) } },
    }, async (req, reply) => sendVersioned(reply, await surgery.moveCase(req.ctx, req.params.caseId, action)))
  }
}
