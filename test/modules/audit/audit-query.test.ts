import { randomUUID } from 'node:crypto'
import t from 'tap'
import { insertAuditEvents } from '../../../src/http/audit.ts'
import type { NewAuditEvent } from '../../../src/db/database.ts'
import { bearer, buildTestApp } from '../../helpers/app.ts'
import { auditEventsFor, createPatient, orgWithFacility } from '../../helpers/factories.ts'

t.test('audit trail search and patient access reports', async (t) => {
  const ctx = await buildTestApp(t)
  const { app, db } = ctx
  const a = await orgWithFacility(db)
  const b = await orgWithFacility(db)
  const patient = await createPatient(db, a.facility.id)
  const actor = `alice-${randomUUID().slice(0, 8)}`
  const base = Date.parse('2026-11-20T09:00:00Z')
  const at = (minutes: number) => new Date(base + minutes * 60_000).toISOString()
  const ev = (minutes: number, f: Partial<NewAuditEvent>): NewAuditEvent => ({
    requestId: randomUUID(), actorSub: actor, actorRoles: ['front_desk'], action: 'read', verb: 'patient.read', resourceType: 'patient',
    resourceId: null, patientId: null, facilityId: a.facility.id, outcome: 'success', purposeOfUse: 'TREAT', clientIp: '10.0.0.7',
    userAgent: 'frontdesk/1.0', occurredAt: at(minutes), ...f,
  })
  // Two events share one instant: the id breaks the tie, so the order stays stable.
  await insertAuditEvents(db.kysely, [
    ev(0, { patientId: patient.id, resourceId: patient.id }),
    ev(1, { patientId: patient.id, resourceId: patient.id, action: 'update', verb: 'patient.update', purposeOfUse: 'HOPERAT' }),
    ev(1, { facilityId: b.facility.id, verb: 'appointment.read', resourceType: 'appointment', resourceId: 'appt-1' }),
    ev(2, { facilityId: null, action: 'create', verb: 'organization.create', resourceType: 'organization', resourceId: a.organization.id }),
    ev(3, { patientId: patient.id, resourceId: patient.id, breakGlass: true, purposeOfUse: 'ETREAT', detail: JSON.stringify({ reason: 'emergency' }) }),
    ev(4, { patientId: patient.id, outcome: 'denied', actorSub: `mallory-${actor}`, verb: 'getPatient' }),
    ev(5, { patientId: patient.id, facilityId: b.facility.id, resourceId: patient.id }),
  ])
  const all = await ctx.token('auditor', ['*'])
  const auditorA = await ctx.token('auditor', [a.facility.id], { sub: 'auditor-a' })
  const auditorB = await ctx.token('auditor', [b.facility.id], { sub: 'auditor-b' })
  const list = async (token: string, query: string) => {
    const res = await app.inject({ url: `/audit-events?${query}`, headers: bearer(token) })
    t.equal(res.statusCode, 200, res.body)
    return res.json() as { items: { id: string; verb: string; occurredAt: string; facilityId: string | null; actor: { sub: string } }[]; next: string | null }
  }

  await t.test('an all-facility auditor pages through an actor\'s events in a stable (occurredAt, id) order', async (t) => {
    const whole = await list(all, `actor=${actor}&limit=100`)
    t.same(whole.items.map((e) => e.verb), ['patient.read', 'patient.update', 'appointment.read', 'organization.create', 'patient.read', 'patient.read'])
    t.equal(whole.next, null)
    t.match(whole.items[0], { actor: { sub: actor, roles: ['front_desk'] }, purposeOfUse: 'TREAT', clientIp: '10.0.0.7', seq: null, hash: null, sealedAt: null })
    t.equal(whole.items[0].occurredAt, '2026-11-20T09:00:00.000000Z')
    const paged: string[] = []
    let query = `actor=${actor}&limit=2`
    for (let i = 0; i < 5; i++) {
      const page = await list(all, query)
      paged.push(...page.items.map((e) => e.id))
      if (!page.next) break
      query = `actor=${actor}&limit=2&cursor=${page.next}`
    }
    t.same(paged, whole.items.map((e) => e.id), 'pages add up to the whole, without duplicates or gaps')
    const searches = await auditEventsFor(db, { verb: 'audit-event.search' })
    t.ok(searches.length >= 4, 'every query is audited')
    t.match(searches[0], { actorSub: 'user-auditor', action: 'read', resourceType: 'audit_event', detail: { filters: ['actor'], returned: 6 } })
  })

  await t.test('each filter narrows the result', async (t) => {
    const verbs = async (q: string) => (await list(all, `actor=${actor}&${q}`)).items.map((e) => e.verb)
    t.same(await verbs(`patientId=${patient.id}`), ['patient.read', 'patient.update', 'patient.read', 'patient.read'])
    t.same(await verbs('action=update'), ['patient.update'])
    t.same(await verbs('verb=appointment.read'), ['appointment.read'])
    t.same(await verbs('resourceType=organization'), ['organization.create'])
    t.same(await verbs('resourceId=appt-1'), ['appointment.read'])
    t.same(await verbs(`facilityId=${b.facility.id}`), ['appointment.read', 'patient.read'])
    t.same(await verbs('purposeOfUse=HOPERAT'), ['patient.update'])
    t.same(await verbs('breakGlass=true'), ['patient.read'])
    t.same((await list(all, 'breakGlass=true&limit=100')).items.filter((e) => e.actor.sub === actor).length, 1, 'break-the-glass review list')
    t.same(await verbs(`from=${at(1)}&to=${at(3)}`), ['patient.update', 'appointment.read', 'organization.create'])
    t.same((await list(all, `actor=mallory-${actor}&outcome=denied`)).items.map((e) => e.verb), ['getPatient'])
    const byPatient = await auditEventsFor(db, { verb: 'audit-event.search' })
    t.ok(byPatient.some((e) => e.patientId === patient.id), 'a search by patient is audited against that patient')
  })

  await t.test('a facility-scoped auditor sees only its facilities\' events, and no event without a facility', async (t) => {
    const items = (await list(auditorA, `actor=${actor}&limit=100`)).items
    t.same(items.map((e) => e.verb), ['patient.read', 'patient.update', 'patient.read'])
    t.ok(items.every((e) => e.facilityId === a.facility.id))
    t.same((await list(auditorA, `actor=${actor}&facilityId=${b.facility.id}`)).items, [], 'another facility\'s filter finds nothing')
  })

  await t.test('bad queries are refused with problem details', async (t) => {
    const cases = [`from=${at(3)}&to=${at(1)}`, 'cursor=bm90LWEtY3Vyc29y', 'unknown=1', 'action=steal', 'patientId=not-a-uuid', 'breakGlass=maybe']
    for (const q of cases) {
      const res = await app.inject({ url: `/audit-events?${q}`, headers: bearer(all) })
      t.equal(res.statusCode, 400, q)
      t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
    }
    const clerk = await ctx.token('front_desk', ['*'])
    const denied = await app.inject({ url: '/audit-events', headers: bearer(clerk) })
    t.equal(denied.statusCode, 403)
    const roi = await ctx.token('roi_specialist', ['*'])
    t.equal((await app.inject({ url: `/patients/${patient.id}/access-report`, headers: bearer(roi) })).statusCode, 403, 'release-of-information staff do not get access reports')
  })

  await t.test('the access report says who touched the patient\'s record, when and why, and is itself audited', async (t) => {
    const res = await app.inject({ url: `/patients/${patient.id}/access-report?limit=100`, headers: bearer(all) })
    t.equal(res.statusCode, 200, res.body)
    const items = res.json().items.filter((e: { actor: { sub: string } }) => e.actor.sub?.includes(actor))
    t.same(items.map((e: { verb: string }) => e.verb), ['patient.read', 'patient.update', 'patient.read', 'getPatient', 'patient.read'])
    t.match(items[2], { actor: { sub: actor, roles: ['front_desk'] }, action: 'read', purposeOfUse: 'ETREAT', breakGlass: true, outcome: 'success', occurredAt: '2026-11-20T09:03:00.000000Z' })
    t.notOk('clientIp' in items[0], 'the report carries who, when, what and why, not network details')
    const logged = await auditEventsFor(db, { verb: 'patient.access-report' })
    t.match(logged, [{ patientId: patient.id, resourceId: patient.id, facilityId: a.facility.id, actorSub: 'user-auditor', outcome: 'success' }])

    const scoped = await app.inject({ url: `/patients/${patient.id}/access-report?limit=100`, headers: bearer(auditorA) })
    t.equal(scoped.statusCode, 200)
    t.ok(scoped.json().items.every((e: { facilityId: string }) => e.facilityId === a.facility.id), 'the facility rule applies to the report too')
    const paged = await app.inject({ url: `/patients/${patient.id}/access-report?limit=2&from=${at(0)}&to=${at(4)}`, headers: bearer(all) })
    t.equal(paged.json().items.length, 2)
    t.type(paged.json().next, 'string')
  })

  await t.test('paging through a report ends: it lists the events before its first page, not the reads of its own pages', async (t) => {
    const fresh = await createPatient(db, a.facility.id)
    await insertAuditEvents(db.kysely, [ev(10, { patientId: fresh.id, resourceId: fresh.id }), ev(11, { patientId: fresh.id, resourceId: fresh.id })])
    for (const [what, path] of [['the access report', `/patients/${fresh.id}/access-report`], ['the audit search by patient', `/audit-events?patientId=${fresh.id}`]]) {
      const page = async (query: string) => {
        const res = await app.inject({ url: `${path}${path.includes('?') ? '&' : '?'}${query}`, headers: bearer(all) })
        t.equal(res.statusCode, 200, res.body)
        const body = res.json() as { items: { id?: string; eventId?: string }[]; next: string | null }
        return { next: body.next, ids: body.items.map((e) => String(e.eventId ?? e.id)) }
      }
      const seen: string[] = []
      let next: string | null = null
      let pages = 0
      do {
        const p = await page(`limit=1${next ? `&cursor=${next}` : ''}`)
        seen.push(...p.ids)
        next = p.next
      } while (next && ++pages < 50)
      t.ok(pages < 50, `${what}: the walk ends (${pages + 1} pages)`)
      t.equal(new Set(seen).size, seen.length, `${what}: each event once`)
      const after = (await page('limit=100')).ids
      t.same(seen, after.slice(0, seen.length), `${what}: the walk is the listing as of its first page`)
      t.equal(after.length, seen.length + pages + 1, `${what}: a new listing adds the walk's ${pages + 1} audited reads, which the walk did not list`)
    }
  })

  await t.test('a patient the auditor cannot see is 404, and the attempt is audited', async (t) => {
    const other = await app.inject({ url: `/patients/${patient.id}/access-report`, headers: bearer(auditorB) })
    t.equal(other.statusCode, 404)
    t.equal(other.json().detail, 'Patient not found')
    const missing = await app.inject({ url: `/patients/${randomUUID()}/access-report`, headers: bearer(all) })
    t.equal(missing.statusCode, 404)
    const refused = (await auditEventsFor(db, { verb: 'getPatientAccessReport' })).filter((e) => e.outcome === 'not-found')
    t.match(refused, [{ actorSub: 'auditor-b', resourceId: patient.id }, { actorSub: 'user-auditor' }])
  })
})
