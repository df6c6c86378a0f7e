import t from 'tap'
import { sql } from 'kysely'
import pg from 'pg'
import { bearer, buildTestApp } from '../../helpers/app.ts'
import { usingPostgres } from '../../helpers/db.ts'
import { createPatient } from '../../helpers/factories.ts'
import { clinic, localAt } from './fixtures.ts'

/** Polls until the check holds (for up to 2 s), or fails saying what never happened. */
async function until(what: string, check: () => Promise<boolean>) {
  for (let i = 0; i < 200; i++) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 10))
  }
  throw new Error(`never: ${what}`)
}

t.test('50 concurrent bookings of overlapping time: exactly one wins, 49 get 409, none 5xx', {
  skip: usingPostgres() ? false : 'PGlite is one connection: requests run one after another, so concurrency proves nothing there (set TEST_DATABASE_URL)',
}, async (t) => {
  const ctx = await buildTestApp(t)
  const { app, db } = ctx
  const c = await clinic(db, 'America/New_York', { durationMinutes: 30, bufferAfterMinutes: 10 })
  const scheduler = await ctx.token('scheduler', [c.facility.id])
  const patients = await Promise.all(Array.from({ length: 50 }, () => createPatient(db, c.facility.id)))

  const burst = async (startOf: (i: number) => string) => {
    const responses = await Promise.all(patients.map((p, i) => app.inject({
      method: 'POST', url: '/appointments', headers: bearer(scheduler),
      payload: { facilityId: c.facility.id, patientId: p.id, providerId: c.provider.id, appointmentTypeId: c.type.id, start: startOf(i), resourceIds: [c.room.id] },
    })))
    const statuses = responses.map((r) => r.statusCode)
    const conflicts = responses.filter((r) => r.statusCode === 409)
    return { statuses, winners: responses.filter((r) => r.statusCode === 201), conflicts }
  }

  for (let round = 0; round < 3; round++) {
    const same = await burst(() => localAt('America/New_York', 14 + round, '09:00'))
    t.equal(same.winners.length, 1, `round ${round}: one slot, one winner`)
    t.equal(same.conflicts.length, 49, `round ${round}: 49 conflicts`)
    t.ok(same.conflicts.every((r) => r.json().type === 'urn:patient-access:problem:slot-unavailable'))
    t.notOk(same.statuses.some((s) => s >= 500), 'no 5xx')
  }

  // Starts 09:00, 09:01, ... 09:49 on another day: every pair within 40 minutes (30 + 10 buffer) overlaps,
  // so more than one can win only if they are 40+ minutes apart.
  const shifted = await burst((i) => {
    const base = Date.parse(localAt('America/New_York', 20, '09:00'))
    return new Date(base + i * 60_000).toISOString()
  })
  t.notOk(shifted.statuses.some((s) => s >= 500), 'no 5xx')
  const starts = shifted.winners.map((r) => Date.parse(r.json().start)).sort((a, b) => a - b)
  for (let i = 1; i < starts.length; i++) t.ok(starts[i] - starts[i - 1] >= 40 * 60_000, 'winners never overlap (buffers included)')
  t.equal(shifted.winners.length + shifted.conflicts.length, 50)
  t.ok(shifted.winners.length >= 1 && shifted.winners.length <= 2)

  // All fifty shifted within the first 10 minutes: every pair overlaps, exactly one wins.
  const tight = await burst((i) => new Date(Date.parse(localAt('America/New_York', 21, '09:00')) + (i % 10) * 60_000).toISOString())
  t.equal(tight.winners.length, 1, 'overlapping shifted times: one winner')
  t.equal(tight.conflicts.length, 49)
  t.notOk(tight.statuses.some((s) => s >= 500), 'no 5xx')

  const rows = await db.kysely.selectFrom('reservation').select(['providerId']).where('providerId', '=', c.provider.id).execute()
  t.equal(rows.length, 3 + shifted.winners.length + 1, 'the table holds exactly the winners')
})

t.test('a provider or appointment type retired while a booking waits for its locks cannot be booked', {
  skip: usingPostgres() ? false : 'needs a second connection holding locks (set TEST_DATABASE_URL)',
}, async (t) => {
  const ctx = await buildTestApp(t)
  const { app, db } = ctx
  const c = await clinic(db, 'UTC')
  const scheduler = await ctx.token('scheduler', [c.facility.id])
  const patient = await createPatient(db, c.facility.id)
  const retirer = new pg.Client({ connectionString: ctx.dbUrl })
  await retirer.connect()
  t.teardown(() => retirer.end())
  const book = (day: number) => app.inject({
    method: 'POST', url: '/appointments', headers: bearer(scheduler),
    payload: { facilityId: c.facility.id, patientId: patient.id, providerId: c.provider.id, appointmentTypeId: c.type.id, start: localAt('UTC', day, '10:00'), resourceIds: [c.room.id] },
  })
  // Some other session waits on a lock: the booking, blocked by the retirer.
  const waiting = () => until('the booking waits', async () => (await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted`.execute(db.kysely)).rows[0].n > 0)
  const appointments = () => db.kysely.selectFrom('appointment').select('id').where('providerId', '=', c.provider.id).execute()

  const cases = [
    {
      name: 'the provider: its retirement holds the schedule lock the booking waits for',
      hold: ['SELECT pg_advisory_xact_lock(hashtextextended($1, 4004))', c.provider.id],
      retire: ['UPDATE provider SET active = false WHERE id = $1', c.provider.id], detail: 'Provider not found',
    },
    {
      name: 'the appointment type: its retirement holds the type row the booking reads FOR SHARE',
      hold: ['SELECT id FROM appointment_type WHERE id = $1 FOR UPDATE', c.type.id],
      retire: ['UPDATE appointment_type SET active = false WHERE id = $1', c.type.id], detail: 'Appointment type not found',
    },
  ]
  for (const [i, k] of cases.entries()) {
    await t.test(k.name, async (t) => {
      await retirer.query('BEGIN')
      await retirer.query(k.hold[0], [k.hold[1]])
      const pending = book(3 + i)
      await waiting()
      await retirer.query(k.retire[0], [k.retire[1]])
      await retirer.query('COMMIT')
      const res = await pending
      t.equal(res.statusCode, 404, res.body)
      t.equal(res.json().detail, k.detail)
      t.same(await appointments(), [], 'nothing booked')
      await db.kysely.updateTable('provider').set({ active: true }).where('id', '=', c.provider.id).execute()
    })
  }
})

t.test('a booking that waits for the schedule locks while another booking of the same time commits sees it: 409, never booked beside it', {
  skip: usingPostgres() ? false : 'PGlite is one connection: requests run one after another, so one cannot wait for another (set TEST_DATABASE_URL)',
}, async (t) => {
  const ctx = await buildTestApp(t)
  const { app, db } = ctx
  const c = await clinic(db, 'UTC')
  const scheduler = await ctx.token('scheduler', [c.facility.id])
  const supervisor = await ctx.token(['scheduler', 'admin'], [c.facility.id])
  // A booking noted 'Slow' holds its statement, and so the schedule locks, for 400 ms after
  // writing the appointment: the second booking starts its statement, then waits for the locks
  // while the first commits. Its claim must read after the wait, not with the statement's
  // snapshot of before.
  await sql`CREATE FUNCTION slow_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.4); RETURN NULL; END $$`.execute(db.kysely)
  await sql`CREATE TRIGGER slow_insert AFTER INSERT ON appointment FOR EACH ROW WHEN (NEW.note = 'Slow') EXECUTE FUNCTION slow_insert()`.execute(db.kysely)
  t.teardown(() => sql`DROP TRIGGER slow_insert ON appointment`.execute(db.kysely))
  const advisoryLocks = async (granted: boolean) => (await sql<{ n: number }>`
    SELECT count(*)::int AS n FROM pg_locks
     WHERE locktype = 'advisory' AND granted = ${granted} AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`.execute(db.kysely)).rows[0].n

  const cases = [
    { name: 'the first an ordinary booking', token: scheduler, first: {} },
    // The exclusion constraints leave overbookings out: only the claim's read can see this one.
    { name: 'the first a deliberate overbooking, which the exclusion constraint does not see', token: supervisor, first: { overbookReason: 'Urgent follow-up' } },
  ]
  for (const [i, k] of cases.entries()) {
    await t.test(k.name, async (t) => {
      const start = localAt('UTC', 3 + i, '10:00')
      const book = (token: string, patientId: string, extra: object) => app.inject({
        method: 'POST', url: '/appointments', headers: bearer(token),
        payload: { facilityId: c.facility.id, patientId, providerId: c.provider.id, appointmentTypeId: c.type.id, start, resourceIds: [c.room.id], ...extra },
      })
      const first = book(k.token, c.patient.id, { ...k.first, note: 'Slow' })
      await until('the first booking holds the schedule locks', async () => (await advisoryLocks(true)) > 0)
      const second = book(scheduler, (await createPatient(db, c.facility.id)).id, {})
      await until('the second booking waits for them', async () => (await advisoryLocks(false)) > 0)
      const [a, b] = [await first, await second]
      t.equal(a.statusCode, 201, a.body)
      t.equal(b.statusCode, 409, b.body)
      t.match(b.json(), { type: 'urn:patient-access:problem:slot-unavailable', status: 409, detail: 'The time is no longer free for this provider or resource' })
      const booked = await db.kysely.selectFrom('appointment').select('id').where('providerId', '=', c.provider.id).where('startAt', '=', new Date(start)).execute()
      t.same(booked.map((r) => r.id), [a.json().id], 'only the first is booked')
    })
  }
})

t.test('a refused booking neither queues for the schedule locks nor locks the appointment type', {
  skip: usingPostgres() ? false : 'needs other connections holding locks (set TEST_DATABASE_URL)',
}, async (t) => {
  const ctx = await buildTestApp(t)
  const { app, db } = ctx
  const c = await clinic(db, 'UTC')
  const scheduler = await ctx.token('scheduler', [c.facility.id])
  // Another booking in progress on the provider's schedule holds its lock: `locker`.
  const locker = new pg.Client({ connectionString: ctx.dbUrl })
  const typeLocker = new pg.Client({ connectionString: ctx.dbUrl })
  await locker.connect()
  await typeLocker.connect()
  t.teardown(async () => {
    await locker.query('ROLLBACK')
    await typeLocker.query('ROLLBACK')
    await locker.end()
    await typeLocker.end()
  })
  const book = (start: string) => app.inject({
    method: 'POST', url: '/appointments', headers: bearer(scheduler),
    payload: { facilityId: c.facility.id, patientId: c.patient.id, providerId: c.provider.id, appointmentTypeId: c.type.id, start, resourceIds: [c.room.id] },
  })
  const waitingForLocks = async () => (await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted`.execute(db.kysely)).rows[0].n > 0
  const lockSchedule = async () => {
    await locker.query('BEGIN')
    await locker.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 4004))', [c.provider.id])
  }
  /** A hold of [start, start + 30 min) on the provider, as a hold made under the locks would be. */
  const holdInLocker = async (start: string) => {
    const end = new Date(Date.parse(start) + 30 * 60_000)
    const { rows } = await locker.query(`INSERT INTO slot_hold (facility_id, provider_id, appointment_type_id, start_at, end_at, expires_at, created_by)
      VALUES ($1, $2, $3, $4, $5, now() + interval '1 hour', 'test') RETURNING id`, [c.facility.id, c.provider.id, c.type.id, start, end])
    await locker.query(`INSERT INTO reservation (provider_id, period, hold_id, expires_at) VALUES ($1, tstzrange($2, $3, '[)'), $4, now() + interval '1 hour')`,
      [c.provider.id, start, end, rows[0].id])
  }

  /**
   * The response, once it came while the locks are still held; fails after 2 s without one, having
   * released them (so that the request ends).
   */
  const answeredMeanwhile = async (pending: ReturnType<typeof book>, release: () => Promise<unknown>) => {
    let answered: Awaited<typeof pending> | undefined
    void pending.then((res) => (answered = res))
    await until('an answer while the lock is held', async () => answered !== undefined).catch(async (err) => {
      await release()
      await pending
      throw err
    })
    return answered!
  }

  await t.test('time already taken: 409 at once, while the schedule lock is held elsewhere', async (t) => {
    const taken = localAt('UTC', 3, '10:00')
    t.equal((await book(taken)).statusCode, 201)
    await lockSchedule()
    const res = await answeredMeanwhile(book(taken), () => locker.query('COMMIT'))
    t.equal(res.statusCode, 409)
    t.match(res.json(), { type: 'urn:patient-access:problem:slot-unavailable', detail: 'The time is no longer free for this provider or resource' })
    // Free time still queues for the lock, and is booked once it is released.
    const free = book(localAt('UTC', 3, '14:00'))
    await until('the booking of free time waits for the lock', waitingForLocks)
    await locker.query('COMMIT')
    t.equal((await free).statusCode, 201)
  })

  await t.test('time taken while the booking waited for the lock: 409, without waiting for a lock on the appointment type', async (t) => {
    const start = localAt('UTC', 4, '10:00')
    await lockSchedule()
    const pending = book(start)
    await until('the booking waits for the schedule lock', waitingForLocks)
    await holdInLocker(start)
    // A retirement of the type in progress (the row lock its UPDATE takes, which the hold's
    // foreign key check does not block): a booking about to be made would wait for it.
    await typeLocker.query('BEGIN')
    await typeLocker.query('SELECT id FROM appointment_type WHERE id = $1 FOR NO KEY UPDATE', [c.type.id])
    await locker.query('COMMIT')
    const res = await answeredMeanwhile(pending, () => typeLocker.query('ROLLBACK'))
    await typeLocker.query('ROLLBACK')
    t.equal(res.statusCode, 409, res.body)
    t.match(res.json(), { type: 'urn:patient-access:problem:slot-unavailable' })
    const booked = await db.kysely.selectFrom('appointment').select('id').where('providerId', '=', c.provider.id).where('startAt', '=', new Date(start)).execute()
    t.same(booked, [], 'nothing booked')
  })
})
