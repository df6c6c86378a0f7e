import { sql, type Kysely } from 'kysely'
import type { Logger } from 'pino'
import type { Database } from '../../db/database.ts'
import { chainHash, GENESIS, sealableColumns, toBuffer } from './audit-chain.ts'

// Any node may run a sealer; the advisory lock lets one at a time extend the chain.
const SEAL_LOCK = 0x6175_6469 // "audi"

/**
 * Appends are cheap and concurrent; chaining is done here, afterwards, one sealer at a time:
 * committed unsealed rows get the next seq and hash = sha256(prev_hash || canonical(row)).
 * A writer never waits for the chain's tail, so audited requests never serialise on it.
 */
export async function sealPending(db: Kysely<Database>, maxRows = 5000): Promise<number> {
  return db.transaction().execute(async (trx) => {
    const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_xact_lock(${SEAL_LOCK}) as locked`.execute(trx)
    if (!rows[0]?.locked) return 0
    const pending = await sealableColumns(trx).where('seq', 'is', null).orderBy('id').limit(maxRows).execute()
    if (pending.length === 0) return 0
    const tail = await trx
      .selectFrom('auditEvent')
      .select([sql<string>`seq::text`.as('seqText'), 'hash'])
      .where('seq', 'is not', null)
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst()
    let prev = toBuffer(tail?.hash ?? null) ?? GENESIS
    let seq = BigInt(tail?.seqText ?? '0')
    const ids: string[] = []
    const seqs: string[] = []
    const prevs: string[] = []
    const hashes: string[] = []
    for (const row of pending) {
      seq++
      const hash = chainHash(prev, seq.toString(), row)
      ids.push(row.id)
      seqs.push(seq.toString())
      prevs.push(prev.toString('hex'))
      hashes.push(hash.toString('hex'))
      prev = hash
    }
    await sql`
      UPDATE audit_event a
      SET seq = v.seq, prev_hash = decode(v.prev, 'hex'), hash = decode(v.hash, 'hex'), sealed_at = now()
      FROM unnest(${ids}::bigint[], ${seqs}::bigint[], ${prevs}::text[], ${hashes}::text[]) AS v(id, seq, prev, hash)
      WHERE a.id = v.id`.execute(trx)
    return pending.length
  })
}

export class AuditSealer {
  private timer: NodeJS.Timeout | undefined
  private running: Promise<unknown> = Promise.resolve()

  constructor(
    private readonly db: Kysely<Database>,
    private readonly intervalMs: number,
    private readonly log: Pick<Logger, 'warn'>,
  ) {}

  start() {
    this.timer = setInterval(() => {
      this.running = this.running.then(() => this.sealAll()).catch((err) => this.log.warn({ err: { code: err?.code } }, 'audit sealing failed; will retry'))
    }, this.intervalMs)
    this.timer.unref()
  }

  /** Seals until nothing is pending (tests and shutdown). */
  async sealAll(): Promise<number> {
    let total = 0
    for (;;) {
      const n = await sealPending(this.db)
      total += n
      if (n === 0) return total
    }
  }

  async stop() {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
    await this.running.catch(() => undefined)
  }
}
