import t from 'tap'
import { createHash } from 'node:crypto'
import { buildTestApp } from '../../helpers/app.ts'
import { usingPostgres } from '../../helpers/db.ts'
import { auditEventsFor, createPatient } from '../../helpers/factories.ts'
import { createRequest, daysAgo, moveTo, PDF, READY, roiSetup, today, VALID_AUTHORIZATION, type RoiSetup } from './roi-helpers.ts'

const COMPLAINT = 'You may complain to our Privacy Officer or to the Secretary of Health and Human Services.'
const REVIEW = 'You may ask that a licensed health care professional not involved in this decision review it.'

t.test('denials, releases and the accounting of disclosures', async (t) => {
  const ctx = await buildTestApp(t)
  const { app, db } = ctx

  const individual = (s: RoiSetup, overrides: Record<string, unknown> = {}) =>
    createRequest(app, s, {
      legalBasis: 'individual_access', requester: { type: 'patient', name: 'Pat Example', address: '1 Main St' }, format: 'paper', deliveryMethod: 'mail',
      recordsRequested: { types: ['clinical_notes', 'lab_results', 'psychotherapy_notes'] }, ...overrides,
    })
  const deny = (s: RoiSetup, id: string, payload: Record<string, unknown>) =>
    app.inject({ method: 'POST', url: `/roi-requests/${id}/denial`, headers: s.headers, payload: { explanation: 'See grounds', complaintRightsText: COMPLAINT, sentOn: today(), ...payload } })
  const release = (s: RoiSetup, id: string, payload: Record<string, unknown>) =>
    app.inject({ method: 'POST', url: `/roi-requests/${id}/release`, headers: s.headers, payload })
  const accounting = (s: RoiSetup, query = '') => app.inject({ url: `/patients/${s.patient.id}/disclosures${query}`, headers: s.headers })

  await t.test('164.524(d)(2): a denial states its basis, the complaint rights and the date sent; a full denial ends the request', async (t) => {
    const s = await roiSetup(ctx)
    const r = await individual(s)
    const res = await deny(s, r.id, { grounds: ['correctional_institution'], explanation: 'Copy would jeopardise safety at the institution' })
    t.equal(res.statusCode, 201, res.body)
    t.match(res.json(), { scope: 'full', grounds: ['correctional_institution'], reviewable: false, deniedRecordTypes: [], complaintRightsText: COMPLAINT, sentOn: today(), reviewRightsText: null })
    const req = await app.inject({ url: `/roi-requests/${r.id}`, headers: s.headers })
    t.equal(req.json().status, 'denied')
    const read = await app.inject({ url: `/roi-requests/${r.id}/denial`, headers: s.headers })
    t.same(read.json(), res.json())
    t.match(await auditEventsFor(db, { verb: 'roi_request.deny', resourceId: r.id }), [{ patientId: s.patient.id, facilityId: s.facility.id, detail: { scope: 'full', reviewable: false } }])
    const noComplaint = await app.inject({ method: 'POST', url: `/roi-requests/${(await individual(s)).id}/denial`, headers: s.headers, payload: { grounds: ['privacy_act'], explanation: 'x', sentOn: today() } })
    t.equal(noComplaint.statusCode, 400)
  })

  await t.test('164.524(a)(3), (d)(2)(ii): a denial on reviewable grounds must state the right to review', async (t) => {
    const s = await roiSetup(ctx)
    const r = await individual(s)
    const missing = await deny(s, r.id, { grounds: ['endangerment'] })
    t.equal(missing.statusCode, 422)
    t.equal(missing.json().type, 'urn:patient-access:problem:review-rights-required')
    const ok = await deny(s, r.id, { grounds: ['endangerment'], reviewRightsText: REVIEW })
    t.equal(ok.statusCode, 201)
    t.match(ok.json(), { reviewable: true, reviewRightsText: REVIEW })
  })

  await t.test('164.524(a): access grounds apply only to access requests, and other grounds only to other requests', async (t) => {
    const s = await roiSetup(ctx)
    const access = await individual(s)
    t.equal((await deny(s, access.id, { grounds: ['authorization_invalid'] })).statusCode, 422)
    const subpoena = await createRequest(app, s)
    t.equal((await deny(s, subpoena.id, { grounds: ['endangerment'], reviewRightsText: REVIEW })).statusCode, 422)
    t.equal((await deny(s, subpoena.id, { grounds: ['legal_process_insufficient'] })).statusCode, 201)
  })

  await t.test('164.524(d)(1): a partial denial names the denied records and the rest is released', async (t) => {
    const s = await roiSetup(ctx)
    const r = await individual(s)
    await moveTo(app, s, r.id, ['in_review'])
    const all = await deny(s, r.id, { grounds: ['psychotherapy_notes'], deniedRecordTypes: ['clinical_notes', 'lab_results', 'psychotherapy_notes'] })
    t.equal(all.statusCode, 422, 'a partial denial of everything is refused')
    const notRequested = await deny(s, r.id, { grounds: ['psychotherapy_notes'], deniedRecordTypes: ['billing'] })
    t.equal(notRequested.statusCode, 422)
    const partial = await deny(s, r.id, { grounds: ['psychotherapy_notes'], deniedRecordTypes: ['psychotherapy_notes'], explanation: 'Psychotherapy notes are excluded from access' })
    t.equal(partial.statusCode, 201, partial.body)
    t.match(partial.json(), { scope: 'partial', deniedRecordTypes: ['psychotherapy_notes'] })
    const after = await app.inject({ url: `/roi-requests/${r.id}`, headers: s.headers })
    t.equal(after.json().status, 'in_review', 'the request goes on')
    await moveTo(app, s, r.id, ['in_progress', 'ready_for_release'])
    const denied = await release(s, r.id, { documents: [{ recordType: 'psychotherapy_notes', description: 'Therapy notes', pages: 3 }] })
    t.equal(denied.statusCode, 422)
    t.match(denied.json().errors, [{ pointer: '/documents/0/recordType', detail: 'denied' }])
    const ok = await release(s, r.id, { documents: [{ recordType: 'clinical_notes', description: 'Progress notes', pages: 10 }, { recordType: 'lab_results', description: 'Lab results', pages: 2 }] })
    t.equal(ok.statusCode, 201, ok.body)
    t.equal(ok.json().totalPages, 12)
  })

  await t.test('release records documents, pages, checksums, recipient, method, time and person, and writes a disclosure', async (t) => {
    const s = await roiSetup(ctx)
    const r = await createRequest(app, s, { legalBasis: 'court_order', purpose: 'Court order, case 26-CV-1234' })
    const up = await app.inject({ method: 'POST', url: `/roi-requests/${r.id}/attachments?kind=released_document&pageCount=3`, headers: { ...s.headers, 'content-type': 'application/pdf' }, payload: PDF })
    t.equal(up.statusCode, 201)
    const early = await release(s, r.id, { documents: [{ recordType: 'clinical_notes', description: 'Notes', pages: 3, attachmentId: up.json().id }] })
    t.equal(early.statusCode, 409, 'only from ready_for_release')
    t.match(early.json(), { type: 'urn:patient-access:problem:invalid-transition' })
    await moveTo(app, s, r.id, READY)
    const wrongSum = await release(s, r.id, { documents: [{ recordType: 'clinical_notes', description: 'Notes', pages: 3, attachmentId: up.json().id, sha256: '0'.repeat(64) }] })
    t.equal(wrongSum.statusCode, 422)
    const notRequested = await release(s, r.id, { documents: [{ recordType: 'billing', description: 'Bills', pages: 1 }] })
    t.equal(notRequested.statusCode, 422)
    const external = 'a'.repeat(64)
    const ok = await release(s, r.id, {
      documents: [
        { recordType: 'clinical_notes', description: 'Progress notes 2025', pages: 3, attachmentId: up.json().id },
        { recordType: 'imaging_reports', description: 'CT report', pages: 1, sha256: external },
      ],
    })
    t.equal(ok.statusCode, 201, ok.body)
    const body = ok.json()
    t.match(body, {
      requestId: r.id, totalPages: 4, recipientName: 'Jordan Lee', recipientAddress: '12 Court St, Albany NY 12207', deliveryMethod: 'secure_download', releasedBy: 'user-roi_specialist',
      documents: [{ attachmentId: up.json().id, sha256: createHash('sha256').update(PDF).digest('hex'), pages: 3 }, { attachmentId: null, sha256: external }],
    })
    t.equal((await app.inject({ url: `/roi-requests/${r.id}`, headers: s.headers })).json().status, 'released')
    const disclosure = await db.kysely.selectFrom('disclosure').selectAll().where('id', '=', body.disclosureId).executeTakeFirstOrThrow()
    t.match(disclosure, { patientId: s.patient.id, facilityId: s.facility.id, requestId: r.id, releaseId: body.id, legalBasis: 'court_order', accountable: true, recipientName: 'Jordan Lee', purpose: 'Court order, case 26-CV-1234' })
    t.match(disclosure.description, /Progress notes 2025 \(3 p\.\); CT report \(1 p\.\)/)
    t.match(await auditEventsFor(db, { verb: 'roi_request.release', resourceId: r.id }), [{ action: 'execute', patientId: s.patient.id, facilityId: s.facility.id, detail: { disclosureId: body.disclosureId } }])
    const read = await app.inject({ url: `/roi-requests/${r.id}/release`, headers: s.headers })
    t.same(read.json(), body)
    const twice = await release(s, r.id, { documents: [{ recordType: 'clinical_notes', description: 'Notes', pages: 1 }] })
    t.equal(twice.statusCode, 409)
  })

  await t.test('concurrent releases of one request: exactly one disclosure is written', { skip: !usingPostgres() && 'PGlite is one connection: transactions never overlap there' }, async (t) => {
    const s = await roiSetup(ctx)
    const r = await createRequest(app, s)
    await moveTo(app, s, r.id, READY)
    const results = await Promise.all(Array.from({ length: 6 }, () =>
      release(s, r.id, { documents: [{ recordType: 'clinical_notes', description: 'Notes', pages: 1 }] })))
    t.same(results.map((x) => x.statusCode).sort(), [201, 409, 409, 409, 409, 409])
    t.equal((await db.kysely.selectFrom('disclosure').select('id').where('requestId', '=', r.id).execute()).length, 1)
  })

  await t.test('164.508(b)(5): releases on or after the revocation date are refused', async (t) => {
    const s = await roiSetup(ctx)
    const r = await createRequest(app, s, { legalBasis: 'authorization' })
    await moveTo(app, s, r.id, ['in_review'])
    const auth = await app.inject({ method: 'POST', url: `/roi-requests/${r.id}/authorizations`, headers: s.headers, payload: VALID_AUTHORIZATION })
    await moveTo(app, s, r.id, ['in_progress', 'ready_for_release'])
    await app.inject({ method: 'POST', url: `/roi-requests/${r.id}/authorizations/${auth.json().id}/revocation`, headers: s.headers, payload: { revokedOn: today(), receivedOn: today() } })
    const docs = [{ recordType: 'clinical_notes', description: 'Notes', pages: 2 }]
    const refused = await release(s, r.id, { documents: docs })
    t.equal(refused.statusCode, 409)
    t.equal(refused.json().type, 'urn:patient-access:problem:authorization-revoked')
    t.equal((await db.kysely.selectFrom('roiRelease').select('id').where('requestId', '=', r.id).execute()).length, 0)
    // A release made (and recorded late) before the revocation date stands.
    const before = await release(s, r.id, { documents: docs, releasedAt: `${daysAgo(2)}T15:00:00Z` })
    t.equal(before.statusCode, 201, before.body)
  })

  await t.test('164.528: the accounting lists only accountable disclosures, each with date, recipient and address, description, purpose', async (t) => {
    const s = await roiSetup(ctx)
    // Under an authorization: exempt.
    const authReq = await createRequest(app, s, { legalBasis: 'authorization' })
    await moveTo(app, s, authReq.id, ['in_review'])
    await app.inject({ method: 'POST', url: `/roi-requests/${authReq.id}/authorizations`, headers: s.headers, payload: VALID_AUTHORIZATION })
    await moveTo(app, s, authReq.id, ['in_progress', 'ready_for_release'])
    t.equal((await release(s, authReq.id, { documents: [{ recordType: 'clinical_notes', description: 'Notes', pages: 1 }] })).statusCode, 201)
    // To the patient: exempt.
    const own = await individual(s)
    await moveTo(app, s, own.id, READY)
    t.equal((await release(s, own.id, { documents: [{ recordType: 'lab_results', description: 'Labs', pages: 1 }] })).statusCode, 201)
    // A subpoena: accountable.
    const subpoena = await createRequest(app, s, { purpose: 'Subpoena duces tecum' })
    await moveTo(app, s, subpoena.id, READY)
    const sub = await release(s, subpoena.id, { documents: [{ recordType: 'clinical_notes', description: 'Progress notes', pages: 5 }] })
    t.equal(sub.statusCode, 201)
    // Outside the workflow: a public health report (accountable) and a TPO disclosure (exempt).
    const ph = await app.inject({
      method: 'POST', url: `/patients/${s.patient.id}/disclosures`, headers: s.headers,
      payload: { facilityId: s.facility.id, legalBasis: 'public_health', disclosedAt: `${daysAgo(3)}T14:00:00Z`, recipient: { name: 'County Department of Health', address: '1 Civic Plaza' }, description: 'Reportable condition with lab result', purpose: 'Communicable disease reporting' },
    })
    t.equal(ph.statusCode, 201, ph.body)
    t.match(ph.json(), { accountable: true, legalBasis: 'public_health', recipient: { name: 'County Department of Health', address: '1 Civic Plaza' } })
    t.match(await auditEventsFor(db, { verb: 'disclosure.create', resourceId: ph.json().id }), [{ patientId: s.patient.id, facilityId: s.facility.id }])
    const tpo = await app.inject({
      method: 'POST', url: `/patients/${s.patient.id}/disclosures`, headers: s.headers,
      payload: { facilityId: s.facility.id, legalBasis: 'tpo', disclosedAt: `${daysAgo(1)}T14:00:00Z`, recipient: { name: 'Payer' }, description: 'Claim attachment', purpose: 'Payment' },
    })
    t.equal(tpo.json().accountable, false)
    // Seven years ago: outside the default six-year period.
    await db.kysely.insertInto('disclosure').values({
      organizationId: s.organization.id, facilityId: s.facility.id, patientId: s.patient.id, legalBasis: 'law_enforcement', disclosedAt: `${daysAgo(7 * 366)}T10:00:00Z`,
      recipientName: 'Police', description: 'Old', purpose: 'Old', recordedBy: 'seed',
    }).execute()

    const res = await accounting(s)
    t.equal(res.statusCode, 200, res.body)
    const items = res.json().items
    t.same(items.map((d: { legalBasis: string }) => d.legalBasis), ['public_health', 'subpoena'])
    t.match(items[1], { recipient: { name: 'Jordan Lee', address: '12 Court St, Albany NY 12207' }, description: 'Progress notes (5 p.)', purpose: 'Subpoena duces tecum', requestId: subpoena.id })
    t.ok(items.every((d: { disclosedAt: string }) => typeof d.disclosedAt === 'string'))
    t.match(await auditEventsFor(db, { verb: 'disclosure.accounting' }), [{ patientId: s.patient.id, action: 'read' }])

    const old = await accounting(s, `?from=${daysAgo(8 * 366)}&to=${daysAgo(5 * 366)}`)
    t.same(old.json().items.map((d: { legalBasis: string }) => d.legalBasis), ['law_enforcement'])
    const bad = await accounting(s, `?from=${today()}&to=${daysAgo(1)}`)
    t.equal(bad.statusCode, 400)
  })

  await t.test('disclosures: a future date is refused and another facility\'s patient is 404', async (t) => {
    const a = await roiSetup(ctx)
    const b = await roiSetup(ctx)
    const future = await app.inject({
      method: 'POST', url: `/patients/${a.patient.id}/disclosures`, headers: a.headers,
      payload: { facilityId: a.facility.id, legalBasis: 'public_health', disclosedAt: '2099-01-01T00:00:00Z', recipient: { name: 'Health dept' }, description: 'x', purpose: 'y' },
    })
    t.equal(future.statusCode, 422)
    t.equal((await app.inject({ url: `/patients/${a.patient.id}/disclosures`, headers: b.headers })).statusCode, 404)
    const write = await app.inject({
      method: 'POST', url: `/patients/${a.patient.id}/disclosures`, headers: b.headers,
      payload: { facilityId: b.facility.id, legalBasis: 'public_health', disclosedAt: '2026-01-01T00:00:00Z', recipient: { name: 'Health dept' }, description: 'x', purpose: 'y' },
    })
    t.equal(write.statusCode, 404)
    // A patient shared with b's facility is visible there, but a's disclosures are not.
    const shared = await createPatient(db, a.facility.id)
    await db.kysely.insertInto('patientFacility').values({ patientId: shared.id, facilityId: b.facility.id }).execute()
    await app.inject({
      method: 'POST', url: `/patients/${shared.id}/disclosures`, headers: a.headers,
      payload: { facilityId: a.facility.id, legalBasis: 'public_health', disclosedAt: '2026-01-01T00:00:00Z', recipient: { name: 'Health dept' }, description: 'x', purpose: 'y' },
    })
    const seenByB = await app.inject({ url: `/patients/${shared.id}/disclosures`, headers: b.headers })
    t.equal(seenByB.statusCode, 200)
    t.same(seenByB.json().items, [])
  })
})
