import t from 'tap'
import { bearer, buildTestApp } from '../../helpers/app.ts'
import { createPatient, orgWithFacility } from '../../helpers/factories.ts'
import { fieldAccessMarkdown } from '../../../src/modules/patients/patient.service.ts'

t.test('restricted records and minimum necessary', async (t) => {
  const ctx = await buildTestApp(t)
  const { app, db } = ctx
  const { facility } = await orgWithFacility(db)
  const desk = await ctx.token('front_desk', [facility.id], { sub: 'desk-1' })
  const nurse = await ctx.token('front_desk', [facility.id], { sub: 'care-1' })
  const auditor = await ctx.token('auditor', [facility.id])
  const events = (patientId: string, verb: string) =>
    db.kysely.selectFrom('auditEvent').selectAll().where('patientId', '=', patientId).where('verb', '=', verb).orderBy('id').execute()

  const full = {
    facilityId: facility.id, familyName: 'Vanterpool', givenNames: 'Iris', birthDate: '1970-02-03', ssn: '123-45-6789',
    phones: [{ use: 'mobile', number: '+15555550111' }], email: 'iris@example.org', address: { line1: '9 Elm St', city: 'Albany', postalCode: '12207' },
    emergencyContacts: [{ name: 'Otto Vanterpool', relationship: 'spouse', phone: '+15555550112' }], guarantor: { relationship: 'self' },
  }
  const created = await app.inject({ method: 'POST', url: '/patients', headers: bearer(desk), payload: { ...full, restriction: 'vip' } })
  t.equal(created.statusCode, 201)
  const vip = created.json()
  t.equal(vip.restriction, 'vip')
  const put = await app.inject({ method: 'PUT', url: `/patients/${vip.id}/care-team/care-1`, headers: bearer(desk) })
  t.equal(put.statusCode, 204)

  await t.test('a restricted patient read outside the care team is 403 restricted-record, and the denial is audited', async (t) => {
    const res = await app.inject({ url: `/patients/${vip.id}`, headers: bearer(desk) })
    t.equal(res.statusCode, 403)
    t.match(res.json(), { type: 'urn:patient-access:problem:restricted-record', status: 403 })
    t.notMatch(res.body, /Vanterpool/)
    t.match(await events(vip.id, 'patient.read'), [{ outcome: 'denied', breakGlass: false, facilityId: facility.id }])
  })

  await t.test('the care team reads a restricted patient without breaking the glass', async (t) => {
    const res = await app.inject({ url: `/patients/${vip.id}`, headers: bearer(nurse) })
    t.equal(res.statusCode, 200)
    t.equal(res.json().familyName, 'Vanterpool')
    const last = (await events(vip.id, 'patient.read')).at(-1)!
    t.match(last, { actorSub: 'care-1', outcome: 'success', breakGlass: false, purposeOfUse: 'HOPERAT' })
  })

  await t.test('breaking the glass reads a restricted patient, flags the audit event with the reason and ETREAT, and lists it for review', async (t) => {
    const res = await app.inject({ url: `/patients/${vip.id}`, headers: { ...bearer(desk), 'x-break-glass-reason': 'Patient unconscious in ED' } })
    t.equal(res.statusCode, 200)
    t.equal(res.json().familyName, 'Vanterpool')
    const last = (await events(vip.id, 'patient.read')).at(-1)!
    t.match(last, { actorSub: 'desk-1', outcome: 'success', breakGlass: true, purposeOfUse: 'ETREAT', detail: { breakGlassReason: 'Patient unconscious in ED' } })
    const review = await app.inject({ url: `/audit-events?breakGlass=true&patientId=${vip.id}`, headers: bearer(auditor) })
    t.equal(review.statusCode, 200)
    t.match(review.json().items, [{ verb: 'patient.read', actor: { sub: 'desk-1' }, breakGlass: true, purposeOfUse: 'ETREAT' }])
  })

  await t.test('an empty or over-long break-the-glass reason is refused', async (t) => {
    const long = await app.inject({ url: `/patients/${vip.id}`, headers: { ...bearer(desk), 'x-break-glass-reason': 'x'.repeat(501) } })
    t.equal(long.statusCode, 400)
    const empty = await app.inject({ url: `/patients/${vip.id}`, headers: { ...bearer(desk), 'x-break-glass-reason': '' } })
    t.equal(empty.statusCode, 400)
  })

  await t.test('search shows a restricted patient outside the care team as id and flag only, in full under break-the-glass', async (t) => {
    const other = await createPatient(db, facility.id, { familyName: 'Vanterpool', givenNames: 'Hank', birthDate: '1970-02-03' })
    const plain = await app.inject({ url: '/patients?birthDate=1970-02-03', headers: bearer(desk) })
    t.equal(plain.statusCode, 200)
    const items = plain.json().items as Record<string, unknown>[]
    t.same(items.find((i) => i.id === vip.id), { id: vip.id, restricted: true })
    t.equal(items.find((i) => i.id === other.id)?.givenNames, 'Hank')
    t.match((await events(vip.id, 'patient.search')).at(-1), { breakGlass: false, detail: { restricted: true } })
    const glass = await app.inject({ url: '/patients?birthDate=1970-02-03', headers: { ...bearer(desk), 'x-break-glass-reason': 'Identity check for ED arrival' } })
    t.equal((glass.json().items as Record<string, unknown>[]).find((i) => i.id === vip.id)?.givenNames, 'Iris')
    t.match((await events(vip.id, 'patient.search')).at(-1), { breakGlass: true, purposeOfUse: 'ETREAT', detail: { breakGlassReason: 'Identity check for ED arrival' } })
    t.equal((await events(other.id, 'patient.search')).at(-1)!.breakGlass, false, 'an unrestricted hit is not a break-the-glass access')
  })

  await t.test('changing a restricted patient outside the care team needs the glass broken too; lifting the restriction opens it', async (t) => {
    const denied = await app.inject({ method: 'PATCH', url: `/patients/${vip.id}`, headers: bearer(desk), payload: { preferredName: 'Izzy' } })
    t.equal(denied.statusCode, 403)
    t.equal(denied.json().type, 'urn:patient-access:problem:restricted-record')
    const row = await db.kysely.selectFrom('patient').select(['preferredName', 'restriction']).where('id', '=', vip.id).executeTakeFirstOrThrow()
    t.same(row, { preferredName: null, restriction: 'vip' })
    const lifted = await app.inject({ method: 'PATCH', url: `/patients/${vip.id}`, headers: bearer(nurse), payload: { restriction: null } })
    t.equal(lifted.statusCode, 200)
    t.equal(lifted.json().restriction, null)
    t.equal((await app.inject({ url: `/patients/${vip.id}`, headers: bearer(desk) })).statusCode, 200)
    const bad = await app.inject({ method: 'PATCH', url: `/patients/${vip.id}`, headers: bearer(nurse), payload: { restriction: 'celebrity' } })
    t.equal(bad.statusCode, 400)
  })

  await t.test('care team changes are audited and idempotent; removal closes the record again', async (t) => {
    await app.inject({ method: 'PATCH', url: `/patients/${vip.id}`, headers: bearer(nurse), payload: { restriction: 'employee' } })
    const again = await app.inject({ method: 'PUT', url: `/patients/${vip.id}/care-team/care-1`, headers: bearer(desk) })
    t.equal(again.statusCode, 204)
    t.match(await events(vip.id, 'patient.care-team.add'), [{ actorSub: 'desk-1', action: 'update', facilityId: facility.id, detail: { userSub: 'care-1' } }])
    const del = await app.inject({ method: 'DELETE', url: `/patients/${vip.id}/care-team/care-1`, headers: bearer(desk) })
    t.equal(del.statusCode, 204)
    t.match(await events(vip.id, 'patient.care-team.remove'), [{ detail: { userSub: 'care-1' } }])
    t.equal((await app.inject({ url: `/patients/${vip.id}`, headers: bearer(nurse) })).statusCode, 403)
    const scheduler = await ctx.token('scheduler', [facility.id])
    t.equal((await app.inject({ method: 'PUT', url: `/patients/${vip.id}/care-team/x`, headers: bearer(scheduler) })).statusCode, 403, 'needs patient:write')
    const elsewhere = await orgWithFacility(db)
    const outsider = await ctx.token('front_desk', [elsewhere.facility.id])
    t.equal((await app.inject({ method: 'PUT', url: `/patients/${vip.id}/care-team/x`, headers: bearer(outsider) })).statusCode, 404)
  })

  await t.test('merging a restricted record needs the care team or the glass broken; the survivor keeps the restriction and the care team', async (t) => {
    const admin = await ctx.token(['admin', 'front_desk'], [facility.id], { sub: 'admin-1' })
    const dup = await createPatient(db, facility.id, { familyName: 'Mergeton' })
    const survivor = await createPatient(db, facility.id, { familyName: 'Mergeton' })
    await db.kysely.updateTable('patient').set({ restriction: 'sensitive' }).where('id', '=', dup.id).execute()
    await app.inject({ method: 'PUT', url: `/patients/${dup.id}/care-team/care-1`, headers: bearer(desk) })
    const payload = { survivorId: survivor.id, reason: 'Same person registered twice' }
    const denied = await app.inject({ method: 'POST', url: `/patients/${dup.id}/merge`, headers: bearer(admin), payload })
    t.equal(denied.statusCode, 403)
    t.equal(denied.json().type, 'urn:patient-access:problem:restricted-record')
    t.equal((await db.kysely.selectFrom('patient').select('active').where('id', '=', dup.id).executeTakeFirstOrThrow()).active, true, 'nothing merged')
    const merged = await app.inject({ method: 'POST', url: `/patients/${dup.id}/merge`, headers: { ...bearer(admin), 'x-break-glass-reason': 'Duplicate review ticket 4411' }, payload })
    t.equal(merged.statusCode, 200)
    t.equal(merged.json().restriction, 'sensitive')
    t.match(await events(dup.id, 'patient.merge'), [{ breakGlass: true, purposeOfUse: 'ETREAT', detail: { breakGlassReason: 'Duplicate review ticket 4411' } }])
    t.match(await events(survivor.id, 'patient.merge'), [{ breakGlass: false }], 'the unrestricted survivor was not a break-the-glass access')
    t.equal((await app.inject({ url: `/patients/${survivor.id}`, headers: bearer(nurse) })).statusCode, 200, 'the care team follows the survivor')
    t.equal((await app.inject({ url: `/patients/${survivor.id}`, headers: bearer(desk) })).statusCode, 403)
  })

  await t.test('minimum necessary: each role sees exactly its field groups', async (t) => {
    const p = (await app.inject({ method: 'POST', url: '/patients', headers: bearer(desk), payload: { ...full, familyName: 'Matrixson', birthDate: '1955-01-01', ssn: '987-65-4321' } })).json()
    const expected = {
      front_desk: { ssn: '***-**-4321', contact: true, emergency: true, guarantor: true, withheld: ['ssnFull'] },
      integrator: { ssn: '***-**-4321', contact: true, emergency: true, guarantor: true, withheld: ['ssnFull'] },
      roi_specialist: { ssn: '987-65-4321', contact: true, emergency: true, guarantor: true, withheld: [] },
      eligibility_specialist: { ssn: '***-**-4321', contact: true, emergency: false, guarantor: true, withheld: ['emergencyContacts', 'ssnFull'] },
      scheduler: { ssn: null, contact: true, emergency: false, guarantor: false, withheld: ['emergencyContacts', 'guarantor', 'ssnLast4', 'ssnFull'] },
      admin: { ssn: '***-**-4321', contact: true, emergency: false, guarantor: false, withheld: ['emergencyContacts', 'guarantor', 'ssnFull'] },
    } as const
    for (const [role, e] of Object.entries(expected)) {
      const res = await app.inject({ url: `/patients/${p.id}`, headers: bearer(await ctx.token(role as keyof typeof expected, [facility.id])) })
      t.equal(res.statusCode, 200, role)
      const body = res.json()
      t.equal(body.familyName, 'Matrixson', `${role} sees identity`)
      t.equal(body.ssn, e.ssn, `${role} ssn`)
      t.same(body.phones, e.contact ? full.phones : [], `${role} phones`)
      t.equal(body.email, e.contact ? full.email : null, `${role} email`)
      t.same(body.emergencyContacts, e.emergency ? full.emergencyContacts : [], `${role} emergency contacts`)
      t.same(body.guarantor, e.guarantor ? full.guarantor : null, `${role} guarantor`)
      t.same(body.withheld, e.withheld, `${role} withheld groups`)
    }
    t.match(fieldAccessMarkdown(), /\| scheduler \| yes \| yes \| no \| no \| no \| no \|/)
  })
})
