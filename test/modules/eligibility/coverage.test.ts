import t from 'tap'
import { bearer, buildTestApp } from '../../helpers/app.ts'
import { usingPostgres } from '../../helpers/db.ts'
import { auditEventsFor, createPatient, orgWithFacility } from '../../helpers/factories.ts'
import { coverageFor, NPI, OTHER_NPI, payerWithPlan } from './fixtures.ts'

t.test('payers, plans, networks and coverages', async (t) => {
  const ctx = await buildTestApp(t)
  const { app, db } = ctx
  const { facility } = await orgWithFacility(db)
  const specialist = await ctx.token('eligibility_specialist', [facility.id])

  await t.test('payer, network, plan and participation are created over HTTP; the plan lists its in-network NPIs', async (t) => {
    const payer = await app.inject({ method: 'POST', url: '/payers', headers: bearer(specialist), payload: { name: 'Tri-State Health', x12PayerId: 'TRISTATE1' } })
    t.equal(payer.statusCode, 201, payer.body)
    t.equal(payer.headers.etag, '"1"')
    const dup = await app.inject({ method: 'POST', url: '/payers', headers: bearer(specialist), payload: { name: 'Other', x12PayerId: 'TRISTATE1' } })
    t.equal(dup.statusCode, 409)
    t.equal(dup.json().type, 'urn:patient-access:problem:duplicate-payer')
    const network = await app.inject({ method: 'POST', url: `/payers/${payer.json().id}/networks`, headers: bearer(specialist), payload: { name: 'Select' } })
    t.equal(network.statusCode, 201)
    const plan = await app.inject({
      method: 'POST', url: '/plans', headers: bearer(specialist),
      payload: { payerId: payer.json().id, networkId: network.json().id, name: 'Select HMO', planType: 'HMO', copayCents: 3000, coinsurancePercent: 10 },
    })
    t.equal(plan.statusCode, 201, plan.body)
    t.match(plan.json(), { copayCents: 3000, deductibleCents: null, priorAuthServiceTypes: [] })
    const put = await app.inject({ method: 'PUT', url: `/networks/${network.json().id}/providers/${NPI}`, headers: bearer(specialist), payload: { effectiveFrom: '2026-01-01', effectiveTo: '2026-06-30' } })
    t.equal(put.statusCode, 200, put.body)
    await app.inject({ method: 'PUT', url: `/networks/${network.json().id}/providers/${OTHER_NPI}`, headers: bearer(specialist), payload: { effectiveFrom: '2026-01-01' } })
    const badNpi = await app.inject({ method: 'PUT', url: `/networks/${network.json().id}/providers/1234567890`, headers: bearer(specialist), payload: { effectiveFrom: '2026-01-01' } })
    t.equal(badNpi.statusCode, 400)
    const all = await app.inject({ url: `/plans/${plan.json().id}/network-providers`, headers: bearer(specialist) })
    t.same(all.json().items.map((p: { npi: string }) => p.npi), [NPI, OTHER_NPI])
    const inJuly = await app.inject({ url: `/plans/${plan.json().id}/network-providers?date=2026-07-15`, headers: bearer(specialist) })
    t.same(inJuly.json().items, [{ npi: OTHER_NPI, effectiveFrom: '2026-01-01', effectiveTo: null }])
    const patch = await app.inject({ method: 'PATCH', url: `/plans/${plan.json().id}`, headers: { ...bearer(specialist), 'if-match': '"1"' }, payload: { copayCents: 3500 } })
    t.equal(patch.statusCode, 200)
    const stale = await app.inject({ method: 'PATCH', url: `/plans/${plan.json().id}`, headers: { ...bearer(specialist), 'if-match': '"1"' }, payload: { copayCents: 1 } })
    t.equal(stale.statusCode, 412)
    t.match(await auditEventsFor(db, { resourceId: plan.json().id }), [{ verb: 'plan.create' }, { verb: 'plan.update' }])
  })

  await t.test('a coverage with another subscriber is created, read and listed; each access is audited with patient and facility', async (t) => {
    const { plan } = await payerWithPlan(db)
    const patient = await createPatient(db, facility.id)
    const res = await app.inject({
      method: 'POST', url: `/patients/${patient.id}/coverages`, headers: bearer(specialist),
      payload: {
        planId: plan.id, priority: 'primary', relationship: 'child', subscriber: { familyName: 'Parent', givenNames: 'Pat', birthDate: '1975-04-04' },
        memberId: 'ABC-123', groupNumber: 'GRP1', effectiveFrom: '2026-01-01',
      },
    })
    t.equal(res.statusCode, 201, res.body)
    t.match(res.json(), { patientId: patient.id, planId: plan.id, payerId: plan.payerId, status: 'active', relationship: 'child', subscriber: { familyName: 'Parent', birthDate: '1975-04-04' }, effectiveTo: null, version: 1 })
    const id = res.json().id
    const get = await app.inject({ url: `/coverages/${id}`, headers: bearer(specialist) })
    t.equal(get.statusCode, 200)
    t.equal(get.headers.etag, '"1"')
    const list = await app.inject({ url: `/patients/${patient.id}/coverages`, headers: bearer(specialist) })
    t.same(list.json().items.map((c: { id: string }) => c.id), [id])
    const events = await auditEventsFor(db, { resourceId: id })
    t.match(events, [
      { action: 'create', verb: 'coverage.create', patientId: patient.id, facilityId: facility.id },
      { action: 'read', verb: 'coverage.read', patientId: patient.id, facilityId: facility.id },
    ])
    const search = await db.kysely.selectFrom('auditEvent').selectAll().where('verb', '=', 'coverage.search').where('patientId', '=', patient.id).execute()
    t.equal(search.length, 1)
    t.notMatch(ctx.logs(), /Parent|ABC-123/, 'no subscriber name or member id in the logs')
  })

  await t.test('subscriber rules: self has none, anyone else needs one; bad periods are refused', async (t) => {
    const { plan } = await payerWithPlan(db)
    const patient = await createPatient(db, facility.id)
    const post = (payload: Record<string, unknown>) => app.inject({ method: 'POST', url: `/patients/${patient.id}/coverages`, headers: bearer(specialist), payload: { planId: plan.id, priority: 'primary', memberId: 'M1', effectiveFrom: '2026-01-01', ...payload } })
    const selfWith = await post({ relationship: 'self', subscriber: { familyName: 'X', givenNames: 'Y', birthDate: '1970-01-01' } })
    t.equal(selfWith.statusCode, 400)
    t.equal(selfWith.json().errors[0].pointer, '/subscriber')
    const spouseWithout = await post({ relationship: 'spouse' })
    t.equal(spouseWithout.statusCode, 400)
    const backwards = await post({ relationship: 'self', effectiveTo: '2025-12-31' })
    t.same(backwards.json().errors, [{ pointer: '/effectiveTo', detail: 'before effectiveFrom' }])
    const unknown = await post({ relationship: 'self', color: 'blue' })
    t.equal(unknown.statusCode, 400)
    const rows = await db.kysely.selectFrom('coverage').select('id').where('patientId', '=', patient.id).execute()
    t.equal(rows.length, 0)
  })

  await t.test('one active coverage per priority: the second primary is 409; cancelling the first frees the slot', async (t) => {
    const { plan } = await payerWithPlan(db)
    const patient = await createPatient(db, facility.id)
    const body = { planId: plan.id, priority: 'primary', relationship: 'self', memberId: 'M1', effectiveFrom: '2026-01-01' }
    const first = await app.inject({ method: 'POST', url: `/patients/${patient.id}/coverages`, headers: bearer(specialist), payload: body })
    t.equal(first.statusCode, 201)
    const second = await app.inject({ method: 'POST', url: `/patients/${patient.id}/coverages`, headers: bearer(specialist), payload: { ...body, memberId: 'M2' } })
    t.equal(second.statusCode, 409)
    t.equal(second.json().type, 'urn:patient-access:problem:coverage-priority-taken')
    const secondary = await app.inject({ method: 'POST', url: `/patients/${patient.id}/coverages`, headers: bearer(specialist), payload: { ...body, memberId: 'M2', priority: 'secondary' } })
    t.equal(secondary.statusCode, 201)
    const promote = await app.inject({ method: 'PATCH', url: `/coverages/${secondary.json().id}`, headers: bearer(specialist), payload: { priority: 'primary' } })
    t.equal(promote.statusCode, 409, 'an update into a taken priority is refused too')
    const cancel = await app.inject({ method: 'PATCH', url: `/coverages/${first.json().id}`, headers: { ...bearer(specialist), 'if-match': '"1"' }, payload: { status: 'cancelled', effectiveTo: '2026-10-31' } })
    t.equal(cancel.statusCode, 200, cancel.body)
    t.equal(cancel.headers.etag, '"2"')
    const promoted = await app.inject({ method: 'PATCH', url: `/coverages/${secondary.json().id}`, headers: bearer(specialist), payload: { priority: 'primary' } })
    t.equal(promoted.statusCode, 200)
    // The database itself holds the rule, whatever the application does.
    await t.rejects(coverageFor(db, patient.id, plan.id, { priority: 'primary' }), { code: '23505' })
  })

  await t.test('two concurrent primaries for one patient: exactly one wins', { skip: !usingPostgres() && 'PGlite runs one transaction at a time; concurrency needs real Postgres' }, async (t) => {
    const { plan } = await payerWithPlan(db)
    const patient = await createPatient(db, facility.id)
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => app.inject({
      method: 'POST', url: `/patients/${patient.id}/coverages`, headers: bearer(specialist),
      payload: { planId: plan.id, priority: 'primary', relationship: 'self', memberId: `M${i}`, effectiveFrom: '2026-01-01' },
    })))
    t.same(results.map((r) => r.statusCode).sort(), [201, 409, 409, 409, 409, 409, 409, 409])
  })

  await t.test('If-Match on PATCH and DELETE; DELETE keeps the row as entered-in-error', async (t) => {
    const { plan } = await payerWithPlan(db)
    const patient = await createPatient(db, facility.id)
    const cov = await coverageFor(db, patient.id, plan.id)
    const stale = await app.inject({ method: 'PATCH', url: `/coverages/${cov.id}`, headers: { ...bearer(specialist), 'if-match': '"7"' }, payload: { memberId: 'NEW1' } })
    t.equal(stale.statusCode, 412)
    const toSpouse = await app.inject({ method: 'PATCH', url: `/coverages/${cov.id}`, headers: bearer(specialist), payload: { relationship: 'spouse' } })
    t.equal(toSpouse.statusCode, 400, 'becoming a dependent needs the subscriber')
    const ok = await app.inject({
      method: 'PATCH', url: `/coverages/${cov.id}`, headers: { ...bearer(specialist), 'if-match': '"1"' },
      payload: { relationship: 'spouse', subscriber: { familyName: 'Spouse', givenNames: 'Sam', birthDate: '1979-09-09' } },
    })
    t.equal(ok.statusCode, 200, ok.body)
    t.match(ok.json(), { relationship: 'spouse', subscriber: { givenNames: 'Sam' }, version: 2 })
    const back = await app.inject({ method: 'PATCH', url: `/coverages/${cov.id}`, headers: bearer(specialist), payload: { relationship: 'self' } })
    t.equal(back.json().subscriber, null, 'back to self clears the subscriber')
    const del = await app.inject({ method: 'DELETE', url: `/coverages/${cov.id}`, headers: { ...bearer(specialist), 'if-match': '"3"' } })
    t.equal(del.statusCode, 204)
    const row = await db.kysely.selectFrom('coverage').select(['status', 'version']).where('id', '=', cov.id).executeTakeFirstOrThrow()
    t.same(row, { status: 'entered-in-error', version: 4 })
    t.match(await auditEventsFor(db, { verb: 'coverage.delete', resourceId: cov.id }), [{ action: 'delete', patientId: patient.id, facilityId: facility.id }])
  })

  await t.test("another facility's users get 404 for the patient's coverages, and the denial is audited", async (t) => {
    const { plan } = await payerWithPlan(db)
    const patient = await createPatient(db, facility.id)
    const cov = await coverageFor(db, patient.id, plan.id)
    const other = await orgWithFacility(db)
    const outsider = await ctx.token('eligibility_specialist', [other.facility.id])
    const get = await app.inject({ url: `/coverages/${cov.id}`, headers: bearer(outsider) })
    t.equal(get.statusCode, 404)
    t.equal(get.json().detail, 'Coverage not found')
    const list = await app.inject({ url: `/patients/${patient.id}/coverages`, headers: bearer(outsider) })
    t.equal(list.statusCode, 404)
    const create = await app.inject({ method: 'POST', url: `/patients/${patient.id}/coverages`, headers: bearer(outsider), payload: { planId: plan.id, priority: 'secondary', relationship: 'self', memberId: 'X', effectiveFrom: '2026-01-01' } })
    t.equal(create.statusCode, 404)
    t.match(await auditEventsFor(db, { resourceId: cov.id }), [{ outcome: 'not-found', verb: 'getCoverage' }])
    // A linked facility sees the patient: the audit names the facility access went through.
    await db.kysely.insertInto('patientFacility').values({ patientId: patient.id, facilityId: other.facility.id }).execute()
    const linked = await app.inject({ url: `/coverages/${cov.id}`, headers: bearer(outsider) })
    t.equal(linked.statusCode, 200)
    t.match(await auditEventsFor(db, { verb: 'coverage.read', resourceId: cov.id }), [{ facilityId: other.facility.id }])
  })

  await t.test('front desk may read coverages but not change them', async (t) => {
    const { plan } = await payerWithPlan(db)
    const patient = await createPatient(db, facility.id)
    const cov = await coverageFor(db, patient.id, plan.id)
    const desk = await ctx.token('front_desk', [facility.id])
    t.equal((await app.inject({ url: `/coverages/${cov.id}`, headers: bearer(desk) })).statusCode, 200)
    t.equal((await app.inject({ method: 'PATCH', url: `/coverages/${cov.id}`, headers: bearer(desk), payload: { memberId: 'Z' } })).statusCode, 403)
  })
})
