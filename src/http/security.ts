import { Type } from '@sinclair/typebox'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Authenticator } from './auth.ts'
import { BadRequestError, ForbiddenError } from './errors.ts'
import type { Permission } from './permissions.ts'

/** HL7 v3 PurposeOfUse codes accepted in X-Purpose-Of-Use. */
export const PURPOSES_OF_USE = ['TREAT', 'ETREAT', 'HPAYMT', 'HOPERAT', 'PATRQT', 'PUBHLTH', 'HLEGAL', 'COMPL', 'HRESCH', 'PATADMIN'] as const
export const DEFAULT_PURPOSE_OF_USE = 'HOPERAT'
const BREAK_GLASS_MAX = 500

/**
 * Headers every authenticated route reads (checked here, before the route's own schema): the
 * OpenAPI document lists them on every such operation.
 */
export const CONTEXT_HEADERS = {
  'x-purpose-of-use': Type.Optional(Type.String({
    enum: [...PURPOSES_OF_USE], default: DEFAULT_PURPOSE_OF_USE, description: 'HL7 PurposeOfUse of the access, recorded in its audit events.',
  })),
  'x-break-glass-reason': Type.Optional(Type.String({
    minLength: 1, maxLength: BREAK_GLASS_MAX, pattern: '\\S',
    description: 'Break-the-glass: why you must read a restricted record outside its care team. Access is allowed, audited with breakGlass=true and purposeOfUse ETREAT, and listed at GET /audit-events?breakGlass=true for review.',
  })),
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The permission a caller needs. Every non-public route declares one. */
    permission?: Permission
    /** Health checks and docs: no token. */
    public?: boolean
  }
  interface FastifyRequest {
    ctx: import('./context.ts').RequestContext
  }
}

/**
 * Authentication and authorisation for every route, before the body is even parsed: a route
 * without `public` or `permission` refuses everyone.
 */
export function securityHooks(app: FastifyInstance, authenticate: Authenticator) {
  app.addHook('onRequest', async (req: FastifyRequest) => {
    const config = req.routeOptions.config
    // Swagger UI's own routes (under /docs) are public like the document they render.
    if (config.public || !req.routeOptions.url || req.routeOptions.url.startsWith('/docs')) return
    const principal = await authenticate(req.headers.authorization)
    const purpose = req.headers['x-purpose-of-use'] ?? DEFAULT_PURPOSE_OF_USE
    req.ctx = {
      principal,
      requestId: req.id,
      purposeOfUse: DEFAULT_PURPOSE_OF_USE,
      clientIp: req.ip,
      userAgent: typeof req.headers['user-agent'] === 'string' ? req.headers['user-agent'].slice(0, 512) : null,
      db: app.db.kysely,
      auditWriter: app.auditWriter,
    }
    if (typeof purpose !== 'string' || !(PURPOSES_OF_USE as readonly string[]).includes(purpose)) {
      throw new BadRequestError(`X-Purpose-Of-Use must be one of ${PURPOSES_OF_USE.join(', ')}`, [
        { pointer: 'x-purpose-of-use', detail: 'unknown purpose of use' },
      ])
    }
    req.ctx.purposeOfUse = purpose
    const breakGlass = req.headers['x-break-glass-reason']
    if (breakGlass !== undefined) {
      // Checked on every route, since every module's reads of patient data honour it (patient-guard.ts).
      if (typeof breakGlass !== 'string' || breakGlass.length > BREAK_GLASS_MAX || !/\S/.test(breakGlass)) {
        throw new BadRequestError(`X-Break-Glass-Reason must be 1 to ${BREAK_GLASS_MAX} characters of text`, [{ pointer: 'x-break-glass-reason', detail: 'empty or too long' }])
      }
      req.ctx.breakGlassReason = breakGlass
    }
    if (!config.permission || !principal.permissions.has(config.permission)) throw new ForbiddenError()
  })
}
