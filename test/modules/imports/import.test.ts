import t from 'tap'
import { sql } from 'kysely'
import { bearer, buildTestApp } from '../../helpers/app.ts'
import { auditEventsFor, createPatient, orgWithFacility } from '../../helpers/factories.ts'

const ndjson = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n'

t.test('batch imports', async (t) => {
  const ctx = await buildTestApp(t)
  const { app, db } = ctx
  const { facility } = await orgWithFacility(db)
  const other = await orgWithFacility(db)
  const token = await ctx.token('integrator', [facility.id])

  const create = async (body: Record<string, unknown>, tok = token) => {
    const res = await app.inject({ method: 'POST', url: '/imports', headers: bearer(tok), payload: { facilityId: facility.id, kind: 'patients', format: 'ndjson', ...body } })
    t.equal(res.statusCode, 201, 'import created')
    return res.json() as { id: string }
  }
  const upload = (id: string, payload: string | Buffer, type = 'application/x-ndjson', headers: Record<string, string> = {}) =>
    app.inject({ method: 'PUT', url: `/imports/${id}/file`, headers: { ...bearer(token), 'content-type': type, ...headers }, payload })
  const results = async (id: string) => {
    const res = await app.inject({ url: `/imports/${id}/results`, headers: bearer(token) })
    t.equal(res.statusCode, 200)
    t.match(res.headers['content-type'], /application\/x-ndjson/)
    return res.body.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l))
  }
  const importFile = async (payload: string, body: Record<string, unknown> = {}, type?: string) => {
    const job = await create(body)
    const res = await upload(job.id, payload, type)
    t.equal(res.statusCode, 200, 'file applied')
    return { job: res.json(), results: await results(job.id) }
  }
  const patientsWith = (system: string) =>
    db.kysely.selectFrom('patientIdentifier').innerJoin('patient', 'patient.id', 'patientIdentifier.patientId')
      .select(['patient.id', 'patient.version', 'patientIdentifier.value', 'patient.familyName']).where('system', '=', system).orderBy('value').execute()

  const existing = await createPatient(db, facility.id, { familyName: 'Okonkwo', givenNames: 'Ngozi', birthDate: '1970-01-02' })
  const roster = [
    { familyName: 'Adeyemi', givenNames: 'Tunde', birthDate: '1980-01-01', identifiers: [{ system: 'urn:ehr:old', value: 'P1' }], ssn: '123-45-6789', address: { line1: '1 Main St', city: 'Albany', postalCode: '12207' } },
    { familyName: 'Brown', givenNames: 'Ada', birthDate: '2999-01-01', identifiers: [{ system: 'urn:ehr:old', value: 'P2' }] },
    { familyName: 'Chen', givenNames: 'Li', birthDate: '1990-02-03', identifiers: [{ system: 'urn:ehr:old', value: 'P3' }], favouriteColour: 'blue' },
    { familyName: 'Okonkwo', givenNames: 'Ngozi', birthDate: '1970-01-02', identifiers: [{ system: 'urn:ehr:old', value: 'P4' }] },
    { familyName: 'Diaz', givenNames: 'Rosa', birthDate: '1985-06-07' },
    { familyName: 'Evans', givenNames: 'Tom', birthDate: '1960-12-12', identifiers: [{ system: 'urn:ehr:old', value: 'P6' }], phones: [{ use: 'mobile', number: '+15555550177' }] },
  ]

  await t.test('valid rows are created, bad rows rejected with pointers, a likely duplicate reported and not created; all audited', async (t) => {
    const { job, results: rows } = await importFile(ndjson(roster) + 'not json\n')
    t.match(job, { status: 'completed', rowsRead: 7, created: 2, updated: 0, unchanged: 0, rejected: 4, duplicates: 1 })
    t.match(rows, [
      { row: 1, outcome: 'created', recordId: String },
      { row: 2, outcome: 'rejected', recordId: null, problem: { status: 400, errors: [{ pointer: '/birthDate', detail: 'must not be in the future' }] } },
      { row: 3, outcome: 'rejected', problem: { type: 'urn:patient-access:problem:validation', errors: [{ pointer: '/favouriteColour', detail: 'unknown property' }] } },
      { row: 4, outcome: 'duplicate', recordId: null, problem: { status: 409, type: 'urn:patient-access:problem:possible-duplicate', candidates: [{ id: existing.id }] } },
      { row: 5, outcome: 'rejected', problem: { errors: [{ pointer: '/identifiers', detail: 'a natural key is required: identifiers or mrn' }] } },
      { row: 6, outcome: 'created' },
      { row: 7, outcome: 'rejected', problem: { detail: 'The row is not valid JSON' } },
    ])
    t.notOk(JSON.stringify(rows).includes('Okonkwo'), 'no PHI in the results')
    const created = await patientsWith('urn:ehr:old')
    t.same(created.map((p) => p.value), ['P1', 'P6'])
    const p1 = await db.kysely.selectFrom('patient').selectAll().where('id', '=', rows[0].recordId).executeTakeFirstOrThrow()
    t.match(p1, { familyName: 'Adeyemi', facilityId: facility.id, ssnLast4: '6789', version: 1 })
    t.notOk(p1.ssnCipher!.includes('6789'))
    t.match(p1.mrn, /^\d+$/)
    t.same(await db.kysely.selectFrom('patientFacility').select('facilityId').where('patientId', '=', p1.id).execute(), [{ facilityId: facility.id }])
    t.match(await auditEventsFor(db, { resourceId: p1.id }), [{ action: 'create', verb: 'patient.create', patientId: p1.id, facilityId: facility.id, detail: { importId: job.id, row: 1 } }])
    t.match(await auditEventsFor(db, { resourceId: job.id }), [
      { action: 'create', verb: 'import.create', facilityId: facility.id },
      { action: 'execute', verb: 'import.execute', facilityId: facility.id, detail: { kind: 'patients', resumeAfterRow: 0 } },
      { action: 'read', verb: 'import.results' },
    ])
    const logs = ctx.logs()
    t.notOk(/Adeyemi|Okonkwo|123-45-6789/.test(logs), 'no PHI in the logs')
  })

  await t.test('the same file again reports every valid row unchanged and changes nothing', async (t) => {
    const before = await patientsWith('urn:ehr:old')
    const auditBefore = await db.kysely.selectFrom('auditEvent').select(sql<string>`count(*)::text`.as('n')).where('verb', 'in', ['patient.create', 'patient.update']).executeTakeFirstOrThrow()
    const { job, results: rows } = await importFile(ndjson([roster[0], roster[5]]))
    t.match(job, { rowsRead: 2, created: 0, updated: 0, unchanged: 2 })
    t.same(rows.map((r) => [r.outcome, r.recordId]), [['unchanged', before[0].id], ['unchanged', before[1].id]])
    t.same(await patientsWith('urn:ehr:old'), before, 'versions untouched')
    const auditAfter = await db.kysely.selectFrom('auditEvent').select(sql<string>`count(*)::text`.as('n')).where('verb', 'in', ['patient.create', 'patient.update']).executeTakeFirstOrThrow()
    t.equal(auditAfter.n, auditBefore.n, 'no create or update events')
  })

  await t.test('a changed row updates only what it carries; an MRN matches; an unknown MRN is rejected', async (t) => {
    const [p1] = await patientsWith('urn:ehr:old')
    const mrnRow = await db.kysely.selectFrom('patient').select('mrn').where('id', '=', existing.id).executeTakeFirstOrThrow()
    const { job, results: rows } = await importFile(ndjson([
      { familyName: 'Adeyemi', givenNames: 'Tunde', birthDate: '1980-01-01', identifiers: [{ system: 'urn:ehr:old', value: 'P1' }], email: 'tunde@example.org' },
      { mrn: mrnRow.mrn, familyName: 'Okonkwo', givenNames: 'Ngozi', birthDate: '1970-01-02', identifiers: [{ system: 'urn:ehr:old', value: 'P4' }] },
      { mrn: '999999999', familyName: 'X', givenNames: 'Y', birthDate: '1970-01-02' },
    ]))
    t.match(job, { created: 0, updated: 2, rejected: 1 })
    t.match(rows, [
      { outcome: 'updated', recordId: p1.id },
      { outcome: 'updated', recordId: existing.id },
      { outcome: 'rejected', problem: { status: 404, errors: [{ pointer: '/mrn' }] } },
    ])
    const after = await db.kysely.selectFrom('patient').select(['email', 'ssnLast4', 'version']).where('id', '=', p1.id).executeTakeFirstOrThrow()
    t.same(after, { email: 'tunde@example.org', ssnLast4: '6789', version: 2 }, 'fields absent from the row are kept')
    const ids = await db.kysely.selectFrom('patientIdentifier').select('value').where('patientId', '=', existing.id).execute()
    t.same(ids, [{ value: 'P4' }], 'identifiers replaced')
    t.match(await auditEventsFor(db, { resourceId: existing.id }), [{ action: 'update', verb: 'patient.update', detail: { importId: job.id, row: 2, fields: ['identifiers'] } }])
  })

  await t.test('a dry run validates and reports without writing', async (t) => {
    const before = await db.kysely.selectFrom('patient').select(sql<string>`count(*)::text`.as('n')).executeTakeFirstOrThrow()
    const { job, results: rows } = await importFile(ndjson([
      { familyName: 'Fresh', givenNames: 'Person', birthDate: '2001-01-01', identifiers: [{ system: 'urn:ehr:old', value: 'DRY1' }] },
      { familyName: 'Adeyemi', givenNames: 'Tunde', birthDate: '1980-01-01', identifiers: [{ system: 'urn:ehr:old', value: 'P1' }], email: 'changed@example.org' },
    ]), { dryRun: true })
    t.match(job, { dryRun: true, created: 1, updated: 1 })
    t.match(rows, [{ outcome: 'created', recordId: null }, { outcome: 'updated', recordId: String }])
    t.same(await db.kysely.selectFrom('patient').select(sql<string>`count(*)::text`.as('n')).executeTakeFirstOrThrow(), before)
    const p1 = await db.kysely.selectFrom('patient').select('email').where('id', '=', rows[1].recordId).executeTakeFirstOrThrow()
    t.equal(p1.email, 'tunde@example.org')
  })

  await t.test('allowDuplicates creates a look-alike; a row repeating a key in the same file updates the first', async (t) => {
    const { job, results: rows } = await importFile(ndjson([
      { familyName: 'Okonkwo', givenNames: 'Ngozi', birthDate: '1970-01-02', identifiers: [{ system: 'urn:ehr:dup', value: 'D1' }] },
      { familyName: 'Okonkwo', givenNames: 'Ngozi', birthDate: '1970-01-02', identifiers: [{ system: 'urn:ehr:dup', value: 'D1' }], email: 'n@example.org' },
    ]), { allowDuplicates: true })
    t.match(job, { created: 1, updated: 1, duplicates: 0 })
    t.equal(rows[0].recordId, rows[1].recordId)
  })

  await t.test('each duplicate criterion finds its look-alike among committed patients, and only it', async (t) => {
    const ids = (system: string, value: string) => [{ system, value }]
    const first = await importFile(ndjson([
      { familyName: 'Quinlan', givenNames: 'Marcus', birthDate: '1950-01-01', identifiers: ids('urn:ehr:crit', 'Q1'), phones: [{ use: 'mobile', number: '+15550001001' }], address: { line1: '1 Elm St', city: 'Troy', postalCode: '12180' } },
      { familyName: 'Thackeray', givenNames: 'Beatrix', birthDate: '1951-02-02', identifiers: ids('urn:ehr:crit', 'Q2'), phones: [{ use: 'mobile', number: '+15550001002' }], address: { line1: '2 Ash St', city: 'Troy', postalCode: '12180' } },
      { familyName: 'Ulverston', givenNames: 'Cedric', birthDate: '1952-03-03', identifiers: ids('urn:ehr:crit', 'Q3'), phones: [{ use: 'mobile', number: '+15550001003' }] },
      { familyName: 'Vandermeer', givenNames: 'Dolores', birthDate: '1953-04-04', identifiers: ids('urn:ehr:crit', 'Q4'), email: 'dolores@example.org', phones: [{ use: 'mobile', number: '+15550001004' }], address: { line1: '4 Oak St', city: 'Troy', postalCode: '12180' } },
      { familyName: 'Wolfenden', givenNames: 'Ezra', birthDate: '1954-05-05', identifiers: ids('urn:ehr:crit', 'Q5'), ssn: '123-45-6701', phones: [{ use: 'mobile', number: '+15550001005' }] },
      { familyName: 'Pemberton', givenNames: 'Horatio', birthDate: '1955-06-06', identifiers: ids('urn:ehr:crit', 'Q6'), phones: [{ use: 'mobile', number: '+15550001006' }] },
    ]))
    t.match(first.job, { created: 6 })
    const [marcus, beatrix, cedric, dolores, ezra, horatio] = first.results.map((r) => r.recordId)
    const { job, results: rows } = await importFile(ndjson([
      // A phone and the name codes (another birth date): names, phone and address.
      { familyName: 'Quinlan', givenNames: 'Marcus', birthDate: '1990-09-09', identifiers: ids('urn:ehr:crit', 'R1'), phones: [{ use: 'mobile', number: '+15550001001' }], address: { line1: '1 Elm St', city: 'Troy', postalCode: '12180' } },
      // Birth date and family name (another given name, another phone): and the address.
      { familyName: 'Thackeray', givenNames: 'Zebulon', birthDate: '1951-02-02', identifiers: ids('urn:ehr:crit', 'R2'), phones: [{ use: 'mobile', number: '+15550009002' }], address: { line1: '2 Ash St', city: 'Troy', postalCode: '12180' } },
      // A phone and the given-name code (another family name): and the birth date.
      { familyName: 'Yarborough', givenNames: 'Cedric', birthDate: '1952-03-03', identifiers: ids('urn:ehr:crit', 'R3'), phones: [{ use: 'mobile', number: '+15550001003' }] },
      // The email, in other letter case (no name code in common).
      { familyName: 'Zeller', givenNames: 'Fiona', birthDate: '1953-04-04', identifiers: ids('urn:ehr:crit', 'R4'), email: 'Dolores@Example.org', phones: [{ use: 'mobile', number: '+15550001004' }], address: { line1: '4 Oak St', city: 'Troy', postalCode: '12180' } },
      // The SSN (nothing else but the phone).
      { familyName: 'Abernathy', givenNames: 'Gideon', birthDate: '1999-12-12', identifiers: ids('urn:ehr:crit', 'R5'), ssn: '123-45-6701', phones: [{ use: 'mobile', number: '+15550001005' }] },
      // Birth date and both name codes, the family name spelt otherwise (no phone in common).
      { familyName: 'Pembertin', givenNames: 'Horatio', birthDate: '1955-06-06', identifiers: ids('urn:ehr:crit', 'R6'), phones: [{ use: 'mobile', number: '+15550009006' }] },
    ]))
    t.match(job, { created: 0, duplicates: 6 })
    t.same(rows.map((r) => [r.outcome, r.problem.candidates.map((c: { id: string }) => c.id)]), [
      ['duplicate', [marcus]], ['duplicate', [beatrix]], ['duplicate', [cedric]], ['duplicate', [dolores]], ['duplicate', [ezra]], ['duplicate', [horatio]],
    ])
  })

  await t.test('names in a script without a romanisation: the criteria find them as written, among committed patients and within the batch', async (t) => {
    const ids = (value: string) => [{ system: 'urn:ehr:native', value }]
    const first = await importFile(ndjson([
      { familyName: '王', givenNames: '小明', birthDate: '1961-01-01', identifiers: ids('N1') },
      { familyName: '김', givenNames: '민준', birthDate: '1962-02-02', identifiers: ids('N2'), phones: [{ use: 'mobile', number: '+15550007002' }] },
    ]))
    t.match(first.job, { created: 2 })
    const [wang, kim] = first.results.map((r) => r.recordId)
    const { job, results: rows } = await importFile(ndjson([
      // Birth date and the whole name as written.
      { familyName: '王', givenNames: '小明', birthDate: '1961-01-01', identifiers: ids('M1') },
      // A phone, the given name and the birth date (another family name).
      { familyName: '박', givenNames: '민준', birthDate: '1962-02-02', identifiers: ids('M2'), phones: [{ use: 'mobile', number: '+15550007002' }] },
      // 汪 is not 王: created; and the next row, the same as it, is its duplicate within the batch.
      { familyName: '汪', givenNames: '小明', birthDate: '1961-01-01', identifiers: ids('M3') },
      { familyName: '汪', givenNames: '小明', birthDate: '1961-01-01', identifiers: ids('M4') },
    ]))
    t.match(job, { created: 1, duplicates: 3 })
    t.same(rows.map((r) => [r.outcome, r.problem?.candidates.map((c: { id: string }) => c.id) ?? []]), [
      ['duplicate', [wang]], ['duplicate', [kim]], ['created', []], ['duplicate', [rows[2].recordId]],
    ])
  })

  await t.test('CSV: quoting, an embedded newline, a UTF-8 BOM, nested columns and booleans', async (t) => {
    const csv = '\uFEFFfamilyName,givenNames,birthDate,identifiers.0.system,identifiers.0.value,address.line1,address.city,address.postalCode,communication.smsReminders\r\n' +
      '"O\'Brien, Jr",Seán,1975-03-04,urn:ehr:csv,C1,"12 ""Quoted"" Rd\nUnit 4",Albany,12207,true\r\n' +
      'Nguyen,Bao,1988-08-08,urn:ehr:csv,C2,,,,false\r\n' +
      'Short,row\r\n'
    const { job, results: rows } = await importFile(csv, { format: 'csv' }, 'text/csv; charset=utf-8')
    t.match(job, { rowsRead: 3, created: 2, rejected: 1 })
    t.match(rows[2], { row: 3, outcome: 'rejected', problem: { detail: 'The row has 2 fields; the header names 9' } })
    const p = await db.kysely.selectFrom('patient').select(['familyName', 'givenNames', 'address', 'smsReminderConsent']).where('id', '=', rows[0].recordId).executeTakeFirstOrThrow()
    t.same(p, { familyName: "O'Brien, Jr", givenNames: 'Seán', address: { line1: '12 "Quoted" Rd\nUnit 4', city: 'Albany', postalCode: '12207' }, smsReminderConsent: true })
    const again = await importFile(csv, { format: 'csv' }, 'text/csv')
    t.match(again.job, { unchanged: 2, rejected: 1 })
  })

  await t.test('CSV: a header naming an item beyond what its list holds is refused before any row is built', async (t) => {
    // identifiers.99999999.system made each row a list of a hundred million holes: the process ran out of memory.
    for (const column of ['identifiers.99999999.system', 'identifiers.20.system', 'notAField.100.x']) {
      const job = await create({ format: 'csv' })
      const res = await upload(job.id, `familyName,givenNames,birthDate,${column}\nFarindex,Ada,1980-01-01,urn:x\n`, 'text/csv')
      t.equal(res.statusCode, 400, column)
      t.match(res.json(), { type: 'urn:patient-access:problem:bad-request', detail: /^Column 4 of the header names item \d+ of a list that holds at most (20|100)$/ }, column)
    }
    t.equal((await db.kysely.selectFrom('patient').select('id').where('familyName', '=', 'Farindex').execute()).length, 0, 'nothing created')
    const within = await importFile('familyName,givenNames,birthDate,identifiers.19.system,identifiers.19.value\nNearindex,Ada,1980-01-01,urn:x,1\n', { format: 'csv' }, 'text/csv')
    t.match(within.job, { rowsRead: 1, rejected: 1 }, 'an item the list can hold is read; the holes before it make the row invalid')
  })

  await t.test('creating an import with an Idempotency-Key replays the same import', async (t) => {
    const send = () => app.inject({
      method: 'POST', url: '/imports', headers: { ...bearer(token), 'idempotency-key': 'import-key-1' },
      payload: { facilityId: facility.id, kind: 'patients', format: 'csv' },
    })
    const first = await send()
    t.equal(first.statusCode, 201)
    t.equal(first.headers.location, `/imports/${first.json().id}`)
    const again = await send()
    t.equal(again.statusCode, 201)
    t.equal(again.json().id, first.json().id)
  })

  await t.test('scoped to the facility and to import:write', async (t) => {
    const foreign = await app.inject({ method: 'POST', url: '/imports', headers: bearer(token), payload: { facilityId: other.facility.id, kind: 'patients', format: 'csv' } })
    t.equal(foreign.statusCode, 404)
    const job = await create({})
    const otherToken = await ctx.token('integrator', [other.facility.id])
    t.equal((await app.inject({ url: `/imports/${job.id}`, headers: bearer(otherToken) })).statusCode, 404)
    t.equal((await app.inject({ url: `/imports/${job.id}/results`, headers: bearer(otherToken) })).statusCode, 404)
    const desk = await ctx.token('front_desk', [facility.id])
    t.equal((await app.inject({ url: `/imports/${job.id}`, headers: bearer(desk) })).statusCode, 403)
    const wrongType = await upload(job.id, 'a,b\n', 'text/csv')
    t.equal(wrongType.statusCode, 415)
    const json = await app.inject({ method: 'PUT', url: `/imports/${job.id}/file`, headers: bearer(token), payload: { familyName: 'x' } })
    t.equal(json.statusCode, 415)
  })
})
