import { sql, type Kysely, type Transaction } from 'kysely'
import type { Logger } from 'pino'
import type { Database } from '../../db/database.ts'
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
