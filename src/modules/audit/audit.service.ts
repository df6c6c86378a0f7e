import { auditRead, type RequestContext } from '../../http/context.ts'
import { facilityScope } from '../../http/auth.ts'
import { BadRequestError, NotFoundError } from '../../http/errors.ts'
import { toPage } from '../../http/pagination.ts'
import { verifyChain } from './audit-chain.ts'
import { toFhirAuditEvent } from './audit-fhir.ts'
import { checkpointMessage, type AuditSigner } from './audit-signing.ts'
import { findPatientCore } from '../patients/patient.repository.ts'
import * as repo from './audit.repository.ts'
import type { AccessReportEntry, AuditEvent, AuditEventFilter, Checkpoint } from './audit.schemas.ts'

export const toAuditEvent = (row: repo.AuditEventListRow): AuditEvent => ({
  id: row.id,
  occurredAt: row.occurredAt,
  requestId: row.requestId,
  actor: { sub: row.actorSub, roles: row.actorRoles },
  facilityId: row.facilityId,
  action: row.action,
  verb: row.verb,
  resourceType: row.resourceType,
  resourceId: row.resourceId,
  patientId: row.patientId,
  outcome: row.outcome,
  purposeOfUse: row.purposeOfUse,
  clientIp: row.clientIp,
  userAgent: row.userAgent,
  breakGlass: row.breakGlass,
  detail: row.detail,
  seq: row.seq,
  hash: row.hash,
  sealedAt: row.sealedAt ? row.sealedAt.toISOString() : null,
})

const toAccessReportEntry = (row: repo.AuditEventListRow): AccessReportEntry => ({
  eventId: row.id,
  occurredAt: row.occurredAt,
  actor: { sub: row.actorSub, roles: row.actorRoles },
  action: row.action,
  verb: row.verb,
  resourceType: row.resourceType,
  resourceId: row.resourceId,
  purposeOfUse: row.purposeOfUse,
  breakGlass: row.breakGlass,
  outcome: row.outcome,
  facilityId: row.facilityId,
})

const eventKey = (r: repo.AuditEventListRow & { horizon: string }) => [r.occurredAt, r.id, r.horizon]

function checkRange(from: string | undefined, to: string | undefined) {
  if (from && to && new Date(from) >= new Date(to)) throw new BadRequestError('`from` must be before `to`', [{ pointer: 'from', detail: 'not before `to`' }])
}

/** The audit query is itself audited: which filters were used (their names, never their values). */
export async function searchAuditEvents(ctx: RequestContext, filter: AuditEventFilter, cursor: (string | number)[] | undefined, limit: number) {
  checkRange(filter.from, filter.to)
  const rows = await repo.listAuditEvents(ctx.db, filter, facilityScope(ctx.principal), cursor, limit)
  await auditRead(ctx, {
    verb: 'audit-event.search',
    resourceType: 'audit_event',
    patientId: filter.patientId ?? null,
    facilityId: filter.facilityId ?? null,
    detail: { filters: Object.keys(filter).sort(), returned: Math.min(rows.length, limit) },
  })
  return toPage(rows, limit, eventKey, toAuditEvent)
}

const EXPORT_PAGE = 1000

/**
 * FHIR R4 AuditEvent resources, one JSON per line, read a page at a time: an export of
 * millions of events never holds more than one page in memory. The export is audited
 * before the first line is sent.
 */
export async function exportAuditEvents(ctx: RequestContext, from: string, to: string): Promise<AsyncGenerator<string>> {
  checkRange(from, to)
  const scope = facilityScope(ctx.principal)
  await auditRead(ctx, { verb: 'audit-event.export', resourceType: 'audit_event', detail: { from, to, format: 'fhir-r4-ndjson' } })
  return (async function* lines() {
    let cursor: (string | number)[] | undefined
    for (;;) {
      const rows = await repo.listAuditEvents(ctx.db, { from, to }, scope, cursor, EXPORT_PAGE)
      const page = rows.slice(0, EXPORT_PAGE)
      if (page.length) yield page.map((r) => JSON.stringify(toFhirAuditEvent(r))).join('\n') + '\n'
      if (rows.length <= EXPORT_PAGE) return
      cursor = eventKey(page[page.length - 1])
    }
  })()
}

export async function verifyAuditChain(ctx: RequestContext, signer: AuditSigner, overdueAfterMs: number, from?: string, to?: string) {
  checkRange(from, to)
  const result = await verifyChain(ctx.db, { overdueAfterMs, signer, from: from ? new Date(from) : undefined, to: to ? new Date(to) : undefined })
  await auditRead(ctx, {
    verb: 'audit-chain.verify',
    resourceType: 'audit_event',
    detail: { from: from ?? null, to: to ?? null, ok: result.ok, checked: result.checked },
  })
  return result
}

export async function listCheckpoints(ctx: RequestContext, signer: AuditSigner, cursor: (string | number)[] | undefined, limit: number) {
  const rows = await repo.listCheckpoints(ctx.db, cursor ? String(cursor[0]) : undefined, limit)
  await auditRead(ctx, { verb: 'audit-checkpoint.list', resourceType: 'audit_checkpoint', detail: { returned: Math.min(rows.length, limit) } })
  const page = toPage(rows, limit, (r) => [r.seq, r.seq], (r): Checkpoint => {
    const hash = r.hash.toString('hex')
    return { seq: r.seq, hash, signedAt: r.signedAt.toISOString(), keyId: r.keyId, signature: r.signature.toString('base64'), message: checkpointMessage(r.seq, hash, r.signedAt) }
  })
  const { kty, crv, x } = signer.publicJwk as { kty: 'OKP'; crv: 'Ed25519'; x: string }
  return { publicKey: { keyId: signer.keyId, jwk: { kty, crv, x }, spki: signer.publicSpki }, ...page }
}

/**
 * Who read or changed a patient's record, when and why: the patient's audit events under the
 * same facility rule as the audit query. A patient the caller cannot see is 404.
 */
export async function patientAccessReport(ctx: RequestContext, patientId: string, range: { from?: string; to?: string }, cursor: (string | number)[] | undefined, limit: number) {
  checkRange(range.from, range.to)
  const scope = facilityScope(ctx.principal)
  const patient = await findPatientCore(ctx.db, patientId, scope)
  if (!patient) throw new NotFoundError('Patient')
  const rows = await repo.listAuditEvents(ctx.db, { patientId, ...range }, scope, cursor, limit)
  await auditRead(ctx, {
    verb: 'patient.access-report',
    resourceType: 'patient',
    resourceId: patientId,
    patientId,
    facilityId: patient.facilityId,
    detail: { returned: Math.min(rows.length, limit) },
  })
  return toPage(rows, limit, eventKey, toAccessReportEntry)
}
