import type { AuditEventListRow } from './audit.repository.ts'

/**
 * One audit event as a FHIR R4 AuditEvent, after IHE Basic Audit Log Patterns (BALP): a RESTful
 * operation (type `rest`, subtype the FHIR interaction plus our domain verb), the user as the
 * requesting agent with role, purpose of use and network address, this service as the
 * observer, and the patient and the resource as entities.
 */

const SYSTEM = {
  eventType: 'http://terminology.hl7.org/CodeSystem/audit-event-type',
  interaction: 'http://hl7.org/fhir/restful-interaction',
  verb: 'urn:patient-access:audit-verb',
  purposeOfUse: 'http://terminology.hl7.org/CodeSystem/v3-ActReason',
  participationType: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType',
  role: 'urn:patient-access:role',
  subject: 'urn:patient-access:subject',
  sourceType: 'http://terminology.hl7.org/CodeSystem/security-source-type',
  entityType: 'http://terminology.hl7.org/CodeSystem/audit-entity-type',
  objectRole: 'http://terminology.hl7.org/CodeSystem/object-role',
  actCode: 'http://terminology.hl7.org/CodeSystem/v3-ActCode',
  balpEntityType: 'https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType',
} as const

export const OBSERVER = 'patient-access-api'

// HL7 AuditEventOutcome: 0 success, 4 minor failure (refused or not found: nothing was done),
// 8 serious failure (the service failed), 12 major failure (not used: the service never
// records an event while it is going down).
const OUTCOME = { success: '0', denied: '4', 'not-found': '4', error: '8' } as const

// BALP records searches as action E with subtype search-type.
function actionAndInteraction(row: AuditEventListRow): { action: 'C' | 'R' | 'U' | 'D' | 'E'; interaction: string } {
  switch (row.action) {
    case 'create': return { action: 'C', interaction: 'create' }
    case 'update': return { action: 'U', interaction: 'update' }
    case 'delete': return { action: 'D', interaction: 'delete' }
    case 'execute': return { action: 'E', interaction: 'operation' }
    default: return row.resourceId ? { action: 'R', interaction: 'read' } : { action: 'E', interaction: 'search-type' }
  }
}

const FHIR_TYPES: Record<string, string> = {
  patient: 'Patient', organization: 'Organization', facility: 'Location', appointment: 'Appointment', slot: 'Slot',
  schedule: 'Schedule', coverage: 'Coverage', referral: 'ServiceRequest',
}

function resourceReference(type: string, id: string) {
  const fhirType = FHIR_TYPES[type]
  return fhirType ? { reference: `${fhirType}/${id}` } : { identifier: { system: `urn:patient-access:${type}`, value: id }, display: type }
}

export function toFhirAuditEvent(row: AuditEventListRow): Record<string, unknown> {
  const { action, interaction } = actionAndInteraction(row)
  const entity: Record<string, unknown>[] = []
  if (row.patientId) {
    entity.push({
      what: { reference: `Patient/${row.patientId}` },
      type: { system: SYSTEM.entityType, code: '1', display: 'Person' },
      role: { system: SYSTEM.objectRole, code: '1', display: 'Patient' },
    })
  }
  const detail = row.detail ? Object.entries(row.detail).map(([type, value]) => ({ type, valueString: typeof value === 'string' ? value : JSON.stringify(value) })) : []
  if (row.resourceId && !(row.resourceType === 'patient' && row.resourceId === row.patientId)) {
    entity.push({
      what: resourceReference(row.resourceType, row.resourceId),
      type: { system: SYSTEM.entityType, code: '2', display: 'System Object' },
      role: { system: SYSTEM.objectRole, code: '4', display: 'Domain Resource' },
      ...(detail.length ? { detail } : {}),
    })
  } else if (!row.resourceId) {
    entity.push({
      type: { system: SYSTEM.entityType, code: '2', display: 'System Object' },
      role: { system: SYSTEM.objectRole, code: '24', display: 'Query' },
      description: `${row.resourceType} search`,
      ...(detail.length ? { detail } : {}),
    })
  } else if (detail.length) {
    ;(entity[0] as Record<string, unknown>).detail = detail
  }

  if (row.requestId) {
    entity.push({ what: { identifier: { value: row.requestId } }, type: { system: SYSTEM.balpEntityType, code: 'XrequestId', display: 'X-Request-Id' } })
  }

  const agent: Record<string, unknown> = {
    type: { coding: [{ system: SYSTEM.participationType, code: 'IRCP', display: 'information recipient' }] },
    who: row.actorSub ? { identifier: { system: SYSTEM.subject, value: row.actorSub } } : { display: 'unauthenticated caller' },
    requestor: true,
  }
  if (row.actorRoles.length) agent.role = row.actorRoles.map((r) => ({ coding: [{ system: SYSTEM.role, code: r }] }))
  if (row.clientIp) agent.network = { address: row.clientIp, type: '2' }
  if (row.purposeOfUse) agent.purposeOfUse = [{ coding: [{ system: SYSTEM.purposeOfUse, code: row.purposeOfUse }] }]

  return {
    resourceType: 'AuditEvent',
    id: row.id,
    ...(row.breakGlass ? { meta: { security: [{ system: SYSTEM.actCode, code: 'BTG', display: 'break the glass' }] } } : {}),
    type: { system: SYSTEM.eventType, code: 'rest', display: 'RESTful Operation' },
    subtype: [
      { system: SYSTEM.interaction, code: interaction },
      { system: SYSTEM.verb, code: row.verb },
    ],
    action,
    recorded: row.occurredAt,
    outcome: OUTCOME[row.outcome],
    outcomeDesc: row.outcome,
    agent: [agent],
    source: {
      ...(row.facilityId ? { site: `Location/${row.facilityId}` } : {}),
      observer: { identifier: { system: 'urn:patient-access:system', value: OBSERVER }, display: OBSERVER },
      type: [{ system: SYSTEM.sourceType, code: '4', display: 'Application Server' }],
    },
    ...(entity.length ? { entity } : {}),
  }
}
