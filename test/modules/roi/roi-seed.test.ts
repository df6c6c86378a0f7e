import t from 'tap'
import { DEMO, DEMO_PATIENTS, DEMO_ROI, seedDemo } from '../../../src/cli/seed-data.ts'
import { bearer, buildTestApp } from '../../helpers/app.ts'

t.test('the demo seed loads an ROI work queue and disclosures that the API serves, and loading it twice changes nothing', async (t) => {
  const ctx = await buildTestApp(t)
  const { app, db } = ctx
  const log = { info: () => undefined }
  await seedDemo(db.kysely, ctx.config, log as never)
  await seedDemo(db.kysely, ctx.config, log as never)
  const headers = bearer(await ctx.token('roi_specialist', [DEMO.hospitalId]))
  const overdue = await app.inject({ url: '/roi-requests?overdue=true', headers })
  t.equal(overdue.statusCode, 200, overdue.body)
  t.same(overdue.json().items.map((r: { id: string }) => r.id), [DEMO_ROI.obrienOverdueId])
  const blocked = await app.inject({ method: 'POST', url: `/roi-requests/${DEMO_ROI.garciaAttorneyId}/transitions`, headers, payload: { to: 'in_progress', reason: 'start' } })
  t.equal(blocked.statusCode, 422)
  t.same(blocked.json().missing, ['statements.redisclosure'])
  const history = await app.inject({ url: `/roi-requests/${DEMO_ROI.nguyenSubpoenaId}/status-history`, headers })
  t.equal(history.json().length, 5)
  const accounting = await app.inject({ url: `/patients/${DEMO_PATIENTS[2].id}/disclosures`, headers })
  t.match(accounting.json().items, [{ id: DEMO_ROI.nguyenDisclosureId, legalBasis: 'subpoena', accountable: true }])
  const schedule = await app.inject({ url: `/facilities/${DEMO.hospitalId}/roi-fee-schedule`, headers })
  t.match(schedule.json(), { stateCode: 'NY', perPageCents: 75 })
})
