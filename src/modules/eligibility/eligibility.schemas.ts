import { Type, type Static } from '@sinclair/typebox'
import { DEMO, DEMO_ELIGIBILITY, DEMO_PATIENTS, DEMO_SCHEDULING } from '../../lib/demo-ids.ts'
import { Uuid as Id } from '../../http/schema-parts.ts'

const DateOnly = (description: string) => Type.String({ format: 'date', description })
const Stamp = Type.String({ format: 'date-time' })
const Name = Type.String({ minLength: 1, maxLength: 200, pattern: '\\S', description: 'Display name.' })
const Npi = Type.String({ pattern: '^[0-9]{10}$', description: 'NPI: 10 digits with a Luhn check digit over the 80840 prefix.' })
const Cents = (description: string) => Type.Integer({ minimum: 0, maximum: 2_000_000_000, description })
const NullableCents = (description: string) => Type.Union([Cents(description), Type.Null()])
const Percent = (description: string) => Type.Union([Type.Integer({ minimum: 0, maximum: 100, description }), Type.Null()])
const ServiceTypeCode = Type.String({ pattern: '^[0-9A-Z]{1,2}$', description: 'X12 service type code (EB03/EQ01), e.g. 30 health benefit plan coverage, 98 professional office visit.' })
const Cpt = Type.String({ pattern: '^[0-9A-Z]{5}$', description: 'CPT or HCPCS code.' })

// Examples name the demo's rows: John Paul Smith's Acme Gold PPO coverage (Acme Health Plans, Acme
// Choice network), checked and priced at the demo hospital for Dr. Ruiz, who is in that network.
// Checks, batches and estimates are not seeded: their ids are illustrative.
const ex = {
  payerId: DEMO_ELIGIBILITY.acmeId,
  networkId: DEMO_ELIGIBILITY.acmeNetworkId,
  planId: DEMO_ELIGIBILITY.acmeGoldId,
  coverageId: DEMO_ELIGIBILITY.smithCoverageId,
  patientId: DEMO_PATIENTS[0].id,
  facilityId: DEMO.hospitalId,
  providerNpi: DEMO_SCHEDULING.drRuizNpi,
  checkId: '3f6b2a10-4c1d-4e8f-9a2b-5d6e7f809105',
  at: '2026-11-27T10:00:00.000Z',
}

// ---- payers, networks, plans -------------------------------------------------------------

const X12PayerId = Type.String({ pattern: '^[A-Za-z0-9]{2,80}$', description: 'The payer id clearinghouses route on (NM109 of the 2100A loop).' })

export const PayerSchema = Type.Object(
  { id: Id('Payer id.'), name: Name, x12PayerId: X12PayerId, version: Type.Integer(), createdAt: Stamp, updatedAt: Stamp },
  { $id: 'Payer', additionalProperties: false, examples: [{ id: ex.payerId, name: 'Acme Health Plans', x12PayerId: 'ACME1', version: 1, createdAt: ex.at, updatedAt: ex.at }] },
)
export type Payer = Static<typeof PayerSchema>
export const CreatePayerBodySchema = Type.Object({ name: Name, x12PayerId: X12PayerId }, { additionalProperties: false, examples: [{ name: 'Blue Ridge Health', x12PayerId: 'BLUERIDGE1' }] })
export const UpdatePayerBodySchema = Type.Object(
  { name: Type.Optional(Name), x12PayerId: Type.Optional(X12PayerId) },
  { additionalProperties: false, minProperties: 1, examples: [{ name: 'Acme Health' }] },
)

export const NetworkSchema = Type.Object(
  { id: Id('Network id.'), payerId: Id('Payer.'), name: Name, createdAt: Stamp },
  { $id: 'Network', additionalProperties: false, examples: [{ id: ex.networkId, payerId: ex.payerId, name: 'Acme Choice', createdAt: ex.at }] },
)
export const CreateNetworkBodySchema = Type.Object({ name: Name }, { additionalProperties: false, examples: [{ name: 'Acme Choice Plus' }] })

export const ParticipationSchema = Type.Object(
  {
    networkId: Id('Network.'),
    npi: Npi,
    effectiveFrom: DateOnly('First day in network.'),
    effectiveTo: Type.Union([DateOnly('Last day in network.'), Type.Null()]),
  },
  { $id: 'NetworkParticipation', additionalProperties: false, examples: [{ networkId: ex.networkId, npi: ex.providerNpi, effectiveFrom: '2026-01-01', effectiveTo: null }] },
)
export const PutParticipationBodySchema = Type.Object(
  { effectiveFrom: DateOnly('First day in network.'), effectiveTo: Type.Optional(Type.Union([DateOnly('Last day in network.'), Type.Null()])) },
  { additionalProperties: false, examples: [{ effectiveFrom: '2026-01-01' }] },
)

export const PLAN_TYPES = ['HMO', 'PPO', 'EPO', 'POS', 'HDHP', 'medicare', 'medicaid', 'tricare', 'va', 'other'] as const
const PlanType = Type.Union(PLAN_TYPES.map((t) => Type.Literal(t)), { description: 'Kind of plan (tricare and va for veterans and service members).' })

const planDesign = {
  copayCents: NullableCents('In-network office visit copay.'),
  deductibleCents: NullableCents('In-network individual deductible per calendar year.'),
  familyDeductibleCents: NullableCents('In-network family deductible per calendar year.'),
  coinsurancePercent: Percent('In-network coinsurance the patient pays, percent.'),
  oopMaxCents: NullableCents('In-network individual out-of-pocket maximum per calendar year.'),
  oonDeductibleCents: NullableCents('Out-of-network individual deductible.'),
  oonCoinsurancePercent: Percent('Out-of-network coinsurance, percent.'),
  oonOopMaxCents: NullableCents('Out-of-network out-of-pocket maximum.'),
  priorAuthServiceTypes: Type.Array(ServiceTypeCode, { maxItems: 20, description: 'Service types that need prior authorisation.' }),
}
const planExample = {
  payerId: ex.payerId, networkId: ex.networkId, name: 'Acme Gold PPO', planType: 'PPO', copayCents: 2500, deductibleCents: 150000,
  familyDeductibleCents: 300000, coinsurancePercent: 20, oopMaxCents: 600000, oonDeductibleCents: 300000, oonCoinsurancePercent: 40,
  oonOopMaxCents: 1200000, priorAuthServiceTypes: ['2'],
}

export const PlanSchema = Type.Object(
  {
    id: Id('Plan id.'), payerId: Id('Payer.'), networkId: Type.Union([Id('The network of in-network providers.'), Type.Null()]),
    name: Name, planType: PlanType, ...planDesign, version: Type.Integer(), createdAt: Stamp, updatedAt: Stamp,
  },
  {
    $id: 'Plan', additionalProperties: false,
    description: 'A plan and its benefit design. The sandbox clearinghouse answers 271s from this design.',
    examples: [{ id: ex.planId, ...planExample, version: 1, createdAt: ex.at, updatedAt: ex.at }],
  },
)
export type Plan = Static<typeof PlanSchema>

const optionalDesign = {
  copayCents: Type.Optional(planDesign.copayCents),
  deductibleCents: Type.Optional(planDesign.deductibleCents),
  familyDeductibleCents: Type.Optional(planDesign.familyDeductibleCents),
  coinsurancePercent: Type.Optional(planDesign.coinsurancePercent),
  oopMaxCents: Type.Optional(planDesign.oopMaxCents),
  oonDeductibleCents: Type.Optional(planDesign.oonDeductibleCents),
  oonCoinsurancePercent: Type.Optional(planDesign.oonCoinsurancePercent),
  oonOopMaxCents: Type.Optional(planDesign.oonOopMaxCents),
  priorAuthServiceTypes: Type.Optional(planDesign.priorAuthServiceTypes),
}
export const CreatePlanBodySchema = Type.Object(
  { payerId: Id('Payer.'), networkId: Type.Optional(Type.Union([Id('Network.'), Type.Null()])), name: Name, planType: PlanType, ...optionalDesign },
  { additionalProperties: false, examples: [{ ...planExample, name: 'Acme Silver PPO' }] },
)
export type CreatePlanBody = Static<typeof CreatePlanBodySchema>
export const UpdatePlanBodySchema = Type.Object(
  { networkId: Type.Optional(Type.Union([Id('Network.'), Type.Null()])), name: Type.Optional(Name), planType: Type.Optional(PlanType), ...optionalDesign },
  { additionalProperties: false, minProperties: 1, examples: [{ copayCents: 3000 }] },
)
export type UpdatePlanBody = Static<typeof UpdatePlanBodySchema>

export const NetworkProviderSchema = Type.Object(
  { npi: Npi, effectiveFrom: DateOnly('First day in network.'), effectiveTo: Type.Union([DateOnly('Last day in network.'), Type.Null()]) },
  { $id: 'NetworkProvider', additionalProperties: false, examples: [{ npi: ex.providerNpi, effectiveFrom: '2026-01-01', effectiveTo: null }] },
)

// ---- coverages ---------------------------------------------------------------------------

const Priority = Type.Union([Type.Literal('primary'), Type.Literal('secondary'), Type.Literal('tertiary')], { description: 'Order of benefits: one active coverage per priority.' })
const CoverageStatus = Type.Union([Type.Literal('active'), Type.Literal('cancelled'), Type.Literal('entered-in-error')], { description: 'FHIR Coverage.status.' })
const Relationship = Type.Union([Type.Literal('self'), Type.Literal('spouse'), Type.Literal('child'), Type.Literal('other')], { description: "The patient's relationship to the subscriber." })
const MemberId = Type.String({ pattern: '^[A-Za-z0-9-]{1,80}$', description: 'Member (subscriber) id on the card.' })
const GroupNumber = Type.String({ pattern: '^[A-Za-z0-9-]{1,50}$', description: 'Group number on the card.' })
export const SubscriberSchema = Type.Object(
  {
    familyName: Type.String({ minLength: 1, maxLength: 100, pattern: '\\S' }),
    givenNames: Type.String({ minLength: 1, maxLength: 200, pattern: '\\S' }),
    birthDate: DateOnly('Subscriber date of birth.'),
  },
  { additionalProperties: false, description: 'The subscriber when it is not the patient.' },
)

export const CoverageSchema = Type.Object(
  {
    id: Id('Coverage id.'), patientId: Id('The patient (beneficiary).'), planId: Id('Plan.'), payerId: Id('Payer of the plan.'),
    priority: Priority, status: CoverageStatus, relationship: Relationship,
    subscriber: Type.Union([SubscriberSchema, Type.Null()], { description: 'Null when the patient is the subscriber.' }),
    memberId: MemberId, groupNumber: Type.Union([GroupNumber, Type.Null()]),
    effectiveFrom: DateOnly('First covered day.'), effectiveTo: Type.Union([DateOnly('Last covered day.'), Type.Null()]),
    verifiedAt: Type.Union([Stamp, Type.Null()], { description: 'When the last successful eligibility check completed.' }),
    verifiedActive: Type.Union([Type.Boolean(), Type.Null()], { description: 'What the last successful check said.' }),
    version: Type.Integer(), createdAt: Stamp, updatedAt: Stamp,
  },
  {
    $id: 'Coverage', additionalProperties: false,
    examples: [{
      id: ex.coverageId, patientId: ex.patientId, planId: ex.planId, payerId: ex.payerId, priority: 'primary', status: 'active', relationship: 'self',
      subscriber: null, memberId: 'ACM100200300', groupNumber: 'G-88120', effectiveFrom: '2026-01-01', effectiveTo: null,
      verifiedAt: null, verifiedActive: null, version: 1, createdAt: ex.at, updatedAt: ex.at,
    }],
  },
)
export type Coverage = Static<typeof CoverageSchema>

export const CreateCoverageBodySchema = Type.Object(
  {
    planId: Id('Plan.'), priority: Priority, relationship: Relationship, subscriber: Type.Optional(SubscriberSchema),
    memberId: MemberId, groupNumber: Type.Optional(GroupNumber), effectiveFrom: DateOnly('First covered day.'),
    effectiveTo: Type.Optional(DateOnly('Last covered day.')),
  },
  { additionalProperties: false, examples: [{ planId: ex.planId, priority: 'primary', relationship: 'self', memberId: 'XJH123456789', groupNumber: 'G-88120', effectiveFrom: '2026-01-01' }] },
)
export type CreateCoverageBody = Static<typeof CreateCoverageBodySchema>
export const UpdateCoverageBodySchema = Type.Object(
  {
    planId: Type.Optional(Id('Plan.')), priority: Type.Optional(Priority), status: Type.Optional(CoverageStatus),
    relationship: Type.Optional(Relationship), subscriber: Type.Optional(Type.Union([SubscriberSchema, Type.Null()])),
    memberId: Type.Optional(MemberId), groupNumber: Type.Optional(Type.Union([GroupNumber, Type.Null()])),
    effectiveFrom: Type.Optional(DateOnly('First covered day.')), effectiveTo: Type.Optional(Type.Union([DateOnly('Last covered day.'), Type.Null()])),
  },
  { additionalProperties: false, minProperties: 1, examples: [{ memberId: 'XJH123456780' }, { status: 'cancelled', effectiveTo: '2026-12-31' }] },
)
export type UpdateCoverageBody = Static<typeof UpdateCoverageBodySchema>

// ---- eligibility checks ------------------------------------------------------------------

export const BenefitSchema = Type.Object(
  {
    code: Type.String({ description: 'EB01 as sent.' }),
    kind: Type.String({ description: 'EB01 named: active-coverage, inactive, co-insurance, co-payment, deductible, out-of-pocket...' }),
    coverageLevel: Type.Union([Type.String(), Type.Null()], { description: 'EB02: IND individual, FAM family...' }),
    serviceTypeCodes: Type.Array(Type.String(), { description: 'EB03.' }),
    insuranceType: Type.Union([Type.String(), Type.Null()], { description: 'EB04.' }),
    planDescription: Type.Union([Type.String(), Type.Null()], { description: 'EB05.' }),
    timePeriod: Type.Union([Type.String(), Type.Null()], { description: 'EB06 named: calendar-year, remaining, visit...' }),
    amountCents: Type.Union([Type.Integer(), Type.Null()], { description: 'EB07 in cents.' }),
    percent: Type.Union([Type.Number(), Type.Null()], { description: 'EB08 as a percentage (0.2 in the 271 is 20).' }),
    quantity: Type.Union([Type.Number(), Type.Null()], { description: 'EB10.' }),
    authorizationRequired: Type.Union([Type.Boolean(), Type.Null()], { description: 'EB11.' }),
    inNetwork: Type.Union([Type.Boolean(), Type.Null()], { description: 'EB12: null when the payer says it applies either way.' }),
    dates: Type.Array(Type.Object({ qualifier: Type.String(), start: Type.String({ format: 'date' }), end: Type.Union([Type.String({ format: 'date' }), Type.Null()]) }, { additionalProperties: false })),
    messages: Type.Array(Type.String()),
  },
  { $id: 'Benefit', additionalProperties: false },
)

export const RejectionSchema = Type.Object(
  {
    loop: Type.String({ description: 'Where the payer put the AAA: 2100A payer, 2100B provider, 2100C subscriber, 2100D dependent, 2110C/D a benefit.' }),
    reasonCode: Type.String({ description: 'AAA03, e.g. 42 unable to respond now, 72 invalid member id, 75 subscriber not found.' }),
    reason: Type.String(),
    followUp: Type.Union([Type.String(), Type.Null()], { description: 'AAA04: C correct and resubmit, R resubmission allowed, N not allowed...' }),
  },
  { $id: 'Rejection', additionalProperties: false },
)

const CheckStatus = Type.Union(
  [Type.Literal('complete'), Type.Literal('rejected'), Type.Literal('failed'), Type.Literal('timeout')],
  { description: 'complete: the payer answered with benefits; rejected: AAA rejections; failed: the gateway or the 271 was unusable (502); timeout: no 271 in time (504).' },
)

export const EligibilityCheckSchema = Type.Object(
  {
    id: Id('Check id (also the TRN02 trace number, without dashes).'),
    coverageId: Id('Coverage checked.'), patientId: Id('Patient.'), facilityId: Id('Facility the check was made for.'),
    batchId: Type.Union([Id('Batch that ran it.'), Type.Null()]),
    appointmentId: Type.Union([Id('Appointment whose date of service was used.'), Type.Null()]),
    status: CheckStatus,
    serviceTypeCodes: Type.Array(Type.String()),
    providerNpi: Npi,
    providerInNetwork: Type.Union([Type.Boolean(), Type.Null()], { description: "Whether the provider participates in the plan's network on the date of service; null when the plan has no network." }),
    dateOfService: DateOnly('Date of service asked about.'),
    gateway: Type.String({ description: 'sandbox or http.' }),
    active: Type.Union([Type.Boolean(), Type.Null()], { description: 'Coverage in force on the date of service (null unless complete).' }),
    planDescription: Type.Union([Type.String(), Type.Null()]),
    coverageStart: Type.Union([Type.String({ format: 'date' }), Type.Null()]),
    coverageEnd: Type.Union([Type.String({ format: 'date' }), Type.Null()]),
    benefits: Type.Array(Type.Ref('Benefit')),
    rejections: Type.Array(Type.Ref('Rejection')),
    errorCode: Type.Union([Type.String(), Type.Null()], { description: 'Why a failed check failed: gateway-unavailable, bad-271, trace-mismatch, timeout.' }),
    request270: Type.String({ description: 'The X12 270 sent, verbatim.' }),
    response271: Type.Union([Type.String(), Type.Null()], { description: 'The X12 271 received, verbatim (null when none came).' }),
    createdAt: Stamp,
    completedAt: Type.Union([Stamp, Type.Null()]),
  },
  {
    $id: 'EligibilityCheck', additionalProperties: false,
    examples: [{
      id: ex.checkId, coverageId: ex.coverageId, patientId: ex.patientId, facilityId: ex.facilityId, batchId: null, appointmentId: null,
      status: 'complete', serviceTypeCodes: ['30'], providerNpi: ex.providerNpi, providerInNetwork: true, dateOfService: '2026-11-27', gateway: 'sandbox',
      active: true, planDescription: 'ACME GOLD PPO', coverageStart: '2026-01-01', coverageEnd: null,
      benefits: [{
        code: 'B', kind: 'co-payment', coverageLevel: 'IND', serviceTypeCodes: ['98'], insuranceType: 'PR', planDescription: null, timePeriod: 'visit',
        amountCents: 2500, percent: null, quantity: null, authorizationRequired: false, inNetwork: true, dates: [], messages: [],
      }],
      rejections: [], errorCode: null,
      request270: 'ISA*00*          *00*          *ZZ*PATIENTACCESS  *ZZ*SANDBOXCH      *261127*1000*^*00501*000000017*0*T*:~\n...',
      response271: 'ISA*00*          *00*          *ZZ*SANDBOXCH      *ZZ*PATIENTACCESS  *261127*1000*^*00501*000000017*0*T*:~\n...',
      createdAt: ex.at, completedAt: ex.at,
    }],
  },
)
export type EligibilityCheck = Static<typeof EligibilityCheckSchema>

export const CreateEligibilityCheckBodySchema = Type.Object(
  {
    coverageId: Id('Coverage to check.'),
    serviceTypeCodes: Type.Optional(Type.Array(ServiceTypeCode, { minItems: 1, maxItems: 10, description: 'EQ01 codes; default ["30"].' })),
    providerNpi: Npi,
    dateOfService: Type.Optional(DateOnly("Default: the appointment's date when appointmentId is given, else today in the facility's time zone.")),
    appointmentId: Type.Optional(Id('Appointment the check is for (its date of service is used when dateOfService is absent).')),
    facilityId: Type.Optional(Id("Facility the check is made for; default the patient's registering facility when you may act for it.")),
  },
  { additionalProperties: false, examples: [{ coverageId: ex.coverageId, serviceTypeCodes: ['30', '98'], providerNpi: ex.providerNpi, dateOfService: '2026-11-27' }] },
)
export type CreateEligibilityCheckBody = Static<typeof CreateEligibilityCheckBodySchema>

export const CreateBatchBodySchema = Type.Object(
  {
    facilityId: Id('Facility the checks are made for.'),
    providerNpi: Type.Optional(Type.Union([Npi], { description: 'Rendering provider for listed items (appointments bring their own).' })),
    serviceTypeCodes: Type.Optional(Type.Array(ServiceTypeCode, { minItems: 1, maxItems: 10 })),
    items: Type.Optional(Type.Array(
      Type.Object({ coverageId: Id('Coverage.'), dateOfService: DateOnly('Date of service.') }, { additionalProperties: false }),
      { minItems: 1, maxItems: 500, description: 'Coverages and dates to check. Give this or appointmentDate.' },
    )),
    appointmentDate: Type.Optional(DateOnly("Check the active primary coverage of every booked, arrived or checked-in appointment of the facility on this local date, with the appointment's provider and date.")),
  },
  {
    additionalProperties: false,
    examples: [
      { facilityId: ex.facilityId, providerNpi: ex.providerNpi, items: [{ coverageId: ex.coverageId, dateOfService: '2026-11-28' }] },
      // The clinic on the day of the scheduling examples' booking (their EXAMPLE_WEEK): after
      // trying that booking, this batch checks its patient's coverage.
      { facilityId: DEMO.clinicId, appointmentDate: '2027-12-06' },
    ],
  },
)
export type CreateBatchBody = Static<typeof CreateBatchBodySchema>

export const BatchSchema = Type.Object(
  {
    id: Id('Batch id.'), facilityId: Id('Facility.'), status: Type.Union([Type.Literal('running'), Type.Literal('complete')]),
    total: Type.Integer(), done: Type.Integer({ description: 'Items finished, whatever their outcome.' }),
    counts: Type.Object({ complete: Type.Integer(), rejected: Type.Integer(), failed: Type.Integer(), timeout: Type.Integer(), queued: Type.Integer() }, { additionalProperties: false }),
    items: Type.Array(Type.Object({
      position: Type.Integer(), coverageId: Id('Coverage.'), dateOfService: DateOnly('Date of service.'),
      status: Type.Union([Type.Literal('queued'), Type.Literal('complete'), Type.Literal('rejected'), Type.Literal('failed'), Type.Literal('timeout')]),
      checkId: Type.Union([Id('The check made.'), Type.Null()]), errorCode: Type.Union([Type.String(), Type.Null()]),
    }, { additionalProperties: false })),
    createdAt: Stamp, completedAt: Type.Union([Stamp, Type.Null()]),
  },
  {
    $id: 'EligibilityBatch', additionalProperties: false,
    examples: [{
      id: '3f6b2a10-4c1d-4e8f-9a2b-5d6e7f809106', facilityId: ex.facilityId, status: 'running', total: 2, done: 1,
      counts: { complete: 1, rejected: 0, failed: 0, timeout: 0, queued: 1 },
      items: [
        { position: 0, coverageId: ex.coverageId, dateOfService: '2026-11-28', status: 'complete', checkId: ex.checkId, errorCode: null },
        { position: 1, coverageId: DEMO_ELIGIBILITY.garciaCoverageId, dateOfService: '2026-11-28', status: 'queued', checkId: null, errorCode: null },
      ],
      createdAt: ex.at, completedAt: null,
    }],
  },
)
export type Batch = Static<typeof BatchSchema>

// ---- fee schedules and estimates ---------------------------------------------------------

export const FeeScheduleItemSchema = Type.Object(
  { cptCode: Cpt, description: Type.Union([Type.String({ maxLength: 200 }), Type.Null()]), chargeCents: Cents('Charge in cents.') },
  { $id: 'FeeScheduleItem', additionalProperties: false, examples: [{ cptCode: '99213', description: 'Office visit, established patient', chargeCents: 18500 }] },
)
export const ImportFeeScheduleBodySchema = Type.Object(
  {
    items: Type.Array(
      Type.Object({ cptCode: Cpt, description: Type.Optional(Type.String({ maxLength: 200 })), chargeCents: Cents('Charge in cents.') }, { additionalProperties: false }),
      { minItems: 1, maxItems: 10000 },
    ),
    replace: Type.Optional(Type.Boolean({ description: 'Remove codes not in this import (default false: upsert only).' })),
  },
  { additionalProperties: false, examples: [{ items: [{ cptCode: '99213', description: 'Office visit, established patient', chargeCents: 18500 }] }] },
)
export type ImportFeeScheduleBody = Static<typeof ImportFeeScheduleBodySchema>
export const ImportResultSchema = Type.Object(
  { facilityId: Id('Facility.'), upserted: Type.Integer(), removed: Type.Integer() },
  { $id: 'FeeScheduleImport', additionalProperties: false, examples: [{ facilityId: ex.facilityId, upserted: 120, removed: 0 }] },
)

const Trace = Type.Object(
  {
    benefitIndex: Type.Union([Type.Integer(), Type.Null()], { description: 'Index into the check\'s benefits; null when the figure came from no benefit.' }),
    code: Type.Union([Type.String(), Type.Null()], { description: 'EB01 of that benefit.' }),
    timePeriod: Type.Union([Type.String(), Type.Null()]),
    note: Type.String(),
  },
  { additionalProperties: false },
)
const Figure = Type.Object({ amountCents: Type.Integer({ minimum: 0 }), source: Trace }, { additionalProperties: false })

export const EstimateLineSchema = Type.Object(
  {
    cptCode: Cpt, units: Type.Integer({ minimum: 1 }), serviceTypeCode: Type.String(),
    chargeCents: Type.Integer({ minimum: 0 }), chargeSource: Type.Union([Type.Literal('request'), Type.Literal('fee-schedule')]),
    copay: Figure, deductible: Figure, coinsurance: Figure,
    outOfPocketCap: Figure,
    patientShareCents: Type.Integer({ minimum: 0 }), planShareCents: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
)

export const EstimateSchema = Type.Object(
  {
    id: Id('Estimate id.'), patientId: Id('Patient.'), facilityId: Id('Facility.'),
    coverageId: Type.Union([Id('Coverage.'), Type.Null()]), eligibilityCheckId: Type.Union([Id('Check the benefits came from.'), Type.Null()]),
    kind: Type.Union([Type.Literal('insured'), Type.Literal('self-pay')], { description: 'self-pay: a good-faith estimate from the fee schedule for an uninsured patient.' }),
    inNetwork: Type.Union([Type.Boolean(), Type.Null()]),
    totalChargeCents: Type.Integer(), patientShareCents: Type.Integer(), planShareCents: Type.Integer(),
    lines: Type.Array(EstimateLineSchema),
    createdAt: Stamp,
  },
  {
    $id: 'Estimate', additionalProperties: false,
    examples: [{
      id: '3f6b2a10-4c1d-4e8f-9a2b-5d6e7f809108', patientId: ex.patientId, facilityId: ex.facilityId, coverageId: ex.coverageId, eligibilityCheckId: ex.checkId,
      kind: 'insured', inNetwork: true, totalChargeCents: 140000, patientShareCents: 118000, planShareCents: 22000,
      lines: [{
        cptCode: '70551', units: 1, serviceTypeCode: '30', chargeCents: 140000, chargeSource: 'fee-schedule',
        copay: { amountCents: 0, source: { benefitIndex: null, code: null, timePeriod: null, note: 'no copay for this service type and network' } },
        deductible: { amountCents: 112500, source: { benefitIndex: 4, code: 'C', timePeriod: 'remaining', note: 'deductible remaining: 112500 before this line' } },
        coinsurance: { amountCents: 5500, source: { benefitIndex: 5, code: 'A', timePeriod: null, note: '20% of 27500 after deductible' } },
        outOfPocketCap: { amountCents: 0, source: { benefitIndex: 8, code: 'G', timePeriod: 'remaining', note: 'out-of-pocket remaining: 450000 before this line' } },
        patientShareCents: 118000, planShareCents: 22000,
      }],
      createdAt: ex.at,
    }],
  },
)
export type Estimate = Static<typeof EstimateSchema>
export type EstimateLine = Static<typeof EstimateLineSchema>

export const CreateEstimateBodySchema = Type.Object(
  {
    patientId: Id('Patient.'),
    facilityId: Type.Optional(Id("Facility whose fee schedule prices the services; default the patient's registering facility.")),
    coverageId: Type.Optional(Id('Coverage; absent for a self-pay good-faith estimate.')),
    eligibilityCheckId: Type.Optional(Id('Check to take benefits from; default the latest complete check of the coverage.')),
    providerNpi: Type.Optional(Npi),
    inNetwork: Type.Optional(Type.Boolean({ description: "Override; default from the provider's participation in the plan's network, else true." })),
    services: Type.Array(
      Type.Object({
        cptCode: Cpt,
        units: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
        chargeCents: Type.Optional(Cents('Charge per unit; default from the facility fee schedule.')),
        serviceTypeCode: Type.Optional(ServiceTypeCode),
      }, { additionalProperties: false }),
      { minItems: 1, maxItems: 50 },
    ),
  },
  { additionalProperties: false, examples: [{ patientId: ex.patientId, coverageId: ex.coverageId, providerNpi: ex.providerNpi, services: [{ cptCode: '70551' }] }] },
)
export type CreateEstimateBody = Static<typeof CreateEstimateBodySchema>

export const PayerParams = Type.Object({ payerId: Id('Payer id.', ex.payerId) })
export const PlanParams = Type.Object({ planId: Id('Plan id.', ex.planId) })
export const NetworkParams = Type.Object({ networkId: Id('Network id.', ex.networkId) })
export const ParticipationParams = Type.Object({ networkId: Id('Network id.', ex.networkId), npi: { ...Npi, examples: [ex.providerNpi] } })
export const PatientParams = Type.Object({ patientId: Id('Patient id.', ex.patientId) })
/** Creating a coverage: the example adds a primary coverage, so it names a demo patient without one (Sean O'Brien). */
export const NewCoverageParams = Type.Object({ patientId: Id('Patient id.', DEMO_PATIENTS[3].id) })
export const CoverageParams = Type.Object({ coverageId: Id('Coverage id.', ex.coverageId) })
export const CheckParams = Type.Object({ checkId: Id('Eligibility check id.') })
export const BatchParams = Type.Object({ batchId: Id('Batch id.') })
export const EstimateParams = Type.Object({ estimateId: Id('Estimate id.') })
export const FacilityParams = Type.Object({ facilityId: Id('Facility id.', ex.facilityId) })
