import type { FastifyPluginAsync } from 'fastify'
import { Type } from '@sinclair/typebox'
import { sql } from 'kysely'
import { migrationsCurrent } from '../../db/migrator.ts'
import { problems, ServiceUnavailableError } from '../../http/errors.ts'

const HealthSchema = Type.Object(
  {
    status: Type.String({ examples: ['ok'] }),
    engine: Type.Optional(Type.Union([Type.Literal('postgres'), Type.Literal('pglite')])),
  },
  { additionalProperties: false, examples: [{ status: 'ready', engine: 'postgres' }] },
)

export const healthRoutes: FastifyPluginAsync = async (app) => {
  let migrated = false
  app.get('/healthz', {
    config: { public: true },
    schema: {
      operationId: 'getHealth',
      tags: ['health'],
      summary: 'Liveness: the process is up',
      description: 'Does not touch the database.',
      response: { 200: HealthSchema },
    },
  }, async () => ({ status: 'ok' }))

  app.get('/readyz', {
    config: { public: true },
    schema: {
      operationId: 'getReadiness',
      tags: ['health'],
      summary: 'Readiness: the database answers and migrations are current',
      response: { 200: HealthSchema, ...problems(503) },
    },
  }, async () => {
    try {
      await sql`select 1`.execute(app.db.kysely)
      // The migrator's check scans the catalog; once current, this process's code and schema agree.
      migrated ||= await migrationsCurrent(app.db.kysely)
    } catch {
      throw new ServiceUnavailableError('The database does not answer')
    }
    if (!migrated) throw new ServiceUnavailableError('Database migrations are pending', 10)
    return { status: 'ready', engine: app.db.engine }
  })
}
