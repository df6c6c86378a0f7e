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
  if (events.length > 0) await auditInsert(events).execute(db)
}

/**
 * The same INSERT as a statement fragment, for a write that carries its audit event in its own
 * statement (a data-modifying CTE): one round trip fewer, and the event exists exactly when the
 * write does. `onlyIf`: a condition on the statement's other parts (the write happened).
 */
export function auditInsert(events: NewAuditEvent[], onlyIf?: RawBuilder<boolean>): RawBuilder<unknown> {
  return insertAuditGroups(encodeAuditEvents(events).map((g) => g.json), onlyIf)
}

/** Events as the INSERT reads them: one group's JSON text, and how many events it holds. */
export interface EncodedAuditGroup {
  json: string
  events: number
}

/** An event's given time as it is encoded (a Date's String() would drop its milliseconds). */
const instant = (t: NewAuditEvent['occurredAt']) => (t instanceof Date ? t.toISOString() : t ?? null)

/** Everything of an event but what it is about: what consecutive events must share to be one group. */
const sameAct = (a: NewAuditEvent, b: NewAuditEvent) =>
  a.requestId === b.requestId && a.actorSub === b.actorSub && a.action === b.action && a.verb === b.verb &&
  a.resourceType === b.resourceType && a.outcome === b.outcome && a.purposeOfUse === b.purposeOfUse && a.clientIp === b.clientIp &&
  a.userAgent === b.userAgent && instant(a.occurredAt) === instant(b.occurredAt) &&
  (a.actorRoles ?? []).length === (b.actorRoles ?? []).length && (a.actorRoles ?? []).every((r, i) => r === b.actorRoles?.[i])

/**
 * Events as groups of consecutive events that share who, why, from where and what was done, each
 * group `{"c": <the shared fields>, "d": <the first event's detail>, "e": [[facility, resource,
 * patient, break glass(, detail)], ...]}`: the shared fields once, then per event what it is about,
 * its detail only where it differs from the group's. A search's events (one per patient shown,
 * all of one request) are one group: a third of the bytes that many whole events were to encode,
 * send and parse (the INSERT's share of Postgres's time per event fell from 35 to 24 us). At most
 * `maxEvents` events per group.
 */
export function encodeAuditEvents(events: NewAuditEvent[], maxEvents = Infinity): EncodedAuditGroup[] {
  const groups: EncodedAuditGroup[] = []
  let first: NewAuditEvent | undefined
  let entries: string[] = []
  const close = () => {
    if (!first) return
    const shared = JSON.stringify({
      occurred_at: first.occurredAt ?? null, request_id: first.requestId ?? null, actor_sub: first.actorSub ?? null, actor_roles: first.actorRoles ?? [],
      action: first.action, verb: first.verb, resource_type: first.resourceType, outcome: first.outcome, purpose_of_use: first.purposeOfUse ?? null,
      client_ip: first.clientIp ?? null, user_agent: first.userAgent ?? null,
    })
    // detail is already JSON text (auditEvent): spliced in as the value it encodes.
    groups.push({ json: `{"c":${shared},"d":${first.detail ?? 'null'},"e":[${entries.join(',')}]}`, events: entries.length })
  }
  for (const e of events) {
    if (!first || entries.length >= maxEvents || !sameAct(first, e)) {
      close()
      first = e
      entries = []
    }
    const about = JSON.stringify([e.facilityId ?? null, e.resourceId ?? null, e.patientId ?? null, e.breakGlass ?? false])
    const detail = e.detail ?? null
    entries.push(detail === (first.detail ?? null) ? about : `${about.slice(0, -1)},${detail ?? 'null'}]`)
  }
  close()
  return groups
}

function insertAuditGroups(groups: string[], onlyIf?: RawBuilder<boolean>): RawBuilder<unknown> {
  // An entry's fifth element, where present, is its own detail (JSON null: none).
  return sql`
    INSERT INTO audit_event (occurred_at, request_id, actor_sub, actor_roles, facility_id, action, verb, resource_type, resource_id,
                             patient_id, outcome, purpose_of_use, client_ip, user_agent, break_glass, detail)
    SELECT coalesce(c.occurred_at, clock_timestamp()), c.request_id, c.actor_sub, c.actor_roles, (e->>0)::uuid, c.action, c.verb, c.resource_type,
           e->>1, (e->>2)::uuid, c.outcome, c.purpose_of_use, c.client_ip, c.user_agent, (e->>3)::boolean,
           CASE WHEN jsonb_array_length(e) > 4 THEN nullif(e->4, 'null') ELSE nullif(g->'d', 'null') END
      FROM jsonb_array_elements(${`[${groups.join(',')}]`}::jsonb) AS g,
           jsonb_to_record(g->'c') AS c(occurred_at timestamptz, request_id text, actor_sub text, actor_roles text[], action text, verb text,
             resource_type text, outcome text, purpose_of_use text, client_ip text, user_agent text),
           jsonb_array_elements(g->'e') AS e${onlyIf ? sql` WHERE ${onlyIf}` : sql``}`
}

interface Pending {
  /** Events as the INSERT reads them (encodeAuditEvents), encoded when they are handed in. */
  group: EncodedAuditGroup
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
   * one of them has committed. They are encoded as they are handed in: a queued group is one
   * string, not an object graph for the garbage collector to copy while the request waits.
   */
  writeAll(events: NewAuditEvent[]): Promise<void> {
    if (events.length === 0) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const groups = encodeAuditEvents(events, this.maxBatch)
      let left = groups.length
      const done = () => {
        if (--left === 0) resolve()
      }
      for (const group of groups) this.queue.push({ group, resolve: done, reject })
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
      // Groups in order, up to maxBatch events (a group is never split: it holds at most that many).
      let n = 0
      let events = 0
      while (n < this.queue.length && (n === 0 || events + this.queue[n].group.events <= this.maxBatch)) events += this.queue[n++].group.events
      const batch = this.queue.splice(0, n)
      this.inFlight++
      insertAuditGroups(batch.map((p) => p.group.json))
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
