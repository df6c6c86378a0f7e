import { createHash } from 'node:crypto'
import { sql, type Kysely } from 'kysely'
import type { Database } from '../../db/database.ts'

/** The columns a seal covers, rendered as text by Postgres so both engines hash identical bytes. */
export interface SealableRow {
  id: string
  occurredAt: string
  requestId: string | null
  actorSub: string | null
  actorRoles: string[]
  facilityId: string | null
  action: string
  verb: string
  resourceType: string
  resourceId: string | null
  patientId: string | null
  outcome: string
  purposeOfUse: string | null
  clientIp: string | null
  userAgent: string | null
  breakGlass: boolean
  detail: string | null
}

export const GENESIS = Buffer.alloc(32)

export function canonical(seq: string, r: SealableRow): string {
  return JSON.stringify([
    seq, r.id, r.occurredAt, r.requestId, r.actorSub, r.actorRoles, r.facilityId, r.action, r.verb, r.resourceType,
    r.resourceId, r.patientId, r.outcome, r.purposeOfUse, r.clientIp, r.userAgent, r.breakGlass, r.detail,
  ])
}

/** hash = sha256(prev_hash || canonical(row)): altering or removing a row breaks every later link. */
export const chainHash = (prev: Buffer, seq: string, row: SealableRow) =>
  createHash('sha256').update(prev).update(canonical(seq, row)).digest()

export function sealableColumns(db: Kysely<Database>) {
  return db.selectFrom('auditEvent').select([
    sql<string>`id::text`.as('id'),
    sql<string>`to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`.as('occurredAt'),
    'requestId', 'actorSub', 'actorRoles', 'facilityId', 'action', 'verb', 'resourceType', 'resourceId', 'patientId',
    'outcome', 'purposeOfUse', 'clientIp', 'userAgent', 'breakGlass',
    sql<string | null>`detail::text`.as('detail'),
  ])
}

export const toBuffer = (b: Uint8Array | Buffer | null) => (b ? Buffer.from(b) : null)

export interface ChainVerification {
  ok: boolean
  checked: number
  firstBrokenSeq: string | null
  firstBrokenEventId: string | null
  reason: string | null
  unsealedOverdue: number
  head: { seq: string; hash: string } | null
}

/**
 * Walks the sealed chain in seq order, a page at a time (never the whole table in memory), and
 * recomputes every link. Unsealed rows older than `overdueAfterMs` are a fault too: the sealer
 * should have reached them.
 */
export async function verifyChain(db: Kysely<Database>, opts: { overdueAfterMs: number; pageSize?: number }): Promise<ChainVerification> {
  const pageSize = opts.pageSize ?? 5000
  let prev = GENESIS
  let expectedSeq = 1n
  let checked = 0
  let head: ChainVerification['head'] = null
  const fail = (seq: string | null, id: string | null, reason: string) => ({ ok: false, checked, firstBrokenSeq: seq, firstBrokenEventId: id, reason, unsealedOverdue: 0, head })
  for (;;) {
    const rows = await sealableColumns(db)
      .select([sql<string>`seq::text`.as('seqText'), 'prevHash', 'hash'])
      .where('seq', 'is not', null)
      .where('seq', '>=', (expectedSeq).toString())
      .orderBy('seq')
      .limit(pageSize)
      .execute()
    for (const row of rows) {
      if (BigInt(row.seqText) !== expectedSeq) return fail(expectedSeq.toString(), null, `event with seq ${expectedSeq} is missing`)
      const prevHash = toBuffer(row.prevHash)
      if (!prevHash || !prevHash.equals(prev)) return fail(row.seqText, row.id, 'prev_hash does not match the previous event')
      const computed = chainHash(prev, row.seqText, row)
      if (!computed.equals(toBuffer(row.hash)!)) return fail(row.seqText, row.id, 'content does not match its hash')
      prev = computed
      head = { seq: row.seqText, hash: computed.toString('hex') }
      expectedSeq++
      checked++
    }
    if (rows.length < pageSize) break
  }
  const overdue = await db
    .selectFrom('auditEvent')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('seq', 'is', null)
    .where('occurredAt', '<', sql<Date>`now() - make_interval(secs => ${opts.overdueAfterMs / 1000})`)
    .executeTakeFirstOrThrow()
  const unsealedOverdue = Number(overdue.n)
  if (unsealedOverdue > 0) return { ...fail(null, null, 'events older than the sealing interval are unsealed'), unsealedOverdue }
  return { ok: true, checked, firstBrokenSeq: null, firstBrokenEventId: null, reason: null, unsealedOverdue: 0, head }
}
