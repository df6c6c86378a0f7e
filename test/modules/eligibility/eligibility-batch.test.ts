import t from 'tap'
import { latestUsableCheck } from '../../../src/modules/eligibility/eligibility-check.service.ts'
import { bearer, buildTestApp } from '../../helpers/app.ts'
import { createPatient, orgWithFacility } from '../../helpers/factories.ts'
import { coverageFor, insertAppointment, NPI, payerWithPlan } from './fixtures.ts'

const today = () => new Date().toISOString().slice(0, 10)

t.test('eligibility batches and check freshness', async (t) => {
  const ctx = await buildTestApp(t, { ELIGIBILITY_BATCH_CONCURRENCY: '2' })
  const { app, db } = ctx
  const { facility } = await orgWithFacility(db, { timeZone: 'UTC' })
  const specialist = await ctx.token('eligibility_specialist', [facility.id])
  const check = (payload: Record<string, unknown>, headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url: '/eligibility-checks', headers: { ...bearer(specialist), ...headers }, payload })

  await t.test('latestUsableCheck: same day by default, configurable days before', async (t) => {
    const { plan } = await payerWithPlan(db)
    const patient = await createPatient(db, facility.id)
    const cov = await coverageFor(db, patient.id, plan.id)
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10)
    t.equal(await latestUsableCheck(db.kysely, cov.id, today()), undefined)
    const made = (await check({ coverageId: cov.id, providerNpi: NPI, dateOfService: tomorrow })).json()
    t.equal(await latestUsableCheck(db.kysely, cov.id, tomorrow), undefined, 'made the day before: not same-day')
    t.equal((await latestUsableCheck(db.kysely, cov.id, tomorrow, 1))?.id, made.id)
    t.equal(await latestUsableCheck(db.kysely, cov.id, today(), 1), undefined, 'another date of service')
    const todays = (await check({ coverageId: cov.id, providerNpi: NPI, dateOfService: today() })).json()
    t.equal((await latestUsableCheck(db.kysely, cov.id, today()))?.id, todays.id)
  })

  await t.test('a batch runs every item with bounded concurrency and reports progress and per-item results', async (t) => {
    const { plan } = await payerWithPlan(db)
    const covs = []
    for (const memberId of ['B1', 'INVALID2', 'B3']) covs.push(await coverageFor(db, (await createPatient(db, facility.id)).id, plan.id, { memberId }))
    const foreign = await orgWithFacility(db)
    const foreignCov = await coverageFor(db, (await createPatient(db, foreign.facility.id)).id, plan.id)
    const items = covs.map((c) => ({ coverageId: c.id, dateOfService: '2026-11-28' }))
    const batchCount = async () => Number((await db.kysely.selectFrom('eligibilityBatch').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n)
    const before = await batchCount()
    for (const [what, coverageId] of [["a coverage of another organisation's patient", foreignCov.id], ['a coverage that does not exist', '00000000-0000-0000-0000-000000000000']]) {
      const refused = await app.inject({ method: 'POST', url: '/eligibility-checks/batch', headers: bearer(specialist), payload: { facilityId: facility.id, providerNpi: NPI, items: [...items, { coverageId, dateOfService: '2026-11-28' }] } })
      t.equal(refused.statusCode, 404, what)
      t.match(refused.json(), { type: 'urn:patient-access:problem:not-found', detail: 'Coverage not found', errors: [{ pointer: '/items/3/coverageId' }] }, `${what}: the item is named`)
      t.notMatch(refused.body, coverageId, `${what}: the id is not echoed`)
    }
    t.equal(await batchCount(), before, 'a refused batch stores nothing')
    const res = await app.inject({ method: 'POST', url: '/eligibility-checks/batch', headers: bearer(specialist), payload: { facilityId: facility.id, providerNpi: NPI, items } })
    t.equal(res.statusCode, 202, res.body)
    t.equal(res.headers.location, `/eligibility-check-batches/${res.json().id}`)
    t.match(res.json(), { status: 'running', total: 3 })
    let batch = res.json()
    for (let i = 0; i < 100 && batch.status !== 'complete'; i++) {
      await new Promise((r) => setTimeout(r, 100))
      batch = (await app.inject({ url: `/eligibility-check-batches/${batch.id}`, headers: bearer(specialist) })).json()
    }
    t.equal(batch.status, 'complete')
    t.same(batch.counts, { complete: 2, rejected: 1, failed: 0, timeout: 0, queued: 0 })
    t.equal(batch.done, 3)
    t.same(batch.items.map((i: { status: string }) => i.status), ['complete', 'rejected', 'complete'])
    const checks = await db.kysely.selectFrom('eligibilityCheck').select(['batchId', 'requestedBy', 'dateOfService']).where('batchId', '=', batch.id).execute()
    t.equal(checks.length, 3)
    t.ok(checks.every((c) => c.requestedBy === 'user-eligibility_specialist'))
    const audits = await db.kysely.selectFrom('auditEvent').selectAll().where('requestId', '=', `batch-${batch.id}`).execute()
    t.equal(audits.length, 3, 'each check of the batch is audited')
    const bad = await app.inject({ method: 'POST', url: '/eligibility-checks/batch', headers: bearer(specialist), payload: { facilityId: facility.id, providerNpi: NPI, items, appointmentDate: '2026-11-28' } })
    t.equal(bad.statusCode, 400)
    const notMine = await app.inject({ method: 'POST', url: '/eligibility-checks/batch', headers: bearer(specialist), payload: { facilityId: foreign.facility.id, providerNpi: NPI, items } })
    t.equal(notMine.statusCode, 404)
  })

  await t.test("a batch over a date's appointments uses each appointment's provider and date", async (t) => {
    const { facility: f2 } = await orgWithFacility(db, { timeZone: 'America/Chicago' })
    const user = await ctx.token('eligibility_specialist', [f2.id])
    const { plan } = await payerWithPlan(db)
    const p1 = await createPatient(db, f2.id)
    const p2 = await createPatient(db, f2.id)
    await coverageFor(db, p1.id, plan.id)
    await insertAppointment(db.kysely, f2, p1.id, '2026-12-04T15:00:00Z')
    await insertAppointment(db.kysely, f2, p2.id, '2026-12-04T16:00:00Z')
    await insertAppointment(db.kysely, f2, p1.id, '2026-12-05T15:00:00Z')
    const res = await app.inject({ method: 'POST', url: '/eligibility-checks/batch', headers: bearer(user), payload: { facilityId: f2.id, appointmentDate: '2026-12-04' } })
    t.equal(res.statusCode, 202, res.body)
    t.equal(res.json().total, 1, 'only the appointment with an active primary coverage on that date')
    let batch = res.json()
    for (let i = 0; i < 100 && batch.status !== 'complete'; i++) {
      await new Promise((r) => setTimeout(r, 100))
      batch = (await app.inject({ url: `/eligibility-check-batches/${batch.id}`, headers: bearer(user) })).json()
    }
    const made = await db.kysely.selectFrom('eligibilityCheck').select(['providerNpi', 'appointmentId']).where('batchId', '=', batch.id).executeTakeFirstOrThrow()
    t.equal(made.providerNpi, NPI)
    t.ok(made.appointmentId)
    t.same(batch.items[0], { ...batch.items[0], dateOfService: '2026-12-04', status: 'complete' })
  })
})
