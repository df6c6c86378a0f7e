import { createHash } from 'node:crypto'
import type { RoiAttachmentRow } from '../../db/database.ts'
import { withTransaction, type RequestContext } from '../../http/context.ts'
import { BadRequestError, NotFoundError, ProblemError } from '../../http/errors.ts'
import { auditRequest, findRequest, lockRequest } from './roi-common.ts'
import * as repo from './roi.repository.ts'
import type { Attachment } from './roi.schemas.ts'
import { guardPatientRead } from '../patients/patient-guard.ts'

type MediaType = Attachment['mediaType']

const SIGNATURES: { type: MediaType; bytes: number[] }[] = [
  { type: 'application/pdf', bytes: [0x25, 0x50, 0x44, 0x46, 0x2d] }, // %PDF-
  { type: 'image/png', bytes: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] },
  { type: 'image/jpeg', bytes: [0xff, 0xd8, 0xff] },
  { type: 'image/tiff', bytes: [0x49, 0x49, 0x2a, 0x00] }, // II*\0, little-endian
  { type: 'image/tiff', bytes: [0x4d, 0x4d, 0x00, 0x2a] }, // MM\0*, big-endian
]

/** The media type the content's leading bytes prove, whatever the name or Content-Type claim. */
export function detectMediaType(content: Uint8Array): MediaType | undefined {
  return SIGNATURES.find((s) => s.bytes.length <= content.length && s.bytes.every((b, i) => content[i] === b))?.type
}

export const EXTENSIONS: Record<MediaType, string> = { 'application/pdf': 'pdf', 'image/png': 'png', 'image/jpeg': 'jpg', 'image/tiff': 'tif' }

export const toAttachment = (row: Omit<RoiAttachmentRow, 'content'>): Attachment => ({
  id: row.id,
  requestId: row.requestId,
  kind: row.kind as Attachment['kind'],
  mediaType: row.mediaType as MediaType,
  sizeBytes: row.sizeBytes,
  sha256: row.sha256,
  pageCount: row.pageCount,
  createdBy: row.createdBy,
  createdAt: row.createdAt.toISOString(),
})

export function uploadAttachment(ctx: RequestContext, requestId: string, kind: string, pageCount: number | undefined, content: unknown) {
  if (!(content instanceof Buffer) || content.length === 0) {
    throw new BadRequestError('Send the document itself as the body (PDF, TIFF, PNG or JPEG)')
  }
  const mediaType = detectMediaType(content)
  if (!mediaType) {
    throw new ProblemError(415, 'unsupported-media-type', 'Unsupported Media Type', 'The content is not a PDF, TIFF, PNG or JPEG document')
  }
  const sha256 = createHash('sha256').update(content).digest('hex')
  return withTransaction(ctx, async (trx) => {
    const request = await lockRequest(trx, ctx, requestId)
    const row = await repo.insertAttachment(trx, {
      requestId, kind, mediaType, sizeBytes: content.length, sha256, pageCount: pageCount ?? null, content, createdBy: ctx.principal.sub,
    })
    await auditRequest(trx, ctx, request, 'create', 'roi_attachment.create', { attachmentId: row.id, kind, mediaType, sizeBytes: content.length })
    return toAttachment(row)
  })
}

export async function listAttachments(ctx: RequestContext, requestId: string): Promise<Attachment[]> {
  const request = await findRequest(ctx, requestId)
  const rows = await repo.listAttachments(ctx.db, requestId)
  await guardPatientRead(ctx, { verb: 'roi_attachment.list', resourceType: 'roi_request', resourceId: requestId, patientId: request.patientId, facilityId: request.facilityId })
  return rows.map(toAttachment)
}

export async function downloadAttachment(ctx: RequestContext, requestId: string, attachmentId: string) {
  const request = await findRequest(ctx, requestId)
  const row = await repo.findAttachmentContent(ctx.db, requestId, attachmentId)
  if (!row) throw new NotFoundError('Attachment')
  await guardPatientRead(ctx, {
    verb: 'roi_attachment.download', resourceType: 'roi_attachment', resourceId: attachmentId, patientId: request.patientId, facilityId: request.facilityId,
  })
  return { attachment: toAttachment(row), content: Buffer.from(row.content) }
}
