import type { FastifyInstance } from 'fastify'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'

export const API_TAGS = [
  { name: 'health', description: 'Liveness and readiness.' },
  { name: 'organizations', description: 'Organisations and their facilities: the tenancy everything hangs off.' },
]

/**
 * OpenAPI 3.1 from the routes' TypeBox schemas. Each operation states the permission it needs
 * (`x-permission`) and public ones drop the bearer requirement.
 */
export async function registerOpenApi(app: FastifyInstance) {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Patient Access API',
        version: '0.1.0',
        description:
          'Registration and check-in, scheduling, eligibility, release of information and audit for patient access teams. ' +
          'Every non-2xx response is application/problem+json (RFC 9457). Every read and write of patient data is audited.',
        license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
      },
      servers: [{ url: 'http://localhost:3000', description: 'Local trial server' }],
      tags: API_TAGS,
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'OIDC access token (trial mode: `npm run token`).' },
        },
      },
      security: [{ bearer: [] }],
    },
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    transform: ({ schema, url, route }) => {
      if (!schema) return { schema, url }
      const config = (route.config ?? {}) as { permission?: string; public?: boolean }
      const extra: Record<string, unknown> = config.public ? { security: [] } : { 'x-permission': config.permission }
      return { schema: { ...schema, ...extra }, url }
    },
  })
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { deepLinking: true }, staticCSP: false })
}
