import { randomUUID } from 'node:crypto'
import t, { type Test } from 'tap'
import { bearer, buildTestApp } from '../../helpers/app.ts'
import { auditEventsFor, orgWithFacility } from '../../helpers/factories.ts'
import { addDailyAvailability, addProvider, addResource, addType, clinic, localAt } from './fixtures.ts'

t.test('slot search: what it names, in which order it fails, and by specialty', async (t) => {
  const ctx = await buildTestApp(t)
  const { app, db } = ctx
  const c = await clinic(db)
  const scheduler = await ctx.token('scheduler', [c.facility.id])
  const window = `from=${encodeURIComponent(localAt('America/New_York', 3, '00:00'))}&to=${encodeURIComponent(localAt('America/New_York', 4, '00:00'))}`
  const search = (q: { facilityId?: string; appointmentTypeId?: string; providerIds?: string[]; specialtyId?: string }, requestId = randomUUID()) =>
    app.inject({
      url: `/slots?facilityId=${q.facilityId ?? c.facility.id}&appointmentTypeId=${q.appointmentTypeId ?? c.type.id}${(q.providerIds ?? []).map((id) => `&providerId=${id}`).join('')}`
        + `${q.specialtyId ? `&specialtyId=${q.specialtyId}` : ''}&${window}&limit=500`,
      headers: { ...bearer(scheduler), 'x-request-id': requestId },
    })
  const notFound = (t: Test, res: Awaited<ReturnType<typeof search>>, what: string, message: string) => {
    t.equal(res.statusCode, 404, message)
    t.equal(res.json().detail, `${what} not found`, message)
  }

  await t.test('404s come facility first, then appointment type, then provider', async (t) => {
    const other = await orgWithFacility(db)
    const otherType = await addType(db, other.organization.id)
    const retiredType = await addType(db, c.organization.id)
    await db.kysely.updateTable('appointmentType').set({ active: false }).where('id', '=', retiredType.id).execute()
    const elsewhere = await addProvider(db, other.organization.id, [other.facility.id])
    const unknown = randomUUID()

    notFound(t, await search({ facilityId: other.facility.id, appointmentTypeId: unknown, providerIds: [unknown] }), 'Facility', 'a facility out of scope, before anything else')
    notFound(t, await search({ facilityId: unknown }), 'Facility', 'no such facility')
    notFound(t, await search({ appointmentTypeId: unknown, providerIds: [unknown] }), 'Appointment type', 'no such type, before the provider')
    notFound(t, await search({ appointmentTypeId: otherType.id }), 'Appointment type', "another organisation's type")
    notFound(t, await search({ appointmentTypeId: retiredType.id }), 'Appointment type', 'a retired type')
    notFound(t, await search({ providerIds: [c.provider.id, elsewhere.id] }), 'Provider', 'one named provider not working here')
    notFound(t, await search({ providerIds: [unknown] }), 'Provider', 'no such provider')
    const noScope = await app.inject({ url: `/slots?facilityId=${other.facility.id}&appointmentTypeId=${otherType.id}&${window}`, headers: bearer(await ctx.token('scheduler', [])) })
    t.equal(noScope.statusCode, 404, 'an empty facility scope sees no facility')
  })

  await t.test('named providers, several at once; by specialty, the type\'s when none is named', async (t) => {
    const tag = randomUUID().slice(0, 6)
    const specialty = (await app.inject({ method: 'POST', url: '/specialties', headers: bearer(scheduler), payload: { code: `s-${tag}`, name: `S ${tag}` } })).json()
    const specialist = await addProvider(db, c.organization.id, [c.facility.id], 'Dr. Specialist')
    await db.kysely.insertInto('providerSpecialty').values({ providerId: specialist.id, specialtyId: specialty.id }).execute()
    await addDailyAvailability(db, specialist.id, c.facility.id, '08:00', '09:00')
    const providersOf = async (res: Awaited<ReturnType<typeof search>>) => {
      t.equal(res.statusCode, 200, res.body)
      return [...new Set(res.json().items.map((s: { providerName: string }) => s.providerName))].sort()
    }

    t.same(await providersOf(await search({ providerIds: [c.provider.id, specialist.id] })), ['Dr. Ana Ruiz, MD', 'Dr. Specialist'])
    t.same(await providersOf(await search({ specialtyId: specialty.id })), ['Dr. Specialist'], 'the specialty named')
    t.same(await providersOf(await search({})), ['Dr. Ana Ruiz, MD', 'Dr. Specialist'], 'every provider here when neither query nor type names a specialty')
    const typed = await db.kysely.insertInto('appointmentType').values({
      organizationId: c.organization.id, code: `t-${tag}`, name: 'Specialist visit', specialtyId: specialty.id, durationMinutes: 30, resourceKinds: [],
    }).returningAll().executeTakeFirstOrThrow()
    t.same(await providersOf(await search({ appointmentTypeId: typed.id })), ['Dr. Specialist'], "the type's specialty")
    t.same(await providersOf(await search({ appointmentTypeId: typed.id, providerIds: [c.provider.id] })), ['Dr. Ana Ruiz, MD'], 'named providers whatever the specialty')
    await db.kysely.updateTable('provider').set({ active: false }).where('id', '=', specialist.id).execute()
    t.same(await providersOf(await search({ specialtyId: specialty.id })), [], 'a retired provider is left out of a specialty search')
  })

  await t.test('resources: one of each kind the type needs; none of a kind, no slots; the search is audited', async (t) => {
    const kinds = await addType(db, c.organization.id, { resourceKinds: ['exam-room', 'equipment'] })
    const none = await search({ appointmentTypeId: kinds.id, providerIds: [c.provider.id] })
    t.equal(none.statusCode, 200, none.body)
    t.same(none.json().items, [], 'no equipment at the facility')
    const scanner = await addResource(db, c.facility.id, 'equipment', 'Scanner')
    const requestId = randomUUID()
    const some = await search({ appointmentTypeId: kinds.id, providerIds: [c.provider.id] }, requestId)
    t.equal(some.json().items.length, 20)
    t.same(some.json().items[0].resourceIds, [c.room.id, scanner.id], 'the room, then the equipment')
    const events = await auditEventsFor(db, { requestId })
    t.match(events, [{ action: 'read', resourceType: 'slot', facilityId: c.facility.id, detail: { returned: 20 } }])
  })
})

t.test('slot search: a window beyond the years calendars are kept for is a 400 that writes nothing', async (t) => {
  const ctx = await buildTestApp(t)
  const { app, db } = ctx
  const c = await clinic(db, 'Pacific/Kiritimati')
  const scheduler = await ctx.token('scheduler', [c.facility.id])
  const before = (await db.kysely.selectFrom('auditEvent').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n
  for (const [from, to] of [['9999-12-30T00:00:00Z', '9999-12-31T23:00:00Z'], ['1899-12-30T00:00:00Z', '1899-12-31T00:00:00Z'], ['2999-12-31T00:00:00Z', '3000-01-01T00:00:00Z']]) {
    const res = await app.inject({
      url: `/slots?facilityId=${c.facility.id}&appointmentTypeId=${c.type.id}&from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`,
      headers: bearer(scheduler),
    })
    t.equal(res.statusCode, 400, `${from} .. ${to}`)
    t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
    t.match(res.json(), { status: 400, errors: [{ detail: /must match pattern/ }] })
  }
  const after = (await db.kysely.selectFrom('auditEvent').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n
  t.equal(after, before, 'no audit event: nothing was read')
  const last = await app.inject({
    url: `/slots?facilityId=${c.facility.id}&appointmentTypeId=${c.type.id}&from=${encodeURIComponent('2999-12-30T00:00:00Z')}&to=${encodeURIComponent('2999-12-31T00:00:00Z')}`,
    headers: bearer(scheduler),
  })
  t.equal(last.statusCode, 200, 'the last day of 2999 at a UTC+14 facility is searched')
})
