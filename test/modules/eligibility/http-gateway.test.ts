import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { X12Parser, X12QueryEngine, type X12Interchange } from 'node-x12'
import { sandboxGateway } from '../../../src/modules/eligibility/sandbox-gateway.ts'
import { bearer, buildTestApp } from '../../helpers/app.ts'
import { createPatient, orgWithFacility } from '../../helpers/factories.ts'
import { coverageFor, NPI, payerWithPlan } from './fixtures.ts'

const independent = (x12: string) => new X12Parser(true).parse(x12) as X12Interchange
const query = (x12: string, ref: string) => new X12QueryEngine(false).query(independent(x12), ref).map((r) => r.value)

t.test('the X12-over-HTTP gateway', async (t) => {
  const received: { contentType?: string; body: string }[] = []
  let mode = 'ok'
  const sandbox = sandboxGateway({ slowMs: 0, lookup: async () => ({
    planName: 'Remote Plan', planType: 'HMO', effectiveFrom: '2026-01-01', effectiveTo: null, copayCents: 1000, deductibleCents: null,
    familyDeductibleCents: null, coinsurancePercent: null, oopMaxCents: null, oonDeductibleCents: null, oonCoinsurancePercent: null, oonOopMaxCents: null, priorAuthServiceTypes: [],
  }) })
  const server: Server = createServer(async (req: IncomingMessage, res) => {
    let body = ''
    for await (const chunk of req) body += chunk
    received.push({ contentType: req.headers['content-type'], body })
    if (mode === 'error') return res.writeHead(503).end('down')
    if (mode === 'garbage') return res.writeHead(200).end('<html>gateway maintenance</html>')
    if (mode === 'huge') return res.writeHead(200).end('ISA'.padEnd(3_000_000, 'X'))
    if (mode === 'hang') return setTimeout(() => res.writeHead(200).end(''), 2000)
    const answer = await sandbox.exchange(body, AbortSignal.timeout(1000))
    res.writeHead(200, { 'content-type': 'application/EDI-X12' }).end(mode === 'wrong-trace' ? answer.replace(/TRN\*2\*[0-9a-f]+/, 'TRN*2*someoneelse') : answer)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => {
    server.closeAllConnections()
    server.close(() => r())
  }))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/x12`

  const ctx = await buildTestApp(t, { ELIGIBILITY_GATEWAY: 'http', ELIGIBILITY_HTTP_URL: url, ELIGIBILITY_TIMEOUT_MS: '500', ELIGIBILITY_MAX_271_BYTES: '1048576', ELIGIBILITY_RECEIVER_ID: 'REMOTECH' })
  const { app, db } = ctx
  const { facility } = await orgWithFacility(db)
  const specialist = await ctx.token('eligibility_specialist', [facility.id])
  const { plan } = await payerWithPlan(db)
  const patient = await createPatient(db, facility.id)
  const cov = await coverageFor(db, patient.id, plan.id)
  const run = () => app.inject({ method: 'POST', url: '/eligibility-checks', headers: bearer(specialist), payload: { coverageId: cov.id, providerNpi: NPI, dateOfService: '2026-11-27' } })

  await t.test('posts the 270 as application/EDI-X12 and records the 271 it gets back', async (t) => {
    mode = 'ok'
    const res = await run()
    t.equal(res.statusCode, 201, res.body)
    t.match(res.json(), { gateway: 'http', status: 'complete', active: true, planDescription: 'REMOTE PLAN' })
    const sent = received.at(-1)!
    t.equal(sent.contentType, 'application/EDI-X12')
    t.equal(sent.body, res.json().request270)
    t.same(query(sent.body, 'GS03'), ['REMOTECH'])
    t.equal(independent(sent.body).header.valueOf(15), 'P', 'production usage indicator')
  })

  const faults: [string, number, string][] = [
    ['error', 502, 'gateway-unavailable'],
    ['garbage', 502, 'bad-271'],
    ['huge', 502, 'bad-271'],
    ['wrong-trace', 502, 'trace-mismatch'],
    ['hang', 504, 'timeout'],
  ]
  for (const [m, status, errorCode] of faults) {
    await t.test(`a clearinghouse answering "${m}" gives ${status} and a recorded ${errorCode} check; the coverage is unchanged`, async (t) => {
      mode = m
      const before = await db.kysely.selectFrom('coverage').selectAll().where('id', '=', cov.id).executeTakeFirstOrThrow()
      const res = await run()
      t.equal(res.statusCode, status, res.body)
      t.equal(res.json().errorCode ?? 'timeout', errorCode)
      const row = await db.kysely.selectFrom('eligibilityCheck').select(['status', 'errorCode', 'responseX12']).where('id', '=', res.json().checkId).executeTakeFirstOrThrow()
      t.equal(row.errorCode, errorCode)
      t.ok(row.responseX12 === null || row.responseX12.length <= 1_048_576)
      const after = await db.kysely.selectFrom('coverage').selectAll().where('id', '=', cov.id).executeTakeFirstOrThrow()
      t.same(after, before)
      t.notMatch(res.body, /maintenance|TRN/, 'the problem carries nothing of the answer')
    })
  }
})
