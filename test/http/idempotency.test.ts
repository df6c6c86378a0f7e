import t from 'tap'
import { randomUUID } from 'node:crypto'
import { bearer, buildTestApp } from '../helpers/app.ts'
import { auditEventsFor, orgWithFacility } from '../helpers/factories.ts'
import { usingPostgres } from '../helpers/db.ts'

const PROBLEM = 'application/problem+json; charset=utf-8'

t.test('Idempotency-Key on creating POSTs', async (t) => {
  const ctx = await buildTestApp(t)
  const { app, db } = ctx
  const admin = await ctx.token('admin', ['*'])
  const orgsNamed = (name: string) => db.kysely.selectFrom('organization').select('id').where('name', '=', name).execute()
  const post = (key: string, payload: object, token = admin, url = '/organizations') =>
    app.inject({ method: 'POST', url, headers: { ...bearer(token), 'idempotency-key': key }, payload })

  await t.test('a retry with the same key and body replays the first response and creates one row', async (t) => {
    const key = randomUUID()
    const name = `Replay ${key}`
    const first = await post(key, { name })
    t.equal(first.statusCode, 201)
    t.notOk(first.headers['idempotent-replayed'])
    const second = await post(key, { name })
    t.equal(second.statusCode, 201)
    t.equal(second.headers['idempotent-replayed'], 'true')
    t.same(second.json(), first.json())
    t.equal(second.headers.etag, first.headers.etag)
    t.same(await orgsNamed(name), [{ id: first.json().id }])
    t.equal((await auditEventsFor(db, { resourceId: first.json().id, verb: 'organization.create' })).length, 1, 'one create event')
  })

  await t.test('the same key with another body gets 422 and creates nothing', async (t) => {
    const key = randomUUID()
    const first = await post(key, { name: `First ${key}` })
    t.equal(first.statusCode, 201)
    const other = await post(key, { name: `Second ${key}` })
    t.equal(other.statusCode, 422)
    t.equal(other.headers['content-type'], PROBLEM)
    t.match(other.json(), { type: 'urn:patient-access:problem:idempotency-key-reused', status: 422 })
    t.same(await orgsNamed(`Second ${key}`), [])
  })

  await t.test('the same key on another route gets 422', async (t) => {
    const key = randomUUID()
    const org = await post(key, { name: `Route ${key}` })
    t.equal(org.statusCode, 201)
    const facility = await post(key, { name: `Route ${key}`, kind: 'clinic', timeZone: 'UTC' }, admin, `/organizations/${org.json().id}/facilities`)
    t.equal(facility.statusCode, 422)
    const rows = await db.kysely.selectFrom('facility').select('id').where('organizationId', '=', org.json().id).execute()
    t.same(rows, [])
  })

  await t.test('keys belong to their caller: another subject with the same key gets its own resource', async (t) => {
    const key = randomUUID()
    const name = `Shared key ${key}`
    const other = await ctx.token('admin', ['*'], { sub: 'another-admin' })
    const a = await post(key, { name })
    const b = await post(key, { name }, other)
    t.equal(a.statusCode, 201)
    t.equal(b.statusCode, 201)
    t.notOk(b.headers['idempotent-replayed'])
    t.not(a.json().id, b.json().id)
    t.equal((await orgsNamed(name)).length, 2)
  })

  await t.test('a failed command does not use up its key: the corrected retry succeeds', async (t) => {
    const key = randomUUID()
    const org = await post(randomUUID(), { name: `Failing ${key}` })
    const url = `/organizations/${org.json().id}/facilities`
    const bad = await post(key, { name: 'Clinic', kind: 'clinic', timeZone: 'Mars/Olympus' }, admin, url)
    t.equal(bad.statusCode, 400)
    const again = await post(key, { name: 'Clinic', kind: 'clinic', timeZone: 'Mars/Olympus' }, admin, url)
    t.equal(again.statusCode, 400, 'the failure is not replayed from storage but re-evaluated')
    t.notOk(again.headers['idempotent-replayed'])
    const keys = await db.kysely.selectFrom('idempotencyKey').select('key').where('key', '=', key).execute()
    t.same(keys, [], 'no key row was kept for the failure')
  })

  await t.test('an Idempotency-Key that is empty, too long or not printable ASCII gets 400', async (t) => {
    for (const key of ['', 'k'.repeat(256), 'has space']) {
      const res = await post(key, { name: `Bad key ${key.length}` })
      t.equal(res.statusCode, 400, JSON.stringify(key.slice(0, 10)))
      t.equal(res.headers['content-type'], PROBLEM)
    }
    t.same(await orgsNamed('Bad key 0'), [])
  })

  await t.test('20 concurrent POSTs with one key create exactly one row', { skip: !usingPostgres() && 'PGlite is one connection: requests run one after another, so this proves nothing there; runs with TEST_DATABASE_URL' }, async (t) => {
    const key = randomUUID()
    const name = `Concurrent ${key}`
    const responses = await Promise.all(Array.from({ length: 20 }, () => post(key, { name })))
    t.same(responses.map((r) => r.statusCode), Array(20).fill(201))
    t.equal(new Set(responses.map((r) => r.json().id)).size, 1, 'every response names the same organisation')
    t.equal(responses.filter((r) => r.headers['idempotent-replayed'] === 'true').length, 19)
    t.equal((await orgsNamed(name)).length, 1)
    t.equal((await auditEventsFor(db, { resourceId: responses[0].json().id, verb: 'organization.create' })).length, 1)
  })
})

t.test('a replayed response is audited as a read of what it discloses', async (t) => {
  const ctx = await buildTestApp(t)
  const { app, db } = ctx
  const { facility } = await orgWithFacility(db)
  const desk = await ctx.token('front_desk', [facility.id], { sub: 'desk-replay' })
  const key = randomUUID()
  const payload = { facilityId: facility.id, familyName: 'Replaystone', givenNames: 'Ada', birthDate: '1971-04-05' }
  const send = () => app.inject({ method: 'POST', url: '/patients', headers: { ...bearer(desk), 'idempotency-key': key }, payload })
  const first = await send()
  t.equal(first.statusCode, 201)
  t.same(await auditEventsFor(db, { verb: 'idempotency.replay' }), [], 'the first response is the create, not a replay')
  const again = await send()
  t.equal(again.headers['idempotent-replayed'], 'true')
  t.match(await auditEventsFor(db, { verb: 'idempotency.replay' }), [{
    action: 'read', resourceType: 'patient', resourceId: first.json().id, patientId: first.json().id, facilityId: facility.id,
    actorSub: 'desk-replay', detail: { method: 'POST', route: '/patients' },
  }])
})
