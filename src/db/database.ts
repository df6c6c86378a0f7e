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
  seq: ColumnType<string | null, never, string>
  prevHash: ColumnType<Buffer | null, never, Buffer>
  hash: ColumnType<Buffer | null, never, Buffer>
  sealedAt: ColumnType<Date | null, never, Date | string>
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
  idempotencyKey: IdempotencyKeyTable
}

export type OrganizationRow = Selectable<OrganizationTable>
export type FacilityRow = Selectable<FacilityTable>
export type NewFacility = Insertable<FacilityTable>
export type FacilityUpdate = Updateable<FacilityTable>
export type AuditEventRow = Selectable<AuditEventTable>
export type NewAuditEvent = Insertable<AuditEventTable>
