import { setTimeout as sleep } from 'node:timers/promises'
import { sql } from 'kysely'
import t from 'tap'
import { buildApp } from '../../../src/app.ts'
import { createDb } from '../../../src/db/create-db.ts'
import { keptSlotSearches, slotSearchCacheLimits } from '../../../src/modules/scheduling/slot-search-cache.ts'
import { bearer, buildTestApp, type TestContext } from '../../helpers/app.ts'
import { usingPostgres } from '../../helpers/db.ts'
import { clinic, localAt } from './fixtures.ts'

const ZONE = 'America/New_York'
const at = (time: string) => localAt(ZONE, 3, time)
const WINDOW = `from=${encodeURIComponent(at('00:00'))}&to=${encodeURIComponent(localAt(ZONE, 4, '00:00'))}&limit=500`

/** The clinic, a scheduler there, and the free starts of its provider's day (epoch ms) and a booking, through one app. */
async function setUp(ctx: TestContext) {
  const c = await clinic(ctx.db)
  const token = await ctx.token('scheduler', [c.facility.id])
  const url = `/slots?facilityId=${c.facility.id}&appointmentTypeId=${c.type.id}&providerId=${c.provider.id}&${WINDOW}`
  const free = async (app = ctx.app) => {
    const res = await app.inject({ url, headers: bearer(token) })
    if (res.statusCode !== 200) throw new Error(res.body)
    return new Set<number>(res.json().items.map((s: { start: string }) => Date.parse(s.start)))
  }
  const book = (time: string, app = ctx.app) => app.inject({
    method: 'POST', url: '/appointments', headers: bearer(token),
    payload: { facilityId: c.facility.id, patientId: c.patient.id, providerId: c.provider.id, appointmentTypeId: c.type.id, start: at(time), resourceIds: [c.room.id] },
  })
  return { c, token, free, book }
}

t.test('a repeated slot search is answered from its kept lookup, and sees every change committed since', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx
  const { c, token, free, book } = await setUp(ctx)
  t.ok((await free()).has(Date.parse(at('09:00'))), '09:00 is free')

  // A booking whose reservations the change log does not record (its trigger off) is not seen:
  // the second search is answered from what the first read.
  await sql`ALTER TABLE reservation DISABLE TRIGGER reservation_changed_insert`.execute(db.kysely)
  const unlogged = await book('09:00')
  await sql`ALTER TABLE reservation ENABLE TRIGGER reservation_changed_insert`.execute(db.kysely)
  t.equal(unlogged.statusCode, 201, 'booked', { body: unlogged.body })
  t.ok((await free()).has(Date.parse(at('09:00'))), 'served from the kept lookup: the unlogged booking is not seen')

  const logged = await book('10:00')
  t.equal(logged.statusCode, 201, 'booked', { body: logged.body })
  let now = await free()
  t.notOk(now.has(Date.parse(at('10:00'))), 'a booking committed since is seen')
  t.notOk(now.has(Date.parse(at('09:00'))), 'and the lookup read afresh has the unlogged one too')

  await db.kysely.deleteFrom('appointment').where('id', '=', logged.json().id).execute()
  t.ok((await free()).has(Date.parse(at('10:00'))), 'a reservation removed by another writer (a cascade, in SQL) frees its time')

  await db.kysely.insertInto('availabilityException').values({
    providerId: c.provider.id, facilityId: c.facility.id, kind: 'block', startAt: new Date(at('11:00')), endAt: new Date(at('12:00')), reason: 'Meeting',
  }).execute()
  now = await free()
  t.notOk(now.has(Date.parse(at('11:00'))) || now.has(Date.parse(at('11:30'))), 'a block added since is honoured')
  await db.kysely.updateTable('availabilityRule').set({ endTime: '17:00' }).where('providerId', '=', c.provider.id).execute()
  t.notOk((await free()).has(Date.parse(at('17:00'))), 'a rule changed since is honoured')

  // A hold expiring commits nothing: the lookup that holds it is read afresh once it has expired.
  const hold = await ctx.app.inject({
    method: 'POST', url: '/slot-holds', headers: bearer(token),
    payload: { facilityId: c.facility.id, providerId: c.provider.id, appointmentTypeId: c.type.id, start: at('13:00'), resourceIds: [c.room.id] },
  })
  t.equal(hold.statusCode, 201, 'held', { body: hold.body })
  // Four seconds: the two searches below must run before it expires, on a loaded machine too.
  const expiry = await sql<{ at: Date }>`UPDATE reservation SET expires_at = clock_timestamp() + interval '4 seconds'
                                         WHERE hold_id = ${hold.json().id}::uuid RETURNING expires_at AS at`.execute(db.kysely)
  t.notOk((await free()).has(Date.parse(at('13:00'))), 'a live hold takes its time')
  t.notOk((await free()).has(Date.parse(at('13:00'))), 'still, from the kept lookup')
  t.ok(Date.now() < new Date(expiry.rows[0].at).getTime(), 'both searches ran before the hold expired')
  await sleep(new Date(expiry.rows[0].at).getTime() - Date.now() + 100)
  t.ok((await free()).has(Date.parse(at('13:00'))), 'the time is free again once the hold has expired, though nothing was written')
})

t.test('what is kept is bounded: by weight, least recently used out first, and by age', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx
  const { c, token, book } = await setUp(ctx)
  const limits = { ...slotSearchCacheLimits }
  t.teardown(() => Object.assign(slotSearchCacheLimits, limits))
  // Four one-day searches (days 3 to 6), each of its own window.
  const day = (n: number) => `/slots?facilityId=${c.facility.id}&appointmentTypeId=${c.type.id}&providerId=${c.provider.id}`
    + `&from=${encodeURIComponent(localAt(ZONE, n, '00:00'))}&to=${encodeURIComponent(localAt(ZONE, n + 1, '00:00'))}&limit=500`
  const starts = async (n: number) => {
    const res = await ctx.app.inject({ url: day(n), headers: bearer(token) })
    t.equal(res.statusCode, 200, `day ${n}`, { body: res.body })
    return new Set<number>(res.json().items.map((s: { start: string }) => Date.parse(s.start)))
  }
  await starts(3)
  const one = keptSlotSearches(db.kysely)
  t.equal(one.lookups, 1, 'a search is kept')
  slotSearchCacheLimits.maxBounds = one.bounds * 2
  for (const n of [4, 5, 6]) await starts(n)
  t.same(keptSlotSearches(db.kysely), { lookups: 2, bounds: one.bounds * 2 }, 'no more than the bound: the two used last')

  // Which two: a booking the log does not see shows in a search read afresh, not in a kept one.
  await sql`ALTER TABLE reservation DISABLE TRIGGER reservation_changed_insert`.execute(db.kysely)
  const booked = await book('09:00')
  await sql`ALTER TABLE reservation ENABLE TRIGGER reservation_changed_insert`.execute(db.kysely)
  t.equal(booked.statusCode, 201, 'booked', { body: booked.body })
  t.notOk((await starts(3)).has(Date.parse(at('09:00'))), 'the first search, put out, is read afresh')

  slotSearchCacheLimits.maxAgeMs = 0
  await starts(6)
  await sql`ALTER TABLE reservation DISABLE TRIGGER reservation_changed_insert`.execute(db.kysely)
  const sixth = await ctx.app.inject({
    method: 'POST', url: '/appointments', headers: bearer(token),
    payload: { facilityId: c.facility.id, patientId: c.patient.id, providerId: c.provider.id, appointmentTypeId: c.type.id, start: localAt(ZONE, 6, '09:00'), resourceIds: [c.room.id] },
  })
  await sql`ALTER TABLE reservation ENABLE TRIGGER reservation_changed_insert`.execute(db.kysely)
  t.equal(sixth.statusCode, 201, 'booked', { body: sixth.body })
  t.notOk((await starts(6)).has(Date.parse(localAt(ZONE, 6, '09:00'))), 'a lookup past its age is read afresh')
})

t.test('the change log: a row per owner and statement, pruned after an hour, written only by its triggers', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx
  const { c, book } = await setUp(ctx)
  const rows = async () => (await sql<{ owner: string; n: string }>`SELECT owner_id::text AS owner, count(*)::text AS n FROM schedule_change GROUP BY 1`.execute(db.kysely)).rows
  const before = new Map((await rows()).map((r) => [r.owner, Number(r.n)]))
  const booked = await book('09:00')
  t.equal(booked.statusCode, 201, 'booked', { body: booked.body })
  const after = new Map((await rows()).map((r) => [r.owner, Number(r.n)]))
  t.equal(after.get(c.provider.id), (before.get(c.provider.id) ?? 0) + 1, 'the provider\'s schedule changed once')
  t.equal(after.get(c.room.id), (before.get(c.room.id) ?? 0) + 1, 'and the room\'s')

  await sql`INSERT INTO schedule_change (owner_id, at) VALUES (${c.provider.id}::uuid, now() - interval '2 hours'), (${c.room.id}::uuid, now() - interval '59 minutes')`.execute(db.kysely)
  const pruned = await sql<{ n: string }>`SELECT schedule_change_prune()::text AS n`.execute(db.kysely)
  t.equal(pruned.rows[0].n, '1', 'only the row over an hour old is pruned')
  t.equal((await sql<{ n: string }>`SELECT count(*)::text AS n FROM schedule_change WHERE at < now() - interval '1 hour'`.execute(db.kysely)).rows[0].n, '0', 'none over an hour is left')
  t.equal((await sql<{ n: string }>`SELECT count(*)::text AS n FROM schedule_change WHERE at < now() - interval '58 minutes'`.execute(db.kysely)).rows[0].n, '1', 'the 59 minutes old row stays')

  const can = async (privilege: string) =>
    (await sql<{ ok: boolean }>`SELECT has_table_privilege('patient_access_app', 'schedule_change', ${privilege}) AS ok`.execute(db.kysely)).rows[0].ok
  t.ok(await can('SELECT'), 'the application role reads the log')
  for (const privilege of ['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) t.notOk(await can(privilege), `and cannot ${privilege} it`)

  // The API's role changes schedules, and its changes are logged through the triggers.
  const logged = await db.kysely.transaction().execute(async (trx) => {
    await sql`SET LOCAL ROLE patient_access_app`.execute(trx)
    await trx.updateTable('availabilityRule').set({ endTime: '17:30' }).where('providerId', '=', c.provider.id).execute()
    await trx.deleteFrom('appointment').where('id', '=', booked.json().id).execute()
    return (await sql<{ owner: string }>`SELECT owner_id::text AS owner FROM schedule_change WHERE xid = pg_current_xact_id() ORDER BY 1`.execute(trx)).rows.map((r) => r.owner)
  })
  t.same(logged, [c.provider.id, c.room.id, '00000000-0000-0000-0000-000000000000'].sort(), 'as the application role: the rule change and the freed reservations are logged')
})

t.test('searches on two nodes stay current under concurrent bookings on both', {
  skip: usingPostgres() ? false : 'a second node needs connections of its own; PGlite is one, in-process (set TEST_DATABASE_URL)',
}, async (t) => {
  const ctx = await buildTestApp(t)
  const db2 = await createDb({ databaseUrl: ctx.dbUrl!, poolMax: 10 })
  const node2 = await buildApp({ config: ctx.config, db: db2, sealer: false })
  t.teardown(async () => {
    await node2.close()
    await db2.close()
  })
  const { free, book } = await setUp(ctx)
  const nodes = [ctx.app, node2]
  const times = ['08:00', '08:30', '09:00', '09:30', '10:00', '10:30', '11:00', '11:30', '12:00', '12:30', '13:00', '13:30', '14:00', '14:30', '15:00', '15:30']
  for (const app of nodes) t.equal((await free(app)).size, 20, 'each node has read and kept the day\'s 20 free slots')

  for (let round = 0; round < 2; round++) {
    const mine = times.filter((_, i) => i % 2 === round)
    const results = await Promise.all([
      ...mine.map((time, i) => book(time, nodes[i % 2])),
      ...Array.from({ length: 24 }, (_, i) => free(nodes[i % 2])),
    ])
    const statuses = results.slice(0, mine.length).map((r) => (r as Awaited<ReturnType<typeof book>>).statusCode)
    t.same(statuses, mine.map(() => 201), `round ${round + 1}: every booking made`)
    for (const [i, app] of nodes.entries()) {
      const left = await free(app)
      t.same(mine.filter((time) => left.has(Date.parse(at(time)))), [], `round ${round + 1}: node ${i + 1} lists none of the times booked on either node`)
    }
  }
  for (const app of nodes) t.equal((await free(app)).size, 4, 'each node lists the four slots left')
})
