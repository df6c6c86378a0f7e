import t, { type Test } from 'tap'
import { sql } from 'kysely'
import { encodeCursor } from '../../src/http/pagination.ts'
import { bearer, buildTestApp } from '../helpers/app.ts'
import { auditEventsFor, orgWithFacility } from '../helpers/factories.ts'

const PROBLEM = 'application/problem+json; charset=utf-8'

t.test('HTTP conventions for every route', async (t) => {
  const ctx = await buildTestApp(t)
  const { app, db, config } = ctx
  const admin = await ctx.token('admin', ['*'])
  const auth = { ...bearer(admin), 'content-type': 'application/json' }
  const { organization, facility } = await orgWithFacility(db)

  /** Row counts and the one facility's state: what a rejected request must leave untouched. */
  const state = async () => {
    const count = async (table: 'organization' | 'facility' | 'idempotency_key') =>
      Number((await sql<{ n: string }>`select count(*) as n from ${sql.table(table)}`.execute(db.kysely)).rows[0].n)
    return {
      organizations: await count('organization'),
      facilities: await count('facility'),
      idempotencyKeys: await count('idempotency_key'),
      facility: await db.kysely.selectFrom('facility').selectAll().where('id', '=', facility.id).executeTakeFirstOrThrow(),
    }
  }

  const isProblem = (t: Test, res: { statusCode: number; headers: Record<string, unknown>; json: () => any }, status: number, slug: string) => {
    t.equal(res.statusCode, status)
    t.equal(res.headers['content-type'], PROBLEM)
    t.match(res.json(), { type: `urn:patient-access:problem:${slug}`, status, title: String, detail: String, instance: String })
  }

  await t.test('an unknown route answers 404 problem+json, authenticated or not', async (t) => {
    const res = await app.inject({ url: '/no/such/thing?x=1' })
    isProblem(t, res, 404, 'not-found')
    t.equal(res.json().instance, '/no/such/thing')
    isProblem(t, await app.inject({ method: 'DELETE', url: '/organizations', headers: bearer(admin) }), 404, 'not-found')
  })

  await t.test("the router's own refusals are problems too: a path segment over 100 characters, a malformed percent-encoding", async (t) => {
    for (const url of [`/facilities/${'x'.repeat(101)}`, '/facilities/%ED%A0%80', '/facilities/%E0%A4%A']) {
      const res = await app.inject({ url, headers: bearer(admin) })
      isProblem(t, res, 400, 'bad-request')
      t.notMatch(res.json().detail, /x{100}|%ED/, 'the detail does not echo the path')
    }
  })

  await t.test('a cursor whose parts are not of the kinds its list orders by answers 400 on every list, on both engines', async (t) => {
    const everyone = await ctx.token(['admin', 'auditor', 'roi_specialist', 'scheduler'], ['*'])
    const id = '00000000-0000-0000-0000-000000000000'
    // A number where a timestamp or a date is cast was a Postgres error of no client class (500).
    const forged = [[1e308, 'x'], [Number.MAX_SAFE_INTEGER, id], ['2026-01-01T00:00:00Z', 'not-an-id'], [-1, id], [0.5, id], ['x', 'y', 'z']]
    for (const list of ['/audit-events', `/roi-requests?facilityId=${facility.id}`, '/facilities', '/organizations', '/providers']) {
      for (const key of forged) {
        const res = await app.inject({ url: `${list}${list.includes('?') ? '&' : '?'}cursor=${encodeCursor(key)}`, headers: bearer(everyone) })
        t.equal(res.statusCode, 400, `${list} ${JSON.stringify(key)}`)
        t.equal(res.headers['content-type'], PROBLEM)
      }
    }
  })

  await t.test('malformed JSON answers 400 and creates nothing', async (t) => {
    const before = await state()
    const res = await app.inject({ method: 'POST', url: '/organizations', headers: auth, payload: '{"name": "Broken",' })
    isProblem(t, res, 400, 'bad-request')
    t.equal(res.json().detail, 'The body is not valid JSON')
    t.same(await state(), before)
  })

  await t.test('an empty JSON body answers 400', async (t) => {
    isProblem(t, await app.inject({ method: 'POST', url: '/organizations', headers: auth, payload: '' }), 400, 'bad-request')
  })

  await t.test('a __proto__ key answers 400 (prototype poisoning)', async (t) => {
    const before = await state()
    const res = await app.inject({ method: 'POST', url: '/organizations', headers: auth, payload: '{"name": "Proto", "__proto__": {"admin": true}}' })
    isProblem(t, res, 400, 'bad-request')
    t.same(await state(), before)
  })

  await t.test('a body that is not JSON answers 415', async (t) => {
    const before = await state()
    const res = await app.inject({ method: 'POST', url: '/organizations', headers: { ...bearer(admin), 'content-type': 'text/plain' }, payload: 'name=Plain' })
    isProblem(t, res, 415, 'unsupported-media-type')
    const form = await app.inject({ method: 'POST', url: '/organizations', headers: { ...bearer(admin), 'content-type': 'application/x-www-form-urlencoded' }, payload: 'name=Form' })
    isProblem(t, form, 415, 'unsupported-media-type')
    const utf16 = await app.inject({
      method: 'POST', url: '/organizations', headers: { ...bearer(admin), 'content-type': 'application/json; charset=utf-16le' },
      payload: Buffer.from('{"name":"Wide"}', 'utf16le'),
    })
    isProblem(t, utf16, 415, 'unsupported-media-type')
    const none = await app.inject({ method: 'POST', url: '/organizations', headers: bearer(admin), payload: '{"name":"Untyped"}' })
    isProblem(t, none, 415, 'unsupported-media-type')
    const utf8 = await app.inject({ method: 'POST', url: '/organizations', headers: { ...bearer(admin), 'content-type': 'application/json; charset=UTF-8' }, payload: '{"name":"Declared UTF-8"}' })
    t.equal(utf8.statusCode, 201)
    await db.kysely.deleteFrom('organization').where('id', '=', utf8.json().id).execute()
    t.same(await state(), before)
  })

  await t.test('a body over BODY_LIMIT_BYTES answers 413', async (t) => {
    const before = await state()
    const payload = JSON.stringify({ name: 'x'.repeat(config.BODY_LIMIT_BYTES) })
    const res = await app.inject({ method: 'POST', url: '/organizations', headers: auth, payload })
    isProblem(t, res, 413, 'body-too-large')
    t.same(await state(), before)
  })

  await t.test('validation failures answer 400 with a pointer per offending field', async (t) => {
    const before = await state()
    const res = await app.inject({
      method: 'POST', url: `/organizations/${organization.id}/facilities`, headers: auth,
      payload: { name: '', kind: 'spaceport', roiDeadlineDays: 45 },
    })
    isProblem(t, res, 400, 'validation')
    const errors = res.json().errors as { pointer: string; detail: string }[]
    t.same([...new Set(errors.map((e) => e.pointer))].sort(), ['/kind', '/name', '/roiDeadlineDays', '/timeZone'])
    for (const e of errors) t.type(e.detail, 'string')
    t.same(await state(), before)
  })

  await t.test('query and path validation failures name the parameter', async (t) => {
    const limit = await app.inject({ url: '/facilities?limit=1000', headers: bearer(admin) })
    isProblem(t, limit, 400, 'validation')
    t.same(limit.json().errors.map((e: { pointer: string }) => e.pointer), ['limit'])
    const path = await app.inject({ url: '/facilities/not-a-uuid', headers: bearer(admin) })
    isProblem(t, path, 400, 'validation')
    t.same(path.json().errors.map((e: { pointer: string }) => e.pointer), ['facilityId'])
  })

  await t.test('an unknown body property answers 400 naming it, and nothing changes', async (t) => {
    const before = await state()
    const res = await app.inject({ method: 'POST', url: '/organizations', headers: auth, payload: { name: 'Sneaky', isAdmin: true } })
    isProblem(t, res, 400, 'validation')
    t.same(res.json().errors, [{ pointer: '/isAdmin', detail: 'unknown property' }])
    const patch = await app.inject({ method: 'PATCH', url: `/facilities/${facility.id}`, headers: auth, payload: { roiDeadlineDays: 10, version: 99 } })
    isProblem(t, patch, 400, 'validation')
    t.same(patch.json().errors, [{ pointer: '/version', detail: 'unknown property' }])
    t.same(await state(), before)
  })

  await t.test('an unknown query parameter answers 400', async (t) => {
    const res = await app.inject({ url: '/facilities?limt=5', headers: bearer(admin) })
    isProblem(t, res, 400, 'validation')
    t.same(res.json().errors.map((e: { pointer: string }) => e.pointer), ['limt'])
  })

  await t.test('NUL characters and unpaired surrogates answer 400 with their pointer: Postgres cannot store them faithfully', async (t) => {
    const before = await state()
    for (const bad of ['Nul\u0000Byte', 'half \uD800 pair', 'low \uDC00 alone']) {
      const res = await app.inject({ method: 'PATCH', url: `/facilities/${facility.id}`, headers: auth, payload: { name: bad } })
      isProblem(t, res, 400, 'bad-request')
      t.same(res.json().errors.map((e: { pointer: string }) => e.pointer), ['/name'])
    }
    const query = await app.inject({ url: `/facilities?cursor=${encodeURIComponent('a\u0000')}`, headers: bearer(admin) })
    isProblem(t, query, 400, 'bad-request')
    t.same(query.json().errors.map((e: { pointer: string }) => e.pointer), ['cursor'])
    const paired = await app.inject({ method: 'POST', url: '/organizations', headers: auth, payload: { name: 'Emoji \uD83C\uDFE5 Clinic' } })
    t.equal(paired.statusCode, 201, 'a proper surrogate pair is fine')
    t.equal(paired.json().name, 'Emoji 🏥 Clinic')
    t.same((await state()).facility, before.facility)
  })

  await t.test('hostile input never gives a 500 and rejected input changes nothing', async (t) => {
    const long = 'x'.repeat(10_000)
    const hostileStrings = ['Nul\u0000Byte', '\u0000', long, "'; drop table facility; --", '%', '_', '%_%', "O'Brien\\", '\uD800', 'x\u202Ey']
    const bodies: [string, string][] = [
      ...hostileStrings.map((s): [string, string] => [`name ${JSON.stringify(s.slice(0, 30))}`, JSON.stringify({ name: s })]),
      ['1e400 as the name', '{"name": 1e400}'],
      ['1e400 as an integer', '{"name": "Big", "kind": "clinic", "timeZone": "UTC", "roiDeadlineDays": 1e400}'],
      ['-1e400 as an integer', '{"name": "Small", "kind": "clinic", "timeZone": "UTC", "roiDeadlineDays": -1e400}'],
      ['Infinity (not JSON)', '{"name": "Inf", "kind": "clinic", "timeZone": "UTC", "roiDeadlineDays": Infinity}'],
      ['NaN (not JSON)', '{"name": NaN}'],
      ['a 10,000-character time zone', JSON.stringify({ name: 'Long zone', kind: 'clinic', timeZone: long })],
      ['a NUL in the time zone', JSON.stringify({ name: 'Nul zone', kind: 'clinic', timeZone: 'America/New_York\u0000' })],
      ['SQL in the kind', JSON.stringify({ name: 'Kind', kind: "clinic'; drop table facility; --", timeZone: 'UTC' })],
      ['an array for the body', '[{"name": "Array"}]'],
      ['a deep nest', `{"name": ${'['.repeat(5000)}${']'.repeat(5000)}}`],
      ['a nest as deep as the body limit allows', `{"name": ${'['.repeat(400_000)}${']'.repeat(400_000)}}`],
    ]
    const created: string[] = []
    for (const [name, payload] of bodies) {
      for (const url of ['/organizations', `/organizations/${organization.id}/facilities`, `/facilities/${facility.id}`]) {
        const method = url.startsWith('/facilities/') ? 'PATCH' : 'POST'
        const before = await state()
        const res = await app.inject({ method, url, headers: auth, payload })
        t.ok(res.statusCode < 500, `${method} ${url.split('/')[1]} with ${name}: ${res.statusCode}`)
        if (res.statusCode >= 400) {
          t.equal(res.headers['content-type'], PROBLEM)
          t.same(await state(), before, 'a refused request changes nothing')
        } else {
          // Accepted input is stored verbatim, never interpreted.
          const sent = JSON.parse(payload) as { name: string }
          t.equal(res.json().name, sent.name)
          if (method === 'POST') created.push(res.json().id)
          else await db.kysely.updateTable('facility').set({ name: facility.name, version: facility.version }).where('id', '=', facility.id).execute()
        }
      }
    }
    t.ok(created.length > 0, 'harmless metacharacters are accepted as data')
    const tables = await sql<{ n: string }>`select count(*) as n from information_schema.tables where table_name in ('facility', 'organization')`.execute(db.kysely)
    t.equal(Number(tables.rows[0].n), 2, 'no table was dropped')

    const queries = [
      `cursor=${'A'.repeat(10_000)}`,
      'cursor=%25',
      'cursor=_',
      `cursor=${encodeCursor(["'; drop table facility; --", facility.id])}`,
      `cursor=${encodeCursor(['%', '_'])}`,
      `cursor=${encodeCursor(['\u0000', facility.id])}`,
      `cursor=${encodeCursor([1e308, 1e308])}`,
      `cursor=${Buffer.from('[null, {}]').toString('base64url')}`,
      'organizationId=%25',
      `organizationId=${encodeURIComponent("' or 1=1 --")}`,
      'organizationId=%00',
      'limit=1e400',
      'limit=Infinity',
      'limit=-1',
      'limit=%00',
      `name=${encodeURIComponent("%' or '1'='1")}`,
    ]
    for (const q of queries) {
      const res = await app.inject({ url: `/facilities?${q}`, headers: bearer(admin) })
      t.ok(res.statusCode < 500, `GET /facilities?${q.slice(0, 40)}: ${res.statusCode}`)
      if (res.statusCode >= 400) t.equal(res.headers['content-type'], PROBLEM)
    }
    const path = await app.inject({ url: `/facilities/${encodeURIComponent("'; drop table facility; --")}`, headers: bearer(admin) })
    t.equal(path.statusCode, 400)
    const nulPath = await app.inject({ url: '/facilities/%00', headers: bearer(admin) })
    t.ok(nulPath.statusCode >= 400 && nulPath.statusCode < 500)
  })

  await t.test('X-Request-Id: a well-formed id is kept, returned and stored in the audit event', async (t) => {
    const requestId = `client-${Date.now()}:abc.DEF_1-2`
    const res = await app.inject({ method: 'PATCH', url: `/facilities/${facility.id}`, headers: { ...auth, 'x-request-id': requestId }, payload: { roiDeadlineDays: 20 } })
    t.equal(res.statusCode, 200)
    t.equal(res.headers['x-request-id'], requestId)
    t.match(await auditEventsFor(db, { requestId }), [{ verb: 'facility.update', resourceId: facility.id, outcome: 'success' }])
    const readId = `read-${Date.now()}`
    const read = await app.inject({ url: `/facilities/${facility.id}`, headers: { ...bearer(admin), 'x-request-id': readId } })
    t.equal(read.headers['x-request-id'], readId)
    t.match(await auditEventsFor(db, { requestId: readId }), [{ verb: 'facility.read', action: 'read', resourceId: facility.id }])
    t.match(ctx.logs(), `"requestId":"${readId}"`, 'the request id is logged')
  })

  await t.test('X-Request-Id: a malformed id is replaced by a generated one, which the audit event carries', async (t) => {
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
    for (const bad of ['has spaces', 'x'.repeat(129), '<script>', 'a;b', '']) {
      const res = await app.inject({ url: `/facilities/${facility.id}`, headers: { ...bearer(admin), 'x-request-id': bad } })
      t.equal(res.statusCode, 200)
      t.match(res.headers['x-request-id'], uuid, `replaces ${bad.slice(0, 20)}`)
    }
    const none = await app.inject({ url: `/facilities/${facility.id}`, headers: bearer(admin) })
    const generated = none.headers['x-request-id'] as string
    t.match(generated, uuid)
    t.match(await auditEventsFor(db, { requestId: generated }), [{ verb: 'facility.read' }])
  })

  await t.test('X-Request-Id is returned on every response, errors included', async (t) => {
    const responses = [
      await app.inject({ url: '/healthz' }),
      await app.inject({ url: '/nowhere' }),
      await app.inject({ url: `/facilities/${facility.id}` }),
      await app.inject({ method: 'POST', url: '/organizations', headers: auth, payload: '{' }),
      await app.inject({ method: 'POST', url: '/organizations', headers: { ...bearer(admin), 'content-type': 'text/plain' }, payload: 'x' }),
      await app.inject({ method: 'POST', url: '/organizations', headers: auth, payload: JSON.stringify({ name: 'y'.repeat(config.BODY_LIMIT_BYTES) }) }),
      await app.inject({ method: 'POST', url: '/organizations', headers: auth, payload: { nope: 1 } }),
    ]
    for (const res of responses) {
      t.ok(res.headers['x-request-id'], `status ${res.statusCode} carries x-request-id`)
    }
    const given = await app.inject({ url: '/nowhere', headers: { 'x-request-id': 'trace-404' } })
    t.equal(given.headers['x-request-id'], 'trace-404')
    const denied = await app.inject({ url: `/facilities/${facility.id}`, headers: { 'x-request-id': 'trace-401' } })
    t.equal(denied.statusCode, 401)
    t.equal(denied.headers['x-request-id'], 'trace-401')
    t.match(await auditEventsFor(db, { requestId: 'trace-401' }), [{ outcome: 'denied' }])
  })

  await t.test('helmet security headers are on every response, problems included', async (t) => {
    for (const res of [await app.inject({ url: '/healthz' }), await app.inject({ url: '/nowhere' }), await app.inject({ url: `/facilities/${facility.id}`, headers: bearer(admin) })]) {
      t.equal(res.headers['x-content-type-options'], 'nosniff')
      t.equal(res.headers['x-frame-options'], 'SAMEORIGIN')
      t.match(res.headers['strict-transport-security'], /max-age=\d+/)
      t.equal(res.headers['referrer-policy'], 'no-referrer')
      t.equal(res.headers['x-dns-prefetch-control'], 'off')
      t.notOk(res.headers['x-powered-by'])
    }
  })

  await t.test('CORS is off by default: no Access-Control headers, preflight not honoured', async (t) => {
    const origin = 'https://frontend.example'
    const get = await app.inject({ url: `/facilities/${facility.id}`, headers: { ...bearer(admin), origin } })
    t.equal(get.statusCode, 200)
    t.notOk(get.headers['access-control-allow-origin'])
    const preflight = await app.inject({
      method: 'OPTIONS', url: '/organizations', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' },
    })
    t.notOk(preflight.headers['access-control-allow-origin'])
    t.notOk(preflight.headers['access-control-allow-methods'])
    t.ok(preflight.statusCode >= 400 && preflight.statusCode < 500)
  })
})
