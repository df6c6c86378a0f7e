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

/**
 * Signs the chain head, unless it has not moved or the latest checkpoint is younger than
 * `minIntervalMs`. Before signing, the events since the previous checkpoint are recomputed
 * from that checkpoint's hash: a key that vouched for a tampered head would vouch for the
 * tampering. Any node may run this; the seq primary key keeps one checkpoint per head.
 */
export async function writeCheckpoint(db: Kysely<Database>, signer: AuditSigner, minIntervalMs: number): Promise<Checkpoint | undefined> {
  const head = await chainHead(db)
  const last = await latestCheckpoint(db)
  if (!head || (last && BigInt(last.seq) >= BigInt(head.seq))) return undefined
  if (last && Date.now() - last.signedAt.getTime() < minIntervalMs) return undefined
  if (last) {
    const stored = await storedHashAt(db, BigInt(last.seq))
    if (!stored || !stored.equals(last.hash)) throw new ChainBrokenError({ seq: last.seq, eventId: null, reason: 'the chain no longer matches the latest signed checkpoint' })
  }
  const walk = await walkChainInParallel(db, { fromSeq: last ? BigInt(last.seq) + 1n : 1n, toSeq: BigInt(head.seq), prev: last?.hash ?? GENESIS })
  if (walk.broken) throw new ChainBrokenError(walk.broken)
  const signedAt = new Date()
  const hashHex = head.hash.toString('hex')
  const row = await db
    .insertInto('auditCheckpoint')
    .values({ seq: head.seq, hash: head.hash, signedAt, keyId: signer.keyId, signature: signer.sign(checkpointMessage(head.seq, hashHex, signedAt)) })
    .onConflict((oc) => oc.column('seq').doNothing())
    .returning(checkpointColumns)
    .executeTakeFirst()
  return row && toCheckpoint(row)
}
