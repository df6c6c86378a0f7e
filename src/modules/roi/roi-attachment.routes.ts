import type { FastifyPluginAsync } from 'fastify'
import { Type, type Static } from '@sinclair/typebox'
import { problems } from '../../http/errors.ts'
import * as service from './roi-attachment.service.ts'
import { ATTACHMENT_MEDIA_TYPES, AttachmentParams, AttachmentQuery, RequestParams } from './roi.schemas.ts'

const tags = ['release-of-information']
const UPLOAD_TYPES = ['application/octet-stream', ...ATTACHMENT_MEDIA_TYPES]
const binary = { type: 'string', format: 'binary' }

/**
 * The uploaded bytes, opaque to the app-wide body hooks: those walk parsed JSON bodies key by
 * key, which for a Buffer would mean one step per byte.
 */
export class UploadedBytes {
  readonly #bytes: Buffer
  constructor(bytes: Buffer) {
    this.#bytes = bytes
  }
  get bytes() {
    return this.#bytes
  }
}

/** Attachments: raw document bodies, scoped to this plugin with their own size limit. */
export const roiAttachmentRoutes: FastifyPluginAsync = async (app) => {
  const bodyLimit = app.config.ROI_ATTACHMENT_MAX_BYTES
  app.addContentTypeParser(UPLOAD_TYPES, { parseAs: 'buffer', bodyLimit }, (_req, body, done) => done(null, new UploadedBytes(body as Buffer)))

  app.post<{ Params: Static<typeof RequestParams>; Querystring: Static<typeof AttachmentQuery> }>('/roi-requests/:requestId/attachments', {
    config: { permission: 'roi:write' },
    bodyLimit,
    schema: {
      operationId: 'uploadRoiAttachment', tags, summary: 'Upload a document (signed form, released copy, correspondence)',
      description: 'The body is the file itself. Its type is decided by its leading bytes (PDF, TIFF, PNG, JPEG), never by a name or the Content-Type; ' +
        'anything else is 415. Larger than ROI_ATTACHMENT_MAX_BYTES is 413. The SHA-256 of the content is stored and returned.',
      params: RequestParams, querystring: AttachmentQuery,
      body: { content: Object.fromEntries(UPLOAD_TYPES.map((t) => [t, { schema: { description: 'The document bytes.', format: 'binary' } }])) },
      response: { 201: Type.Ref('RoiAttachment'), ...problems(400, 401, 403, 404, 413, 415, 503) },
    },
  }, async (req, reply) => {
    const body = req.body instanceof UploadedBytes ? req.body.bytes : undefined
    return reply.code(201).send(await service.uploadAttachment(req.ctx, req.params.requestId, req.query.kind, req.query.pageCount, body))
  })

  app.get<{ Params: Static<typeof RequestParams> }>('/roi-requests/:requestId/attachments', {
    config: { permission: 'roi:read' },
    schema: {
      operationId: 'listRoiAttachments', tags, summary: 'The documents of a request (metadata)',
      params: RequestParams,
      response: { 200: Type.Array(Type.Ref('RoiAttachment')), ...problems(400, 401, 403, 404, 503) },
    },
  }, (req) => service.listAttachments(req.ctx, req.params.requestId))

  app.get<{ Params: Static<typeof AttachmentParams> }>('/roi-requests/:requestId/attachments/:attachmentId/content', {
    config: { permission: 'roi:read' },
    schema: {
      operationId: 'downloadRoiAttachment', tags, summary: 'Download a document',
      description: 'The stored bytes with their detected media type; `Repr-Digest` carries the SHA-256 (RFC 9530).',
      params: AttachmentParams,
      response: {
        200: { description: 'The document.', content: Object.fromEntries(ATTACHMENT_MEDIA_TYPES.map((t) => [t, { schema: binary }])) },
        ...problems(400, 401, 403, 404, 503),
      },
    },
  }, async (req, reply) => {
    const { attachment, content } = await service.downloadAttachment(req.ctx, req.params.requestId, req.params.attachmentId)
    return reply
      .type(attachment.mediaType)
      .header('content-disposition', `attachment; filename="${attachment.id}.${service.EXTENSIONS[attachment.mediaType]}"`)
      .header('repr-digest', `sha-256=:${Buffer.from(attachment.sha256, 'hex').toString('base64')}:`)
      .send(content)
  })
}
