import t from 'tap'
import { bearer, buildTestApp } from '../../helpers/app.ts'
import { orgWithFacility } from '../../helpers/factories.ts'

/**
 * Files no integrator means to send, for every kind and both formats: each upload, its repeat, the
 * import and its results answer a status the document lists for the operation, never a 500, and
 * the process lives on (a header naming item 99,999,999 of a list once ran it out of memory).
 */
const LONG = 'x'.repeat(900_000)
const CSV: [string, string | Buffer][] = [
  ['empty', ''], ['a header alone', 'familyName,givenNames,birthDate\n'], ['a header without a newline', 'familyName'],
  ['binary', Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x80, 0x81])],
  ['invalid UTF-8 in a cell', Buffer.concat([Buffer.from('familyName,givenNames,birthDate\n'), Buffer.from([0xc3, 0x28]), Buffer.from(',A,1980-01-01\n')])],
  ['NUL in a cell', 'familyName,givenNames,birthDate\nA\u0000B,C,1980-01-01\n'], ['an unterminated quote', 'familyName,givenNames,birthDate\n"abc,def,1980-01-01\n'],
  ['a column twice', 'familyName,familyName,birthDate\nA,B,1980-01-01\n'], ['an unknown column', 'familyName,givenNames,birthDate,zz\nA,B,1980-01-01,1\n'],
  ['a 200-level path', `familyName,givenNames,birthDate,${'a.'.repeat(200)}b\nA,B,1980-01-01,1\n`],
  ['item 99,999,999', 'familyName,givenNames,birthDate,identifiers.99999999.system\nA,B,1980-01-01,x\n'],
  ['__proto__ and constructor columns', 'familyName,givenNames,birthDate,__proto__.x,constructor.prototype.y\nA,B,1980-01-01,1,2\n'],
  ['a 900 KB cell', `familyName,givenNames,birthDate\n${LONG},B,1980-01-01\n`], ['5,000 columns', `${Array.from({ length: 5000 }, (_, i) => `c${i}`).join(',')}\n1\n`],
  ['CR line ends', 'familyName,givenNames,birthDate\rA,B,1980-01-01\r'], ['an empty column name', ',givenNames,birthDate\nA,B,1980-01-01\n'],
  ['text where numbers and booleans go', 'familyName,givenNames,birthDate,communication.smsReminders,durationMinutes\n1,2,3,maybe,soon\n'],
]
const NDJSON: [string, string | Buffer][] = [
  ['empty', ''], ['blank lines', '\n\n\n'], ['not JSON', 'hello\n'], ['an array', '[1,2]\n'], ['null', 'null\n'], ['a string', '"x"\n'], ['a huge number', '1e400\n'],
  ['5,000-deep arrays', `${'['.repeat(5000)}${']'.repeat(5000)}\n`], ['3,000-deep objects', `${'{"a":'.repeat(3000)}1${'}'.repeat(3000)}\n`],
  ['__proto__', '{"__proto__":{"x":1},"familyName":"A","givenNames":"B","birthDate":"1980-01-01"}\n'], ['binary', Buffer.from([0xff, 0xfe, 0x00, 0x0a])],
  ['a 900 KB line', `{"familyName":"${LONG}","givenNames":"B","birthDate":"1980-01-01"}\n`],
  ['a lone surrogate', '{"familyName":"\\ud800","givenNames":"B","birthDate":"1980-01-01"}\n'],
  ['a key twice', '{"familyName":"A","familyName":"B","givenNames":"B","birthDate":"1980-01-01"}\n'],
  ['NUL', '{"familyName":"A\\u0000","givenNames":"B","birthDate":"1980-01-01"}\n'], ['no final newline', '{"familyName":"A","givenNames":"B","birthDate":"1980-01-01"}'],
]

t.test('hostile import files answer documented statuses and never take the process down', async (t) => {
  const ctx = await buildTestApp(t)
  const { app, db } = ctx
  const { facility } = await orgWithFacility(db)
  const headers = bearer(await ctx.token(['integrator', 'front_desk', 'scheduler', 'eligibility_specialist'], [facility.id]))
  const doc = app.swagger() as unknown as { paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>> }
  const failures: string[] = []
  const check = (res: { statusCode: number; body: string }, path: string, method: string, what: string) => {
    const op = doc.paths[path][method]
    if (res.statusCode >= 500 || !op.responses[String(res.statusCode)]) failures.push(`${res.statusCode} ${op.operationId} ${what}: ${res.body.slice(0, 160)}`)
  }
  let imports = 0
  for (const kind of ['patients', 'providers', 'coverages', 'appointments']) {
    for (const [format, files, type] of [['csv', CSV, 'text/csv'], ['ndjson', NDJSON, 'application/x-ndjson']] as const) {
      for (const [what, file] of files) {
        const created = await app.inject({ method: 'POST', url: '/imports', headers, payload: { facilityId: facility.id, kind, format } })
        t.equal(created.statusCode, 201, created.body)
        const id = created.json().id
        for (const attempt of ['upload', 'the same upload again']) {
          const res = await app.inject({ method: 'PUT', url: `/imports/${id}/file`, headers: { ...headers, 'content-type': type }, payload: file })
          check(res, '/imports/{importId}/file', 'put', `${kind} ${format} ${what}, ${attempt}`)
        }
        check(await app.inject({ url: `/imports/${id}`, headers }), '/imports/{importId}', 'get', `${kind} ${format} ${what}`)
        check(await app.inject({ url: `/imports/${id}/results`, headers }), '/imports/{importId}/results', 'get', `${kind} ${format} ${what}`)
        imports++
      }
    }
  }
  t.equal(imports, 4 * (CSV.length + NDJSON.length))
  t.same(failures, [], 'every answer is one the document lists, never a 500')
  const alive = await app.inject({ url: '/readyz' })
  t.equal(alive.statusCode, 200, 'the process still answers')
})
