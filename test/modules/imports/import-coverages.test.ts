import { randomUUID } from 'node:crypto'
import t from 'tap'
import { bearer, buildTestApp } from '../../helpers/app.ts'
import { createPatient, orgWithFacility } from '../../helpers/factories.ts'
import { importer, importEvents, ndjson, patientWithIdentifier } from './fixtures.ts'

t.test('coverage imports', async (t) => {
  const ctx = await buildTestApp(t)
  const { app, db } = ctx
  const { facility } = await orgWithFacility(db)
  const other = await orgWithFacility(db)
  const token = await ctx.token('integrator', [facility.id])
  const { importFile } = importer(t, ctx, token, facility.id)

  const payer = async (name: string) =>
    db.kysely.insertInto('payer').values({ name, x12PayerId: `P${randomUUID().replace(/-/g, '').slice(0, 10)}` }).returningAll().executeTakeFirstOrThrow()
  const plan = async (payerId: string, name: string) =>
    db.kysely.insertInto('plan').values({ payerId, name, planType: 'PPO' } as never).returningAll().executeTakeFirstOrThrow()
  const acme = await payer('Acme Health')
  const [gold, silver] = [await plan(acme.id, 'Acme Gold'), await plan(acme.id, 'Acme Silver')]
  const tri = await payer('Tri-State')
  const triPpo = await plan(tri.id, 'Tri-State PPO')

  const ada = await createPatient(db, facility.id, { familyName: 'Lovelace', givenNames: 'Ada' })
  const adaId = await patientWithIdentifier(db, ada, 'urn:ehr:cov')
  const bob = await createPatient(db, facility.id, { familyName: 'Marley', givenNames: 'Bob' })
  const outsider = await createPatient(db, other.facility.id)
  const bobPrimary = await db.kysely.insertInto('coverage').values({
    patientId: bob.id, planId: triPpo.id, priority: 'primary', relationship: 'self', memberId: 'TRI-B1', effectiveFrom: '2026-01-01',
  } as never).returning('id').executeTakeFirstOrThrow()
  const coveragesOf = (patientId: string) =>
    db.kysely.selectFrom('coverage').select(['id', 'planId', 'priority', 'status', 'memberId', 'groupNumber', 'version', 'subscriberFamilyName'])
      .where('patientId', '=', patientId).orderBy('memberId').execute()

  const roster = ndjson([
    { patientMrn: ada.mrn, planId: gold.id, priority: 'primary', relationship: 'self', memberId: 'ACM-1', effectiveFrom: '2026-01-01' },
    { patientIdentifier: adaId, planId: triPpo.id, priority: 'secondary', relationship: 'spouse', subscriber: { familyName: 'Lovelace', givenNames: 'William', birthDate: '1975-02-03' }, memberId: 'TRI-A2', effectiveFrom: '2026-01-01' },
    { patientMrn: bob.mrn, planId: gold.id, priority: 'primary', relationship: 'self', memberId: 'ACM-9', effectiveFrom: '2026-01-01' },
    { patientMrn: ada.mrn, planId: gold.id, priority: 'primary', relationship: 'self', memberId: 'ACM-1', effectiveFrom: '2026-01-01' },
    { patientMrn: bob.mrn, planId: gold.id, priority: 'secondary', relationship: 'child', memberId: 'ACM-10', effectiveFrom: '2026-01-01' },
    { patientMrn: ada.mrn, patientIdentifier: adaId, planId: gold.id, priority: 'tertiary', relationship: 'self', memberId: 'ACM-11', effectiveFrom: '2026-01-01' },
    { patientMrn: outsider.mrn, planId: gold.id, priority: 'primary', relationship: 'self', memberId: 'ACM-12', effectiveFrom: '2026-01-01' },
    { patientMrn: bob.mrn, planId: randomUUID(), priority: 'tertiary', relationship: 'self', memberId: 'ACM-13', effectiveFrom: '2026-01-01' },
    { patientMrn: bob.mrn, planId: gold.id, priority: 'tertiary', relationship: 'self', memberId: 'ACM 14', effectiveFrom: '2026-01-01' },
  ])

  await t.test('valid rows create coverages; conflicting, invalid and unknown ones are rejected alone; a repeated row is unchanged', async (t) => {
    const { job, results } = await importFile('coverages', roster)
    t.match(job, { kind: 'coverages', status: 'completed', rowsRead: 9, created: 2, updated: 0, unchanged: 1, rejected: 6 })
    const adas = await coveragesOf(ada.id)
    t.match(adas, [
      { memberId: 'ACM-1', planId: gold.id, priority: 'primary', status: 'active', version: 1, subscriberFamilyName: null },
      { memberId: 'TRI-A2', planId: triPpo.id, priority: 'secondary', subscriberFamilyName: 'Lovelace' },
    ])
    t.match(results, [
      { row: 1, outcome: 'created', recordId: adas[0].id },
      { row: 2, outcome: 'created', recordId: adas[1].id },
      { row: 3, outcome: 'rejected', recordId: null, problem: { status: 409, type: 'urn:patient-access:problem:coverage-priority-taken', errors: [{ pointer: '/priority' }] } },
      { row: 4, outcome: 'unchanged', recordId: adas[0].id },
      { row: 5, outcome: 'rejected', problem: { status: 400, errors: [{ pointer: '/subscriber', detail: 'required when the patient is not the subscriber' }] } },
      { row: 6, outcome: 'rejected', problem: { status: 400, errors: [{ pointer: '/patientIdentifier' }] } },
      { row: 7, outcome: 'rejected', problem: { status: 404, detail: 'Patient not found', errors: [{ pointer: '/patientMrn' }] } },
      { row: 8, outcome: 'rejected', problem: { status: 404, detail: 'Plan not found', errors: [{ pointer: '/planId' }] } },
      { row: 9, outcome: 'rejected', problem: { type: 'urn:patient-access:problem:validation', errors: [{ pointer: '/memberId' }] } },
    ])
    t.notOk(JSON.stringify(results).includes('Lovelace'), 'no PHI in the results')
    t.same((await coveragesOf(bob.id)).map((c) => c.id), [bobPrimary.id], "Bob's coverages untouched")
    t.match(await importEvents(db, job.id), [
      { action: 'create', verb: 'coverage.create', resourceId: adas[0].id, patientId: ada.id, facilityId: facility.id, detail: { row: 1 } },
      { action: 'create', verb: 'coverage.create', resourceId: adas[1].id, patientId: ada.id, detail: { row: 2 } },
    ])
  })

  await t.test('the same file again reports every valid row unchanged and writes nothing', async (t) => {
    const before = await coveragesOf(ada.id)
    const { job, results } = await importFile('coverages', roster)
    t.match(job, { created: 0, updated: 0, unchanged: 3, rejected: 6 })
    t.same(results.filter((r) => r.outcome === 'unchanged').map((r) => r.row), [1, 2, 4])
    t.same(await coveragesOf(ada.id), before)
    t.same(await importEvents(db, job.id), [])
  })

  await t.test('a dry run reports without writing', async (t) => {
    const before = await coveragesOf(ada.id)
    const { job, results } = await importFile('coverages', ndjson([
      { patientMrn: ada.mrn, planId: silver.id, priority: 'primary', relationship: 'self', memberId: 'ACM-1', effectiveFrom: '2026-01-01' },
      { patientMrn: ada.mrn, planId: gold.id, priority: 'tertiary', relationship: 'self', memberId: 'ACM-3', effectiveFrom: '2026-01-01' },
    ]), { dryRun: true })
    t.match(job, { dryRun: true, created: 1, updated: 1 })
    t.match(results, [{ outcome: 'updated', recordId: before[0].id }, { outcome: 'created', recordId: null }])
    t.same(await coveragesOf(ada.id), before)
  })

  await t.test('a changed row updates the coverage of the same payer and member; priorities move in one batch', async (t) => {
    const [primary, secondary] = await coveragesOf(ada.id)
    const { job, results } = await importFile('coverages', ndjson([
      // Another plan of the same payer, a group number: the same coverage.
      { patientMrn: ada.mrn, planId: silver.id, priority: 'tertiary', relationship: 'self', memberId: 'ACM-1', groupNumber: 'G-7', effectiveFrom: '2026-01-01' },
      // Takes the primary slot the row before gave up.
      { patientIdentifier: adaId, planId: triPpo.id, priority: 'primary', relationship: 'spouse', subscriber: { familyName: 'Lovelace', givenNames: 'William', birthDate: '1975-02-03' }, memberId: 'TRI-A2', effectiveFrom: '2026-01-01' },
      // And a new secondary, in the slot the second row gave up.
      { patientMrn: ada.mrn, planId: gold.id, priority: 'secondary', relationship: 'self', memberId: 'ACM-5', effectiveFrom: '2026-03-01' },
    ]))
    t.match(job, { created: 1, updated: 2, rejected: 0 })
    t.match(results, [{ outcome: 'updated', recordId: primary.id }, { outcome: 'updated', recordId: secondary.id }, { outcome: 'created' }])
    t.match(await coveragesOf(ada.id), [
      { id: primary.id, planId: silver.id, priority: 'tertiary', groupNumber: 'G-7', status: 'active', version: 2 },
      { memberId: 'ACM-5', priority: 'secondary', status: 'active', version: 1 },
      { id: secondary.id, priority: 'primary', status: 'active', version: 2 },
    ])
    t.match(await importEvents(db, job.id), [
      { verb: 'coverage.update', resourceId: primary.id, detail: { row: 1, fields: ['planId', 'priority', 'groupNumber'] } },
      { verb: 'coverage.update', resourceId: secondary.id, detail: { row: 2, fields: ['priority'] } },
      { verb: 'coverage.create', detail: { row: 3 } },
    ])
  })

  await t.test('coverages are visible over the API as usual', async (t) => {
    const desk = await ctx.token('eligibility_specialist', [facility.id])
    const res = await app.inject({ url: `/patients/${ada.id}/coverages`, headers: bearer(desk) })
    t.equal(res.statusCode, 200, res.body)
    t.equal(res.json().items.length, 3)
  })
})
