import t from 'tap'
import { sql } from 'kysely'
import { seedDemo } from '../../src/cli/seed-data.ts'
import { buildTestApp } from '../helpers/app.ts'

/**
 * The document's examples are meant to be tried (Swagger UI at /docs, against a server started
 * with SEED_DEMO=true): every id in an example that names a kind of row the demo organisation has
 * is one of the demo's rows. Kinds the demo does not seed (registrations, appointments, holds ...)
 * are created first and their ids vary, so their examples are illustrative.
 */
const SEEDED: Record<string, string> = {
  organizationId: 'organization', facilityId: 'facility', facilityIds: 'facility', patientId: 'patient', survivorId: 'patient',
  providerId: 'provider', providerIds: 'provider', surgeonId: 'provider', specialtyId: 'specialty', specialtyIds: 'specialty',
  resourceId: 'resource', resourceIds: 'resource', operatingRoomId: 'resource', appointmentTypeId: 'appointment_type', ruleId: 'availability_rule',
  payerId: 'payer', networkId: 'network', planId: 'plan', coverageId: 'coverage', roiRequestId: 'roi_request', authorizationId: 'roi_authorization', disclosureId: 'disclosure',
}
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

t.test('every id an example gives for a kind the demo seeds is a demo row', async (t) => {
  const ctx = await buildTestApp(t)
  await seedDemo(ctx.db.kysely, ctx.config, { info() {} } as never)
  const doc = ctx.app.swagger() as unknown as Record<string, unknown>

  /** [where, property, id] for every UUID inside an example, under the property that holds it. */
  const found: [string, string, string][] = []
  const collect = (v: unknown, where: string, key: string) => {
    if (typeof v === 'string') {
      if (UUID.test(v)) found.push([where, key, v])
    } else if (Array.isArray(v)) v.forEach((x) => collect(x, where, key))
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>
      // An audit event's resourceId is a row of the kind its resourceType names.
      const kindOf = (k: string) => (k === 'resourceId' && typeof o.resourceType === 'string' ? `${o.resourceType}Id` : k)
      for (const [k, x] of Object.entries(o)) collect(x, where, /^(value|\d+)$/.test(k) ? key : kindOf(k))
    }
  }
  /** Walks the document; a parameter's examples count under its name. */
  const walk = (v: unknown, where: string, name: string) => {
    if (Array.isArray(v)) return v.forEach((x, i) => walk(x, `${where}/${i}`, name))
    if (!v || typeof v !== 'object') return
    const o = v as Record<string, unknown>
    // A path's requestId is a release-of-information request (elsewhere it is an HTTP request's id).
    const own = typeof o.name === 'string' && typeof o.in === 'string' ? (o.in === 'path' && o.name === 'requestId' ? 'roiRequestId' : o.name) : name
    for (const [k, x] of Object.entries(o)) {
      if (k === 'example' || k === 'examples') collect(x, where, own)
      else walk(x, `${where}/${k}`, k === 'properties' ? own : /^(schema|items|anyOf|\d+)$/.test(k) ? own : k)
    }
  }
  walk(doc, '', '')
  const checked = found.filter(([, key]) => SEEDED[key])
  t.ok(checked.length > 50, `${checked.length} ids of seeded kinds in examples`)
  const missing: string[] = []
  for (const [where, key, id] of checked) {
    const { rows } = await sql`select 1 from ${sql.table(SEEDED[key])} where id = ${id}::uuid`.execute(ctx.db.kysely)
    if (rows.length === 0) missing.push(`${key}=${id} at ${where}`)
  }
  t.same(missing, [], 'each is a row of the demo organisation')
})
