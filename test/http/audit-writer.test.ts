import t from 'tap'
import { Kysely } from 'kysely'
import { AuditWriter } from '../../src/http/audit.ts'
import { sealPending } from '../../src/modules/audit/audit-sealer.ts'
import { verifyChain } from '../../src/modules/audit/audit-chain.ts'
import type { Database } from '../../src/db/database.ts'
import { bearer, buildTestApp } from '../helpers/app.ts'
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
    const unsealed = await db.kysely.selectFrom('auditEvent').select('id').where('seq', 'is', null).execute()
    t.equal(unsealed.length, 0)
    const result = await verifyChain(db.kysely, { overdueAfterMs: 60_000, pageSize: 50 })
    t.equal(result.ok, true, JSON.stringify(result))
    t.equal(result.checked, sealed)
  })

  await t.test('the database refuses to update, delete or truncate audit events', async (t) => {
    const row = await db.kysely.selectFrom('auditEvent').select('id').limit(1).executeTakeFirstOrThrow()
    await t.rejects(db.kysely.updateTable('auditEvent').set({ verb: 'x' } as never).where('id', '=', row.id).execute(), /append-only/)
    await t.rejects(db.kysely.deleteFrom('auditEvent').where('id', '=', row.id).execute(), /append-only/)
    await t.rejects(db.kysely.updateTable('auditEvent').set({ hash: Buffer.alloc(32) }).where('id', '=', row.id).execute(), /append-only/)
  })
})
