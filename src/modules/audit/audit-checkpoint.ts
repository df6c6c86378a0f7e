import type { Kysely } from 'kysely'
import type { Database } from '../../db/database.ts'
import { chainHead, checkpointColumns, GENESIS, latestCheckpoint, storedHashAt, toCheckpoint, walkChainInParallel, type ChainBreak } from './audit-chain.ts'
import { checkpointMessage, type AuditSigner } from './audit-signing.ts'

type Checkpoint = NonNullable<Awaited<ReturnType<typeof latestCheckpoint>>>

export class ChainBrokenError extends Error {
  constructor(readonly broken: ChainBreak) {
    super(`audit chain is broken at seq ${broken.seq}: ${broken.reason}`)
  }
}

/** A seal whose hash has been recomputed from a signed checkpoint's (or from the genesis, seq 0). */
export interface VerifiedPoint {
  seq: string
  hash: Buffer
}

const GENESIS_POINT: VerifiedPoint = { seq: '0', hash: GENESIS }

/**
 * Recomputes the chain onward from `from` (what an earlier call returned; from the latest
 * checkpoint when `from` is missing or behind it), at most `maxEvents` seals, and returns the
 * point reached. Throws ChainBrokenError when a recomputed hash differs, or when the stored hash
 * at the starting point (the latest checkpoint's, or `from`'s) is no longer the one recomputed or
 * signed there: a chain rewritten behind that point.
 *
 * The sealer calls this at every tick for what it has sealed since, so the recomputation a
 * checkpoint needs is spread over the interval: done all at once before signing, it walked a
 * minute of events (a million under the bench's name search load) on two connections at full
 * speed, and every request of those seconds waited for the cores: the name search's p99 was 154
 * and 245 ms in the 10 s rounds that held such a walk, 91-129 ms in the others.
 */
export async function verifyOnward(db: Kysely<Database>, from: VerifiedPoint | undefined, maxEvents = Number.POSITIVE_INFINITY): Promise<VerifiedPoint> {
  const last = await latestCheckpoint(db)
  if (last && !(await storedHashAt(db, BigInt(last.seq)))?.equals(last.hash)) {
    throw new ChainBrokenError({ seq: last.seq, eventId: null, reason: 'the chain no longer matches the latest signed checkpoint' })
  }
  const start = from && (!last || BigInt(from.seq) >= BigInt(last.seq)) ? from : last ? { seq: last.seq, hash: last.hash } : GENESIS_POINT
  if (start === from && from.seq !== '0' && !(await storedHashAt(db, BigInt(from.seq)))?.equals(from.hash)) {
    throw new ChainBrokenError({ seq: from.seq, eventId: null, reason: 'the chain no longer matches the hash recomputed there' })
  }
  const head = await chainHead(db)
  if (!head || BigInt(head.seq) <= BigInt(start.seq)) return start
  const bound = BigInt(start.seq) + BigInt(Math.min(maxEvents, Number.MAX_SAFE_INTEGER))
  const toSeq = BigInt(head.seq) < bound ? BigInt(head.seq) : bound
  // Spans of two pages or more go on two connections (a whole chain's first checkpoint); a
  // tick's share is one page, on one.
  const walk = await walkChainInParallel(db, { fromSeq: BigInt(start.seq) + 1n, toSeq, prev: start.hash })
  if (walk.broken) throw new ChainBrokenError(walk.broken)
  return walk.head ?? start
}

/**
 * Signs `point` (verifyOnward's: recomputed from the previous checkpoint's hash, since a key that
 * vouched for a tampered head would vouch for the tampering), unless it is not past the latest
 * checkpoint or that one is younger than `minIntervalMs`. Any node may run this; the seq primary
 * key keeps one checkpoint per point.
 */
export async function writeCheckpoint(db: Kysely<Database>, signer: AuditSigner, minIntervalMs: number, point: VerifiedPoint): Promise<Checkpoint | undefined> {
  const last = await latestCheckpoint(db)
  if (point.seq === '0' || (last && BigInt(last.seq) >= BigInt(point.seq))) return undefined
  if (last && Date.now() - last.signedAt.getTime() < minIntervalMs) return undefined
  const signedAt = new Date()
  const row = await db
    .insertInto('auditCheckpoint')
    .values({ seq: point.seq, hash: point.hash, signedAt, keyId: signer.keyId, signature: signer.sign(checkpointMessage(point.seq, point.hash.toString('hex'), signedAt)) })
    .onConflict((oc) => oc.column('seq').doNothing())
    .returning(checkpointColumns)
    .executeTakeFirst()
  return row && toCheckpoint(row)
}
