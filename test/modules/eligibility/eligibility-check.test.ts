import t from 'tap'
import { X12Parser, X12QueryEngine, type X12Interchange } from 'node-x12'
import { bearer, buildTestApp } from '../../helpers/app.ts'
import { auditEventsFor, createPatient, orgWithFacility } from '../../helpers/factories.ts'
import { coverageFor, insertAppointment, NPI, OTHER_NPI, payerWithPlan } from './fixtures.ts'

const independent = (x12: string) => new X12Parser(true).parse(x12) as X12Interchange
const query = (x12: string, ref: string) => new X12QueryEngine(false).query(independent(x12), ref).map((r) => r.value)
const today = () => new Date().toISOString().slice(0, 10)

t.test('eligibility checks through the sandbox clearinghouse', async (t) => {
  const ctx = await buildTestApp(t, { ELIGIBILITY_TIMEOUT_MS: '300', ELIGIBILITY_SANDBOX_SLOW_MS: '3000', ELIGIBILITY_BATCH_CONCURRENCY: '2' })
  const { app, db } = ctx
  const { facility } = await orgWithFacility(db, { timeZone: 'UTC' })
  const specialist = await ctx.token('eligibility_specialist', [facility.id])
  const check = (payload: Record<string, unknown>, headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url: '/eligibility-checks', headers: { ...bearer(specialist), ...headers }, payload })
  const coverageRow = (id: string) => db.kysely.selectFrom('coverage').select(['version', 'verifiedAt', 'verifiedActive', 'memberId', 'status']).where('id', '=', id).executeTakeFirstOrThrow()

  await t.test('an active coverage: 201 complete, benefits parsed, raw 270 and 271 stored, coverage verified, audited', async (t) => {
    const { plan, network } = await payerWithPlan(db)
    await db.kysely.insertInto('providerNetwork').values({ networkId: network.id, npi: NPI, effectiveFrom: '2026-01-01' }).execute()
    const patient = await createPatient(db, facility.id, { familyName: 'Quinn', givenNames: 'Harper', birthDate: '1988-08-08' })
    const cov = await coverageFor(db, patient.id, plan.id)
    const res = await check({ coverageId: cov.id, providerNpi: NPI, serviceTypeCodes: ['30', '98'], dateOfService: '2026-11-27' })
    t.equal(res.statusCode, 201, res.body)
    const body = res.json()
    t.match(body, {
      coverageId: cov.id, patientId: patient.id, facilityId: facility.id, status: 'complete', active: true, providerInNetwork: true,
      planDescription: 'GOLD PPO', coverageStart: '2026-01-01', dateOfService: '2026-11-27', gateway: 'sandbox', rejections: [], errorCode: null,
    })
    t.match(body.benefits.find((b: { code: string }) => b.code === 'B'), { amountCents: 2500, serviceTypeCodes: ['98'], inNetwork: true })
    // The stored 270 is valid X12 with the patient, our trace and the requested service types.
    t.same(query(body.request270, 'EQ01'), ['30', '98'])
    t.same(query(body.request270, 'NM103'), [query(body.request270, 'NM103')[0], facility.name.toUpperCase(), 'QUINN'])
    t.same(query(body.request270, 'TRN02'), [body.id.replaceAll('-', '')])
    t.same(query(body.request270, 'DMG02'), ['19880808'])
    t.same(query(body.response271, 'TRN02'), [body.id.replaceAll('-', '')], 'the 271 echoes our trace')
    const stored = await db.kysely.selectFrom('eligibilityCheck').select(['requestX12', 'responseX12', 'status']).where('id', '=', body.id).executeTakeFirstOrThrow()
    t.equal(stored.requestX12, body.request270)
    t.equal(stored.responseX12, body.response271)
    const after = await coverageRow(cov.id)
    t.equal(after.version, 2)
    t.equal(after.verifiedActive, true)
    t.ok(after.verifiedAt)
    t.match(await auditEventsFor(db, { resourceId: body.id }), [{ action: 'create', verb: 'eligibility-check.create', patientId: patient.id, facilityId: facility.id, outcome: 'success' }])
    const get = await app.inject({ url: `/eligibility-checks/${body.id}`, headers: bearer(specialist) })
    t.equal(get.statusCode, 200)
    t.same(get.json(), body)
    t.match(await auditEventsFor(db, { verb: 'eligibility-check.read', resourceId: body.id }), [{ patientId: patient.id }])
    const outsider = await ctx.token('eligibility_specialist', [(await orgWithFacility(db)).facility.id])
    t.equal((await app.inject({ url: `/eligibility-checks/${body.id}`, headers: bearer(outsider) })).statusCode, 404)
    const list = await app.inject({ url: `/coverages/${cov.id}/eligibility-checks`, headers: bearer(specialist) })
    t.same(list.json().items.map((c: { id: string }) => c.id), [body.id])
    t.notMatch(ctx.logs(), /QUINN|Quinn|19880808/, 'no PHI in the logs')
  })

  await t.test('a provider outside the network is flagged, and the date of service defaults to today in the facility zone', async (t) => {
    const { plan } = await payerWithPlan(db)
    const patient = await createPatient(db, facility.id)
    const cov = await coverageFor(db, patient.id, plan.id)
    const res = await check({ coverageId: cov.id, providerNpi: OTHER_NPI })
    t.equal(res.statusCode, 201)
    t.match(res.json(), { providerInNetwork: false, dateOfService: today(), serviceTypeCodes: ['30'] })
  })

  await t.test('rejections (AAA 72, 75, 42) and inactive coverage are recorded; a rejection never touches the coverage', async (t) => {
    const patient = await createPatient(db, facility.id)
    const cases = [
      { memberId: 'INVALID1', payer: undefined, status: 'rejected', code: '72', loop: '2100C' },
      { memberId: 'NOTFOUND1', payer: undefined, status: 'rejected', code: '75', loop: '2100C' },
      { memberId: 'M42', payer: 'SBXDOWN', status: 'rejected', code: '42', loop: '2100A' },
    ]
    for (const c of cases) {
      const { plan } = await payerWithPlan(db, { x12PayerId: c.payer })
      await db.kysely.updateTable('coverage').set({ status: 'cancelled' }).where('patientId', '=', patient.id).execute()
      const cov = await coverageFor(db, patient.id, plan.id, { memberId: c.memberId })
      const res = await check({ coverageId: cov.id, providerNpi: NPI, dateOfService: '2026-11-27' })
      t.equal(res.statusCode, 201, c.code)
      t.match(res.json(), { status: c.status, active: null, benefits: [], rejections: [{ reasonCode: c.code, loop: c.loop }], errorCode: 'rejected' })
      t.ok(res.json().response271.includes(`AAA*N**${c.code}`))
      t.same(await coverageRow(cov.id), { version: 1, verifiedAt: null, verifiedActive: null, memberId: c.memberId, status: 'active' })
    }
    await db.kysely.updateTable('coverage').set({ status: 'cancelled' }).where('patientId', '=', patient.id).execute()
    const { plan } = await payerWithPlan(db)
    const inactive = await coverageFor(db, patient.id, plan.id, { memberId: 'INACTIVE7' })
    const res = await check({ coverageId: inactive.id, providerNpi: NPI, dateOfService: '2026-11-27' })
    t.match(res.json(), { status: 'complete', active: false, benefits: [{ code: '6', kind: 'inactive' }] })
    t.equal((await coverageRow(inactive.id)).verifiedActive, false)
    const outOfPeriod = await check({ coverageId: inactive.id, providerNpi: NPI, dateOfService: '2025-06-01' })
    t.equal(outOfPeriod.json().active, false)
  })

  await t.test('a slow payer: 504 problem with the check id; the check is recorded as timed out and the coverage is unchanged', async (t) => {
    const { plan } = await payerWithPlan(db, { x12PayerId: 'SBXSLOW' })
    const patient = await createPatient(db, facility.id)
    const cov = await coverageFor(db, patient.id, plan.id)
    const res = await check({ coverageId: cov.id, providerNpi: NPI, dateOfService: '2026-11-27' })
    t.equal(res.statusCode, 504)
    t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
    t.equal(res.json().type, 'urn:patient-access:problem:eligibility-gateway-timeout')
    const row = await db.kysely.selectFrom('eligibilityCheck').selectAll().where('id', '=', res.json().checkId).executeTakeFirstOrThrow()
    t.match(row, { status: 'timeout', errorCode: 'timeout', responseX12: null, coverageId: cov.id })
    t.ok(row.requestX12.startsWith('ISA*'))
    t.same(await coverageRow(cov.id), { version: 1, verifiedAt: null, verifiedActive: null, memberId: cov.memberId, status: 'active' })
    t.match(await auditEventsFor(db, { resourceId: row.id }), [{ verb: 'eligibility-check.create', outcome: 'error', patientId: patient.id }])
    // With an Idempotency-Key the key's transaction rolls back, yet the check is still recorded.
    const keyed = await check({ coverageId: cov.id, providerNpi: NPI, dateOfService: '2026-11-27' }, { 'idempotency-key': 'slow-1' })
    t.equal(keyed.statusCode, 504)
    t.ok(await db.kysely.selectFrom('eligibilityCheck').select('id').where('id', '=', keyed.json().checkId).executeTakeFirst())
    const get = await app.inject({ url: `/eligibility-checks/${keyed.json().checkId}`, headers: bearer(specialist) })
    t.match(get.json(), { status: 'timeout', response271: null })
  })

  await t.test('checks refuse a bad NPI, a cancelled coverage and unknown fields', async (t) => {
    const { plan } = await payerWithPlan(db)
    const patient = await createPatient(db, facility.id)
    const cov = await coverageFor(db, patient.id, plan.id)
    t.equal((await check({ coverageId: cov.id, providerNpi: '1234567890' })).statusCode, 400)
    t.equal((await check({ coverageId: cov.id, providerNpi: NPI, payer: 'x' })).statusCode, 400)
    await db.kysely.updateTable('coverage').set({ status: 'cancelled' }).where('id', '=', cov.id).execute()
    const res = await check({ coverageId: cov.id, providerNpi: NPI })
    t.equal(res.statusCode, 409)
    t.equal(res.json().type, 'urn:patient-access:problem:coverage-not-active')
    const n = await db.kysely.selectFrom('eligibilityCheck').select('id').where('coverageId', '=', cov.id).execute()
    t.equal(n.length, 0)
  })

  await t.test("an appointment's local date is the default date of service", async (t) => {
    const { plan } = await payerWithPlan(db)
    const patient = await createPatient(db, facility.id)
    const cov = await coverageFor(db, patient.id, plan.id)
    const appointmentId = await insertAppointment(db.kysely, facility, patient.id, '2026-12-03T23:30:00Z')
    const res = await check({ coverageId: cov.id, providerNpi: NPI, appointmentId })
    t.equal(res.statusCode, 201, res.body)
    t.match(res.json(), { appointmentId, dateOfService: '2026-12-03' })
    const otherPatient = await createPatient(db, facility.id)
    const otherCov = await coverageFor(db, otherPatient.id, plan.id)
    t.equal((await check({ coverageId: otherCov.id, providerNpi: NPI, appointmentId })).statusCode, 404, "another patient's appointment")
  })
})
