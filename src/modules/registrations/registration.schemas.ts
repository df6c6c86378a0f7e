import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { DEMO, DEMO_PATIENTS, DEMO_SCHEDULING } from '../../lib/demo-ids.ts'
import { AdministrativeSexSchema } from '../patients/patient.schemas.ts'
import { Uuid as Id } from '../../http/schema-parts.ts'

const Text = (maxLength: number, description: string) => Type.String({ minLength: 1, maxLength, pattern: '\\S', description })
const Time = (description: string) => Type.String({ format: 'date-time', maxLength: 40, description })
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()])
const Obj = <P extends Record<string, TSchema>>(props: P, description?: string) => Type.Object(props, { additionalProperties: false, description })

/** The demo's John Paul Smith, registered at the demo hospital: the patient the examples name. */
const smith = DEMO_PATIENTS[0]

const Clinician = Obj({
  name: Text(200, 'Clinician name.'),
  npi: Type.Optional(Type.String({ pattern: '^[0-9]{10}$', description: 'Individual NPI (Luhn-checked).' })),
})
const Coded = Obj({
  code: Text(40, 'Code (CPT, LOINC, ICD-10-PCS...).'),
  system: Type.Optional(Text(200, 'Code system URI.')),
  description: Text(300, 'Human-readable description.'),
})

export const OutpatientDiagnosticDetails = Obj({
  orderedTests: Type.Array(Coded, { minItems: 1, maxItems: 30, description: 'The ordered tests.' }),
  orderingProvider: Clinician,
})
export const SurgeryDetails = Obj({
  procedure: Coded,
  surgeon: Clinician,
  scheduledAt: Type.Optional(Time('Planned start of the procedure.')),
  anesthesia: Type.Optional(Type.Union((['general', 'regional', 'local', 'sedation', 'none'] as const).map((v) => Type.Literal(v)))),
})
export const DirectAdmissionDetails = Obj({
  admittingPhysician: Clinician,
  referringOffice: Obj({ name: Text(200, 'Physician office sending the patient.'), phone: Type.Optional(Type.String({ pattern: '^\\+[1-9][0-9]{6,14}$' })), npi: Type.Optional(Type.String({ pattern: '^[0-9]{10}$' })) }),
  requestedUnit: Text(100, 'Unit asked for (4 West, ICU...).'),
  bedType: Type.Union((['medical_surgical', 'telemetry', 'step_down', 'icu', 'pediatric', 'obstetric', 'psychiatric', 'isolation'] as const).map((v) => Type.Literal(v))),
})
export const EmergencyDetails = Obj({
  arrivalMode: Type.Union((['walk_in', 'ambulance', 'police', 'transfer', 'other'] as const).map((v) => Type.Literal(v))),
})

const common = {
  facilityId: Id('Facility of the encounter; you must act for it.'),
  location: Type.Optional(Text(100, 'Department or area whose queue the patient joins (ED, radiology...).')),
  plannedAt: Type.Optional(Time('When the encounter is planned.')),
  referralRequired: Type.Optional(Type.Boolean({ description: 'Check-in must verify a referral.' })),
  copayDueCents: Type.Optional(Type.Integer({ minimum: 0, maximum: 10000000, description: 'Co-payment to collect at check-in, in cents.' })),
}
const withPatient = { patientId: Id('The patient.'), ...common }

export const CreateRegistrationBodySchema = Type.Union(
  [
    Obj({ kind: Type.Literal('outpatient_diagnostic'), ...withPatient, details: OutpatientDiagnosticDetails }, 'Ordered diagnostic tests.'),
    Obj({ kind: Type.Literal('surgery'), ...withPatient, details: SurgeryDetails }, 'A surgery at the facility.'),
    Obj({ kind: Type.Literal('direct_admission'), ...withPatient, details: DirectAdmissionDetails }, "Admission straight from a physician's office."),
    Obj({ kind: Type.Literal('emergency'), ...withPatient, arrivedAt: Type.Optional(Time('Arrival; default now (emergency registrations start on arrival).')), details: EmergencyDetails }, 'Emergency department arrival.'),
    Obj(
      {
        kind: Type.Literal('newborn_admission'),
        ...common,
        newborn: Obj({
          motherPatientId: Id('The mother.'),
          deliveryRegistrationId: Id("The mother's registration during which the baby was born."),
          birthTime: Time('Time of birth.'),
          birthOrder: Type.Optional(Type.Integer({ minimum: 1, maximum: 12, description: 'Order among multiples (1 for a single birth).' })),
          multipleBirth: Type.Optional(Type.Boolean({ description: 'Part of a multiple birth: the default name carries the birth-order letter.' })),
          administrativeSex: Type.Optional(AdministrativeSexSchema),
          familyName: Type.Optional(Text(100, "Default: the mother's family name.")),
          givenNames: Type.Optional(Text(200, 'Default: "Baby Girl", "Baby Boy" or "Baby", plus A, B... for multiples.')),
        }),
      },
      "A baby born here: creates the newborn's patient record, linked to the mother and the delivery.",
    ),
  ],
  {
    examples: [
      {
        kind: 'outpatient_diagnostic', patientId: smith.id, facilityId: DEMO.hospitalId, location: 'Radiology',
        plannedAt: '2026-12-01T14:00:00Z', copayDueCents: 2500,
        details: { orderedTests: [{ code: '71046', description: 'Chest X-ray, 2 views' }], orderingProvider: { name: 'Dr. Ana Ruiz', npi: DEMO_SCHEDULING.drRuizNpi } },
      },
    ],
  },
)
export type CreateRegistrationBody = Static<typeof CreateRegistrationBodySchema>

export const RegistrationStatusSchema = Type.Union((['planned', 'arrived', 'in_progress', 'finished', 'cancelled'] as const).map((v) => Type.Literal(v)))
export const FlowStateSchema = Type.Union((['waiting', 'roomed', 'with_provider', 'checked_out'] as const).map((v) => Type.Literal(v)), {
  description: 'Patient flow on site.',
})

export const RegistrationSchema = Type.Object(
  {
    id: Id('Registration id.'),
    organizationId: Id('Organisation.'),
    facilityId: Id('Facility.'),
    patientId: Id('Patient.'),
    kind: Type.Union((['outpatient_diagnostic', 'surgery', 'direct_admission', 'newborn_admission', 'emergency'] as const).map((v) => Type.Literal(v))),
    status: RegistrationStatusSchema,
    location: Nullable(Type.String()),
    plannedAt: Nullable(Type.String({ format: 'date-time' })),
    referralRequired: Type.Boolean(),
    copayDueCents: Type.Integer(),
    details: Type.Union([OutpatientDiagnosticDetails, SurgeryDetails, DirectAdmissionDetails, EmergencyDetails, Obj({})], { description: 'Kind-specific details.' }),
    newborn: Nullable(Obj({ motherPatientId: Type.String({ format: 'uuid' }), deliveryRegistrationId: Type.String({ format: 'uuid' }), birthOrder: Type.Integer() })),
    arrivedAt: Nullable(Type.String({ format: 'date-time' })),
    startedAt: Nullable(Type.String({ format: 'date-time' })),
    finishedAt: Nullable(Type.String({ format: 'date-time' })),
    cancelledAt: Nullable(Type.String({ format: 'date-time' })),
    cancelReason: Nullable(Type.String()),
    flow: Obj({
      state: Nullable(FlowStateSchema),
      waitingAt: Nullable(Type.String({ format: 'date-time' })),
      roomedAt: Nullable(Type.String({ format: 'date-time' })),
      withProviderAt: Nullable(Type.String({ format: 'date-time' })),
      checkedOutAt: Nullable(Type.String({ format: 'date-time' })),
    }),
    esiLevel: Nullable(Type.Integer({ minimum: 1, maximum: 5 })),
    version: Type.Integer(),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  {
    $id: 'Registration',
    additionalProperties: false,
    examples: [{
      id: '9a7e3c21-5b4d-4c3e-8f2a-1d0b9c8e7f65', organizationId: DEMO.organizationId, facilityId: DEMO.hospitalId,
      patientId: smith.id, kind: 'emergency', status: 'arrived', location: 'ED', plannedAt: null, referralRequired: false, copayDueCents: 0,
      details: { arrivalMode: 'walk_in' }, newborn: null, arrivedAt: '2026-11-27T10:05:00.000Z', startedAt: null, finishedAt: null, cancelledAt: null, cancelReason: null,
      flow: { state: 'waiting', waitingAt: '2026-11-27T10:05:00.000Z', roomedAt: null, withProviderAt: null, checkedOutAt: null }, esiLevel: 3, version: 3,
      createdAt: '2026-11-27T10:05:00.000Z', updatedAt: '2026-11-27T10:09:00.000Z',
    }],
  },
)
export type Registration = Static<typeof RegistrationSchema>

export const ChangeStatusBodySchema = Type.Object(
  {
    status: RegistrationStatusSchema,
    at: Type.Optional(Time('When it happened; default now.')),
    reason: Type.Optional(Text(500, 'Required to cancel.')),
  },
  { additionalProperties: false, examples: [{ status: 'cancelled', reason: 'Patient rescheduled by phone' }] },
)
export type ChangeStatusBody = Static<typeof ChangeStatusBodySchema>

export const ChangeFlowBodySchema = Type.Object(
  { state: FlowStateSchema, at: Type.Optional(Time('When it happened; default now.')) },
  { additionalProperties: false, examples: [{ state: 'roomed' }] },
)

export const ListRegistrationsQuerySchema = Type.Object(
  {
    patientId: Type.Optional(Type.String({ format: 'uuid' })),
    facilityId: Type.Optional(Type.String({ format: 'uuid' })),
    status: Type.Optional(RegistrationStatusSchema),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 25 })),
    cursor: Type.Optional(Type.String({ maxLength: 512, pattern: '^[A-Za-z0-9_-]+$' })),
  },
  { additionalProperties: false },
)

const PaymentMethod = Type.Union((['cash', 'card', 'check', 'ach', 'other'] as const).map((v) => Type.Literal(v)))
const Cents = Type.Integer({ minimum: 1, maximum: 10000000, description: 'Amount in cents.' })

export const CollectPaymentBodySchema = Type.Object(
  {
    amountCents: Cents,
    method: PaymentMethod,
    reference: Type.Optional(Text(100, 'Card authorisation, check number...')),
    kind: Type.Optional(Type.Union((['copay', 'deposit', 'other'] as const).map((v) => Type.Literal(v)), { default: 'copay' })),
  },
  { additionalProperties: false, examples: [{ amountCents: 2500, method: 'card', reference: 'AUTH-448812' }] },
)
export type CollectPaymentBody = Static<typeof CollectPaymentBodySchema>

export const RefundBodySchema = Type.Object(
  { amountCents: Cents, method: PaymentMethod, reference: Type.Optional(Text(100, 'Refund reference.')), reason: Text(500, 'Why the money goes back.') },
  { additionalProperties: false, examples: [{ amountCents: 2500, method: 'card', reason: 'Visit cancelled by the clinic' }] },
)
export type RefundBody = Static<typeof RefundBodySchema>

const RefundSchema = Obj({
  id: Type.String({ format: 'uuid' }), amountCents: Type.Integer(), method: PaymentMethod, reference: Nullable(Type.String()), reason: Type.String(),
  receiptNumber: Type.String(), refundedAt: Type.String({ format: 'date-time' }),
})
export const PaymentSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }), facilityId: Type.String({ format: 'uuid' }), patientId: Type.String({ format: 'uuid' }),
    registrationId: Nullable(Type.String({ format: 'uuid' })), checkInId: Nullable(Type.String({ format: 'uuid' })),
    kind: Type.Union((['copay', 'deposit', 'other'] as const).map((v) => Type.Literal(v))), amountCents: Type.Integer(), method: PaymentMethod,
    reference: Nullable(Type.String()), receiptNumber: Type.String({ description: 'Printed on the receipt.' }), collectedAt: Type.String({ format: 'date-time' }),
    refunds: Type.Array(RefundSchema), refundedCents: Type.Integer(),
  },
  {
    $id: 'Payment', additionalProperties: false,
    examples: [{
      id: 'c2b1a0f9-8e7d-4c6b-9a5f-4e3d2c1b0a99', facilityId: DEMO.hospitalId, patientId: smith.id,
      registrationId: '9a7e3c21-5b4d-4c3e-8f2a-1d0b9c8e7f65', checkInId: null, kind: 'copay', amountCents: 2500, method: 'card', reference: 'AUTH-448812',
      receiptNumber: 'R-100231', collectedAt: '2026-11-27T10:06:00.000Z', refunds: [], refundedCents: 0,
    }],
  },
)
export type Payment = Static<typeof PaymentSchema>

export const CheckInBodySchema = Type.Object(
  {
    arrivedAt: Type.Optional(Time('Arrival; default now.')),
    demographicsConfirmed: Type.Boolean({ description: 'Demographics reviewed with the patient.' }),
    insuranceVerified: Type.Boolean({ description: 'Insurance verified (card seen, eligibility checked).' }),
    eligibilityCheckId: Type.Optional(Type.String({
      format: 'uuid',
      description: 'The eligibility check relied on; it must be complete, for the day of service, and fresh (ELIGIBILITY_MAX_CHECK_AGE_DAYS), else 422 `eligibility-check-stale`. ' +
        'Omitted: the newest usable check of the coverage in force is used when there is one.',
    })),
    referralVerified: Type.Optional(Type.Boolean({ description: 'Referral on file and valid (needed when the registration requires one).' })),
    consentForms: Type.Optional(Type.Array(Obj({ form: Text(100, 'Form name (general consent, HIPAA notice...).'), signedAt: Time('When signed.') }), { maxItems: 20 })),
    copayment: Type.Optional(CollectPaymentBodySchema),
    override: Type.Optional(Obj({ reason: Text(500, 'Why the check-in completes with items missing (audited).') })),
  },
  {
    additionalProperties: false,
    examples: [{
      demographicsConfirmed: true, insuranceVerified: true, consentForms: [{ form: 'General consent', signedAt: '2026-11-27T10:04:00Z' }],
      copayment: { amountCents: 2500, method: 'card', reference: 'AUTH-448812' },
    }],
  },
)
export type CheckInBody = Static<typeof CheckInBodySchema>

export const CheckInSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    registrationId: Nullable(Type.String({ format: 'uuid' })),
    appointmentId: Nullable(Type.String({ format: 'uuid' })),
    patientId: Type.String({ format: 'uuid' }),
    facilityId: Type.String({ format: 'uuid' }),
    arrivedAt: Type.String({ format: 'date-time' }),
    eligibilityCheckId: Nullable(Type.String({ format: 'uuid' })),
    consentForms: Type.Array(Obj({ form: Type.String(), signedAt: Type.String() })),
    complete: Type.Array(Type.String(), { description: 'Items done: demographics, insurance, eligibility, referral, consent, copayment.' }),
    missing: Type.Array(Type.String(), { description: 'Required items not done (only with an override).' }),
    overrideReason: Nullable(Type.String()),
    payments: Type.Array(Type.Ref('Payment')),
    createdAt: Type.String({ format: 'date-time' }),
  },
  {
    $id: 'CheckIn', additionalProperties: false,
    examples: [{
      id: 'f1e2d3c4-b5a6-4978-8a9b-0c1d2e3f4a5b', registrationId: '9a7e3c21-5b4d-4c3e-8f2a-1d0b9c8e7f65', appointmentId: null,
      patientId: smith.id, facilityId: DEMO.hospitalId, arrivedAt: '2026-11-27T10:05:00.000Z',
      eligibilityCheckId: null, consentForms: [{ form: 'General consent', signedAt: '2026-11-27T10:04:00Z' }], complete: ['demographics', 'insurance', 'consent', 'copayment'],
      missing: [], overrideReason: null, payments: [], createdAt: '2026-11-27T10:05:00.000Z',
    }],
  },
)
export type CheckIn = Static<typeof CheckInSchema>

export const VitalSignsSchema = Obj({
  heartRate: Type.Optional(Type.Integer({ minimum: 0, maximum: 350, description: 'Beats per minute.' })),
  respiratoryRate: Type.Optional(Type.Integer({ minimum: 0, maximum: 150, description: 'Breaths per minute.' })),
  oxygenSaturation: Type.Optional(Type.Integer({ minimum: 0, maximum: 100, description: 'SpO2, percent.' })),
  temperatureC: Type.Optional(Type.Number({ minimum: 25, maximum: 45 })),
  systolicBp: Type.Optional(Type.Integer({ minimum: 0, maximum: 300 })),
  diastolicBp: Type.Optional(Type.Integer({ minimum: 0, maximum: 200 })),
})

export const IntakeAnswersSchema = Obj({
  requiresImmediateLifeSavingIntervention: Type.Boolean({ description: 'ESI decision point A: airway, emergency medications, or other hemodynamic intervention needed now.' }),
  highRiskSituation: Type.Boolean({ description: 'ESI decision point B: a high-risk situation.' }),
  confusedLethargicDisoriented: Type.Boolean({ description: 'ESI decision point B: new confusion, lethargy or disorientation.' }),
  severePainOrDistress: Type.Boolean({ description: 'ESI decision point B: severe pain or distress.' }),
  painScore: Type.Optional(Type.Integer({ minimum: 0, maximum: 10, description: '0-10; 7 or more counts as severe pain.' })),
  dangerSigns: Type.Optional(Type.Array(Text(100, 'Danger sign observed.'), { maxItems: 20 })),
  vitalSigns: Type.Optional(VitalSignsSchema),
  expectedResources: Type.Integer({ minimum: 0, maximum: 20, description: 'ESI decision point C: distinct resources expected (labs, imaging, IV fluids, specialty consult...).' }),
})

export const IntakeBodySchema = Type.Object(
  {
    chiefComplaint: Text(500, "The patient's chief complaint."),
    answers: IntakeAnswersSchema,
    esiOverride: Type.Optional(Obj({ level: Type.Integer({ minimum: 1, maximum: 5 }), reason: Text(500, 'Why staff chose another level (audited).') })),
  },
  {
    additionalProperties: false,
    examples: [{
      chiefComplaint: 'Abdominal pain since last night',
      answers: { requiresImmediateLifeSavingIntervention: false, highRiskSituation: false, confusedLethargicDisoriented: false, severePainOrDistress: false, painScore: 5, vitalSigns: { heartRate: 88, respiratoryRate: 16, oxygenSaturation: 98 }, expectedResources: 2 },
    }],
  },
)
export type IntakeBody = Static<typeof IntakeBodySchema>
export type IntakeAnswers = Static<typeof IntakeAnswersSchema>

export const IntakeSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    registrationId: Type.String({ format: 'uuid' }),
    patientId: Type.String({ format: 'uuid' }),
    chiefComplaint: Type.String(),
    answers: IntakeAnswersSchema,
    proposedEsi: Type.Integer({ minimum: 1, maximum: 5, description: 'ESI v4 level the service proposes.' }),
    decisionPoint: Type.Union((['A', 'B', 'C', 'D'] as const).map((v) => Type.Literal(v)), { description: 'ESI decision point that set the proposal.' }),
    esiLevel: Type.Integer({ minimum: 1, maximum: 5, description: 'Level in force: the proposal or the staff override.' }),
    overrideReason: Nullable(Type.String()),
    recordedAt: Type.String({ format: 'date-time' }),
  },
  {
    $id: 'Intake', additionalProperties: false,
    examples: [{
      id: 'a9b8c7d6-e5f4-4a3b-9c2d-1e0f9a8b7c6d', registrationId: '9a7e3c21-5b4d-4c3e-8f2a-1d0b9c8e7f65', patientId: smith.id,
      chiefComplaint: 'Abdominal pain since last night',
      answers: { requiresImmediateLifeSavingIntervention: false, highRiskSituation: false, confusedLethargicDisoriented: false, severePainOrDistress: false, painScore: 5, expectedResources: 2 },
      proposedEsi: 3, decisionPoint: 'C', esiLevel: 3, overrideReason: null, recordedAt: '2026-11-27T10:09:00.000Z',
    }],
  },
)
export type Intake = Static<typeof IntakeSchema>

export const QueueQuerySchema = Type.Object(
  {
    facilityId: Type.String({ format: 'uuid', description: 'Facility whose queue to read.', examples: [DEMO.hospitalId] }),
    location: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'Department or area.' })),
  },
  { additionalProperties: false },
)

export const QueueSchema = Type.Object(
  {
    asOf: Type.String({ format: 'date-time' }),
    entries: Type.Array(
      Obj({
        registrationId: Type.String({ format: 'uuid' }),
        patientId: Type.String({ format: 'uuid' }),
        displayName: Type.String({ description: "Given and family name, for calling the patient; 'Restricted record' for a restricted patient outside your care team (send X-Break-Glass-Reason to see it)." }),
        location: Nullable(Type.String()),
        esiLevel: Nullable(Type.Integer({ minimum: 1, maximum: 5, description: 'Null until triaged (listed after triaged patients).' })),
        arrivedAt: Type.String({ format: 'date-time' }),
        waitMinutes: Type.Integer({ description: 'Minutes from arrival until roomed, or until now if still waiting.' }),
        flow: RegistrationSchema.properties.flow,
      }),
    ),
  },
  {
    $id: 'Queue', additionalProperties: false,
    examples: [{
      asOf: '2026-11-27T10:30:00.000Z',
      entries: [{
        registrationId: '9a7e3c21-5b4d-4c3e-8f2a-1d0b9c8e7f65', patientId: smith.id, displayName: 'John Paul Smith', location: 'ED',
        esiLevel: 3, arrivedAt: '2026-11-27T10:05:00.000Z', waitMinutes: 25,
        flow: { state: 'waiting', waitingAt: '2026-11-27T10:05:00.000Z', roomedAt: null, withProviderAt: null, checkedOutAt: null },
      }],
    }],
  },
)
export type Queue = Static<typeof QueueSchema>

export const RegistrationParams = Type.Object({ registrationId: Id('Registration id.') })
export const PaymentParams = Type.Object({ paymentId: Id('Payment id.') })
