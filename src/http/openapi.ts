import type { FastifyInstance } from 'fastify'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { CONTEXT_HEADERS } from './security.ts'

export const API_TAGS = [
  { name: 'health', description: 'Liveness and readiness.' },
  { name: 'organizations', description: 'Organisations and their facilities: the tenancy everything hangs off.' },
  { name: 'patients', description: 'Patient demographics, MRNs and identifiers, fuzzy search, duplicate control and merge.' },
  { name: 'registrations', description: 'Registrations of every kind, newborn admission, check-in with co-payments, intake triage (ESI) and the waiting queue.' },
  { name: 'scheduling', description: 'Providers, rooms and appointment types; availability, free slots, holds and atomic booking; waitlist, referrals and surgical cases.' },
  { name: 'audit', description: 'The audit trail (HIPAA 164.312(b)): search, FHIR AuditEvent export, hash-chain verification with signed checkpoints, patient access reports.' },
  { name: 'release-of-information', description: 'Release-of-information requests (HIPAA 164.524), authorizations (164.508), deadlines, denials, fees, releases and the accounting of disclosures (164.528).' },
  { name: 'eligibility', description: 'Payers, plans and networks; coverages; real-time X12 270/271 eligibility checks and batches; fee schedules and patient cost estimates.' },
  { name: 'imports', description: 'Batch imports of patients, coverages, providers and appointments: streamed NDJSON or CSV, upserted by natural key, resumable, with a per-row report.' },
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
      // Relative: the document (and Swagger UI at /docs) works on whatever host and port serves it.
      servers: [{ url: '/', description: 'The server that serves this document' }],
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
      if (!config.public) {
        const own = schema.headers as { properties?: Record<string, unknown>; required?: string[] } | undefined
        extra.headers = { type: 'object', properties: { ...CONTEXT_HEADERS, ...own?.properties }, ...(own?.required ? { required: own.required } : {}) }
      }
      const response = schema.response as Record<string, Record<string, unknown>> | undefined
      if (response) extra.response = Object.fromEntries(Object.entries(response).map(([status, r]) => [status, describeResponse(status, r)]))
      return { schema: { ...schema, ...extra }, url }
    },
  })
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { deepLinking: true }, staticCSP: false })
}

const SUCCESS: Record<string, string> = { 200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'No Content' }

/**
 * A success response without its own description gets its status text instead of "Default
 * Response". A `$ref` drops sibling keywords when resolved, so those are wrapped as content.
 */
function describeResponse(status: string, response: Record<string, unknown>) {
  if (response.description || response['x-response-description'] || response.content) return response
  const description = SUCCESS[status] ?? 'Success'
  if (typeof response.$ref === 'string') return { description, content: { 'application/json': { schema: response } } }
  return { ...response, 'x-response-description': description }
}
