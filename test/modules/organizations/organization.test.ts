import t from 'tap'
import { bearer, buildTestApp } from '../../helpers/app.ts'
import { auditEventsFor, orgWithFacility } from '../../helpers/factories.ts'

t.test('organisations and facilities', async (t) => {
  const ctx = await buildTestApp(t)
  const { app, db } = ctx
  const admin = await ctx.token('admin', ['*'])

  await t.test('an admin creates an organisation and a facility; both are audited', async (t) => {
    const org = await app.inject({ method: 'POST', url: '/organizations', headers: bearer(admin), payload: { name: 'Lakeside Health' } })
    t.equal(org.statusCode, 201)
    t.equal(org.json().name, 'Lakeside Health')
    t.equal(org.headers.etag, '"1"')
    const fac = await app.inject({
      method: 'POST', url: `/organizations/${org.json().id}/facilities`, headers: bearer(admin),
      payload: { name: 'Lakeside Clinic', kind: 'clinic', timeZone: 'America/Chicago', npi: '1234567893' },
    })
    t.equal(fac.statusCode, 201, fac.body)
    t.match(fac.json(), { organizationId: org.json().id, kind: 'clinic', timeZone: 'America/Chicago', roiDeadlineDays: 30, version: 1 })
    const events = await auditEventsFor(db, { resourceId: fac.json().id })
    t.match(events, [{ action: 'create', verb: 'facility.create', outcome: 'success', actorSub: 'user-admin', facilityId: fac.json().id }])
  })

  await t.test('a facility with a bad NPI check digit or an unknown time zone is refused and nothing is stored', async (t) => {
    const { organization } = await orgWithFacility(db)
    const res = await app.inject({
      method: 'POST', url: `/organizations/${organization.id}/facilities`, headers: bearer(admin),
      payload: { name: 'Bad', kind: 'clinic', timeZone: 'Mars/Olympus', npi: '1234567890' },
    })
    t.equal(res.statusCode, 400)
    t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
    t.same(res.json().errors.map((e: { pointer: string }) => e.pointer).sort(), ['/npi', '/timeZone'])
    const rows = await db.kysely.selectFrom('facility').select('id').where('name', '=', 'Bad').execute()
    t.equal(rows.length, 0)
  })

  await t.test('a user of facility B sees nothing of facility A: 404, not 403', async (t) => {
    const a = await orgWithFacility(db)
    const b = await orgWithFacility(db)
    const userB = await ctx.token('front_desk', [b.facility.id])
    const own = await app.inject({ url: `/facilities/${b.facility.id}`, headers: bearer(userB) })
    t.equal(own.statusCode, 200)
    const other = await app.inject({ url: `/facilities/${a.facility.id}`, headers: bearer(userB) })
    t.equal(other.statusCode, 404)
    t.equal(other.json().detail, 'Facility not found')
    const list = await app.inject({ url: '/facilities?limit=100', headers: bearer(userB) })
    t.same(list.json().items.map((f: { id: string }) => f.id), [b.facility.id])
    const denied = await auditEventsFor(db, { resourceId: a.facility.id })
    t.match(denied, [{ outcome: 'not-found', verb: 'getFacility', actorSub: 'user-front_desk' }])
  })

  await t.test("renaming a facility to another of the organisation's names is 409 duplicate-facility and changes nothing", async (t) => {
    const { organization, facility } = await orgWithFacility(db)
    const taken = await app.inject({
      method: 'POST', url: `/organizations/${organization.id}/facilities`, headers: bearer(admin), payload: { name: 'North Wing', kind: 'clinic', timeZone: 'UTC' },
    })
    t.equal(taken.statusCode, 201)
    const res = await app.inject({ method: 'PATCH', url: `/facilities/${facility.id}`, headers: bearer(admin), payload: { name: 'North Wing' } })
    t.equal(res.statusCode, 409)
    t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
    t.equal(res.json().type, 'urn:patient-access:problem:duplicate-facility')
    const row = await db.kysely.selectFrom('facility').select(['name', 'version']).where('id', '=', facility.id).executeTakeFirstOrThrow()
    t.same(row, { name: facility.name, version: facility.version })
  })

  await t.test('PATCH honours If-Match: a stale ETag gets 412 and changes nothing', async (t) => {
    const { facility } = await orgWithFacility(db)
    const first = await app.inject({ method: 'PATCH', url: `/facilities/${facility.id}`, headers: { ...bearer(admin), 'if-match': '"1"' }, payload: { roiDeadlineDays: 15 } })
    t.equal(first.statusCode, 200)
    t.equal(first.headers.etag, '"2"')
    const stale = await app.inject({ method: 'PATCH', url: `/facilities/${facility.id}`, headers: { ...bearer(admin), 'if-match': '"1"' }, payload: { roiDeadlineDays: 10 } })
    t.equal(stale.statusCode, 412)
    const row = await db.kysely.selectFrom('facility').select(['roiDeadlineDays', 'version']).where('id', '=', facility.id).executeTakeFirstOrThrow()
    t.same(row, { roiDeadlineDays: 15, version: 2 })
  })

  await t.test('listing pages with an opaque cursor and no duplicates', async (t) => {
    const { organization } = await orgWithFacility(db)
    for (const n of ['b', 'c', 'd', 'e']) {
      await db.kysely.insertInto('facility').values({ organizationId: organization.id, name: `Z-page ${n}`, kind: 'clinic', timeZone: 'UTC' }).execute()
    }
    const seen: string[] = []
    let url = `/facilities?organizationId=${organization.id}&limit=2`
    for (let i = 0; i < 5; i++) {
      const res = await app.inject({ url, headers: bearer(admin) })
      t.equal(res.statusCode, 200)
      seen.push(...res.json().items.map((f: { name: string }) => f.name))
      if (!res.json().next) break
      url = `/facilities?organizationId=${organization.id}&limit=2&cursor=${res.json().next}`
    }
    t.equal(seen.length, 5)
    t.equal(new Set(seen).size, 5)
    const bad = await app.inject({ url: '/facilities?cursor=bm90LWEtY3Vyc29y', headers: bearer(admin) })
    t.equal(bad.statusCode, 400)
  })
})
