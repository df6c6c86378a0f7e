import type { DisclosureRow, RoiReleasedDocument, RoiReleaseRow } from '../../db/database.ts'
import { canActFor, facilityScope } from '../../http/auth.ts'
import { auditChange, withTransaction, type RequestContext } from '../../http/context.ts'
import { BadRequestError, ConflictError, NotFoundError, UnprocessableError } from '../../http/errors.ts'
import { toPage } from '../../http/pagination.ts'
import { authorizationProblems } from './roi-authorization.service.ts'
import { assertPaidIfRequired } from './roi-fee.service.ts'
import { assertTransition, auditRequest, changeStatus, dateIn, findRequest, lockRequest } from './roi-common.ts'
import { findPatientCore } from '../patients/patient.repository.ts'
import * as repo from './roi.repository.ts'
import type { Disclosure, LegalBasis, RecordDisclosureBody, Release, ReleaseBody } from './roi.schemas.ts'
import { guardPatientRead } from '../patients/patient-guard.ts'

/** Clocks differ a little between callers and us; a release "now" may arrive stamped a moment ahead. */
const CLOCK_SKEW_MS = 5 * 60 * 1000

export const toRelease = (row: RoiReleaseRow, disclosureId: string): Release => ({
  id: row.id,
  requestId: row.requestId,
  documents: row.documents,
  totalPages: row.totalPages,
  recipientName: row.recipientName,
  recipientAddress: row.recipientAddress,
  deliveryMethod: row.deliveryMethod as Release['deliveryMethod'],
  releasedAt: row.releasedAt.toISOString(),
  releasedBy: row.releasedBy,
  disclosureId,
})

export const toDisclosure = (row: DisclosureRow): Disclosure => ({
  id: row.id,
  patientId: row.patientId,
  facilityId: row.facilityId,
  requestId: row.requestId,
  legalBasis: row.legalBasis as LegalBasis,
  accountable: row.accountable,
  disclosedAt: row.disclosedAt.toISOString(),
  recipient: { name: row.recipientName, address: row.recipientAddress },
  description: row.description,
  purpose: row.purpose,
  recordedBy: row.recordedBy,
  createdAt: row.createdAt.toISOString(),
})

function notInFuture(at: Date, pointer: string) {
  if (at.getTime() > Date.now() + CLOCK_SKEW_MS) {
    throw new UnprocessableError('date-in-future', 'A disclosure cannot be recorded before it happens', { errors: [{ pointer, detail: 'in the future' }] })
  }
}

export function release(ctx: RequestContext, requestId: string, body: ReleaseBody): Promise<Release> {
  const releasedAt = body.releasedAt ? new Date(body.releasedAt) : new Date()
  notInFuture(releasedAt, '/releasedAt')
  return withTransaction(ctx, async (trx) => {
    const request = await lockRequest(trx, ctx, requestId)
    assertTransition(request, 'released')
    const facility = (await repo.findFacility(trx, request.facilityId))!
    const releaseDate = dateIn(facility.timeZone, releasedAt)

    // Partial denials (164.524(d)(1)): the rest is released, the denied record types are not.
    const denied = (await repo.findDenial(trx, requestId))?.deniedRecordTypes ?? []
    const errors: { pointer: string; detail: string }[] = []
    const documents: RoiReleasedDocument[] = []
    for (const [i, d] of body.documents.entries()) {
      if (!request.recordTypes.includes(d.recordType)) errors.push({ pointer: `/documents/${i}/recordType`, detail: 'not requested' })
      else if (denied.includes(d.recordType)) errors.push({ pointer: `/documents/${i}/recordType`, detail: 'denied' })
      let sha256 = d.sha256 ?? null
      if (d.attachmentId) {
        const attachment = await repo.findAttachment(trx, requestId, d.attachmentId)
        if (!attachment || attachment.kind !== 'released_document') errors.push({ pointer: `/documents/${i}/attachmentId`, detail: 'not a released_document of this request' })
        else if (sha256 && sha256 !== attachment.sha256) errors.push({ pointer: `/documents/${i}/sha256`, detail: 'does not match the attachment' })
        else sha256 = attachment.sha256
      }
      documents.push({ attachmentId: d.attachmentId ?? null, recordType: d.recordType, description: d.description, pages: d.pages, sha256 })
    }
    if (errors.length) throw new UnprocessableError('documents-not-releasable', 'Some documents cannot be released under this request', { errors })

    if (request.legalBasis === 'authorization') {
      const current = (await repo.listAuthorizations(trx, requestId)).at(-1)
      const problems = current ? authorizationProblems(current, releaseDate) : ['authorization']
      // HIPAA 164.508(b)(5): nothing is released on or after the revocation date.
      if (problems.includes('revoked')) throw new ConflictError('authorization-revoked', 'The authorization was revoked on or before the release date')
      if (problems.length) {
        throw new UnprocessableError('authorization-invalid', `The authorization is not valid under 164.508: ${problems.join(', ')}`, { missing: problems })
      }
    }
    await assertPaidIfRequired(trx, request)

    const recipientName = body.recipient?.name ?? request.requesterName
    const recipientAddress = body.recipient ? (body.recipient.address ?? null) : request.requesterAddress
    const totalPages = documents.reduce((n, d) => n + d.pages, 0)
    const row = await repo.insertRelease(trx, {
      requestId, documents: JSON.stringify(documents), totalPages, recipientName, recipientAddress,
      deliveryMethod: body.deliveryMethod ?? request.deliveryMethod, releasedAt, releasedBy: ctx.principal.sub,
    })
    const disclosure = await repo.insertDisclosure(trx, {
      organizationId: request.organizationId,
      facilityId: request.facilityId,
      patientId: request.patientId,
      requestId,
      releaseId: row.id,
      legalBasis: request.legalBasis,
      disclosedAt: releasedAt,
      recipientName,
      recipientAddress,
      description: documents.map((d) => `${d.description} (${d.pages} p.)`).join('; ').slice(0, 2000),
      purpose: request.purpose ?? request.legalBasis.replace(/_/g, ' '),
      recordedBy: ctx.principal.sub,
    })
    await changeStatus(trx, ctx, request, 'released', 'Released')
    await auditRequest(trx, ctx, request, 'execute', 'roi_request.release', { releaseId: row.id, disclosureId: disclosure.id, documents: documents.length, totalPages })
    return toRelease(row, disclosure.id)
  })
}

export async function getRelease(ctx: RequestContext, requestId: string): Promise<Release> {
  const request = await findRequest(ctx, requestId)
  const row = await repo.findRelease(ctx.db, requestId)
  if (!row) throw new NotFoundError('Release')
  await guardPatientRead(ctx, { verb: 'roi_release.read', resourceType: 'roi_request', resourceId: requestId, patientId: request.patientId, facilityId: request.facilityId })
  const { disclosureId, ...release } = row
  return toRelease(release, disclosureId!)
}

/** Disclosures made outside the request workflow (a public health report, a court order served in person...). */
export function recordDisclosure(ctx: RequestContext, patientId: string, body: RecordDisclosureBody): Promise<Disclosure> {
  const disclosedAt = new Date(body.disclosedAt)
  notInFuture(disclosedAt, '/disclosedAt')
  return withTransaction(ctx, async (trx) => {
    if (!canActFor(ctx.principal, body.facilityId)) throw new NotFoundError('Facility')
    const patient = await findPatientCore(trx, patientId, [body.facilityId])
    if (!patient) throw new NotFoundError('Patient')
    const row = await repo.insertDisclosure(trx, {
      organizationId: patient.organizationId,
      facilityId: body.facilityId,
      patientId,
      legalBasis: body.legalBasis,
      disclosedAt,
      recipientName: body.recipient.name,
      recipientAddress: body.recipient.address ?? null,
      description: body.description,
      purpose: body.purpose,
      recordedBy: ctx.principal.sub,
    })
    await auditChange(trx, ctx, {
      action: 'create', verb: 'disclosure.create', resourceType: 'disclosure', resourceId: row.id, patientId, facilityId: body.facilityId,
      detail: { legalBasis: body.legalBasis, accountable: row.accountable },
    })
    return toDisclosure(row)
  })
}

/** HIPAA 164.528: the accounting of disclosures, by default over the last six years. */
export async function accounting(ctx: RequestContext, patientId: string, q: { from?: string; to?: string; limit?: number }, cursor: (string | number)[] | undefined) {
  const scope = facilityScope(ctx.principal)
  const patient = await findPatientCore(ctx.db, patientId, scope)
  if (!patient) throw new NotFoundError('Patient')
  const now = new Date()
  const to = q.to ?? now.toISOString().slice(0, 10)
  const sixYearsAgo = new Date(now)
  sixYearsAgo.setUTCFullYear(now.getUTCFullYear() - 6)
  const from = q.from ?? sixYearsAgo.toISOString().slice(0, 10)
  if (from > to) throw new BadRequestError('`from` is after `to`', [{ pointer: 'from', detail: 'after `to`' }])
  const limit = q.limit ?? 100
  const rows = await repo.listAccountableDisclosures(ctx.db, { patientId, facilityIds: scope, from, to }, cursor, limit)
  await guardPatientRead(ctx, {
    verb: 'disclosure.accounting', resourceType: 'disclosure', patientId, facilityId: scope?.length === 1 ? scope[0] : patient.facilityId,
    detail: { from, to, returned: Math.min(rows.length, limit) },
  })
  return toPage(rows, limit, (r) => [r.disclosedAt.toISOString(), r.id], toDisclosure)
}
