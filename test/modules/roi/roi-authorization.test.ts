import t from 'tap'
import { createHash } from 'node:crypto'
import { buildTestApp } from '../../helpers/app.ts'
import { auditEventsFor } from '../../helpers/factories.ts'
import { createRequest, daysAgo, JPEG, moveTo, PDF, PNG, roiSetup, TIFF, today, VALID_AUTHORIZATION } from './roi-helpers.ts'

t.test('authorizations (164.508) and attachments', async (t) => {
  const ctx = await buildTestApp(t, { ROI_ATTACHMENT_MAX_BYTES: '4096' })
  const { app, db } = ctx

  const upload = (s: Awaited<ReturnType<typeof roiSetup>>, requestId: string, body: Buffer, contentType: string, kind = 'authorization_form') =>
    app.inject({ method: 'POST', url: `/roi-requests/${requestId}/attachments?kind=${kind}&pageCount=1`, headers: { ...s.headers, 'content-type': contentType }, payload: body })

  await t.test('164.508(c): the request cannot move to in_progress while an element is missing, and the response names each one', async (t) => {
    const s = await roiSetup(ctx)
    const r = await createRequest(app, s, { legalBasis: 'authorization' })
    await moveTo(app, s, r.id, ['in_review', 'pending_authorization'])

    const none = await app.inject({ method: 'POST', url: `/roi-requests/${r.id}/transitions`, headers: s.headers, payload: { to: 'in_progress', reason: 'start' } })
    t.equal(none.statusCode, 422)
    t.match(none.json(), { type: 'urn:patient-access:problem:authorization-invalid', missing: ['authorization'] })

    const incomplete = await app.inject({
      method: 'POST', url: `/roi-requests/${r.id}/authorizations`, headers: s.headers,
      payload: { descriptionOfInformation: 'Clinical notes 2025', recipient: 'Lee & Partners LLP', signedBy: 'Sam Example', signedByRepresentative: true, statements: { rightToRevoke: true, conditioning: false, redisclosure: false } },
    })
    t.equal(incomplete.statusCode, 201, incomplete.body)
    const expected = ['disclosingParty', 'purpose', 'expiration', 'signedOn', 'representativeAuthority', 'statements.conditioning', 'statements.redisclosure']
    t.same(incomplete.json().problems, expected)
    const refused = await app.inject({ method: 'POST', url: `/roi-requests/${r.id}/transitions`, headers: s.headers, payload: { to: 'in_progress', reason: 'start' } })
    t.equal(refused.statusCode, 422)
    t.same(refused.json().missing, expected)
    t.match(refused.json().detail, /disclosingParty, purpose, expiration/)
    const row = await db.kysely.selectFrom('roiRequest').select('status').where('id', '=', r.id).executeTakeFirstOrThrow()
    t.equal(row.status, 'pending_authorization')

    const complete = await app.inject({
      method: 'POST', url: `/roi-requests/${r.id}/authorizations`, headers: s.headers,
      payload: { ...VALID_AUTHORIZATION, signedByRepresentative: true, representativeAuthority: 'Health care power of attorney dated 2024-03-01' },
    })
    t.equal(complete.statusCode, 201)
    t.same(complete.json().problems, [])
    const ok = await app.inject({ method: 'POST', url: `/roi-requests/${r.id}/transitions`, headers: s.headers, payload: { to: 'in_progress', reason: 'Authorization complete' } })
    t.equal(ok.statusCode, 200, ok.body)
    t.match(await auditEventsFor(db, { verb: 'roi_authorization.create', resourceId: r.id }), [
      { patientId: s.patient.id, facilityId: s.facility.id }, { patientId: s.patient.id, facilityId: s.facility.id },
    ])
  })

  await t.test('164.508(b)(2): an expired authorization is refused and named', async (t) => {
    const s = await roiSetup(ctx)
    const r = await createRequest(app, s, { legalBasis: 'authorization' })
    await moveTo(app, s, r.id, ['in_review'])
    await app.inject({ method: 'POST', url: `/roi-requests/${r.id}/authorizations`, headers: s.headers, payload: { ...VALID_AUTHORIZATION, expiresOn: daysAgo(1) } })
    const res = await app.inject({ method: 'POST', url: `/roi-requests/${r.id}/transitions`, headers: s.headers, payload: { to: 'in_progress', reason: 'start' } })
    t.equal(res.statusCode, 422)
    t.same(res.json().missing, ['expired'])
    // An expiration event instead of a date is a valid expiration element.
    await app.inject({ method: 'POST', url: `/roi-requests/${r.id}/authorizations`, headers: s.headers, payload: { ...VALID_AUTHORIZATION, expiresOn: null, expirationEvent: 'End of the litigation' } })
    const ok = await app.inject({ method: 'POST', url: `/roi-requests/${r.id}/transitions`, headers: s.headers, payload: { to: 'in_progress', reason: 'start' } })
    t.equal(ok.statusCode, 200)
  })

  await t.test('164.508(b)(5): revocation is recorded and a revoked authorization stops the request', async (t) => {
    const s = await roiSetup(ctx)
    const r = await createRequest(app, s, { legalBasis: 'authorization' })
    await moveTo(app, s, r.id, ['in_review'])
    const auth = await app.inject({ method: 'POST', url: `/roi-requests/${r.id}/authorizations`, headers: s.headers, payload: VALID_AUTHORIZATION })
    const revoked = await app.inject({
      method: 'POST', url: `/roi-requests/${r.id}/authorizations/${auth.json().id}/revocation`, headers: s.headers, payload: { revokedOn: today(), receivedOn: today() },
    })
    t.equal(revoked.statusCode, 200, revoked.body)
    t.match(revoked.json(), { revokedOn: today(), revocationReceivedOn: today(), problems: ['revoked'] })
    const again = await app.inject({
      method: 'POST', url: `/roi-requests/${r.id}/authorizations/${auth.json().id}/revocation`, headers: s.headers, payload: { revokedOn: today(), receivedOn: today() },
    })
    t.equal(again.statusCode, 409)
    const res = await app.inject({ method: 'POST', url: `/roi-requests/${r.id}/transitions`, headers: s.headers, payload: { to: 'in_progress', reason: 'start' } })
    t.equal(res.statusCode, 422)
    t.same(res.json().missing, ['revoked'])
    t.match(await auditEventsFor(db, { verb: 'roi_authorization.revoke', resourceId: r.id }), [{ patientId: s.patient.id, detail: { authorizationId: auth.json().id } }])
  })

  await t.test('only requests under an authorization carry one', async (t) => {
    const s = await roiSetup(ctx)
    const r = await createRequest(app, s, { legalBasis: 'subpoena' })
    const res = await app.inject({ method: 'POST', url: `/roi-requests/${r.id}/authorizations`, headers: s.headers, payload: VALID_AUTHORIZATION })
    t.equal(res.statusCode, 409)
  })

  await t.test('attachments: PDF, TIFF, PNG and JPEG are detected by their bytes and stored with their SHA-256', async (t) => {
    const s = await roiSetup(ctx)
    const r = await createRequest(app, s, { legalBasis: 'authorization' })
    // Declared types are ignored: a PNG sent as application/pdf is stored as image/png.
    const cases: [Buffer, string, string][] = [[PDF, 'application/octet-stream', 'application/pdf'], [PNG, 'application/pdf', 'image/png'], [JPEG, 'image/jpeg', 'image/jpeg'], [TIFF, 'image/tiff', 'image/tiff']]
    for (const [bytes, declared, detected] of cases) {
      const res = await upload(s, r.id, bytes, declared)
      t.equal(res.statusCode, 201, res.body)
      t.match(res.json(), { requestId: r.id, kind: 'authorization_form', mediaType: detected, sizeBytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex'), pageCount: 1 })
    }
    const list = await app.inject({ url: `/roi-requests/${r.id}/attachments`, headers: s.headers })
    t.equal(list.json().length, 4)
    const pdf = list.json()[0]
    const download = await app.inject({ url: `/roi-requests/${r.id}/attachments/${pdf.id}/content`, headers: s.headers })
    t.equal(download.statusCode, 200)
    t.equal(download.headers['content-type'], 'application/pdf')
    t.same(download.rawPayload, PDF)
    t.equal(download.headers['repr-digest'], `sha-256=:${createHash('sha256').update(PDF).digest('base64')}:`)
    t.match(await auditEventsFor(db, { verb: 'roi_attachment.download', resourceId: pdf.id }), [{ patientId: s.patient.id, facilityId: s.facility.id }])
    t.equal((await auditEventsFor(db, { verb: 'roi_attachment.create', resourceId: r.id })).length, 4)

    const auth = await app.inject({ method: 'POST', url: `/roi-requests/${r.id}/authorizations`, headers: s.headers, payload: { ...VALID_AUTHORIZATION, formAttachmentId: pdf.id } })
    t.equal(auth.statusCode, 201)
    t.equal(auth.json().formAttachmentId, pdf.id)
  })

  await t.test('attachments: content that is not PDF/TIFF/PNG/JPEG is 415 whatever its declared type, and nothing is stored', async (t) => {
    const s = await roiSetup(ctx)
    const r = await createRequest(app, s)
    const exe = await upload(s, r.id, Buffer.from('MZ\x90\x00 this is not a document'), 'application/pdf')
    t.equal(exe.statusCode, 415)
    t.equal(exe.headers['content-type'], 'application/problem+json; charset=utf-8')
    const json = await app.inject({ method: 'POST', url: `/roi-requests/${r.id}/attachments?kind=other`, headers: s.headers, payload: { a: 1 } })
    t.equal(json.statusCode, 400)
    const rows = await db.kysely.selectFrom('roiAttachment').select('id').where('requestId', '=', r.id).execute()
    t.equal(rows.length, 0)
  })

  await t.test('attachments: a body over ROI_ATTACHMENT_MAX_BYTES is 413', async (t) => {
    const s = await roiSetup(ctx)
    const r = await createRequest(app, s)
    const big = Buffer.concat([PDF, Buffer.alloc(5000, 0x20)])
    const res = await upload(s, r.id, big, 'application/pdf')
    t.equal(res.statusCode, 413)
    t.equal(res.json().type, 'urn:patient-access:problem:body-too-large')
  })

  await t.test('attachments of another facility\'s request are 404', async (t) => {
    const a = await roiSetup(ctx)
    const b = await roiSetup(ctx)
    const r = await createRequest(app, a)
    const up = await upload(a, r.id, PDF, 'application/pdf', 'legal_process')
    t.equal(up.statusCode, 201)
    const other = await app.inject({ url: `/roi-requests/${r.id}/attachments/${up.json().id}/content`, headers: b.headers })
    t.equal(other.statusCode, 404)
    const otherUpload = await upload(b, r.id, PDF, 'application/pdf')
    t.equal(otherUpload.statusCode, 404)
  })
})
