import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { PageQuery } from '../../http/pagination.ts'
import { DEMO, DEMO_PATIENTS, DEMO_SCHEDULING } from '../../lib/demo-ids.ts'
import { Uuid as Id } from '../../http/schema-parts.ts'

const Text = (max: number, description: string) => Type.String({ minLength: 1, maxLength: max, pattern: '\\S', description })
const Nullable = <T extends TSchema>(s: T) => Type.Union([s, Type.Null()])
// Calendars are kept for the years 1900-2999: a time outside them is refused here (400), not
// expanded into local dates JavaScript cannot represent (year 10000 at a UTC+14 facility).
const YEARS = '^(19|2[0-9])[0-9]{2}-'
const Instant = (description: string) =>
  Type.String({ format: 'date-time', pattern: YEARS, maxLength: 40, description: `${description} ISO 8601 with an offset, years 1900-2999; responses carry the facility's offset.` })
const DateOnly = (description: string) => Type.String({ format: 'date', pattern: YEARS, maxLength: 10, description: `${description} Years 1900-2999.` })
const Npi = Type.String({ pattern: '^[0-9]{10}$', description: 'NPI: 10 digits, Luhn check digit over the 80840 prefix.' })
const Code = Type.String({ pattern: '^[a-z0-9-]{1,64}$', maxLength: 64, description: 'Lower-case code.' })
const Reason = Text(500, 'Why (free text, kept with the record, not in the audit trail).')

// Examples name the demo organisation's rows, so that they work against a seeded server: John Paul
// Smith's new-patient visit with Dr. Ruiz in Exam 1 at the clinic; his referral to Dr. Okafor
// (general surgery) and his case in OR 1 at the hospital. Appointments, holds, blocks, referrals,
// cases and waitlist entries are not seeded: their ids are illustrative.
const EX = {
  org: DEMO.organizationId,
  clinic: DEMO.clinicId,
  hospital: DEMO.hospitalId,
  ruiz: DEMO_SCHEDULING.drRuizId,
  okafor: DEMO_SCHEDULING.drOkaforId,
  exam1: DEMO_SCHEDULING.clinicExam1Id,
  hospitalOr: DEMO_SCHEDULING.hospitalOrId,
  newPatientVisit: DEMO_SCHEDULING.newPatientTypeId,
  familyMedicine: DEMO_SCHEDULING.familyMedicineId,
  generalSurgery: DEMO_SCHEDULING.generalSurgeryId,
  patient: DEMO_PATIENTS[0].id,
  appointment: 'e5f6a7b8-c9d0-4e1f-a2b3-c4d5e6f7a8b9',
  block: 'c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f',
  referral: '6f7a8b9c-0d1e-4f2a-b3c4-d5e6f7a8b9c0',
}
/** A week of Dr. Ruiz's clinic hours: the window of the slot and calendar examples. */
export const EXAMPLE_WEEK = { from: '2027-12-06T00:00:00-05:00', to: '2027-12-11T00:00:00-05:00' }

export const ResourceKindSchema = Type.Union([Type.Literal('exam-room'), Type.Literal('procedure-room'), Type.Literal('operating-room'), Type.Literal('equipment')],
  { description: 'What a resource is.' },
)
export type ResourceKind = Static<typeof ResourceKindSchema>

const Active = Type.Boolean({ description: 'False once retired: kept for the records that name it, offered for nothing new.' })
const Version = Type.Integer({ minimum: 1, description: 'Row version; the ETag carries it.' })

export const SpecialtySchema = Type.Object(
  { id: Id('Specialty id.'), code: Code, name: Text(200, 'Display name.'), active: Active, version: Version },
  { $id: 'Specialty', additionalProperties: false, examples: [{ id: EX.familyMedicine, code: 'family-medicine', name: 'Family medicine', active: true, version: 1 }] },
)
export const CreateSpecialtyBodySchema = Type.Object(
  { code: Code, name: Text(200, 'Display name.') },
  { additionalProperties: false, examples: [{ code: 'cardiology', name: 'Cardiology' }] },
)
export const UpdateSpecialtyBodySchema = Type.Object(
  { name: Type.Optional(Text(200, 'Display name.')), active: Type.Optional(Active) },
  { additionalProperties: false, minProperties: 1, examples: [{ name: 'Family and community medicine' }] },
)
export type UpdateSpecialtyBody = Static<typeof UpdateSpecialtyBodySchema>

export const ProviderSchema = Type.Object(
  {
    id: Id('Provider id.'),
    organizationId: Id('Organisation the provider belongs to.'),
    npi: Npi,
    displayName: Text(200, 'Name as shown on calendars.'),
    specialtyIds: Type.Array(Id('Specialty.')),
    facilityIds: Type.Array(Id('Facility where the provider works.')),
    active: Active,
    version: Version,
  },
  {
    $id: 'Provider', additionalProperties: false,
    examples: [{
      id: EX.ruiz, organizationId: EX.org, npi: DEMO_SCHEDULING.drRuizNpi, displayName: 'Dr. Ana Ruiz, MD', specialtyIds: [EX.familyMedicine],
      facilityIds: [EX.hospital, EX.clinic], active: true, version: 1,
    }],
  },
)
export const CreateProviderBodySchema = Type.Object(
  {
    npi: Npi,
    displayName: Text(200, 'Name as shown on calendars.'),
    specialtyIds: Type.Array(Id('Specialty.'), { maxItems: 10, uniqueItems: true, default: [] }),
    facilityIds: Type.Array(Id('Facility.'), { minItems: 1, maxItems: 50, uniqueItems: true, description: 'Facilities of one organisation.' }),
  },
  { additionalProperties: false, examples: [{ npi: '1467503292', displayName: 'Dr. Priya Shah, MD', specialtyIds: [EX.familyMedicine], facilityIds: [EX.clinic] }] },
)
export type CreateProviderBody = Static<typeof CreateProviderBodySchema>
export const UpdateProviderBodySchema = Type.Object(
  {
    npi: Type.Optional(Npi),
    displayName: Type.Optional(Text(200, 'Name as shown on calendars.')),
    specialtyIds: Type.Optional(Type.Array(Id('Specialty.'), { maxItems: 10, uniqueItems: true, description: 'Replaces the specialties.' })),
    facilityIds: Type.Optional(Type.Array(Id('Facility.'), {
      minItems: 1, maxItems: 50, uniqueItems: true,
      description: 'Replaces the facilities within your scope (others stay). A facility with future appointments of the provider cannot be removed.',
    })),
    active: Type.Optional(Type.Boolean({ description: 'False retires the provider (refused while future appointments or cases are booked).' })),
  },
  { additionalProperties: false, minProperties: 1, examples: [{ displayName: 'Dr. Ana Ruiz-Lopez, MD' }, { active: false }] },
)
export type UpdateProviderBody = Static<typeof UpdateProviderBodySchema>

export const ProviderListQuerySchema = Type.Object(
  {
    ...PageQuery,
    facilityId: Type.Optional(Id('Only providers working at this facility (default: every facility in your scope).')),
    specialtyId: Type.Optional(Id('Only this specialty.')),
    active: Type.Optional(Type.Boolean({ description: 'Only active (true) or retired (false) providers.' })),
    planId: Type.Optional(Id('Filter by network status in this insurance plan (see inNetwork).')),
    inNetwork: Type.Optional(Type.Boolean({ description: "With planId: providers whose NPI is (true, the default) or is not (false) in the plan's network today." })),
  },
  { additionalProperties: false },
)
export type ProviderListQuery = Static<typeof ProviderListQuerySchema>

export const ResourceSchema = Type.Object(
  { id: Id('Resource id.'), facilityId: Id('Facility.'), kind: ResourceKindSchema, name: Text(200, 'Display name.'), active: Active, version: Version },
  { $id: 'Resource', additionalProperties: false, examples: [{ id: EX.exam1, facilityId: EX.clinic, kind: 'exam-room', name: 'Exam 1', active: true, version: 1 }] },
)
export const CreateResourceBodySchema = Type.Object(
  { kind: ResourceKindSchema, name: Text(200, 'Display name.') },
  { additionalProperties: false, examples: [{ kind: 'operating-room', name: 'OR 2' }] },
)
export const UpdateResourceBodySchema = Type.Object(
  {
    kind: Type.Optional(ResourceKindSchema),
    name: Type.Optional(Text(200, 'Display name.')),
    active: Type.Optional(Type.Boolean({ description: 'False retires the resource (refused while future appointments or cases use it).' })),
  },
  { additionalProperties: false, minProperties: 1, examples: [{ name: 'Exam 1 (east wing)' }] },
)
export type UpdateResourceBody = Static<typeof UpdateResourceBodySchema>

const typeFields = {
  code: Code,
  name: Text(200, 'Display name.'),
  specialtyId: Nullable(Id('Specialty that offers it.')),
  durationMinutes: Type.Integer({ minimum: 5, maximum: 720 }),
  bufferBeforeMinutes: Type.Integer({ minimum: 0, maximum: 240, description: 'Reserved before the start (preparation).' }),
  bufferAfterMinutes: Type.Integer({ minimum: 0, maximum: 240, description: 'Reserved after the end (cleaning, notes).' }),
  resourceKinds: Type.Array(ResourceKindSchema, { maxItems: 4, uniqueItems: true, description: 'One resource of each kind is reserved with the provider.' }),
  requiresReferral: Type.Boolean(),
  requiresPriorAuth: Type.Boolean({ description: 'The referral must carry an authorisation number.' }),
  minimumNoticeMinutes: Type.Integer({ minimum: 0, maximum: 525600, description: 'Earliest bookable start is now plus this.' }),
}
const typeExample = {
  code: 'new-patient', name: 'New patient visit', specialtyId: EX.familyMedicine, durationMinutes: 40, bufferBeforeMinutes: 0,
  bufferAfterMinutes: 10, resourceKinds: ['exam-room'], requiresReferral: false, requiresPriorAuth: false, minimumNoticeMinutes: 120,
}
export const AppointmentTypeSchema = Type.Object(
  { id: Id('Appointment type id.'), organizationId: Id('Organisation.'), ...typeFields, active: Active, version: Version },
  { $id: 'AppointmentType', additionalProperties: false, examples: [{ id: EX.newPatientVisit, organizationId: EX.org, ...typeExample, active: true, version: 1 }] },
)
export const CreateAppointmentTypeBodySchema = Type.Object(
  {
    organizationId: Id('Organisation.'),
    ...typeFields,
    specialtyId: Type.Optional(typeFields.specialtyId),
    bufferBeforeMinutes: Type.Optional(typeFields.bufferBeforeMinutes),
    bufferAfterMinutes: Type.Optional(typeFields.bufferAfterMinutes),
    resourceKinds: Type.Optional(typeFields.resourceKinds),
    requiresReferral: Type.Optional(typeFields.requiresReferral),
    requiresPriorAuth: Type.Optional(typeFields.requiresPriorAuth),
    minimumNoticeMinutes: Type.Optional(typeFields.minimumNoticeMinutes),
  },
  { additionalProperties: false, examples: [{ organizationId: EX.org, ...typeExample, code: 'annual-physical', name: 'Annual physical' }] },
)
export type CreateAppointmentTypeBody = Static<typeof CreateAppointmentTypeBodySchema>
const { code: _code, ...editableTypeFields } = typeFields
export const UpdateAppointmentTypeBodySchema = Type.Partial(
  Type.Object({ ...editableTypeFields, active: Type.Boolean({ description: 'False retires the type (refused while future appointments use it).' }) }),
  {
    additionalProperties: false, minProperties: 1,
    description: 'Appointments already booked keep their times; new bookings follow the new duration, buffers and resources.',
    examples: [{ durationMinutes: 45, bufferAfterMinutes: 15 }],
  },
)
export type UpdateAppointmentTypeBody = Static<typeof UpdateAppointmentTypeBodySchema>

const LocalTime = Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', description: 'Local wall-clock time HH:MM in the facility zone.' })
export const AvailabilityRuleSchema = Type.Object(
  {
    id: Id('Rule id.'),
    providerId: Id('Provider.'),
    facilityId: Id('Facility (its IANA zone interprets the times).'),
    resourceId: Nullable(Id('Room that comes with this availability.')),
    weekday: Type.Integer({ minimum: 1, maximum: 7, description: 'ISO weekday: 1 Monday ... 7 Sunday.' }),
    startTime: LocalTime,
    endTime: LocalTime,
    effectiveFrom: DateOnly('First day the rule applies.'),
    effectiveTo: Nullable(DateOnly('Last day the rule applies; null: open-ended.')),
    version: Version,
  },
  {
    $id: 'AvailabilityRule', additionalProperties: false,
    examples: [{
      id: DEMO_SCHEDULING.ruizMondayMorningRuleId, providerId: EX.ruiz, facilityId: EX.clinic, resourceId: EX.exam1, weekday: 1, startTime: '08:00', endTime: '12:00',
      effectiveFrom: '2026-01-01', effectiveTo: null, version: 1,
    }],
  },
)
export const CreateAvailabilityRuleBodySchema = Type.Object(
  {
    facilityId: Id('Facility.'),
    resourceId: Type.Optional(Id('Room that comes with this availability.')),
    weekday: Type.Integer({ minimum: 1, maximum: 7 }),
    startTime: LocalTime,
    endTime: LocalTime,
    effectiveFrom: DateOnly('First day.'),
    effectiveTo: Type.Optional(DateOnly('Last day.')),
  },
  { additionalProperties: false, examples: [{ facilityId: EX.clinic, resourceId: EX.exam1, weekday: 6, startTime: '09:00', endTime: '12:00', effectiveFrom: '2027-11-30' }] },
)
export type CreateAvailabilityRuleBody = Static<typeof CreateAvailabilityRuleBodySchema>
export const UpdateAvailabilityRuleBodySchema = Type.Object(
  {
    resourceId: Type.Optional(Nullable(Id('Room that comes with this availability; null: none.'))),
    weekday: Type.Optional(Type.Integer({ minimum: 1, maximum: 7 })),
    startTime: Type.Optional(LocalTime),
    endTime: Type.Optional(LocalTime),
    effectiveFrom: Type.Optional(DateOnly('First day.')),
    effectiveTo: Type.Optional(Nullable(DateOnly('Last day; null: open-ended.'))),
  },
  {
    additionalProperties: false, minProperties: 1,
    description: 'Appointments already booked stay where they are.',
    examples: [{ endTime: '13:00' }, { effectiveTo: '2028-03-31' }],
  },
)
export type UpdateAvailabilityRuleBody = Static<typeof UpdateAvailabilityRuleBodySchema>

export const AvailabilityExceptionSchema = Type.Object(
  {
    id: Id('Id.'),
    providerId: Id('Provider.'),
    facilityId: Id('Facility.'),
    kind: Type.Union([Type.Literal('extra'), Type.Literal('block')], { description: 'extra: one-off availability; block: leave, meeting.' }),
    resourceId: Nullable(Id('Room (extra availability only).')),
    start: Instant('Start.'),
    end: Instant('End.'),
    reason: Nullable(Type.String({ maxLength: 500 })),
  },
  {
    $id: 'AvailabilityException', additionalProperties: false,
    examples: [{ id: EX.block, providerId: EX.ruiz, facilityId: EX.clinic, kind: 'block', resourceId: null, start: '2027-12-02T12:00:00-05:00', end: '2027-12-02T13:00:00-05:00', reason: 'Staff meeting' }],
  },
)
export const CreateAvailabilityExceptionBodySchema = Type.Object(
  {
    facilityId: Id('Facility.'),
    kind: Type.Union([Type.Literal('extra'), Type.Literal('block')]),
    resourceId: Type.Optional(Id('Room (extra availability only).')),
    start: Instant('Start.'),
    end: Instant('End.'),
    reason: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false, examples: [{ facilityId: EX.clinic, kind: 'block', start: '2027-12-02T12:00:00-05:00', end: '2027-12-02T13:00:00-05:00', reason: 'Staff meeting' }] },
)
export type CreateAvailabilityExceptionBody = Static<typeof CreateAvailabilityExceptionBodySchema>

export const SlotSchema = Type.Object(
  {
    status: Type.Literal('free'),
    start: Instant('Start.'),
    end: Instant('End.'),
    providerId: Id('Provider.'),
    providerName: Type.String({ maxLength: 200 }),
    facilityId: Id('Facility.'),
    appointmentTypeId: Id('Appointment type.'),
    resourceIds: Type.Array(Id('Resource reserved with the provider.')),
  },
  {
    $id: 'Slot', additionalProperties: false,
    examples: [{
      status: 'free', start: '2027-12-06T09:20:00-05:00', end: '2027-12-06T10:00:00-05:00', providerId: EX.ruiz, providerName: 'Dr. Ana Ruiz, MD', facilityId: EX.clinic,
      appointmentTypeId: EX.newPatientVisit, resourceIds: [EX.exam1],
    }],
  },
)

export const SlotQuerySchema = Type.Object(
  {
    facilityId: Id('Facility.', DEMO.clinicId),
    appointmentTypeId: Id('Appointment type.', DEMO_SCHEDULING.newPatientTypeId),
    providerId: Type.Optional(Type.Array(Id('Provider.'), { maxItems: 20, description: 'One or more providers (repeat the parameter).' })),
    specialtyId: Type.Optional(Id('Any provider of this specialty at the facility.')),
    from: { ...Instant('Window start.'), examples: [EXAMPLE_WEEK.from] },
    to: { ...Instant('Window end (at most 31 days after from).'), examples: [EXAMPLE_WEEK.to] },
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100, description: 'Page size, 1 to 500 (a day of slots fits on one page).' })),
    cursor: PageQuery.cursor,
  },
  { additionalProperties: false },
)
export type SlotQuery = Static<typeof SlotQuerySchema>

export const CreateSlotHoldBodySchema = Type.Object(
  {
    facilityId: Id('Facility.'),
    providerId: Id('Provider.'),
    appointmentTypeId: Id('Appointment type.'),
    start: Instant('Start of the slot.'),
    resourceIds: Type.Optional(Type.Array(Id('Resource.'), { maxItems: 4, uniqueItems: true, description: 'Default: a free resource of each kind the type needs.' })),
    patientId: Type.Optional(Id('Patient the hold is for.')),
    expiresInSeconds: Type.Optional(Type.Integer({ minimum: 10, maximum: 3600, default: 300 })),
  },
  { additionalProperties: false, examples: [{ facilityId: EX.clinic, providerId: EX.ruiz, appointmentTypeId: EX.newPatientVisit, start: '2027-12-06T09:20:00-05:00', resourceIds: [EX.exam1] }] },
)
export type CreateSlotHoldBody = Static<typeof CreateSlotHoldBodySchema>

export const SlotHoldSchema = Type.Object(
  {
    id: Id('Hold id.'),
    facilityId: Id('Facility.'),
    providerId: Id('Provider.'),
    appointmentTypeId: Id('Appointment type.'),
    patientId: Nullable(Id('Patient.')),
    resourceIds: Type.Array(Id('Resource.')),
    start: Instant('Start.'),
    end: Instant('End.'),
    expiresAt: Instant('The hold stops counting at this instant.'),
    status: Type.Union([Type.Literal('busy-tentative'), Type.Literal('expired')], { description: 'FHIR Slot status of the held time.' }),
  },
  {
    $id: 'SlotHold', additionalProperties: false,
    examples: [{ id: EX.appointment, facilityId: EX.clinic, providerId: EX.ruiz, appointmentTypeId: EX.newPatientVisit, patientId: null, resourceIds: [EX.exam1], start: '2027-12-06T09:20:00-05:00', end: '2027-12-06T10:00:00-05:00', expiresAt: '2027-11-30T10:05:00-05:00', status: 'busy-tentative' }],
  },
)

export const AppointmentStatusSchema = Type.Union([Type.Literal('booked'), Type.Literal('arrived'), Type.Literal('checked-in'), Type.Literal('fulfilled'), Type.Literal('cancelled'), Type.Literal('noshow'), Type.Literal('entered-in-error')],
  { description: 'FHIR R4 Appointment.status.' },
)

export const AppointmentSchema = Type.Object(
  {
    id: Id('Appointment id.'),
    status: AppointmentStatusSchema,
    facilityId: Id('Facility.'),
    facilityName: Type.String({ maxLength: 200 }),
    patientId: Id('Patient.'),
    providerId: Id('Provider.'),
    providerName: Type.String({ maxLength: 200 }),
    appointmentTypeId: Id('Appointment type.'),
    appointmentTypeName: Type.String({ maxLength: 200 }),
    resources: Type.Array(Type.Object({ id: Id('Resource.'), name: Type.String({ maxLength: 200 }), kind: ResourceKindSchema }, { additionalProperties: false })),
    start: Instant('Start.'),
    end: Instant('End.'),
    overbooked: Type.Boolean(),
    referralId: Nullable(Id('Referral the visit counts against.')),
    referralOverridden: Type.Boolean({ description: 'Booked without a required referral, by an audited override.' }),
    note: Nullable(Type.String({ maxLength: 1000 })),
    cancellation: Nullable(Type.Object({
      at: Instant('When.'),
      by: Type.String({ maxLength: 255, description: 'Subject of the user who cancelled.' }),
      reason: Type.String({ maxLength: 500 }),
      late: Type.Boolean({ description: 'Cancelled within the type\'s minimum notice (24 h when it has none) of the start.' }),
    }, { additionalProperties: false })),
    enteredInError: Nullable(Type.Object({
      at: Instant('When it was marked.'),
      by: Type.String({ maxLength: 255, description: 'Subject of the user who marked it.' }),
      reason: Type.String({ maxLength: 500 }),
    }, { additionalProperties: false, description: 'Set when the appointment was recorded by mistake (status entered-in-error).' })),
    version: Version,
  },
  {
    $id: 'Appointment', additionalProperties: false,
    examples: [{
      id: EX.appointment, status: 'booked', facilityId: EX.clinic, facilityName: 'Riverside Family Clinic', patientId: EX.patient, providerId: EX.ruiz,
      providerName: 'Dr. Ana Ruiz, MD', appointmentTypeId: EX.newPatientVisit, appointmentTypeName: 'New patient visit',
      resources: [{ id: EX.exam1, name: 'Exam 1', kind: 'exam-room' }], start: '2027-12-06T09:20:00-05:00', end: '2027-12-06T10:00:00-05:00',
      overbooked: false, referralId: null, referralOverridden: false, note: null, cancellation: null, enteredInError: null, version: 1,
    }],
  },
)
export type Appointment = Static<typeof AppointmentSchema>

export const AppointmentListQuerySchema = Type.Object(
  { ...PageQuery, facilityId: Id('Facility.', DEMO.clinicId), patientId: Id('Patient.', DEMO_PATIENTS[0].id) },
  { additionalProperties: false },
)

export const BookAppointmentBodySchema = Type.Object(
  {
    facilityId: Id('Facility.'),
    patientId: Id('Patient.'),
    providerId: Id('Provider.'),
    appointmentTypeId: Id('Appointment type.'),
    start: Instant('Start.'),
    resourceIds: Type.Optional(Type.Array(Id('Resource.'), { maxItems: 4, uniqueItems: true, description: 'Default: those of the hold, else a free resource of each kind the type needs.' })),
    holdId: Type.Optional(Id('A live hold of this slot, consumed by the booking.')),
    referralId: Type.Optional(Id('Referral, when the type requires one.')),
    referralOverrideReason: Type.Optional(Reason),
    overbookReason: Type.Optional(Type.String({ minLength: 1, maxLength: 500, pattern: '\\S', description: 'Book over occupied time deliberately (permission scheduling:overbook).' })),
    note: Type.Optional(Type.String({ maxLength: 1000 })),
  },
  {
    additionalProperties: false,
    examples: [{ facilityId: EX.clinic, patientId: EX.patient, providerId: EX.ruiz, appointmentTypeId: EX.newPatientVisit, start: '2027-12-06T09:20:00-05:00', resourceIds: [EX.exam1] }],
  },
)
export type BookAppointmentBody = Static<typeof BookAppointmentBodySchema>

export const RescheduleBodySchema = Type.Object(
  {
    start: Instant('New start.'),
    providerId: Type.Optional(Id('New provider (default: the same).')),
    resourceIds: Type.Optional(Type.Array(Id('Resource.'), { maxItems: 4, uniqueItems: true })),
  },
  { additionalProperties: false, examples: [{ start: '2027-12-07T10:00:00-05:00' }] },
)
export type RescheduleBody = Static<typeof RescheduleBodySchema>

export const CancelBodySchema = Type.Object(
  { reason: Reason },
  { additionalProperties: false, examples: [{ reason: 'Patient called: travelling' }] },
)
export const EnteredInErrorBodySchema = Type.Object(
  { reason: Reason },
  { additionalProperties: false, examples: [{ reason: 'Booked for the wrong patient' }] },
)

export const CalendarSchema = Type.Object(
  {
    providerId: Id('Provider.'),
    providerName: Type.String({ maxLength: 200 }),
    entries: Type.Array(Type.Object({
      kind: Type.Union([Type.Literal('appointment'), Type.Literal('hold'), Type.Literal('block'), Type.Literal('surgical-case')]),
      id: Id('Appointment, hold, block or case id.'),
      facilityId: Id('Facility.'),
      start: Instant('Start.'),
      end: Instant('End.'),
      status: Type.String({ maxLength: 40, description: 'Appointment or case status; busy-tentative for holds; busy-unavailable for blocks.' }),
      patientId: Nullable(Id('Patient (appointments and cases).')),
      patientName: Type.Optional(Nullable(Type.String({ maxLength: 300, description: "Only for roles with patient:read; 'Restricted record' for a restricted patient outside your care team (send X-Break-Glass-Reason to see it)." }))),
      label: Nullable(Type.String({ maxLength: 500, description: 'Appointment type, block reason or procedure codes.' })),
    }, { additionalProperties: false })),
  },
  {
    $id: 'Calendar', additionalProperties: false,
    examples: [{
      providerId: EX.ruiz, providerName: 'Dr. Ana Ruiz, MD',
      entries: [{
        kind: 'appointment', id: EX.appointment, facilityId: EX.clinic, start: '2027-12-06T09:20:00-05:00', end: '2027-12-06T10:00:00-05:00', status: 'booked',
        patientId: EX.patient, patientName: 'Smith, John Paul', label: 'New patient visit',
      }],
    }],
  },
)

export const ReferralStatusSchema = Type.Union([Type.Literal('active'), Type.Literal('cancelled')], {
  description: 'Only an active referral lets a visit be booked or checked in; a cancelled one may be reinstated.',
})
const referralExample = {
  facilityId: EX.hospital, patientId: EX.patient, referringProviderNpi: DEMO_SCHEDULING.drRuizNpi, referringProviderName: 'Dr. Ana Ruiz, Riverside Family Clinic',
  reason: 'Right upper quadrant pain; gallstones on ultrasound', icd10Codes: ['K80.20'], visitsAuthorized: 3, validFrom: '2027-11-01', validTo: '2028-02-29',
}
export const ReferralSchema = Type.Object(
  {
    id: Id('Referral id.'),
    facilityId: Id('Receiving facility.'),
    patientId: Id('Patient.'),
    referringProviderNpi: Npi,
    referringProviderName: Type.String({ maxLength: 200 }),
    officeContact: Nullable(Type.String({ maxLength: 200 })),
    specialtyId: Nullable(Id('Specialty referred to.')),
    reason: Type.String({ maxLength: 1000 }),
    icd10Codes: Type.Array(Type.String({ maxLength: 8 })),
    authorizationNumber: Nullable(Type.String({ maxLength: 50 })),
    visitsAuthorized: Type.Integer(),
    visitsUsed: Type.Integer(),
    validFrom: DateOnly('First valid day.'),
    validTo: DateOnly('Last valid day.'),
    status: ReferralStatusSchema,
    version: Version,
  },
  {
    $id: 'Referral', additionalProperties: false,
    examples: [{
      id: EX.referral, ...referralExample, officeContact: 'Fax 555-0142', specialtyId: EX.generalSurgery, authorizationNumber: 'AUTH-88123',
      visitsUsed: 0, status: 'active', version: 1,
    }],
  },
)
const Icd10 = Type.String({ pattern: '^[A-TV-Z][0-9][0-9A-Z](\\.[0-9A-Z]{1,4})?$', maxLength: 8, description: 'ICD-10-CM code.' })
export const CreateReferralBodySchema = Type.Object(
  {
    facilityId: Id('Receiving facility.'),
    patientId: Id('Patient.'),
    referringProviderNpi: Npi,
    referringProviderName: Text(200, 'Referring physician and office.'),
    officeContact: Type.Optional(Type.String({ maxLength: 200 })),
    specialtyId: Type.Optional(Id('Specialty referred to.')),
    reason: Text(1000, 'Reason for referral.'),
    icd10Codes: Type.Array(Icd10, { minItems: 1, maxItems: 12 }),
    authorizationNumber: Type.Optional(Text(50, 'Payer prior-authorisation number.')),
    visitsAuthorized: Type.Integer({ minimum: 1, maximum: 999 }),
    validFrom: DateOnly('First valid day.'),
    validTo: DateOnly('Last valid day.'),
  },
  {
    additionalProperties: false,
    examples: [{ ...referralExample, specialtyId: EX.generalSurgery, authorizationNumber: 'AUTH-88123' }],
  },
)
export type CreateReferralBody = Static<typeof CreateReferralBodySchema>
export const UpdateReferralBodySchema = Type.Object(
  {
    status: Type.Optional(ReferralStatusSchema),
    visitsAuthorized: Type.Optional(Type.Integer({ minimum: 1, maximum: 999, description: 'Never below the visits already used.' })),
    validTo: Type.Optional(DateOnly('New last valid day (extends or shortens the expiry).')),
    authorizationNumber: Type.Optional(Nullable(Text(50, 'Payer prior-authorisation number; null removes it.'))),
  },
  { additionalProperties: false, minProperties: 1, examples: [{ visitsAuthorized: 6, validTo: '2028-06-30' }, { status: 'cancelled' }] },
)
export type UpdateReferralBody = Static<typeof UpdateReferralBodySchema>
export const ReferralListQuerySchema = Type.Object(
  {
    ...PageQuery,
    facilityId: Type.Optional(Id('Receiving facility (default: every facility in your scope).')),
    patientId: Type.Optional(Id('Patient.')),
    status: Type.Optional(ReferralStatusSchema),
    referringProviderNpi: Type.Optional(Npi),
  },
  { additionalProperties: false },
)
export type ReferralListQuery = Static<typeof ReferralListQuerySchema>

const ChecklistState = Type.Union([Type.Literal('pending'), Type.Literal('complete'), Type.Literal('not-applicable')])
const checklistFields = {
  historyAndPhysical: ChecklistState, labs: ChecklistState, clearance: ChecklistState, priorAuthorization: ChecklistState, consent: ChecklistState,
}
export const SurgicalCaseSchema = Type.Object(
  {
    id: Id('Case id.'),
    facilityId: Id('Hospital or ambulatory surgery centre.'),
    patientId: Id('Patient.'),
    surgeonId: Id('Surgeon (a provider).'),
    surgeonName: Type.String({ maxLength: 200 }),
    procedureCodes: Type.Array(Type.String({ maxLength: 5 }), { description: 'CPT codes.' }),
    expectedDurationMinutes: Type.Integer(),
    anesthesia: Type.Union([Type.Literal('general'), Type.Literal('regional'), Type.Literal('local'), Type.Literal('sedation'), Type.Literal('none')]),
    priority: Type.Union([Type.Literal('elective'), Type.Literal('urgent'), Type.Literal('emergency')]),
    status: Type.Union([Type.Literal('requested'), Type.Literal('pending-facility-confirmation'), Type.Literal('scheduled'), Type.Literal('needs-reschedule'), Type.Literal('completed'), Type.Literal('cancelled')]),
    statusReason: Nullable(Type.String({ maxLength: 500 })),
    operatingRoomId: Nullable(Id('Operating room.')),
    start: Nullable(Instant('Start.')),
    end: Nullable(Instant('End.')),
    checklist: Type.Object(checklistFields, { additionalProperties: false }),
    bumpedByCaseId: Nullable(Id('The emergency case that displaced this one.')),
    version: Type.Integer(),
  },
  {
    $id: 'SurgicalCase', additionalProperties: false,
    examples: [{
      id: EX.appointment, facilityId: EX.hospital, patientId: EX.patient, surgeonId: EX.okafor, surgeonName: 'Dr. Samuel Okafor, MD, FACS', procedureCodes: ['47562'],
      expectedDurationMinutes: 90, anesthesia: 'general', priority: 'elective', status: 'scheduled', statusReason: null, operatingRoomId: EX.hospitalOr,
      start: '2027-12-08T08:00:00-05:00', end: '2027-12-08T09:30:00-05:00',
      checklist: { historyAndPhysical: 'complete', labs: 'complete', clearance: 'pending', priorAuthorization: 'complete', consent: 'pending' }, bumpedByCaseId: null, version: 3,
    }],
  },
)
export type SurgicalCase = Static<typeof SurgicalCaseSchema>
export const CreateSurgicalCaseBodySchema = Type.Object(
  {
    facilityId: Id('Hospital or ambulatory surgery centre.'),
    patientId: Id('Patient.'),
    surgeonId: Id('Surgeon.'),
    procedureCodes: Type.Array(Type.String({ pattern: '^[0-9]{4}[0-9A-Z]$', maxLength: 5 }), { minItems: 1, maxItems: 10, description: 'CPT codes.' }),
    expectedDurationMinutes: Type.Integer({ minimum: 15, maximum: 1440 }),
    anesthesia: Type.Union([Type.Literal('general'), Type.Literal('regional'), Type.Literal('local'), Type.Literal('sedation'), Type.Literal('none')]),
    priority: Type.Union([Type.Literal('elective'), Type.Literal('urgent'), Type.Literal('emergency')]),
  },
  { additionalProperties: false, examples: [{ facilityId: EX.hospital, patientId: EX.patient, surgeonId: EX.okafor, procedureCodes: ['47562'], expectedDurationMinutes: 90, anesthesia: 'general', priority: 'elective' }] },
)
export type CreateSurgicalCaseBody = Static<typeof CreateSurgicalCaseBodySchema>
export const UpdateChecklistBodySchema = Type.Partial(Type.Object(checklistFields), {
  additionalProperties: false, minProperties: 1, examples: [{ labs: 'complete', consent: 'complete' }],
})
export type UpdateChecklistBody = Static<typeof UpdateChecklistBodySchema>
export const ScheduleSurgicalCaseBodySchema = Type.Object(
  {
    operatingRoomId: Id('Operating room.'),
    start: Instant('Start.'),
    bumpElective: Type.Optional(Type.Boolean({ default: false, description: 'Emergency cases only: displace overlapping elective cases (they go to needs-reschedule).' })),
    reason: Type.Optional(Reason),
  },
  { additionalProperties: false, examples: [{ operatingRoomId: EX.hospitalOr, start: '2027-12-08T08:00:00-05:00' }] },
)
export type ScheduleSurgicalCaseBody = Static<typeof ScheduleSurgicalCaseBodySchema>

export const WaitlistEntrySchema = Type.Object(
  {
    id: Id('Entry id.'),
    facilityId: Id('Facility.'),
    patientId: Id('Patient.'),
    appointmentTypeId: Id('Appointment type.'),
    providerId: Nullable(Id('Wanted provider.')),
    specialtyId: Nullable(Id('Or any provider of this specialty.')),
    earliestDate: DateOnly('Earliest acceptable day.'),
    latestDate: DateOnly('Latest acceptable day.'),
    status: Type.Union([Type.Literal('waiting'), Type.Literal('booked'), Type.Literal('removed')]),
  },
  {
    $id: 'WaitlistEntry', additionalProperties: false,
    examples: [{ id: EX.referral, facilityId: EX.clinic, patientId: EX.patient, appointmentTypeId: EX.newPatientVisit, providerId: EX.ruiz, specialtyId: null, earliestDate: '2027-11-30', latestDate: '2027-12-19', status: 'waiting' }],
  },
)
export const CreateWaitlistEntryBodySchema = Type.Object(
  {
    facilityId: Id('Facility.'),
    patientId: Id('Patient.'),
    appointmentTypeId: Id('Appointment type.'),
    providerId: Type.Optional(Id('Wanted provider.')),
    specialtyId: Type.Optional(Id('Any provider of this specialty.')),
    earliestDate: DateOnly('Earliest acceptable day.'),
    latestDate: DateOnly('Latest acceptable day.'),
  },
  { additionalProperties: false, examples: [{ facilityId: EX.clinic, patientId: EX.patient, appointmentTypeId: EX.newPatientVisit, providerId: EX.ruiz, earliestDate: '2027-11-30', latestDate: '2027-12-19' }] },
)
export type CreateWaitlistEntryBody = Static<typeof CreateWaitlistEntryBodySchema>
export const WaitlistMatchSchema = Type.Object(
  { entry: Type.Ref('WaitlistEntry'), slots: Type.Array(Type.Ref('Slot'), { maxItems: 3 }) },
  { $id: 'WaitlistMatch', additionalProperties: false },
)

export const CancelledAppointmentSchema = Type.Object(
  {
    ...AppointmentSchema.properties,
    waitlistMatches: Type.Array(Type.Ref('WaitlistMatch'), {
      maxItems: 10, description: 'Waiting patients who could take the freed time (as GET /waitlist/matches finds them), first come first.',
    }),
  },
  {
    $id: 'CancelledAppointment', additionalProperties: false,
    examples: [{ ...AppointmentSchema.examples[0], status: 'cancelled', cancellation: { at: '2027-11-30T10:00:00-05:00', by: 'coordinator-7', reason: 'Patient called: travelling', late: false }, version: 2, waitlistMatches: [] }],
  },
)

export const IdParams = (name: string, description: string, example?: string) => Type.Object({ [name]: Id(description, example) })
