import t from 'tap'
import { sql } from 'kysely'
import { bearer, buildTestApp } from '../../helpers/app.ts'
import { usingPostgres } from '../../helpers/db.ts'
import { createPatient, orgWithFacility } from '../../helpers/factories.ts'
import { countRows, importer, importEvents, ndjson, patientWithIdentifier, validNpi } from './fixtures.ts'

t.test('appointment imports', async (t) => {
  const ctx = await buildTestApp(t)
  const { app, db } = ctx
  const { organization, facility } = await orgWithFacility(db)
  const token = await ctx.token('integrator', [facility.id])
  const { create, importFile } = importer(t, ctx, token, facility.id)

  const npi = validNpi()
  const provider = await db.kysely.insertInto('provider').values({ organizationId: organization.id, npi, displayName: 'Dr. Ruiz' }).returningAll().executeTakeFirstOrThrow()
  await db.kysely.insertInto('providerFacility').values({ providerId: provider.id, facilityId: facility.id }).execute()
  const elsewhereNpi = validNpi()
  await db.kysely.insertInto('provider').values({ organizationId: organization.id, npi: elsewhereNpi, displayName: 'Dr. Elsewhere' }).execute()
  const type = await db.kysely.insertInto('appointmentType').values({
    organizationId: organization.id, code: 'imp-visit', name: 'Visit', durationMinutes: 30, bufferAfterMinutes: 10, resourceKinds: ['exam-room'],
  } as never).returningAll().executeTakeFirstOrThrow()
  const [room1, room2] = await db.kysely.insertInto('resource').values([
    { facilityId: facility.id, kind: 'exam-room', name: 'Exam 1' }, { facilityId: facility.id, kind: 'exam-room', name: 'Exam 2' },
  ]).returningAll().execute()
  const ada = await createPatient(db, facility.id, { familyName: 'Lovelace', givenNames: 'Ada' })
  const adaId = await patientWithIdentifier(db, ada, 'urn:ehr:appt')
  const bob = await createPatient(db, facility.id)

  // A booking made here, not imported: 11:00-11:30.
  const booked = await db.kysely.insertInto('appointment').values({
    facilityId: facility.id, patientId: bob.id, providerId: provider.id, appointmentTypeId: type.id, resourceIds: [],
    startAt: new Date('2031-03-03T16:00:00Z'), endAt: new Date('2031-03-03T16:30:00Z'), createdBy: 'someone',
  } as never).returning('id').executeTakeFirstOrThrow()
  await sql`INSERT INTO reservation (provider_id, period, appointment_id) VALUES (${provider.id}, tstzrange('2031-03-03T16:00:00Z', '2031-03-03T16:30:00Z', '[)'), ${booked.id})`.execute(db.kysely)

  const at = (hhmm: string) => `2031-03-03T${hhmm}:00-05:00`
  const base = { sourceSystem: 'urn:oldehr', appointmentTypeId: type.id }
  const roster = ndjson([
    { ...base, sourceId: 'A1', patientMrn: ada.mrn, providerNpi: npi, start: at('09:00'), resourceIds: [room1.id], note: 'First visit' },
    { ...base, sourceId: 'A2', patientId: bob.id, providerId: provider.id, start: at('09:20'), resourceIds: [room2.id] },
    { ...base, sourceId: 'A3', patientIdentifier: adaId, providerNpi: npi, start: at('10:00'), resourceIds: [room1.id] },
    { ...base, sourceId: 'A4', patientId: bob.id, providerNpi: npi, start: at('12:00') },
    { ...base, sourceId: 'A5', patientId: bob.id, providerNpi: npi, start: at('11:10'), resourceIds: [room2.id] },
    { ...base, sourceId: 'A6', patientId: bob.id, providerNpi: npi, start: at('13:00'), resourceIds: [room2.id], status: 'cancelled' },
    { ...base, sourceId: 'A1', patientMrn: ada.mrn, providerNpi: npi, start: at('09:00'), resourceIds: [room1.id], note: 'First visit' },
    { ...base, sourceId: 'A7', patientId: bob.id, providerNpi: npi, start: at('09:00'), resourceIds: [room2.id], overbookReason: 'Urgent' },
    { ...base, sourceId: 'A8', patientId: bob.id, providerNpi: npi, start: at('14:00'), resourceIds: [room2.id], room: 'Exam 2' },
    { ...base, sourceId: 'A9', patientId: bob.id, providerNpi: elsewhereNpi, start: at('14:00'), resourceIds: [room2.id] },
    { ...base, sourceId: 'A10', patientId: bob.id, providerNpi: npi, start: '2020-01-06T09:00:00-05:00', resourceIds: [room2.id], status: 'fulfilled' },
    { ...base, sourceId: 'A11', patientId: bob.id, providerNpi: npi, start: at('09:00'), resourceIds: [room2.id], status: 'cancelled', cancelReason: 'Patient called' },
  ])
  const bySource = (sourceId: string) => sql<{ id: string; status: string; startAt: Date; note: string | null; version: number; cancelReason: string | null; cancelledBy: string | null }>`
    SELECT id, status, start_at, note, version, cancel_reason, cancelled_by FROM appointment WHERE facility_id = ${facility.id} AND source_system = 'urn:oldehr' AND source_id = ${sourceId}`
    .execute(db.kysely).then((r) => r.rows[0])
  const reservationsOf = (appointmentId: string) => sql<{ providerId: string | null; resourceId: string | null; from: Date; to: Date }>`
    SELECT provider_id, resource_id, lower(period) AS "from", upper(period) AS "to" FROM reservation WHERE appointment_id = ${appointmentId} ORDER BY resource_id NULLS FIRST`
    .execute(db.kysely).then((r) => r.rows.map((x) => ({ ...x, from: new Date(x.from).toISOString(), to: new Date(x.to).toISOString() })))

  await t.test('valid rows book; overlapping, invalid and unknown ones are rejected alone with pointers; a repeated row is unchanged', async (t) => {
    const { job, results } = await importFile('appointments', roster)
    t.match(job, { kind: 'appointments', status: 'completed', rowsRead: 12, created: 4, updated: 0, unchanged: 1, rejected: 7 })
    const a1 = await bySource('A1')
    t.match(results, [
      { row: 1, outcome: 'created', recordId: a1.id },
      { row: 2, outcome: 'rejected', recordId: null, problem: { status: 409, type: 'urn:patient-access:problem:slot-unavailable', errors: [{ pointer: '/start' }] } },
      { row: 3, outcome: 'created' },
      { row: 4, outcome: 'rejected', problem: { status: 400, errors: [{ pointer: '/resourceIds', detail: 'one active resource of the facility of each kind: exam-room' }] } },
      { row: 5, outcome: 'rejected', problem: { status: 409, errors: [{ pointer: '/start' }] } },
      { row: 6, outcome: 'rejected', problem: { status: 400, errors: [{ pointer: '/cancelReason', detail: 'required when status is cancelled' }] } },
      { row: 7, outcome: 'unchanged', recordId: a1.id },
      { row: 8, outcome: 'rejected', problem: { status: 403, errors: [{ pointer: '/overbookReason' }] } },
      { row: 9, outcome: 'rejected', problem: { type: 'urn:patient-access:problem:validation', errors: [{ pointer: '/room' }] } },
      { row: 10, outcome: 'rejected', problem: { status: 404, detail: 'Provider not found', errors: [{ pointer: '/providerNpi' }] } },
      { row: 11, outcome: 'created' },
      { row: 12, outcome: 'created' },
    ])
    t.match(a1, { status: 'booked', note: 'First visit', version: 1 })
    t.same(await reservationsOf(a1.id), [
      { providerId: provider.id, resourceId: null, from: '2031-03-03T14:00:00.000Z', to: '2031-03-03T14:40:00.000Z' },
      { providerId: null, resourceId: room1.id, from: '2031-03-03T14:00:00.000Z', to: '2031-03-03T14:40:00.000Z' },
    ], 'the span includes the buffer after')
    t.match(await bySource('A10'), { status: 'fulfilled' })
    t.match(await bySource('A11'), { status: 'cancelled', cancelReason: 'Patient called', cancelledBy: 'user-integrator' })
    t.same(await reservationsOf((await bySource('A11')).id), [], 'a cancelled appointment holds no time')
    t.equal(await countRows(db, 'appointment', sql`source_id IN ('A2', 'A4', 'A5', 'A6', 'A7', 'A8', 'A9')`), 0)
    t.match(await importEvents(db, job.id), [
      { action: 'create', verb: 'appointment.book', resourceId: a1.id, patientId: ada.id, facilityId: facility.id, detail: { row: 1, overbooked: false } },
      { verb: 'appointment.book', patientId: ada.id, detail: { row: 3 } },
      { verb: 'appointment.book', detail: { row: 11 } },
      { verb: 'appointment.book', detail: { row: 12 } },
    ])
    const got = await app.inject({ url: `/appointments/${a1.id}`, headers: bearer(token) })
    t.equal(got.statusCode, 200, got.body)
    t.match(got.json(), { status: 'booked', start: '2031-03-03T09:00:00-05:00', providerName: 'Dr. Ruiz', resources: [{ id: room1.id }] })
  })

  await t.test('the same file again reports every valid row unchanged and writes nothing', async (t) => {
    const before = await db.kysely.selectFrom('appointment').select(['id', 'version', 'startAt']).where('facilityId', '=', facility.id).orderBy('id').execute()
    const reservations = await countRows(db, 'reservation')
    const { job, results } = await importFile('appointments', roster)
    t.match(job, { created: 0, updated: 0, unchanged: 5, rejected: 7 })
    t.same(results.filter((r) => r.outcome === 'unchanged').map((r) => r.row), [1, 3, 7, 11, 12])
    t.same(await db.kysely.selectFrom('appointment').select(['id', 'version', 'startAt']).where('facilityId', '=', facility.id).orderBy('id').execute(), before)
    t.equal(await countRows(db, 'reservation'), reservations)
    t.same(await importEvents(db, job.id), [])
  })

  await t.test('a dry run reports without writing', async (t) => {
    const a3 = await bySource('A3')
    const appointments = await countRows(db, 'appointment')
    const { job, results } = await importFile('appointments', ndjson([
      { ...base, sourceId: 'D1', patientId: bob.id, providerNpi: npi, start: at('15:00'), resourceIds: [room2.id] },
      { ...base, sourceId: 'D2', patientId: bob.id, providerNpi: npi, start: at('15:10'), resourceIds: [room1.id] },
      { ...base, sourceId: 'A3', patientIdentifier: adaId, providerNpi: npi, start: at('10:00'), resourceIds: [room1.id], note: 'Bring records' },
    ]), { dryRun: true })
    t.match(job, { dryRun: true, created: 1, updated: 1, rejected: 1 })
    t.match(results, [{ outcome: 'created', recordId: null }, { outcome: 'rejected', problem: { status: 409 } }, { outcome: 'updated', recordId: a3.id }])
    t.equal(await countRows(db, 'appointment'), appointments)
    t.match(await bySource('A3'), { note: null, version: 1 })
  })

  await t.test('a cancellation frees its time for a later row of the same batch; a reschedule moves the reservations', async (t) => {
    const a1 = await bySource('A1')
    const a3 = await bySource('A3')
    const { job, results } = await importFile('appointments', ndjson([
      { ...base, sourceId: 'A1', patientMrn: ada.mrn, providerNpi: npi, start: at('09:00'), status: 'cancelled', cancelReason: 'Patient called' },
      { ...base, sourceId: 'A2', patientId: bob.id, providerId: provider.id, start: at('09:20'), resourceIds: [room2.id] },
      { ...base, sourceId: 'A3', patientIdentifier: adaId, providerNpi: npi, start: at('15:00'), resourceIds: [room2.id] },
      { ...base, sourceId: 'A12', patientId: bob.id, providerNpi: npi, start: at('10:00'), resourceIds: [room1.id] },
    ]))
    t.match(job, { created: 2, updated: 2, rejected: 0 })
    t.match(results, [{ outcome: 'updated', recordId: a1.id }, { outcome: 'created' }, { outcome: 'updated', recordId: a3.id }, { outcome: 'created' }])
    t.match(await bySource('A1'), { status: 'cancelled', cancelReason: 'Patient called', version: 2 })
    t.same(await reservationsOf(a1.id), [])
    t.same((await reservationsOf(a3.id)).map((r) => [r.resourceId, r.from]), [[null, '2031-03-03T20:00:00.000Z'], [room2.id, '2031-03-03T20:00:00.000Z']])
    t.match(await importEvents(db, job.id), [
      { verb: 'appointment.update', resourceId: a1.id, detail: { row: 1, fields: ['status', 'cancelReason'] } },
      { verb: 'appointment.book', detail: { row: 2 } },
      { verb: 'appointment.update', resourceId: a3.id, detail: { row: 3, fields: ['resourceIds', 'startAt', 'endAt'] } },
      { verb: 'appointment.book', detail: { row: 4 } },
    ])
  })

  await t.test('the database still refuses double booking: the imported time is reserved', async (t) => {
    const a2 = await bySource('A2')
    const clash = sql`INSERT INTO reservation (provider_id, period, appointment_id) VALUES (${provider.id}, tstzrange('2031-03-03T14:30:00Z', '2031-03-03T14:45:00Z', '[)'), ${a2.id})`
    await t.rejects(clash.execute(db.kysely), { code: '23P01' })
  })

  await t.test('two imports racing for one time: one row books it, the other is rejected, no 5xx', { skip: usingPostgres() ? false : 'concurrency needs real Postgres (PGlite is one connection)' }, async (t) => {
    const jobs = await Promise.all([create({ kind: 'appointments' }), create({ kind: 'appointments' })])
    const responses = await Promise.all(jobs.map((job, n) => app.inject({
      method: 'PUT', url: `/imports/${job.id}/file`, headers: { ...bearer(token), 'content-type': 'application/x-ndjson' },
      payload: ndjson([{ ...base, sourceId: `RACE${n}`, patientId: bob.id, providerNpi: npi, start: at(n ? '17:10' : '17:00'), resourceIds: [n ? room2.id : room1.id] }]),
    })))
    t.same(responses.map((r) => r.statusCode), [200, 200])
    const outcomes = responses.map((r) => r.json()).map((j) => [j.created, j.rejected]).sort()
    t.same(outcomes, [[0, 1], [1, 0]])
    t.equal(await countRows(db, 'reservation', sql`provider_id = ${provider.id} AND period && tstzrange('2031-03-03T22:00:00Z', '2031-03-03T22:50:00Z', '[)')`), 1)
  })
})
