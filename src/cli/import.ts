import { createReadStream, createWriteStream, statSync } from 'node:fs'
import { randomUUID } from 'node:crypto'
import { Readable, Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { parseArgs } from 'node:util'

const usage = `Usage: npm run import -- --kind patients --file roster.csv --facility <facilityId> --token <bearer token>
         [--format csv|ndjson] [--dry-run] [--allow-duplicates] [--url http://localhost:3000] [--resume <importId>]
Creates an import through the API, streams the file to it with a progress line (rows/s, ETA), and writes
the per-row results next to the file as <file>.import-<id>.results.ndjson. If the upload breaks off,
run the same command with --resume <importId>: rows already committed are skipped.`

const { values } = parseArgs({
  options: {
    kind: { type: 'string' },
    file: { type: 'string' },
    facility: { type: 'string' },
    format: { type: 'string' },
    'dry-run': { type: 'boolean', default: false },
    'allow-duplicates': { type: 'boolean', default: false },
    url: { type: 'string', default: 'http://localhost:3000' },
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
const format = values.format ?? (/\.csv$/i.test(file) ? 'csv' : 'ndjson')
const base = values.url!.replace(/\/$/, '')
const auth = { authorization: `Bearer ${values.token}` }

async function api<T>(method: string, path: string, init: { body?: BodyInit; headers?: Record<string, string> } = {}): Promise<T> {
  const res = await fetch(`${base}${path}`, { method, headers: { ...auth, ...init.headers }, body: init.body, duplex: 'half' } as RequestInit)
  if (!res.ok) {
    const problem = (await res.json().catch(() => ({}))) as { title?: string; detail?: string; errors?: unknown }
    throw new Error(`${method} ${path}: ${res.status} ${problem.title ?? ''}: ${problem.detail ?? ''}${problem.errors ? ` ${JSON.stringify(problem.errors)}` : ''}`)
  }
  return res.json() as Promise<T>
}

interface Job {
  id: string
  status: string
  rowsRead: number
  created: number
  updated: number
  unchanged: number
  rejected: number
  duplicates: number
  problem: { detail?: string } | null
}

const size = statSync(file).size
const job = values.resume
  ? await api<Job>('GET', `/imports/${values.resume}`)
  : await api<Job>('POST', '/imports', {
      headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID() },
      body: JSON.stringify({ kind: values.kind, format, facilityId: values.facility, dryRun: values['dry-run'], allowDuplicates: values['allow-duplicates'] }),
    })
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
  const now = await api<Job>('GET', `/imports/${job.id}`).catch(() => undefined)
  if (!now) return
  const elapsed = (Date.now() - started) / 1000
  const rate = (now.rowsRead - startRows) / Math.max(elapsed, 0.001)
  const done = sent / Math.max(size, 1)
  const eta = done > 0 ? (elapsed * (1 - done)) / done : Infinity
  process.stderr.write(`\r${now.rowsRead.toLocaleString('en-US')} rows | ${Math.round(rate).toLocaleString('en-US')} rows/s | ${(done * 100).toFixed(1)}% sent | ETA ${clock(eta)}   `)
}
const timer = setInterval(progress, 1000)

let finished: Job
try {
  const body = Readable.toWeb(createReadStream(file).pipe(counter)) as unknown as BodyInit
  finished = await api<Job>('PUT', `/imports/${job.id}/file`, {
    headers: { 'content-type': format === 'csv' ? 'text/csv' : 'application/x-ndjson', 'content-length': String(size) },
    body,
  })
} catch (err) {
  clearInterval(timer)
  await progress()
  fail(`\n${(err as Error).message}\nResume with: npm run import -- --file ${file} --token <token> --url ${base} --resume ${job.id}`)
  throw err
} finally {
  clearInterval(timer)
}
await progress()

const report = `${file}.import-${job.id}.results.ndjson`
const res = await fetch(`${base}/imports/${job.id}/results`, { headers: auth })
if (!res.ok || !res.body) fail(`\nCould not read the results: ${res.status}`)
await pipeline(Readable.fromWeb(res.body as never), createWriteStream(report))

const seconds = (Date.now() - started) / 1000
process.stderr.write(
  `\n${finished!.status}${values['dry-run'] ? ' (dry run)' : ''}: ${finished!.rowsRead} rows in ${seconds.toFixed(1)} s: ` +
    `${finished!.created} created, ${finished!.updated} updated, ${finished!.unchanged} unchanged, ${finished!.rejected} rejected, ` +
    `${finished!.duplicates} possible duplicates\nresults: ${report}\n`,
)
