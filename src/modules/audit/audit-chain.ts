import { sql, type Kysely } from 'kysely'
import type { Database } from '../../db/database.ts'
import { checkpointMessage, type AuditSigner } from './audit-signing.ts'

/** The columns a seal covers, as the reference definition `canonical` takes them. */
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

/**
 * The reference definition of what a seal covers: a JSON array of the seq and every column of
 * the event, times in UTC to the microsecond, jsonb as Postgres prints it; the seal's hash is
 * sha256(prev_hash || canonical(seq, event)). The chain is built inside Postgres from
 * `canonicalTail` below, which renders the same bytes (a test holds the two equal on awkward
 * values), by the audit_chain aggregate (migration 20261128T143000Z) in the sealing function
 * audit_seal_pending, whose body carries canonicalTail's text (migration 20261128T150000Z); a
 * test recomputes sealed chains from these definitions.
 */
export function canonical(seq: string, r: SealableRow): string {
  return JSON.stringify([
    seq, r.id, r.occurredAt, r.requestId, r.actorSub, r.actorRoles, r.facilityId, r.action, r.verb, r.resourceType,
    r.resourceId, r.patientId, r.outcome, r.purposeOfUse, r.clientIp, r.userAgent, r.breakGlass, r.detail,
  ])
}

/**
 * `canonical(seq, row)` without its opening `["<seq>"`, rendered by Postgres: to_json escapes
 * exactly as JSON.stringify does, and the text columns go through it as two arrays (one call
 * each instead of one per column; btrim drops just the brackets, since every element starts
 * and ends with a quote or `null`). Rendering and hashing in the database is what lets
 * verification cover a million events in seconds.
 */
export const canonicalTail = sql<string>`',' || btrim(to_json(ARRAY[
      audit_event.id::text, to_char(audit_event.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
      audit_event.request_id, audit_event.actor_sub])::text, '[]')
  || ',' || to_json(audit_event.actor_roles)::text
  || ',' || btrim(to_json(ARRAY[
      audit_event.facility_id::text, audit_event.action, audit_event.verb, audit_event.resource_type, audit_event.resource_id,
      audit_event.patient_id::text, audit_event.outcome, audit_event.purpose_of_use, audit_event.client_ip, audit_event.user_agent])::text, '[]')
  || ',' || CASE WHEN audit_event.break_glass THEN 'true' ELSE 'false' END
  || ',' || coalesce(to_json(audit_event.detail::text)::text, 'null') || ']'`

/** An event's id and the canonical rendering (less its seq) that its seal covers. */
export function sealableColumns(db: Kysely<Database>) {
  return db.selectFrom('auditEvent').select([sql<string>`audit_event.id::text`.as('id'), canonicalTail.as('tail')])
}

export const toBuffer = (b: Uint8Array | Buffer | null) => (b ? Buffer.from(b) : null)

/** Where a walk of the chain stopped being whole. */
export interface ChainBreak {
  seq: string | null
  eventId: string | null
  reason: string
}

interface Walk {
  checked: number
  head: { seq: string; hash: Buffer } | null
  broken: ChainBreak | null
}

/**
 * Checks the chain from `fromSeq` (whose predecessor's hash is `prev`) through `toSeq` (or the
 * head), a seq range of `pageSize` seals per query, inside Postgres: per seal, that its seq
 * follows the previous one, that its prev_hash is the previous seal's hash, and that its hash
 * is sha256(prev_hash || canonical(its event)). By induction from `prev` these three set-wise
 * checks are exactly the sequential recomputation, but no event leaves the database: a million
 * events are twenty queries, and memory stays flat however long the chain.
 */
export async function walkChain(
  db: Kysely<Database>,
  opts: { fromSeq: bigint; toSeq?: bigint; prev: Buffer; pageSize?: number },
): Promise<Walk> {
  const pageSize = BigInt(opts.pageSize ?? 50_000)
  const end = opts.toSeq ?? BigInt((await chainHead(db))?.seq ?? '0')
  let lastSeq = opts.fromSeq - 1n
  let lastHash = opts.prev
  const result = async (verifiedThrough: bigint, broken: ChainBreak | null): Promise<Walk> => {
    const checked = Number(verifiedThrough - (opts.fromSeq - 1n))
    if (checked === 0) return { checked, head: null, broken }
    const hash = verifiedThrough === lastSeq ? lastHash : await storedHashAt(db, verifiedThrough)
    return { checked, head: { seq: verifiedThrough.toString(), hash: hash! }, broken }
  }
  while (lastSeq < end) {
    const to = lastSeq + pageSize < end ? lastSeq + pageSize : end
    // Each seal's event is fetched by a scalar subquery, one primary-key probe per seal in seq
    // order: as a join, the planner chose a merge join that read audit_event from its first id
    // for every page. A seal whose event is gone (only the owner, bypassing the triggers, can do
    // that) has no tail and fails the content check, named as what it is. The outer ORDER BY
    // names page.seq: plain `seq` would be the text output column, and "100" sorts before "99".
    const { rows } = await sql<{ seq: string; id: string; prevSeq: string; missing: boolean; unlinked: boolean; orphan: boolean }>`
      WITH page AS (
        SELECT s.seq, s.event_id, s.prev_hash, s.hash,
               coalesce(lag(s.seq) OVER w, ${lastSeq.toString()}::bigint) AS prev_seq,
               coalesce(lag(s.hash) OVER w, ${lastHash}::bytea) AS prev_stored,
               (SELECT ${canonicalTail} FROM audit_event WHERE audit_event.id = s.event_id) AS tail
        FROM audit_seal s
        WHERE s.seq > ${lastSeq.toString()}::bigint AND s.seq <= ${to.toString()}::bigint
        WINDOW w AS (ORDER BY s.seq)
      )
      SELECT seq::text AS seq, event_id::text AS id, prev_seq::text AS prev_seq, tail IS NULL AS orphan,
             seq <> prev_seq + 1 AS missing, prev_hash IS DISTINCT FROM prev_stored AS unlinked
      FROM page
      WHERE seq <> prev_seq + 1 OR prev_hash IS DISTINCT FROM prev_stored
         OR hash IS DISTINCT FROM sha256(prev_hash || convert_to('["' || seq || '"' || tail, 'UTF8'))
      ORDER BY page.seq
      LIMIT 1`.execute(db)
    const bad = rows[0]
    if (bad) {
      if (bad.missing) {
        const missing = BigInt(bad.prevSeq) + 1n
        return result(missing - 1n, { seq: missing.toString(), eventId: null, reason: `event with seq ${missing} is missing` })
      }
      const reason = bad.unlinked
        ? 'prev_hash does not match the previous event'
        : bad.orphan
          ? 'the event sealed at this seq is missing'
          : 'content does not match its hash'
      return result(BigInt(bad.seq) - 1n, { seq: bad.seq, eventId: bad.id, reason })
    }
    const last = await db
      .selectFrom('auditSeal')
      .select([sql<string>`seq::text`.as('seq'), 'hash'])
      .where('seq', '>', lastSeq.toString())
      .where('seq', '<=', to.toString())
      .orderBy('auditSeal.seq', 'desc')
      .limit(1)
      .executeTakeFirst()
    // No failing event: the page is contiguous from lastSeq + 1 up to its last event, which
    // must be `to`, since events up to `end` exist.
    const reached = last ? BigInt(last.seq) : lastSeq
    if (reached < to) return result(reached, { seq: (reached + 1n).toString(), eventId: null, reason: `event with seq ${reached + 1n} is missing` })
    lastSeq = reached
    lastHash = toBuffer(last!.hash)!
  }
  return result(lastSeq, null)
}

/**
 * walkChain over `segments` consecutive seq spans at once, each on its own connection (so on
 * its own Postgres backend and core). A span starts from the stored hash of the event before
 * it, which the span before checks, so together they check exactly what one walk checks; the
 * earliest break wins.
 */
export async function walkChainInParallel(
  db: Kysely<Database>,
  opts: { fromSeq: bigint; toSeq?: bigint; prev: Buffer; pageSize?: number; segments?: number },
): Promise<Walk> {
  const end = opts.toSeq ?? BigInt((await chainHead(db))?.seq ?? '0')
  const segments = BigInt(opts.segments ?? 2)
  const span = end - opts.fromSeq + 1n
  if (segments < 2n || span < 2n * BigInt(opts.pageSize ?? 50_000)) return walkChain(db, { ...opts, toSeq: end })
  const size = (span + segments - 1n) / segments
  const spans: [bigint, bigint][] = []
  for (let from = opts.fromSeq; from <= end; from += size) spans.push([from, from + size - 1n < end ? from + size - 1n : end])
  const walks = await Promise.all(
    spans.map(async ([from, to], i): Promise<Walk> => {
      const prev = i === 0 ? opts.prev : await storedHashAt(db, from - 1n)
      if (!prev) return { checked: 0, head: null, broken: { seq: String(from - 1n), eventId: null, reason: `event with seq ${from - 1n} is missing` } }
      return walkChain(db, { fromSeq: from, toSeq: to, prev, pageSize: opts.pageSize })
    }),
  )
  let checked = 0
  let head: Walk['head'] = null
  for (const walk of walks) {
    checked += walk.checked
    head = walk.head ?? head
    if (walk.broken) return { checked, head, broken: walk.broken }
  }
  return { checked, head, broken: null }
}

/** The stored hash of the seal at `seq`, or undefined when no event has that seq. */
export async function storedHashAt(db: Kysely<Database>, seq: bigint): Promise<Buffer | undefined> {
  const row = await db.selectFrom('auditSeal').select('hash').where('seq', '=', seq.toString()).executeTakeFirst()
  return row ? toBuffer(row.hash)! : undefined
}

export async function chainHead(db: Kysely<Database>): Promise<{ seq: string; hash: Buffer } | undefined> {
  const row = await db
    .selectFrom('auditSeal')
    .select([sql<string>`seq::text`.as('seq'), 'hash'])
    .orderBy('auditSeal.seq', 'desc')
    .limit(1)
    .executeTakeFirst()
  return row ? { seq: row.seq, hash: toBuffer(row.hash)! } : undefined
}

/** Checkpoint rows with their bytea columns as Buffers (PGlite hands back plain Uint8Arrays). */
export const toCheckpoint = <R extends { hash: Uint8Array; signature: Uint8Array }>(row: R): R & { hash: Buffer; signature: Buffer } => ({
  ...row,
  hash: Buffer.from(row.hash),
  signature: Buffer.from(row.signature),
})

/** bigint as text: PGlite and pg parse int8 differently. */
export const checkpointColumns = [sql<string>`seq::text`.as('seq'), 'hash', 'signedAt', 'keyId', 'signature'] as const

export async function latestCheckpoint(db: Kysely<Database>) {
  const row = await db.selectFrom('auditCheckpoint').select(checkpointColumns).orderBy('auditCheckpoint.seq', 'desc').limit(1).executeTakeFirst()
  return row && toCheckpoint(row)
}

export interface CheckpointCheck {
  seq: string
  hash: string
  signedAt: string
  keyId: string
  signatureValid: boolean
  /** The chain still holds an event at this seq whose hash is the signed one. */
  chainReaches: boolean
}

/**
 * The latest checkpoint against the chain as it is now. A signature that does not verify, or
 * a chain that no longer reaches the signed seq with the signed hash (a cut-off tail, or a
 * rewritten past), is a break.
 */
export async function checkLatestCheckpoint(db: Kysely<Database>, signer: AuditSigner): Promise<{ checkpoint: CheckpointCheck | null; broken: ChainBreak | null }> {
  const cp = await latestCheckpoint(db)
  if (!cp) return { checkpoint: null, broken: null }
  const hashHex = cp.hash.toString('hex')
  const signatureValid = cp.keyId === signer.keyId && signer.verify(checkpointMessage(cp.seq, hashHex, cp.signedAt), cp.signature)
  const stored = await storedHashAt(db, BigInt(cp.seq))
  const chainReaches = stored !== undefined && stored.equals(cp.hash)
  const checkpoint = { seq: cp.seq, hash: hashHex, signedAt: cp.signedAt.toISOString(), keyId: cp.keyId, signatureValid, chainReaches }
  if (!signatureValid) {
    const reason = cp.keyId === signer.keyId ? 'the latest checkpoint signature does not verify' : 'the latest checkpoint was signed by a key this server does not hold'
    return { checkpoint, broken: { seq: cp.seq, eventId: null, reason } }
  }
  if (!chainReaches) {
    const head = await chainHead(db)
    const reason = !head || BigInt(head.seq) < BigInt(cp.seq)
      ? `the chain ends at seq ${head?.seq ?? 0}, before the latest signed checkpoint: events were cut off its tail`
      : stored === undefined
        ? 'the event at the latest signed checkpoint is missing'
        : 'the chain no longer matches the latest signed checkpoint'
    return { checkpoint, broken: { seq: cp.seq, eventId: null, reason } }
  }
  return { checkpoint, broken: null }
}

export interface ChainVerification {
  ok: boolean
  checked: number
  firstBrokenSeq: string | null
  firstBrokenEventId: string | null
  reason: string | null
  unsealedOverdue: number
  head: { seq: string; hash: string } | null
  checkpoint: CheckpointCheck | null
}

export interface VerifyOptions {
  /** Events without a seal older than this are a fault: the sealer should have reached them. */
  overdueAfterMs: number
  /** Limit the walk to the events of [from, to) (see sealedSeqRange). */
  from?: Date
  to?: Date
  /** When given, the latest signed checkpoint is checked too. */
  signer?: AuditSigner
  pageSize?: number
}

/**
 * The smallest seq span holding every sealed event of [from, to). Seq order follows commit
 * order, not occurred_at exactly (a long transaction's event is sealed after later ones), so
 * the ends are the least and greatest seq in the range, not the seqs of its first and last
 * events in time: the range's events joined to their seals, one index probe each (fewer than
 * the walk of the span makes).
 */
async function sealedSeqRange(db: Kysely<Database>, from?: Date, to?: Date): Promise<{ fromSeq: bigint; toSeq?: bigint } | null> {
  if (!from && !to) return { fromSeq: 1n }
  let q = db
    .selectFrom('auditEvent')
    .innerJoin('auditSeal', 'auditSeal.eventId', 'auditEvent.id')
    .select([sql<string | null>`min(audit_seal.seq)::text`.as('first'), sql<string | null>`max(audit_seal.seq)::text`.as('last')])
  if (from) q = q.where('occurredAt', '>=', from)
  if (to) q = q.where('occurredAt', '<', to)
  const { first, last } = await q.executeTakeFirstOrThrow()
  if (first === null || last === null) return null
  return { fromSeq: from ? BigInt(first) : 1n, toSeq: to ? BigInt(last) : undefined }
}

/**
 * Recomputes the hash chain (all of it, or the span of a time range), streaming a page at a
 * time; counts events of the range without a seal that the sealer should have reached (whether
 * still queued or dropped from the queue: the events themselves are compared with the seals);
 * and checks the latest signed checkpoint, which catches what the chain alone cannot: a tail
 * cut off, or a past rewritten and re-hashed by someone holding the database but not the
 * signing key.
 */
export async function verifyChain(db: Kysely<Database>, opts: VerifyOptions): Promise<ChainVerification> {
  let checked = 0
  let head: ChainVerification['head'] = null
  let broken: ChainBreak | null = null
  const range = await sealedSeqRange(db, opts.from, opts.to)
  if (range && (range.toSeq === undefined || range.toSeq >= range.fromSeq)) {
    let prev: Buffer | undefined = GENESIS
    if (range.fromSeq > 1n) prev = await storedHashAt(db, range.fromSeq - 1n)
    if (!prev) {
      broken = { seq: (range.fromSeq - 1n).toString(), eventId: null, reason: `event with seq ${range.fromSeq - 1n} is missing` }
    } else {
      const walk = await walkChainInParallel(db, { fromSeq: range.fromSeq, toSeq: range.toSeq, prev, pageSize: opts.pageSize })
      checked = walk.checked
      head = walk.head && { seq: walk.head.seq, hash: walk.head.hash.toString('hex') }
      broken = walk.broken
    }
  }

  let overdueQuery = db
    .selectFrom('auditEvent')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where(({ not, exists, selectFrom }) => not(exists(selectFrom('auditSeal').select('auditSeal.seq').whereRef('auditSeal.eventId', '=', 'auditEvent.id'))))
    .where('occurredAt', '<', sql<Date>`now() - make_interval(secs => ${opts.overdueAfterMs / 1000})`)
  if (opts.from) overdueQuery = overdueQuery.where('occurredAt', '>=', opts.from)
  if (opts.to) overdueQuery = overdueQuery.where('occurredAt', '<', opts.to)
  const unsealedOverdue = Number((await overdueQuery.executeTakeFirstOrThrow()).n)

  const cp = opts.signer ? await checkLatestCheckpoint(db, opts.signer) : { checkpoint: null, broken: null }
  broken ??= cp.broken
  if (!broken && unsealedOverdue > 0) broken = { seq: null, eventId: null, reason: 'events older than the sealing interval are unsealed' }
  return {
    ok: broken === null,
    checked,
    firstBrokenSeq: broken?.seq ?? null,
    firstBrokenEventId: broken?.eventId ?? null,
    reason: broken?.reason ?? null,
    unsealedOverdue,
    head,
    checkpoint: cp.checkpoint,
  }
}
