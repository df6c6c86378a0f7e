import t from 'tap'
import { buildTestApp } from '../../helpers/app.ts'
import { createPatient, orgWithFacility } from '../../helpers/factories.ts'
import { importer, ndjson } from './fixtures.ts'

t.test('a patient import changes a restricted record only through its care team', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx
  const { facility } = await orgWithFacility(db)
  const vip = await createPatient(db, facility.id, { familyName: 'Vanterpool', givenNames: 'Iris', birthDate: '1970-02-03' })
  await db.kysely.updateTable('patient').set({ restriction: 'vip' }).where('id', '=', vip.id).execute()
  const row = ndjson([{ mrn: vip.mrn, facilityId: facility.id, familyName: 'Vanterpool', givenNames: 'Iris', birthDate: '1970-02-03', email: 'iris@example.org' }])
  const emailOf = async () => (await db.kysely.selectFrom('patient').select('email').where('id', '=', vip.id).executeTakeFirstOrThrow()).email

  await t.test('outside the care team the row is rejected with restricted-record and nothing changes', async (t) => {
    const { importFile } = importer(t, ctx, await ctx.token('integrator', [facility.id], { sub: 'feed-1' }), facility.id)
    const { job, results } = await importFile('patients', row)
    t.match(job, { status: 'completed', rejected: 1, updated: 0 })
    t.match(results, [{ row: 1, outcome: 'rejected', problem: { type: 'urn:patient-access:problem:restricted-record', status: 403 } }])
    t.notMatch(JSON.stringify(results), /Vanterpool/, 'no PHI in the result')
    t.equal(await emailOf(), null)
  })

  await t.test('the care team updates it', async (t) => {
    await db.kysely.insertInto('patientCareTeam').values({ patientId: vip.id, userSub: 'feed-2', addedBy: 'test' }).execute()
    const { importFile } = importer(t, ctx, await ctx.token('integrator', [facility.id], { sub: 'feed-2' }), facility.id)
    const { job } = await importFile('patients', row)
    t.match(job, { status: 'completed', updated: 1, rejected: 0 })
    t.equal(await emailOf(), 'iris@example.org')
  })

  await t.test('a row may flag a new patient restricted; a re-run reports it unchanged', async (t) => {
    const { importFile } = importer(t, ctx, await ctx.token('integrator', [facility.id], { sub: 'feed-3' }), facility.id)
    const rows = ndjson([{ facilityId: facility.id, familyName: 'Quarrington', givenNames: 'Nell', birthDate: '1966-09-12', restriction: 'employee', identifiers: [{ system: 'urn:hr', value: 'E-77' }] }])
    const first = await importFile('patients', rows)
    t.match(first.job, { created: 1 })
    const row = await db.kysely.selectFrom('patient').select('restriction').where('id', '=', first.results[0].recordId).executeTakeFirstOrThrow()
    t.equal(row.restriction, 'employee')
    await db.kysely.insertInto('patientCareTeam').values({ patientId: first.results[0].recordId, userSub: 'feed-3', addedBy: 'test' }).execute()
    const again = await importFile('patients', rows)
    t.match(again.job, { unchanged: 1, updated: 0 })
  })
})
