import type { FastifyPluginAsync, FastifyReply } from 'fastify'
import { Type, type TSchema } from '@sinclair/typebox'
import { problems } from '../../http/errors.ts'
import { decodeCursor, Page, PageQuery } from '../../http/pagination.ts'
import { idempotent, IdempotencyHeaders } from '../../http/idempotency.ts'
import { etagHeader, IfMatchHeaders, ifMatchVersion, sendVersioned } from '../../http/versioning.ts'
import { DEMO, DEMO_SCHEDULING } from '../../lib/demo-ids.ts'
import * as booking from './booking.service.ts'
import * as reference from './reference.service.ts'
import * as referrals from './referral.service.ts'
import * as S from './scheduling.schemas.ts'
import * as slots from './slots.service.ts'
import * as surgery from './surgery.service.ts'
import { Uuid } from '../../http/schema-parts.ts'

const tags = ['scheduling']
const ActiveFilter = { active: Type.Optional(Type.Boolean({ description: 'Only active (true) or retired (false) ones.' })) }
/** 204 when the row went; 200 with it, retired (active=false), when past records still name it. */
const removal = (item: TSchema) => ({
  200: { description: 'Kept, retired (active=false): past records name it.', content: { 'application/json': { schema: item } } },
  204: Type.Null({ description: 'Removed.' }),
})
const sendRemoval = <T extends { version: number }>(reply: FastifyReply, r: reference.Removal<T>) =>
  r.outcome === 'deleted' ? reply.code(204).send() : sendVersioned(reply, r.resource)
const Window = {
  from: Type.String({ format: 'date-time', maxLength: 40, examples: [S.EXAMPLE_WEEK.from] }),
  to: Type.String({ format: 'date-time', maxLength: 40, examples: [S.EXAMPLE_WEEK.to] }),
}

export const schedulingRoutes: FastifyPluginAsync = async (app) => {
  for (const schema of [S.SpecialtySchema, S.ProviderSchema, S.ResourceSchema, S.AppointmentTypeSchema, S.AvailabilityRuleSchema, S.AvailabilityExceptionSchema,
    S.SlotSchema, S.SlotHoldSchema, S.AppointmentSchema, S.CalendarSchema, S.ReferralSchema, S.SurgicalCaseSchema, S.WaitlistEntrySchema, S.WaitlistMatchSchema,
    S.CancelledAppointmentSchema]) {
    app.addSchema(schema)
  }
  const ref = (id: string) => Type.Ref(id)
  // Examples name the demo's rows: Dr. Ruiz, whose weekly hours are at the clinic, and Exam 1 there;
  // new resources (the example adds an operating room) go to the hospital.
  const ProviderParams = S.IdParams('providerId', 'Provider id.', DEMO_SCHEDULING.drRuizId)
  const FacilityParams = S.IdParams('facilityId', 'Facility id.', DEMO.hospitalId)
  const AppointmentParams = S.IdParams('appointmentId', 'Appointment id.')
  const CaseParams = S.IdParams('caseId', 'Surgical case id.')
  const SpecialtyParams = S.IdParams('specialtyId', 'Specialty id.', DEMO_SCHEDULING.familyMedicineId)
  const TypeParams = S.IdParams('appointmentTypeId', 'Appointment type id.', DEMO_SCHEDULING.newPatientTypeId)
  const ResourceParams = Type.Object({ facilityId: Uuid('Facility id.', DEMO.clinicId), resourceId: Uuid('Resource id.', DEMO_SCHEDULING.clinicExam1Id) })
  const RuleParams = Type.Object({ providerId: Uuid('Provider id.', DEMO_SCHEDULING.drRuizId), ruleId: Uuid('Rule id.', DEMO_SCHEDULING.ruizMondayMorningRuleId) })
  const ReferralParams = S.IdParams('referralId', 'Referral id.')
  type Paged = { limit?: number; cursor?: string }
  const read = { permission: 'scheduling:read' as const }
  const write = { permission: 'scheduling:write' as const }

  // Reference data
  app.post<{ Body: { code: string; name: string } }>('/specialties', {
    config: write,
    schema: { operationId: 'createSpecialty', tags, summary: 'Add a specialty', headers: IdempotencyHeaders, body: S.CreateSpecialtyBodySchema,
      response: { 201: ref('Specialty'), ...problems(400, 401, 403, 409, 413, 415, 422, 503) } },
  }, (req, reply) => idempotent(req, reply, 201, (ctx) => reference.createSpecialty(ctx, req.body)))

  app.get<{ Querystring: Paged & { active?: boolean } }>('/specialties', {
    config: read,
    schema: { operationId: 'listSpecialties', tags, summary: 'List specialties', querystring: Type.Object({ ...PageQuery, ...ActiveFilter }, { additionalProperties: false }),
      response: { 200: Page(ref('Specialty'), 'SpecialtyPage'), ...problems(400, 401, 403, 503) } },
  }, (req) => reference.listSpecialties(req.ctx, req.query, decodeCursor(req.query.cursor, ['text', 'uuid']), req.query.limit ?? 25))

  app.get<{ Params: { specialtyId: string } }>('/specialties/:specialtyId', {
    config: read,
    schema: { operationId: 'getSpecialty', tags, summary: 'Read a specialty', params: SpecialtyParams, response: { 200: ref('Specialty'), ...problems(400, 401, 403, 404, 503) } },
  }, async (req, reply) => sendVersioned(reply, await reference.getSpecialty(req.ctx, req.params.specialtyId)))

  app.patch<{ Params: { specialtyId: string }; Body: S.UpdateSpecialtyBody }>('/specialties/:specialtyId', {
    config: write,
    schema: { operationId: 'updateSpecialty', tags, summary: 'Rename, retire or reinstate a specialty', params: SpecialtyParams, headers: IfMatchHeaders,
      body: S.UpdateSpecialtyBodySchema, response: { 200: ref('Specialty'), ...problems(400, 401, 403, 404, 412, 413, 415, 503) } },
  }, async (req, reply) => sendVersioned(reply, await reference.updateSpecialty(req.ctx, req.params.specialtyId, ifMatchVersion(req), req.body)))

  app.delete<{ Params: { specialtyId: string } }>('/specialties/:specialtyId', {
    config: write,
    schema: { operationId: 'deleteSpecialty', tags, summary: 'Remove a specialty (retired instead while providers, types or referrals name it)',
      params: SpecialtyParams, headers: IfMatchHeaders, response: { ...removal(ref('Specialty')), ...problems(400, 401, 403, 404, 412, 503) } },
  }, async (req, reply) => sendRemoval(reply, await reference.deleteSpecialty(req.ctx, req.params.specialtyId, ifMatchVersion(req))))

  app.post<{ Body: S.CreateProviderBody }>('/providers', {
    config: write,
    schema: { operationId: 'createProvider', tags, summary: 'Add a provider (NPI check digit validated)', headers: IdempotencyHeaders, body: S.CreateProviderBodySchema,
      response: { 201: ref('Provider'), ...problems(400, 401, 403, 404, 409, 413, 415, 422, 503) } },
  }, (req, reply) => idempotent(req, reply, 201, (ctx) => reference.createProvider(ctx, req.body)))

  app.get<{ Querystring: S.ProviderListQuery }>('/providers', {
    config: read,
    schema: { operationId: 'listProviders', tags, summary: 'Providers in your facilities; by specialty, and in or out of an insurance plan\'s network',
      description: 'With planId, a provider is in network when its NPI participates, today, in the plan\'s network (the participations behind ' +
        'GET /plans/{planId}/network-providers). A plan without a network has nobody in network. An unknown planId is 404.',
      querystring: S.ProviderListQuerySchema, response: { 200: Page(ref('Provider'), 'ProviderPage'), ...problems(400, 401, 403, 404, 503) } },
  }, (req) => reference.listProviders(req.ctx, req.query, decodeCursor(req.query.cursor, ['text', 'uuid']), req.query.limit ?? 25))

  app.get<{ Params: { providerId: string } }>('/providers/:providerId', {
    config: read,
    schema: { operationId: 'getProvider', tags, summary: 'Read a provider', params: ProviderParams, response: { 200: ref('Provider'), ...problems(400, 401, 403, 404, 503) } },
  }, async (req, reply) => sendVersioned(reply, await reference.getProvider(req.ctx, req.params.providerId)))

  app.patch<{ Params: { providerId: string }; Body: S.UpdateProviderBody }>('/providers/:providerId', {
    config: write,
    schema: { operationId: 'updateProvider', tags, summary: 'Change a provider: name, NPI, specialties, facilities; retire or reinstate',
      description: 'Retiring (active=false), or removing a facility, is 409 in-use while the provider has future appointments or surgical cases there.',
      params: ProviderParams, headers: IfMatchHeaders, body: S.UpdateProviderBodySchema,
      response: { 200: ref('Provider'), ...problems(400, 401, 403, 404, 409, 412, 413, 415, 503) } },
  }, async (req, reply) => sendVersioned(reply, await reference.updateProvider(req.ctx, req.params.providerId, ifMatchVersion(req), req.body)))

  app.delete<{ Params: { providerId: string } }>('/providers/:providerId', {
    config: write,
    schema: { operationId: 'deleteProvider', tags, summary: 'Remove a provider (retired instead while past records name it)',
      description: '409 in-use while the provider has future appointments or surgical cases; 403 when it also works at facilities outside your scope.',
      params: ProviderParams, headers: IfMatchHeaders, response: { ...removal(ref('Provider')), ...problems(400, 401, 403, 404, 409, 412, 503) } },
  }, async (req, reply) => sendRemoval(reply, await reference.deleteProvider(req.ctx, req.params.providerId, ifMatchVersion(req))))

  app.post<{ Params: { facilityId: string }; Body: { kind: S.ResourceKind; name: string } }>('/facilities/:facilityId/resources', {
    config: write,
    schema: { operationId: 'createResource', tags, summary: 'Add a room or piece of equipment to a facility', params: FacilityParams, headers: IdempotencyHeaders,
      body: S.CreateResourceBodySchema, response: { 201: ref('Resource'), ...problems(400, 401, 403, 404, 409, 413, 415, 422, 503) } },
  }, (req, reply) => idempotent(req, reply, 201, (ctx) => reference.createResource(ctx, req.params.facilityId, req.body)))

  app.get<{ Params: { facilityId: string }; Querystring: Paged & { active?: boolean } }>('/facilities/:facilityId/resources', {
    config: read,
    schema: { operationId: 'listResources', tags, summary: 'Rooms and equipment of a facility', params: FacilityParams,
      querystring: Type.Object({ ...PageQuery, ...ActiveFilter }, { additionalProperties: false }),
      response: { 200: Page(ref('Resource'), 'ResourcePage'), ...problems(400, 401, 403, 404, 503) } },
  }, (req) => reference.listResources(req.ctx, req.params.facilityId, req.query, decodeCursor(req.query.cursor, ['text', 'uuid']), req.query.limit ?? 25))

  app.get<{ Params: { facilityId: string; resourceId: string } }>('/facilities/:facilityId/resources/:resourceId', {
    config: read,
    schema: { operationId: 'getResource', tags, summary: 'Read a room or piece of equipment', params: ResourceParams, response: { 200: ref('Resource'), ...problems(400, 401, 403, 404, 503) } },
  }, async (req, reply) => sendVersioned(reply, await reference.getResource(req.ctx, req.params.facilityId, req.params.resourceId)))

  app.patch<{ Params: { facilityId: string; resourceId: string }; Body: S.UpdateResourceBody }>('/facilities/:facilityId/resources/:resourceId', {
    config: write,
    schema: { operationId: 'updateResource', tags, summary: 'Rename, change the kind of, retire or reinstate a resource',
      description: 'Retiring it or changing its kind is 409 in-use while future appointments or surgical cases reserve it.',
      params: ResourceParams, headers: IfMatchHeaders, body: S.UpdateResourceBodySchema,
      response: { 200: ref('Resource'), ...problems(400, 401, 403, 404, 409, 412, 413, 415, 503) } },
  }, async (req, reply) => sendVersioned(reply, await reference.updateResource(req.ctx, req.params.facilityId, req.params.resourceId, ifMatchVersion(req), req.body)))

  app.delete<{ Params: { facilityId: string; resourceId: string } }>('/facilities/:facilityId/resources/:resourceId', {
    config: write,
    schema: { operationId: 'deleteResource', tags, summary: 'Remove a resource (retired instead while past records name it)',
      description: '409 in-use while future appointments or surgical cases reserve it.',
      params: ResourceParams, headers: IfMatchHeaders, response: { ...removal(ref('Resource')), ...problems(400, 401, 403, 404, 409, 412, 503) } },
  }, async (req, reply) => sendRemoval(reply, await reference.deleteResource(req.ctx, req.params.facilityId, req.params.resourceId, ifMatchVersion(req))))

  app.post<{ Body: S.CreateAppointmentTypeBody }>('/appointment-types', {
    config: write,
    schema: { operationId: 'createAppointmentType', tags, summary: 'Add an appointment type', headers: IdempotencyHeaders, body: S.CreateAppointmentTypeBodySchema,
      response: { 201: ref('AppointmentType'), ...problems(400, 401, 403, 404, 409, 413, 415, 422, 503) } },
  }, (req, reply) => idempotent(req, reply, 201, (ctx) => reference.createAppointmentType(ctx, req.body)))

  app.get<{ Querystring: Paged & { organizationId: string; active?: boolean } }>('/appointment-types', {
    config: read,
    schema: { operationId: 'listAppointmentTypes', tags, summary: 'Appointment types of an organisation',
      querystring: Type.Object({ ...PageQuery, organizationId: Uuid('Organisation.', DEMO.organizationId), ...ActiveFilter }, { additionalProperties: false }),
      response: { 200: Page(ref('AppointmentType'), 'AppointmentTypePage'), ...problems(400, 401, 403, 404, 503) } },
  }, (req) => reference.listAppointmentTypes(req.ctx, req.query, decodeCursor(req.query.cursor, ['text', 'uuid']), req.query.limit ?? 25))

  app.get<{ Params: { appointmentTypeId: string } }>('/appointment-types/:appointmentTypeId', {
    config: read,
    schema: { operationId: 'getAppointmentType', tags, summary: 'Read an appointment type', params: TypeParams, response: { 200: ref('AppointmentType'), ...problems(400, 401, 403, 404, 503) } },
  }, async (req, reply) => sendVersioned(reply, await reference.getAppointmentType(req.ctx, req.params.appointmentTypeId)))

  app.patch<{ Params: { appointmentTypeId: string }; Body: S.UpdateAppointmentTypeBody }>('/appointment-types/:appointmentTypeId', {
    config: write,
    schema: { operationId: 'updateAppointmentType', tags, summary: 'Change an appointment type; retire or reinstate it',
      description: 'Booked appointments keep their times. Retiring (active=false) is 409 in-use while appointments of the type are still to come.',
      params: TypeParams, headers: IfMatchHeaders, body: S.UpdateAppointmentTypeBodySchema,
      response: { 200: ref('AppointmentType'), ...problems(400, 401, 403, 404, 409, 412, 413, 415, 503) } },
  }, async (req, reply) => sendVersioned(reply, await reference.updateAppointmentType(req.ctx, req.params.appointmentTypeId, ifMatchVersion(req), req.body)))

  app.delete<{ Params: { appointmentTypeId: string } }>('/appointment-types/:appointmentTypeId', {
    config: write,
    schema: { operationId: 'deleteAppointmentType', tags, summary: 'Remove an appointment type (retired instead while past records name it)',
      description: '409 in-use while appointments of the type are still to come.',
      params: TypeParams, headers: IfMatchHeaders, response: { ...removal(ref('AppointmentType')), ...problems(400, 401, 403, 404, 409, 412, 503) } },
  }, async (req, reply) => sendRemoval(reply, await reference.deleteAppointmentType(req.ctx, req.params.appointmentTypeId, ifMatchVersion(req))))

  // Availability
  app.post<{ Params: { providerId: string }; Body: S.CreateAvailabilityRuleBody }>('/providers/:providerId/availability-rules', {
    config: write,
    schema: { operationId: 'createAvailabilityRule', tags, summary: 'Add weekly recurring availability (facility local time)',
      params: ProviderParams, headers: IdempotencyHeaders, body: S.CreateAvailabilityRuleBodySchema,
      response: { 201: ref('AvailabilityRule'), ...problems(400, 401, 403, 404, 413, 415, 422, 503) } },
  }, (req, reply) => idempotent(req, reply, 201, (ctx) => reference.createRule(ctx, req.params.providerId, req.body)))

  app.get<{ Params: { providerId: string }; Querystring: Paged & { facilityId: string } }>('/providers/:providerId/availability-rules', {
    config: read,
    schema: { operationId: 'listAvailabilityRules', tags, summary: 'Weekly availability of a provider at a facility', params: ProviderParams,
      querystring: Type.Object({ ...PageQuery, facilityId: Uuid('Facility.', DEMO.clinicId) }, { additionalProperties: false }),
      response: { 200: Page(ref('AvailabilityRule'), 'AvailabilityRulePage'), ...problems(400, 401, 403, 404, 503) } },
  }, (req) => reference.listRules(req.ctx, req.params.providerId, req.query.facilityId, decodeCursor(req.query.cursor, ['int', 'text', 'uuid']), req.query.limit ?? 25))

  app.patch<{ Params: { providerId: string; ruleId: string }; Body: S.UpdateAvailabilityRuleBody }>('/providers/:providerId/availability-rules/:ruleId', {
    config: write,
    schema: { operationId: 'updateAvailabilityRule', tags, summary: 'Change a weekly availability rule (booked appointments stay)',
      params: RuleParams, headers: IfMatchHeaders, body: S.UpdateAvailabilityRuleBodySchema,
      response: { 200: ref('AvailabilityRule'), ...problems(400, 401, 403, 404, 412, 413, 415, 503) } },
  }, async (req, reply) => sendVersioned(reply, await reference.updateRule(req.ctx, req.params.providerId, req.params.ruleId, ifMatchVersion(req), req.body)))

  app.delete<{ Params: { providerId: string; ruleId: string } }>('/providers/:providerId/availability-rules/:ruleId', {
    config: write,
    schema: { operationId: 'deleteAvailabilityRule', tags, summary: 'Remove a weekly availability rule (booked appointments stay)',
      params: RuleParams, headers: IfMatchHeaders,
      response: { 204: Type.Null({ description: 'Removed.' }), ...problems(400, 401, 403, 404, 412, 503) } },
  }, async (req, reply) => {
    await reference.deleteRule(req.ctx, req.params.providerId, req.params.ruleId, ifMatchVersion(req))
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
    // A page holds up to 500 slots (a four-week search: 280, 85 KB). fast-json-stringify wrote it
    // as thousands of small strings, each escaped in JavaScript, that Node then copied whole to
    // measure and send: a fifth of a search's CPU. toSlot and toPage build every field of the
    // documented SlotPage and nothing else, so slotPageJson writes what JSON.stringify would, and
    // JSON.stringify writes the problems as the schema would (as for GET /patients);
    // test/modules/scheduling/slot-contract.test.ts checks both.
    serializerCompiler: ({ httpStatus }) => (httpStatus === '200' ? slots.slotPageJson : JSON.stringify) as (data: unknown) => string,
    schema: { operationId: 'findSlots', tags, summary: 'Free slots (FHIR $find)',
      description: 'By provider(s) or specialty at a facility, for an appointment type. Honours availability, blocks, appointments, live holds, buffers and minimum notice.',
      querystring: S.SlotQuerySchema, response: { 200: Page(ref('Slot'), 'SlotPage'), ...problems(400, 401, 403, 404, 503) } },
  }, (req) => slots.searchSlots(req.ctx, req.query, decodeCursor(req.query.cursor, ['int', 'text', 'uuid'])))

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

  app.get<{ Querystring: Paged & { facilityId: string; patientId: string } }>('/appointments', {
    config: read,
    schema: { operationId: 'listPatientAppointments', tags, summary: 'A patient\'s appointments at a facility, earliest first',
      querystring: S.AppointmentListQuerySchema, response: { 200: Page(ref('Appointment'), 'AppointmentPage'), ...problems(400, 401, 403, 404, 503) } },
  }, (req) => booking.listPatientAppointments(req.ctx, req.query.facilityId, req.query.patientId, decodeCursor(req.query.cursor, ['text', 'uuid']), req.query.limit ?? 25))

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
      description: 'The response names the waiting patients who could take the freed time (waitlistMatches), as GET /waitlist/matches would; each is an audited read.',
      params: AppointmentParams, headers: IfMatchHeaders, body: S.CancelBodySchema, response: { 200: ref('CancelledAppointment'), ...problems(400, 401, 403, 404, 409, 412, 413, 415, 503) } },
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

  app.post<{ Params: { appointmentId: string }; Body: { reason: string } }>('/appointments/:appointmentId/entered-in-error', {
    config: write,
    schema: { operationId: 'markAppointmentEnteredInError', tags, summary: 'Mark an appointment entered in error (FHIR); frees its time',
      description: 'For an appointment that should never have existed, from any other status. Its time is freed at once, a referral visit it counted is given back; ' +
        'the reason is kept on the appointment.',
      params: AppointmentParams, headers: IfMatchHeaders, body: S.EnteredInErrorBodySchema, response: { 200: ref('Appointment'), ...problems(400, 401, 403, 404, 409, 412, 413, 415, 503) } },
  }, async (req, reply) => sendVersioned(reply, await booking.markEnteredInError(req.ctx, req.params.appointmentId, req.body.reason, ifMatchVersion(req))))

  // Waitlist
  app.post<{ Body: S.CreateWaitlistEntryBody }>('/waitlist', {
    config: write,
    schema: { operationId: 'addToWaitlist', tags, summary: 'Put a patient on the waitlist for an earlier slot', headers: IdempotencyHeaders,
      body: S.CreateWaitlistEntryBodySchema, response: { 201: ref('WaitlistEntry'), ...problems(400, 401, 403, 404, 413, 415, 422, 503) } },
  }, (req, reply) => idempotent(req, reply, 201, (ctx) => slots.addToWaitlist(ctx, req.body)))

  app.get<{ Querystring: Paged & { facilityId: string } }>('/waitlist/matches', {
    config: read,
    schema: { operationId: 'listWaitlistMatches', tags, summary: 'Waiting patients who could take a slot that is free now',
      description: 'First come first. A page looks at up to 100 waiting entries, so it may hold fewer matches than limit and still have a next cursor.',
      querystring: Type.Object({ ...PageQuery, facilityId: Uuid('Facility.', DEMO.clinicId) }, { additionalProperties: false }),
      response: { 200: Page(ref('WaitlistMatch'), 'WaitlistMatchPage'), ...problems(400, 401, 403, 404, 503) } },
  }, (req) => slots.waitlistMatches(req.ctx, req.query.facilityId, decodeCursor(req.query.cursor, ['text', 'uuid']), req.query.limit ?? 25))

  // Referrals
  app.post<{ Body: S.CreateReferralBody }>('/referrals', {
    config: write,
    schema: { operationId: 'createReferral', tags, summary: 'Record an inbound referral', headers: IdempotencyHeaders, body: S.CreateReferralBodySchema,
      response: { 201: ref('Referral'), ...problems(400, 401, 403, 404, 413, 415, 422, 503) } },
  }, (req, reply) => idempotent(req, reply, 201, (ctx) => referrals.createReferral(ctx, req.body)))

  app.get<{ Querystring: S.ReferralListQuery }>('/referrals', {
    config: read,
    schema: { operationId: 'listReferrals', tags, summary: 'Referrals in your facilities, newest first; by patient, status or referring NPI',
      description: 'Each referral listed is an audited read. Referrals of restricted records are withheld (403 restricted-record when patientId names one).',
      querystring: S.ReferralListQuerySchema, response: { 200: Page(ref('Referral'), 'ReferralPage'), ...problems(400, 401, 403, 404, 503) } },
  }, (req) => referrals.listReferrals(req.ctx, req.query, decodeCursor(req.query.cursor, ['text', 'uuid']), req.query.limit ?? 25))

  app.get<{ Params: { referralId: string } }>('/referrals/:referralId', {
    config: read,
    schema: { operationId: 'getReferral', tags, summary: 'Read a referral', params: ReferralParams, response: { 200: ref('Referral'), ...problems(400, 401, 403, 404, 503) } },
  }, async (req, reply) => sendVersioned(reply, await referrals.getReferral(req.ctx, req.params.referralId)))

  app.patch<{ Params: { referralId: string }; Body: S.UpdateReferralBody }>('/referrals/:referralId', {
    config: write,
    schema: { operationId: 'updateReferral', tags, summary: 'Amend a referral: cancel or reinstate, visits authorised, expiry, authorisation number',
      description: 'Visits authorised never drop below those used (409 visits-already-used).',
      params: ReferralParams, headers: IfMatchHeaders, body: S.UpdateReferralBodySchema,
      response: { 200: ref('Referral'), ...problems(400, 401, 403, 404, 409, 412, 413, 415, 503) } },
  }, async (req, reply) => sendVersioned(reply, await referrals.updateReferral(req.ctx, req.params.referralId, ifMatchVersion(req), req.body)))

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
