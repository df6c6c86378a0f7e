import t from 'tap'
import { bearer, buildTestApp } from '../../helpers/app.ts'
import { auditEventsFor, createPatient, orgWithFacility } from '../../helpers/factories.ts'

t.test('linking a patient to a sister facility', async (t) => {
  const ctx = await buildTestApp(t)
  const { app, db } = ctx
  const { organization, facility: a } = await orgWithFacility(db)
  const b = await db.kysely.insertInto('facility').values({ organizationId: organization.id, name: 'Sister clinic', kind: 'clinic', timeZone: 'America/New_York' })
    .returningAll().executeTakeFirstOrThrow()
  const other = await orgWithFacility(db)
  const both = await ctx.token('front_desk', [a.id, b.id], { sub: 'desk-ab' })
  const onlyB = await ctx.token('front_desk', [b.id], { sub: 'desk-b' })
  const patient = await createPatient(db, a.id)
  const send = (method: 'PUT' | 'DELETE', facilityId: string, token = both) =>
    app.inject({ method, url: `/patients/${patient.id}/facilities/${facilityId}`, headers: bearer(token) })
  const seenByB = async () => (await app.inject({ url: `/patients/${patient.id}`, headers: bearer(onlyB) })).statusCode

  await t.test('a sister facility sees the patient only once linked; linking is idempotent and audited once', async (t) => {
    t.equal(await seenByB(), 404)
    t.equal((await send('PUT', b.id, onlyB)).statusCode, 404, 'who cannot see the patient cannot link it')
    t.equal((await send('PUT', b.id)).statusCode, 204)
    t.equal((await send('PUT', b.id)).statusCode, 204)
    t.equal(await seenByB(), 200)
    const read = await app.inject({ url: `/patients/${patient.id}`, headers: bearer(both) })
    t.same([...read.json().facilityIds].sort(), [a.id, b.id].sort())
    t.match(await auditEventsFor(db, { verb: 'patient.facility.link' }), [{ patientId: patient.id, facilityId: b.id, actorSub: 'desk-ab', detail: { facilityId: b.id } }])
    t.equal((await auditEventsFor(db, { verb: 'patient.facility.link' })).length, 1)
  })

  await t.test("another organisation's facility, or one you do not act for, is 404 and changes nothing", async (t) => {
    const otherToken = await ctx.token('front_desk', [a.id, other.facility.id])
    t.equal((await send('PUT', other.facility.id, otherToken)).statusCode, 404)
    const c = await db.kysely.insertInto('facility').values({ organizationId: organization.id, name: 'Third', kind: 'clinic', timeZone: 'UTC' }).returningAll().executeTakeFirstOrThrow()
    t.equal((await send('PUT', c.id)).statusCode, 404)
    const links = await db.kysely.selectFrom('patientFacility').select('facilityId').where('patientId', '=', patient.id).execute()
    t.same(links.map((l) => l.facilityId).sort(), [a.id, b.id].sort())
  })

  await t.test('unlinking hides the patient again; the registering facility stays linked', async (t) => {
    t.equal((await send('DELETE', b.id)).statusCode, 204)
    t.equal(await seenByB(), 404)
    const home = await send('DELETE', a.id)
    t.equal(home.statusCode, 409)
    t.equal(home.json().type, 'urn:patient-access:problem:registering-facility')
    t.equal((await auditEventsFor(db, { verb: 'patient.facility.unlink' })).length, 1)
  })
})
