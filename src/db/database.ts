import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely'

/** Columns the database fills in: readable, optional on insert, never updated by the app. */
type Stamp = ColumnType<Date, Date | string | undefined, never>

export interface OrganizationTable {
  id: Generated<string>
  name: string
  createdAt: Stamp
  updatedAt: ColumnType<Date, Date | string | undefined, Date | string>
  version: ColumnType<number, number | undefined, number>
}

export interface FacilityTable {
  id: Generated<string>
  organizationId: string
  name: string
  kind: 'hospital' | 'clinic' | 'ambulatory_surgery_center'
  timeZone: string
  npi: string | null
  stateCode: string | null
  roiDeadlineDays: ColumnType<number, number | undefined, number>
  createdAt: Stamp
  updatedAt: ColumnType<Date, Date | string | undefined, Date | string>
  version: ColumnType<number, number | undefined, number>
}

export type AuditAction = 'create' | 'read' | 'update' | 'delete' | 'execute'
export type AuditOutcome = 'success' | 'denied' | 'not-found' | 'error'

export interface AuditEventTable {
  id: Generated<string>
  occurredAt: ColumnType<Date, Date | string | undefined, never>
  requestId: string | null
  actorSub: string | null
  actorRoles: string[]
  facilityId: string | null
  action: AuditAction
  verb: string
  resourceType: string
  resourceId: string | null
  patientId: string | null
  outcome: AuditOutcome
  purposeOfUse: string | null
  clientIp: string | null
  userAgent: string | null
  breakGlass: ColumnType<boolean, boolean | undefined, never>
  detail: ColumnType<Record<string, unknown> | null, string | null | undefined, never>
}

/** One sealed event's link in the hash chain; written once by the sealer, never changed. */
export interface AuditSealTable {
  seq: string
  eventId: string
  prevHash: Buffer
  hash: Buffer
  sealedAt: ColumnType<Date, Date | string | undefined, never>
}

/**
 * Events committed but not yet sealed, one row per statement that appended them (filled by a
 * trigger on audit_event; emptied by the sealer): their ids, the least (the key) and the greatest.
 */
export interface AuditPendingTable {
  firstId: ColumnType<string, never, never>
  lastId: ColumnType<string, never, never>
  eventIds: ColumnType<string[], never, never>
}

export interface IdempotencyKeyTable {
  actorSub: string
  key: string
  requestHash: string
  responseStatus: number | null
  responseBody: ColumnType<unknown, string | null, string>
  createdAt: Stamp
}

export interface Database {
  organization: OrganizationTable
  facility: FacilityTable
  auditEvent: AuditEventTable
  auditSeal: AuditSealTable
  auditPending: AuditPendingTable
  idempotencyKey: IdempotencyKeyTable
}

export type OrganizationRow = Selectable<OrganizationTable>
export type FacilityRow = Selectable<FacilityTable>
export type NewFacility = Insertable<FacilityTable>
export type FacilityUpdate = Updateable<FacilityTable>
export type AuditEventRow = Selectable<AuditEventTable>
export type NewAuditEvent = Insertable<AuditEventTable>

// Patients and registrations (issue #3). Declaration merging adds these tables to Database.
type Json<T> = ColumnType<T, string | undefined, string>
type Versioned = ColumnType<number, number | undefined, number>
type Touched = ColumnType<Date, Date | string | undefined, Date | string>

export interface Database {
  patient: PatientTable
  patientFacility: PatientFacilityTable
  patientIdentifier: PatientIdentifierTable
}

export interface PatientTable {
  id: Generated<string>
  organizationId: string
  facilityId: string
  mrn: string
  familyName: string
  givenNames: string
  birthDate: ColumnType<string, string, string>
  prefix: ColumnType<string | null, string | null | undefined, string | null>
  suffix: ColumnType<string | null, string | null | undefined, string | null>
  preferredName: ColumnType<string | null, string | null | undefined, string | null>
  administrativeSex: ColumnType<string | null, string | null | undefined, string | null>
  genderIdentity: ColumnType<string | null, string | null | undefined, string | null>
  language: ColumnType<string | null, string | null | undefined, string | null>
  maritalStatus: ColumnType<string | null, string | null | undefined, string | null>
  address: ColumnType<Record<string, string | undefined> | null, string | null | undefined, string | null>
  phones: Json<{ use: string; number: string }[]>
  phoneNumbers: ColumnType<string[], string[] | undefined, string[]>
  email: ColumnType<string | null, string | null | undefined, string | null>
  emergencyContacts: Json<Record<string, unknown>[]>
  guarantor: ColumnType<Record<string, unknown> | null, string | null | undefined, string | null>
  preferredContact: ColumnType<string | null, string | null | undefined, string | null>
  smsReminderConsent: ColumnType<boolean, boolean | undefined, boolean>
  emailReminderConsent: ColumnType<boolean, boolean | undefined, boolean>
  ssnCipher: ColumnType<string | null, string | null | undefined, string | null>
  ssnHmac: ColumnType<string | null, string | null | undefined, string | null>
  ssnLast4: ColumnType<string | null, string | null | undefined, string | null>
  motherPatientId: ColumnType<string | null, string | null | undefined, string | null>
  birthTime: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>
  multipleBirthOrder: ColumnType<number | null, number | null | undefined, number | null>
  active: ColumnType<boolean, boolean | undefined, boolean>
  mergedIntoId: ColumnType<string | null, string | null | undefined, string | null>
  mergedAt: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>
  createdAt: Stamp
  updatedAt: Touched
  version: Versioned
  familyKey: ColumnType<string | null, never, never>
  givenKey: ColumnType<string | null, never, never>
  familyDm: ColumnType<string | null, never, never>
  familyDmAlt: ColumnType<string | null, never, never>
  givenDm: ColumnType<string | null, never, never>
}

export interface PatientFacilityTable {
  patientId: string
  facilityId: string
}

export interface PatientIdentifierTable {
  id: Generated<string>
  organizationId: string
  patientId: string
  system: string
  value: string
  createdAt: Stamp
}

export type PatientRow = Selectable<PatientTable>
export type NewPatient = Insertable<PatientTable>
export type PatientUpdate = Updateable<PatientTable>
export type PatientIdentifierRow = Selectable<PatientIdentifierTable>

// Insurance and eligibility (issue #5). Declaration merging adds these tables to Database.
export interface Database {
  payer: PayerTable
  network: NetworkTable
  providerNetwork: ProviderNetworkTable
  plan: PlanTable
  coverage: CoverageTable
  eligibilityBatch: EligibilityBatchTable
  eligibilityCheck: EligibilityCheckTable
  eligibilityBatchItem: EligibilityBatchItemTable
  feeScheduleItem: FeeScheduleItemTable
  estimate: EstimateTable
}

type DateCol = ColumnType<Date | string, Date | string, Date | string>
type NullableDateCol = ColumnType<Date | string | null, Date | string | null | undefined, Date | string | null>

export interface PayerTable {
  id: Generated<string>
  name: string
  x12PayerId: string
  createdAt: Stamp
  updatedAt: ColumnType<Date, Date | string | undefined, Date | string>
  version: ColumnType<number, number | undefined, number>
}

export interface NetworkTable {
  id: Generated<string>
  payerId: string
  name: string
  createdAt: Stamp
}

export interface ProviderNetworkTable {
  networkId: string
  npi: string
  effectiveFrom: DateCol
  effectiveTo: NullableDateCol
  createdAt: Stamp
}

export interface PlanTable {
  id: Generated<string>
  payerId: string
  networkId: string | null
  name: string
  planType: string
  copayCents: number | null
  deductibleCents: number | null
  familyDeductibleCents: number | null
  coinsurancePercent: number | null
  oopMaxCents: number | null
  oonDeductibleCents: number | null
  oonCoinsurancePercent: number | null
  oonOopMaxCents: number | null
  priorAuthServiceTypes: ColumnType<string[], string[] | undefined, string[]>
  createdAt: Stamp
  updatedAt: ColumnType<Date, Date | string | undefined, Date | string>
  version: ColumnType<number, number | undefined, number>
}

export type CoveragePriority = 'primary' | 'secondary' | 'tertiary'
export type CoverageStatus = 'active' | 'cancelled' | 'entered-in-error'
export type SubscriberRelationship = 'self' | 'spouse' | 'child' | 'other'

export interface CoverageTable {
  id: Generated<string>
  patientId: string
  planId: string
  priority: CoveragePriority
  status: ColumnType<CoverageStatus, CoverageStatus | undefined, CoverageStatus>
  relationship: SubscriberRelationship
  subscriberFamilyName: string | null
  subscriberGivenNames: string | null
  subscriberBirthDate: NullableDateCol
  memberId: string
  groupNumber: string | null
  effectiveFrom: DateCol
  effectiveTo: NullableDateCol
  verifiedAt: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>
  verifiedActive: boolean | null
  createdAt: Stamp
  updatedAt: ColumnType<Date, Date | string | undefined, Date | string>
  version: ColumnType<number, number | undefined, number>
}

export type EligibilityCheckStatus = 'complete' | 'rejected' | 'failed' | 'timeout'

export interface EligibilityBatchTable {
  id: Generated<string>
  facilityId: string
  status: ColumnType<'running' | 'complete', 'running' | 'complete' | undefined, 'running' | 'complete'>
  total: number
  serviceTypeCodes: string[]
  requestedBy: string
  createdAt: Stamp
  completedAt: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>
}

export interface EligibilityCheckTable {
  id: Generated<string>
  coverageId: string
  patientId: string
  facilityId: string
  batchId: string | null
  appointmentId: string | null
  status: EligibilityCheckStatus
  serviceTypeCodes: string[]
  providerNpi: string
  providerInNetwork: boolean | null
  dateOfService: DateCol
  traceNumber: string
  controlNumber: number
  gateway: string
  active: boolean | null
  planDescription: string | null
  coverageStart: NullableDateCol
  coverageEnd: NullableDateCol
  benefits: ColumnType<unknown[], string | undefined, string>
  rejections: ColumnType<unknown[], string | undefined, string>
  errorCode: string | null
  requestX12: string
  responseX12: string | null
  requestedBy: string
  createdAt: Stamp
  completedAt: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>
}

export interface EligibilityBatchItemTable {
  batchId: string
  position: number
  coverageId: string
  dateOfService: DateCol
  providerNpi: string
  appointmentId: string | null
  status: ColumnType<'queued' | EligibilityCheckStatus, 'queued' | undefined, EligibilityCheckStatus>
  checkId: string | null
  errorCode: string | null
}

export interface FeeScheduleItemTable {
  facilityId: string
  cptCode: string
  description: string | null
  chargeCents: number
  updatedAt: ColumnType<Date, Date | string | undefined, Date | string>
}

export interface EstimateTable {
  id: Generated<string>
  patientId: string
  facilityId: string
  coverageId: string | null
  eligibilityCheckId: string | null
  kind: 'insured' | 'self-pay'
  inNetwork: boolean | null
  totalChargeCents: number
  patientShareCents: number
  planShareCents: number
  lines: ColumnType<unknown[], string, never>
  requestedBy: string
  createdAt: Stamp
}

export type PayerRow = Selectable<PayerTable>
export type NetworkRow = Selectable<NetworkTable>
export type ProviderNetworkRow = Selectable<ProviderNetworkTable>
export type PlanRow = Selectable<PlanTable>
export type CoverageRow = Selectable<CoverageTable>
export type EligibilityCheckRow = Selectable<EligibilityCheckTable>
export type EligibilityBatchRow = Selectable<EligibilityBatchTable>
export type EligibilityBatchItemRow = Selectable<EligibilityBatchItemTable>
export type FeeScheduleItemRow = Selectable<FeeScheduleItemTable>
export type EstimateRow = Selectable<EstimateTable>

// Scheduling (issue #4): providers, resources, availability, appointments, holds, referrals,
// surgical cases and the reservation table whose exclusion constraints forbid double booking.
type Mutable<T> = ColumnType<T, T | undefined, T>

export interface Database {
  specialty: SpecialtyTable
  provider: ProviderTable
  providerSpecialty: { providerId: string; specialtyId: string }
  providerFacility: { providerId: string; facilityId: string }
  resource: ResourceTable
  appointmentType: AppointmentTypeTable
  availabilityRule: AvailabilityRuleTable
  availabilityException: AvailabilityExceptionTable
  referral: ReferralTable
  appointment: AppointmentTable
  slotHold: SlotHoldTable
  surgicalCase: SurgicalCaseTable
  reservation: ReservationTable
  waitlistEntry: WaitlistEntryTable
}

export interface SpecialtyTable {
  id: Generated<string>
  code: string
  name: string
}

export interface ProviderTable {
  id: Generated<string>
  organizationId: string
  npi: string
  displayName: string
  active: Mutable<boolean>
  createdAt: Stamp
  updatedAt: ColumnType<Date, Date | string | undefined, Date | string>
  version: Mutable<number>
}

export type ResourceKind = 'exam-room' | 'procedure-room' | 'operating-room' | 'equipment'

export interface ResourceTable {
  id: Generated<string>
  facilityId: string
  kind: ResourceKind
  name: string
  active: Mutable<boolean>
  createdAt: Stamp
}

export interface AppointmentTypeTable {
  id: Generated<string>
  organizationId: string
  code: string
  name: string
  specialtyId: string | null
  durationMinutes: number
  bufferBeforeMinutes: Mutable<number>
  bufferAfterMinutes: Mutable<number>
  resourceKinds: Mutable<ResourceKind[]>
  requiresReferral: Mutable<boolean>
  requiresPriorAuth: Mutable<boolean>
  minimumNoticeMinutes: Mutable<number>
  createdAt: Stamp
}

export interface AvailabilityRuleTable {
  id: Generated<string>
  providerId: string
  facilityId: string
  resourceId: string | null
  weekday: number
  startTime: string
  endTime: string
  effectiveFrom: ColumnType<string, string, string>
  effectiveTo: string | null
  createdAt: Stamp
}

export interface AvailabilityExceptionTable {
  id: Generated<string>
  providerId: string
  facilityId: string
  kind: 'extra' | 'block'
  resourceId: string | null
  startAt: ColumnType<Date, Date | string, Date | string>
  endAt: ColumnType<Date, Date | string, Date | string>
  reason: string | null
  createdAt: Stamp
}

export interface ReferralTable {
  id: Generated<string>
  facilityId: string
  patientId: string
  referringProviderNpi: string
  referringProviderName: string
  officeContact: string | null
  specialtyId: string | null
  reason: string
  icd10Codes: string[]
  authorizationNumber: string | null
  visitsAuthorized: number
  visitsUsed: Mutable<number>
  validFrom: string
  validTo: string
  status: Mutable<'active' | 'cancelled'>
  createdAt: Stamp
  version: Mutable<number>
}

export type AppointmentStatus = 'booked' | 'arrived' | 'checked-in' | 'fulfilled' | 'cancelled' | 'noshow' | 'entered-in-error'

export interface AppointmentTable {
  id: Generated<string>
  facilityId: string
  patientId: string
  providerId: string
  appointmentTypeId: string
  resourceIds: Mutable<string[]>
  startAt: ColumnType<Date, Date | string, Date | string>
  endAt: ColumnType<Date, Date | string, Date | string>
  status: Mutable<AppointmentStatus>
  overbooked: Mutable<boolean>
  overbookReason: string | null
  referralId: string | null
  referralOverrideReason: string | null
  referralVisitCounted: Mutable<boolean>
  note: string | null
  cancelledAt: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>
  cancelledBy: string | null
  cancelReason: string | null
  lateCancellation: boolean | null
  createdBy: string
  createdAt: Stamp
  updatedAt: ColumnType<Date, Date | string | undefined, Date | string>
  version: Mutable<number>
}

export interface SlotHoldTable {
  id: Generated<string>
  facilityId: string
  providerId: string
  appointmentTypeId: string
  patientId: string | null
  resourceIds: Mutable<string[]>
  startAt: ColumnType<Date, Date | string, Date | string>
  endAt: ColumnType<Date, Date | string, Date | string>
  expiresAt: ColumnType<Date, Date | string, Date | string>
  createdBy: string
  createdAt: Stamp
}

export type SurgicalCaseStatus = 'requested' | 'pending-facility-confirmation' | 'scheduled' | 'needs-reschedule' | 'completed' | 'cancelled'
export type ChecklistState = 'pending' | 'complete' | 'not-applicable'

export interface SurgicalCaseTable {
  id: Generated<string>
  facilityId: string
  patientId: string
  surgeonId: string
  procedureCodes: string[]
  expectedDurationMinutes: number
  anesthesia: 'general' | 'regional' | 'local' | 'sedation' | 'none'
  priority: 'elective' | 'urgent' | 'emergency'
  status: Mutable<SurgicalCaseStatus>
  operatingRoomId: string | null
  startAt: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>
  endAt: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>
  checklistHistoryPhysical: Mutable<ChecklistState>
  checklistLabs: Mutable<ChecklistState>
  checklistClearance: Mutable<ChecklistState>
  checklistPriorAuthorization: Mutable<ChecklistState>
  checklistConsent: Mutable<ChecklistState>
  statusReason: string | null
  bumpedByCaseId: string | null
  createdBy: string
  createdAt: Stamp
  updatedAt: ColumnType<Date, Date | string | undefined, Date | string>
  version: Mutable<number>
}

export interface ReservationTable {
  id: Generated<string>
  providerId: string | null
  resourceId: string | null
  /** tstzrange literal `[start,end)`, buffers included. */
  period: string
  appointmentId: string | null
  holdId: string | null
  surgicalCaseId: string | null
  expiresAt: Date | string | null
  overbook: Mutable<boolean>
}

export interface WaitlistEntryTable {
  id: Generated<string>
  facilityId: string
  patientId: string
  appointmentTypeId: string
  providerId: string | null
  specialtyId: string | null
  earliestDate: string
  latestDate: string
  status: Mutable<'waiting' | 'booked' | 'removed'>
  createdBy: string
  createdAt: Stamp
}

export type ProviderRow = Selectable<ProviderTable>
export type ResourceRow = Selectable<ResourceTable>
export type AppointmentTypeRow = Selectable<AppointmentTypeTable>
export type AvailabilityRuleRow = Selectable<AvailabilityRuleTable>
export type AvailabilityExceptionRow = Selectable<AvailabilityExceptionTable>
export type ReferralRow = Selectable<ReferralTable>
export type AppointmentRow = Selectable<AppointmentTable>
export type SlotHoldRow = Selectable<SlotHoldTable>
export type SurgicalCaseRow = Selectable<SurgicalCaseTable>
export type WaitlistEntryRow = Selectable<WaitlistEntryTable>

// Release of information (issue #6). Declaration merging adds these tables to Database.
type RoiDate = ColumnType<Date | string, Date | string, Date | string>
type RoiNullableDate = ColumnType<Date | string | null, Date | string | null | undefined, Date | string | null>
type RoiOptional<T> = ColumnType<T | null, T | null | undefined, T | null>

export interface Database {
  roiFeeSchedule: RoiFeeScheduleTable
  roiRequest: RoiRequestTable
  roiStatusChange: RoiStatusChangeTable
  roiAttachment: RoiAttachmentTable
  roiAuthorization: RoiAuthorizationTable
  roiDenial: RoiDenialTable
  roiInvoice: RoiInvoiceTable
  roiRelease: RoiReleaseTable
  disclosure: DisclosureTable
}

export interface RoiFeeScheduleTable {
  id: Generated<string>
  stateCode: string
  facilityId: string | null
  baseFeeCents: number
  perPageCents: number
  capCents: number | null
  paymentRequiredBeforeRelease: boolean
  updatedAt: ColumnType<Date, Date | string | undefined, Date | string>
}

export interface RoiRequestTable {
  id: Generated<string>
  organizationId: string
  facilityId: string
  patientId: string
  requesterType: string
  requesterName: string
  requesterOrganization: RoiOptional<string>
  requesterAddress: RoiOptional<string>
  requesterEmail: RoiOptional<string>
  requesterPhone: RoiOptional<string>
  legalBasis: string
  purpose: RoiOptional<string>
  recordTypes: string[]
  recordsFrom: RoiNullableDate
  recordsTo: RoiNullableDate
  format: 'paper' | 'electronic'
  deliveryMethod: string
  receivedOn: RoiDate
  dueOn: RoiDate
  extendedDueOn: RoiNullableDate
  extensionReason: RoiOptional<string>
  extensionNotifiedOn: RoiNullableDate
  status: ColumnType<string, string | undefined, string>
  createdBy: string
  createdAt: Stamp
  updatedAt: ColumnType<Date, Date | string | undefined, Date | string>
  version: ColumnType<number, number | undefined, number>
}

export interface RoiStatusChangeTable {
  id: Generated<string>
  requestId: string
  fromStatus: string | null
  toStatus: string
  reason: string
  actorSub: string
  changedAt: Stamp
}

export interface RoiAttachmentTable {
  id: Generated<string>
  requestId: string
  kind: string
  mediaType: string
  sizeBytes: number
  sha256: string
  pageCount: RoiOptional<number>
  content: ColumnType<Uint8Array, Uint8Array, never>
  createdBy: string
  createdAt: Stamp
}

export interface RoiAuthorizationTable {
  id: Generated<string>
  requestId: string
  descriptionOfInformation: RoiOptional<string>
  disclosingParty: RoiOptional<string>
  recipient: RoiOptional<string>
  purpose: RoiOptional<string>
  expiresOn: RoiNullableDate
  expirationEvent: RoiOptional<string>
  signedBy: RoiOptional<string>
  signedOn: RoiNullableDate
  signedByRepresentative: ColumnType<boolean, boolean | undefined, boolean>
  representativeAuthority: RoiOptional<string>
  statementRightToRevoke: ColumnType<boolean, boolean | undefined, boolean>
  statementConditioning: ColumnType<boolean, boolean | undefined, boolean>
  statementRedisclosure: ColumnType<boolean, boolean | undefined, boolean>
  formAttachmentId: RoiOptional<string>
  revokedOn: RoiNullableDate
  revocationReceivedOn: RoiNullableDate
  createdBy: string
  createdAt: Stamp
}

export interface RoiDenialTable {
  requestId: string
  scope: 'full' | 'partial'
  grounds: string[]
  reviewable: boolean
  deniedRecordTypes: string[]
  explanation: string
  reviewRightsText: RoiOptional<string>
  complaintRightsText: string
  sentOn: RoiDate
  deniedBy: string
  createdAt: Stamp
}

export interface RoiInvoiceTable {
  requestId: string
  method: 'cost_based' | 'flat_electronic' | 'fee_schedule'
  laborCents: ColumnType<number, number | undefined, number>
  suppliesCents: ColumnType<number, number | undefined, number>
  postageCents: ColumnType<number, number | undefined, number>
  pages: RoiOptional<number>
  scheduleBaseCents: ColumnType<number, number | undefined, number>
  schedulePageCents: ColumnType<number, number | undefined, number>
  totalCents: number
  paidCents: ColumnType<number, number | undefined, number>
  status: ColumnType<'open' | 'paid' | 'waived', 'open' | 'paid' | 'waived' | undefined, 'open' | 'paid' | 'waived'>
  paymentMethod: RoiOptional<string>
  paymentReference: RoiOptional<string>
  paidOn: RoiNullableDate
  waiverReason: RoiOptional<string>
  createdAt: Stamp
  updatedAt: ColumnType<Date, Date | string | undefined, Date | string>
}

export interface RoiReleaseTable {
  id: Generated<string>
  requestId: string
  documents: ColumnType<RoiReleasedDocument[], string, never>
  totalPages: number
  recipientName: string
  recipientAddress: RoiOptional<string>
  deliveryMethod: string
  releasedAt: ColumnType<Date, Date | string, never>
  releasedBy: string
  createdAt: Stamp
}

export interface RoiReleasedDocument {
  attachmentId: string | null
  recordType: string
  description: string
  pages: number
  sha256: string | null
}

export interface DisclosureTable {
  id: Generated<string>
  organizationId: string
  facilityId: string
  patientId: string
  requestId: RoiOptional<string>
  releaseId: RoiOptional<string>
  legalBasis: string
  accountable: ColumnType<boolean, never, never>
  disclosedAt: ColumnType<Date, Date | string, never>
  recipientName: string
  recipientAddress: RoiOptional<string>
  description: string
  purpose: string
  recordedBy: string
  createdAt: Stamp
}

export type RoiFeeScheduleRow = Selectable<RoiFeeScheduleTable>
export type RoiRequestRow = Selectable<RoiRequestTable>
export type RoiStatusChangeRow = Selectable<RoiStatusChangeTable>
export type RoiAttachmentRow = Selectable<RoiAttachmentTable>
export type RoiAuthorizationRow = Selectable<RoiAuthorizationTable>
export type RoiDenialRow = Selectable<RoiDenialTable>
export type RoiInvoiceRow = Selectable<RoiInvoiceTable>
export type RoiReleaseRow = Selectable<RoiReleaseTable>
export type DisclosureRow = Selectable<DisclosureTable>

// Audit checkpoints (issue #7). Declaration merging adds the table to Database.
export interface Database {
  auditCheckpoint: AuditCheckpointTable
}

export interface AuditCheckpointTable {
  seq: string
  hash: Buffer
  signedAt: Date
  keyId: string
  signature: Buffer
}

export type AuditCheckpointRow = Selectable<AuditCheckpointTable>

export interface Database {
  registration: RegistrationTable
  checkIn: CheckInTable
  payment: PaymentTable
  paymentRefund: PaymentRefundTable
  intake: IntakeTable
}

type Maybe<T> = ColumnType<T | null, T | null | undefined, T | null>
type MaybeTime = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>

export interface RegistrationTable {
  id: Generated<string>
  organizationId: string
  facilityId: string
  patientId: string
  kind: 'outpatient_diagnostic' | 'surgery' | 'direct_admission' | 'newborn_admission' | 'emergency'
  status: ColumnType<'planned' | 'arrived' | 'in_progress' | 'finished' | 'cancelled', 'planned' | 'arrived' | 'in_progress' | 'finished' | 'cancelled' | undefined>
  location: Maybe<string>
  plannedAt: MaybeTime
  details: Json<Record<string, unknown>>
  referralRequired: ColumnType<boolean, boolean | undefined, boolean>
  copayDueCents: ColumnType<number, number | undefined, number>
  motherPatientId: Maybe<string>
  deliveryRegistrationId: Maybe<string>
  birthOrder: Maybe<number>
  arrivedAt: MaybeTime
  startedAt: MaybeTime
  finishedAt: MaybeTime
  cancelledAt: MaybeTime
  cancelReason: Maybe<string>
  flowState: Maybe<'waiting' | 'roomed' | 'with_provider' | 'checked_out'>
  waitingAt: MaybeTime
  roomedAt: MaybeTime
  withProviderAt: MaybeTime
  checkedOutAt: MaybeTime
  esiLevel: Maybe<number>
  createdBy: string
  createdAt: Stamp
  updatedAt: Touched
  version: Versioned
}

export interface CheckInTable {
  id: Generated<string>
  facilityId: string
  patientId: string
  registrationId: string | null
  appointmentId: string | null
  arrivedAt: ColumnType<Date, Date | string, Date | string>
  demographicsConfirmed: boolean
  insuranceVerified: boolean
  eligibilityCheckId: string | null
  referralRequired: boolean
  referralVerified: boolean
  consentForms: Json<{ form: string; signedAt: string }[]>
  complete: string[]
  missing: string[]
  overrideReason: string | null
  createdBy: string
  createdAt: Stamp
}

export interface PaymentTable {
  id: Generated<string>
  facilityId: string
  patientId: string
  registrationId: string | null
  checkInId: string | null
  kind: ColumnType<string, string | undefined, string>
  amountCents: number
  method: string
  reference: string | null
  receiptNumber: string
  collectedBy: string
  collectedAt: Stamp
}

export interface PaymentRefundTable {
  id: Generated<string>
  paymentId: string
  amountCents: number
  method: string
  reference: string | null
  reason: string
  receiptNumber: string
  refundedBy: string
  refundedAt: Stamp
}

export interface IntakeTable {
  id: Generated<string>
  registrationId: string
  patientId: string
  facilityId: string
  chiefComplaint: string
  answers: Json<Record<string, unknown>>
  proposedEsi: number
  decisionPoint: 'A' | 'B' | 'C' | 'D'
  esiLevel: number
  overrideReason: string | null
  recordedBy: string
  recordedAt: Stamp
}

export type RegistrationRow = Selectable<RegistrationTable>
export type CheckInRow = Selectable<CheckInTable>
export type PaymentRow = Selectable<PaymentTable>
export type PaymentRefundRow = Selectable<PaymentRefundTable>
export type IntakeRow = Selectable<IntakeTable>

// Batch imports (issue #8). Declaration merging adds these tables to Database.
export interface Database {
  importJob: ImportJobTable
  importBatch: ImportBatchTable
}

export interface ImportJobTable {
  id: Generated<string>
  organizationId: string
  facilityId: string
  kind: 'patients' | 'coverages' | 'providers' | 'appointments'
  format: 'ndjson' | 'csv'
  dryRun: boolean
  allowDuplicates: boolean
  status: ColumnType<'created' | 'running' | 'interrupted' | 'completed' | 'failed', 'created' | undefined, 'running' | 'interrupted' | 'completed' | 'failed'>
  rowsProcessed: ColumnType<string, never, string>
  createdCount: ColumnType<string, never, string>
  updatedCount: ColumnType<string, never, string>
  unchangedCount: ColumnType<string, never, string>
  rejectedCount: ColumnType<string, never, string>
  duplicateCount: ColumnType<string, never, string>
  problem: ColumnType<Record<string, unknown> | null, never, string | null>
  createdBy: string
  createdAt: Stamp
  updatedAt: ColumnType<Date, never, Date | string>
  completedAt: ColumnType<Date | null, never, Date | string | null>
}

export interface ImportBatchTable {
  importId: string
  firstRow: ColumnType<string, number, never>
  lastRow: ColumnType<string, number, never>
  results: ColumnType<unknown[], string, never>
  committedAt: Stamp
}

// --- Restricted records (break-the-glass) ---

export type PatientRestriction = 'employee' | 'vip' | 'sensitive'

export interface PatientTable {
  restriction: ColumnType<PatientRestriction | null, PatientRestriction | null | undefined, PatientRestriction | null>
}

export interface PatientCareTeamTable {
  patientId: string
  userSub: string
  addedBy: string
  addedAt: Stamp
}

export interface Database {
  patientCareTeam: PatientCareTeamTable
}
