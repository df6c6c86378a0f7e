import t from 'tap'
import { bearer, buildTestApp } from '../../helpers/app.ts'
import { auditEventsFor, createPatient, orgWithFacility } from '../../helpers/factories.ts'
import { clinic, localAt, validNpi } from './fixtures.ts'

t.test('referrals: list with filters and cursor paging; amend with If-Match', async (t) => {
  const ctx = await buildTestApp(t)
  const { app, db } = ctx

  const refer = async (token: string, body: Record<string, unknown>) => {
    const r = await app.inject({ method: 'POST', url: '/referrals', headers: bearer(token), payload: {
      referringProviderName: 'Dr. Lee, Oak Street Family Practice', reason: 'Evaluate chest pain', icd10Codes: ['R07.9'], visitsAuthorized: 3,
      validFrom: '2026-01-01', validTo: '2028-12-31', ...body,
    } })
    t.equal(r.statusCode, 201, r.body)
    return r.json() as { id: string; patientId: string; version: number }
  }

  await t.test('the list filters by patient, status and referring NPI, newest first, paged by cursor; each patient shown is an audited read', async (t) => {
    const { facility } = await orgWithFacility(db)
    const other = await orgWithFacility(db)
    const scheduler = await ctx.token('scheduler', [facility.id], { sub: 'list-reader' })
    const outsider = await ctx.token('scheduler', [other.facility.id])
    const [p1, p2] = [await createPatient(db, facility.id), await createPatient(db, facility.id)]
    const npi = validNpi()
    const a = await refer(scheduler, { facilityId: facility.id, patientId: p1.id, referringProviderNpi: npi })
    const b = await refer(scheduler, { facilityId: facility.id, patientId: p1.id, referringProviderNpi: validNpi() })
    const c = await refer(scheduler, { facilityId: facility.id, patientId: p2.id, referringProviderNpi: npi })
    await refer(outsider, { facilityId: other.facility.id, patientId: (await createPatient(db, other.facility.id)).id, referringProviderNpi: npi })

    const page1 = await app.inject({ url: '/referrals?limit=2', headers: bearer(scheduler) })
    t.equal(page1.statusCode, 200, page1.body)
    t.same(page1.json().items.map((r: { id: string }) => r.id), [c.id, b.id], 'newest first, only the caller\'s facilities')
    t.type(page1.json().next, 'string')
    const page2 = await app.inject({ url: `/referrals?limit=2&cursor=${page1.json().next}`, headers: bearer(scheduler) })
    t.same(page2.json().items.map((r: { id: string }) => r.id), [a.id])
    t.equal(page2.json().next, null)

    const byPatient = await app.inject({ url: `/referrals?patientId=${p1.id}`, headers: bearer(scheduler) })
    t.same(byPatient.json().items.map((r: { id: string }) => r.id), [b.id, a.id])
    const byNpi = await app.inject({ url: `/referrals?referringProviderNpi=${npi}&facilityId=${facility.id}`, headers: bearer(scheduler) })
    t.same(byNpi.json().items.map((r: { id: string }) => r.id), [c.id, a.id])
    await app.inject({ method: 'PATCH', url: `/referrals/${b.id}`, headers: bearer(scheduler), payload: { status: 'cancelled' } })
    const cancelled = await app.inject({ url: '/referrals?status=cancelled', headers: bearer(scheduler) })
    t.same(cancelled.json().items.map((r: { id: string }) => r.id), [b.id])
    t.same((await app.inject({ url: `/referrals?facilityId=${other.facility.id}`, headers: bearer(scheduler) })).statusCode, 404, 'another facility is not found')
    t.equal((await app.inject({ url: '/referrals?cursor=bm90LWEtY3Vyc29y', headers: bearer(scheduler) })).statusCode, 400, 'a cursor this API did not issue')

    const reads = await db.kysely.selectFrom('auditEvent').selectAll().where('verb', '=', 'referral.search').where('actorSub', '=', 'list-reader').execute()
    t.same([...new Set(reads.filter((e) => e.patientId).map((e) => e.patientId))].sort(), [p1.id, p2.id].sort(), 'the patients shown are audited')
    t.same([...new Set(reads.filter((e) => e.resourceId).map((e) => e.resourceId))].sort(), [a.id, b.id, c.id].sort(), 'one event per referral listed')
    t.ok(reads.every((e) => e.facilityId === facility.id || e.facilityId === null))

    await db.kysely.updateTable('patient').set({ restriction: 'vip' }).where('id', '=', p2.id).execute()
    const withheld = await app.inject({ url: '/referrals', headers: bearer(scheduler) })
    t.same(withheld.json().items.map((r: { id: string }) => r.id), [b.id, a.id], 'a restricted patient\'s referral is withheld')
    const asked = await app.inject({ url: `/referrals?patientId=${p2.id}`, headers: bearer(scheduler) })
    t.equal(asked.statusCode, 403)
    t.equal(asked.json().type, 'urn:patient-access:problem:restricted-record')
    t.notOk(asked.body.includes(p2.familyName))
    t.match(await db.kysely.selectFrom('auditEvent').selectAll().where('verb', '=', 'referral.search').where('patientId', '=', p2.id).where('outcome', '=', 'denied').execute(), [{ resourceId: c.id }])
  })

  await t.test('a referral naming a specialty that does not exist is 404 and stores nothing', async (t) => {
    const { facility } = await orgWithFacility(db)
    const scheduler = await ctx.token('scheduler', [facility.id])
    const patient = await createPatient(db, facility.id)
    const res = await app.inject({ method: 'POST', url: '/referrals', headers: bearer(scheduler), payload: {
      facilityId: facility.id, patientId: patient.id, referringProviderNpi: validNpi(), referringProviderName: 'Dr. Lee', reason: 'Evaluate chest pain',
      icd10Codes: ['R07.9'], visitsAuthorized: 1, validFrom: '2026-01-01', validTo: '2028-12-31', specialtyId: '00000000-0000-0000-0000-000000000000',
    } })
    t.equal(res.statusCode, 404, 'was a 409 "referenced record does not exist" from the foreign key')
    t.equal(res.json().detail, 'Specialty not found')
    t.equal((await db.kysely.selectFrom('referral').select('id').where('patientId', '=', patient.id).execute()).length, 0)
  })

  await t.test('a referral is amended: visits authorised, expiry, authorisation number; stale If-Match is 412; fewer visits than used is 409', async (t) => {
    const c = await clinic(db, 'America/Chicago', { requiresReferral: true })
    const scheduler = await ctx.token('scheduler', [c.facility.id])
    const r = await refer(scheduler, { facilityId: c.facility.id, patientId: c.patient.id, referringProviderNpi: validNpi(), visitsAuthorized: 1, authorizationNumber: 'AUTH-1' })
    const booked = await app.inject({ method: 'POST', url: '/appointments', headers: bearer(scheduler), payload: {
      facilityId: c.facility.id, patientId: c.patient.id, providerId: c.provider.id, appointmentTypeId: c.type.id, start: localAt('America/Chicago', 2, '09:00'), referralId: r.id,
    } })
    t.equal(booked.statusCode, 201, booked.body)
    await app.inject({ method: 'POST', url: `/appointments/${booked.json().id}/arrive`, headers: bearer(scheduler) })
    const read = await app.inject({ url: `/referrals/${r.id}`, headers: bearer(scheduler) })
    t.match(read.json(), { visitsUsed: 1, version: 2 })
    t.equal(read.headers.etag, '"2"')

    const backwards = await app.inject({ method: 'PATCH', url: `/referrals/${r.id}`, headers: { ...bearer(scheduler), 'if-match': '"2"' }, payload: { visitsAuthorized: 1, validTo: '2025-12-31' } })
    t.equal(backwards.statusCode, 400, 'an expiry before validFrom is 400')
    t.equal(backwards.json().errors[0].pointer, '/validTo')
    const below = await app.inject({ method: 'PATCH', url: `/referrals/${r.id}`, headers: bearer(scheduler), payload: { status: 'active', visitsAuthorized: 1 } })
    t.equal(below.statusCode, 200, 'as many as used is fine')
    const noAuth = await app.inject({ method: 'PATCH', url: `/referrals/${r.id}`, headers: bearer(scheduler), payload: { authorizationNumber: null } })
    t.equal(noAuth.json().authorizationNumber, null)
    await db.kysely.updateTable('referral').set({ visitsAuthorized: 5, visitsUsed: 2 }).where('id', '=', r.id).execute()
    const refused = await app.inject({ method: 'PATCH', url: `/referrals/${r.id}`, headers: bearer(scheduler), payload: { visitsAuthorized: 1 } })
    t.equal(refused.statusCode, 409)
    t.equal(refused.json().type, 'urn:patient-access:problem:visits-already-used')

    const current = await app.inject({ url: `/referrals/${r.id}`, headers: bearer(scheduler) })
    const version = current.json().version
    const more = await app.inject({ method: 'PATCH', url: `/referrals/${r.id}`, headers: { ...bearer(scheduler), 'if-match': `"${version}"` }, payload: { visitsAuthorized: 6, validTo: '2029-06-30' } })
    t.equal(more.statusCode, 200, more.body)
    t.match(more.json(), { visitsAuthorized: 6, validTo: '2029-06-30', visitsUsed: 2, version: version + 1 })
    t.equal(more.headers.etag, `"${version + 1}"`)
    const stale = await app.inject({ method: 'PATCH', url: `/referrals/${r.id}`, headers: { ...bearer(scheduler), 'if-match': `"${version}"` }, payload: { visitsAuthorized: 7 } })
    t.equal(stale.statusCode, 412)
    t.equal((await db.kysely.selectFrom('referral').select('visitsAuthorized').where('id', '=', r.id).executeTakeFirstOrThrow()).visitsAuthorized, 6)
    t.equal((await app.inject({ method: 'PATCH', url: `/referrals/${r.id}`, headers: bearer(scheduler), payload: {} })).statusCode, 400, 'an empty change is 400')
    t.equal((await app.inject({ method: 'PATCH', url: `/referrals/${r.id}`, headers: bearer(scheduler), payload: { visitsUsed: 0 } })).statusCode, 400, 'visits used are counted, not set')
  })

  await t.test('cancelling a referral stops bookings against it; reinstating lets them through; a shortened expiry is enforced', async (t) => {
    const c = await clinic(db, 'America/New_York', { requiresReferral: true })
    const scheduler = await ctx.token('scheduler', [c.facility.id])
    const r = await refer(scheduler, { facilityId: c.facility.id, patientId: c.patient.id, referringProviderNpi: validNpi() })
    const book = (days: number) => app.inject({ method: 'POST', url: '/appointments', headers: bearer(scheduler), payload: {
      facilityId: c.facility.id, patientId: c.patient.id, providerId: c.provider.id, appointmentTypeId: c.type.id, start: localAt('America/New_York', days, '09:00'), referralId: r.id,
    } })
    const cancel = await app.inject({ method: 'PATCH', url: `/referrals/${r.id}`, headers: { ...bearer(scheduler), 'if-match': '"1"' }, payload: { status: 'cancelled' } })
    t.equal(cancel.statusCode, 200, cancel.body)
    t.equal(cancel.json().status, 'cancelled')
    const refused = await book(3)
    t.equal(refused.statusCode, 409)
    t.equal(refused.json().type, 'urn:patient-access:problem:referral-invalid')
    const reinstate = await app.inject({ method: 'PATCH', url: `/referrals/${r.id}`, headers: bearer(scheduler), payload: { status: 'active' } })
    t.equal(reinstate.json().status, 'active')
    t.equal((await book(3)).statusCode, 201)
    const expiry = localAt('America/New_York', 5, '00:00').slice(0, 10)
    const shortened = await app.inject({ method: 'PATCH', url: `/referrals/${r.id}`, headers: bearer(scheduler), payload: { validTo: expiry } })
    t.equal(shortened.json().validTo, expiry)
    t.equal((await book(5)).statusCode, 201, 'the last valid day is still valid')
    const late = await book(6)
    t.equal(late.statusCode, 409, 'after the new expiry the referral does not cover the visit')
    t.equal(late.json().type, 'urn:patient-access:problem:referral-invalid')
    const verbs = (await auditEventsFor(db, { resourceId: r.id })).filter((e) => e.action === 'update').map((e) => e.verb)
    t.same(verbs, ['referral.cancel', 'referral.reinstate', 'referral.update'])
    const outsider = await ctx.token('scheduler', [(await orgWithFacility(db)).facility.id])
    t.equal((await app.inject({ method: 'PATCH', url: `/referrals/${r.id}`, headers: bearer(outsider), payload: { status: 'cancelled' } })).statusCode, 404)
  })
})
