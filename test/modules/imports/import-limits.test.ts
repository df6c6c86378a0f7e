import { request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import t from 'tap'
import { sql } from 'kysely'
import { bearer, buildTestApp } from '../../helpers/app.ts'
import { orgWithFacility } from '../../helpers/factories.ts'

t.test('a 1 GB body: 413 up front when declared, 413 after the limit when streamed, and the stream is not read on', async (t) => {
  const small = await buildTestApp(t, { IMPORT_MAX_BYTES: String(64 * 1024), IMPORT_BATCH_ROWS: '100' })
  const { facility: f } = await orgWithFacility(small.db)
  const tok = await small.token('integrator', [f.id])
  const mk = async () => (await small.app.inject({ method: 'POST', url: '/imports', headers: bearer(tok), payload: { facilityId: f.id, kind: 'patients', format: 'ndjson' } })).json().id as string
  await small.app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = small.app.server.address() as AddressInfo
  const GB = 1024 ** 3
  // A generated gigabyte of rows, written as fast as the server reads; `sent` counts what left.
  const put = (id: string, headers: Record<string, string>) => new Promise<{ status: number; body: string; sent: number }>((resolve, reject) => {
    let sent = 0
    let n = 0
    const req = request({ port, host: '127.0.0.1', method: 'PUT', path: `/imports/${id}/file`, headers: { ...bearer(tok), 'content-type': 'application/x-ndjson', ...headers } })
    const source = new Readable({
      read() {
        if (sent >= GB) return this.push(null)
        const lines = Array.from({ length: 100 }, () => JSON.stringify({ familyName: 'Stream', givenNames: `G${n}`, birthDate: '1990-01-01', identifiers: [{ system: 'urn:gb', value: String(n++) }] })).join('\n') + '\n'
        sent += lines.length
        this.push(lines)
      },
    })
    req.on('response', (res) => {
      let body = ''
      res.on('data', (c) => (body += c))
      res.on('end', () => {
        source.unpipe(req)
        req.destroy()
        resolve({ status: res.statusCode!, body, sent })
      })
    })
    req.on('error', reject)
    source.pipe(req)
  })
  const declared = await put(await mk(), { 'content-length': String(GB) })
  t.equal(declared.status, 413)
  t.equal(JSON.parse(declared.body).type, 'urn:patient-access:problem:body-too-large')
  t.ok(declared.sent < 16 * 1024 * 1024, `sent ${declared.sent} bytes of 1 GB before the answer`)

  const id = await mk()
  const streamed = await put(id, {})
  t.equal(streamed.status, 413, streamed.body)
  t.ok(streamed.sent < 16 * 1024 * 1024, `sent ${streamed.sent} bytes of 1 GB before the answer`)
  const job = (await small.app.inject({ url: `/imports/${id}`, headers: bearer(tok) })).json()
  t.match(job, { status: 'failed', problem: { status: 413 } })
  t.ok(job.rowsRead > 0 && job.rowsRead % 100 === 0, `batches before the limit stay committed (${job.rowsRead} rows)`)
  const rows = await small.db.kysely.selectFrom('patientIdentifier').select(sql<string>`count(*)::text`.as('n')).where('system', '=', 'urn:gb').executeTakeFirstOrThrow()
  t.equal(Number(rows.n), job.created)
})
