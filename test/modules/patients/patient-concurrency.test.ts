import { sql } from 'kysely'
import t from 'tap'
import { bearer, buildTestApp } from '../../helpers/app.ts'
import { createPatient, orgWithFacility } from '../../helpers/factories.ts'
import { usingPostgres } from '../../helpers/db.ts'

t.test('concurrent writes (real Postgres)', { skip: usingPostgres() ? false : 'PGlite is one connection: transactions run one after another, so races cannot happen there' }, async (t) => {
  const ctx = await buildTestApp(t)
  const { app, db } = ctx
  const { facility } = await orgWithFacility(db)
  const desk = await ctx.token('front_desk', [facility.id])
  const post = (url: string, payload: object) => app.inject({ method: 'POST', url, headers: bearer(desk), payload })

  await t.test('ten simultaneous registrations of one person create exactly one record; the rest are possible duplicates', async (t) => {
    const body = { facilityId: facility.id, familyName: 'Concurrent', givenNames: 'Casey', birthDate: '1966-06-16' }
    const results = await Promise.all(Array.from({ length: 10 }, () => post('/patients', body)))
    const codes = results.map((r) => r.statusCode).sort()
    t.same(codes, [201, 409, 409, 409, 409, 409, 409, 409, 409, 409])
    const rows = await db.kysely.selectFrom('patient').select('id').where('familyName', '=', 'Concurrent').execute()
    t.equal(rows.length, 1)
  })

  await t.test('a registration that starts while a look-alike is being written waits for it and sees it (409), not the data of before', async (t) => {
    // Each 'Slowpoke' insert holds its statement for 400 ms after writing the row, so the second
    // registration runs its duplicate check while the first is written but not committed. The
    // duplicate-check lock makes it wait, and its probe takes a snapshot after the wait: without
    // either, both would be created.
    await sql`CREATE FUNCTION slow_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.4); RETURN NULL; END $$`.execute(db.kysely)
    await sql`CREATE TRIGGER slow_insert AFTER INSERT ON patient FOR EACH ROW WHEN (NEW.family_name = 'Slowpoke') EXECUTE FUNCTION slow_insert()`.execute(db.kysely)
    t.teardown(() => sql`DROP TRIGGER slow_insert ON patient`.execute(db.kysely))
    const body = { facilityId: facility.id, familyName: 'Slowpoke', givenNames: 'Sam', birthDate: '1971-07-17' }
    const first = post('/patients', body)
    await new Promise((resolve) => setTimeout(resolve, 150))
    const second = await post('/patients', body)
    t.same([(await first).statusCode, second.statusCode], [201, 409])
    t.equal(second.json().type.endsWith('possible-duplicate'), true)
    const rows = await db.kysely.selectFrom('patient').select('id').where('familyName', '=', 'Slowpoke').execute()
    t.equal(rows.length, 1)
  })

  await t.test('simultaneous refunds never exceed the payment', async (t) => {
    const p = await createPatient(db, facility.id)
    const r = await post('/registrations', { kind: 'emergency', patientId: p.id, facilityId: facility.id, details: { arrivalMode: 'walk_in' } })
    const pay = await post(`/registrations/${r.json().id}/payments`, { amountCents: 1000, method: 'card' })
    const refunds = await Promise.all(Array.from({ length: 5 }, () => post(`/payments/${pay.json().id}/refunds`, { amountCents: 400, method: 'card', reason: 'overcharge' })))
    t.same(refunds.map((x) => x.statusCode).sort(), [201, 201, 409, 409, 409])
    const sum = await db.kysely.selectFrom('paymentRefund').select(db.kysely.fn.sum<string>('amountCents').as('s')).where('paymentId', '=', pay.json().id).executeTakeFirstOrThrow()
    t.equal(Number(sum.s), 800)
  })

  await t.test('simultaneous check-ins of one registration check in once and collect once', async (t) => {
    const p = await createPatient(db, facility.id)
    const r = await post('/registrations', { kind: 'emergency', patientId: p.id, facilityId: facility.id, copayDueCents: 500, details: { arrivalMode: 'walk_in' } })
    const body = { demographicsConfirmed: true, insuranceVerified: true, consentForms: [{ form: 'General consent', signedAt: '2026-11-27T09:00:00Z' }], copayment: { amountCents: 500, method: 'cash' } }
    const results = await Promise.all(Array.from({ length: 5 }, () => post(`/registrations/${r.json().id}/check-in`, body)))
    t.same(results.map((x) => x.statusCode).sort(), [201, 409, 409, 409, 409])
    const payments = await db.kysely.selectFrom('payment').select('id').where('registrationId', '=', r.json().id).execute()
    t.equal(payments.length, 1)
  })
})
