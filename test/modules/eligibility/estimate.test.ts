import t from 'tap'
import { estimateLines, percentOf } from '../../../src/modules/eligibility/estimate-calc.ts'
import type { Benefit } from '../../../src/modules/eligibility/x12-271.ts'
import { bearer, buildTestApp } from '../../helpers/app.ts'
import { auditEventsFor, createPatient, orgWithFacility } from '../../helpers/factories.ts'
import { coverageFor, NPI, OTHER_NPI, payerWithPlan } from './fixtures.ts'

const b = (over: Partial<Benefit>): Benefit => ({
  code: '1', kind: 'x', coverageLevel: 'IND', serviceTypeCodes: ['30'], insuranceType: null, planDescription: null, timePeriod: null,
  amountCents: null, percent: null, quantity: null, authorizationRequired: null, inNetwork: true, dates: [], messages: [], ...over,
})

t.test('estimate arithmetic: deductible carries across lines, coinsurance rounds half up, the out-of-pocket cap binds', async (t) => {
  const benefits = [
    b({ code: 'C', timePeriod: 'calendar-year', amountCents: 150000 }),
    b({ code: 'C', timePeriod: 'remaining', amountCents: 50000 }),
    b({ code: 'A', percent: 20 }),
    b({ code: 'G', timePeriod: 'remaining', amountCents: 100000 }),
    b({ code: 'B', serviceTypeCodes: ['98'], timePeriod: 'visit', amountCents: 2500 }),
  ]
  const lines = estimateLines([
    { cptCode: '70551', units: 1, serviceTypeCode: '30', chargeCents: 40000, chargeSource: 'fee-schedule' },
    { cptCode: '70553', units: 1, serviceTypeCode: '30', chargeCents: 100003, chargeSource: 'request' },
    { cptCode: '99213', units: 1, serviceTypeCode: '98', chargeCents: 1800, chargeSource: 'request' },
    { cptCode: '27447', units: 1, serviceTypeCode: '30', chargeCents: 500000, chargeSource: 'request' },
  ], benefits, true)
  t.match(lines[0], { deductible: { amountCents: 40000, source: { benefitIndex: 1, code: 'C', timePeriod: 'remaining' } }, coinsurance: { amountCents: 0 }, patientShareCents: 40000, planShareCents: 0 })
  // 10000 deductible left, then 20% of 90003 = 18000.6 -> 18001.
  t.match(lines[1], { deductible: { amountCents: 10000 }, coinsurance: { amountCents: 18001, source: { benefitIndex: 2 } }, patientShareCents: 28001, planShareCents: 72002 })
  t.match(lines[2], { copay: { amountCents: 1800, source: { benefitIndex: 4 } }, deductible: { amountCents: 0 }, patientShareCents: 1800 }, 'a copay above the charge is the charge')
  // 100000 out-of-pocket remaining: 40000 + 28001 + 1800 leave 30199 for the last line's 20% of 500000.
  t.match(lines[3], { deductible: { amountCents: 0 }, coinsurance: { amountCents: 100000 }, patientShareCents: 30199, planShareCents: 469801 })
  t.match(lines[3].outOfPocketCap, { amountCents: 69801, source: { benefitIndex: 3, code: 'G', timePeriod: 'remaining' } })
  t.equal(lines.reduce((sum, l) => sum + l.patientShareCents, 0), 100000, 'never more than the out-of-pocket remaining in total')
  for (const l of lines) t.equal(l.patientShareCents + l.planShareCents, l.chargeCents)
  t.equal(percentOf(5, 50), 3)
  t.equal(percentOf(99999, 12.5), 12500)
})

t.test('estimate arithmetic out of network: its own benefits, or the full charge when the payer reports none', async (t) => {
  const inOnly = [b({ code: 'C', timePeriod: 'remaining', amountCents: 1000 }), b({ code: 'A', percent: 10 })]
  const [full] = estimateLines([{ cptCode: '99213', units: 1, serviceTypeCode: '30', chargeCents: 20000, chargeSource: 'request' }], inOnly, false)
  t.match(full, { patientShareCents: 20000, planShareCents: 0, coinsurance: { amountCents: 20000, source: { benefitIndex: null } } })
  const both = [...inOnly, b({ code: 'A', percent: 40, inNetwork: false }), b({ code: 'C', timePeriod: 'remaining', amountCents: 5000, inNetwork: null })]
  const [oon] = estimateLines([{ cptCode: '99213', units: 1, serviceTypeCode: '30', chargeCents: 20000, chargeSource: 'request' }], both, false)
  t.match(oon, { deductible: { amountCents: 5000, source: { benefitIndex: 3 } }, coinsurance: { amountCents: 6000, source: { benefitIndex: 2 } }, patientShareCents: 11000 })
  const [free] = estimateLines([{ cptCode: '99213', units: 1, serviceTypeCode: '30', chargeCents: 20000, chargeSource: 'request' }], [b({ code: '1' })], true)
  t.equal(free.patientShareCents, 0, 'a plan without cost sharing leaves nothing to the patient')
})

t.test('fee schedules and estimates over HTTP', async (t) => {
  const ctx = await buildTestApp(t)
  const { app, db } = ctx
  const { facility } = await orgWithFacility(db, { timeZone: 'UTC' })
  const specialist = await ctx.token('eligibility_specialist', [facility.id])

  await t.test('a fee schedule imports as JSON and as CSV; a bad row rejects the whole import', async (t) => {
    const json = await app.inject({
      method: 'POST', url: `/facilities/${facility.id}/fee-schedule`, headers: bearer(specialist),
      payload: { items: [{ cptCode: '99213', chargeCents: 18500, description: 'Office visit' }, { cptCode: '70551', chargeCents: 40000 }] },
    })
    t.equal(json.statusCode, 200, json.body)
    t.same(json.json(), { facilityId: facility.id, upserted: 2, removed: 0 })
    const csv = 'cpt_code,charge_cents,description\n99213,19000,"Office visit, established"\r\n80053,4500,Metabolic panel\n'
    const imported = await app.inject({ method: 'POST', url: `/facilities/${facility.id}/fee-schedule?replace=true`, headers: { ...bearer(specialist), 'content-type': 'text/csv' }, payload: csv })
    t.equal(imported.statusCode, 200, imported.body)
    t.same(imported.json(), { facilityId: facility.id, upserted: 2, removed: 1 })
    const list = await app.inject({ url: `/facilities/${facility.id}/fee-schedule`, headers: bearer(specialist) })
    t.same(list.json().items, [
      { cptCode: '80053', description: 'Metabolic panel', chargeCents: 4500 },
      { cptCode: '99213', description: 'Office visit, established', chargeCents: 19000 },
    ])
    const bad = await app.inject({ method: 'POST', url: `/facilities/${facility.id}/fee-schedule`, headers: { ...bearer(specialist), 'content-type': 'text/csv' }, payload: 'cpt_code,charge_cents\n99214,12.50\n99215,30000\n' })
    t.equal(bad.statusCode, 400)
    t.same(bad.json().errors, [{ pointer: '/line/2', detail: 'charge_cents must be a whole number of cents' }])
    t.equal((await db.kysely.selectFrom('feeScheduleItem').select('cptCode').where('cptCode', '=', '99215').execute()).length, 0)
    const dup = await app.inject({ method: 'POST', url: `/facilities/${facility.id}/fee-schedule`, headers: bearer(specialist), payload: { items: [{ cptCode: '99213', chargeCents: 1 }, { cptCode: '99213', chargeCents: 2 }] } })
    t.equal(dup.statusCode, 400)
    const other = await orgWithFacility(db)
    const foreign = await app.inject({ method: 'POST', url: `/facilities/${other.facility.id}/fee-schedule`, headers: bearer(specialist), payload: { items: [{ cptCode: '99213', chargeCents: 1 }] } })
    t.equal(foreign.statusCode, 404)
    t.match(await auditEventsFor(db, { verb: 'fee-schedule.import', resourceId: facility.id }), [{ facilityId: facility.id }, { facilityId: facility.id, detail: { upserted: 2, removed: 1 } }])
  })

  await t.test('an insured estimate uses the latest complete check, line by line, in and out of network, traced', async (t) => {
    const { plan, network } = await payerWithPlan(db)
    await db.kysely.insertInto('providerNetwork').values({ networkId: network.id, npi: NPI, effectiveFrom: '2026-01-01' }).execute()
    const patient = await createPatient(db, facility.id)
    const cov = await coverageFor(db, patient.id, plan.id)
    const noCheck = await app.inject({ method: 'POST', url: '/estimates', headers: bearer(specialist), payload: { patientId: patient.id, coverageId: cov.id, services: [{ cptCode: '80053' }] } })
    t.equal(noCheck.statusCode, 409)
    t.equal(noCheck.json().type, 'urn:patient-access:problem:eligibility-check-required')
    const check = await app.inject({ method: 'POST', url: '/eligibility-checks', headers: bearer(specialist), payload: { coverageId: cov.id, providerNpi: NPI, serviceTypeCodes: ['30', '98'], dateOfService: '2026-11-27' } })
    t.equal(check.statusCode, 201)
    const est = await app.inject({
      method: 'POST', url: '/estimates', headers: bearer(specialist),
      payload: { patientId: patient.id, coverageId: cov.id, providerNpi: NPI, services: [{ cptCode: '80053', units: 2 }, { cptCode: '99213', serviceTypeCode: '98' }, { cptCode: '70553', chargeCents: 250000 }] },
    })
    t.equal(est.statusCode, 201, est.body)
    const e = est.json()
    t.match(e, { kind: 'insured', inNetwork: true, eligibilityCheckId: check.json().id, totalChargeCents: 9000 + 19000 + 250000 })
    // Sandbox plan: 25.00 copay for 98; 1125.00 deductible remaining; 20% coinsurance; 4500.00 OOP remaining.
    t.match(e.lines[0], { chargeCents: 9000, chargeSource: 'fee-schedule', deductible: { amountCents: 9000 }, patientShareCents: 9000 })
    t.match(e.lines[1], { copay: { amountCents: 2500, source: { code: 'B', timePeriod: 'visit' } }, patientShareCents: 2500, planShareCents: 16500 })
    t.match(e.lines[2], { chargeSource: 'request', deductible: { amountCents: 112500 - 9000 }, coinsurance: { amountCents: Math.round((250000 - 103500) * 0.2) } })
    const benefits = check.json().benefits
    for (const line of e.lines) {
      for (const f of [line.copay, line.deductible, line.coinsurance, line.outOfPocketCap]) {
        if (f.amountCents > 0) t.equal(benefits[f.source.benefitIndex].code, f.source.code, 'every figure points at the benefit it came from')
      }
    }
    t.equal(e.patientShareCents + e.planShareCents, e.totalChargeCents)
    const row = await db.kysely.selectFrom('estimate').select(['patientShareCents', 'kind']).where('id', '=', e.id).executeTakeFirstOrThrow()
    t.same(row, { patientShareCents: e.patientShareCents, kind: 'insured' })
    t.match(await auditEventsFor(db, { resourceId: e.id }), [{ verb: 'estimate.create', patientId: patient.id, facilityId: facility.id }])
    const get = await app.inject({ url: `/estimates/${e.id}`, headers: bearer(specialist) })
    t.same(get.json(), e)

    const oon = await app.inject({ method: 'POST', url: '/estimates', headers: bearer(specialist), payload: { patientId: patient.id, coverageId: cov.id, providerNpi: OTHER_NPI, services: [{ cptCode: '70553', chargeCents: 250000 }] } })
    t.equal(oon.statusCode, 201)
    // Out of network: 2250.00 deductible remaining, then 40%.
    t.match(oon.json(), { inNetwork: false, lines: [{ deductible: { amountCents: 225000 }, coinsurance: { amountCents: 10000 }, patientShareCents: 235000 }] })
  })

  await t.test('an uninsured patient gets a self-pay good-faith estimate from the fee schedule; unpriced codes are 422', async (t) => {
    const patient = await createPatient(db, facility.id)
    const res = await app.inject({ method: 'POST', url: '/estimates', headers: bearer(specialist), payload: { patientId: patient.id, services: [{ cptCode: '99213' }, { cptCode: '80053', units: 3 }] } })
    t.equal(res.statusCode, 201, res.body)
    t.match(res.json(), { kind: 'self-pay', coverageId: null, inNetwork: null, totalChargeCents: 19000 + 13500, patientShareCents: 32500, planShareCents: 0 })
    const unpriced = await app.inject({ method: 'POST', url: '/estimates', headers: bearer(specialist), payload: { patientId: patient.id, services: [{ cptCode: '99999' }] } })
    t.equal(unpriced.statusCode, 422)
    t.same(unpriced.json().missing, ['99999'])
    const outsider = await ctx.token('eligibility_specialist', [(await orgWithFacility(db)).facility.id])
    t.equal((await app.inject({ url: `/estimates/${res.json().id}`, headers: bearer(outsider) })).statusCode, 404)
    t.equal((await app.inject({ method: 'POST', url: '/estimates', headers: bearer(outsider), payload: { patientId: patient.id, services: [{ cptCode: '99213' }] } })).statusCode, 404)
  })

  await t.test('an estimate after a check that found the coverage inactive is refused', async (t) => {
    const { plan } = await payerWithPlan(db)
    const patient = await createPatient(db, facility.id)
    const cov = await coverageFor(db, patient.id, plan.id, { memberId: 'INACTIVE9' })
    await app.inject({ method: 'POST', url: '/eligibility-checks', headers: bearer(specialist), payload: { coverageId: cov.id, providerNpi: NPI } })
    const res = await app.inject({ method: 'POST', url: '/estimates', headers: bearer(specialist), payload: { patientId: patient.id, coverageId: cov.id, services: [{ cptCode: '99213' }] } })
    t.equal(res.statusCode, 409)
    t.equal(res.json().type, 'urn:patient-access:problem:coverage-not-active')
  })
})
