import t from 'tap'
import { DEMO, DEMO_ELIGIBILITY, seedDemo } from '../../../src/cli/seed-data.ts'
import { bearer, buildTestApp } from '../../helpers/app.ts'

t.test('the demo seed loads payers, plans and coverages that check and estimate through the sandbox', async (t) => {
  const ctx = await buildTestApp(t)
  const { app, db } = ctx
  const log = { info: () => undefined }
  await seedDemo(db.kysely, ctx.config, log as never)
  await seedDemo(db.kysely, ctx.config, log as never)
  const token = await ctx.token('eligibility_specialist', [DEMO.hospitalId])
  const coverage = await app.inject({ url: `/coverages/${DEMO_ELIGIBILITY.smithCoverageId}`, headers: bearer(token) })
  t.equal(coverage.statusCode, 200)
  const check = await app.inject({ method: 'POST', url: '/eligibility-checks', headers: bearer(token), payload: { coverageId: DEMO_ELIGIBILITY.smithCoverageId, providerNpi: '1245319599', dateOfService: '2026-11-27' } })
  t.equal(check.statusCode, 201, check.body)
  t.match(check.json(), { status: 'complete', active: true, providerInNetwork: true, planDescription: 'ACME GOLD PPO' })
  const estimate = await app.inject({ method: 'POST', url: '/estimates', headers: bearer(token), payload: { patientId: check.json().patientId, coverageId: DEMO_ELIGIBILITY.smithCoverageId, services: [{ cptCode: '70551' }] } })
  t.equal(estimate.statusCode, 201, estimate.body)
  t.equal(estimate.json().totalChargeCents, 140000)
  const payers = await app.inject({ url: '/payers?limit=100', headers: bearer(token) })
  t.equal(payers.json().items.length, 4)
})
