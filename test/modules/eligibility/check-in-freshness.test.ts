import t from 'tap'
import { bearer, buildTestApp } from '../../helpers/app.ts'
import { auditEventsFor, createPatient, orgWithFacility } from '../../helpers/factories.ts'
import { coverageFor, NPI, payerWithPlan } from './fixtures.ts'

const today = () => new Date().toISOString().slice(0, 10)
const tomorrow = () => new Date(Date.now() + 86_400_000).toISOString().slice(0, 10)
const base = { demographicsConfirmed: true, insuranceVerified: true, consentForms: [{ form: 'General consent', signedAt: '2026-11-27T09:00:00Z' }] }

for (const maxAgeDays of [0, 1]) {
  t.test(`check-in asks for a fresh eligibility check (ELIGIBILITY_MAX_CHECK_AGE_DAYS=${maxAgeDays})`, async (t) => {
    const ctx = await buildTestApp(t, { ELIGIBILITY_MAX_CHECK_AGE_DAYS: String(maxAgeDays) })
    const { app, db } = ctx
    const { facility } = await orgWithFacility(db, { timeZone: 'UTC' })
    const desk = await ctx.token('front_desk', [facility.id])
    const specialist = await ctx.token('eligibility_specialist', [facility.id])
    const post = (url: string, payload: object, token = desk) => app.inject({ method: 'POST', url, headers: bearer(token), payload })
    const registered = async (patientId: string) => {
      const res = await post('/registrations', {
        kind: 'outpatient_diagnostic', patientId, facilityId: facility.id, location: 'Lab',
        details: { orderedTests: [{ code: '80053', description: 'Metabolic panel' }], orderingProvider: { name: 'Dr. Ruiz', npi: '1245319599' } },
      })
      t.equal(res.statusCode, 201)
      return res.json().id as string
    }
    const covered = async () => {
      const { plan } = await payerWithPlan(db, { copayCents: null })
      const patient = await createPatient(db, facility.id)
      const coverage = await coverageFor(db, patient.id, plan.id)
      return { patient, coverage, registrationId: await registered(patient.id) }
    }
    const runCheck = async (coverageId: string, dateOfService: string) => {
      const res = await post('/eligibility-checks', { coverageId, providerNpi: NPI, dateOfService }, specialist)
      t.equal(res.statusCode, 201)
      return res.json().id as string
    }
    const checkInRows = (registrationId: string) => db.kysely.selectFrom('checkIn').selectAll().where('registrationId', '=', registrationId).execute()

    await t.test('a patient with no coverage in force is self-pay: no eligibility item', async (t) => {
      const patient = await createPatient(db, facility.id)
      const res = await post(`/registrations/${await registered(patient.id)}/check-in`, base)
      t.equal(res.statusCode, 201)
      t.match(res.json(), { missing: [], eligibilityCheckId: null })
      t.notOk(res.json().complete.includes('eligibility'))
    })

    await t.test('coverage in force and no check on file: eligibility is missing, and an override records it', async (t) => {
      const { registrationId } = await covered()
      const refused = await post(`/registrations/${registrationId}/check-in`, base)
      t.equal(refused.statusCode, 422)
      t.match(refused.json(), { type: 'urn:patient-access:problem:check-in-incomplete', missing: ['eligibility'] })
      t.same(await checkInRows(registrationId), [], 'nothing recorded')
      const res = await post(`/registrations/${registrationId}/check-in`, { ...base, override: { reason: 'Payer portal down; verified by phone' } })
      t.equal(res.statusCode, 201)
      t.match(res.json(), { missing: ['eligibility'], eligibilityCheckId: null, overrideReason: 'Payer portal down; verified by phone' })
    })

    await t.test("today's check is found and relied on without naming it", async (t) => {
      const { coverage, registrationId, patient } = await covered()
      const checkId = await runCheck(coverage.id, today())
      const res = await post(`/registrations/${registrationId}/check-in`, base)
      t.equal(res.statusCode, 201)
      t.match(res.json(), { eligibilityCheckId: checkId, missing: [] })
      t.ok(res.json().complete.includes('eligibility'))
      const [row] = await checkInRows(registrationId)
      t.equal(row.eligibilityCheckId, checkId)
      t.match(await auditEventsFor(db, { resourceId: row.id }), [{ verb: 'check-in.create', patientId: patient.id, detail: { eligibilityCheckId: checkId } }])
    })

    await t.test('a check made the day before the day of service is usable only when configured', async (t) => {
      const { coverage, registrationId } = await covered()
      const checkId = await runCheck(coverage.id, today())
      await db.kysely.updateTable('eligibilityCheck').set({ completedAt: new Date(Date.now() - 86_400_000) }).where('id', '=', checkId).execute()
      const res = await post(`/registrations/${registrationId}/check-in`, { ...base, eligibilityCheckId: checkId })
      if (maxAgeDays === 0) {
        t.equal(res.statusCode, 422)
        t.equal(res.json().type, 'urn:patient-access:problem:eligibility-check-stale')
        t.match(res.json().detail, /run a new check/)
        t.same(await checkInRows(registrationId), [], 'nothing recorded')
        const unnamed = await post(`/registrations/${registrationId}/check-in`, base)
        t.match(unnamed.json(), { type: 'urn:patient-access:problem:check-in-incomplete', missing: ['eligibility'] }, 'not picked up either')
      } else {
        t.equal(res.statusCode, 201)
        t.match(res.json(), { eligibilityCheckId: checkId, missing: [] })
      }
    })

    await t.test('a check for another date of service is stale whatever the age allowed', async (t) => {
      const { coverage, registrationId } = await covered()
      const checkId = await runCheck(coverage.id, tomorrow())
      const res = await post(`/registrations/${registrationId}/check-in`, { ...base, eligibilityCheckId: checkId })
      t.equal(res.statusCode, 422)
      t.equal(res.json().type, 'urn:patient-access:problem:eligibility-check-stale')
      t.same(await checkInRows(registrationId), [])
    })

    await t.test("another patient's check is refused", async (t) => {
      const a = await covered()
      const b = await covered()
      const checkId = await runCheck(a.coverage.id, today())
      const res = await post(`/registrations/${b.registrationId}/check-in`, { ...base, eligibilityCheckId: checkId })
      t.equal(res.statusCode, 422)
      t.equal(res.json().type, 'urn:patient-access:problem:unknown-eligibility-check')
    })
  })
}
