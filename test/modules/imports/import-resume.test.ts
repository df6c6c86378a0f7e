import { request } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { sql } from 'kysely'
import { bearer, buildTestApp } from '../../helpers/app.ts'
import { orgWithFacility } from '../../helpers/factories.ts'

const ndjson = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n'

t.test('10,000 rows: an upload broken off mid-way, then the same file again, applies every row exactly once', async (t) => {
  const ctx = await buildTestApp(t, { IMPORT_BATCH_ROWS: '500' })
  const { app, db } = ctx
  const { facility } = await orgWithFacility(db)
  const token = await ctx.token('integrator', [facility.id])
  const create = async (body: Record<string, unknown>) => {
    const res = await app.inject({ method: 'POST', url: '/imports', headers: bearer(token), payload: { facilityId: facility.id, kind: 'patients', format: 'ndjson', ...body } })
    t.equal(res.statusCode, 201, 'import created')
    return res.json() as { id: string }
  }
  const upload = (id: string, payload: string) =>
    app.inject({ method: 'PUT', url: `/imports/${id}/file`, headers: { ...bearer(token), 'content-type': 'application/x-ndjson' }, payload })
  const results = async (id: string) => {
    const res = await app.inject({ url: `/imports/${id}/results`, headers: bearer(token) })
    return res.body.trim().split('\n').map((l) => JSON.parse(l))
  }
  const lines = ndjson(Array.from({ length: 10_000 }, (_, i) => ({
    familyName: `Resume${String.fromCharCode(65 + (i % 26))}${String.fromCharCode(65 + ((i / 26) % 26))}`, givenNames: `Given${i}`,
    birthDate: `19${50 + (i % 50)}-0${1 + (i % 9)}-1${i % 10}`, identifiers: [{ system: 'urn:resume', value: `R${i}` }],
  })))
  const job = await create({ allowDuplicates: true })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  // Write half the file, wait until batches have committed, then drop the connection.
  await new Promise<void>((resolve) => {
    const req = request({ port, host: '127.0.0.1', method: 'PUT', path: `/imports/${job.id}/file`, headers: { ...bearer(token), 'content-type': 'application/x-ndjson' } })
    req.on('error', () => resolve())
    req.on('response', () => resolve())
    req.write(lines.slice(0, lines.length / 2))
    const poll = setInterval(async () => {
      const now = (await app.inject({ url: `/imports/${job.id}`, headers: bearer(token) })).json()
      if (now.rowsRead >= 1000) {
        clearInterval(poll)
        req.destroy()
      }
    }, 50)
  })
  let broken = (await app.inject({ url: `/imports/${job.id}`, headers: bearer(token) })).json()
  for (let i = 0; i < 100 && broken.status === 'running'; i++) {
    await new Promise((r) => setTimeout(r, 50))
    broken = (await app.inject({ url: `/imports/${job.id}`, headers: bearer(token) })).json()
  }
  t.match(broken, { status: 'interrupted', problem: { type: 'urn:patient-access:problem:upload-interrupted' } })
  t.ok(broken.rowsRead >= 1000 && broken.rowsRead < 10_000 && broken.rowsRead % 500 === 0, `checkpoint at ${broken.rowsRead}`)
  t.equal(broken.created, broken.rowsRead)

  const resumed = await upload(job.id, lines)
  t.equal(resumed.statusCode, 200, resumed.body)
  t.match(resumed.json(), { status: 'completed', rowsRead: 10_000, created: 10_000, rejected: 0 })
  const counts = await sql<{ n: string; distinct: string }>`
    SELECT count(*)::text AS n, count(DISTINCT pi.patient_id)::text AS distinct FROM patient_identifier pi WHERE pi.system = 'urn:resume'`.execute(db.kysely)
  t.same(counts.rows[0], { n: '10000', distinct: '10000' }, 'one patient per row, none twice')
  const rows = await results(job.id)
  t.same(rows.map((r) => r.row), Array.from({ length: 10_000 }, (_, i) => i + 1), 'one result per row, in order')
  const creates = await db.kysely.selectFrom('auditEvent').select(sql<string>`count(*)::text`.as('n')).where('verb', '=', 'patient.create').where(sql<boolean>`detail->>'importId' = ${job.id}`).executeTakeFirstOrThrow()
  t.equal(creates.n, '10000', 'one create event per patient')
  const done = await upload(job.id, lines)
  t.equal(done.statusCode, 409, 'a completed import takes no more files')
})
