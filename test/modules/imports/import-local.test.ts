import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { text } from 'node:stream/consumers'
import { promisify } from 'node:util'
import t from 'tap'
import { createAuthenticator } from '../../../src/http/auth.ts'
import { localImportClient } from '../../../src/modules/imports/import-local.ts'
import { buildTestApp } from '../../helpers/app.ts'
import { orgWithFacility } from '../../helpers/factories.ts'
import { importEvents, ndjson, validNpi } from './fixtures.ts'

t.test('in-process imports (the CLI with --database-url)', async (t) => {
  const ctx = await buildTestApp(t)
  const { db, config } = ctx
  const { organization, facility } = await orgWithFacility(db)
  const other = await orgWithFacility(db)
  const verify = await createAuthenticator(config)
  const clientFor = async (token: string) => localImportClient({ config, db: db.kysely, principal: await verify(`Bearer ${token}`) })
  const client = await clientFor(await ctx.token('integrator', [facility.id], { sub: 'migration-bot' }))
  t.teardown(() => client.close())

  await t.test('the service layer runs the job: same results, scoping and audit events as over the API', async (t) => {
    const npi = validNpi()
    const file = ndjson([{ npi, displayName: 'Dr. Local' }, { npi: '123', displayName: 'Dr. Short' }])
    const job = await client.create({ kind: 'providers', format: 'ndjson', facilityId: facility.id })
    const done = await client.upload(job.id, 'ndjson', Buffer.byteLength(file), Readable.from([Buffer.from(file)]))
    t.match(done, { id: job.id, status: 'completed', rowsRead: 2, created: 1, rejected: 1 })
    const lines = (await text(await client.results(job.id))).trim().split('\n').map((l) => JSON.parse(l))
    t.match(lines, [{ row: 1, outcome: 'created', recordId: String }, { row: 2, outcome: 'rejected', problem: { errors: [{ pointer: '/npi' }] } }])
    t.match(await db.kysely.selectFrom('provider').selectAll().where('id', '=', lines[0].recordId).executeTakeFirstOrThrow(), { organizationId: organization.id, npi })
    t.match(await importEvents(db, job.id), [{ verb: 'provider.create', facilityId: facility.id }])
    await client.close()
    const events = await db.kysely.selectFrom('auditEvent').select(['verb', 'actorSub', 'userAgent', 'clientIp']).where('resourceId', '=', job.id).orderBy('id').execute()
    t.match(events, [
      { verb: 'import.create', actorSub: 'migration-bot', userAgent: 'patient-access-import-cli', clientIp: /^local:/ },
      { verb: 'import.execute', actorSub: 'migration-bot' },
      { verb: 'import.results', actorSub: 'migration-bot' },
    ])
  })

  await t.test("the token's facilities and permissions still decide", async (t) => {
    const status = (p: Promise<unknown>) => p.then(() => 'resolved', (err: { status?: number }) => err.status)
    t.equal(await status(client.create({ kind: 'providers', format: 'ndjson', facilityId: other.facility.id })), 404, 'a facility the token does not name')
    const desk = await clientFor(await ctx.token('front_desk', [facility.id]))
    t.equal(await status(desk.create({ kind: 'patients', format: 'ndjson', facilityId: facility.id })), 403, 'no import:write')
  })

  await t.test('npm run import -- --database-url: progress, summary and the report next to the file', { skip: ctx.dbUrl ? false : 'needs a PostgreSQL URL (TEST_DATABASE_URL); PGlite has none' }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'pa-import-cli-'))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    const file = join(dir, 'providers.csv')
    writeFileSync(file, `npi,displayName\r\n${validNpi()},"Dr. Cli, MD"\r\n${validNpi()},Dr. Second\r\n`)
    const token = await ctx.token('integrator', [facility.id])
    const cli = new URL('../../../src/cli/import.ts', import.meta.url).pathname
    const run = () => promisify(execFile)(process.execPath, ['--import=tsx', cli, '--database-url', ctx.dbUrl!, '--token', token, '--kind', 'providers', '--file', file, '--facility', facility.id], {
      env: { ...process.env, DATA_DIR: config.DATA_DIR, LOG_LEVEL: 'warn' },
    })
    const first = await run()
    t.match(first.stderr, /completed: 2 rows in .* 2 created, 0 updated, 0 unchanged, 0 rejected/)
    const second = await run()
    t.match(second.stderr, /completed: 2 rows in .* 0 created, 0 updated, 2 unchanged, 0 rejected/)
    const reports = readdirSync(dir).filter((f) => f.endsWith('.results.ndjson'))
    t.equal(reports.length, 2)
    const rows = readFileSync(join(dir, reports[0]), 'utf8').trim().split('\n').map((l) => JSON.parse(l))
    t.same(rows.map((r) => r.row), [1, 2])
  })
})
