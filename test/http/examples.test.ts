import t from 'tap'
import { sql } from 'kysely'
import { DEMO, DEMO_ROI, seedDemo } from '../../src/cli/seed-data.ts'
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

type Op = { parameters?: { name: string; in: string; example?: unknown }[]; requestBody?: { content: Record<string, { schema: Record<string, unknown>; example?: unknown; examples?: Record<string, { value: unknown }> }> } }

/** Sends the document's example requests to `ctx`'s app, as Swagger UI's "Try it out" fills them in. */
function exampleRequests(ctx: Awaited<ReturnType<typeof buildTestApp>>, token: string) {
  const doc = ctx.app.swagger() as unknown as { paths: Record<string, Record<string, Op & { operationId: string }>>; components: { schemas: Record<string, { examples?: unknown[] }> } }
  const ops = new Map(Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => [op.operationId, { path, method, op }] as const)))
  /** The body example as Swagger UI fills it in: the media type's example, else its first named one, else the schema's. */
  const exampleBody = (operationId: string, name?: string) => {
    const media = ops.get(operationId)!.op.requestBody?.content['application/json']
    if (!media) return undefined
    if (media.example !== undefined) return media.example
    if (media.examples) return name ? media.examples[name].value : Object.values(media.examples)[0].value
    const schema = media.schema as { $ref?: string; examples?: unknown[] }
    return (schema.$ref ? doc.components.schemas[schema.$ref.split('/').pop()!] : schema).examples?.[0]
  }
  /** The operation's example request: its path (ids given as path), query from parameter examples, and body. */
  const send = (operationId: string, pathIds: Record<string, string> = {}, headers: Record<string, string> = {}, as = token, example?: string) => {
    const { path, method, op } = ops.get(operationId)!
    const query = new URLSearchParams()
    for (const p of op.parameters ?? []) if (p.in === 'query' && p.example !== undefined) query.set(p.name, String(p.example))
    const payload = exampleBody(operationId, example)
    const url = path.replace(/\{(\w+)\}/g, (_, name: string) => pathIds[name] ?? String(op.parameters!.find((p) => p.name === name)!.example)) + (query.size ? `?${query}` : '')
    return ctx.app.inject({ method: method.toUpperCase() as 'GET', url, headers: { authorization: `Bearer ${as}`, ...headers }, payload: payload as object })
  }
  return { exampleBody, send }
}

/**
 * "Try it out" on the scheduling operations, in the order an integrator would: the examples name
 * a week of Dr. Ruiz's clinic hours in December 2027 (EXAMPLE_WEEK) and times in it. When that
 * week nears (minimum notice) or passes, this fails: move EXAMPLE_WEEK and the dates with it.
 */
t.test('the scheduling examples, sent in order to the seeded demo, succeed', async (t) => {
  const ctx = await buildTestApp(t)
  await seedDemo(ctx.db.kysely, ctx.config, { info() {} } as never)
  const token = await ctx.token(['scheduler'], [DEMO.hospitalId, DEMO.clinicId])
  const { exampleBody, send } = exampleRequests(ctx, token)
  const booking = exampleBody('bookAppointment') as { start: string; providerId: string }

  const slots = await send('findSlots')
  t.equal(slots.statusCode, 200, 'slots', { body: slots.body })
  t.ok(slots.json().items.some((s: { start: string; providerId: string }) => Date.parse(s.start) === Date.parse(booking.start) && s.providerId === booking.providerId),
    'the slot search example lists the booking example\'s time as free')

  const booked = await send('bookAppointment')
  t.equal(booked.statusCode, 201, 'booked', { body: booked.body })
  t.equal(Date.parse(booked.json().start), Date.parse(booking.start))
  // The batch example by appointment date names the booking example's day at the clinic.
  const verifier = await ctx.token('eligibility_specialist', [DEMO.hospitalId, DEMO.clinicId])
  const batch = await send('createEligibilityBatch', {}, {}, verifier, 'example2')
  t.equal(batch.statusCode, 202, 'the eligibility batch example by date checks the booked patient', { body: batch.body })
  t.equal(batch.json().total, 1)
  const calendar = await send('getProviderCalendar')
  t.equal(calendar.statusCode, 200, 'calendar', { body: calendar.body })
  t.ok(calendar.json().entries.some((e: { id: string }) => e.id === booked.json().id), 'the calendar example shows the booking')

  const moved = await send('rescheduleAppointment', { appointmentId: booked.json().id }, { 'if-match': booked.headers.etag as string })
  t.equal(moved.statusCode, 200, 'moved', { body: moved.body })
  const held = await send('holdSlot')
  t.equal(held.statusCode, 201, 'the booking example\'s time, freed by the reschedule, is held', { body: held.body })

  for (const operationId of ['addToWaitlist', 'createReferral']) {
    const res = await send(operationId)
    t.equal(res.statusCode, 201, operationId, { body: res.body })
  }
  const surgicalCase = await send('createSurgicalCase')
  t.equal(surgicalCase.statusCode, 201, 'surgicalCase', { body: surgicalCase.body })
  const scheduled = await send('scheduleSurgicalCase', { caseId: surgicalCase.json().id })
  t.equal(scheduled.statusCode, 200, 'scheduled', { body: scheduled.body })
})

t.test('the release example, sent to the seeded demo, releases the request that is ready for it', async (t) => {
  const ctx = await buildTestApp(t)
  await seedDemo(ctx.db.kysely, ctx.config, { info() {} } as never)
  const token = await ctx.token(['roi_specialist'], [DEMO.hospitalId])
  const { send } = exampleRequests(ctx, token)
  const released = await send('releaseRoiRequest')
  t.equal(released.statusCode, 201, 'released', { body: released.body })
  t.match(released.json(), { requestId: DEMO_ROI.nguyenCopyId, totalPages: 18, recipientName: 'Linh Nguyen', deliveryMethod: 'pickup' })
  const request = await ctx.app.inject({ url: `/roi-requests/${DEMO_ROI.nguyenCopyId}`, headers: { authorization: `Bearer ${token}` } })
  t.equal(request.json().status, 'released')
  const again = await send('releaseRoiRequest')
  t.equal(again.statusCode, 409, 'a second try finds it released')
  const read = await send('getRoiRelease')
  t.equal(read.statusCode, 200, 'the read example names the subpoena\'s release', { body: read.body })
})
