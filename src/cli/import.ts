import { createReadStream, createWriteStream, statSync } from 'node:fs'
import { randomUUID } from 'node:crypto'
import { Readable, Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { parseArgs } from 'node:util'
import type { ImportClient } from '../modules/imports/import-local.ts'
import type { CreateImportBody, Import, ImportFormat } from '../modules/imports/import.schemas.ts'

const usage = `Usage: npm run import -- --kind patients|providers|coverages|appointments --file roster.csv --facility <facilityId> --token <bearer token>
         [--format csv|ndjson] [--dry-run] [--allow-duplicates] [--url http://localhost:3000 | --database-url postgres://...] [--resume <importId>]
Creates an import, streams the file to it with a progress line (rows/s, ETA), and writes the per-row results next to
the file as <file>.import-<id>.results.ndjson. If the upload breaks off, run the same command with --resume <importId>:
rows already committed are skipped.
By default the import goes through the API at --url. With --database-url it runs in this process, through the service
layer, against that PostgreSQL database (migrated to this version): the same checks, facility scoping (from the token,
verified with this environment's AUTH_* settings or trial key in DATA_DIR) and audit events, without the HTTP hop.`

const { values } = parseArgs({
  options: {
    kind: { type: 'string' },
    file: { type: 'string' },
    facility: { type: 'string' },
    format: { type: 'string' },
    'dry-run': { type: 'boolean', default: false },
    'allow-duplicates': { type: 'boolean', default: false },
    url: { type: 'string', default: 'http://localhost:3000' },
    'database-url': { type: 'string' },
    token: { type: 'string' },
    resume: { type: 'string' },
    help: { type: 'boolean' },
  },
})

const fail = (message: string, code = 1): never => {
  process.stderr.write(`${message}\n`)
  process.exit(code)
}
if (values.help) fail(usage, 0)
if (!values.file || !values.token || (!values.resume && (!values.kind || !values.facility))) fail(usage, 2)
const file = values.file!
const format = (values.format ?? (/\.csv$/i.test(file) ? 'csv' : 'ndjson')) as ImportFormat
const base = values.url!.replace(/\/$/, '')
const where = values['database-url'] ? '--database-url <url>' : `--url ${base}`

/** A service error (in-process mode) reads like the API's problem. */
function message(err: unknown): string {
  const e = err as Error & { status?: number; title?: string; extra?: { errors?: unknown } }
  if (typeof e.status !== 'number' || !e.title) return e.message
  return `${e.status} ${e.title}: ${e.message}${e.extra?.errors ? ` ${JSON.stringify(e.extra.errors)}` : ''}`
}

/** The API over HTTP. */
function httpClient(): ImportClient {
  const auth = { authorization: `Bearer ${values.token}` }
  async function api<T>(method: string, path: string, init: { body?: BodyInit; headers?: Record<string, string> } = {}): Promise<T> {
    const res = await fetch(`${base}${path}`, { method, headers: { ...auth, ...init.headers }, body: init.body, duplex: 'half' } as RequestInit)
    if (!res.ok) {
      const problem = (await res.json().catch(() => ({}))) as { title?: string; detail?: string; errors?: unknown }
      throw new Error(`${method} ${path}: ${res.status} ${problem.title ?? ''}: ${problem.detail ?? ''}${problem.errors ? ` ${JSON.stringify(problem.errors)}` : ''}`)
    }
    return res.json() as Promise<T>
  }
  return {
    create: (body) => api<Import>('POST', '/imports', {
      headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID() }, body: JSON.stringify(body),
    }),
    get: (id) => api<Import>('GET', `/imports/${id}`),
    upload: (id, fmt, size, source) => api<Import>('PUT', `/imports/${id}/file`, {
      headers: { 'content-type': fmt === 'csv' ? 'text/csv' : 'application/x-ndjson', 'content-length': String(size) },
      body: Readable.toWeb(source) as unknown as BodyInit,
    }),
    results: async (id) => {
      const res = await fetch(`${base}/imports/${id}/results`, { headers: auth })
      if (!res.ok || !res.body) throw new Error(`Could not read the results: ${res.status}`)
      return Readable.fromWeb(res.body as never)
    },
    close: async () => {},
  }
}

/** The service layer in this process, against the database at --database-url. */
async function localClient(databaseUrl: string): Promise<{ client: ImportClient; closeDb: () => Promise<void> }> {
  const [{ openRuntime }, { migrationsCurrent }, { createAuthenticator }, { localImportClient }] = await Promise.all([
    import('../runtime.ts'), import('../db/migrator.ts'), import('../http/auth.ts'), import('../modules/imports/import-local.ts'),
  ])
  if (!/^postgres(ql)?:\/\//.test(databaseUrl)) fail('--database-url takes a postgres:// URL', 2)
  const { config, db } = await openRuntime({ ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' })
  try {
    if (!(await migrationsCurrent(db.kysely))) throw new Error('The database is not migrated to this version: run npm run migrate first')
    const principal = await (await createAuthenticator(config))(`Bearer ${values.token}`)
    return { client: localImportClient({ config, db: db.kysely, principal, engine: db.engine }), closeDb: () => db.close() }
  } catch (err) {
    await db.close()
    throw err
  }
}

let client!: ImportClient
let closeDb = async () => {}
try {
  if (values['database-url']) ({ client, closeDb } = await localClient(values['database-url']))
  else client = httpClient()
} catch (err) {
  fail(message(err))
}

try {
  const size = statSync(file).size
  const body: CreateImportBody = { kind: values.kind as CreateImportBody['kind'], format, facilityId: values.facility!, dryRun: values['dry-run'], allowDuplicates: values['allow-duplicates'] }
  const job = values.resume ? await client.get(values.resume) : await client.create(body)
  process.stderr.write(`import ${job.id}${values.resume ? ` resumes after row ${job.rowsRead}` : ''}\n`)

  let sent = 0
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      sent += chunk.length
      done(null, chunk)
    },
  })
  const started = Date.now()
  const startRows = job.rowsRead
  const clock = (s: number) => (Number.isFinite(s) ? `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, '0')}` : '--:--')
  const progress = async () => {
    const now = await client.get(job.id).catch(() => undefined)
    if (!now) return
    const elapsed = (Date.now() - started) / 1000
    const rate = (now.rowsRead - startRows) / Math.max(elapsed, 0.001)
    const done = sent / Math.max(size, 1)
    const eta = done > 0 ? (elapsed * (1 - done)) / done : Infinity
    process.stderr.write(`\r${now.rowsRead.toLocaleString('en-US')} rows | ${Math.round(rate).toLocaleString('en-US')} rows/s | ${(done * 100).toFixed(1)}% sent | ETA ${clock(eta)}   `)
  }
  const timer = setInterval(progress, 1000)

  let finished: Import
  try {
    finished = await client.upload(job.id, job.format, size, createReadStream(file).pipe(counter))
  } catch (err) {
    clearInterval(timer)
    await progress()
    fail(`\n${message(err)}\nResume with: npm run import -- --file ${file} --token <token> ${where} --resume ${job.id}`)
    throw err
  } finally {
    clearInterval(timer)
  }
  await progress()

  const report = `${file}.import-${job.id}.results.ndjson`
  await pipeline(await client.results(job.id), createWriteStream(report))

  const seconds = (Date.now() - started) / 1000
  process.stderr.write(
    `\n${finished!.status}${finished!.dryRun ? ' (dry run)' : ''}: ${finished!.rowsRead} rows in ${seconds.toFixed(1)} s: ` +
      `${finished!.created} created, ${finished!.updated} updated, ${finished!.unchanged} unchanged, ${finished!.rejected} rejected, ` +
      `${finished!.duplicates} possible duplicates\nresults: ${report}\n`,
  )
} catch (err) {
  fail(`\n${message(err)}`)
} finally {
  await client.close()
  await closeDb()
}
