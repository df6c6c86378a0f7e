import { sql, type Kysely, type Transaction } from 'kysely'
import type { Logger } from 'pino'
import type { Database } from '../../db/database.ts'
import { chainHash, chainHead, GENESIS, sealableColumns } from './audit-chain.ts'
import { writeCheckpoint } from './audit-checkpoint.ts'
import type { AuditSigner } from './audit-signing.ts'

// Any node may run a sealer; the advisory lock lets one at a time extend the chain.
const SEAL_LOCK = 0x6175_6469 // "audi"

/**
 * Appends are cheap and concurrent; chaining is done here, afterwards, one sealer at a time:
 * committed events still queued in audit_pending get the next seq and
 * hash = sha256(prev_hash || canonical(event)), as a new audit_seal row (the event itself is
 * never updated). A writer never waits for the chain's tail, so audited requests never
 * serialise on it.
 */
export function sealPending(db: Kysely<Database>, maxRows = 5000): Promise<number> {
  return db.transaction().execute((trx) => sealPendingIn(trx, maxRows))
}

/** One sealing step inside the caller's transaction (which must commit for the seal to count). */
export async function sealPendingIn(trx: Transaction<Database>, maxRows = 5000): Promise<number> {
  const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_xact_lock(${SEAL_LOCK}) as locked`.execute(trx)
  if (!rows[0]?.locked) return 0
  // Why no event is skipped: its pending row commits with it (the queueing trigger), so an
  // event whose transaction was still open when later ones were sealed is found here once it
  // commits; and a pending row leaves the queue only in the statement that seals its event,
  // deleted by id rather than by range, so a row committed in between stays for the next step.
  // The queue's head first, then its events by primary key: written as a join, the planner
  // chose a merge join that read audit_event from its first id at every batch (100 million
  // tuples fetched to seal a million events).
  const pending = await sealableColumns(trx)
    .where(sql<boolean>`audit_event.id = ANY(ARRAY(SELECT event_id FROM audit_pending ORDER BY event_id LIMIT ${maxRows}))`)
    .orderBy('auditEvent.id')
    .execute()
  if (pending.length === 0) return 0
  const tail = await chainHead(trx)
  let prev = tail?.hash ?? GENESIS
  let seq = BigInt(tail?.seq ?? '0')
  const ids: string[] = []
  const seqs: string[] = []
  const prevs: string[] = []
  const hashes: string[] = []
  for (const row of pending) {
    seq++
    const hash = chainHash(prev, seq.toString(), row.tail)
    ids.push(row.id)
    seqs.push(seq.toString())
    prevs.push(prev.toString('hex'))
    hashes.push(hash.toString('hex'))
    prev = hash
  }
  // Sealed and dequeued in one statement (a data-modifying WITH must be top level).
  await sql`
    WITH dequeued AS (DELETE FROM audit_pending WHERE event_id = ANY(${ids}::bigint[]))
    INSERT INTO audit_seal (seq, event_id, prev_hash, hash)
    SELECT v.seq, v.id, decode(v.prev, 'hex'), decode(v.hash, 'hex')
    FROM unnest(${ids}::bigint[], ${seqs}::bigint[], ${prevs}::text[], ${hashes}::text[]) AS v(id, seq, prev, hash)`.execute(trx)
  return pending.length
}

/**
 * Seals every interval and, when a signer is given, signs a checkpoint of the chain head at
 * most every `checkpointIntervalMs` (only after the events since the previous checkpoint
 * have been recomputed).
 */
export class AuditSealer {
  private timer: NodeJS.Timeout | undefined
  private running: Promise<unknown> = Promise.resolve()

  constructor(
    private readonly db: Kysely<Database>,
    private readonly intervalMs: number,
    private readonly log: Pick<Logger, 'warn' | 'error'>,
    readonly signer?: AuditSigner,
    private readonly checkpointIntervalMs = 60_000,
  ) {}

  start() {
    this.timer = setInterval(() => {
      this.running = this.running.then(() => this.tick()).catch((err) => {
        if (err?.broken) this.log.error({ seq: err.broken.seq, reason: err.broken.reason }, 'audit chain does not verify; no checkpoint signed')
        else this.log.warn({ err: { code: err?.code } }, 'audit sealing failed; will retry')
      })
    }, this.intervalMs)
    this.timer.unref()
  }

  private async tick() {
    await this.sealAll()
    if (this.signer) await writeCheckpoint(this.db, this.signer, this.checkpointIntervalMs)
  }

  /** Seals until nothing is pending (tests and shutdown). */
  async sealAll(maxRowsPerBatch?: number): Promise<number> {
    let total = 0
    for (;;) {
      const n = await sealPending(this.db, maxRowsPerBatch)
      total += n
      if (n === 0) return total
    }
  }

  /** Signs a checkpoint of the current head now, whatever the interval (tests, shutdown, the bench). */
  checkpoint() {
    if (!this.signer) throw new Error('no audit signing key')
    return writeCheckpoint(this.db, this.signer, 0)
  }

  async stop() {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
    await this.running.catch(() => undefined)
  }
}
