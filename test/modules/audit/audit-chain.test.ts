import { createHash, createPublicKey, verify as verifySignature } from 'node:crypto'
import t from 'tap'
import { sql } from 'kysely'
import { insertAuditEvents } from '../../../src/http/audit.ts'
import type { NewAuditEvent } from '../../../src/db/database.ts'
import { AuditSealer, sealPending, sealPendingIn } from '../../../src/modules/audit/audit-sealer.ts'
import { canonical, chainHead, GENESIS, latestCheckpoint, sealableColumns, storedHashAt, verifyChain } from '../../../src/modules/audit/audit-chain.ts'
import { verifyOnward, writeCheckpoint } from '../../../src/modules/audit/audit-checkpoint.ts'
import { bearer, buildTestApp } from '../../helpers/app.ts'

const event = (n: number): NewAuditEvent => ({
  requestId: `chain-${n}`, actorSub: 'tester', actorRoles: ['front_desk'], action: 'read', verb: 'patient.read',
  resourceType: 'patient', resourceId: null, patientId: null, facilityId: null, outcome: 'success',
  purposeOfUse: 'TREAT', clientIp: '127.0.0.1', userAgent: null,
})

t.test('audit chain verification, signed checkpoints and database privileges', async (t) => {
  const ctx = await buildTestApp(t)
  const { app, db } = ctx
  const k = db.kysely
  const auditor = await ctx.token('auditor', ['*'])
  const verify = async (query = '') => {
    const res = await app.inject({ url: `/audit-events/verify${query}`, headers: bearer(auditor) })
    t.equal(res.statusCode, 200, res.body)
    return res.json()
  }
  // As the database owner, with every trigger off: what an attacker holding the owner could do.
  const asOwnerBypassingTriggers = (fn: (trx: typeof k) => Promise<unknown>) =>
    k.transaction().execute(async (trx) => {
      await sql`SET LOCAL session_replication_role = replica`.execute(trx)
      await fn(trx)
    })
  const idAtSeq = async (seq: number) => (await k.selectFrom('auditSeal').select(sql<string>`event_id::text`.as('id')).where('seq', '=', String(seq)).executeTakeFirstOrThrow()).id
  const longAgo = () => `?from=${encodeURIComponent(new Date(Date.now() - 7_200_000).toISOString())}&to=${encodeURIComponent(new Date(Date.now() - 1_800_000).toISOString())}`

  // Several sealing runs (a step seals whole statements, here 20 events each): seq passes 9 and
  // 99, so ordering by seq as text (rather than as a number) would break the chain here.
  for (let batch = 0; batch < 6; batch++) {
    await insertAuditEvents(k, Array.from({ length: 20 }, (_, i) => event(batch * 20 + i)))
    await app.auditSealer.sealAll(7)
  }

  await t.test('Postgres renders exactly the canonical form the reference definition gives, awkward values included', async (t) => {
    await insertAuditEvents(k, [
      { ...event(500), verb: 'awkward.test', requestId: 'quote " backslash \\ newline \n tab \t bell \u0007 del \u007f', actorRoles: [], userAgent: 'ünïcödé 🩺 \u2028 line-sep' },
      { ...event(501), verb: 'awkward.test', requestId: null, actorSub: null, clientIp: null, purposeOfUse: null, breakGlass: true,
        facilityId: '0b9d2f4e-3c1a-4f47-9a55-6c0e2b7f1d11', detail: JSON.stringify({ z: 1, a: ['x', { ü: 'line\nbreak' }], n: null, f: 1.5e-7 }) },
    ])
    const rows = await sealableColumns(k)
      .select([
        sql<string>`to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`.as('occurredAt'),
        'requestId', 'actorSub', 'actorRoles', 'facilityId', 'action', 'verb', 'resourceType', 'resourceId', 'patientId',
        'outcome', 'purposeOfUse', 'clientIp', 'userAgent', 'breakGlass', sql<string | null>`detail::text`.as('detail'),
      ])
      .where('verb', '=', 'awkward.test')
      .execute()
    t.equal(rows.length, 2)
    for (const row of rows) {
      t.equal(`["7"${row.tail}`, canonical('7', row))
      t.equal(JSON.parse(`["7"${row.tail}`).length, 18)
    }
    await app.auditSealer.sealAll()
  })

  await t.test('every seal is the reference definition recomputed: seq in id order, sha256 of the previous hash and the canonical rendering', async (t) => {
    const rows = await k
      .selectFrom('auditSeal')
      .innerJoin('auditEvent', 'auditEvent.id', 'auditSeal.eventId')
      .select([
        sql<string>`audit_seal.seq::text`.as('seq'), 'auditSeal.prevHash', 'auditSeal.hash', sql<string>`audit_event.id::text`.as('id'),
        sql<string>`to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`.as('occurredAt'),
        'requestId', 'actorSub', 'actorRoles', 'facilityId', 'action', 'verb', 'resourceType', 'resourceId', 'patientId',
        'outcome', 'purposeOfUse', 'clientIp', 'userAgent', 'breakGlass', sql<string | null>`detail::text`.as('detail'),
      ])
      .orderBy('auditSeal.seq')
      .execute()
    t.equal(rows.length, 122)
    let prev = GENESIS
    rows.forEach((row, i) => {
      t.equal(row.seq, String(i + 1))
      if (i > 0) t.ok(BigInt(row.id) > BigInt(rows[i - 1].id), `seq ${row.seq} seals a later event than seq ${i}`)
      t.same(Buffer.from(row.prevHash), prev, `seq ${row.seq} links to the previous hash`)
      const hash = createHash('sha256').update(prev).update(canonical(row.seq, row)).digest()
      t.same(Buffer.from(row.hash), hash, `seq ${row.seq} is sha256(prev_hash || canonical)`)
      prev = hash
    })
  })

  await t.test('a sealed chain verifies whole, and a checkpoint signs its head', async (t) => {
    const cp = await app.auditSealer.checkpoint()
    t.ok(cp)
    const res = await verify()
    t.equal(res.ok, true, JSON.stringify(res))
    t.ok(res.checked >= 120)
    t.equal(res.head.seq, cp!.seq)
    t.equal(res.head.hash, cp!.hash.toString('hex'))
    t.match(res.checkpoint, { seq: cp!.seq, signatureValid: true, chainReaches: true })
    t.match(await verifyChain(k, { overdueAfterMs: 60_000, pageSize: 7 }), { ok: true, checked: res.checked, head: res.head }, 'small pages agree')
    t.equal(await app.auditSealer.checkpoint(), undefined, 'no second checkpoint while the head has not moved')
    const logged = await k.selectFrom('auditEvent').select(['verb', 'action', 'detail']).where('verb', '=', 'audit-chain.verify').execute()
    t.equal(logged.length, 1, 'the verification is itself audited')
  })

  // Sealers of their own over the same database, as another node's would be; not started: each
  // test runs their steps (a tick's work) itself.
  const log = { warn: () => {}, error: () => {} }
  const signedSeq = async () => (await latestCheckpoint(k))!.seq
  const unsealFrom = (trx: typeof k, seq: string) => sql`
    WITH unsealed AS (DELETE FROM audit_seal WHERE seq >= ${seq}::bigint RETURNING event_id)
    INSERT INTO audit_pending (first_id, last_id, event_ids) SELECT min(event_id), max(event_id), array_agg(event_id) FROM unsealed`.execute(trx)
  const reseal = () => k.transaction().execute(async (trx) => { while ((await sealPendingIn(trx, 1000)) > 0); })
  /** What a step that must fail reports (ChainBrokenError's broken), or 'signed' or 'nothing' when it did not fail. */
  const brokenAt = (sealer: AuditSealer) => sealer.step().then((cp) => (cp ? 'signed' : 'nothing'), (err: { broken?: unknown }) => err.broken ?? err)

  await t.test('a sealer step recomputes what was sealed since, a share at a time, and signs the point it reached', async (t) => {
    const sealer = new AuditSealer(k, 1000, log, app.auditSealer.signer, 0, 4)
    const from = BigInt(await signedSeq())
    await insertAuditEvents(k, Array.from({ length: 10 }, (_, i) => event(600 + i)))
    const signed: string[] = []
    for (let cp = await sealer.step(); cp; cp = await sealer.step()) {
      t.same(cp.hash, await storedHashAt(k, BigInt(cp.seq)), `the checkpoint at ${cp.seq} signs the stored hash there`)
      signed.push(cp.seq)
    }
    const head = BigInt((await chainHead(k))!.seq)
    t.ok(head >= from + 10n, 'the step sealed the new events')
    const expected: string[] = []
    for (let seq = from + 4n; seq < head + 4n; seq += 4n) expected.push(String(seq < head ? seq : head))
    t.same(signed, expected, 'four seals further at each step, up to the head; then nothing while the head stays')
    t.match(await verify(), { ok: true, checkpoint: { seq: String(head), signatureValid: true, chainReaches: true } })
  })

  await t.test('an event altered after it was sealed stops every following checkpoint until it is put back', async (t) => {
    const sealer = new AuditSealer(k, 1000, log, app.auditSealer.signer, 0)
    await sealer.step()
    await insertAuditEvents(k, [event(620), event(621)])
    await sealer.sealAll()
    const head = (await chainHead(k))!.seq
    const id = await idAtSeq(Number(head) - 1)
    const before = await signedSeq()
    const alter = (verb: string) => asOwnerBypassingTriggers((trx) => trx.updateTable('auditEvent').set({ verb } as never).where('id', '=', id).execute())
    await alter('patient.search')
    for (let i = 0; i < 2; i++) {
      t.match(await brokenAt(sealer), { seq: String(Number(head) - 1), eventId: id, reason: 'content does not match its hash' })
      t.equal(await signedSeq(), before, 'no checkpoint signed')
    }
    await alter('patient.read')
    t.match(await sealer.step(), { seq: head }, 'put back, the head is signed')
  })

  await t.test('a chain rewritten and re-hashed behind the point a sealer recomputed stops its checkpoints, though it verifies as a chain', async (t) => {
    // A checkpoint interval of an hour: this sealer recomputes but does not sign (the latest
    // checkpoint is seconds old), so the rewrite falls between the checkpoint and its point.
    const sealer = new AuditSealer(k, 1000, log, app.auditSealer.signer, 3_600_000)
    await insertAuditEvents(k, [event(630), event(631), event(632)])
    t.equal(await sealer.step(), undefined, 'recomputed through the head, not signed')
    const head = (await chainHead(k))!.seq
    const rewriteFrom = String(Number(head) - 1)
    const id = await idAtSeq(Number(rewriteFrom))
    const rewrite = (verb: string) => asOwnerBypassingTriggers(async (trx) => {
      await trx.updateTable('auditEvent').set({ verb } as never).where('id', '=', id).execute()
      await unsealFrom(trx, rewriteFrom)
    })
    await rewrite('patient.search')
    await reseal()
    t.match(await verify(), { ok: true }, 'as a chain it verifies: the latest checkpoint is before the rewrite')
    for (let i = 0; i < 2; i++) {
      t.match(await brokenAt(sealer), { seq: head, reason: 'the chain no longer matches the hash recomputed there' }, 'caught again at every step')
    }
    await rewrite('patient.read')
    await reseal()
    t.equal(await sealer.step(), undefined, 'put back and sealed again in the same order, the same hashes: it verifies')
  })

  await t.test('a sealed event is listed with its seal', async (t) => {
    const res = await app.inject({ url: '/audit-events?actor=tester&limit=1', headers: bearer(auditor) })
    t.equal(res.statusCode, 200, res.body)
    const [listed] = res.json().items
    const seal = await k.selectFrom('auditSeal').select([sql<string>`seq::text`.as('seq'), 'hash', 'sealedAt']).where('eventId', '=', listed.id).executeTakeFirstOrThrow()
    t.match(listed, { seq: seal.seq, hash: Buffer.from(seal.hash).toString('hex'), sealedAt: seal.sealedAt.toISOString() })
  })

  await t.test('unsealed events older than the sealing interval are a fault', async (t) => {
    await k.insertInto('auditEvent').values({ ...event(999), occurredAt: new Date(Date.now() - 3_600_000) }).execute()
    const res = await verify(longAgo())
    t.match(res, { ok: false, unsealedOverdue: 1, checked: 0, reason: 'events older than the sealing interval are unsealed' })
    await app.auditSealer.sealAll()
    await app.auditSealer.checkpoint()
    t.equal((await verify()).ok, true, 'sealed late, it is part of the chain')
    t.match(await verify(longAgo()), { ok: true, unsealedOverdue: 0, checked: 1 })
  })

  await t.test('a sealing step takes whole statements, and any statement whose ids interleave with them: events are chained in id order', async (t) => {
    // Concurrent statements draw interleaved ids. Queued here by the owner as such statements
    // would be: [a, c, e] and [b, d, f], then [g, h] and [i, j].
    await app.auditSealer.sealAll()
    const ids = await k.transaction().execute(async (trx) => {
      await sql`SET LOCAL session_replication_role = replica`.execute(trx)
      await insertAuditEvents(trx, Array.from({ length: 10 }, (_, i) => event(700 + i)))
      const rows = await trx.selectFrom('auditEvent').select(sql<string>`id::text`.as('id')).where('requestId', 'like', 'chain-7__').orderBy('id').execute()
      const [a, b, c, d, e, f, g, h, i, j] = rows.map((r) => r.id)
      for (const statement of [[a, c, e], [b, d, f], [g, h], [i, j]]) {
        // The ids in any order: the sealer orders them itself.
        await sql`INSERT INTO audit_pending (first_id, last_id, event_ids) VALUES (${statement[0]}, ${statement.at(-1)}, ${[...statement].reverse()}::bigint[])`.execute(trx)
      }
      return rows.map((r) => r.id)
    })
    t.equal(await sealPending(k, 2), 6, 'the first statement, and the one interleaved with it')
    t.equal(await sealPending(k, 2), 2, 'then one statement: two events reach the step size')
    t.equal(await sealPending(k, 2), 2)
    t.equal(await sealPending(k, 2), 0)
    const seals = await k.selectFrom('auditSeal').select([sql<string>`seq::text`.as('seq'), sql<string>`event_id::text`.as('id')]).where('eventId', 'in', ids).orderBy('seq').execute()
    t.same(seals.map((s) => s.id), ids, 'sealed in id order')
    t.same(seals.map((s) => BigInt(s.seq) - BigInt(seals[0].seq)), ids.map((_, i) => BigInt(i)), 'at consecutive seqs')
    await app.auditSealer.checkpoint()
    t.match(await verify(), { ok: true, unsealedOverdue: 0 })
  })

  await t.test('an event dropped from the sealing queue is never sealed, and verification reports it', async (t) => {
    const { id } = await k.insertInto('auditEvent').values({ ...event(998), occurredAt: new Date(Date.now() - 3_600_000) }).returning(sql<string>`id::text`.as('id')).executeTakeFirstOrThrow()
    // Only the owner can take a row off the queue without sealing it (the application role
    // cannot: the privileges test below).
    await k.deleteFrom('auditPending').where('firstId', '=', id).execute()
    const sealOf = () => k.selectFrom('auditSeal').select('seq').where('eventId', '=', id).executeTakeFirst()
    await app.auditSealer.sealAll()
    t.equal(await sealOf(), undefined, 'the sealer never sees it')
    t.match(await verify(), { ok: false, unsealedOverdue: 1, reason: 'events older than the sealing interval are unsealed' })
    t.match(await verify(longAgo()), { ok: false, unsealedOverdue: 1 }, 'within a range too')
    await sql`INSERT INTO audit_pending (first_id, last_id, event_ids) VALUES (${id}, ${id}, ARRAY[${id}::bigint])`.execute(k)
    await app.auditSealer.sealAll()
    t.ok(await sealOf(), 'queued again by the owner, it is sealed')
    await app.auditSealer.checkpoint()
    t.match(await verify(), { ok: true, unsealedOverdue: 0 })
  })

  await t.test('the checkpoints and public key let an auditor check a signature offline', async (t) => {
    const res = await app.inject({ url: '/audit-events/checkpoints?limit=1', headers: bearer(auditor) })
    t.equal(res.statusCode, 200, res.body)
    const { publicKey, items, next } = res.json()
    t.equal(items.length, 1)
    const older = await app.inject({ url: `/audit-events/checkpoints?limit=1&cursor=${next}`, headers: bearer(auditor) })
    t.ok(BigInt(older.json().items[0].seq) < BigInt(items[0].seq), 'newest first, paged')
    const key = createPublicKey({ key: publicKey.jwk, format: 'jwk' })
    const cp = items[0]
    t.equal(cp.message, `patient-access audit checkpoint v1\nseq=${cp.seq}\nhash=${cp.hash}\nsigned_at=${cp.signedAt}`)
    t.ok(verifySignature(null, Buffer.from(cp.message), key, Buffer.from(cp.signature, 'base64')))
    t.notOk(verifySignature(null, Buffer.from(cp.message.replace(/seq=\d+/, 'seq=1')), key, Buffer.from(cp.signature, 'base64')))
    const spki = createPublicKey({ key: Buffer.from(publicKey.spki, 'base64'), format: 'der', type: 'spki' })
    t.ok(spki.equals(key))
  })

  await t.test('an event altered behind the triggers is found, and putting it back makes the chain whole again', async (t) => {
    const id = await idAtSeq(40)
    await asOwnerBypassingTriggers((trx) => trx.updateTable('auditEvent').set({ verb: 'patient.search' } as never).where('id', '=', id).execute())
    const res = await verify()
    t.match(res, { ok: false, firstBrokenSeq: '40', firstBrokenEventId: id, reason: 'content does not match its hash' })
    t.equal(res.checked, 39)
    for (const pageSize of [3, 39, 40]) {
      const paged = await verifyChain(k, { overdueAfterMs: 60_000, pageSize })
      t.match(paged, { ok: false, firstBrokenSeq: '40', firstBrokenEventId: id, checked: 39, head: { seq: '39' } }, `page size ${pageSize}`)
    }
    const ranged = await verify(`?from=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)
    t.match(ranged, { ok: true, checked: 0 }, 'a range after the damage does not include it (the checkpoint still holds)')
    await asOwnerBypassingTriggers((trx) => trx.updateTable('auditEvent').set({ verb: 'patient.read' } as never).where('id', '=', id).execute())
    t.equal((await verify()).ok, true)
  })

  await t.test('of two altered events the one with the lower seq is named first, in seq order as numbers', async (t) => {
    const [at9, at10] = [await idAtSeq(9), await idAtSeq(10)]
    const alter = (verb: string) => asOwnerBypassingTriggers((trx) => trx.updateTable('auditEvent').set({ verb } as never).where('id', 'in', [at9, at10]).execute())
    await alter('patient.search')
    t.match(await verify(), { ok: false, firstBrokenSeq: '9', firstBrokenEventId: at9, reason: 'content does not match its hash' })
    await alter('patient.read')
    t.equal((await verify()).ok, true)
  })

  await t.test('a seal whose hash was altered behind the triggers is found', async (t) => {
    const seal = await k.selectFrom('auditSeal').select('hash').where('seq', '=', '30').executeTakeFirstOrThrow()
    const forged = Buffer.from(seal.hash)
    forged[31] ^= 0x01
    await asOwnerBypassingTriggers((trx) => trx.updateTable('auditSeal').set({ hash: forged }).where('seq', '=', '30').execute())
    t.match(await verify(), { ok: false, firstBrokenSeq: '30', firstBrokenEventId: await idAtSeq(30), checked: 29 })
    await asOwnerBypassingTriggers((trx) => trx.updateTable('auditSeal').set({ hash: Buffer.from(seal.hash) }).where('seq', '=', '30').execute())
    t.equal((await verify()).ok, true)
  })

  await t.test('a past rewritten and re-hashed by the owner verifies as a chain but not against the signed checkpoint', async (t) => {
    const id = await idAtSeq(50)
    const reseal = () => k.transaction().execute(async (trx) => { while ((await sealPendingIn(trx, 1000)) > 0); })
    const unseal = (trx: typeof k) => sql`
      WITH unsealed AS (DELETE FROM audit_seal WHERE seq >= 50 RETURNING event_id)
      INSERT INTO audit_pending (first_id, last_id, event_ids) SELECT min(event_id), max(event_id), array_agg(event_id) FROM unsealed`.execute(trx)
    await asOwnerBypassingTriggers(async (trx) => {
      await trx.updateTable('auditEvent').set({ verb: 'patient.search' } as never).where('id', '=', id).execute()
      await unseal(trx)
    })
    await reseal()
    const res = await verify()
    t.match(res, { ok: false, firstBrokenSeq: res.checkpoint.seq, reason: 'the chain no longer matches the latest signed checkpoint' })
    t.match(res.checkpoint, { signatureValid: true, chainReaches: false })
    await asOwnerBypassingTriggers(async (trx) => {
      await trx.updateTable('auditEvent').set({ verb: 'patient.read' } as never).where('id', '=', id).execute()
      await unseal(trx)
    })
    await reseal()
    t.equal((await verify()).ok, true, 'the same events sealed in the same order give the same hashes')
  })

  await t.test('a checkpoint whose signature was tampered with is reported', async (t) => {
    const cp = await k.selectFrom('auditCheckpoint').selectAll().orderBy('seq', 'desc').executeTakeFirstOrThrow()
    const forged = Buffer.from(cp.signature)
    forged[0] ^= 0xff
    await asOwnerBypassingTriggers((trx) => trx.updateTable('auditCheckpoint').set({ signature: forged }).where('seq', '=', cp.seq).execute())
    t.match(await verify(), { ok: false, firstBrokenSeq: cp.seq, reason: 'the latest checkpoint signature does not verify', checkpoint: { signatureValid: false } })
    await asOwnerBypassingTriggers((trx) => trx.updateTable('auditCheckpoint').set({ signature: cp.signature }).where('seq', '=', cp.seq).execute())
    t.equal((await verify()).ok, true)
  })

  await t.test('a tail cut off the chain verifies as a chain but is caught by the latest checkpoint', async (t) => {
    await app.auditSealer.sealAll()
    const cp = await app.auditSealer.checkpoint()
    const head = Number(cp!.seq)
    await asOwnerBypassingTriggers(async (trx) => {
      const cut = await trx.deleteFrom('auditSeal').where('seq', '>', String(head - 3)).returning('eventId').execute()
      await trx.deleteFrom('auditEvent').where('id', 'in', cut.map((c) => c.eventId)).execute()
    })
    const res = await verify()
    t.match(res, { ok: false, firstBrokenSeq: String(head), firstBrokenEventId: null, checked: head - 3 })
    t.match(res.reason, /chain ends at seq \d+, before the latest signed checkpoint: events were cut off its tail/)
    t.equal(res.head.seq, String(head - 3))
  })

  await t.test('an event deleted from the middle behind the triggers is found, with or without its seal', async (t) => {
    const id = await idAtSeq(77)
    await asOwnerBypassingTriggers((trx) => trx.deleteFrom('auditEvent').where('id', '=', id).execute())
    t.match(await verify(), { ok: false, firstBrokenSeq: '77', firstBrokenEventId: id, reason: 'the event sealed at this seq is missing', checked: 76 })
    await asOwnerBypassingTriggers((trx) => trx.deleteFrom('auditSeal').where('seq', '=', '77').execute())
    const res = await verify()
    t.match(res, { ok: false, firstBrokenSeq: '77', firstBrokenEventId: null, reason: 'event with seq 77 is missing', checked: 76 })
    for (const pageSize of [7, 11, 76, 1000]) {
      // 77 ends a page of 7, starts a page of 11 + 1 and of 76 + 1: every place a gap can fall.
      const paged = await verifyChain(k, { overdueAfterMs: 60_000, signer: app.auditSealer.signer, pageSize })
      t.match(paged, { ok: false, firstBrokenSeq: '77', checked: 76, head: { seq: '76' } }, `page size ${pageSize}`)
    }
    const ranged = await verify(`?from=${encodeURIComponent(new Date(0).toISOString())}&to=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)
    t.match(ranged, { ok: false, firstBrokenSeq: '77' }, 'a range that covers it finds it too')
  })

  await t.test('the application role cannot update, delete or truncate audit events, nor dequeue or write seals but by sealing, yet can append, seal and checkpoint', async (t) => {
    const asApp = <T>(fn: (trx: typeof k) => Promise<T>) =>
      k.transaction().execute(async (trx) => {
        await sql`SET LOCAL ROLE patient_access_app`.execute(trx)
        return fn(trx)
      })
    const id = await idAtSeq(10)
    await t.rejects(asApp((trx) => trx.updateTable('auditEvent').set({ verb: 'x' } as never).where('id', '=', id).execute()), /permission denied/)
    await t.rejects(asApp((trx) => trx.deleteFrom('auditEvent').where('id', '=', id).execute()), /permission denied/)
    await t.rejects(asApp((trx) => sql`TRUNCATE audit_event`.execute(trx)), /permission denied/)
    await t.rejects(asApp((trx) => sql`TRUNCATE audit_checkpoint`.execute(trx)), /permission denied/)
    await t.rejects(asApp((trx) => trx.deleteFrom('auditCheckpoint').execute()), /permission denied/)
    await t.rejects(asApp((trx) => trx.updateTable('auditSeal').set({ hash: Buffer.alloc(32) }).where('seq', '=', '10').execute()), /permission denied/)
    await t.rejects(asApp((trx) => trx.deleteFrom('auditSeal').where('seq', '=', '10').execute()), /permission denied/)
    await t.rejects(asApp((trx) => sql`TRUNCATE audit_seal`.execute(trx)), /permission denied/)
    await t.rejects(asApp((trx) => sql`INSERT INTO audit_pending (first_id, last_id, event_ids) VALUES (${id}, ${id}, ARRAY[${id}::bigint])`.execute(trx)), /permission denied/, 'only the trigger queues events')
    await insertAuditEvents(k, [event(999)])
    await t.rejects(asApp((trx) => trx.deleteFrom('auditPending').execute()), /permission denied/, 'only sealing takes events off the queue')
    await t.rejects(
      asApp((trx) => sql`INSERT INTO audit_seal (seq, event_id, prev_hash, hash) SELECT max(seq) + 1, ${id}, ${Buffer.alloc(32)}, ${Buffer.alloc(32)} FROM audit_seal`.execute(trx)),
      /permission denied/,
      'only the sealing function writes seals',
    )
    t.ok(Number((await k.selectFrom('auditPending').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n) > 0, 'the queue kept its rows')
    const sealed = await asApp(async (trx) => {
      await insertAuditEvents(trx, [event(1000)])
      return sealPendingIn(trx as never, 5000)
    })
    t.ok(sealed >= 1, 'the app role appends and seals')
    const row = await k
      .selectFrom('auditEvent')
      .innerJoin('auditSeal', 'auditSeal.eventId', 'auditEvent.id')
      .select('auditSeal.seq')
      .where('requestId', '=', 'chain-1000')
      .executeTakeFirstOrThrow()
    t.ok(row.seq)
    const patients = await asApp((trx) => trx.selectFrom('patient').select('id').limit(1).execute())
    t.ok(Array.isArray(patients), 'the app role reads other tables')
    const signer = app.auditSealer.signer!
    await asOwnerBypassingTriggers((trx) => trx.deleteFrom('auditCheckpoint').execute())
    await asOwnerBypassingTriggers(async (trx) => {
      await trx.deleteFrom('auditSeal').execute()
      await trx.deleteFrom('auditPending').execute()
      await trx.deleteFrom('auditEvent').execute()
    })
    await insertAuditEvents(k, [event(2000), event(2001)])
    const cp = await asApp(async (trx) => {
      await sealPendingIn(trx as never, 5000)
      return writeCheckpoint(trx, signer, 0, await verifyOnward(trx, undefined))
    })
    t.match(cp, { seq: '2' }, 'the app role writes checkpoints')
  })
})
