import t from 'tap'
import { addDays } from '../../../src/lib/dates.ts'
import { bearer, buildTestApp } from '../../helpers/app.ts'
import { usingPostgres } from '../../helpers/db.ts'
import { auditEventsFor } from '../../helpers/factories.ts'
import { createRequest, daysAgo, moveTo, requestBody, roiSetup, today } from './roi-helpers.ts'

t.test('ROI requests, workflow and deadlines', async (t) => {
  const ctx = await buildTestApp(t)
  const { app, db } = ctx

  await t.test('a request is logged with requester, basis, records, format, delivery; due = received + facility deadline; audited', async (t) => {
    const s = await roiSetup(ctx, { roiDeadlineDays: 15 })
    const received = daysAgo(3)
    const res = await app.inject({ method: 'POST', url: '/roi-requests', headers: s.headers, payload: requestBody(s, { receivedOn: received }) })
    t.equal(res.statusCode, 201, res.body)
    const body = res.json()
    t.match(body, {
      patientId: s.patient.id, facilityId: s.facility.id, organizationId: s.organization.id, status: 'received', legalBasis: 'subpoena',
      requester: { type: 'attorney', name: 'Jordan Lee', organization: 'Lee & Partners LLP', address: '12 Court St, Albany NY 12207', email: null },
      recordsRequested: { types: ['clinical_notes', 'imaging_reports'], from: '2025-01-01', to: '2025-12-31' },
      format: 'electronic', deliveryMethod: 'secure_download', receivedOn: received, dueOn: addDays(received, 15), effectiveDueOn: addDays(received, 15),
      extension: null, allowedTransitions: ['in_review', 'denied', 'withdrawn'], version: 1,
    })
    t.equal(res.headers.etag, '"1"')
    const row = await db.kysely.selectFrom('roiRequest').selectAll().where('id', '=', body.id).executeTakeFirstOrThrow()
    t.equal(row.requesterName, 'Jordan Lee')
    t.match(await auditEventsFor(db, { resourceId: body.id }), [
      { action: 'create', verb: 'roi_request.create', patientId: s.patient.id, facilityId: s.facility.id, actorSub: 'user-roi_specialist' },
    ])
    const read = await app.inject({ url: `/roi-requests/${body.id}`, headers: s.headers })
    t.equal(read.statusCode, 200)
    t.same(read.json(), body)
    t.match(await auditEventsFor(db, { verb: 'roi_request.read', resourceId: body.id }), [{ patientId: s.patient.id, facilityId: s.facility.id }])
  })

  await t.test('records from year 1 (all of them) are stored and read back as 0001-01-01; the work queue lists the request', async (t) => {
    const s = await roiSetup(ctx)
    // A year below 1000 was written unpadded ("1-01-01"), failed the response schema after the
    // request had committed (500), and every list holding the request failed the same way.
    const res = await app.inject({ method: 'POST', url: '/roi-requests', headers: s.headers, payload: requestBody(s, { recordsRequested: { types: ['clinical_notes'], from: '0001-01-01', to: '0999-12-31' } }) })
    t.equal(res.statusCode, 201, res.body)
    t.same(res.json().recordsRequested, { types: ['clinical_notes'], from: '0001-01-01', to: '0999-12-31' })
    const list = await app.inject({ url: `/roi-requests?facilityId=${s.facility.id}`, headers: s.headers })
    t.equal(list.statusCode, 200, list.body)
    t.same(list.json().items.map((r: { recordsRequested: unknown }) => r.recordsRequested), [res.json().recordsRequested])
  })

  await t.test('the default deadline is 30 days (HIPAA 164.524(b)(2))', async (t) => {
    const s = await roiSetup(ctx)
    const r = await createRequest(app, s, { receivedOn: '2026-01-15' })
    t.equal(r.dueOn, '2026-02-14')
  })

  await t.test('unknown fields, a future received date and an inverted date range are refused with problem+json', async (t) => {
    const s = await roiSetup(ctx)
    const unknown = await app.inject({ method: 'POST', url: '/roi-requests', headers: s.headers, payload: { ...requestBody(s), ssn: '123' } })
    t.equal(unknown.statusCode, 400)
    t.equal(unknown.headers['content-type'], 'application/problem+json; charset=utf-8')
    const future = await app.inject({ method: 'POST', url: '/roi-requests', headers: s.headers, payload: requestBody(s, { receivedOn: addDays(today(), 2) }) })
    t.equal(future.statusCode, 400)
    t.match(future.json().errors, [{ pointer: '/receivedOn' }])
    const inverted = await app.inject({
      method: 'POST', url: '/roi-requests', headers: s.headers,
      payload: requestBody(s, { recordsRequested: { types: ['billing'], from: '2025-05-01', to: '2025-01-01' } }),
    })
    t.equal(inverted.statusCode, 400)
    const count = await db.kysely.selectFrom('roiRequest').select(db.kysely.fn.countAll().as('n')).where('patientId', '=', s.patient.id).executeTakeFirstOrThrow()
    t.equal(Number(count.n), 0)
  })

  await t.test('164.524: individual access is requested by the patient or a personal representative', async (t) => {
    const s = await roiSetup(ctx)
    const res = await app.inject({ method: 'POST', url: '/roi-requests', headers: s.headers, payload: requestBody(s, { legalBasis: 'individual_access' }) })
    t.equal(res.statusCode, 422)
    t.equal(res.json().type, 'urn:patient-access:problem:requester-not-individual')
    const ok = await app.inject({
      method: 'POST', url: '/roi-requests', headers: s.headers,
      payload: requestBody(s, { legalBasis: 'individual_access', requester: { type: 'personal_representative', name: 'Sam Example' } }),
    })
    t.equal(ok.statusCode, 201)
  })

  await t.test('facility scoping: another facility\'s request, patient or facility is 404', async (t) => {
    const a = await roiSetup(ctx)
    const b = await roiSetup(ctx)
    const r = await createRequest(app, a)
    const read = await app.inject({ url: `/roi-requests/${r.id}`, headers: b.headers })
    t.equal(read.statusCode, 404)
    t.equal(read.json().detail, 'ROI request not found')
    const move = await app.inject({ method: 'POST', url: `/roi-requests/${r.id}/transitions`, headers: b.headers, payload: { to: 'in_review', reason: 'x' } })
    t.equal(move.statusCode, 404)
    const list = await app.inject({ url: '/roi-requests?limit=100', headers: b.headers })
    t.notOk(list.json().items.some((i: { id: string }) => i.id === r.id))
    // a's patient at b's facility, and a request for a facility b cannot act for
    const wrongPatient = await app.inject({ method: 'POST', url: '/roi-requests', headers: b.headers, payload: requestBody(b, { patientId: a.patient.id }) })
    t.equal(wrongPatient.statusCode, 404)
    t.equal(wrongPatient.json().detail, 'Patient not found')
    const wrongFacility = await app.inject({ method: 'POST', url: '/roi-requests', headers: b.headers, payload: requestBody(a) })
    t.equal(wrongFacility.statusCode, 404)
    const frontDesk = await ctx.token('front_desk', [a.facility.id])
    const forbidden = await app.inject({ url: `/roi-requests/${r.id}`, headers: bearer(frontDesk) })
    t.equal(forbidden.statusCode, 403)
  })

  await t.test('guarded transitions: each move is recorded with who and why; a move not allowed is 409 with the allowed ones', async (t) => {
    const s = await roiSetup(ctx)
    const r = await createRequest(app, s)
    const bad = await app.inject({ method: 'POST', url: `/roi-requests/${r.id}/transitions`, headers: s.headers, payload: { to: 'ready_for_release', reason: 'skip ahead' } })
    t.equal(bad.statusCode, 409)
    t.match(bad.json(), { type: 'urn:patient-access:problem:invalid-transition', status: 409, currentStatus: 'received', allowed: ['in_review', 'denied', 'withdrawn'] })
    const noReason = await app.inject({ method: 'POST', url: `/roi-requests/${r.id}/transitions`, headers: s.headers, payload: { to: 'in_review' } })
    t.equal(noReason.statusCode, 400)
    const ok = await app.inject({
      method: 'POST', url: `/roi-requests/${r.id}/transitions`, headers: { ...s.headers, 'if-match': '"1"' }, payload: { to: 'in_review', reason: 'Requester identity verified' },
    })
    t.equal(ok.statusCode, 200, ok.body)
    t.match(ok.json(), { status: 'in_review', version: 2, allowedTransitions: ['pending_authorization', 'in_progress', 'denied', 'withdrawn'] })
    const stale = await app.inject({ method: 'POST', url: `/roi-requests/${r.id}/transitions`, headers: { ...s.headers, 'if-match': '"1"' }, payload: { to: 'in_progress', reason: 'x' } })
    t.equal(stale.statusCode, 412)
    const history = await app.inject({ url: `/roi-requests/${r.id}/status-history`, headers: s.headers })
    t.match(history.json(), [
      { from: null, to: 'received', actor: 'user-roi_specialist' },
      { from: 'received', to: 'in_review', reason: 'Requester identity verified', actor: 'user-roi_specialist' },
    ])
    const [moved] = await auditEventsFor(db, { verb: 'roi_request.transition', resourceId: r.id })
    t.match(moved, { action: 'update', actorSub: 'user-roi_specialist', patientId: s.patient.id, facilityId: s.facility.id, detail: { from: 'received', to: 'in_review' } })
    const why = await db.kysely.selectFrom('roiStatusChange').select(['reason', 'actorSub']).where('id', '=', String(moved.detail!.statusChangeId)).executeTakeFirstOrThrow()
    t.same(why, { reason: 'Requester identity verified', actorSub: 'user-roi_specialist' }, 'the audit event points to who and why')
    await moveTo(app, s, r.id, ['withdrawn'])
    const after = await app.inject({ method: 'POST', url: `/roi-requests/${r.id}/transitions`, headers: s.headers, payload: { to: 'in_review', reason: 'reopen' } })
    t.equal(after.statusCode, 409)
    t.same(after.json().allowed, [])
  })

  await t.test('164.524(b)(2): only one extension, of at most 30 days, before the original due date', async (t) => {
    const s = await roiSetup(ctx)
    const r = await createRequest(app, s, { receivedOn: daysAgo(10) })
    const tooLong = await app.inject({ method: 'POST', url: `/roi-requests/${r.id}/extension`, headers: s.headers, payload: { days: 31, reason: 'Off-site storage', requesterNotifiedOn: today() } })
    t.equal(tooLong.statusCode, 400)
    const noticeAfterDue = await app.inject({
      method: 'POST', url: `/roi-requests/${r.id}/extension`, headers: s.headers, payload: { days: 30, reason: 'Off-site storage', requesterNotifiedOn: addDays(r.dueOn, 1) },
    })
    t.equal(noticeAfterDue.statusCode, 422)
    const ok = await app.inject({ method: 'POST', url: `/roi-requests/${r.id}/extension`, headers: s.headers, payload: { days: 30, reason: 'Off-site storage', requesterNotifiedOn: today() } })
    t.equal(ok.statusCode, 200, ok.body)
    t.match(ok.json(), { dueOn: r.dueOn, effectiveDueOn: addDays(r.dueOn, 30), extension: { extendedDueOn: addDays(r.dueOn, 30), reason: 'Off-site storage', requesterNotifiedOn: today() } })
    const second = await app.inject({ method: 'POST', url: `/roi-requests/${r.id}/extension`, headers: s.headers, payload: { days: 5, reason: 'Again', requesterNotifiedOn: today() } })
    t.equal(second.statusCode, 409)
    t.equal(second.json().type, 'urn:patient-access:problem:already-extended')
    t.match(await auditEventsFor(db, { verb: 'roi_request.extend', resourceId: r.id }), [{ patientId: s.patient.id, facilityId: s.facility.id, detail: { days: 30 } }])

    const late = await createRequest(app, s, { receivedOn: daysAgo(31) })
    const lateRes = await app.inject({ method: 'POST', url: `/roi-requests/${late.id}/extension`, headers: s.headers, payload: { days: 10, reason: 'Backlog', requesterNotifiedOn: late.dueOn } })
    t.equal(lateRes.statusCode, 409)
    t.equal(lateRes.json().type, 'urn:patient-access:problem:extension-too-late')
    const row = await db.kysely.selectFrom('roiRequest').select('extendedDueOn').where('id', '=', late.id).executeTakeFirstOrThrow()
    t.equal(row.extendedDueOn, null)
  })

  await t.test('164.524(b)(2): the database refuses a second or longer extension whatever the caller', async (t) => {
    const s = await roiSetup(ctx)
    const r = await createRequest(app, s, { receivedOn: daysAgo(1) })
    await t.rejects(db.kysely.updateTable('roiRequest').set({ extendedDueOn: addDays(r.dueOn, 31), extensionReason: 'x', extensionNotifiedOn: today() }).where('id', '=', r.id).execute())
  })

  await t.test('work queue: dueWithinDays and overdue consider open requests by their (extended) due date', async (t) => {
    const s = await roiSetup(ctx, { roiDeadlineDays: 10 })
    const overdue = await createRequest(app, s, { receivedOn: daysAgo(12) }) // due 2 days ago
    const dueSoon = await createRequest(app, s, { receivedOn: daysAgo(5) }) // due in 5 days
    const later = await createRequest(app, s, { receivedOn: today() }) // due in 10 days
    const closed = await createRequest(app, s, { receivedOn: daysAgo(12) })
    await moveTo(app, s, closed.id, ['withdrawn'])
    const extended = await createRequest(app, s, { receivedOn: daysAgo(9) }) // due tomorrow, extended by 20
    const ext = await app.inject({ method: 'POST', url: `/roi-requests/${extended.id}/extension`, headers: s.headers, payload: { days: 20, reason: 'Storage', requesterNotifiedOn: today() } })
    t.equal(ext.statusCode, 200)

    const ids = async (query: string) => {
      const res = await app.inject({ url: `/roi-requests?facilityId=${s.facility.id}&${query}`, headers: s.headers })
      t.equal(res.statusCode, 200, res.body)
      return res.json().items.map((i: { id: string }) => i.id)
    }
    t.same(await ids('overdue=true'), [overdue.id])
    t.same(await ids('dueWithinDays=7'), [dueSoon.id])
    t.same(await ids('dueWithinDays=10'), [dueSoon.id, later.id])
    t.same(await ids('status=withdrawn'), [closed.id])
    t.same(await ids(`patientId=${s.patient.id}&requesterType=attorney&overdue=false`), [dueSoon.id, later.id, extended.id])
    t.same(await ids('requesterType=patient'), [])
    const searches = await auditEventsFor(db, { verb: 'roi_request.search' })
    t.ok(searches.some((e) => JSON.stringify(e.detail?.filters) === JSON.stringify(['facilityId', 'overdue'])), 'the search is audited with its filter names')
  })

  await t.test('the work queue pages with an opaque cursor, without duplicates', async (t) => {
    const s = await roiSetup(ctx)
    for (let i = 0; i < 5; i++) await createRequest(app, s, { receivedOn: daysAgo(i) })
    const seen: string[] = []
    let url = `/roi-requests?facilityId=${s.facility.id}&limit=2`
    for (let i = 0; i < 5; i++) {
      const res = await app.inject({ url, headers: s.headers })
      seen.push(...res.json().items.map((r: { id: string }) => r.id))
      if (!res.json().next) break
      url = `/roi-requests?facilityId=${s.facility.id}&limit=2&cursor=${res.json().next}`
    }
    t.equal(seen.length, 5)
    t.equal(new Set(seen).size, 5)
  })

  await t.test('no PHI in the logs: requester, purpose and patient names never appear while a request is created, listed and read', async (t) => {
    const s = await roiSetup(ctx)
    const r = await createRequest(app, s, { requester: { type: 'attorney', name: 'Zebediah Quuxworth', address: '77 Secret Lane' }, purpose: 'Custody dispute Quuxworth' })
    await app.inject({ url: `/roi-requests/${r.id}`, headers: s.headers })
    await app.inject({ url: `/roi-requests?patientId=${s.patient.id}`, headers: s.headers })
    await app.inject({ method: 'POST', url: `/roi-requests/${r.id}/transitions`, headers: s.headers, payload: { to: 'in_review', reason: 'Quuxworth asked twice' } })
    t.equal((await app.inject({ url: `/roi-requests/${r.id}/status-history`, headers: s.headers })).json()[1].reason, 'Quuxworth asked twice')
    const logs = ctx.logs()
    t.ok(logs.length > 0)
    for (const phi of ['Quuxworth', '77 Secret Lane', s.patient.familyName]) t.notOk(logs.includes(phi), `${phi} is not logged`)
  })

  await t.test('concurrent extensions of one request: exactly one wins', { skip: !usingPostgres() && 'PGlite is one connection: transactions never overlap there' }, async (t) => {
    const s = await roiSetup(ctx)
    const r = await createRequest(app, s, { receivedOn: daysAgo(2) })
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) =>
      app.inject({ method: 'POST', url: `/roi-requests/${r.id}/extension`, headers: s.headers, payload: { days: 10 + i, reason: 'Storage', requesterNotifiedOn: today() } })))
    t.same(results.map((x) => x.statusCode).sort(), [200, 409, 409, 409, 409, 409, 409, 409])
  })
})
