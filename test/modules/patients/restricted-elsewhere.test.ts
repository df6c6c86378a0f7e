import t from 'tap'
import { bearer, buildTestApp } from '../../helpers/app.ts'
import { createPatient, orgWithFacility } from '../../helpers/factories.ts'
import { coverageFor, NPI, payerWithPlan } from '../eligibility/fixtures.ts'
import { createRequest, roiSetup } from '../roi/roi-helpers.ts'
import { clinic, localAt } from '../scheduling/fixtures.ts'

/**
 * The restricted-record rule holds for patient data read through every module, not only
 * /patients: one guard (src/modules/patients/patient-guard.ts) decides, audits and refuses.
 */
t.test('restricted records outside the patient module', async (t) => {
  const ctx = await buildTestApp(t)
  const { app, db } = ctx
  const { facility } = await orgWithFacility(db, { timeZone: 'UTC' })
  const desk = await ctx.token('front_desk', [facility.id], { sub: 'desk-1' })
  const teamDesk = await ctx.token('front_desk', [facility.id], { sub: 'care-1' })
  const specialist = await ctx.token('eligibility_specialist', [facility.id], { sub: 'elig-1' })
  const glass = { 'x-break-glass-reason': 'Patient unconscious in ED' }
  const get = (url: string, token: string, headers: Record<string, string> = {}) => app.inject({ url, headers: { ...bearer(token), ...headers } })
  const restrict = async (patientId: string) => {
    await db.kysely.updateTable('patient').set({ restriction: 'vip' }).where('id', '=', patientId).execute()
    await db.kysely.insertInto('patientCareTeam').values({ patientId, userSub: 'care-1', addedBy: 'test' }).execute()
  }
  const events = (patientId: string, verb: string) =>
    db.kysely.selectFrom('auditEvent').selectAll().where('patientId', '=', patientId).where('verb', '=', verb).orderBy('id').execute()
  const register = async (patientId: string) => {
    const res = await app.inject({
      method: 'POST', url: '/registrations', headers: bearer(desk),
      payload: { kind: 'emergency', patientId, facilityId: facility.id, location: 'ED', details: { arrivalMode: 'walk_in' } },
    })
    t.equal(res.statusCode, 201)
    return res.json().id as string
  }

  const vip = await createPatient(db, facility.id, { familyName: 'Vanterpool' })
  const other = await createPatient(db, facility.id, { familyName: 'Openshaw' })
  const vipRegistration = await register(vip.id)
  const otherRegistration = await register(other.id)
  await restrict(vip.id)

  await t.test('a registration of a restricted patient is 403 outside the care team, audited as denied', async (t) => {
    const res = await get(`/registrations/${vipRegistration}`, desk)
    t.equal(res.statusCode, 403)
    t.equal(res.json().type, 'urn:patient-access:problem:restricted-record')
    t.match(await events(vip.id, 'registration.read'), [{ actorSub: 'desk-1', outcome: 'denied', breakGlass: false, detail: { restricted: true } }])
    t.equal((await get(`/registrations/${vipRegistration}`, teamDesk)).statusCode, 200, 'the care team reads it')
    const glassed = await get(`/registrations/${vipRegistration}`, desk, glass)
    t.equal(glassed.statusCode, 200, 'break-the-glass reads it')
    t.match((await events(vip.id, 'registration.read')).at(-1), {
      actorSub: 'desk-1', outcome: 'success', breakGlass: true, purposeOfUse: 'ETREAT', detail: { breakGlassReason: 'Patient unconscious in ED' },
    })
  })

  await t.test('registration lists withhold restricted patients; asking for that patient is 403', async (t) => {
    const listed = await get(`/registrations?facilityId=${facility.id}`, desk)
    t.equal(listed.statusCode, 200)
    const ids = listed.json().items.map((r: { id: string }) => r.id)
    t.ok(ids.includes(otherRegistration))
    t.notOk(ids.includes(vipRegistration), 'withheld')
    t.equal((await get(`/registrations?patientId=${vip.id}`, desk)).statusCode, 403)
    t.ok((await get(`/registrations?facilityId=${facility.id}`, teamDesk)).json().items.some((r: { id: string }) => r.id === vipRegistration))
  })

  await t.test('the waiting queue keeps the restricted patient in line but withholds the name', async (t) => {
    const entry = async (token: string, headers: Record<string, string> = {}) => {
      const res = await get(`/queue?facilityId=${facility.id}`, token, headers)
      t.equal(res.statusCode, 200)
      return res.json().entries.find((e: { registrationId: string }) => e.registrationId === vipRegistration)
    }
    t.match(await entry(desk), { patientId: vip.id, displayName: 'Restricted record' })
    t.notMatch(JSON.stringify(await entry(desk)), /Vanterpool/)
    t.match(await entry(teamDesk), { displayName: 'Alex Vanterpool' })
    t.match(await entry(desk, glass), { displayName: 'Alex Vanterpool' })
    t.match((await events(vip.id, 'queue.read')).filter((e) => e.actorSub === 'desk-1').map((e) => [e.outcome, e.breakGlass]),
      [['denied', false], ['denied', false], ['success', true]])
  })

  await t.test('coverages and eligibility checks of a restricted patient are 403 outside the care team', async (t) => {
    const { plan } = await payerWithPlan(db)
    const coverage = await coverageFor(db, vip.id, plan.id)
    t.equal((await get(`/coverages/${coverage.id}`, specialist)).statusCode, 403)
    t.equal((await get(`/patients/${vip.id}/coverages`, specialist)).statusCode, 403)
    t.equal((await get(`/coverages/${coverage.id}`, specialist, glass)).statusCode, 200)
    const check = await app.inject({ method: 'POST', url: '/eligibility-checks', headers: { ...bearer(specialist), ...glass }, payload: { coverageId: coverage.id, providerNpi: NPI } })
    t.equal(check.statusCode, 201)
    const read = await get(`/eligibility-checks/${check.json().id}`, specialist)
    t.equal(read.statusCode, 403)
    t.match(await events(vip.id, 'eligibility-check.read'), [{ outcome: 'denied' }])
    t.match(await events(vip.id, 'coverage.read'), [{ outcome: 'denied' }, { outcome: 'success', breakGlass: true }])
  })

  await t.test('ROI requests of a restricted patient are 403 and withheld from the work queue', async (t) => {
    const s = await roiSetup(ctx)
    const open = await createRequest(app, s)
    const hidden = await createRequest(app, s, { patientId: (await createPatient(db, s.facility.id)).id })
    const hiddenPatient = (await db.kysely.selectFrom('roiRequest').select('patientId').where('id', '=', hidden.id).executeTakeFirstOrThrow()).patientId
    await db.kysely.updateTable('patient').set({ restriction: 'employee' }).where('id', '=', hiddenPatient).execute()
    const read = await app.inject({ url: `/roi-requests/${hidden.id}`, headers: s.headers })
    t.equal(read.statusCode, 403)
    t.equal((await app.inject({ url: `/roi-requests/${open.id}`, headers: s.headers })).statusCode, 200)
    const list = await app.inject({ url: `/roi-requests?facilityId=${s.facility.id}`, headers: s.headers })
    t.same(list.json().items.map((r: { id: string }) => r.id), [open.id])
    t.match(await events(hiddenPatient, 'roi_request.search'), [{ outcome: 'denied', resourceId: hidden.id }])
    const glassed = await app.inject({ url: `/roi-requests?facilityId=${s.facility.id}`, headers: { ...s.headers, ...glass } })
    t.equal(glassed.json().items.length, 2)
  })

  await t.test("appointments of a restricted patient are 403; the provider's calendar keeps the booking without the name", async (t) => {
    const c = await clinic(db)
    const scheduler = await ctx.token('scheduler', [c.facility.id], { sub: 'sched-1' })
    const start = localAt('America/New_York', 8, '09:00')
    const booked = await app.inject({
      method: 'POST', url: '/appointments', headers: bearer(scheduler),
      payload: { facilityId: c.facility.id, patientId: c.patient.id, providerId: c.provider.id, appointmentTypeId: c.type.id, start },
    })
    t.equal(booked.statusCode, 201)
    await db.kysely.updateTable('patient').set({ restriction: 'sensitive' }).where('id', '=', c.patient.id).execute()
    const read = await get(`/appointments/${booked.json().id}`, scheduler)
    t.equal(read.statusCode, 403)
    t.equal(read.json().type, 'urn:patient-access:problem:restricted-record')
    t.equal((await get(`/appointments/${booked.json().id}`, scheduler, glass)).statusCode, 200)
    t.match(await events(c.patient.id, 'appointment.read'), [{ outcome: 'denied' }, { outcome: 'success', breakGlass: true, purposeOfUse: 'ETREAT' }])
    const q = `from=${encodeURIComponent(localAt('America/New_York', 8, '00:00'))}&to=${encodeURIComponent(localAt('America/New_York', 9, '00:00'))}`
    const calendar = await get(`/providers/${c.provider.id}/calendar?${q}`, scheduler)
    t.equal(calendar.statusCode, 200)
    t.match(calendar.json().entries, [{ kind: 'appointment', id: booked.json().id, patientId: c.patient.id, patientName: 'Restricted record' }])
    t.notMatch(calendar.body, /Rivera/)
    const glassed = await get(`/providers/${c.provider.id}/calendar?${q}`, scheduler, glass)
    t.match(glassed.json().entries, [{ patientName: 'Rivera, Maria' }])
  })

  await t.test('a malformed break-the-glass reason is refused on any route', async (t) => {
    const res = await get(`/registrations/${otherRegistration}`, desk, { 'x-break-glass-reason': ' ' })
    t.equal(res.statusCode, 400)
    t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
  })
})
