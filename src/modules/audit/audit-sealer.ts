import { sql, type Kysely, type Transaction } from 'kysely'
import type { Logger } from 'pino'
import type { Database } from '../../db/database.ts'
import { verifyOnward, writeCheckpoint, type VerifiedPoint } from './audit-checkpoint.ts'
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

/**
 * One sealing step inside the caller's transaction (which must commit for the seal to count):
 * the queue's oldest statements, at least `maxRows` events of them when there are that many (a
 * statement's events are sealed together), returning how many events it sealed.
 */
export async function sealPendingIn(trx: Transaction<Database>, maxRows = 5000): Promise<number> {
  const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_xact_lock(${SEAL_LOCK}) as locked`.execute(trx)
  if (!rows[0]?.locked) return 0
  // The step is the database's audit_seal_pending (migration 20261128T150000Z), SECURITY DEFINER:
  // the application role cannot take rows off the queue or write seals otherwise.
  //
  // Why no event is skipped: its queue row commits with it (the queueing trigger, one row per
  // appending statement), so an event whose transaction was still open when later ones were
  // sealed is found here once it commits; and a queue row leaves the queue only in the statement
  // that seals its events, deleted by key, so a row committed in between stays for the next step.
  //
  // Which statements a step takes, and why events are still chained in id order, is said with
  // the function (migration 20261128T150000Z).
  const { rows: sealed } = await sql<{ n: string }>`SELECT audit_seal_pending(${maxRows}::int)::text AS n`.execute(trx)
  return Number(sealed[0].n)
}

/**
 * Seals every interval and, when a signer is given, recomputes what it sealed (verifyOnward, at
 * most `verifyPerStep` seals a step: 50,000 is about 0.4 s of one core, reached only while catching
 * up after a start) and signs a checkpoint of the point recomputed at most every
 * `checkpointIntervalMs`. Each node keeps its own recomputed point: with several nodes each one
 * recomputes the chain as it grows.
 */
export class AuditSealer {
  private timer: NodeJS.Timeout | undefined
  private running: Promise<unknown> = Promise.resolve()
  /**
   * Recomputed through here, from a signed checkpoint. Kept when the chain no longer verifies:
   * recomputed afresh from the checkpoint, a chain rewritten and re-hashed behind this point would
   * pass, and be signed.
   */
  private verified: VerifiedPoint | undefined

  constructor(
    private readonly db: Kysely<Database>,
    private readonly intervalMs: number,
    private readonly log: Pick<Logger, 'warn' | 'error'>,
    readonly signer?: AuditSigner,
    private readonly checkpointIntervalMs = 60_000,
    private readonly verifyPerStep = 50_000,
  ) {}

  start() {
    this.timer = setInterval(() => {
      this.running = this.running.then(() => this.step()).catch((err) => {
        if (err?.broken) this.log.error({ seq: err.broken.seq, reason: err.broken.reason }, 'audit chain does not verify; no checkpoint signed')
        else this.log.warn({ err: { code: err?.code } }, 'audit sealing failed; will retry')
      })
    }, this.intervalMs)
    this.timer.unref()
  }

  /** One tick: seal what is pending; with a signer, recompute onward and sign when a checkpoint is due. */
  async step() {
    await this.sealAll()
    if (this.signer) return this.verifyAndSign(this.verifyPerStep, this.checkpointIntervalMs)
  }

  private async verifyAndSign(maxEvents: number, minIntervalMs: number) {
    this.verified = await verifyOnward(this.db, this.verified, maxEvents)
    return writeCheckpoint(this.db, this.signer!, minIntervalMs, this.verified)
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

  /** Recomputes through the current head and signs it now, whatever the interval (tests, shutdown, the bench). */
  checkpoint() {
    if (!this.signer) throw new Error('no audit signing key')
    return this.verifyAndSign(Number.POSITIVE_INFINITY, 0)
  }

  async stop() {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
    await this.running.catch(() => undefined)
  }
}
