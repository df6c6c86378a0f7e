import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from '@sinclair/typebox'
import { BadRequestError, PreconditionFailedError } from './errors.ts'

export const IfMatchHeaders = Type.Object({
  'if-match': Type.Optional(
    Type.String({ maxLength: 64, description: 'ETag from a previous read; a stale one gets 412.', examples: ['"1"'] }),
  ),
})

export const etagOf = (version: number) => `"${version}"`

/** The version an If-Match header names, or undefined when absent or `*`. */
export function ifMatchVersion(req: FastifyRequest): number | undefined {
  const header = req.headers['if-match']
  if (header === undefined || header.trim() === '*') return undefined
  const m = /^\s*(?:W\/)?"(\d{1,9})"\s*$/.exec(header)
  if (!m) throw new BadRequestError('If-Match must be an ETag this API issued', [{ pointer: 'if-match', detail: 'malformed ETag' }])
  return Number(m[1])
}

/** Refuses a change made against a stale read: 412 when an If-Match version was given and the row has moved on. */
export function checkVersion(current: number, expected: number | undefined) {
  if (expected !== undefined && current !== expected) throw new PreconditionFailedError()
}

/** Sends a versioned resource with its ETag. */
export function sendVersioned<T extends { version: number }>(reply: FastifyReply, body: T, status = 200) {
  return reply.code(status).header('etag', etagOf(body.version)).send(body)
}

/** Response headers for a created versioned resource (with `idempotent`). */
export const etagHeader = (body: { version: number }) => ({ etag: etagOf(body.version) })
