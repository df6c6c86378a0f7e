import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { DEMO, DEMO_PATIENTS, DEMO_ROI } from '../../lib/demo-ids.ts'
import { Uuid as Id } from '../../http/schema-parts.ts'

const Text = (max: number, description: string) => Type.String({ minLength: 1, maxLength: max, pattern: '\\S', description })
const DateOnly = (description: string) => Type.String({ format: 'date', maxLength: 10, description })
const Nullable = <T extends TSchema>(s: T) => Type.Union([s, Type.Null()])
const Enum = <T extends string>(values: readonly T[], description: string) =>
  Type.Union(values.map((v) => Type.Literal(v)), { description })
const Cents = (description: string) => Type.Integer({ minimum: 0, maximum: 100_000_000, description })

export const REQUESTER_TYPES = ['patient', 'personal_representative', 'provider', 'rehabilitation_facility', 'attorney', 'insurer', 'government_agency', 'other'] as const

/**
 * Why the information may be disclosed. 164.524 (individual_access, third_party_directive),
 * 164.508 (authorization), 164.512 purposes (subpoena and court_order are 164.512(e)), and
 * treatment, payment or operations (tpo, 164.506).
 */
export const LEGAL_BASES = [
  'individual_access', 'third_party_directive', 'authorization', 'subpoena', 'court_order', 'required_by_law', 'public_health',
  'abuse_neglect_report', 'health_oversight', 'law_enforcement', 'decedent', 'organ_donation', 'research', 'serious_threat',
  'specialized_government', 'workers_compensation', 'tpo',
] as const
export type LegalBasis = (typeof LEGAL_BASES)[number]

/** HIPAA 164.528(a)(1): disclosures exempt from the accounting. Mirrors the generated column `disclosure.accountable`. */
export const NOT_ACCOUNTABLE: readonly LegalBasis[] = ['tpo', 'individual_access', 'third_party_directive', 'authorization', 'specialized_government']
/** Requests under the individual's right of access (164.524). */
export const ACCESS_BASES: readonly LegalBasis[] = ['individual_access', 'third_party_directive']

export const ROI_STATUSES = ['received', 'in_review', 'pending_authorization', 'in_progress', 'ready_for_release', 'released', 'denied', 'withdrawn'] as const
export type RoiStatus = (typeof ROI_STATUSES)[number]

export const RECORD_TYPES = [
  'demographics', 'clinical_notes', 'discharge_summaries', 'history_and_physical', 'lab_results', 'imaging_reports', 'imaging_studies',
  'medications', 'immunizations', 'operative_reports', 'billing', 'correspondence', 'psychotherapy_notes', 'other',
] as const
export const FORMATS = ['paper', 'electronic'] as const
export const DELIVERY_METHODS = ['mail', 'pickup', 'fax', 'email', 'portal', 'secure_download'] as const

/**
 * Denial grounds. 164.524(a)(1) exclusions and (a)(2) grounds are unreviewable; (a)(3) grounds are
 * reviewable by a licensed professional. The last two apply to requests that are not access requests.
 */
export const DENIAL_GROUNDS = {
  psychotherapy_notes: { reviewable: false, access: true, citation: '164.524(a)(1)(i)' },
  litigation_compilation: { reviewable: false, access: true, citation: '164.524(a)(1)(ii)' },
  correctional_institution: { reviewable: false, access: true, citation: '164.524(a)(2)(ii)' },
  research_in_progress: { reviewable: false, access: true, citation: '164.524(a)(2)(iii)' },
  privacy_act: { reviewable: false, access: true, citation: '164.524(a)(2)(iv)' },
  confidential_source: { reviewable: false, access: true, citation: '164.524(a)(2)(v)' },
  endangerment: { reviewable: true, access: true, citation: '164.524(a)(3)(i)' },
  references_another_person: { reviewable: true, access: true, citation: '164.524(a)(3)(ii)' },
  representative_may_cause_harm: { reviewable: true, access: true, citation: '164.524(a)(3)(iii)' },
  authorization_invalid: { reviewable: false, access: false, citation: '164.508(b)(2)' },
  legal_process_insufficient: { reviewable: false, access: false, citation: '164.512(e)/(f)' },
} as const
export type DenialGround = keyof typeof DENIAL_GROUNDS

export const ATTACHMENT_KINDS = ['authorization_form', 'released_document', 'correspondence', 'legal_process', 'other'] as const
export const ATTACHMENT_MEDIA_TYPES = ['application/pdf', 'image/tiff', 'image/png', 'image/jpeg'] as const
export const PAYMENT_METHODS = ['cash', 'check', 'card', 'ach', 'other'] as const

const Address = Text(500, 'Postal address, one string.')
const Reason = Text(1000, 'Why: kept with the change (who and when are taken from the token and the clock).')

// Examples name the demo's rows at the demo hospital (NY, whose copy-fee schedule the demo has):
// Jordan Lee's request for Maria Elena Garcia's records under her authorization, John Paul Smith's
// own request, the release of Linh Nguyen's records to the District Attorney, and the public-health
// disclosure about Sean O'Brien. Attachments are not seeded: their ids are illustrative.
const example = {
  organizationId: DEMO.organizationId,
  facilityId: DEMO.hospitalId,
  attachmentId: '1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d',
}
const attorneyRequest = {
  patientId: DEMO_PATIENTS[1].id, facilityId: example.facilityId,
  requester: { type: 'attorney', name: 'Jordan Lee', organization: 'Lee & Partners LLP', address: '12 Court St, Albany NY 12207', email: 'records@leepartners.example' },
  legalBasis: 'authorization', purpose: 'Personal injury claim',
  recordsRequested: { types: ['clinical_notes', 'imaging_reports'], from: '2025-01-01', to: '2025-12-31' },
  format: 'paper', deliveryMethod: 'mail', receivedOn: '2026-11-20',
}

const RequesterSchema = Type.Object(
  {
    type: Enum(REQUESTER_TYPES, 'Who asks.'),
    name: Text(200, 'Requester name (person or office).'),
    organization: Type.Optional(Nullable(Text(200, 'Law firm, insurer, agency, provider organisation.'))),
    address: Type.Optional(Nullable(Address)),
    email: Type.Optional(Nullable(Type.String({ format: 'email', maxLength: 254 }))),
    phone: Type.Optional(Nullable(Type.String({ pattern: '^\\+?[0-9 ()-]{7,20}$', maxLength: 40 }))),
  },
  { additionalProperties: false },
)

const RecordsRequestedSchema = Type.Object(
  {
    types: Type.Array(Enum(RECORD_TYPES, 'Record type.'), { minItems: 1, maxItems: 20, uniqueItems: true }),
    from: Type.Optional(Nullable(DateOnly('First date of service wanted.'))),
    to: Type.Optional(Nullable(DateOnly('Last date of service wanted.'))),
  },
  { additionalProperties: false },
)

export const CreateRoiRequestBodySchema = Type.Object(
  {
    patientId: Id('The patient whose records are asked for.'),
    facilityId: Id('The facility that holds the records and answers; its deadline sets the due date.'),
    requester: RequesterSchema,
    legalBasis: Enum(LEGAL_BASES, 'Legal basis of the request.'),
    purpose: Type.Optional(Text(500, 'Stated purpose ("at the request of the individual" suffices under 164.508).')),
    recordsRequested: RecordsRequestedSchema,
    format: Enum(FORMATS, 'Paper or electronic copy.'),
    deliveryMethod: Enum(DELIVERY_METHODS, 'How the copy is to be delivered.'),
    receivedOn: DateOnly('Date the request was received (facility local date); the deadline runs from it.'),
  },
  {
    additionalProperties: false,
    examples: [attorneyRequest],
  },
)
export type CreateRoiRequestBody = Static<typeof CreateRoiRequestBodySchema>

export const RoiRequestSchema = Type.Object(
  {
    id: Id('Request id.'),
    organizationId: Id('Organisation.'),
    facilityId: Id('Answering facility.'),
    patientId: Id('Patient.'),
    requester: Type.Object({
      type: Enum(REQUESTER_TYPES, 'Who asks.'),
      name: Type.String(),
      organization: Nullable(Type.String()),
      address: Nullable(Type.String()),
      email: Nullable(Type.String()),
      phone: Nullable(Type.String()),
    }, { additionalProperties: false }),
    legalBasis: Enum(LEGAL_BASES, 'Legal basis.'),
    purpose: Nullable(Type.String()),
    recordsRequested: Type.Object({
      types: Type.Array(Type.String()),
      from: Nullable(Type.String({ format: 'date' })),
      to: Nullable(Type.String({ format: 'date' })),
    }, { additionalProperties: false }),
    format: Enum(FORMATS, 'Copy format.'),
    deliveryMethod: Enum(DELIVERY_METHODS, 'Delivery method.'),
    receivedOn: Type.String({ format: 'date' }),
    dueOn: Type.String({ format: 'date', description: 'Received + the facility\'s deadline (HIPAA 30 days; states may set fewer).' }),
    extension: Nullable(Type.Object({
      extendedDueOn: Type.String({ format: 'date' }),
      reason: Type.String(),
      requesterNotifiedOn: Type.String({ format: 'date' }),
    }, { additionalProperties: false, description: 'HIPAA 164.524(b)(2): the one extension.' })),
    effectiveDueOn: Type.String({ format: 'date', description: 'The extended due date if extended, else the due date.' }),
    status: Enum(ROI_STATUSES, 'Workflow status.'),
    allowedTransitions: Type.Array(Enum(ROI_STATUSES, 'Status'), { description: 'Statuses this request may move to next.' }),
    version: Type.Integer(),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  {
    $id: 'RoiRequest',
    additionalProperties: false,
    examples: [{
      id: DEMO_ROI.garciaAttorneyId, organizationId: example.organizationId, ...attorneyRequest, requester: { ...attorneyRequest.requester, phone: null },
      dueOn: '2026-12-20', extension: null, effectiveDueOn: '2026-12-20', status: 'pending_authorization',
      allowedTransitions: ['in_review', 'in_progress', 'denied', 'withdrawn'], version: 1,
      createdAt: '2026-11-27T10:00:00.000Z', updatedAt: '2026-11-27T10:00:00.000Z',
    }],
  },
)
export type RoiRequest = Static<typeof RoiRequestSchema>

export const RoiRequestListQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 25, description: 'Page size, 1 to 100.' })),
    cursor: Type.Optional(Type.String({ maxLength: 512, pattern: '^[A-Za-z0-9_-]+$', description: 'Opaque cursor from the previous page\'s `next`.' })),
    status: Type.Optional(Enum(ROI_STATUSES, 'Only requests in this status.')),
    patientId: Type.Optional(Id('Only this patient\'s requests.')),
    facilityId: Type.Optional(Id('Only this facility\'s requests.')),
    requesterType: Type.Optional(Enum(REQUESTER_TYPES, 'Only requests from this kind of requester.')),
    dueWithinDays: Type.Optional(Type.Integer({ minimum: 0, maximum: 365, description: 'Open requests due between today and today + N (facility local dates).' })),
    overdue: Type.Optional(Type.Boolean({ description: 'true: open requests past their (extended) due date.' })),
  },
  { additionalProperties: false },
)
export type RoiRequestListQueryT = Static<typeof RoiRequestListQuery>

export const TRANSITION_TARGETS = ['in_review', 'pending_authorization', 'in_progress', 'ready_for_release', 'withdrawn'] as const

export const TransitionBodySchema = Type.Object(
  {
    to: Enum(TRANSITION_TARGETS, 'Next status. Denials (POST .../denial) and releases (POST .../release) have their own actions.'),
    reason: Reason,
  },
  { additionalProperties: false, examples: [{ to: 'in_review', reason: 'Identity of requester verified' }] },
)

export const StatusChangeSchema = Type.Object(
  {
    from: Nullable(Enum(ROI_STATUSES, 'Previous status (null at creation).')),
    to: Enum(ROI_STATUSES, 'New status.'),
    reason: Type.String(),
    actor: Type.String({ description: 'Subject of the token that made the change.' }),
    at: Type.String({ format: 'date-time' }),
  },
  { $id: 'RoiStatusChange', additionalProperties: false, examples: [{ from: 'received', to: 'in_review', reason: 'Identity of requester verified', actor: 'user-42', at: '2026-11-27T10:05:00.000Z' }] },
)
export type StatusChange = Static<typeof StatusChangeSchema>

export const ExtensionBodySchema = Type.Object(
  {
    days: Type.Integer({ minimum: 1, maximum: 30, description: 'Days added to the original due date (at most 30).' }),
    reason: Reason,
    requesterNotifiedOn: DateOnly('Date the requester was told, in writing, of the reason and the new date; on or before the original due date.'),
  },
  { additionalProperties: false, examples: [{ days: 30, reason: 'Records are in off-site storage', requesterNotifiedOn: '2026-11-27' }] },
)

export const DenialBodySchema = Type.Object(
  {
    grounds: Type.Array(Enum(Object.keys(DENIAL_GROUNDS) as DenialGround[], 'Ground of denial (see 164.524(a)(1)-(3)).'), { minItems: 1, maxItems: 11, uniqueItems: true }),
    deniedRecordTypes: Type.Optional(Type.Array(Enum(RECORD_TYPES, 'Record type.'), {
      minItems: 1, maxItems: 20, uniqueItems: true,
      description: 'Partial denial: only these requested record types are denied and the rest is released. Omit to deny the whole request.',
    })),
    explanation: Text(2000, 'Plain-language basis of the denial (164.524(d)(2)(i)).'),
    reviewRightsText: Type.Optional(Text(2000, 'How to ask for a review; required when any ground is reviewable (164.524(d)(2)(ii)).')),
    complaintRightsText: Text(2000, 'How to complain to the covered entity and to HHS (164.524(d)(2)(iii)).'),
    sentOn: DateOnly('Date the written denial was sent.'),
  },
  {
    additionalProperties: false,
    examples: [{
      grounds: ['research_in_progress'], deniedRecordTypes: ['lab_results'],
      explanation: 'The results of the clinical trial you joined are withheld until it ends, as you agreed when you enrolled.',
      complaintRightsText: 'You may complain to our Privacy Officer (privacy@riverside.example) or to the Secretary of HHS.',
      sentOn: '2026-11-27',
    }],
  },
)
export type DenialBody = Static<typeof DenialBodySchema>

export const DenialSchema = Type.Object(
  {
    requestId: Id('Request.'),
    scope: Enum(['full', 'partial'] as const, 'Whole request, or some record types.'),
    grounds: Type.Array(Type.String()),
    reviewable: Type.Boolean({ description: 'True when any ground is reviewable (164.524(a)(3)).' }),
    deniedRecordTypes: Type.Array(Type.String()),
    explanation: Type.String(),
    reviewRightsText: Nullable(Type.String()),
    complaintRightsText: Type.String(),
    sentOn: Type.String({ format: 'date' }),
    deniedBy: Type.String(),
    createdAt: Type.String({ format: 'date-time' }),
  },
  {
    $id: 'RoiDenial',
    additionalProperties: false,
    examples: [{
      requestId: DEMO_ROI.smithAccessId, scope: 'partial', grounds: ['research_in_progress'], reviewable: false, deniedRecordTypes: ['lab_results'],
      explanation: 'The results of the clinical trial you joined are withheld until it ends, as you agreed when you enrolled.', reviewRightsText: null,
      complaintRightsText: 'You may complain to our Privacy Officer or to the Secretary of HHS.', sentOn: '2026-11-27', deniedBy: 'user-42', createdAt: '2026-11-27T10:00:00.000Z',
    }],
  },
)
export type Denial = Static<typeof DenialSchema>

const authorizationFields = {
  descriptionOfInformation: Type.Optional(Nullable(Text(1000, 'Specific description of the information to be disclosed.'))),
  disclosingParty: Type.Optional(Nullable(Text(200, 'Who may disclose.'))),
  recipient: Type.Optional(Nullable(Text(500, 'Who may receive.'))),
  purpose: Type.Optional(Nullable(Text(500, 'Purpose of the disclosure.'))),
  expiresOn: Type.Optional(Nullable(DateOnly('Expiration date.'))),
  expirationEvent: Type.Optional(Nullable(Text(500, 'Expiration event (instead of or besides a date).'))),
  signedBy: Type.Optional(Nullable(Text(200, 'Name of the signer.'))),
  signedOn: Type.Optional(Nullable(DateOnly('Date of signature.'))),
  signedByRepresentative: Type.Optional(Type.Boolean({ description: 'The signer is a personal representative.' })),
  representativeAuthority: Type.Optional(Nullable(Text(500, 'The representative\'s authority to act (required when a representative signs).'))),
  statements: Type.Optional(Type.Object({
    rightToRevoke: Type.Boolean({ description: 'States the right to revoke in writing (164.508(c)(2)(i)).' }),
    conditioning: Type.Boolean({ description: 'States whether treatment or payment depends on signing (164.508(c)(2)(ii)).' }),
    redisclosure: Type.Boolean({ description: 'States the risk of redisclosure (164.508(c)(2)(iii)).' }),
  }, { additionalProperties: false })),
  formAttachmentId: Type.Optional(Nullable(Id('The signed form, uploaded as an attachment of this request.'))),
}

export const CreateAuthorizationBodySchema = Type.Object(authorizationFields, {
  additionalProperties: false,
  description: 'The 164.508 elements as found on the form. Missing ones may be omitted: the request cannot proceed until they are complete.',
  examples: [{
    descriptionOfInformation: 'Clinical notes and imaging reports, 2025', disclosingParty: 'Riverside General Hospital',
    recipient: 'Lee & Partners LLP, 12 Court St, Albany NY 12207', purpose: 'At the request of the individual', expiresOn: '2027-06-30',
    signedBy: 'Maria Elena Garcia', signedOn: '2026-11-18', signedByRepresentative: false,
    statements: { rightToRevoke: true, conditioning: true, redisclosure: true },
  }],
})
export type CreateAuthorizationBody = Static<typeof CreateAuthorizationBodySchema>

export const AuthorizationSchema = Type.Object(
  {
    id: Id('Authorization id.'),
    requestId: Id('Request.'),
    descriptionOfInformation: Nullable(Type.String()),
    disclosingParty: Nullable(Type.String()),
    recipient: Nullable(Type.String()),
    purpose: Nullable(Type.String()),
    expiresOn: Nullable(Type.String({ format: 'date' })),
    expirationEvent: Nullable(Type.String()),
    signedBy: Nullable(Type.String()),
    signedOn: Nullable(Type.String({ format: 'date' })),
    signedByRepresentative: Type.Boolean(),
    representativeAuthority: Nullable(Type.String()),
    statements: Type.Object({ rightToRevoke: Type.Boolean(), conditioning: Type.Boolean(), redisclosure: Type.Boolean() }, { additionalProperties: false }),
    formAttachmentId: Nullable(Type.String({ format: 'uuid' })),
    revokedOn: Nullable(Type.String({ format: 'date' })),
    revocationReceivedOn: Nullable(Type.String({ format: 'date' })),
    problems: Type.Array(Type.String(), { description: 'Missing, expired or revoked elements as of today; empty when valid.' }),
    createdAt: Type.String({ format: 'date-time' }),
  },
  {
    $id: 'RoiAuthorization',
    additionalProperties: false,
    examples: [{
      id: DEMO_ROI.garciaAuthorizationId, requestId: DEMO_ROI.garciaAttorneyId,
      descriptionOfInformation: 'Clinical notes and imaging reports, 2025', disclosingParty: 'Riverside General Hospital',
      recipient: 'Lee & Partners LLP', purpose: 'At the request of the individual', expiresOn: '2027-06-30', expirationEvent: null,
      signedBy: 'Maria Elena Garcia', signedOn: '2026-11-18', signedByRepresentative: false, representativeAuthority: null,
      statements: { rightToRevoke: true, conditioning: true, redisclosure: false }, formAttachmentId: null,
      revokedOn: null, revocationReceivedOn: null, problems: ['statements.redisclosure'], createdAt: '2026-11-27T10:00:00.000Z',
    }],
  },
)
export type Authorization = Static<typeof AuthorizationSchema>

export const RevocationBodySchema = Type.Object(
  {
    revokedOn: DateOnly('Date the revocation takes effect; no release may happen on or after it.'),
    receivedOn: DateOnly('Date the written revocation was received.'),
  },
  { additionalProperties: false, examples: [{ revokedOn: '2026-11-27', receivedOn: '2026-11-27' }] },
)

export const AttachmentSchema = Type.Object(
  {
    id: Id('Attachment id.'),
    requestId: Id('Request.'),
    kind: Enum(ATTACHMENT_KINDS, 'What the document is.'),
    mediaType: Enum(ATTACHMENT_MEDIA_TYPES, 'Detected from the content\'s magic bytes, not from names or headers.'),
    sizeBytes: Type.Integer(),
    sha256: Type.String({ pattern: '^[0-9a-f]{64}$', description: 'SHA-256 of the content, hex.' }),
    pageCount: Nullable(Type.Integer()),
    createdBy: Type.String(),
    createdAt: Type.String({ format: 'date-time' }),
  },
  {
    $id: 'RoiAttachment',
    additionalProperties: false,
    examples: [{
      id: example.attachmentId, requestId: DEMO_ROI.garciaAttorneyId, kind: 'authorization_form', mediaType: 'application/pdf', sizeBytes: 48213,
      sha256: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08', pageCount: 2, createdBy: 'user-42', createdAt: '2026-11-27T10:00:00.000Z',
    }],
  },
)
export type Attachment = Static<typeof AttachmentSchema>

export const AttachmentQuery = Type.Object(
  {
    kind: Enum(ATTACHMENT_KINDS, 'What the document is.'),
    pageCount: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000, description: 'Pages in the document, when known.' })),
  },
  { additionalProperties: false },
)

export const FeeScheduleSchema = Type.Object(
  {
    stateCode: Type.String({ pattern: '^[A-Z]{2}$' }),
    facilityId: Nullable(Type.String({ format: 'uuid', description: 'Set when this is a facility\'s override of its state\'s schedule.' })),
    baseFeeCents: Type.Integer(),
    perPageCents: Type.Integer(),
    capCents: Nullable(Type.Integer({ description: 'Most a third-party copy may cost; null: no cap.' })),
    paymentRequiredBeforeRelease: Type.Boolean({ description: 'Release waits for payment (or a waiver) of an open invoice.' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  {
    $id: 'RoiFeeSchedule',
    additionalProperties: false,
    examples: [{ stateCode: 'NY', facilityId: null, baseFeeCents: 0, perPageCents: 75, capCents: null, paymentRequiredBeforeRelease: true, updatedAt: '2026-11-27T10:00:00.000Z' }],
  },
)
export type FeeSchedule = Static<typeof FeeScheduleSchema>

export const PutFeeScheduleBodySchema = Type.Object(
  {
    baseFeeCents: Cents('Flat part of a third-party copy fee.'),
    perPageCents: Cents('Per-page part.'),
    capCents: Type.Optional(Nullable(Cents('Cap on the total; null or absent: none.'))),
    paymentRequiredBeforeRelease: Type.Boolean({ description: 'Hold releases until the invoice is paid or waived.' }),
  },
  { additionalProperties: false, examples: [{ baseFeeCents: 0, perPageCents: 75, capCents: null, paymentRequiredBeforeRelease: true }] },
)
export type PutFeeScheduleBody = Static<typeof PutFeeScheduleBodySchema>

export const CreateInvoiceBodySchema = Type.Object(
  {
    pages: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000, description: 'Pages copied (fee-schedule requests).' })),
    laborCents: Type.Optional(Cents('Labour for copying (individual access, cost-based).')),
    suppliesCents: Type.Optional(Cents('Supplies: paper, media (individual access).')),
    postageCents: Type.Optional(Cents('Postage (individual access).')),
    searchRetrievalCents: Type.Optional(Cents('Search and retrieval: refused for individual access (164.524(c)(4)).')),
    flatElectronic: Type.Optional(Type.Boolean({ description: 'Charge the $6.50 flat fee for an electronic copy instead of itemising costs.' })),
  },
  {
    additionalProperties: false,
    description: 'Individual access (164.524): cost-based labour, supplies and postage, or the flat fee for electronic copies. ' +
      'Other requests (third-party directives, authorizations, legal process...): the facility\'s fee schedule applied to `pages`.',
    examples: [{ laborCents: 1200, suppliesCents: 300, postageCents: 150 }, { pages: 120 }],
  },
)
export type CreateInvoiceBody = Static<typeof CreateInvoiceBodySchema>

export const InvoiceSchema = Type.Object(
  {
    requestId: Id('Request.'),
    method: Enum(['cost_based', 'flat_electronic', 'fee_schedule'] as const, 'How the fee was worked out.'),
    laborCents: Type.Integer(),
    suppliesCents: Type.Integer(),
    postageCents: Type.Integer(),
    pages: Nullable(Type.Integer()),
    scheduleBaseCents: Type.Integer(),
    schedulePageCents: Type.Integer(),
    totalCents: Type.Integer(),
    paidCents: Type.Integer(),
    balanceCents: Type.Integer({ description: 'Still owed; 0 when paid or waived.' }),
    status: Enum(['open', 'paid', 'waived'] as const, 'Payment status.'),
    paymentMethod: Nullable(Type.String()),
    paymentReference: Nullable(Type.String()),
    paidOn: Nullable(Type.String({ format: 'date' })),
    waiverReason: Nullable(Type.String()),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  {
    $id: 'RoiInvoice',
    additionalProperties: false,
    examples: [{
      requestId: DEMO_ROI.garciaAttorneyId, method: 'fee_schedule', laborCents: 0, suppliesCents: 0, postageCents: 0, pages: 120, scheduleBaseCents: 0,
      schedulePageCents: 9000, totalCents: 9000, paidCents: 0, balanceCents: 9000, status: 'open', paymentMethod: null, paymentReference: null,
      paidOn: null, waiverReason: null, createdAt: '2026-11-27T10:00:00.000Z', updatedAt: '2026-11-27T10:00:00.000Z',
    }],
  },
)
export type Invoice = Static<typeof InvoiceSchema>

export const PaymentBodySchema = Type.Object(
  {
    amountCents: Type.Integer({ minimum: 1, maximum: 100_000_000, description: 'Amount received; at most the balance.' }),
    method: Enum(PAYMENT_METHODS, 'How it was paid.'),
    reference: Type.Optional(Text(100, 'Cheque number, card authorisation...')),
    paidOn: DateOnly('Date received.'),
  },
  { additionalProperties: false, examples: [{ amountCents: 9000, method: 'check', reference: '1042', paidOn: '2026-11-27' }] },
)
export const WaiverBodySchema = Type.Object(
  { reason: Reason },
  { additionalProperties: false, examples: [{ reason: 'Financial hardship' }] },
)

const ReleasedDocumentBody = Type.Object(
  {
    attachmentId: Type.Optional(Id('A released_document attachment of this request; its checksum is used.')),
    recordType: Enum(RECORD_TYPES, 'Which requested record type this document answers.'),
    description: Text(500, 'What the document is.'),
    pages: Type.Integer({ minimum: 0, maximum: 1_000_000 }),
    sha256: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$', description: 'Checksum of a document not stored here (must match when attachmentId is given).' })),
  },
  { additionalProperties: false },
)

export const ReleaseBodySchema = Type.Object(
  {
    documents: Type.Array(ReleasedDocumentBody, { minItems: 1, maxItems: 200 }),
    recipient: Type.Optional(Type.Object({ name: Text(200, 'Recipient.'), address: Type.Optional(Nullable(Address)) }, {
      additionalProperties: false, description: 'Default: the requester.',
    })),
    deliveryMethod: Type.Optional(Enum(DELIVERY_METHODS, 'Default: the request\'s delivery method.')),
    releasedAt: Type.Optional(Type.String({ format: 'date-time', maxLength: 40, description: 'Default: now.' })),
  },
  {
    additionalProperties: false,
    examples: [{
      documents: [{ recordType: 'clinical_notes', description: 'Emergency department notes', pages: 18 }],
      deliveryMethod: 'pickup',
    }],
  },
)
export type ReleaseBody = Static<typeof ReleaseBodySchema>

const ReleasedDocument = Type.Object(
  {
    attachmentId: Nullable(Type.String({ format: 'uuid' })),
    recordType: Type.String(),
    description: Type.String(),
    pages: Type.Integer(),
    sha256: Nullable(Type.String()),
  },
  { additionalProperties: false },
)

export const ReleaseSchema = Type.Object(
  {
    id: Id('Release id.'),
    requestId: Id('Request.'),
    documents: Type.Array(ReleasedDocument),
    totalPages: Type.Integer(),
    recipientName: Type.String(),
    recipientAddress: Nullable(Type.String()),
    deliveryMethod: Enum(DELIVERY_METHODS, 'How it went.'),
    releasedAt: Type.String({ format: 'date-time' }),
    releasedBy: Type.String(),
    disclosureId: Id('The disclosure record written for the accounting (164.528).'),
  },
  {
    $id: 'RoiRelease',
    additionalProperties: false,
    examples: [{
      id: DEMO_ROI.nguyenReleaseId, requestId: DEMO_ROI.nguyenSubpoenaId,
      documents: [{ attachmentId: null, recordType: 'clinical_notes', description: 'Emergency department notes', pages: 18, sha256: null }],
      totalPages: 18, recipientName: 'Albany County District Attorney', recipientAddress: '6 Lodge St, Albany NY 12207', deliveryMethod: 'pickup',
      releasedAt: '2026-11-27T15:00:00.000Z', releasedBy: 'user-42', disclosureId: DEMO_ROI.nguyenDisclosureId,
    }],
  },
)
export type Release = Static<typeof ReleaseSchema>

const publicHealthDisclosure = {
  facilityId: example.facilityId, legalBasis: 'public_health',
  recipient: { name: 'New York State Department of Health', address: 'Corning Tower, Albany NY 12237' },
  description: 'Reportable communicable disease notification with laboratory result',
}
export const DisclosureSchema = Type.Object(
  {
    id: Id('Disclosure id.'),
    patientId: Id('Patient.'),
    facilityId: Id('Disclosing facility.'),
    requestId: Nullable(Type.String({ format: 'uuid', description: 'The ROI request, when made through the workflow.' })),
    legalBasis: Enum(LEGAL_BASES, 'Legal basis.'),
    accountable: Type.Boolean({ description: 'Appears in the 164.528 accounting.' }),
    disclosedAt: Type.String({ format: 'date-time' }),
    recipient: Type.Object({ name: Type.String(), address: Nullable(Type.String()) }, { additionalProperties: false }),
    description: Type.String({ description: 'What was disclosed.' }),
    purpose: Type.String({ description: 'Why (or a copy of the written request).' }),
    recordedBy: Type.String(),
    createdAt: Type.String({ format: 'date-time' }),
  },
  {
    $id: 'Disclosure',
    additionalProperties: false,
    examples: [{
      id: DEMO_ROI.obrienPublicHealthId, patientId: DEMO_PATIENTS[3].id, ...publicHealthDisclosure, requestId: null,
      accountable: true, disclosedAt: '2026-11-02T14:00:00.000Z', purpose: 'Communicable disease reporting (164.512(b))',
      recordedBy: 'user-42', createdAt: '2026-11-02T14:05:00.000Z',
    }],
  },
)
export type Disclosure = Static<typeof DisclosureSchema>

export const RecordDisclosureBodySchema = Type.Object(
  {
    facilityId: Id('Disclosing facility.'),
    legalBasis: Enum(LEGAL_BASES, 'Legal basis.'),
    disclosedAt: Type.String({ format: 'date-time', maxLength: 40, description: 'When it was disclosed (not in the future).' }),
    recipient: Type.Object({ name: Text(200, 'Recipient.'), address: Type.Optional(Nullable(Address)) }, { additionalProperties: false }),
    description: Text(2000, 'What was disclosed.'),
    purpose: Text(1000, 'Why.'),
  },
  {
    additionalProperties: false,
    examples: [{
      ...publicHealthDisclosure, disclosedAt: '2026-11-02T14:00:00Z', purpose: 'Communicable disease reporting (164.512(b))',
    }],
  },
)
export type RecordDisclosureBody = Static<typeof RecordDisclosureBodySchema>

export const AccountingQuery = Type.Object(
  {
    from: Type.Optional(Type.String({ format: 'date', maxLength: 10, description: 'First day (default: six years ago today).' })),
    to: Type.Optional(Type.String({ format: 'date', maxLength: 10, description: 'Last day, inclusive (default: today).' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 100, description: 'Page size, 1 to 100.' })),
    cursor: Type.Optional(Type.String({ maxLength: 512, pattern: '^[A-Za-z0-9_-]+$', description: 'Opaque cursor from the previous page\'s `next`.' })),
  },
  { additionalProperties: false },
)

// Path examples name the demo request each operation works on: Jordan Lee's, awaiting a valid
// authorization (authorizations, attachments, invoice); John Paul Smith's own request, for the
// right-of-access actions (extension and denial, 164.524); the District Attorney's, already released.
export const RequestParams = Type.Object({ requestId: Id('ROI request id.', DEMO_ROI.garciaAttorneyId) })
export const AccessRequestParams = Type.Object({ requestId: Id('ROI request id.', DEMO_ROI.smithAccessId) })
export const ReleaseParams = Type.Object({ requestId: Id('ROI request id.', DEMO_ROI.nguyenSubpoenaId) })
/** Releasing: Linh Nguyen's own copy, the demo request that is ready for release (the body example releases its clinical notes). */
export const ReleaseRequestParams = Type.Object({ requestId: Id('ROI request id.', DEMO_ROI.nguyenCopyId) })
export const AuthorizationParams = Type.Object({
  requestId: Id('ROI request id.', DEMO_ROI.garciaAttorneyId),
  authorizationId: Id('Authorization id.', DEMO_ROI.garciaAuthorizationId),
})
export const AttachmentParams = Type.Object({ requestId: Id('ROI request id.', DEMO_ROI.garciaAttorneyId), attachmentId: Id('Attachment id.') })
/** Disclosures: Sean O'Brien, whose public-health disclosure the examples show. */
export const PatientParams = Type.Object({ patientId: Id('Patient id.', DEMO_PATIENTS[3].id) })
/** USPS codes of the states, DC and the territories where HIPAA applies. */
export const US_STATE_CODES = new Set([
  'AL', 'AK', 'AZ', 'AR', 'CA', 'CO', 'CT', 'DE', 'DC', 'FL', 'GA', 'HI', 'ID', 'IL', 'IN', 'IA', 'KS', 'KY', 'LA', 'ME', 'MD', 'MA', 'MI', 'MN', 'MS',
  'MO', 'MT', 'NE', 'NV', 'NH', 'NJ', 'NM', 'NY', 'NC', 'ND', 'OH', 'OK', 'OR', 'PA', 'RI', 'SC', 'SD', 'TN', 'TX', 'UT', 'VT', 'VA', 'WA', 'WV', 'WI',
  'WY', 'AS', 'GU', 'MP', 'PR', 'VI',
])
export const StateParams = Type.Object({ stateCode: Type.String({ pattern: '^[A-Z]{2}$', description: 'USPS state code; an unknown one is 404.', examples: ['NY'] }) })
export const FacilityParams = Type.Object({ facilityId: Id('Facility id.', example.facilityId) })
