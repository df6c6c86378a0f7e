import { randomUUID } from 'node:crypto'
import t from 'tap'
import { bearer, buildTestApp } from '../../helpers/app.ts'
import { auditEventsFor, orgWithFacility } from '../../helpers/factories.ts'
import { addProvider, addResource, addType, clinic, localAt, validNpi } from './fixtures.ts'

t.test('scheduling reference data: update with If-Match, delete, retire, refuse while in use', async (t) => {
  const ctx = await buildTestApp(t)
  const { app, db } = ctx
  const ifMatch = (token: string, version: number) => ({ ...bearer(token), 'if-match': `"${version}"` })
  const book = (token: string, payload: Record<string, unknown>) => app.inject({ method: 'POST', url: '/appointments', headers: bearer(token), payload })

  await t.test('a specialty is renamed with If-Match (a stale ETag is 412), deleted when unused, retired when a provider names it', async (t) => {
    const { facility } = await orgWithFacility(db)
    const scheduler = await ctx.token('scheduler', [facility.id])
    const created = await app.inject({ method: 'POST', url: '/specialties', headers: bearer(scheduler), payload: { code: `derm-${randomUUID().slice(0, 8)}`, name: 'Derm' } })
    t.equal(created.statusCode, 201, created.body)
    t.match(created.json(), { active: true, version: 1 })
    const id = created.json().id
    const renamed = await app.inject({ method: 'PATCH', url: `/specialties/${id}`, headers: ifMatch(scheduler, 1), payload: { name: 'Dermatology' } })
    t.equal(renamed.statusCode, 200, renamed.body)
    t.match(renamed.json(), { name: 'Dermatology', version: 2 })
    t.equal(renamed.headers.etag, '"2"')
    const stale = await app.inject({ method: 'PATCH', url: `/specialties/${id}`, headers: ifMatch(scheduler, 1), payload: { name: 'Skin' } })
    t.equal(stale.statusCode, 412)
    t.equal((await db.kysely.selectFrom('specialty').select('name').where('id', '=', id).executeTakeFirstOrThrow()).name, 'Dermatology', 'a stale write changes nothing')

    const provider = await app.inject({ method: 'POST', url: '/providers', headers: bearer(scheduler), payload: { npi: validNpi(), displayName: 'Dr. Skin', facilityIds: [facility.id], specialtyIds: [id] } })
    t.equal(provider.statusCode, 201, provider.body)
    const retired = await app.inject({ method: 'DELETE', url: `/specialties/${id}`, headers: bearer(scheduler) })
    t.equal(retired.statusCode, 200, 'a specialty a provider names is kept, retired')
    t.match(retired.json(), { id, active: false, version: 3 })
    t.ok(await db.kysely.selectFrom('providerSpecialty').select('providerId').where('specialtyId', '=', id).executeTakeFirst(), 'the link stays')
    const relink = await app.inject({ method: 'POST', url: '/providers', headers: bearer(scheduler), payload: { npi: validNpi(), displayName: 'Dr. New', facilityIds: [facility.id], specialtyIds: [id] } })
    t.equal(relink.statusCode, 404, 'a retired specialty is offered for nothing new')

    const unused = await app.inject({ method: 'POST', url: '/specialties', headers: bearer(scheduler), payload: { code: `tmp-${randomUUID().slice(0, 8)}`, name: 'Temporary' } })
    const gone = await app.inject({ method: 'DELETE', url: `/specialties/${unused.json().id}`, headers: ifMatch(scheduler, 1) })
    t.equal(gone.statusCode, 204)
    t.notOk(await db.kysely.selectFrom('specialty').select('id').where('id', '=', unused.json().id).executeTakeFirst(), 'the row is gone')
    t.equal((await app.inject({ url: `/specialties/${unused.json().id}`, headers: bearer(scheduler) })).statusCode, 404)
    t.same((await auditEventsFor(db, { resourceId: id })).map((e) => `${e.action} ${e.verb}`), ['create specialty.create', 'update specialty.update', 'update specialty.retire'])
    t.match(await auditEventsFor(db, { resourceId: unused.json().id, verb: 'specialty.delete' }), [{ action: 'delete' }])
  })

  await t.test('a provider is changed (name, specialties, facilities); retiring it is 409 while it has a future appointment', async (t) => {
    const c = await clinic(db)
    const second = await db.kysely.insertInto('facility').values({ organizationId: c.organization.id, name: `Annex ${randomUUID().slice(0, 6)}`, kind: 'clinic', timeZone: 'America/New_York' })
      .returningAll().executeTakeFirstOrThrow()
    const scheduler = await ctx.token('scheduler', [c.facility.id, second.id])
    const read = await app.inject({ url: `/providers/${c.provider.id}`, headers: bearer(scheduler) })
    t.equal(read.headers.etag, '"1"')
    const changed = await app.inject({
      method: 'PATCH', url: `/providers/${c.provider.id}`, headers: ifMatch(scheduler, 1),
      payload: { displayName: 'Dr. Ana Ruiz-Lopez, MD', facilityIds: [c.facility.id, second.id] },
    })
    t.equal(changed.statusCode, 200, changed.body)
    t.match(changed.json(), { displayName: 'Dr. Ana Ruiz-Lopez, MD', version: 2, active: true })
    t.same([...changed.json().facilityIds].sort(), [c.facility.id, second.id].sort())
    const badNpi = await app.inject({ method: 'PATCH', url: `/providers/${c.provider.id}`, headers: bearer(scheduler), payload: { npi: '1234567890' } })
    t.equal(badNpi.statusCode, 400)
    const other = await addProvider(db, c.organization.id, [c.facility.id])
    const dupNpi = await app.inject({ method: 'PATCH', url: `/providers/${c.provider.id}`, headers: bearer(scheduler), payload: { npi: other.npi } })
    t.equal(dupNpi.statusCode, 409)
    t.equal(dupNpi.json().type, 'urn:patient-access:problem:duplicate-provider')

    const booked = await book(scheduler, { facilityId: c.facility.id, patientId: c.patient.id, providerId: c.provider.id, appointmentTypeId: c.type.id, start: localAt('America/New_York', 3, '10:00') })
    t.equal(booked.statusCode, 201, booked.body)
    t.match(booked.json(), { providerName: 'Dr. Ana Ruiz-Lopez, MD' }, 'appointments carry the new name')
    const retire = await app.inject({ method: 'PATCH', url: `/providers/${c.provider.id}`, headers: bearer(scheduler), payload: { active: false } })
    t.equal(retire.statusCode, 409)
    t.equal(retire.json().type, 'urn:patient-access:problem:in-use')
    const leave = await app.inject({ method: 'PATCH', url: `/providers/${c.provider.id}`, headers: bearer(scheduler), payload: { facilityIds: [second.id] } })
    t.equal(leave.statusCode, 409, 'the facility of a future appointment cannot be removed')
    const del = await app.inject({ method: 'DELETE', url: `/providers/${c.provider.id}`, headers: bearer(scheduler) })
    t.equal(del.statusCode, 409)
    t.equal(del.json().type, 'urn:patient-access:problem:in-use')
    t.match(await db.kysely.selectFrom('provider').select(['active', 'version']).where('id', '=', c.provider.id).executeTakeFirstOrThrow(), { active: true, version: 2 })

    await app.inject({ method: 'POST', url: `/appointments/${booked.json().id}/cancel`, headers: bearer(scheduler), payload: { reason: 'Provider leaving' } })
    const retired = await app.inject({ method: 'DELETE', url: `/providers/${c.provider.id}`, headers: bearer(scheduler) })
    t.equal(retired.statusCode, 200, 'with only past records it is retired, not deleted')
    t.match(retired.json(), { active: false, version: 3 })
    const slots = await app.inject({
      url: `/slots?facilityId=${c.facility.id}&appointmentTypeId=${c.type.id}&providerId=${c.provider.id}&from=${encodeURIComponent(localAt('America/New_York', 3, '00:00'))}&to=${encodeURIComponent(localAt('America/New_York', 4, '00:00'))}`,
      headers: bearer(scheduler),
    })
    t.equal(slots.statusCode, 404, 'a retired provider is not bookable')
    const listed = await app.inject({ url: `/providers?facilityId=${c.facility.id}&active=false`, headers: bearer(scheduler) })
    t.same(listed.json().items.map((p: { id: string }) => p.id), [c.provider.id])
    t.match(await auditEventsFor(db, { resourceId: c.provider.id, verb: 'provider.retire' }), [{ action: 'update' }])

    const fresh = await addProvider(db, c.organization.id, [c.facility.id])
    const deleted = await app.inject({ method: 'DELETE', url: `/providers/${fresh.id}`, headers: ifMatch(scheduler, 1) })
    t.equal(deleted.statusCode, 204, 'a provider nothing names is deleted')
    t.notOk(await db.kysely.selectFrom('provider').select('id').where('id', '=', fresh.id).executeTakeFirst())
  })

  await t.test('a provider who also works outside the caller\'s facilities keeps those links and cannot be retired by that caller', async (t) => {
    const c = await clinic(db)
    const elsewhere = await db.kysely.insertInto('facility').values({ organizationId: c.organization.id, name: `Far ${randomUUID().slice(0, 6)}`, kind: 'clinic', timeZone: 'America/Chicago' })
      .returningAll().executeTakeFirstOrThrow()
    await db.kysely.insertInto('providerFacility').values({ providerId: c.provider.id, facilityId: elsewhere.id }).execute()
    const local = await ctx.token('scheduler', [c.facility.id])
    const third = await db.kysely.insertInto('facility').values({ organizationId: c.organization.id, name: `Third ${randomUUID().slice(0, 6)}`, kind: 'clinic', timeZone: 'America/New_York' })
      .returningAll().executeTakeFirstOrThrow()
    const both = await ctx.token('scheduler', [c.facility.id, third.id])
    const moved = await app.inject({ method: 'PATCH', url: `/providers/${c.provider.id}`, headers: bearer(both), payload: { facilityIds: [third.id] } })
    t.equal(moved.statusCode, 200, moved.body)
    t.same([...moved.json().facilityIds].sort(), [elsewhere.id, third.id].sort(), 'the out-of-scope link stays')
    const denied = await app.inject({ method: 'DELETE', url: `/providers/${c.provider.id}`, headers: bearer(both) })
    t.equal(denied.statusCode, 403)
    t.equal((await app.inject({ method: 'PATCH', url: `/providers/${c.provider.id}`, headers: bearer(local), payload: { displayName: 'X' } })).statusCode, 404, 'no longer at the caller\'s facility')
  })

  await t.test('a room is renamed; retiring it or changing its kind is 409 while a future appointment reserves it; deleted or retired otherwise', async (t) => {
    const c = await clinic(db)
    const scheduler = await ctx.token('scheduler', [c.facility.id])
    const url = `/facilities/${c.facility.id}/resources/${c.room.id}`
    t.equal((await app.inject({ url, headers: bearer(scheduler) })).headers.etag, '"1"')
    const renamed = await app.inject({ method: 'PATCH', url, headers: ifMatch(scheduler, 1), payload: { name: 'Exam 1 (east)' } })
    t.equal(renamed.statusCode, 200, renamed.body)
    t.match(renamed.json(), { name: 'Exam 1 (east)', version: 2 })
    const dupName = await addResource(db, c.facility.id, 'exam-room', 'Exam 9')
    const dup = await app.inject({ method: 'PATCH', url, headers: bearer(scheduler), payload: { name: dupName.name } })
    t.equal(dup.statusCode, 409)
    t.equal(dup.json().type, 'urn:patient-access:problem:duplicate-resource')
    await db.kysely.deleteFrom('resource').where('id', '=', dupName.id).execute()

    const booked = await book(scheduler, { facilityId: c.facility.id, patientId: c.patient.id, providerId: c.provider.id, appointmentTypeId: c.type.id, start: localAt('America/New_York', 4, '10:00') })
    t.equal(booked.statusCode, 201, booked.body)
    for (const payload of [{ active: false }, { kind: 'equipment' }]) {
      const refused = await app.inject({ method: 'PATCH', url, headers: bearer(scheduler), payload })
      t.equal(refused.statusCode, 409, JSON.stringify(payload))
      t.equal(refused.json().type, 'urn:patient-access:problem:in-use')
    }
    t.equal((await app.inject({ method: 'DELETE', url, headers: bearer(scheduler) })).statusCode, 409)
    await app.inject({ method: 'POST', url: `/appointments/${booked.json().id}/cancel`, headers: bearer(scheduler), payload: { reason: 'Room works' } })
    const retired = await app.inject({ method: 'DELETE', url, headers: bearer(scheduler) })
    t.equal(retired.statusCode, 200, 'a past appointment names the room: retired')
    t.match(retired.json(), { active: false })
    const active = await app.inject({ url: `/facilities/${c.facility.id}/resources?active=true`, headers: bearer(scheduler) })
    t.same(active.json().items, [])
    const spare = await addResource(db, c.facility.id, 'equipment', 'Spare ECG')
    const deleted = await app.inject({ method: 'DELETE', url: `/facilities/${c.facility.id}/resources/${spare.id}`, headers: bearer(scheduler) })
    t.equal(deleted.statusCode, 204)
    t.notOk(await db.kysely.selectFrom('resource').select('id').where('id', '=', spare.id).executeTakeFirst())
    const events = await auditEventsFor(db, { resourceId: c.room.id })
    t.same(events.filter((e) => e.action !== 'read').map((e) => e.verb), ['resource.update', 'resource.retire'])
    t.ok(events.every((e) => e.facilityId === c.facility.id))
  })

  await t.test('an appointment type changes duration for new bookings only; retiring it is 409 while appointments of it are to come', async (t) => {
    const c = await clinic(db)
    const scheduler = await ctx.token('scheduler', [c.facility.id])
    const first = await book(scheduler, { facilityId: c.facility.id, patientId: c.patient.id, providerId: c.provider.id, appointmentTypeId: c.type.id, start: localAt('America/New_York', 5, '09:00') })
    t.equal(first.statusCode, 201)
    const url = `/appointment-types/${c.type.id}`
    const longer = await app.inject({ method: 'PATCH', url, headers: ifMatch(scheduler, 1), payload: { durationMinutes: 60, bufferAfterMinutes: 15 } })
    t.equal(longer.statusCode, 200, longer.body)
    t.match(longer.json(), { durationMinutes: 60, bufferAfterMinutes: 15, version: 2, code: c.type.code })
    const kept = await app.inject({ url: `/appointments/${first.json().id}`, headers: bearer(scheduler) })
    t.equal(kept.json().end, localAt('America/New_York', 5, '09:30'), 'the booked appointment keeps its time')
    const next = await book(scheduler, { facilityId: c.facility.id, patientId: c.patient.id, providerId: c.provider.id, appointmentTypeId: c.type.id, start: localAt('America/New_York', 5, '11:00') })
    t.equal(next.json().end, localAt('America/New_York', 5, '12:00'), 'new bookings take the new duration')
    const codeChange = await app.inject({ method: 'PATCH', url, headers: bearer(scheduler), payload: { code: 'other' } })
    t.equal(codeChange.statusCode, 400, 'the code is the type\'s key')
    const retire = await app.inject({ method: 'PATCH', url, headers: bearer(scheduler), payload: { active: false } })
    t.equal(retire.statusCode, 409)
    t.equal(retire.json().type, 'urn:patient-access:problem:in-use')
    for (const a of [first.json().id, next.json().id]) await app.inject({ method: 'POST', url: `/appointments/${a}/cancel`, headers: bearer(scheduler), payload: { reason: 'Type retired' } })
    const retired = await app.inject({ method: 'DELETE', url, headers: bearer(scheduler) })
    t.equal(retired.statusCode, 200)
    t.match(retired.json(), { active: false })
    const again = await book(scheduler, { facilityId: c.facility.id, patientId: c.patient.id, providerId: c.provider.id, appointmentTypeId: c.type.id, start: localAt('America/New_York', 6, '09:00') })
    t.equal(again.statusCode, 404, 'a retired type cannot be booked')
    const reinstated = await app.inject({ method: 'PATCH', url, headers: bearer(scheduler), payload: { active: true } })
    t.equal(reinstated.json().active, true)
    const unused = await addType(db, c.organization.id)
    t.equal((await app.inject({ method: 'DELETE', url: `/appointment-types/${unused.id}`, headers: bearer(scheduler) })).statusCode, 204)
    const outsider = await ctx.token('scheduler', [(await orgWithFacility(db)).facility.id])
    t.equal((await app.inject({ url, headers: bearer(outsider) })).statusCode, 404, 'another organisation sees no type')
    const changes = (await auditEventsFor(db, { resourceId: c.type.id })).filter((e) => e.verb.startsWith('appointment-type.'))
    t.same(changes.map((e) => e.verb), ['appointment-type.update', 'appointment-type.retire', 'appointment-type.update'])
  })

  await t.test('an availability rule is edited with If-Match; a shape that makes no sense is 400', async (t) => {
    const { organization, facility } = await orgWithFacility(db)
    const provider = await addProvider(db, organization.id, [facility.id])
    const scheduler = await ctx.token('scheduler', [facility.id])
    const rule = await app.inject({
      method: 'POST', url: `/providers/${provider.id}/availability-rules`, headers: bearer(scheduler),
      payload: { facilityId: facility.id, weekday: 2, startTime: '09:00', endTime: '12:00', effectiveFrom: '2026-12-01' },
    })
    t.equal(rule.statusCode, 201, rule.body)
    t.equal(rule.json().version, 1)
    const url = `/providers/${provider.id}/availability-rules/${rule.json().id}`
    const edited = await app.inject({ method: 'PATCH', url, headers: ifMatch(scheduler, 1), payload: { endTime: '13:00', effectiveTo: '2027-03-31' } })
    t.equal(edited.statusCode, 200, edited.body)
    t.match(edited.json(), { startTime: '09:00', endTime: '13:00', effectiveTo: '2027-03-31', version: 2 })
    t.equal(edited.headers.etag, '"2"')
    const backwards = await app.inject({ method: 'PATCH', url, headers: bearer(scheduler), payload: { startTime: '14:00' } })
    t.equal(backwards.statusCode, 400)
    t.equal(backwards.json().errors[0].pointer, '/endTime')
    const stale = await app.inject({ method: 'PATCH', url, headers: ifMatch(scheduler, 1), payload: { endTime: '12:30' } })
    t.equal(stale.statusCode, 412)
    const openEnded = await app.inject({ method: 'PATCH', url, headers: bearer(scheduler), payload: { effectiveTo: null } })
    t.equal(openEnded.json().effectiveTo, null)
    t.equal((await app.inject({ method: 'DELETE', url, headers: ifMatch(scheduler, 1) })).statusCode, 412, 'delete honours If-Match too')
    t.equal((await app.inject({ method: 'DELETE', url, headers: ifMatch(scheduler, 3) })).statusCode, 204)
    t.same((await auditEventsFor(db, { resourceId: rule.json().id })).map((e) => e.verb),
      ['availability-rule.create', 'availability-rule.update', 'availability-rule.update', 'availability-rule.delete'])
  })
})
