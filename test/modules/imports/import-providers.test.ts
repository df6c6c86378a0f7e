import t from 'tap'
import { sql } from 'kysely'
import { bearer, buildTestApp } from '../../helpers/app.ts'
import { orgWithFacility } from '../../helpers/factories.ts'
import { badNpi, countRows, importer, importEvents, ndjson, validNpi } from './fixtures.ts'

t.test('provider imports', async (t) => {
  const ctx = await buildTestApp(t)
  const { app, db } = ctx
  const { organization, facility } = await orgWithFacility(db)
  const second = await db.kysely.insertInto('facility').values({ organizationId: organization.id, name: 'Second site', kind: 'hospital', timeZone: 'America/New_York' }).returningAll().executeTakeFirstOrThrow()
  const foreign = await orgWithFacility(db)
  const token = await ctx.token('integrator', [facility.id, second.id])
  const { importFile } = importer(t, ctx, token, facility.id)
  const [cardio, derm] = await db.kysely.insertInto('specialty').values([{ code: 'imp-cardio', name: 'Cardiology' }, { code: 'imp-derm', name: 'Dermatology' }]).returningAll().execute()
  const existingNpi = validNpi()
  const existing = await db.kysely.insertInto('provider').values({ organizationId: organization.id, npi: existingNpi, displayName: 'Dr. Old Name' }).returningAll().executeTakeFirstOrThrow()
  await db.kysely.insertInto('providerFacility').values({ providerId: existing.id, facilityId: facility.id }).execute()
  await db.kysely.insertInto('providerSpecialty').values({ providerId: existing.id, specialtyId: cardio.id }).execute()

  const npi1 = validNpi()
  const providerOf = (npi: string) => db.kysely.selectFrom('provider').selectAll().where('organizationId', '=', organization.id).where('npi', '=', npi).executeTakeFirst()
  const linksOf = async (id: string) => ({
    facilities: (await db.kysely.selectFrom('providerFacility').select('facilityId').where('providerId', '=', id).orderBy('facilityId').execute()).map((r) => r.facilityId),
    specialties: (await db.kysely.selectFrom('providerSpecialty').select('specialtyId').where('providerId', '=', id).orderBy('specialtyId').execute()).map((r) => r.specialtyId),
  })
  const roster = ndjson([
    { npi: npi1, displayName: 'Dr. Ana Ruiz, MD', specialtyIds: [cardio.id, derm.id], facilityIds: [facility.id, second.id] },
    { npi: badNpi(validNpi()), displayName: 'Dr. Bad Digit' },
    { npi: validNpi(), displayName: 'Dr. Extra', pager: '555' },
    { npi: existingNpi, displayName: 'Dr. New Name' },
    { npi: npi1, displayName: 'Dr. Ana Ruiz, MD', specialtyIds: [derm.id, cardio.id], facilityIds: [second.id, facility.id] },
    { npi: validNpi(), displayName: 'Dr. Elsewhere', facilityIds: [foreign.facility.id] },
    { npi: validNpi(), displayName: 'Dr. Unknown Specialty', specialtyIds: ['00000000-0000-4000-8000-000000000000'] },
  ])

  await t.test('valid rows create and update providers by NPI; bad rows are rejected alone with pointers; a repeated row is unchanged', async (t) => {
    const { job, results } = await importFile('providers', roster)
    t.match(job, { kind: 'providers', status: 'completed', rowsRead: 7, created: 1, updated: 1, unchanged: 1, rejected: 4 })
    const created = await providerOf(npi1)
    t.match(results, [
      { row: 1, outcome: 'created', recordId: created!.id },
      { row: 2, outcome: 'rejected', recordId: null, problem: { status: 400, errors: [{ pointer: '/npi', detail: 'NPI check digit is wrong' }] } },
      { row: 3, outcome: 'rejected', problem: { type: 'urn:patient-access:problem:validation', errors: [{ pointer: '/pager' }] } },
      { row: 4, outcome: 'updated', recordId: existing.id },
      { row: 5, outcome: 'unchanged', recordId: created!.id },
      { row: 6, outcome: 'rejected', problem: { status: 404, detail: 'Facility not found', errors: [{ pointer: '/facilityIds/0' }] } },
      { row: 7, outcome: 'rejected', problem: { status: 404, detail: 'Specialty not found', errors: [{ pointer: '/specialtyIds/0' }] } },
    ])
    t.match(created, { displayName: 'Dr. Ana Ruiz, MD', version: 1, active: true })
    t.same(await linksOf(created!.id), { facilities: [facility.id, second.id].sort(), specialties: [cardio.id, derm.id].sort() })
    t.match(await providerOf(existingNpi), { displayName: 'Dr. New Name', version: 2 })
    t.same(await linksOf(existing.id), { facilities: [facility.id], specialties: [cardio.id] }, 'specialties left out of the row are kept')
    t.equal(await countRows(db, 'provider', sql`organization_id = ${foreign.organization.id}`), 0)
    t.match(await importEvents(db, job.id), [
      { action: 'update', verb: 'provider.update', resourceId: existing.id, facilityId: facility.id, detail: { row: 4, fields: ['displayName'] } },
      { action: 'create', verb: 'provider.create', resourceId: created!.id, facilityId: facility.id, detail: { row: 1 } },
    ])
  })

  await t.test('the same file again reports every valid row unchanged and writes nothing', async (t) => {
    const before = await db.kysely.selectFrom('provider').select(['id', 'version', 'displayName']).where('organizationId', '=', organization.id).orderBy('id').execute()
    const { job, results } = await importFile('providers', roster)
    t.match(job, { created: 0, updated: 0, unchanged: 3, rejected: 4 })
    t.same(results.filter((r) => r.outcome !== 'rejected').map((r) => r.row), [1, 4, 5])
    t.same(await db.kysely.selectFrom('provider').select(['id', 'version', 'displayName']).where('organizationId', '=', organization.id).orderBy('id').execute(), before)
    t.same(await importEvents(db, job.id), [], 'no create or update events')
  })

  await t.test('a dry run reports what would happen and writes nothing', async (t) => {
    const fresh = validNpi()
    const { job, results } = await importFile('providers', ndjson([
      { npi: fresh, displayName: 'Dr. Dry Run' },
      { npi: existingNpi, displayName: 'Dr. Renamed Again', specialtyIds: [] },
    ]), { dryRun: true })
    t.match(job, { dryRun: true, created: 1, updated: 1 })
    t.match(results, [{ outcome: 'created', recordId: null }, { outcome: 'updated', recordId: existing.id }])
    t.notOk(await providerOf(fresh))
    t.match(await providerOf(existingNpi), { displayName: 'Dr. New Name', version: 2 })
    t.same((await linksOf(existing.id)).specialties, [cardio.id])
    t.same(await importEvents(db, job.id), [])
  })

  await t.test('CSV with a BOM and quoting: specialties replaced, another facility linked', async (t) => {
    const csv = '\uFEFFnpi,displayName,specialtyIds.0,facilityIds.0\r\n' +
      `${existingNpi},"Dr. New Name",${derm.id},${second.id}\r\n` +
      `${validNpi()},"Ruiz, Ana ""Annie"", MD",,\r\n`
    const { job, results } = await importFile('providers', csv, { format: 'csv' }, 'text/csv')
    t.match(job, { created: 1, updated: 1, rejected: 0 })
    t.same(await linksOf(existing.id), { facilities: [facility.id, second.id].sort(), specialties: [derm.id] })
    t.match(await db.kysely.selectFrom('provider').select('displayName').where('id', '=', results[1].recordId).executeTakeFirstOrThrow(), { displayName: 'Ruiz, Ana "Annie", MD' })
    t.same(await linksOf(results[1].recordId), { facilities: [facility.id], specialties: [] }, 'facility defaults to the import\'s')
    t.match(await importEvents(db, job.id), [{ verb: 'provider.update', detail: { fields: ['specialtyIds', 'facilityIds'] } }, { verb: 'provider.create' }])
  })

  await t.test("an import of a kind needs the kind's own permission too", async (t) => {
    const narrow = await ctx.token('integrator', [facility.id], { scope: 'pa:import:write pa:patient:write' })
    const res = await app.inject({ method: 'POST', url: '/imports', headers: bearer(narrow), payload: { facilityId: facility.id, kind: 'providers', format: 'ndjson' } })
    t.equal(res.statusCode, 403)
    t.match(res.json(), { detail: 'Imports of providers need the scheduling:write permission' })
  })
})
