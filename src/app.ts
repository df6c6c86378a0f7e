import Fastify, { type FastifyInstance } from 'fastify'
import helmet from '@fastify/helmet'
import cors from '@fastify/cors'
import type { Config } from './config.ts'
import type { Db } from './db/create-db.ts'
import { AuditWriter } from './http/audit.ts'
import { createAuthenticator } from './http/auth.ts'
import { errorHandler, sendProblem } from './http/error-handler.ts'
import { BadRequestError, NotFoundError, ProblemSchema } from './http/errors.ts'
import { loggerOptions } from './http/logging.ts'
import { registerOpenApi } from './http/openapi.ts'
import { securityHooks } from './http/security.ts'
import { buildSerializer } from './http/serializer.ts'
import { buildValidator, inputRules } from './http/validation.ts'
import { healthRoutes } from './modules/health/health.routes.ts'
import { organizationRoutes } from './modules/organizations/organization.routes.ts'
import { AuditSealer } from './modules/audit/audit-sealer.ts'
import { loadAuditSigner } from './modules/audit/audit-signing.ts'
import { auditRoutes } from './modules/audit/audit.routes.ts'
import { patientRoutes } from './modules/patients/patient.routes.ts'
import { registrationRoutes } from './modules/registrations/registration.routes.ts'
import { roiRoutes } from './modules/roi/roi.routes.ts'
import { importRoutes } from './modules/imports/import.routes.ts'
import { schedulingRoutes } from './modules/scheduling/scheduling.routes.ts'
import { eligibilityRoutes } from './modules/eligibility/eligibility.routes.ts'

export interface BuildAppOptions {
  config: Config
  db: Db
  /** Where logs go (tests capture them); default stdout. */
  logStream?: NodeJS.WritableStream
  /** Start the background sealer (off in tests that seal explicitly). Default true. */
  sealer?: boolean
}

/** Builds the app; never listens. The caller owns `db` and closes it after `app.close()`. */
export async function buildApp({ config, db, logStream, sealer = true }: BuildAppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: loggerOptions(config, logStream),
    bodyLimit: config.BODY_LIMIT_BYTES,
    trustProxy: config.TRUST_PROXY === 'true',
    genReqId: (req) => {
      const given = req.headers['x-request-id']
      return typeof given === 'string' && /^[A-Za-z0-9._:-]{1,128}$/.test(given) ? given : crypto.randomUUID()
    },
    requestIdHeader: false,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    return503OnClosing: true,
    schemaController: { compilersFactory: { buildValidator, buildSerializer } },
    // The router's own refusals (a path segment that is not valid percent-encoding, or longer than
    // its 100-character limit) answered plain JSON echoing the path; they are problems like any other.
    frameworkErrors: (err, req, reply) => sendProblem(req, reply, new BadRequestError(
      err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'A path parameter is longer than 100 characters' : 'The URL is not valid: a malformed percent-encoding',
    )),
  })

  const auditWriter = new AuditWriter(db.kysely, config.AUDIT_FLUSH_MAX_BATCH)
  const auditSealer = new AuditSealer(db.kysely, config.AUDIT_SEAL_INTERVAL_MS, app.log, loadAuditSigner(config), config.AUDIT_CHECKPOINT_INTERVAL_MS)
  app.decorate('db', db)
  app.decorate('config', config)
  app.decorate('auditWriter', auditWriter)
  app.decorate('auditSealer', auditSealer)
  app.decorateRequest('ctx', null as never)

  app.addSchema(ProblemSchema)
  app.setErrorHandler(errorHandler)
  inputRules(app)
  app.setNotFoundHandler((req, reply) => sendProblem(req, reply, new NotFoundError('Route')))
  app.addHook('onSend', async (req, reply) => {
    reply.header('x-request-id', req.id)
  })

  await app.register(helmet, { contentSecurityPolicy: false })
  if (config.corsOrigins.length > 0) {
    await app.register(cors, { origin: config.corsOrigins, methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'], exposedHeaders: ['etag', 'x-request-id', 'retry-after', 'location', 'idempotent-replayed'] })
  }
  await registerOpenApi(app)
  securityHooks(app, await createAuthenticator(config))

  await app.register(healthRoutes)
  await app.register(organizationRoutes)
  await app.register(auditRoutes)
  await app.register(patientRoutes)
  await app.register(registrationRoutes)
  await app.register(roiRoutes)
  await app.register(importRoutes)
  await app.register(schedulingRoutes)
  await app.register(eligibilityRoutes)

  if (sealer) auditSealer.start()
  app.addHook('onClose', async () => {
    await auditWriter.drain()
    await auditSealer.stop()
  })
  return app
}

declare module 'fastify' {
  interface FastifyInstance {
    db: Db
    config: Config
    auditWriter: AuditWriter
    auditSealer: AuditSealer
  }
}
