import { sql, type Kysely, type RawBuilder } from 'kysely'
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

/**
 * The one INSERT for audit events: inside a write's transaction, or by the group-commit writer.
 * Every batch, of one event or five hundred, travels as one JSON parameter of the same statement
 * text, so the statement is prepared once per connection; a multi-row VALUES list was a new
 * statement of up to 8,000 parameters for Postgres to parse and plan at every flush.
 */
export async function insertAuditEvents(db: Kysely<Database>, events: NewAuditEvent[]): Promise<void> {
  if (events.length > 0) await insertAuditRows(events.map(auditRow)).execute(db)
}

/**
 * The same INSERT as a statement fragment, for a write that carries its audit event in its own
 * statement (a data-modifying CTE): one round trip fewer, and the event exists exactly when the
 * write does. `onlyIf`: a condition on the statement's other parts (the write happened).
 */
export function auditInsert(events: NewAuditEvent[], onlyIf?: RawBuilder<boolean>): RawBuilder<unknown> {
  return insertAuditRows(events.map(auditRow), onlyIf)
}

/** An event as the JSON object the INSERT reads it from (one element of its recordset). */
function auditRow(e: NewAuditEvent): string {
  const row = JSON.stringify({
    occurred_at: e.occurredAt ?? null, request_id: e.requestId ?? null, actor_sub: e.actorSub ?? null, actor_roles: e.actorRoles ?? [],
    facility_id: e.facilityId ?? null, action: e.action, verb: e.verb, resource_type: e.resourceType, resource_id: e.resourceId ?? null,
    patient_id: e.patientId ?? null, outcome: e.outcome, purpose_of_use: e.purposeOfUse ?? null, client_ip: e.clientIp ?? null,
    user_agent: e.userAgent ?? null, break_glass: e.breakGlass ?? false,
  })
  // detail is already JSON text (auditEvent): spliced in as the object it encodes.
  return `${row.slice(0, -1)},"detail":${e.detail ?? 'null'}}`
}

function insertAuditRows(rows: string[], onlyIf?: RawBuilder<boolean>): RawBuilder<unknown> {
  return sql`
    INSERT INTO audit_event (occurred_at, request_id, actor_sub, actor_roles, facility_id, action, verb, resource_type, resource_id,
                             patient_id, outcome, purpose_of_use, client_ip, user_agent, break_glass, detail)
    SELECT coalesce(occurred_at, clock_timestamp()), request_id, actor_sub, actor_roles, facility_id, action, verb, resource_type, resource_id,
           patient_id, outcome, purpose_of_use, client_ip, user_agent, break_glass, detail
      FROM jsonb_to_recordset(${`[${rows.join(',')}]`}::jsonb) AS v(occurred_at timestamptz, request_id text, actor_sub text, actor_roles text[],
           facility_id uuid, action text, verb text, resource_type text, resource_id text, patient_id uuid, outcome text, purpose_of_use text,
           client_ip text, user_agent text, break_glass boolean, detail jsonb)${onlyIf ? sql` WHERE ${onlyIf}` : sql``}`
}

interface Pending {
  /** The event as the INSERT reads it (auditRow), encoded when it is handed in. */
  row: string
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
    return this.writeAll([event])
  }

  /**
   * Several events (a search's, one per patient shown) with one promise, which settles once every
   * one of them has committed. Each is encoded as it is handed in: a queued event is one string,
   * not an object graph for the garbage collector to copy while the request waits.
   */
  writeAll(events: NewAuditEvent[]): Promise<void> {
    if (events.length === 0) return Promise.resolve()
    return new Promise((resolve, reject) => {
      let left = events.length
      const done = () => {
        if (--left === 0) resolve()
      }
      for (const event of events) this.queue.push({ row: auditRow(event), resolve: done, reject })
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
      insertAuditRows(batch.map((p) => p.row))
        .execute(this.db)
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
