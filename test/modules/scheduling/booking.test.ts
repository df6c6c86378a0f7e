import t from 'tap'
import { bearer, buildTestApp } from '../../helpers/app.ts'
import { auditEventsFor, createPatient, orgWithFacility } from '../../helpers/factories.ts'
import { addResource, addType, clinic, localAt, validNpi } from './fixtures.ts'

t.test('scheduling: reference data, slots, holds, booking and the appointment lifecycle', async (t) => {
  const ctx = await buildTestApp(t)
  const { app, db } = ctx

  const book = (token: string, payload: Record<string, unknown>, headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url: '/appointments', headers: { ...bearer(token), ...headers }, payload })

  await t.test('reference data: providers need a valid NPI, rooms and types belong to a facility and organisation', async (t) => {
    const { organization, facility } = await orgWithFacility(db)
    const scheduler = await ctx.token('scheduler', [facility.id])
    const specialty = await app.inject({ method: 'POST', url: '/specialties', headers: bearer(scheduler), payload: { code: `cardio-${Date.now()}`, name: 'Cardiology' } })
    t.equal(specialty.statusCode, 201, specialty.body)
    const bad = await app.inject({ method: 'POST', url: '/providers', headers: bearer(scheduler), payload: { npi: '1234567890', displayName: 'Dr. X', facilityIds: [facility.id] } })
    t.equal(bad.statusCode, 400)
    t.equal(bad.json().errors[0].pointer, '/npi')
    const npi = validNpi()
    const provider = await app.inject({
      method: 'POST', url: '/providers', headers: bearer(scheduler),
      payload: { npi, displayName: 'Dr. Ana Ruiz, MD', facilityIds: [facility.id], specialtyIds: [specialty.json().id] },
    })
    t.equal(provider.statusCode, 201, provider.body)
    t.match(provider.json(), { npi, organizationId: organization.id, facilityIds: [facility.id], specialtyIds: [specialty.json().id] })
    const dup = await app.inject({ method: 'POST', url: '/providers', headers: bearer(scheduler), payload: { npi, displayName: 'Again', facilityIds: [facility.id] } })
    t.equal(dup.statusCode, 409)
    const room = await app.inject({ method: 'POST', url: `/facilities/${facility.id}/resources`, headers: bearer(scheduler), payload: { kind: 'operating-room', name: 'OR 1' } })
    t.equal(room.statusCode, 201)
    const type = await app.inject({
      method: 'POST', url: '/appointment-types', headers: bearer(scheduler),
      payload: { organizationId: organization.id, code: 'new-patient', name: 'New patient', durationMinutes: 40, bufferAfterMinutes: 10, resourceKinds: ['exam-room'], minimumNoticeMinutes: 60 },
    })
    t.equal(type.statusCode, 201, type.body)
    t.match(type.json(), { durationMinutes: 40, bufferBeforeMinutes: 0, bufferAfterMinutes: 10, requiresReferral: false })
    const rule = await app.inject({
      method: 'POST', url: `/providers/${provider.json().id}/availability-rules`, headers: bearer(scheduler),
      payload: { facilityId: facility.id, weekday: 1, startTime: '09:00', endTime: '12:00', effectiveFrom: '2026-12-01' },
    })
    t.equal(rule.statusCode, 201, rule.body)
    t.match(rule.json(), { weekday: 1, startTime: '09:00', endTime: '12:00', effectiveFrom: '2026-12-01', effectiveTo: null })
    const rules = await app.inject({ url: `/providers/${provider.json().id}/availability-rules?facilityId=${facility.id}`, headers: bearer(scheduler) })
    t.equal(rules.json().items.length, 1)
    const list = await app.inject({ url: `/providers?facilityId=${facility.id}&specialtyId=${specialty.json().id}`, headers: bearer(scheduler) })
    t.same(list.json().items.map((p: { id: string }) => p.id), [provider.json().id])
    const other = await orgWithFacility(db)
    const outsider = await ctx.token('scheduler', [other.facility.id])
    t.equal((await app.inject({ url: `/providers/${provider.json().id}`, headers: bearer(outsider) })).statusCode, 404, 'other facilities see no provider')
    const events = await auditEventsFor(db, { resourceId: provider.json().id })
    t.match(events, [{ verb: 'provider.create', action: 'create', facilityId: facility.id }])
  })

  await t.test('slots honour availability, buffers, appointments, live holds, blocks and minimum notice; times carry offsets', async (t) => {
    const c = await clinic(db, 'Europe/Berlin', { durationMinutes: 30, bufferAfterMinutes: 15 })
    const scheduler = await ctx.token('scheduler', [c.facility.id])
    const from = localAt('Europe/Berlin', 3, '00:00')
    const to = localAt('Europe/Berlin', 4, '00:00')
    const url = `/slots?facilityId=${c.facility.id}&appointmentTypeId=${c.type.id}&providerId=${c.provider.id}&from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}&limit=500`
    const first = await app.inject({ url, headers: bearer(scheduler) })
    t.equal(first.statusCode, 200, first.body)
    const starts = () => app.inject({ url, headers: bearer(scheduler) }).then((r) => r.json().items.map((s: { start: string }) => s.start.slice(11, 16)))
    const all = first.json().items
    t.equal(all.length, 20, '08:00-18:00 in 30-minute steps')
    t.match(all[0], { status: 'free', providerName: 'Dr. Ana Ruiz, MD', resourceIds: [c.room.id] })
    t.match(all[0].start, /T08:00:00\+0[12]:00$/, 'local time with the Berlin offset')

    const booked = await book(scheduler, { facilityId: c.facility.id, patientId: c.patient.id, providerId: c.provider.id, appointmentTypeId: c.type.id, start: localAt('Europe/Berlin', 3, '09:00') })
    t.equal(booked.statusCode, 201, booked.body)
    let now = await starts()
    t.notOk(now.includes('09:00'), 'booked time is gone')
    t.notOk(now.includes('09:30'), 'the 15-minute buffer after 09:00-09:30 blocks 09:30')
    t.ok(now.includes('10:00'))
    t.notOk(now.includes('08:30'), '08:30-09:00 plus its buffer would run into 09:00')

    const hold = await app.inject({
      method: 'POST', url: '/slot-holds', headers: bearer(scheduler),
      payload: { facilityId: c.facility.id, providerId: c.provider.id, appointmentTypeId: c.type.id, start: localAt('Europe/Berlin', 3, '11:00') },
    })
    t.equal(hold.statusCode, 201, hold.body)
    t.equal(hold.json().status, 'busy-tentative')
    now = await starts()
    t.notOk(now.includes('11:00'), 'a live hold takes the slot')

    const block = await app.inject({
      method: 'POST', url: `/providers/${c.provider.id}/availability-exceptions`, headers: bearer(scheduler),
      payload: { facilityId: c.facility.id, kind: 'block', start: localAt('Europe/Berlin', 3, '14:00'), end: localAt('Europe/Berlin', 3, '16:00'), reason: 'Staff meeting' },
    })
    t.equal(block.statusCode, 201, block.body)
    now = await starts()
    t.notOk(now.includes('14:00') || now.includes('15:30'), 'blocked hours are gone')
    t.ok(now.includes('16:00'))

    const noticeType = await addType(db, c.organization.id, { minimumNoticeMinutes: 5 * 24 * 60 })
    const tooSoon = await app.inject({ url: url.replace(c.type.id, noticeType.id), headers: bearer(scheduler) })
    t.same(tooSoon.json().items, [], 'nothing inside the minimum notice')
    const lateBooking = await book(scheduler, { facilityId: c.facility.id, patientId: c.patient.id, providerId: c.provider.id, appointmentTypeId: noticeType.id, start: localAt('Europe/Berlin', 3, '12:00') })
    t.equal(lateBooking.statusCode, 409)
    t.equal(lateBooking.json().type, 'urn:patient-access:problem:insufficient-notice')
    const outside = await book(scheduler, { facilityId: c.facility.id, patientId: c.patient.id, providerId: c.provider.id, appointmentTypeId: c.type.id, start: localAt('Europe/Berlin', 3, '19:00') })
    t.equal(outside.statusCode, 409)
    t.equal(outside.json().type, 'urn:patient-access:problem:outside-availability')
  })

  await t.test('a booking reserves provider and room, carries names, is audited; the same time again is 409', async (t) => {
    const c = await clinic(db)
    const scheduler = await ctx.token('scheduler', [c.facility.id])
    const start = localAt('America/New_York', 2, '10:00')
    const res = await book(scheduler, { facilityId: c.facility.id, patientId: c.patient.id, providerId: c.provider.id, appointmentTypeId: c.type.id, start }, { 'idempotency-key': `k-${c.patient.id}` })
    t.equal(res.statusCode, 201, res.body)
    const a = res.json()
    t.match(a, { status: 'booked', providerName: 'Dr. Ana Ruiz, MD', facilityName: c.facility.name, appointmentTypeName: 'Follow-up visit', resources: [{ id: c.room.id, name: 'Exam 1', kind: 'exam-room' }], overbooked: false })
    t.equal(a.start, start)
    t.equal(res.headers.location, `/appointments/${a.id}`)
    const replay = await book(scheduler, { facilityId: c.facility.id, patientId: c.patient.id, providerId: c.provider.id, appointmentTypeId: c.type.id, start }, { 'idempotency-key': `k-${c.patient.id}` })
    t.equal(replay.statusCode, 201)
    t.equal(replay.headers['idempotent-replayed'], 'true')
    t.equal(replay.json().id, a.id)
    const reservations = await db.kysely.selectFrom('reservation').select(['providerId', 'resourceId']).where('appointmentId', '=', a.id).execute()
    t.equal(reservations.length, 2, 'one row for the provider, one for the room')
    t.match(await auditEventsFor(db, { resourceId: a.id }), [{ verb: 'appointment.book', action: 'create', patientId: c.patient.id, facilityId: c.facility.id }])

    const other = await createPatient(db, c.facility.id)
    const clash = await book(scheduler, { facilityId: c.facility.id, patientId: other.id, providerId: c.provider.id, appointmentTypeId: c.type.id, start: localAt('America/New_York', 2, '10:15') })
    t.equal(clash.statusCode, 409)
    t.equal(clash.json().type, 'urn:patient-access:problem:slot-unavailable')
    t.equal(clash.headers['content-type'], 'application/problem+json; charset=utf-8')

    const room2 = await addResource(db, c.facility.id, 'exam-room', 'Exam 2')
    const provider2 = (await db.kysely.insertInto('provider').values({ organizationId: c.organization.id, npi: validNpi(), displayName: 'Dr. Second' }).returningAll().executeTakeFirstOrThrow())
    await db.kysely.insertInto('providerFacility').values({ providerId: provider2.id, facilityId: c.facility.id }).execute()
    await db.kysely.insertInto('availabilityRule').values({ providerId: provider2.id, facilityId: c.facility.id, weekday: 1, startTime: '00:00', endTime: '23:59', effectiveFrom: '2025-01-01', effectiveTo: null, resourceId: null }).execute()
    const sameRoom = await book(scheduler, { facilityId: c.facility.id, patientId: other.id, providerId: c.provider.id, appointmentTypeId: c.type.id, start, resourceIds: [room2.id] })
    t.equal(sameRoom.statusCode, 409, 'the provider is busy even in another room')

    const outsider = await ctx.token('scheduler', [(await orgWithFacility(db)).facility.id])
    t.equal((await app.inject({ url: `/appointments/${a.id}`, headers: bearer(outsider) })).statusCode, 404)
    const read = await app.inject({ url: `/appointments/${a.id}`, headers: bearer(scheduler) })
    t.equal(read.statusCode, 200)
    t.equal(read.headers.etag, '"1"')
    t.match(await auditEventsFor(db, { resourceId: a.id, verb: 'appointment.read' }), [{ patientId: c.patient.id, facilityId: c.facility.id }])
    const unknownField = await book(scheduler, { facilityId: c.facility.id, patientId: c.patient.id, providerId: c.provider.id, appointmentTypeId: c.type.id, start, color: 'red' })
    t.equal(unknownField.statusCode, 400)
  })

  await t.test('holds: another caller cannot book held time; an expired hold frees it without any job; booking from a hold consumes it', async (t) => {
    const c = await clinic(db)
    const scheduler = await ctx.token('scheduler', [c.facility.id])
    const start = localAt('America/New_York', 4, '09:00')
    const slot = { facilityId: c.facility.id, providerId: c.provider.id, appointmentTypeId: c.type.id, start }
    const hold = await app.inject({ method: 'POST', url: '/slot-holds', headers: bearer(scheduler), payload: slot })
    t.equal(hold.statusCode, 201, hold.body)
    const expiresIn = Date.parse(hold.json().expiresAt) - Date.now()
    t.ok(expiresIn > 250_000 && expiresIn <= 300_000, 'expires in 5 minutes by default')
    const blocked = await book(scheduler, { ...slot, patientId: c.patient.id })
    t.equal(blocked.statusCode, 409)
    const fromHold = await book(scheduler, { ...slot, patientId: c.patient.id, holdId: hold.json().id })
    t.equal(fromHold.statusCode, 201, fromHold.body)
    t.equal(await db.kysely.selectFrom('slotHold').select('id').where('id', '=', hold.json().id).executeTakeFirst(), undefined, 'the hold is consumed')

    const later = { ...slot, start: localAt('America/New_York', 4, '10:00') }
    const short = await app.inject({ method: 'POST', url: '/slot-holds', headers: bearer(scheduler), payload: { ...later, expiresInSeconds: 10 } })
    t.equal(short.statusCode, 201)
    // Let the hold expire without waiting: move its expiry into the past.
    await db.kysely.updateTable('reservation').set({ expiresAt: new Date(Date.now() - 1000) }).where('holdId', '=', short.json().id).execute()
    await db.kysely.updateTable('slotHold').set({ expiresAt: new Date(Date.now() - 1000) }).where('id', '=', short.json().id).execute()
    const freed = await book(scheduler, { ...later, patientId: c.patient.id })
    t.equal(freed.statusCode, 201, freed.body)
    const stale = await book(scheduler, { ...later, start: localAt('America/New_York', 4, '11:00'), patientId: c.patient.id, holdId: short.json().id })
    t.equal(stale.statusCode, 409)
    t.equal(stale.json().type, 'urn:patient-access:problem:hold-expired')
  })

  await t.test('reschedule takes the new time before freeing the old; a taken time leaves the appointment as it was', async (t) => {
    const c = await clinic(db)
    const scheduler = await ctx.token('scheduler', [c.facility.id])
    const a = (await book(scheduler, { facilityId: c.facility.id, patientId: c.patient.id, providerId: c.provider.id, appointmentTypeId: c.type.id, start: localAt('America/New_York', 5, '09:00') })).json()
    const moved = await app.inject({ method: 'POST', url: `/appointments/${a.id}/reschedule`, headers: { ...bearer(scheduler), 'if-match': '"1"' }, payload: { start: localAt('America/New_York', 5, '09:15') } })
    t.equal(moved.statusCode, 200, moved.body)
    t.equal(moved.json().start, localAt('America/New_York', 5, '09:15'), 'a shift overlapping its own old time works')
    t.equal(moved.json().version, 2)
    const otherPatient = await createPatient(db, c.facility.id)
    const b = (await book(scheduler, { facilityId: c.facility.id, patientId: otherPatient.id, providerId: c.provider.id, appointmentTypeId: c.type.id, start: localAt('America/New_York', 5, '11:00') })).json()
    const clash = await app.inject({ method: 'POST', url: `/appointments/${a.id}/reschedule`, headers: bearer(scheduler), payload: { start: localAt('America/New_York', 5, '11:00') } })
    t.equal(clash.statusCode, 409)
    const row = await db.kysely.selectFrom('appointment').select(['startAt', 'version']).where('id', '=', a.id).executeTakeFirstOrThrow()
    t.equal(row.startAt.toISOString(), new Date(localAt('America/New_York', 5, '09:15')).toISOString(), 'unchanged')
    t.equal(row.version, 2)
    t.ok(b.id)
    const stale = await app.inject({ method: 'POST', url: `/appointments/${a.id}/reschedule`, headers: { ...bearer(scheduler), 'if-match': '"1"' }, payload: { start: localAt('America/New_York', 5, '13:00') } })
    t.equal(stale.statusCode, 412)
    t.match(await auditEventsFor(db, { resourceId: a.id, verb: 'appointment.reschedule' }), [{ patientId: c.patient.id }])
  })

  await t.test('cancel records reason, who and the late flag, frees the time; illegal transitions are 409', async (t) => {
    const c = await clinic(db)
    const scheduler = await ctx.token('scheduler', [c.facility.id], { sub: 'coordinator-7' })
    const soon = (await book(scheduler, { facilityId: c.facility.id, patientId: c.patient.id, providerId: c.provider.id, appointmentTypeId: c.type.id, start: localAt('America/New_York', 0, '23:00') }))
    const later = (await book(scheduler, { facilityId: c.facility.id, patientId: c.patient.id, providerId: c.provider.id, appointmentTypeId: c.type.id, start: localAt('America/New_York', 6, '09:00') })).json()
    const cancelled = await app.inject({ method: 'POST', url: `/appointments/${later.id}/cancel`, headers: bearer(scheduler), payload: { reason: 'Patient is travelling' } })
    t.equal(cancelled.statusCode, 200, cancelled.body)
    t.match(cancelled.json(), { status: 'cancelled', cancellation: { by: 'coordinator-7', reason: 'Patient is travelling', late: false } })
    t.equal((await db.kysely.selectFrom('reservation').select('id').where('appointmentId', '=', later.id).execute()).length, 0, 'time freed')
    const again = await app.inject({ method: 'POST', url: `/appointments/${later.id}/cancel`, headers: bearer(scheduler), payload: { reason: 'x' } })
    t.equal(again.statusCode, 409)
    t.equal(again.json().type, 'urn:patient-access:problem:invalid-transition')
    const rebook = await book(scheduler, { facilityId: c.facility.id, patientId: c.patient.id, providerId: c.provider.id, appointmentTypeId: c.type.id, start: localAt('America/New_York', 6, '09:00') })
    t.equal(rebook.statusCode, 201, 'the freed time can be booked again')
    const fulfilEarly = await app.inject({ method: 'POST', url: `/appointments/${rebook.json().id}/fulfil`, headers: bearer(scheduler) })
    t.equal(fulfilEarly.statusCode, 409, 'booked cannot jump to fulfilled')
    const noShowEarly = await app.inject({ method: 'POST', url: `/appointments/${rebook.json().id}/no-show`, headers: bearer(scheduler) })
    t.equal(noShowEarly.statusCode, 409)
    t.equal(noShowEarly.json().type, 'urn:patient-access:problem:too-early')
    const arrived = await app.inject({ method: 'POST', url: `/appointments/${rebook.json().id}/arrive`, headers: bearer(scheduler) })
    t.equal(arrived.json().status, 'arrived')
    const fulfilled = await app.inject({ method: 'POST', url: `/appointments/${rebook.json().id}/fulfil`, headers: bearer(scheduler) })
    t.equal(fulfilled.json().status, 'fulfilled')
    if (soon.statusCode === 201) {
      // Only when 23:00 today is still ahead of the clock.
      const late = await app.inject({ method: 'POST', url: `/appointments/${soon.json().id}/cancel`, headers: bearer(scheduler), payload: { reason: 'Sick' } })
      t.equal(late.json().cancellation.late, true, 'within 24 hours is late')
    }
  })

  await t.test('overbooking needs scheduling:overbook and a reason', async (t) => {
    const c = await clinic(db)
    const scheduler = await ctx.token('scheduler', [c.facility.id])
    const supervisor = await ctx.token(['scheduler', 'admin'], [c.facility.id])
    const slot = { facilityId: c.facility.id, providerId: c.provider.id, appointmentTypeId: c.type.id, start: localAt('America/New_York', 7, '09:00'), resourceIds: [c.room.id] }
    t.equal((await book(scheduler, { ...slot, patientId: c.patient.id })).statusCode, 201)
    const other = await createPatient(db, c.facility.id)
    const denied = await book(scheduler, { ...slot, patientId: other.id, overbookReason: 'Urgent follow-up' })
    t.equal(denied.statusCode, 403)
    const over = await book(supervisor, { ...slot, patientId: other.id, overbookReason: 'Urgent follow-up' })
    t.equal(over.statusCode, 201, over.body)
    t.equal(over.json().overbooked, true)
    t.match(await auditEventsFor(db, { resourceId: over.json().id }), [{ verb: 'appointment.book', detail: { overbooked: true } }])
  })

  await t.test('calendar shows appointments, holds and blocks; patient names only with patient:read; each patient read audited', async (t) => {
    const c = await clinic(db)
    const scheduler = await ctx.token('scheduler', [c.facility.id])
    await book(scheduler, { facilityId: c.facility.id, patientId: c.patient.id, providerId: c.provider.id, appointmentTypeId: c.type.id, start: localAt('America/New_York', 8, '09:00') })
    await app.inject({ method: 'POST', url: '/slot-holds', headers: bearer(scheduler), payload: { facilityId: c.facility.id, providerId: c.provider.id, appointmentTypeId: c.type.id, start: localAt('America/New_York', 8, '10:00') } })
    await app.inject({ method: 'POST', url: `/providers/${c.provider.id}/availability-exceptions`, headers: bearer(scheduler), payload: { facilityId: c.facility.id, kind: 'block', start: localAt('America/New_York', 8, '12:00'), end: localAt('America/New_York', 8, '13:00'), reason: 'Lunch meeting' } })
    const q = `from=${encodeURIComponent(localAt('America/New_York', 8, '00:00'))}&to=${encodeURIComponent(localAt('America/New_York', 9, '00:00'))}`
    const withNames = await app.inject({ url: `/providers/${c.provider.id}/calendar?${q}`, headers: bearer(scheduler) })
    t.equal(withNames.statusCode, 200, withNames.body)
    t.same(withNames.json().entries.map((e: { kind: string }) => e.kind), ['appointment', 'hold', 'block'])
    t.equal(withNames.json().entries[0].patientName, 'Rivera, Maria')
    t.equal(withNames.json().providerName, 'Dr. Ana Ruiz, MD')
    const narrow = await ctx.token('scheduler', [c.facility.id], { scope: 'pa:scheduling:read', sub: 'calendar-screen' })
    const withoutNames = await app.inject({ url: `/providers/${c.provider.id}/calendar?${q}`, headers: bearer(narrow) })
    t.equal(withoutNames.statusCode, 200)
    t.notOk('patientName' in withoutNames.json().entries[0], 'no names without patient:read')
    t.notOk(withoutNames.body.includes('Rivera'))
    const audits = await db.kysely.selectFrom('auditEvent').selectAll().where('verb', '=', 'provider.calendar').where('patientId', '=', c.patient.id).execute()
    t.equal(audits.length, 2)
  })

  await t.test('referrals gate booking and arrival; an override needs a reason; a visit is counted once', async (t) => {
    const c = await clinic(db, 'America/New_York', { requiresReferral: true })
    const scheduler = await ctx.token('scheduler', [c.facility.id])
    const slot = { facilityId: c.facility.id, providerId: c.provider.id, appointmentTypeId: c.type.id, patientId: c.patient.id }
    const none = await book(scheduler, { ...slot, start: localAt('America/New_York', 9, '09:00') })
    t.equal(none.statusCode, 409)
    t.equal(none.json().type, 'urn:patient-access:problem:referral-required')
    const badNpi = await app.inject({ method: 'POST', url: '/referrals', headers: bearer(scheduler), payload: {
      facilityId: c.facility.id, patientId: c.patient.id, referringProviderNpi: '1234567890', referringProviderName: 'Dr. Lee', reason: 'Chest pain', icd10Codes: ['R07.9'], visitsAuthorized: 1, validFrom: '2026-01-01', validTo: '2027-12-31',
    } })
    t.equal(badNpi.statusCode, 400)
    const referral = await app.inject({ method: 'POST', url: '/referrals', headers: bearer(scheduler), payload: {
      facilityId: c.facility.id, patientId: c.patient.id, referringProviderNpi: validNpi(), referringProviderName: 'Dr. Lee, Oak Street', reason: 'Chest pain',
      icd10Codes: ['R07.9', 'I10'], authorizationNumber: 'AUTH-1', visitsAuthorized: 1, validFrom: '2026-01-01', validTo: '2027-12-31',
    } })
    t.equal(referral.statusCode, 201, referral.body)
    const withRef = await book(scheduler, { ...slot, start: localAt('America/New_York', 9, '09:00'), referralId: referral.json().id })
    t.equal(withRef.statusCode, 201, withRef.body)
    const arrived = await app.inject({ method: 'POST', url: `/appointments/${withRef.json().id}/arrive`, headers: bearer(scheduler) })
    t.equal(arrived.statusCode, 200, arrived.body)
    const fulfilled = await app.inject({ method: 'POST', url: `/appointments/${withRef.json().id}/fulfil`, headers: bearer(scheduler) })
    t.equal(fulfilled.statusCode, 200)
    const after = await app.inject({ url: `/referrals/${referral.json().id}`, headers: bearer(scheduler) })
    t.equal(after.json().visitsUsed, 1, 'counted once across arrive and fulfil')
    const exhausted = await book(scheduler, { ...slot, start: localAt('America/New_York', 9, '11:00'), referralId: referral.json().id })
    t.equal(exhausted.statusCode, 409)
    t.equal(exhausted.json().type, 'urn:patient-access:problem:referral-invalid')
    const override = await book(scheduler, { ...slot, start: localAt('America/New_York', 9, '11:00'), referralOverrideReason: 'Referral faxed, arriving today' })
    t.equal(override.statusCode, 201, override.body)
    t.equal(override.json().referralOverridden, true)
    t.match(await auditEventsFor(db, { resourceId: override.json().id }), [{ verb: 'appointment.book', detail: { referralOverride: true } }])
  })

  await t.test('surgery: surgeon and OR reserved together; an emergency bumps an elective case to needs-reschedule', async (t) => {
    const c = await clinic(db)
    const or = await addResource(db, c.facility.id, 'operating-room', 'OR 1')
    const scheduler = await ctx.token('scheduler', [c.facility.id])
    const newCase = (priority: string) => app.inject({ method: 'POST', url: '/surgical-cases', headers: bearer(scheduler), payload: {
      facilityId: c.facility.id, patientId: c.patient.id, surgeonId: c.provider.id, procedureCodes: ['47562'], expectedDurationMinutes: 90, anesthesia: 'general', priority,
    } })
    const elective = await newCase('elective')
    t.equal(elective.statusCode, 201, elective.body)
    t.equal(elective.json().status, 'requested')
    const start = localAt('America/New_York', 10, '08:00')
    const scheduled = await app.inject({ method: 'POST', url: `/surgical-cases/${elective.json().id}/schedule`, headers: bearer(scheduler), payload: { operatingRoomId: or.id, start } })
    t.equal(scheduled.statusCode, 200, scheduled.body)
    t.match(scheduled.json(), { status: 'pending-facility-confirmation', operatingRoomId: or.id, start })
    const notReady = await app.inject({ method: 'POST', url: `/surgical-cases/${elective.json().id}/confirm`, headers: bearer(scheduler) })
    t.equal(notReady.statusCode, 409)
    t.equal(notReady.json().type, 'urn:patient-access:problem:checklist-incomplete')
    const checklist = await app.inject({ method: 'PATCH', url: `/surgical-cases/${elective.json().id}/checklist`, headers: bearer(scheduler), payload: { historyAndPhysical: 'complete', labs: 'complete', clearance: 'not-applicable', priorAuthorization: 'complete', consent: 'complete' } })
    t.equal(checklist.statusCode, 200, checklist.body)
    t.equal((await app.inject({ method: 'POST', url: `/surgical-cases/${elective.json().id}/confirm`, headers: bearer(scheduler) })).json().status, 'scheduled')
    const clinicVisit = await book(scheduler, { facilityId: c.facility.id, patientId: c.patient.id, providerId: c.provider.id, appointmentTypeId: c.type.id, start: localAt('America/New_York', 10, '09:00') })
    t.equal(clinicVisit.statusCode, 409, 'the surgeon is in theatre')

    const emergency = await newCase('emergency')
    const noBump = await app.inject({ method: 'POST', url: `/surgical-cases/${emergency.json().id}/schedule`, headers: bearer(scheduler), payload: { operatingRoomId: or.id, start: localAt('America/New_York', 10, '08:30') } })
    t.equal(noBump.statusCode, 409)
    const bump = await app.inject({ method: 'POST', url: `/surgical-cases/${emergency.json().id}/schedule`, headers: bearer(scheduler), payload: { operatingRoomId: or.id, start: localAt('America/New_York', 10, '08:30'), bumpElective: true, reason: 'Trauma' } })
    t.equal(bump.statusCode, 200, bump.body)
    const bumped = await app.inject({ url: `/surgical-cases/${elective.json().id}`, headers: bearer(scheduler) })
    t.match(bumped.json(), { status: 'needs-reschedule', statusReason: 'Trauma', bumpedByCaseId: emergency.json().id, start: null })
    const electiveBump = await newCase('elective')
    const refused = await app.inject({ method: 'POST', url: `/surgical-cases/${electiveBump.json().id}/schedule`, headers: bearer(scheduler), payload: { operatingRoomId: or.id, start, bumpElective: true } })
    t.equal(refused.statusCode, 409)
    t.equal(refused.json().type, 'urn:patient-access:problem:bump-not-allowed')
    t.match(await auditEventsFor(db, { resourceId: elective.json().id, verb: 'surgical-case.bumped' }), [{ patientId: c.patient.id }])
  })

  await t.test('a waitlist entry naming a specialty that does not exist is 404 and stores nothing', async (t) => {
    const c = await clinic(db)
    const scheduler = await ctx.token('scheduler', [c.facility.id])
    const day = localAt('America/New_York', 11, '00:00').slice(0, 10)
    const res = await app.inject({ method: 'POST', url: '/waitlist', headers: bearer(scheduler), payload: {
      facilityId: c.facility.id, patientId: c.patient.id, appointmentTypeId: c.type.id, specialtyId: '00000000-0000-0000-0000-000000000000', earliestDate: day, latestDate: day,
    } })
    t.equal(res.statusCode, 404, 'was the foreign key\'s undocumented 409')
    t.equal(res.json().detail, 'Specialty not found')
    t.equal((await db.kysely.selectFrom('waitlistEntry').select('id').where('patientId', '=', c.patient.id).execute()).length, 0)
  })

  await t.test('waitlist: a freed slot names who could take it', async (t) => {
    const c = await clinic(db)
    const scheduler = await ctx.token('scheduler', [c.facility.id])
    const entry = await app.inject({ method: 'POST', url: '/waitlist', headers: bearer(scheduler), payload: {
      facilityId: c.facility.id, patientId: c.patient.id, appointmentTypeId: c.type.id, providerId: c.provider.id,
      earliestDate: localAt('America/New_York', 11, '00:00').slice(0, 10), latestDate: localAt('America/New_York', 11, '00:00').slice(0, 10),
    } })
    t.equal(entry.statusCode, 201, entry.body)
    // Fill the day, then free one slot.
    await db.kysely.deleteFrom('availabilityRule').where('providerId', '=', c.provider.id).execute()
    await db.kysely.insertInto('availabilityException').values({ providerId: c.provider.id, facilityId: c.facility.id, kind: 'extra', resourceId: null, startAt: new Date(localAt('America/New_York', 11, '09:00')), endAt: new Date(localAt('America/New_York', 11, '10:00')), reason: null }).execute()
    const other = await createPatient(db, c.facility.id)
    const ids = []
    for (const time of ['09:00', '09:30']) {
      const r = await book(scheduler, { facilityId: c.facility.id, patientId: other.id, providerId: c.provider.id, appointmentTypeId: c.type.id, start: localAt('America/New_York', 11, time) })
      t.equal(r.statusCode, 201, r.body)
      ids.push(r.json().id)
    }
    const none = await app.inject({ url: `/waitlist/matches?facilityId=${c.facility.id}`, headers: bearer(scheduler) })
    t.same(none.json().items, [])
    await app.inject({ method: 'POST', url: `/appointments/${ids[1]}/cancel`, headers: bearer(scheduler), payload: { reason: 'Cancelled by patient' } })
    const matches = await app.inject({ url: `/waitlist/matches?facilityId=${c.facility.id}`, headers: bearer(scheduler) })
    t.equal(matches.statusCode, 200, matches.body)
    t.equal(matches.json().items.length, 1)
    t.equal(matches.json().items[0].entry.patientId, c.patient.id)
    t.same(matches.json().items[0].slots.map((s: { start: string }) => s.start), [localAt('America/New_York', 11, '09:30')])
  })
})
