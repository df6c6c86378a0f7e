import t, { type Test } from 'tap'
import { once } from 'node:events'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { PassThrough } from 'node:stream'
import { sql } from 'kysely'
import pg from 'pg'
import { buildApp } from '../../src/app.ts'
import { createDb, type DbOptions } from '../../src/db/create-db.ts'
import { migrateToLatest, migrationsCurrent, migratorFor } from '../../src/db/migrator.ts'
import { isDatabaseUnavailable } from '../../src/http/error-handler.ts'
import { bearer, buildTestApp, type TestContext } from '../helpers/app.ts'
import { usingPostgres } from '../helpers/db.ts'
import { orgWithFacility } from '../helpers/factories.ts'

const PROBLEM = 'application/problem+json; charset=utf-8'

/** A TCP proxy to Postgres that can be cut and restored: a database restart, seen from the app. */
class CuttableProxy {
  private server?: Server
  private sockets = new Set<Socket>()
  port = 0

  constructor(private readonly target: { host: string; port: number }) {}

  async up() {
    this.server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host)
      for (const s of [client, upstream]) {
        this.sockets.add(s)
        s.on('error', () => s.destroy())
        s.on('close', () => this.sockets.delete(s))
      }
      client.on('close', () => upstream.destroy())
      upstream.on('close', () => client.destroy())
      client.pipe(upstream).pipe(client)
    })
    this.server.listen(this.port, '127.0.0.1')
    await once(this.server, 'listening')
    this.port = (this.server.address() as { port: number }).port
  }

  async down() {
    const closed = once(this.server!, 'close')
    this.server!.close()
    for (const s of this.sockets) s.destroy()
    await closed
  }
}

/** A second app over the same database (and the same trial key), reached through `url`. */
async function appAt(t: Test, ctx: TestContext, url: string, options: Omit<DbOptions, 'databaseUrl'> = {}) {
  const db = await createDb({ databaseUrl: url, poolMax: 5, log: { warn() {}, info() {}, error() {} }, ...options })
  const app = await buildApp({ config: ctx.config, db, logStream: new PassThrough().resume(), sealer: false })
  await app.ready()
  t.teardown(async () => {
    await app.close()
    await db.close()
  })
  return app
}

t.test('a database outage answers 503 with Retry-After, never crashes, and heals', { skip: !usingPostgres() && 'needs real Postgres to cut connections (set TEST_DATABASE_URL); PGlite runs in-process and cannot go away' }, async (t) => {
  const ctx = await buildTestApp(t)
  const { facility } = await orgWithFacility(ctx.db)
  const token = await ctx.token('admin', ['*'])
  const dbUrl = new URL(ctx.dbUrl!)
  const dbName = dbUrl.pathname.slice(1)

  const expect503 = (t: Test, res: { statusCode: number; headers: Record<string, unknown>; json: () => unknown }) => {
    t.equal(res.statusCode, 503)
    t.equal(res.headers['content-type'], PROBLEM)
    t.match(res.headers['retry-after'], /^\d+$/)
    t.match(res.json(), { type: 'urn:patient-access:problem:service-unavailable', status: 503 })
  }

  await t.test('pg_terminate_backend on every connection: no 500, no crash, and the next requests succeed', async (t) => {
    const { app } = ctx
    // Fill the pool with idle connections first, so the kill hits clients the pool still holds.
    const warm = await Promise.all(Array.from({ length: 8 }, () => app.inject({ url: `/facilities/${facility.id}`, headers: bearer(token) })))
    t.same(warm.map((r) => r.statusCode), Array(8).fill(200))
    const admin = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL })
    await admin.connect()
    const killed = await admin.query('SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [dbName])
    await admin.end()
    t.ok(Number(killed.rows[0].n) > 0, `terminated ${killed.rows[0].n} connections`)
    const during = await Promise.all(Array.from({ length: 8 }, () => app.inject({ url: `/facilities/${facility.id}`, headers: bearer(token) })))
    for (const res of during) {
      t.ok(res.statusCode === 200 || res.statusCode === 503, `answered ${res.statusCode}`)
      if (res.statusCode === 503) expect503(t, res)
    }
    const after = await app.inject({ url: `/facilities/${facility.id}`, headers: bearer(token) })
    t.equal(after.statusCode, 200)
    t.equal((await app.inject({ url: '/readyz' })).statusCode, 200)
  })

  await t.test('a database that is not there (a closed port) gets 503 with Retry-After', async (t) => {
    for (const host of ['127.0.0.1', 'localhost']) {
      const app = await appAt(t, ctx, `postgres://postgres@${host}:1/${dbName}`)
      expect503(t, await app.inject({ url: `/facilities/${facility.id}`, headers: bearer(token) }))
      expect503(t, await app.inject({ method: 'POST', url: '/organizations', headers: bearer(token), payload: { name: 'Nowhere' } }))
      expect503(t, await app.inject({ url: '/readyz' }))
      t.equal((await app.inject({ url: '/healthz' })).statusCode, 200, 'liveness does not depend on the database')
    }
  })

  await t.test('while the database is away requests get 503; when it is back they succeed again', async (t) => {
    const proxy = new CuttableProxy({ host: dbUrl.hostname, port: Number(dbUrl.port || 5432) })
    await proxy.up()
    t.teardown(() => proxy.down().catch(() => undefined))
    const viaProxy = new URL(dbUrl)
    viaProxy.port = String(proxy.port)
    const app = await appAt(t, ctx, viaProxy.toString())
    const read = () => app.inject({ url: `/facilities/${facility.id}`, headers: bearer(token) })

    t.equal((await read()).statusCode, 200)
    // Cut while a connection is checked out (as in a transaction): its 'error' must not crash us.
    const held = await app.db.kysely.connection().execute(async (conn) => {
      await sql`select 1`.execute(conn)
      await proxy.down()
      await new Promise((r) => setTimeout(r, 200))
      await sql`select 1`.execute(conn)
    }).then(() => undefined, (err: unknown) => err)
    t.ok(isDatabaseUnavailable(held), `the held connection's next query fails as unavailable: ${(held as Error)?.message}`)
    expect503(t, await read())
    expect503(t, await app.inject({ method: 'POST', url: '/organizations', headers: bearer(token), payload: { name: 'During outage' } }))
    expect503(t, await app.inject({ url: '/readyz' }))
    expect503(t, await read())

    await proxy.up()
    const back = await read()
    t.equal(back.statusCode, 200)
    t.equal(back.json().id, facility.id)
    t.equal((await app.inject({ url: '/readyz' })).statusCode, 200)
    const created = await app.inject({ method: 'POST', url: '/organizations', headers: bearer(token), payload: { name: 'After outage' } })
    t.equal(created.statusCode, 201)
    const rows = await ctx.db.kysely.selectFrom('organization').select('name').where('name', 'in', ['During outage', 'After outage']).execute()
    t.same(rows, [{ name: 'After outage' }], 'nothing was half-written during the outage')
  })
})

t.test('statement and idle-in-transaction limits: a stuck request answers 503 and changes nothing; migrations run without them', { skip: !usingPostgres() && 'PostgreSQL only (PGlite runs one statement at a time in-process)' }, async (t) => {
  const ctx = await buildTestApp(t)
  const token = await ctx.token('admin', ['*'])
  const silent = { warn() {}, info() {}, error() {} }
  const admin = new pg.Client({ connectionString: ctx.dbUrl })
  await admin.connect()
  t.teardown(() => admin.end())
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

  await t.test('a write that waits on a lock longer than DB_STATEMENT_TIMEOUT_MS is cancelled: 503 with Retry-After, nothing written, and the connection serves the next request', async (t) => {
    // One connection: the retry below runs on the connection whose statement was cancelled.
    const app = await appAt(t, ctx, ctx.dbUrl!, { poolMax: 1, statementTimeoutMs: 300 })
    const create = (name: string) => app.inject({ method: 'POST', url: '/organizations', headers: bearer(token), payload: { name } })
    await admin.query('BEGIN')
    await admin.query('LOCK TABLE organization IN SHARE MODE') // reads go on; inserts wait
    const started = Date.now()
    const stuck = await create('Behind a lock')
    t.ok(Date.now() - started >= 300, 'it waited for the limit')
    t.equal(stuck.statusCode, 503, stuck.body)
    t.equal(stuck.headers['content-type'], PROBLEM)
    t.match(stuck.headers['retry-after'], /^\d+$/)
    t.match(stuck.json(), { type: 'urn:patient-access:problem:service-unavailable', status: 503 })
    await admin.query('ROLLBACK')
    const created = await create('After the lock')
    t.equal(created.statusCode, 201, created.body)
    const rows = await ctx.db.kysely.selectFrom('organization').select('name').where('name', 'in', ['Behind a lock', 'After the lock']).execute()
    t.same(rows, [{ name: 'After the lock' }], 'the cancelled request wrote nothing')
    const events = await ctx.db.kysely.selectFrom('auditEvent').select('verb').where('verb', 'like', 'organization.%').where('requestId', '=', stuck.headers['x-request-id'] as string).execute()
    t.same(events, [], 'nor an audit event of a change that did not happen')
  })

  await t.test('a transaction left idle longer than DB_IDLE_IN_TRANSACTION_TIMEOUT_MS is ended and its locks released; the pool goes on', async (t) => {
    const db = await createDb({ databaseUrl: ctx.dbUrl, poolMax: 1, idleInTransactionTimeoutMs: 200, log: silent })
    t.teardown(() => db.close())
    let readBehindTheLock = 0
    const outcome = await db.kysely.transaction().execute(async (trx) => {
      await sql`LOCK TABLE facility IN ACCESS EXCLUSIVE MODE`.execute(trx)
      const started = Date.now()
      await admin.query('SELECT count(*) FROM facility') // waits for the lock until the server ends the idle transaction
      readBehindTheLock = Date.now() - started
      await sleep(100)
      await sql`select 1`.execute(trx)
    }).then(() => undefined, (err: unknown) => err)
    t.ok(readBehindTheLock >= 150, `another session waited for the lock, then got it: ${readBehindTheLock} ms`)
    t.ok(isDatabaseUnavailable(outcome), `the idle transaction's next statement fails as unavailable (503): ${(outcome as Error)?.message}`)
    t.same((await sql<{ one: number }>`select 1 as one`.execute(db.kysely)).rows, [{ one: 1 }], 'the pool replaced the connection')
  })

  await t.test('migrations run with the limits lifted, and put them back', async (t) => {
    const fresh = async () => {
      const name = `pa_test_mig_${Date.now().toString(36)}${Math.floor(Math.random() * 1e6)}`
      await admin.query(`CREATE DATABASE ${name}`)
      const url = new URL(ctx.dbUrl!)
      url.pathname = `/${name}`
      // One connection with a 1 ms limit: any migration statement of note would outlive it.
      const db = await createDb({ databaseUrl: url.toString(), poolMax: 1, statementTimeoutMs: 1, log: silent })
      t.teardown(async () => {
        await db.close()
        await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      })
      return { db, url: url.toString() }
    }
    const limited = await fresh()
    const { error } = await migratorFor(limited.db.kysely).migrateToLatest()
    t.match(error, { code: '57014' }, 'with the limit on, the migrations are cancelled')

    const { db, url } = await fresh()
    await migrateToLatest(db.kysely)
    // Read without the limit (under 1 ms, even reading the migration table can be cancelled).
    const check = await createDb({ databaseUrl: url, poolMax: 1, log: silent })
    t.equal(await migrationsCurrent(check.kysely), true, 'every migration applied')
    await check.close()
    const after = await sql`select pg_sleep(0.05)`.execute(db.kysely).then(() => undefined, (err: unknown) => err)
    t.match(after, { code: '57014' }, 'the same connection has its limit back')
  })
})
