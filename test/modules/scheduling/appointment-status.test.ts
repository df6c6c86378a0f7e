import t from 'tap'
import { bearer, buildTestApp } from '../../helpers/app.ts'
import { auditEventsFor, createPatient } from '../../helpers/factories.ts'
import { addDailyAvailability, addProvider, clinic, localAt, validNpi } from './fixtures.ts'

t.test('appointment status: entered-in-error, and the waitlist named by a cancel', async (t) => {
  const ctx = await buildTestApp(t)
  const { app, db } = ctx
  const book = (token: string, payload: Record<string, unknown>) => app.inject({ method: 'POST', url: '/appointments', headers: bearer(token), payload })
  const markError = (token: string, id: string, payload: Record<string, unknown>, headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url: `/appointments/${id}/entered-in-error`, headers: { ...bearer(token), ...headers }, payload })

  await t.test('entered-in-error records who and why, frees the time for a new booking, is audited; twice is 409', async (t) => {
    const c = await clinic(db)
    const scheduler = await ctx.token('scheduler', [c.facility.id], { sub: 'coordinator-9' })
    const slot = { facilityId: c.facility.id, providerId: c.provider.id, appointmentTypeId: c.type.id, start: localAt('America/New_York', 2, '10:00') }
    const wrong = await book(scheduler, { ...slot, patientId: c.patient.id })
    t.equal(wrong.statusCode, 201, wrong.body)
    const other = await createPatient(db, c.facility.id)
    t.equal((await book(scheduler, { ...slot, patientId: other.id })).statusCode, 409, 'the time is taken')

    t.equal((await markError(scheduler, wrong.json().id, {})).statusCode, 400, 'a reason is required')
    t.equal((await markError(scheduler, wrong.json().id, { reason: 'x' }, { 'if-match': '"7"' })).statusCode, 412)
    const marked = await markError(scheduler, wrong.json().id, { reason: 'Booked for the wrong patient' }, { 'if-match': '"1"' })
    t.equal(marked.statusCode, 200, marked.body)
    t.match(marked.json(), { status: 'entered-in-error', enteredInError: { by: 'coordinator-9', reason: 'Booked for the wrong patient' }, cancellation: null, version: 2 })
    t.match(marked.json().enteredInError.at, /[+-]0[45]:00$/, 'an instant with the facility offset')
    t.equal(marked.headers.etag, '"2"')
    t.same(await db.kysely.selectFrom('reservation').select('id').where('appointmentId', '=', wrong.json().id).execute(), [], 'its reservations are gone')

    const right = await book(scheduler, { ...slot, patientId: other.id })
    t.equal(right.statusCode, 201, 'the exclusion constraint no longer sees the erroneous appointment')

    const again = await markError(scheduler, wrong.json().id, { reason: 'again' })
    t.equal(again.statusCode, 409)
    t.equal(again.json().type, 'urn:patient-access:problem:invalid-transition')
    t.equal((await app.inject({ method: 'POST', url: `/appointments/${wrong.json().id}/arrive`, headers: bearer(scheduler) })).statusCode, 409, 'no way back')

    const events = await auditEventsFor(db, { resourceId: wrong.json().id, verb: 'appointment.entered-in-error' })
    t.match(events, [{ action: 'update', patientId: c.patient.id, facilityId: c.facility.id, detail: { from: 'booked', referralVisitReturned: false } }])
    t.notOk(JSON.stringify(events).includes('wrong patient'), 'the free-text reason stays out of the audit trail')

    const q = `from=${encodeURIComponent(localAt('America/New_York', 2, '00:00'))}&to=${encodeURIComponent(localAt('America/New_York', 3, '00:00'))}`
    const calendar = await app.inject({ url: `/providers/${c.provider.id}/calendar?${q}`, headers: bearer(scheduler) })
    t.same(calendar.json().entries.map((e: { id: string }) => e.id), [right.json().id], 'the calendar leaves it out')
  })

  await t.test('the database refuses entered-in-error without who, when and why', async (t) => {
    const c = await clinic(db)
    const scheduler = await ctx.token('scheduler', [c.facility.id])
    const a = await book(scheduler, { facilityId: c.facility.id, patientId: c.patient.id, providerId: c.provider.id, appointmentTypeId: c.type.id, start: localAt('America/New_York', 3, '10:00') })
    await t.rejects(db.kysely.updateTable('appointment').set({ status: 'entered-in-error' }).where('id', '=', a.json().id).execute(), /appointment_error_recorded/)
    await t.rejects(db.kysely.updateTable('appointment').set({ cancelledAt: new Date() }).where('id', '=', a.json().id).execute(), /appointment_cancellation/)
  })

  await t.test('a cancelled appointment found to be an error keeps its cancellation record; an arrived one gives its referral visit back', async (t) => {
    const c = await clinic(db, 'America/Los_Angeles', { requiresReferral: true })
    const scheduler = await ctx.token('scheduler', [c.facility.id])
    const referral = await app.inject({ method: 'POST', url: '/referrals', headers: bearer(scheduler), payload: {
      facilityId: c.facility.id, patientId: c.patient.id, referringProviderNpi: validNpi(), referringProviderName: 'Dr. Lee', reason: 'Knee pain',
      icd10Codes: ['M25.561'], visitsAuthorized: 2, validFrom: '2026-01-01', validTo: '2028-12-31',
    } })
    t.equal(referral.statusCode, 201, referral.body)
    const slot = { facilityId: c.facility.id, patientId: c.patient.id, providerId: c.provider.id, appointmentTypeId: c.type.id, referralId: referral.json().id }
    const first = await book(scheduler, { ...slot, start: localAt('America/Los_Angeles', 1, '09:00') })
    const arrived = await app.inject({ method: 'POST', url: `/appointments/${first.json().id}/arrive`, headers: bearer(scheduler) })
    t.equal(arrived.statusCode, 200, arrived.body)
    t.equal((await app.inject({ url: `/referrals/${referral.json().id}`, headers: bearer(scheduler) })).json().visitsUsed, 1)
    const marked = await markError(scheduler, first.json().id, { reason: 'Duplicate of another visit' })
    t.equal(marked.statusCode, 200, marked.body)
    t.equal((await app.inject({ url: `/referrals/${referral.json().id}`, headers: bearer(scheduler) })).json().visitsUsed, 0, 'the visit is given back')
    t.match(await auditEventsFor(db, { resourceId: first.json().id, verb: 'appointment.entered-in-error' }), [{ detail: { from: 'arrived', referralVisitReturned: true } }])

    const second = await book(scheduler, { ...slot, start: localAt('America/Los_Angeles', 4, '09:00') })
    const cancelled = await app.inject({ method: 'POST', url: `/appointments/${second.json().id}/cancel`, headers: bearer(scheduler), payload: { reason: 'Patient called' } })
    t.equal(cancelled.statusCode, 200)
    const errored = await markError(scheduler, second.json().id, { reason: 'Never requested' })
    t.equal(errored.statusCode, 200, errored.body)
    t.match(errored.json(), { status: 'entered-in-error', cancellation: { reason: 'Patient called' }, enteredInError: { reason: 'Never requested' } })
  })

  await t.test('a cancel response names the waiting patients who could take the freed time, as /waitlist/matches would', async (t) => {
    const c = await clinic(db)
    const scheduler = await ctx.token('scheduler', [c.facility.id])
    const day = (n: number) => localAt('America/New_York', n, '00:00').slice(0, 10)
    // The provider works one hour on day 11, and both half hours get booked.
    await db.kysely.deleteFrom('availabilityRule').where('providerId', '=', c.provider.id).execute()
    await db.kysely.insertInto('availabilityException').values({
      providerId: c.provider.id, facilityId: c.facility.id, kind: 'extra', resourceId: null,
      startAt: new Date(localAt('America/New_York', 11, '09:00')), endAt: new Date(localAt('America/New_York', 11, '10:00')), reason: null,
    }).execute()
    const colleague = await addProvider(db, c.organization.id, [c.facility.id], 'Dr. Bo Chen, MD')
    await addDailyAvailability(db, colleague.id, c.facility.id, '13:00', '14:00')
    const booker = await createPatient(db, c.facility.id)
    const ids: string[] = []
    for (const time of ['09:00', '09:30']) {
      const r = await book(scheduler, { facilityId: c.facility.id, patientId: booker.id, providerId: c.provider.id, appointmentTypeId: c.type.id, start: localAt('America/New_York', 11, time) })
      t.equal(r.statusCode, 201, r.body)
      ids.push(r.json().id)
    }
    const wait = async (o: { providerId?: string; first: string; last: string }) => {
      const patient = await createPatient(db, c.facility.id)
      const r = await app.inject({ method: 'POST', url: '/waitlist', headers: bearer(scheduler), payload: {
        facilityId: c.facility.id, patientId: patient.id, appointmentTypeId: c.type.id, earliestDate: o.first, latestDate: o.last, ...(o.providerId ? { providerId: o.providerId } : {}),
      } })
      t.equal(r.statusCode, 201, r.body)
      return r.json() as { id: string; patientId: string }
    }
    const forProvider = await wait({ providerId: c.provider.id, first: day(11), last: day(11) })
    const otherDay = await wait({ providerId: c.provider.id, first: day(12), last: day(13) })
    const anyone = await wait({ first: day(10), last: day(12) })
    const forColleague = await wait({ providerId: colleague.id, first: day(11), last: day(11) })

    const cancelled = await app.inject({ method: 'POST', url: `/appointments/${ids[1]}/cancel`, headers: bearer(scheduler), payload: { reason: 'Cancelled by patient' } })
    t.equal(cancelled.statusCode, 200, cancelled.body)
    t.equal(cancelled.json().status, 'cancelled')
    const named = cancelled.json().waitlistMatches as { entry: { id: string }; slots: { start: string; providerId: string }[] }[]
    t.same(named.map((m) => m.entry.id), [forProvider.id, anyone.id], 'first come first; only those who want this provider (or anyone) on that day')
    for (const m of named) {
      t.same(m.slots.map((s) => [s.start, s.providerId]), [[localAt('America/New_York', 11, '09:30'), c.provider.id]], 'the freed slot itself')
    }
    t.notOk(named.some((m) => m.entry.id === otherDay.id || m.entry.id === forColleague.id))

    const all = await app.inject({ url: `/waitlist/matches?facilityId=${c.facility.id}`, headers: bearer(scheduler) })
    t.equal(all.statusCode, 200, all.body)
    const everywhere = all.json().items as { entry: { id: string }; slots: { start: string; providerId: string }[] }[]
    t.same(everywhere.map((m) => m.entry.id), [forProvider.id, anyone.id, forColleague.id], 'the same matching, not narrowed to the freed time')
    t.same(everywhere[0], named[0], 'the same entry and slots either way')
    t.equal(all.json().next, null)

    const audits = await auditEventsFor(db, { resourceId: forProvider.id, verb: 'waitlist-entry.match' })
    t.equal(audits.length, 2, 'each naming of a waiting patient is an audited read')
    t.equal(audits[0].patientId, forProvider.patientId)

    const nobody = await app.inject({ method: 'POST', url: `/appointments/${ids[0]}/cancel`, headers: bearer(scheduler), payload: { reason: 'Also cancelled' } })
    t.equal(nobody.statusCode, 200)
    t.same(nobody.json().waitlistMatches.map((m: { entry: { id: string } }) => m.entry.id), [forProvider.id, anyone.id], 'still the same two, now with both half hours')

    await db.kysely.updateTable('patient').set({ restriction: 'employee' }).where('id', '=', anyone.patientId).execute()
    const guarded = await app.inject({ url: `/waitlist/matches?facilityId=${c.facility.id}`, headers: bearer(scheduler) })
    t.same(guarded.json().items.map((m: { entry: { id: string } }) => m.entry.id), [forProvider.id, forColleague.id], 'a restricted record is not named')
    t.match(await auditEventsFor(db, { resourceId: anyone.id, verb: 'waitlist-entry.match' }), [{ outcome: 'success' }, { outcome: 'success' }, { outcome: 'success' }, { outcome: 'denied' }])
  })
})
