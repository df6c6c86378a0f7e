import type { Kysely } from 'kysely'
import type { AuditAction, AuditOutcome, Database, NewAuditEvent } from '../db/database.ts'
import type { RequestContext } from './context.ts'

export interface AuditFields {
  action: AuditAction
  /** Domain verb, `<resource>.<verb>`: `patient.read`, `appointment.cancel`. */
  verb: string
  resourceType: string
  resourceId?: string | null
  patientId?: string | null
  facilityId?: string | null
  outcome?: AuditOutcome
  breakGlass?: boolean
  /** Non-PHI facts worth keeping: an override reason code, a query's filter names. */
  detail?: Record<string, unknown>
}

export function auditEvent(ctx: RequestContext, f: AuditFields): NewAuditEvent {
  return {
    requestId: ctx.requestId,
    actorSub: ctx.principal?.sub ?? null,
    actorRoles: ctx.principal?.roles ?? [],
    facilityId: f.facilityId ?? null,
    action: f.action,
    verb: f.verb,
    resourceType: f.resourceType,
    resourceId: f.resourceId ?? null,
    patientId: f.patientId ?? null,
    outcome: f.outcome ?? 'success',
    purposeOfUse: ctx.purposeOfUse,
    clientIp: ctx.clientIp,
    userAgent: ctx.userAgent,
    breakGlass: f.breakGlass ?? false,
    detail: f.detail ? JSON.stringify(f.detail) : null,
  }
}

/** The one INSERT for audit events: inside a write's transaction, or by the group-commit writer. */
export async function insertAuditEvents(db: Kysely<Database>, events: NewAuditEvent[]): Promise<void> {
  if (events.length > 0) await db.insertInto('auditEvent').values(events).execute()
}

interface Pending {
  event: NewAuditEvent
  resolve: () => void
  reject: (err: unknown) => void
}

/**
 * Group commit for the audit events of reads. A single-row INSERT per read would cap audited
 * reads at the single-row insert rate; instead events that arrive while a flush is in flight
 * are written together by the next multi-row INSERT. Each caller's promise settles when the
 * INSERT holding its event has committed, so no response leaves before its audit event is durable.
 */
export class AuditWriter {
  private queue: Pending[] = []
  private inFlight = 0
  private scheduled = false
  private idleWaiters: (() => void)[] = []

  constructor(
    private readonly db: Kysely<Database>,
    private readonly maxBatch = 500,
    private readonly maxInFlight = 2,
  ) {}

  write(event: NewAuditEvent): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ event, resolve, reject })
      this.schedule()
    })
  }

  /** Resolves once every event handed in so far has been written (shutdown). */
  drain(): Promise<void> {
    if (this.queue.length === 0 && this.inFlight === 0) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  private schedule() {
    if (this.scheduled || this.inFlight >= this.maxInFlight) return
    this.scheduled = true
    // setImmediate lets the events of every request handled in this turn of the event loop
    // join one batch.
    setImmediate(() => {
      this.scheduled = false
      this.flush()
    })
  }

  private flush() {
    while (this.queue.length > 0 && this.inFlight < this.maxInFlight) {
      const batch = this.queue.splice(0, this.maxBatch)
      this.inFlight++
      insertAuditEvents(
        this.db,
        batch.map((p) => p.event),
      )
        .then(
          () => batch.forEach((p) => p.resolve()),
          (err) => batch.forEach((p) => p.reject(err)),
        )
        .finally(() => {
          this.inFlight--
          if (this.queue.length > 0) this.schedule()
          else if (this.inFlight === 0) this.idleWaiters.splice(0).forEach((w) => w())
        })
    }
  }
}
