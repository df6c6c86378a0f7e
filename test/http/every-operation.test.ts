import t from 'tap'
import { sql } from 'kysely'
import { DEMO, DEMO_PATIENTS, DEMO_SCHEDULING, seedDemo } from '../../src/cli/seed-data.ts'
import { encodeCursor } from '../../src/http/pagination.ts'
import { ROLES, type Role } from '../../src/http/permissions.ts'
import { buildTestApp } from '../helpers/app.ts'

/**
 * A sweep of every operation in the OpenAPI document against the demo organisation: each one's
 * example request, then the same request with each path, query and header parameter and body field
 * replaced in turn by edge values of its schema (bounds, odd dates, the longest strings in
 * multi-byte characters, every enum value, nulls, empties) and by hostile text (NUL, unpaired
 * surrogates, SQL and LIKE metacharacters, 5,000 characters) and forged cursors. Every answer must
 * be one the document lists for the operation, a problem+json for every non-2xx, and never a 500.
 * The caller holds every role at every demo facility, so requests get past authorisation into the
 * services; ids are the demo's (the examples name them) or, where none is given, a row of the
 * table the parameter names.
 */
type Schema = Record<string, any>
interface Operation { operationId: string; parameters?: Schema[]; requestBody?: Schema; responses: Record<string, unknown> }

t.test('every operation, with edge and hostile values in every parameter and body field', async (t) => {
  const ctx = await buildTestApp(t)
  const { app, db, config } = ctx
  await seedDemo(db.kysely, config, { info() {} } as never)
  const token = await ctx.token(Object.keys(ROLES) as Role[], [DEMO.hospitalId, DEMO.clinicId, DEMO.ascId])
  const doc = app.swagger() as unknown as { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, Schema> } }
  const deref = (s: Schema): Schema => (s?.$ref ? deref(doc.components.schemas[s.$ref.split('/').pop()!]) : s)

  const ZERO = '00000000-0000-0000-0000-000000000000'
  const HOSTILE = ['', ' ', '%', '_', "'; drop table patient; --", '\\', '\u0000', 'x'.repeat(5000), '\uD800', '٣', '1e400', 'null', '\u202E']
  const CURSORS = ['A'.repeat(500), ...[[], [null], [1e308, 'x'], { a: 1 }, [-1, ZERO], [0, ZERO], ['x', ZERO], [ZERO], ['2026-01-01T00:00:00Z', ZERO],
    ['9999-12-31T23:59:59Z', 'x'], [1, 2, 3], ['\u0000', 'x'], [0.5, ZERO], [Number.MAX_SAFE_INTEGER, ZERO], [0, 'x', ZERO]].map((k) => encodeCursor(k as never))]

  /** Edge values of a schema: valid ones at its bounds, and ones just outside. */
  function values(s0: Schema, hostile = HOSTILE): unknown[] {
    const s = deref(s0)
    if (!s) return []
    if (s.anyOf) return [...s.anyOf.flatMap((x: Schema) => values(x, hostile)), null]
    if (s.const !== undefined) return [s.const]
    if (s.enum) return s.enum
    switch (s.type) {
      case 'string': {
        const out: unknown[] = [...hostile]
        if (s.format === 'uuid') out.push(ZERO, 'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF', DEMO.organizationId)
        if (s.format === 'date') out.push('0001-01-01', '9999-12-31', '2024-02-29', '2026-02-30')
        if (s.format === 'date-time') out.push('0001-01-01T00:00:00Z', '9999-12-31T23:59:59Z', '2026-03-08T02:30:00-05:00', '2026-11-28T12:00:00.123456789+14:00')
        if (s.format === 'email') out.push('a@b', `${'a'.repeat(64)}@${'b'.repeat(180)}.com`)
        if (s.maxLength) out.push('é'.repeat(s.maxLength), '😀'.repeat(s.maxLength), `${'%'.repeat(s.maxLength - 1)}_`)
        return out
      }
      case 'integer':
      case 'number':
        return [s.minimum, s.maximum, 0, -1, 2147483648, 1e308, 0.5].filter((v) => v !== undefined)
      case 'boolean':
        return [true, false]
      case 'array': {
        const items = values(s.items ?? {}, ['', '\u0000', 'x'.repeat(5000)])
        const n = Math.min(s.maxItems ?? 3, 200)
        return [[], ...items.slice(0, 4).map((v) => [v]), items.length ? Array(n).fill(items[0]) : []]
      }
      default:
        return [{}, null, []]
    }
  }

  /** Every property of a body schema, nested ones included, with its schema. */
  function fields(s0: Schema, path: string[] = []): [string[], Schema][] {
    const s = deref(s0)
    if (!s || path.length > 4) return []
    const out: [string[], Schema][] = path.length ? [[path, s]] : []
    const obj = s.anyOf ? s.anyOf.map(deref).find((x: Schema) => x.type === 'object' || x.type === 'array') : s
    if (obj?.type === 'object' && obj.properties) for (const [k, v] of Object.entries(obj.properties)) out.push(...fields(v as Schema, [...path, k]))
    if (obj?.type === 'array' && obj.items) out.push(...fields(obj.items, [...path, '0']))
    return out
  }

  function withValue(body: unknown, path: string[], v: unknown) {
    const copy = structuredClone(body ?? {}) as Record<string, any>
    let o = copy
    for (const k of path.slice(0, -1)) {
      if (o[k] === null || typeof o[k] !== 'object') o[k] = /^\d+$/.test(k) ? [] : {}
      o = o[k]
    }
    o[path[path.length - 1]] = v
    return copy
  }

  const TABLES: Record<string, string> = {
    organizationId: 'organization', facilityId: 'facility', patientId: 'patient', survivorId: 'patient', registrationId: 'registration',
    appointmentId: 'appointment', paymentId: 'payment', requestId: 'roi_request', authorizationId: 'roi_authorization', attachmentId: 'roi_attachment',
    importId: 'import_job', specialtyId: 'specialty', providerId: 'provider', resourceId: 'resource', appointmentTypeId: 'appointment_type',
    ruleId: 'availability_rule', holdId: 'slot_hold', referralId: 'referral', caseId: 'surgical_case', payerId: 'payer', networkId: 'network',
    planId: 'plan', coverageId: 'coverage', checkId: 'eligibility_check', batchId: 'eligibility_batch', estimateId: 'estimate',
    surgeonId: 'provider', operatingRoomId: 'resource', disclosureId: 'disclosure', eligibilityCheckId: 'eligibility_check',
  }
  /** The TABLES key of a property: its own, or, for a list of ids (resourceIds), its singular's. */
  const tableKey = (name: string) => (TABLES[name] ? name : name.endsWith('Ids') && TABLES[name.slice(0, -1)] ? name.slice(0, -1) : undefined)
  /** An id for a parameter of that name: the example's when it exists, else a demo row of its table (the hospital's first), else its first row. */
  async function idFor(name: string, example: unknown): Promise<unknown> {
    const key = tableKey(name)
    if (!key) return example
    const table = TABLES[key]
    if (typeof example === 'string') {
      const found = await sql`select 1 from ${sql.table(table)} where id::text = ${example}`.execute(db.kysely)
      if (found.rows.length) return example
    }
    if (key === 'organizationId') return DEMO.organizationId
    if (key === 'facilityId') return DEMO.hospitalId
    const atHospital = (await sql`select 1 from information_schema.columns where table_name = ${table} and column_name = 'facility_id'`.execute(db.kysely)).rows.length > 0
    const first = await sql<{ id: string }>`select id::text as id from ${sql.table(table)}
      order by (id::text like '5e0c3d8a-%') desc, ${atHospital ? sql`(facility_id = ${DEMO.hospitalId}::uuid) desc nulls last,` : sql``} id limit 1`.execute(db.kysely)
    return first.rows[0]?.id ?? example ?? ZERO
  }
  async function withIds(v: unknown, key = ''): Promise<unknown> {
    if (Array.isArray(v)) return Promise.all(v.map((x) => withIds(x, key)))
    if (v && typeof v === 'object') return Object.fromEntries(await Promise.all(Object.entries(v).map(async ([k, x]) => [k, await withIds(x, k)])))
    return typeof v === 'string' && tableKey(key) ? idFor(key, v) : v
  }

  /** The first example of a parameter or media type (example, or the first of its examples map) or of its schema. */
  const first = (examples: unknown) => (Array.isArray(examples) ? examples[0] : examples ? (Object.values(examples)[0] as { value?: unknown })?.value : undefined)
  const exampleOf = (s?: Schema, p?: Schema) => p?.example ?? first(p?.examples) ?? first(s?.examples) ?? s?.example

  /** A valid value of a schema, for a request without an example: its own example, else one built from its type. */
  async function validValue(s0: Schema, name = ''): Promise<unknown> {
    const s = deref(s0)
    if (s.anyOf) return validValue(s.anyOf.find((x: Schema) => deref(x).type !== 'null') ?? s.anyOf[0], name)
    if (tableKey(name) && s.format === 'uuid') return idFor(name, undefined)
    const example = exampleOf(s)
    if (example !== undefined) return example
    if (s.const !== undefined) return s.const
    if (s.enum) return s.enum[0]
    switch (s.type) {
      case 'string':
        return { uuid: ZERO, date: '2026-11-20', 'date-time': '2027-01-05T14:00:00Z', email: 'someone@example.org' }[s.format as string] ?? 'Sample'.padEnd(s.minLength ?? 0, 'x')
      case 'integer':
      case 'number':
        return Math.max(s.minimum ?? 1, 1)
      case 'boolean':
        return false
      case 'array':
        return [await validValue(s.items ?? {}, name)]
      case 'object': {
        const props = Object.entries<Schema>(s.properties ?? {})
        const wanted = props.filter(([k]) => s.required?.includes(k))
        if (wanted.length < (s.minProperties ?? 0)) wanted.push(...props.filter(([k]) => !s.required?.includes(k)).slice(0, s.minProperties - wanted.length))
        return Object.fromEntries(await Promise.all(wanted.map(async ([k, v]) => [k, await validValue(v, k)])))
      }
      default:
        return null
    }
  }
  const enc = (v: string) => {
    try {
      return encodeURIComponent(v)
    } catch {
      return v.replace(/[\uD800-\uDFFF]/g, '%ED%A0%80')
    }
  }
  const urlOf = (path: string, params: Record<string, unknown>, query: Record<string, unknown>) => {
    const qs = Object.entries(query).flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => `${k}=${enc(String(x))}`)).join('&')
    return path.replace(/\{(\w+)\}/g, (_, n) => enc(String(params[n]))) + (qs ? `?${qs}` : '')
  }

  const failures: string[] = []
  let sent = 0
  async function send(op: Operation, method: string, url: string, payload: unknown, what: string, extra: Record<string, string> = {}) {
    sent++
    // Break-glass lets the sweep into records the first rows' patients restrict to their care team.
    const headers = { authorization: `Bearer ${token}`, 'x-break-glass-reason': 'sweep', ...(payload === undefined ? {} : { 'content-type': 'application/json' }), ...extra }
    const res = await app.inject({ method: method as 'GET', url, headers, payload: payload === undefined ? undefined : JSON.stringify(payload) })
    const where = `${res.statusCode} ${op.operationId} ${what}`
    if (res.statusCode === 500) failures.push(`${where}: 500`)
    else if (!op.responses[String(res.statusCode)]) failures.push(`${where}: a status the document does not list for the operation`)
    else if (res.statusCode >= 400 && res.headers['content-type'] !== 'application/problem+json; charset=utf-8') failures.push(`${where}: ${res.headers['content-type']}, not problem+json`)
    return res
  }

  const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).filter(([m]) => ['get', 'post', 'put', 'patch', 'delete'].includes(m)).map(([m, op]) => ({ path, method: m.toUpperCase(), op })))
  // Binary uploads (attachments, import files) take other media types: their own suites cover them.
  const json = operations.filter(({ op }) => !op.requestBody || op.requestBody.content?.['application/json'])
  t.ok(json.length > 130, `${json.length} operations`)

  /** The example request of an operation, with ids of rows that exist. */
  async function exampleRequest({ path, op }: (typeof json)[number]) {
    const params: Record<string, unknown> = {}
    const query: Record<string, unknown> = {}
    for (const p of op.parameters ?? []) {
      const example = exampleOf(p.schema, p)
      if (p.in === 'path') params[p.name] = tableKey(p.name) ? await idFor(p.name, example) : example ?? await validValue(p.schema, p.name)
      if (p.in === 'query' && (p.required || example !== undefined)) query[p.name] = example === undefined ? await validValue(p.schema, p.name) : await idFor(p.name, example)
    }
    const body = op.requestBody?.content['application/json']
    const example = body && exampleOf(body.schema, body)
    return { params, query, body: body ? (example ? await withIds(example) : await validValue(body.schema)) : undefined, bodySchema: body?.schema as Schema | undefined }
  }

  // Booked appointments (the examples name no free slot): the first free ones of the demo's
  // family physician at the clinic, for the appointment operations to act on.
  const S = DEMO_SCHEDULING
  const from = new Date(Date.now() + 86_400_000).toISOString()
  const to = new Date(Date.now() + 15 * 86_400_000).toISOString()
  const free = await app.inject({ url: `/slots?facilityId=${DEMO.clinicId}&appointmentTypeId=${S.followUpTypeId}&providerId=${S.drRuizId}&from=${from}&to=${to}&limit=4`, headers: { authorization: `Bearer ${token}` } })
  t.equal(free.statusCode, 200, free.body)
  const linked = await app.inject({ method: 'PUT', url: `/patients/${DEMO_PATIENTS[0].id}/facilities/${DEMO.clinicId}`, headers: { authorization: `Bearer ${token}` } })
  t.ok(linked.statusCode < 300, linked.body)
  for (const slot of free.json().items as { start: string; resourceIds: string[] }[]) {
    const booked = await app.inject({ method: 'POST', url: '/appointments', headers: { authorization: `Bearer ${token}` }, payload: {
      facilityId: DEMO.clinicId, patientId: DEMO_PATIENTS[0].id, providerId: S.drRuizId, appointmentTypeId: S.followUpTypeId, start: slot.start, resourceIds: slot.resourceIds,
    } })
    t.equal(booked.statusCode, 201, booked.body)
  }

  // Every create first (twice, so that rows created by one feed the next), for rows to work on;
  // state changes (cancel, entered-in-error, release ...) wait for the sweep.
  const creates = json.filter((o) => o.method === 'POST' && /^(create|add|book|hold|record|collect)/.test(o.op.operationId))
  for (let round = 0; round < 2; round++) {
    for (const o of creates) {
      const r = await exampleRequest(o)
      await send(o.op, o.method, urlOf(o.path, r.params, r.query), r.body, 'example')
    }
  }

  // Reads first, then changes, then the changes that end a row's life (cancel, deny, release,
  // complete ...), deletes last: a delete of the first row of a table (a provider retired) or a
  // case cancelled before it is confirmed would leave the operations after it nothing to work on.
  const closing = /^(cancel|deny|release|complete|revoke|waive|withdraw|merge|markNoShow|noShow|enteredInError|refund)/
  const order = ({ method, op }: (typeof json)[number]) => (method === 'GET' ? 0 : method === 'DELETE' ? 3 : closing.test(op.operationId) ? 2 : 1)
  const succeeded = new Set<string>()
  for (const o of [...json].sort((a, b) => order(a) - order(b))) {
    const { path, method, op } = o
    const r = await exampleRequest(o)
    if ((await send(op, method, urlOf(path, r.params, r.query), r.body, 'example')).statusCode < 300) succeeded.add(op.operationId)
    for (const p of op.parameters ?? []) {
      if (p.in === 'path') {
        for (const v of [...HOSTILE.filter((h) => h !== ''), ZERO, 'y'.repeat(101)]) {
          await send(op, method, urlOf(path, { ...r.params, [p.name]: v }, r.query), r.body, `path ${p.name}=${JSON.stringify(v).slice(0, 30)}`)
        }
      }
      if (p.in === 'query') {
        for (const v of p.name === 'cursor' ? CURSORS : values(p.schema)) {
          await send(op, method, urlOf(path, r.params, { ...r.query, [p.name]: v }), r.body, `query ${p.name}=${JSON.stringify(v).slice(0, 30)}`)
        }
      }
      if (p.in === 'header') {
        // Only what HTTP can carry in a header (no control characters, Latin-1).
        for (const v of values(p.schema).map(String).filter((h) => /^[\t\x20-\x7e\x80-\xff]*$/.test(h))) {
          await send(op, method, urlOf(path, r.params, r.query), r.body, `header ${p.name}=${JSON.stringify(v).slice(0, 30)}`, { [p.name]: v })
        }
      }
    }
    if (r.bodySchema) {
      // The body as a whole: empty, not an object, or with a field the schema does not have (the
      // last two refused, never a field silently dropped).
      await send(op, method, urlOf(path, r.params, r.query), {}, 'body {}')
      for (const body of [null, [], 'x', 0, { ...(r.body as object), notAField: 1 }]) {
        const res = await send(op, method, urlOf(path, r.params, r.query), body, `body ${JSON.stringify(body).slice(0, 30)}`)
        if (res.statusCode !== 400) failures.push(`${res.statusCode} ${op.operationId} body ${JSON.stringify(body).slice(0, 30)}: not refused with 400`)
      }
      for (const [field, schema] of fields(r.bodySchema)) {
        for (const v of values(schema, ['', '\u0000', 'x'.repeat(5000), "'; drop table patient; --", '\uD800', '٣', '%_'])) {
          await send(op, method, urlOf(path, r.params, r.query), withValue(r.body, field, v), `body ${field.join('.')}=${JSON.stringify(v)?.slice(0, 30)}`)
        }
      }
    }
  }
  t.ok(sent > 5000, `${sent} requests`)
  t.comment(`${succeeded.size} of ${json.length} operations' own requests succeeded before they were varied`)
  t.same(failures, [], 'every answer is listed for its operation, problem+json when not 2xx, never a 500')
})
