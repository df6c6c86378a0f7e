import type { Kysely } from 'kysely'
import type { Database, RoiAuthorizationRow } from '../../db/database.ts'
import { withTransaction, type RequestContext } from '../../http/context.ts'
import { ConflictError, NotFoundError, UnprocessableError } from '../../http/errors.ts'
import { isoDate } from '../../lib/dates.ts'
import { auditRequest, dateIn, findRequest, lockRequest } from './roi-common.ts'
import * as repo from './roi.repository.ts'
import type { Authorization, CreateAuthorizationBody } from './roi.schemas.ts'
import { guardPatientRead } from '../patients/patient-guard.ts'

/**
 * HIPAA 164.508(b)(2), (c): what makes this authorization invalid on a date. The names are the
 * contract's field names, so a caller knows what to fix.
 */
export function authorizationProblems(a: RoiAuthorizationRow, onDate: string): string[] {
  const problems: string[] = []
  if (!a.descriptionOfInformation) problems.push('descriptionOfInformation')
  if (!a.disclosingParty) problems.push('disclosingParty')
  if (!a.recipient) problems.push('recipient')
  if (!a.purpose) problems.push('purpose')
  if (!a.expiresOn && !a.expirationEvent) problems.push('expiration')
  if (!a.signedBy) problems.push('signedBy')
  if (!a.signedOn) problems.push('signedOn')
  if (a.signedByRepresentative && !a.representativeAuthority) problems.push('representativeAuthority')
  if (!a.statementRightToRevoke) problems.push('statements.rightToRevoke')
  if (!a.statementConditioning) problems.push('statements.conditioning')
  if (!a.statementRedisclosure) problems.push('statements.redisclosure')
  if (a.expiresOn && isoDate(a.expiresOn) < onDate) problems.push('expired')
  if (a.revokedOn && isoDate(a.revokedOn) <= onDate) problems.push('revoked')
  return problems
}

/**
 * The request's current authorization (the latest recorded) must be valid on `onDate`; otherwise
 * 422 naming each missing, expired or revoked element.
 */
export async function checkAuthorizationForRequest(db: Kysely<Database>, requestId: string, onDate: string): Promise<RoiAuthorizationRow> {
  const all = await repo.listAuthorizations(db, requestId)
  const current = all.at(-1)
  const problems = current ? authorizationProblems(current, onDate) : ['authorization']
  if (problems.length) {
    throw new UnprocessableError('authorization-invalid', `The authorization is not valid under 164.508: ${problems.join(', ')}`, { missing: problems })
  }
  return current!
}

export const toAuthorization = (row: RoiAuthorizationRow, today: string): Authorization => ({
  id: row.id,
  requestId: row.requestId,
  descriptionOfInformation: row.descriptionOfInformation,
  disclosingParty: row.disclosingParty,
  recipient: row.recipient,
  purpose: row.purpose,
  expiresOn: isoDate(row.expiresOn),
  expirationEvent: row.expirationEvent,
  signedBy: row.signedBy,
  signedOn: isoDate(row.signedOn),
  signedByRepresentative: row.signedByRepresentative,
  representativeAuthority: row.representativeAuthority,
  statements: { rightToRevoke: row.statementRightToRevoke, conditioning: row.statementConditioning, redisclosure: row.statementRedisclosure },
  formAttachmentId: row.formAttachmentId,
  revokedOn: isoDate(row.revokedOn),
  revocationReceivedOn: isoDate(row.revocationReceivedOn),
  problems: authorizationProblems(row, today),
  createdAt: row.createdAt.toISOString(),
})

const today = async (db: Kysely<Database>, facilityId: string) => dateIn((await repo.findFacility(db, facilityId))!.timeZone)

export function createAuthorization(ctx: RequestContext, requestId: string, body: CreateAuthorizationBody): Promise<Authorization> {
  return withTransaction(ctx, async (trx) => {
    const request = await lockRequest(trx, ctx, requestId)
    if (request.legalBasis !== 'authorization') {
      throw new ConflictError('authorization-not-applicable', 'Only requests whose legal basis is an authorization carry one')
    }
    if (['released', 'denied', 'withdrawn'].includes(request.status)) {
      throw new ConflictError('request-closed', `A request in status ${request.status} takes no new authorization`)
    }
    if (body.formAttachmentId) {
      const form = await repo.findAttachment(trx, requestId, body.formAttachmentId)
      if (!form || form.kind !== 'authorization_form') {
        throw new UnprocessableError('form-attachment-invalid', 'formAttachmentId must name an authorization_form attachment of this request', {
          errors: [{ pointer: '/formAttachmentId', detail: 'not an authorization form of this request' }],
        })
      }
    }
    const s = body.statements
    const row = await repo.insertAuthorization(trx, {
      requestId,
      descriptionOfInformation: body.descriptionOfInformation ?? null,
      disclosingParty: body.disclosingParty ?? null,
      recipient: body.recipient ?? null,
      purpose: body.purpose ?? null,
      expiresOn: body.expiresOn ?? null,
      expirationEvent: body.expirationEvent ?? null,
      signedBy: body.signedBy ?? null,
      signedOn: body.signedOn ?? null,
      signedByRepresentative: body.signedByRepresentative ?? false,
      representativeAuthority: body.representativeAuthority ?? null,
      statementRightToRevoke: s?.rightToRevoke ?? false,
      statementConditioning: s?.conditioning ?? false,
      statementRedisclosure: s?.redisclosure ?? false,
      formAttachmentId: body.formAttachmentId ?? null,
      createdBy: ctx.principal.sub,
    })
    const result = toAuthorization(row, await today(trx, request.facilityId))
    await auditRequest(trx, ctx, request, 'create', 'roi_authorization.create', { authorizationId: row.id, problems: result.problems })
    return result
  })
}

export async function listAuthorizations(ctx: RequestContext, requestId: string): Promise<Authorization[]> {
  const request = await findRequest(ctx, requestId)
  const rows = await repo.listAuthorizations(ctx.db, requestId)
  const t = await today(ctx.db, request.facilityId)
  await guardPatientRead(ctx, { verb: 'roi_authorization.list', resourceType: 'roi_request', resourceId: requestId, patientId: request.patientId, facilityId: request.facilityId })
  return rows.map((r) => toAuthorization(r, t))
}

/** HIPAA 164.508(b)(5): a written revocation stops disclosures from its date on. */
export function revokeAuthorization(ctx: RequestContext, requestId: string, authorizationId: string, body: { revokedOn: string; receivedOn: string }) {
  return withTransaction(ctx, async (trx) => {
    const request = await lockRequest(trx, ctx, requestId)
    const existing = await repo.findAuthorization(trx, requestId, authorizationId)
    if (!existing) throw new NotFoundError('Authorization')
    if (existing.revokedOn) throw new ConflictError('already-revoked', 'The authorization has already been revoked')
    const t = await today(trx, request.facilityId)
    if (body.receivedOn > t || body.revokedOn < body.receivedOn) {
      throw new UnprocessableError('revocation-dates-invalid', 'The revocation is received on or before today and takes effect on or after its receipt', {
        errors: [{ pointer: '/revokedOn', detail: 'before receipt, or receipt in the future' }],
      })
    }
    const row = await repo.revokeAuthorization(trx, authorizationId, body.revokedOn, body.receivedOn)
    await auditRequest(trx, ctx, request, 'update', 'roi_authorization.revoke', { authorizationId })
    return toAuthorization(row, t)
  })
}
