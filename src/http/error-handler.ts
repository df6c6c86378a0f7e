import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { auditEvent, insertAuditEvents } from './audit.ts'
import type { AuditAction, AuditOutcome } from '../db/database.ts'
import { PROBLEM_TYPE_BASE, ProblemError, statusTitle } from './errors.ts'

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN'])

interface PgLikeError {
  code?: string
  severity?: string
  constraint?: string
  message?: string
}

const isPgError = (e: PgLikeError) => typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) && 'severity' in e

/** Errors that mean "the database is not there right now": 503 with Retry-After. */
export function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as PgLikeError
  if (!e || typeof e !== 'object') return false
  if (e.code && CONNECTION_CODES.has(e.code)) return true
  if (e.code && isPgError(e) && /^(08|57P0|53300|57014|25P03)/.test(e.code)) return true
  const msg = e.message ?? ''
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|connection is closed|Cannot use a pool after calling end/i.test(msg)
}

/** Maps anything thrown to the one problem shape. Never leaks internals or PHI. */
export function toProblem(err: unknown): ProblemError {
  if (err instanceof ProblemError) return err
  const e = err as FastifyError & PgLikeError
  if (isDatabaseUnavailable(e)) {
    return new ProblemError(503, 'service-unavailable', 'Service Unavailable', 'The database is unavailable; retry shortly', {}, { 'retry-after': '5' })
  }
  if (e.validation) {
    const where = e.validationContext ?? 'body'
    const errors = e.validation.map((v) => {
      const params = v.params as Record<string, unknown>
      let path = v.instancePath ?? ''
      if (typeof params.missingProperty === 'string') path += `/${params.missingProperty}`
      if (typeof params.additionalProperty === 'string') path += `/${params.additionalProperty}`
      const pointer = where === 'body' ? path || '/' : path.replace(/^\//, '') || where
      const detail = typeof params.additionalProperty === 'string' ? 'unknown property' : (v.message ?? 'invalid')
      return { pointer, detail }
    })
    return new ProblemError(400, 'validation', 'Bad Request', `The request ${where} is not valid`, { errors })
  }
  if (isPgError(e)) {
    const code = e.code!
    if (code === '23505') return new ProblemError(409, 'conflict', 'Conflict', 'A record with the same unique value already exists')
    if (code === '23P01') return new ProblemError(409, 'conflict', 'Conflict', 'The change overlaps an existing record')
    if (code === '23503') return new ProblemError(409, 'conflict', 'Conflict', 'A referenced record does not exist or is still referenced')
    if (code === '40001' || code === '40P01') {
      return new ProblemError(503, 'service-unavailable', 'Service Unavailable', 'A concurrent change interfered; retry', {}, { 'retry-after': '1' })
    }
    if (code.startsWith('22') || code === '23514' || code === '23502' || code === '54000') {
      return new ProblemError(400, 'bad-request', 'Bad Request', 'A value in the request is not acceptable (invalid character, out of range or too long)')
    }
  }
  const status = typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500 ? e.statusCode : 500
  if (status === 500) return new ProblemError(500, 'internal', 'Internal Server Error', 'An unexpected error occurred')
  const slug = e.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'body-too-large' : e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? 'unsupported-media-type' : 'bad-request'
  // Fastify's own client errors (malformed JSON, empty body...) say nothing sensitive.
  return new ProblemError(status, slug, statusTitle(status), safeFastifyMessage(e))
}

function safeFastifyMessage(e: FastifyError): string {
  if (e.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || e instanceof SyntaxError) return 'The body is not valid JSON'
  if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return 'The body is larger than the configured limit'
  if (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return 'Unsupported Content-Type; send application/json'
  if (e.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return 'The body must not be empty when Content-Type is application/json'
  return statusTitle(e.statusCode ?? 400)
}

export function sendProblem(req: FastifyRequest, reply: FastifyReply, problem: ProblemError) {
  const path = req.url.split('?')[0]
  return reply
    .code(problem.status)
    .headers(problem.headers)
    .type('application/problem+json')
    .send({
      type: PROBLEM_TYPE_BASE + problem.slug,
      title: problem.title,
      status: problem.status,
      detail: problem.message,
      instance: path,
      ...problem.extra,
    })
}

const actionOf = (method: string): AuditAction =>
  method === 'GET' || method === 'HEAD' ? 'read' : method === 'DELETE' ? 'delete' : method === 'POST' ? 'create' : 'update'

/** Failed access to a protected route is itself audit evidence: denied, not found, error. */
async function auditFailure(req: FastifyRequest, status: number) {
  const outcome: AuditOutcome | undefined =
    status === 401 || status === 403 ? 'denied' : status === 404 ? 'not-found' : status >= 500 && status !== 503 ? 'error' : undefined
  const schema = req.routeOptions.schema as { operationId?: string; tags?: string[] } | undefined
  if (!outcome || !schema?.operationId || req.routeOptions.config.public) return
  const params = (req.params ?? {}) as Record<string, string>
  const ctx = req.ctx ?? { requestId: req.id, purposeOfUse: null, clientIp: req.ip, userAgent: req.headers['user-agent'] ?? null }
  const event = auditEvent(ctx as never, {
    action: actionOf(req.method),
    verb: schema.operationId,
    resourceType: schema.tags?.[0] ?? 'unknown',
    resourceId: Object.values(params)[0] ?? null,
    outcome,
  })
  try {
    await insertAuditEvents(req.server.db.kysely, [event])
  } catch (err) {
    req.log.error({ err: { code: (err as PgLikeError).code } }, 'could not record the audit event of a failed request')
  }
}

export async function errorHandler(this: unknown, err: FastifyError, req: FastifyRequest, reply: FastifyReply) {
  const problem = toProblem(err)
  if (problem.status >= 500) {
    const e = err as PgLikeError & Error
    // Database errors can quote input values: log their code, never their message.
    const logged = isPgError(e) ? { code: e.code, constraint: e.constraint } : { type: e.name, code: e.code, message: e.message, stack: e.stack }
    req.log.error({ err: logged }, 'request failed')
  }
  await auditFailure(req, problem.status)
  return sendProblem(req, reply, problem)
}
