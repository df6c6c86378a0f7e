import t from 'tap'
import { bearer, buildTestApp } from '../../helpers/app.ts'
import { auditEventsFor } from '../../helpers/factories.ts'
import { createRequest, moveTo, READY, roiSetup, type RoiSetup } from './roi-helpers.ts'

t.test('ROI fees (164.524(c)(4); state schedules for third parties)', async (t) => {
  const ctx = await buildTestApp(t)
  const { app, db } = ctx
  const platform = bearer(await ctx.token('roi_specialist', ['*'], { sub: 'platform-roi' }))

  const individual = (s: RoiSetup, format = 'electronic') =>
    createRequest(app, s, { legalBasis: 'individual_access', requester: { type: 'patient', name: 'Pat Example' }, format, deliveryMethod: format === 'electronic' ? 'portal' : 'mail' })
  const invoice = (s: RoiSetup, id: string, payload: Record<string, unknown>) =>
    app.inject({ method: 'POST', url: `/roi-requests/${id}/invoice`, headers: s.headers, payload })
  const withState = async (s: RoiSetup, stateCode: string) => {
    await db.kysely.updateTable('facility').set({ stateCode }).where('id', '=', s.facility.id).execute()
  }

  await t.test('164.524(c)(4): individual access is charged cost-based labour, supplies and postage only', async (t) => {
    const s = await roiSetup(ctx)
    const r = await individual(s, 'paper')
    const res = await invoice(s, r.id, { laborCents: 1200, suppliesCents: 300, postageCents: 150 })
    t.equal(res.statusCode, 201, res.body)
    t.match(res.json(), { method: 'cost_based', laborCents: 1200, suppliesCents: 300, postageCents: 150, totalCents: 1650, balanceCents: 1650, status: 'open' })
    t.match(await auditEventsFor(db, { verb: 'roi_invoice.create', resourceId: r.id }), [{ patientId: s.patient.id, facilityId: s.facility.id, detail: { totalCents: 1650 } }])
    const second = await invoice(s, r.id, { laborCents: 1 })
    t.equal(second.statusCode, 409)
  })

  await t.test('164.524(c)(4): no search or retrieval fee for individual access', async (t) => {
    const s = await roiSetup(ctx)
    const r = await individual(s)
    const res = await invoice(s, r.id, { laborCents: 500, searchRetrievalCents: 2500 })
    t.equal(res.statusCode, 422)
    t.equal(res.json().type, 'urn:patient-access:problem:search-retrieval-fee-not-allowed')
    t.notOk(await db.kysely.selectFrom('roiInvoice').select('requestId').where('requestId', '=', r.id).executeTakeFirst())
  })

  await t.test('164.524(c)(4): the $6.50 flat fee is for electronic copies only and replaces itemised costs', async (t) => {
    const s = await roiSetup(ctx)
    const paper = await individual(s, 'paper')
    t.equal((await invoice(s, paper.id, { flatElectronic: true })).statusCode, 422)
    const electronic = await individual(s)
    t.equal((await invoice(s, electronic.id, { flatElectronic: true, laborCents: 100 })).statusCode, 422)
    const ok = await invoice(s, electronic.id, { flatElectronic: true })
    t.equal(ok.statusCode, 201)
    t.match(ok.json(), { method: 'flat_electronic', totalCents: 650 })
  })

  await t.test('third-party requests use the state fee schedule (base + per page, capped); a facility override wins', async (t) => {
    const s = await roiSetup(ctx)
    await withState(s, 'TX')
    const noSchedule = await createRequest(app, s)
    const missing = await invoice(s, noSchedule.id, { pages: 10 })
    t.equal(missing.statusCode, 422)
    t.equal(missing.json().type, 'urn:patient-access:problem:no-fee-schedule')

    const forbidden = await app.inject({ method: 'PUT', url: '/roi-fee-schedules/states/TX', headers: s.headers, payload: { baseFeeCents: 2500, perPageCents: 50, capCents: 5000, paymentRequiredBeforeRelease: false } })
    t.equal(forbidden.statusCode, 403, 'a facility-scoped token cannot change a state schedule')
    const put = await app.inject({ method: 'PUT', url: '/roi-fee-schedules/states/TX', headers: platform, payload: { baseFeeCents: 2500, perPageCents: 50, capCents: 5000, paymentRequiredBeforeRelease: false } })
    t.equal(put.statusCode, 201, put.body)
    const again = await app.inject({ method: 'PUT', url: '/roi-fee-schedules/states/TX', headers: platform, payload: { baseFeeCents: 2500, perPageCents: 50, capCents: 5000, paymentRequiredBeforeRelease: false } })
    t.equal(again.statusCode, 200)
    const unknownState = await app.inject({ method: 'PUT', url: '/roi-fee-schedules/states/ZZ', headers: platform, payload: { baseFeeCents: 1, perPageCents: 1, paymentRequiredBeforeRelease: false } })
    t.equal(unknownState.statusCode, 404)
    t.match(await auditEventsFor(db, { verb: 'roi_fee_schedule.put' }), [{ action: 'create', detail: { stateCode: 'TX' } }, { action: 'update' }])

    const small = await invoice(s, noSchedule.id, { pages: 10 })
    t.equal(small.statusCode, 201)
    t.match(small.json(), { method: 'fee_schedule', pages: 10, scheduleBaseCents: 2500, schedulePageCents: 500, totalCents: 3000 })
    const big = await createRequest(app, s)
    t.match((await invoice(s, big.id, { pages: 500 })).json(), { totalCents: 5000 }, 'capped')
    const itemised = await createRequest(app, s)
    t.equal((await invoice(s, itemised.id, { laborCents: 100 })).statusCode, 422, 'third parties are charged by the schedule only')
    t.equal((await invoice(s, itemised.id, {})).statusCode, 422, 'pages are required')

    const override = await app.inject({ method: 'PUT', url: `/facilities/${s.facility.id}/roi-fee-schedule`, headers: s.headers, payload: { baseFeeCents: 0, perPageCents: 10, paymentRequiredBeforeRelease: true } })
    t.equal(override.statusCode, 201, override.body)
    t.match(override.json(), { stateCode: 'TX', facilityId: s.facility.id, capCents: null })
    const effective = await app.inject({ url: `/facilities/${s.facility.id}/roi-fee-schedule`, headers: s.headers })
    t.match(effective.json(), { facilityId: s.facility.id, perPageCents: 10 })
    t.match((await invoice(s, itemised.id, { pages: 30 })).json(), { totalCents: 300 })

    const other = await roiSetup(ctx)
    await withState(other, 'TX')
    const otherEffective = await app.inject({ url: `/facilities/${other.facility.id}/roi-fee-schedule`, headers: other.headers })
    t.match(otherEffective.json(), { facilityId: null, perPageCents: 50 }, 'other facilities in the state keep the state schedule')
    const notMine = await app.inject({ method: 'PUT', url: `/facilities/${s.facility.id}/roi-fee-schedule`, headers: other.headers, payload: { baseFeeCents: 0, perPageCents: 1, paymentRequiredBeforeRelease: false } })
    t.equal(notMine.statusCode, 404)
  })

  await t.test('concurrent PUTs of one schedule create it once: one 201, the others 200, one row', async (t) => {
    const s = await roiSetup(ctx)
    await withState(s, 'VT')
    const body = (perPageCents: number) => ({ baseFeeCents: 500, perPageCents, paymentRequiredBeforeRelease: false })
    for (const [what, url, headers, where] of [
      ['a facility override', `/facilities/${s.facility.id}/roi-fee-schedule`, s.headers, { facilityId: s.facility.id }],
      ['a state schedule', '/roi-fee-schedules/states/VT', platform, { facilityId: null, stateCode: 'VT' }],
    ] as const) {
      const res = await Promise.all([1, 2, 3, 4, 5, 6].map((n) => app.inject({ method: 'PUT', url, headers, payload: body(n) })))
      t.same(res.map((r) => r.statusCode).sort(), [200, 200, 200, 200, 200, 201], `${what}: ${res.map((r) => r.body.slice(0, 80)).join(' | ')}`)
      let rows = db.kysely.selectFrom('roiFeeSchedule').select('perPageCents')
      rows = where.facilityId ? rows.where('facilityId', '=', where.facilityId) : rows.where('facilityId', 'is', null).where('stateCode', '=', 'VT')
      const stored = await rows.execute()
      t.equal(stored.length, 1, `${what}: one row`)
      t.ok(res.some((r) => r.json().perPageCents === stored[0].perPageCents), `${what}: the row is one of the PUTs`)
      const events = await auditEventsFor(db, { verb: 'roi_fee_schedule.put' })
      t.ok(events.length >= 6, `${what}: each PUT audited`)
    }
  })

  await t.test('payments and waivers settle the invoice; overpayment is refused', async (t) => {
    const s = await roiSetup(ctx)
    const r = await individual(s, 'paper')
    await invoice(s, r.id, { laborCents: 1000 })
    const over = await app.inject({ method: 'POST', url: `/roi-requests/${r.id}/invoice/payments`, headers: s.headers, payload: { amountCents: 1001, method: 'card', paidOn: '2026-11-01' } })
    t.equal(over.statusCode, 422)
    const part = await app.inject({ method: 'POST', url: `/roi-requests/${r.id}/invoice/payments`, headers: s.headers, payload: { amountCents: 400, method: 'card', paidOn: '2026-11-01' } })
    t.match(part.json(), { status: 'open', paidCents: 400, balanceCents: 600 })
    const rest = await app.inject({ method: 'POST', url: `/roi-requests/${r.id}/invoice/payments`, headers: s.headers, payload: { amountCents: 600, method: 'check', reference: '1042', paidOn: '2026-11-02' } })
    t.match(rest.json(), { status: 'paid', paidCents: 1000, balanceCents: 0, paymentReference: '1042' })
    const waiveAfterPaid = await app.inject({ method: 'POST', url: `/roi-requests/${r.id}/invoice/waiver`, headers: s.headers, payload: { reason: 'Hardship' } })
    t.equal(waiveAfterPaid.statusCode, 409)

    const w = await individual(s, 'paper')
    await invoice(s, w.id, { postageCents: 300 })
    const waived = await app.inject({ method: 'POST', url: `/roi-requests/${w.id}/invoice/waiver`, headers: s.headers, payload: { reason: 'Financial hardship' } })
    t.match(waived.json(), { status: 'waived', waiverReason: 'Financial hardship', balanceCents: 0 })
    t.match(await auditEventsFor(db, { verb: 'roi_invoice.waive', resourceId: w.id }), [{ patientId: s.patient.id }])
  })

  await t.test('release is gated on payment when the facility requires it', async (t) => {
    const s = await roiSetup(ctx)
    await withState(s, 'OH')
    await app.inject({ method: 'PUT', url: `/facilities/${s.facility.id}/roi-fee-schedule`, headers: s.headers, payload: { baseFeeCents: 1000, perPageCents: 25, paymentRequiredBeforeRelease: true } })
    const r = await createRequest(app, s)
    await invoice(s, r.id, { pages: 4 })
    await moveTo(app, s, r.id, READY)
    const release = () => app.inject({
      method: 'POST', url: `/roi-requests/${r.id}/release`, headers: s.headers,
      payload: { documents: [{ recordType: 'clinical_notes', description: 'Progress notes', pages: 4 }] },
    })
    const blocked = await release()
    t.equal(blocked.statusCode, 409)
    t.match(blocked.json(), { type: 'urn:patient-access:problem:payment-required', balanceCents: 1100 })
    await app.inject({ method: 'POST', url: `/roi-requests/${r.id}/invoice/payments`, headers: s.headers, payload: { amountCents: 1100, method: 'ach', paidOn: '2026-11-01' } })
    const ok = await release()
    t.equal(ok.statusCode, 201, ok.body)
  })

  await t.test('money is integer cents: fractional amounts are refused', async (t) => {
    const s = await roiSetup(ctx)
    const r = await individual(s, 'paper')
    const res = await invoice(s, r.id, { laborCents: 10.5 })
    t.equal(res.statusCode, 400)
  })
})
