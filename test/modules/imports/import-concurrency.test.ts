import { setTimeout as delay } from 'node:timers/promises'
import t from 'tap'
import { sql } from 'kysely'
import { bearer, buildTestApp } from '../../helpers/app.ts'
import { usingPostgres } from '../../helpers/db.ts'
import { orgWithFacility } from '../../helpers/factories.ts'
import { importer, ndjson } from './fixtures.ts'

t.test('a patient import and a registration of the same person in flight (real Postgres)', { skip: usingPostgres() ? false : 'PGlite is one connection: transactions run one after another, so races cannot happen there' }, async (t) => {
  const ctx = await buildTestApp(t)
  const { app, db } = ctx
  const { organization, facility } = await orgWithFacility(db)
  const token = await ctx.token('integrator', [facility.id])
  const { create, results } = importer(t, ctx, token, facility.id)
  const person = { familyName: 'Racewell', givenNames: 'Robin', birthDate: '1971-07-17' }

  await t.test('the import waits for the registration to commit, then reports its row a duplicate of it', async (t) => {
    const job = await create({ kind: 'patients' })
    let upload: Promise<{ statusCode: number; body: string }> | undefined
    const registered = await db.kysely.transaction().execute(async (trx) => {
      // What a registration does before it commits: the advisory lock on (organisation,
      // family-name code, birth date) of patient_registration_check, then the insert.
      await sql`SELECT pg_advisory_xact_lock(hashtextextended(${organization.id}::text || ':' || coalesce(dmetaphone(patient_name_key(${person.familyName})), '') || ':' || ${person.birthDate}, 0))`.execute(trx)
      const patient = await trx.insertInto('patient')
        .values({ organizationId: organization.id, facilityId: facility.id, mrn: 'RACE-1', ...person })
        .returning('id').executeTakeFirstOrThrow()
      await trx.insertInto('patientFacility').values({ patientId: patient.id, facilityId: facility.id }).execute()
      upload = app.inject({
        method: 'PUT', url: `/imports/${job.id}/file`, headers: { ...bearer(token), 'content-type': 'application/x-ndjson' },
        payload: ndjson([{ ...person, identifiers: [{ system: 'urn:ehr:race', value: 'R1' }] }]),
      })
      const finished = await Promise.race([upload.then(() => true), delay(1000, false)])
      t.equal(finished, false, 'the import has not finished while the registration holds its lock')
      return patient
    })
    const res = await upload!
    t.equal(res.statusCode, 200, 'file applied')
    t.match(JSON.parse(res.body), { created: 0, duplicates: 1 })
    t.match(await results(job.id), [{ row: 1, outcome: 'duplicate', problem: { candidates: [{ id: registered.id }] } }])
  })
})
