import t from 'tap'
import { Kysely, sql } from 'kysely'
import { AuditWriter, auditInsert, encodeAuditEvents, insertAuditEvents } from '../../src/http/audit.ts'
import { sealPending } from '../../src/modules/audit/audit-sealer.ts'
import { verifyChain } from '../../src/modules/audit/audit-chain.ts'
import type { Database } from '../../src/db/database.ts'
import { bearer, buildTestApp } from '../helpers/app.ts'
import { usingPostgres } from '../helpers/db.ts'
import { orgWithFacility } from '../helpers/factories.ts'

const event = (n: number) => ({
  requestId: `req-${n}`, actorSub: 'tester', actorRoles: ['auditor'], action: 'read' as const, verb: 'facility.read',
  resourceType: 'facility', outcome: 'success' as const, facilityId: null, resourceId: null, patientId: null,
  purposeOfUse: 'HOPERAT', clientIp: '127.0.0.1', userAgent: null,
})

t.test('audit group commit and sealing', async (t) => {
  const { app, db, token } = await buildTestApp(t)

  await t.test('concurrent events are written by fewer multi-row INSERTs, and each promise settles after its row is visible', async (t) => {
    let inserts = 0
    const counting = db.kysely.withPlugin({
      // The writer sends nothing but its INSERTs through this instance.
      transformQuery: (args) => {
        inserts++
        return args.node
      },
      transformResult: async (args) => args.result,
    }) as Kysely<Database>
    const writer = new AuditWriter(counting, 500, 2)
    const ids = Array.from({ length: 100 }, (_, i) => i)
    await Promise.all(
      ids.map(async (n) => {
        await writer.write(event(n))
        const row = await db.kysely.selectFrom('auditEvent').select('id').where('requestId', '=', `req-${n}`).executeTakeFirst()
        if (!row) throw new Error(`event req-${n} not visible after its write resolved`)
      }),
    )
    t.ok(inserts < 100, `100 events took ${inserts} INSERTs`)
    t.ok(inserts >= 1)
    await writer.drain()
  })

  await t.test('events sent as groups (shared fields once) are stored field for field as handed in, in order', async (t) => {
    const patient = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`
    const base = { ...event(0), requestId: 'grouped-1', verb: 'patient.search', resourceType: 'patient', detail: '{"criteria":["name"],"returned":5}' }
    const events = [
      // One request's search: five patients, one restricted (its own detail), one reached by breaking the glass.
      ...[1, 2, 3, 4, 5].map((n) => ({ ...base, resourceId: patient(n), patientId: patient(n), facilityId: patient(100) })),
      { ...base, resourceId: patient(6), patientId: patient(6), facilityId: null, detail: '{"criteria":["name"],"restricted":true}' },
      { ...base, resourceId: patient(7), patientId: patient(7), breakGlass: true, purposeOfUse: 'ETREAT', detail: null },
      // Other requests, other roles, an event with no detail and a detail of JSON's own null-looking strings.
      { ...event(1), requestId: 'grouped-2', actorRoles: ['auditor', 'admin'], detail: '{"note":"null"}' },
      { ...event(2), requestId: 'grouped-2', actorRoles: ['auditor'], userAgent: 'curl/8', detail: null },
    ]
    const stored = async () =>
      (await db.kysely.selectFrom('auditEvent').selectAll().where('requestId', 'like', 'grouped-%').orderBy('id').execute()).map((r) => ({
        requestId: r.requestId, actorSub: r.actorSub, actorRoles: r.actorRoles, action: r.action, verb: r.verb, resourceType: r.resourceType,
        outcome: r.outcome, facilityId: r.facilityId, resourceId: r.resourceId, patientId: r.patientId, purposeOfUse: r.purposeOfUse,
        clientIp: r.clientIp, userAgent: r.userAgent, breakGlass: r.breakGlass, detail: r.detail,
      }))
    const expected = events.map((e) => ({ breakGlass: false, ...e, detail: e.detail ? JSON.parse(e.detail) : null }))
    t.same(encodeAuditEvents(events).map((g) => g.events), [6, 1, 1, 1], 'the search is one group until its events differ in more than what they are about')
    t.same(encodeAuditEvents(events, 4).map((g) => g.events), [4, 2, 1, 1, 1], 'no group holds more than asked')
    const at = (ms: number) => ({ ...base, occurredAt: new Date(Date.UTC(2026, 10, 28, 12, 0, 0, ms)) })
    t.same(encodeAuditEvents([at(1), at(1), at(2)]).map((g) => g.events), [2, 1], 'events given times a millisecond apart are not one group')
    await new AuditWriter(db.kysely, 4, 1).writeAll(events)
    t.same(await stored(), expected, 'through the writer, in batches of at most four events')
    await insertAuditEvents(db.kysely, events.map((e) => ({ ...e, requestId: e.requestId!.replace('grouped-', 'grouped-again-') })))
    t.same((await stored()).slice(events.length), expected.map((e) => ({ ...e, requestId: e.requestId.replace('grouped-', 'grouped-again-') })), 'in one statement')
  })

  await t.test('every audited read leaves exactly one event carrying its request id', async (t) => {
    const { facility } = await orgWithFacility(db)
    const tok = await token('front_desk', [facility.id])
    const responses = await Promise.all(
      Array.from({ length: 30 }, (_, i) => app.inject({ url: `/facilities/${facility.id}`, headers: { ...bearer(tok), 'x-request-id': `burst-${i}` } })),
    )
    t.same(responses.map((r) => r.statusCode), Array(30).fill(200))
    const rows = await db.kysely.selectFrom('auditEvent').select(['requestId', 'verb']).where('requestId', 'like', 'burst-%').execute()
    t.equal(rows.length, 30)
    t.equal(new Set(rows.map((r) => r.requestId)).size, 30)
  })

  await t.test('sealing chains every committed event in order and the chain verifies', async (t) => {
    let sealed = 0
    for (;;) {
      const n = await sealPending(db.kysely, 37)
      sealed += n
      if (n === 0) break
    }
    t.ok(sealed >= 130)
    const unsealed = await db.kysely
      .selectFrom('auditEvent')
      .leftJoin('auditSeal', 'auditSeal.eventId', 'auditEvent.id')
      .select('auditEvent.id')
      .where('auditSeal.seq', 'is', null)
      .execute()
    t.equal(unsealed.length, 0)
    t.equal((await db.kysely.selectFrom('auditPending').select('firstId').execute()).length, 0, 'the queue is empty')
    const seals = await db.kysely.selectFrom('auditSeal').select([sql<string>`seq::text`.as('seq'), sql<string>`event_id::text`.as('eventId')]).orderBy('auditSeal.seq').execute()
    t.same(seals.map((s) => s.seq), seals.map((_, i) => String(i + 1)), 'seq runs 1, 2, 3... without a gap')
    t.same(seals.map((s) => BigInt(s.eventId)), seals.map((s) => BigInt(s.eventId)).sort((a, b) => (a < b ? -1 : 1)), 'events committed together are sealed in id order')
    const result = await verifyChain(db.kysely, { overdueAfterMs: 60_000, pageSize: 50 })
    t.equal(result.ok, true, JSON.stringify(result))
    t.equal(result.checked, sealed)
  })

  await t.test('an event whose transaction commits after later events were sealed is sealed after them, and the chain verifies', { skip: !usingPostgres() && 'needs a transaction held open on a second connection (set TEST_DATABASE_URL)' }, async (t) => {
    let commit!: () => void
    let appended!: () => void
    const held = db.kysely.transaction().execute(async (trx) => {
      await insertAuditEvents(trx, [{ ...event(900), requestId: 'late' }])
      appended()
      await new Promise<void>((resolve) => (commit = resolve))
    })
    await new Promise<void>((resolve) => (appended = resolve))
    await insertAuditEvents(db.kysely, [{ ...event(901), requestId: 'early-1' }, { ...event(902), requestId: 'early-2' }])
    t.equal(await sealPending(db.kysely), 2, 'only the committed events are sealed')
    commit()
    await held
    t.equal(await sealPending(db.kysely), 1, 'the late event is sealed once it commits')
    const rows = await db.kysely
      .selectFrom('auditEvent')
      .innerJoin('auditSeal', 'auditSeal.eventId', 'auditEvent.id')
      .select(['requestId', sql<string>`audit_event.id::text`.as('id'), sql<string>`audit_seal.seq::text`.as('seq')])
      .where('requestId', 'in', ['late', 'early-1', 'early-2'])
      .orderBy('auditSeal.seq')
      .execute()
    t.same(rows.map((r) => r.requestId), ['early-1', 'early-2', 'late'], 'sealed in commit order')
    t.ok(BigInt(rows[2].id) < BigInt(rows[0].id), 'though its id came first')
    const result = await verifyChain(db.kysely, { overdueAfterMs: 0 })
    t.match(result, { ok: true, unsealedOverdue: 0, head: { seq: rows[2].seq } })
  })

  await t.test('a statement that appends events queues one row of their ids for sealing; one that appends none queues nothing', async (t) => {
    while ((await sealPending(db.kysely)) > 0);
    await insertAuditEvents(db.kysely, [{ ...event(910), requestId: 'queued-1' }, { ...event(911), requestId: 'queued-2' }, { ...event(912), requestId: 'queued-3' }])
    await auditInsert([{ ...event(913), requestId: 'queued-never' }], sql<boolean>`false`).execute(db.kysely)
    const ids = (await db.kysely.selectFrom('auditEvent').select(sql<string>`id::text`.as('id')).where('requestId', 'like', 'queued-%').orderBy('id').execute()).map((r) => r.id)
    t.equal(ids.length, 3, 'the conditional insert appended nothing')
    const queued = await db.kysely.selectFrom('auditPending').select([sql<string>`first_id::text`.as('first'), sql<string>`last_id::text`.as('last'), sql<string[]>`event_ids::text[]`.as('ids')]).execute()
    t.equal(queued.length, 1, 'one row for the statement, none for the one that appended nothing')
    t.match(queued[0], { first: ids[0], last: ids[2] })
    t.same([...queued[0].ids].sort((a, b) => Number(BigInt(a) - BigInt(b))), ids)
    t.equal(await sealPending(db.kysely), 3)
    t.same(await db.kysely.selectFrom('auditPending').select('firstId').execute(), [], 'sealed and dequeued together')
  })

  await t.test('the database refuses to update, delete or truncate audit events, even unsealed ones', async (t) => {
    const row = await db.kysely.selectFrom('auditEvent').select('id').limit(1).executeTakeFirstOrThrow()
    await t.rejects(db.kysely.updateTable('auditEvent').set({ verb: 'x' } as never).where('id', '=', row.id).execute(), /audit_event is append-only/)
    await t.rejects(db.kysely.deleteFrom('auditEvent').where('id', '=', row.id).execute(), /audit_event is append-only/)
    await t.rejects(sql`TRUNCATE audit_event CASCADE`.execute(db.kysely), /audit_event is append-only/)
    await insertAuditEvents(db.kysely, [{ ...event(903), requestId: 'unsealed' }])
    const unsealed = await db.kysely.selectFrom('auditEvent').select('id').where('requestId', '=', 'unsealed').executeTakeFirstOrThrow()
    t.ok(await db.kysely.selectFrom('auditPending').select('firstId').where(sql<boolean>`${unsealed.id}::bigint = ANY(event_ids)`).executeTakeFirst(), 'queued by the insert')
    await t.rejects(db.kysely.updateTable('auditEvent').set({ verb: 'x' } as never).where('id', '=', unsealed.id).execute(), /audit_event is append-only/)
    await t.rejects(db.kysely.updateTable('auditEvent').set({ verb: 'x' } as never).where('id', '=', '0').execute(), /audit_event is append-only/, 'refused as a statement, matching no row')
  })

  await t.test('the database refuses to update, delete or truncate seals', async (t) => {
    const seal = await db.kysely.selectFrom('auditSeal').select('seq').limit(1).executeTakeFirstOrThrow()
    await t.rejects(db.kysely.updateTable('auditSeal').set({ hash: Buffer.alloc(32) }).where('seq', '=', seal.seq).execute(), /audit_seal is append-only/)
    await t.rejects(db.kysely.deleteFrom('auditSeal').where('seq', '=', seal.seq).execute(), /audit_seal is append-only/)
    await t.rejects(sql`TRUNCATE audit_seal`.execute(db.kysely), /audit_seal is append-only/)
    await t.rejects(
      sql`INSERT INTO audit_seal (seq, event_id, prev_hash, hash) VALUES (1000000, -1, ${Buffer.alloc(32)}, ${Buffer.alloc(32)})`.execute(db.kysely),
      /audit_seal must name an existing audit_event/,
    )
  })
})
