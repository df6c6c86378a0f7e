import t from 'tap'
import { bearer, buildTestApp } from '../../helpers/app.ts'
import { auditEventsFor, createPatient, orgWithFacility } from '../../helpers/factories.ts'

t.test('registrations', async (t) => {
  const ctx = await buildTestApp(t)
  const { app, db } = ctx
  const { facility } = await orgWithFacility(db)
  const desk = await ctx.token('front_desk', [facility.id])
  const post = (url: string, payload: unknown, token = desk) => app.inject({ method: 'POST', url, headers: bearer(token), payload: payload as object })
  const register = async (patientId: string, extra: Record<string, unknown> = {}) => {
    const res = await post('/registrations', {
      kind: 'outpatient_diagnostic', patientId, facilityId: facility.id, location: 'Radiology',
      details: { orderedTests: [{ code: '71046', description: 'Chest X-ray, 2 views' }], orderingProvider: { name: 'Dr. Ruiz', npi: '1245319599' } },
      ...extra,
    })
    if (res.statusCode !== 201) throw new Error(`registration failed: ${res.statusCode} ${res.body}`)
    return res.json()
  }
  const emergency = async (patientId: string, arrivedAt?: string) => {
    const res = await post('/registrations', { kind: 'emergency', patientId, facilityId: facility.id, location: 'ED', arrivedAt, details: { arrivalMode: 'walk_in' } })
    if (res.statusCode !== 201) throw new Error(`registration failed: ${res.statusCode} ${res.body}`)
    return res.json()
  }

  await t.test('every kind registers with its details; bad NPIs, unknown fields and other facilities are refused', async (t) => {
    const p = await createPatient(db, facility.id)
    const dx = await register(p.id)
    t.match(dx, { kind: 'outpatient_diagnostic', status: 'planned', patientId: p.id, details: { orderedTests: [{ code: '71046' }] }, flow: { state: null } })
    const surgery = await post('/registrations', {
      kind: 'surgery', patientId: p.id, facilityId: facility.id, plannedAt: '2026-12-10T13:00:00Z',
      details: { procedure: { code: '47562', description: 'Laparoscopic cholecystectomy' }, surgeon: { name: 'Dr. Hale' }, anesthesia: 'general' },
    })
    t.equal(surgery.statusCode, 201)
    const admission = await post('/registrations', {
      kind: 'direct_admission', patientId: p.id, facilityId: facility.id,
      details: { admittingPhysician: { name: 'Dr. Osei' }, referringOffice: { name: 'Elm Street Family Practice' }, requestedUnit: '4 West', bedType: 'telemetry' },
    })
    t.equal(admission.statusCode, 201)
    const ed = await emergency(p.id)
    t.match(ed, { status: 'arrived', flow: { state: 'waiting' } })
    t.ok(ed.arrivedAt)
    const badNpi = await post('/registrations', {
      kind: 'surgery', patientId: p.id, facilityId: facility.id,
      details: { procedure: { code: '1', description: 'x' }, surgeon: { name: 'Dr. X', npi: '1234567890' } },
    })
    t.equal(badNpi.statusCode, 400)
    t.same(badNpi.json().errors, [{ pointer: '/details/surgeon/npi', detail: 'NPI check digit is wrong' }])
    const unknown = await post('/registrations', { kind: 'emergency', patientId: p.id, facilityId: facility.id, details: { arrivalMode: 'walk_in' }, colour: 'red' })
    t.equal(unknown.statusCode, 400)
    const b = await orgWithFacility(db)
    const userB = await ctx.token('front_desk', [b.facility.id])
    t.equal((await app.inject({ url: `/registrations/${dx.id}`, headers: bearer(userB) })).statusCode, 404)
    t.equal((await post('/registrations', { kind: 'emergency', patientId: p.id, facilityId: b.facility.id, details: { arrivalMode: 'walk_in' } }, userB)).statusCode, 404, "B cannot register A's patient")
    t.match(await auditEventsFor(db, { resourceId: dx.id }), [{ action: 'create', verb: 'registration.create', patientId: p.id, facilityId: facility.id }, { outcome: 'not-found' }])
  })

  await t.test('statuses: planned -> arrived -> in_progress -> finished; illegal moves are 409; cancelling needs a reason', async (t) => {
    const p = await createPatient(db, facility.id)
    const r = await register(p.id)
    const to = (status: string, reason?: string) => post(`/registrations/${r.id}/status`, { status, reason })
    t.equal((await to('finished')).statusCode, 409)
    t.equal((await to('arrived')).statusCode, 200)
    t.equal((await to('in_progress')).statusCode, 200)
    const done = await to('finished')
    t.match(done.json(), { status: 'finished' })
    t.ok(done.json().finishedAt)
    const again = await to('cancelled', 'x')
    t.equal(again.statusCode, 409)
    t.equal(again.json().type, 'urn:patient-access:problem:illegal-transition')
    const r2 = await register(p.id)
    t.equal((await post(`/registrations/${r2.id}/status`, { status: 'cancelled' })).statusCode, 400)
    const cancelled = await post(`/registrations/${r2.id}/status`, { status: 'cancelled', reason: 'Rescheduled' })
    t.match(cancelled.json(), { status: 'cancelled', cancelReason: 'Rescheduled' })
  })

  await t.test('newborn admission creates the baby linked to the mother and the delivery, named by convention; twins get A and B', async (t) => {
    const mother = await createPatient(db, facility.id, { familyName: 'Adeyemi', givenNames: 'Funmi', birthDate: '1992-04-04' })
    const delivery = await post('/registrations', {
      kind: 'direct_admission', patientId: mother.id, facilityId: facility.id,
      details: { admittingPhysician: { name: 'Dr. Obi' }, referringOffice: { name: 'OB Associates' }, requestedUnit: 'L&D', bedType: 'obstetric' },
    })
    const newborn = (order: number, sex: string) =>
      post('/registrations', {
        kind: 'newborn_admission', facilityId: facility.id,
        newborn: { motherPatientId: mother.id, deliveryRegistrationId: delivery.json().id, birthTime: '2026-11-27T03:30:00Z', birthOrder: order, multipleBirth: true, administrativeSex: sex },
      })
    const a = await newborn(1, 'female')
    t.equal(a.statusCode, 201)
    t.match(a.json(), { kind: 'newborn_admission', status: 'arrived', newborn: { motherPatientId: mother.id, deliveryRegistrationId: delivery.json().id, birthOrder: 1 } })
    const baby = await app.inject({ url: `/patients/${a.json().patientId}`, headers: bearer(desk) })
    // 03:30 UTC is still the 26th in New York: the birth date is the facility's local date.
    t.match(baby.json(), { familyName: 'Adeyemi', givenNames: 'Baby Girl A', birthDate: '2026-11-26', motherPatientId: mother.id, multipleBirthOrder: 1, administrativeSex: 'female' })
    const b = await newborn(2, 'male')
    t.equal(b.statusCode, 201, 'the twin is not refused as a duplicate')
    t.equal((await app.inject({ url: `/patients/${b.json().patientId}`, headers: bearer(desk) })).json().givenNames, 'Baby Boy B')
    const twice = await newborn(2, 'male')
    t.equal(twice.statusCode, 409)
    t.equal(twice.json().type, 'urn:patient-access:problem:newborn-exists')
    const count = await db.kysely.selectFrom('patient').select(db.kysely.fn.countAll().as('n')).where('motherPatientId', '=', mother.id).executeTakeFirstOrThrow()
    t.equal(Number(count.n), 2, 'the refused admission left no patient behind')
    const stranger = await createPatient(db, facility.id)
    const wrong = await post('/registrations', {
      kind: 'newborn_admission', facilityId: facility.id,
      newborn: { motherPatientId: stranger.id, deliveryRegistrationId: delivery.json().id, birthTime: '2026-11-27T03:30:00Z' },
    })
    t.equal(wrong.statusCode, 409)
    t.equal(wrong.json().type, 'urn:patient-access:problem:invalid-delivery')
    t.match(await auditEventsFor(db, { resourceId: a.json().patientId }), [{ verb: 'patient.create', facilityId: facility.id }, { verb: 'patient.read' }])
  })

  await t.test('check-in lists complete and missing items; missing items need an override with a reason', async (t) => {
    const p = await createPatient(db, facility.id)
    const r = await register(p.id, { referralRequired: true, copayDueCents: 2500 })
    const incomplete = await post(`/registrations/${r.id}/check-in`, { demographicsConfirmed: true, insuranceVerified: false, copayment: { amountCents: 1000, method: 'cash' } })
    t.equal(incomplete.statusCode, 422)
    t.equal(incomplete.json().type, 'urn:patient-access:problem:check-in-incomplete')
    t.same(incomplete.json().missing, ['insurance', 'referral', 'consent', 'copayment'])
    const nothing = await db.kysely.selectFrom('payment').select('id').where('registrationId', '=', r.id).execute()
    t.equal(nothing.length, 0, 'a refused check-in collects nothing')
    const res = await post(`/registrations/${r.id}/check-in`, {
      arrivedAt: '2026-11-27T09:00:00Z', demographicsConfirmed: true, insuranceVerified: true, referralVerified: false,
      consentForms: [{ form: 'General consent', signedAt: '2026-11-27T09:01:00Z' }],
      copayment: { amountCents: 2500, method: 'card', reference: 'AUTH-1' }, override: { reason: 'Referral faxed, arriving within the hour' },
    })
    t.equal(res.statusCode, 201)
    const ci = res.json()
    t.same(ci.complete, ['demographics', 'insurance', 'consent', 'copayment'])
    t.same(ci.missing, ['referral'])
    t.equal(ci.overrideReason, 'Referral faxed, arriving within the hour')
    t.match(ci.payments, [{ amountCents: 2500, method: 'card', reference: 'AUTH-1', receiptNumber: /^R-\d+$/, refunds: [], refundedCents: 0 }])
    const reg = (await app.inject({ url: `/registrations/${r.id}`, headers: bearer(desk) })).json()
    t.match(reg, { status: 'arrived', arrivedAt: '2026-11-27T09:00:00.000Z', flow: { state: 'waiting', waitingAt: '2026-11-27T09:00:00.000Z' } })
    t.match(await auditEventsFor(db, { resourceId: ci.id }), [{ verb: 'check-in.create', patientId: p.id, facilityId: facility.id, detail: { missing: ['referral'], overrideReason: 'Referral faxed, arriving within the hour' } }])
    const again = await post(`/registrations/${r.id}/check-in`, { demographicsConfirmed: true, insuranceVerified: true })
    t.equal(again.statusCode, 409)

    const paymentId = ci.payments[0].id
    const refund = await post(`/payments/${paymentId}/refunds`, { amountCents: 1000, method: 'card', reason: 'Copay lowered after eligibility check' })
    t.equal(refund.statusCode, 201)
    t.match(refund.json(), { amountCents: 2500, refundedCents: 1000, refunds: [{ amountCents: 1000, reason: 'Copay lowered after eligibility check', receiptNumber: /^R-\d+$/ }] })
    const tooMuch = await post(`/payments/${paymentId}/refunds`, { amountCents: 1501, method: 'card', reason: 'x' })
    t.equal(tooMuch.statusCode, 409)
    t.equal(tooMuch.json().type, 'urn:patient-access:problem:refund-exceeds-payment')
    const list = await app.inject({ url: `/registrations/${r.id}/payments`, headers: bearer(desk) })
    t.equal(list.json().items[0].refundedCents, 1000)
  })

  await t.test('a complete check-in needs no override; a co-payment collected earlier counts', async (t) => {
    const p = await createPatient(db, facility.id)
    const r = await register(p.id, { copayDueCents: 3000 })
    const paid = await post(`/registrations/${r.id}/payments`, { amountCents: 3000, method: 'cash' })
    t.equal(paid.statusCode, 201)
    const res = await post(`/registrations/${r.id}/check-in`, { demographicsConfirmed: true, insuranceVerified: true, consentForms: [{ form: 'HIPAA notice', signedAt: '2026-11-27T09:01:00Z' }] })
    t.equal(res.statusCode, 201)
    t.same(res.json().missing, [])
    t.same(res.json().complete, ['demographics', 'insurance', 'consent', 'copayment'])
    t.equal(res.json().overrideReason, null)
  })

  await t.test('an appointment checks in with the same record; it becomes checked-in and cannot check in twice', async (t) => {
    const p = await createPatient(db, facility.id)
    const provider = await db.kysely.insertInto('provider').values({ organizationId: facility.organizationId, npi: '1245319599', displayName: 'Dr. Ruiz' } as never).returning('id').executeTakeFirstOrThrow()
    const type = await db.kysely.insertInto('appointmentType').values({ organizationId: facility.organizationId, code: 'follow-up', name: 'Follow-up', durationMinutes: 20 } as never).returning('id').executeTakeFirstOrThrow()
    const appt = await db.kysely.insertInto('appointment').values({
      facilityId: facility.id, patientId: p.id, providerId: provider.id, appointmentTypeId: type.id,
      startAt: new Date(Date.now() + 3600000), endAt: new Date(Date.now() + 4800000), createdBy: 'test',
    } as never).returning('id').executeTakeFirstOrThrow()
    const body = { demographicsConfirmed: true, insuranceVerified: true, consentForms: [{ form: 'General consent', signedAt: '2026-11-27T09:00:00Z' }], copayment: { amountCents: 2000, method: 'card' } }
    const res = await post(`/appointments/${appt.id}/check-in`, body)
    t.equal(res.statusCode, 201)
    t.match(res.json(), { appointmentId: appt.id, registrationId: null, patientId: p.id, missing: [], payments: [{ amountCents: 2000, checkInId: res.json().id, registrationId: null }] })
    const row = await db.kysely.selectFrom('appointment').select('status').where('id', '=', appt.id).executeTakeFirstOrThrow()
    t.equal(row.status, 'checked-in')
    t.equal((await post(`/appointments/${appt.id}/check-in`, body)).statusCode, 409)
    const b = await orgWithFacility(db)
    t.equal((await post(`/appointments/${appt.id}/check-in`, body, await ctx.token('front_desk', [b.facility.id]))).statusCode, 404)
    const badCheck = await post(`/registrations/${(await register(p.id)).id}/check-in`, { ...body, eligibilityCheckId: '00000000-0000-4000-8000-000000000000' })
    t.equal(badCheck.statusCode, 422)
    t.equal(badCheck.json().type, 'urn:patient-access:problem:unknown-eligibility-check')
  })

  await t.test('intake proposes ESI levels by the v4 decision points; staff may override with a reason', async (t) => {
    const base = { requiresImmediateLifeSavingIntervention: false, highRiskSituation: false, confusedLethargicDisoriented: false, severePainOrDistress: false, expectedResources: 0 }
    const cases: [string, Record<string, unknown>, number, string][] = [
      ['life-saving intervention', { requiresImmediateLifeSavingIntervention: true }, 1, 'A'],
      ['high risk', { highRiskSituation: true }, 2, 'B'],
      ['pain 8/10', { painScore: 8, expectedResources: 1 }, 2, 'B'],
      ['no resources', {}, 5, 'C'],
      ['one resource', { expectedResources: 1, vitalSigns: { heartRate: 130 } }, 4, 'C'],
      ['two resources', { expectedResources: 2, vitalSigns: { heartRate: 90, respiratoryRate: 16, oxygenSaturation: 98 } }, 3, 'C'],
      ['two resources, danger-zone vitals', { expectedResources: 3, vitalSigns: { heartRate: 118 } }, 2, 'D'],
      ['two resources, low SpO2', { expectedResources: 2, vitalSigns: { oxygenSaturation: 89 } }, 2, 'D'],
    ]
    for (const [name, answers, level, point] of cases) {
      const p = await createPatient(db, facility.id, { birthDate: '1970-01-01' })
      const r = await emergency(p.id)
      const res = await post(`/registrations/${r.id}/intake`, { chiefComplaint: 'Chest pain', answers: { ...base, ...answers } })
      t.equal(res.statusCode, 201, name)
      t.match(res.json(), { proposedEsi: level, esiLevel: level, decisionPoint: point }, name)
    }
    const child = await createPatient(db, facility.id, { birthDate: new Date(Date.now() - 2 * 365 * 86400000).toISOString().slice(0, 10) })
    const cr = await emergency(child.id)
    const childRes = await post(`/registrations/${cr.id}/intake`, { chiefComplaint: 'Fever', answers: { ...base, expectedResources: 2, vitalSigns: { heartRate: 150 } } })
    t.match(childRes.json(), { proposedEsi: 3 }, 'heart rate 150 is not danger zone at age 2')

    const p = await createPatient(db, facility.id)
    const r = await emergency(p.id)
    const over = await post(`/registrations/${r.id}/intake`, { chiefComplaint: 'Ankle injury', answers: { ...base, expectedResources: 1 }, esiOverride: { level: 3, reason: 'Deformity; likely needs reduction' } })
    t.match(over.json(), { proposedEsi: 4, esiLevel: 3, overrideReason: 'Deformity; likely needs reduction' })
    t.match(await auditEventsFor(db, { resourceId: over.json().id }), [{ verb: 'registration.intake', patientId: p.id, facilityId: facility.id, detail: { proposedEsi: 4, esiLevel: 3, overrideReason: 'Deformity; likely needs reduction' } }])
    t.equal((await app.inject({ url: `/registrations/${r.id}`, headers: bearer(desk) })).json().esiLevel, 3)
    t.equal((await post(`/registrations/${r.id}/intake`, { chiefComplaint: 'x', answers: base })).statusCode, 409, 'one intake per registration')
    const planned = await register(p.id)
    t.equal((await post(`/registrations/${planned.id}/intake`, { chiefComplaint: 'x', answers: base })).statusCode, 409, 'intake needs arrival')
    t.equal((await app.inject({ url: `/registrations/${r.id}/intake`, headers: bearer(desk) })).json().esiLevel, 3)
  })

  await t.test('the queue orders by ESI then arrival with waits; flow states move forward with timestamps', async (t) => {
    const { facility: f } = await orgWithFacility(db)
    const token = await ctx.token('front_desk', [f.id])
    const base = { requiresImmediateLifeSavingIntervention: false, highRiskSituation: false, confusedLethargicDisoriented: false, severePainOrDistress: false }
    const arrive = async (minutesAgo: number, resources: number | null) => {
      const p = await createPatient(db, f.id)
      const r = await post('/registrations', { kind: 'emergency', patientId: p.id, facilityId: f.id, location: 'ED', arrivedAt: new Date(Date.now() - minutesAgo * 60000).toISOString(), details: { arrivalMode: 'walk_in' } }, token)
      if (resources !== null) await post(`/registrations/${r.json().id}/intake`, { chiefComplaint: 'x', answers: { ...base, expectedResources: resources } }, token)
      return r.json().id as string
    }
    const level5old = await arrive(90, 0)
    const level3new = await arrive(10, 2)
    const level3old = await arrive(40, 2)
    const untriaged = await arrive(60, null)
    const queue = await app.inject({ url: `/queue?facilityId=${f.id}&location=ED`, headers: bearer(token) })
    t.equal(queue.statusCode, 200)
    const entries = queue.json().entries
    t.same(entries.map((e: { registrationId: string }) => e.registrationId), [level3old, level3new, level5old, untriaged])
    t.ok(entries[0].waitMinutes >= 39 && entries[0].waitMinutes <= 41)
    t.ok(typeof entries[0].displayName === 'string')

    const roomed = await post(`/registrations/${level3old}/flow`, { state: 'roomed' }, token)
    t.match(roomed.json(), { status: 'in_progress', flow: { state: 'roomed' } })
    t.ok(roomed.json().flow.roomedAt)
    t.equal((await post(`/registrations/${level3old}/flow`, { state: 'waiting' }, token)).statusCode, 409, 'flow moves forward only')
    const out = await post(`/registrations/${level3old}/flow`, { state: 'checked_out' }, token)
    t.match(out.json(), { status: 'finished', flow: { state: 'checked_out' } })
    const after = (await app.inject({ url: `/queue?facilityId=${f.id}`, headers: bearer(token) })).json().entries
    t.notOk(after.some((e: { registrationId: string }) => e.registrationId === level3old), 'checked-out patients leave the queue')
    t.equal((await app.inject({ url: `/queue?facilityId=${facility.id}`, headers: bearer(token) })).statusCode, 404, "another facility's queue is 404")
    const reads = await db.kysely.selectFrom('auditEvent').selectAll().where('verb', '=', 'queue.read').where('resourceId', '=', level5old).execute()
    t.ok(reads.length >= 1)
    t.equal(reads[0].facilityId, f.id)
  })

  await t.test('merging a patient moves its registrations, check-ins and payments to the survivor', async (t) => {
    const admin = await ctx.token(['admin', 'front_desk'], [facility.id])
    const survivor = await createPatient(db, facility.id)
    const dup = await createPatient(db, facility.id)
    const r = await register(dup.id)
    await post(`/registrations/${r.id}/payments`, { amountCents: 500, method: 'cash' })
    const res = await post(`/patients/${dup.id}/merge`, { survivorId: survivor.id, reason: 'duplicate' }, admin)
    t.equal(res.statusCode, 200)
    const moved = await db.kysely.selectFrom('registration').select('patientId').where('id', '=', r.id).executeTakeFirstOrThrow()
    t.equal(moved.patientId, survivor.id)
    const pay = await db.kysely.selectFrom('payment').select('patientId').where('registrationId', '=', r.id).executeTakeFirstOrThrow()
    t.equal(pay.patientId, survivor.id)
    const blocked = await post('/registrations', { kind: 'emergency', patientId: dup.id, facilityId: facility.id, details: { arrivalMode: 'walk_in' } })
    t.equal(blocked.statusCode, 409, 'a merged record takes no new registrations')
  })
})
