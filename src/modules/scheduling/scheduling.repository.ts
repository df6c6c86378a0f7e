import { CompiledQuery, sql, type Kysely, type RawBuilder, type Transaction } from 'kysely'
import type { AppointmentRow, AppointmentTypeRow, AvailabilityExceptionRow, AvailabilityRuleRow, Database, ResourceRow } from '../../db/database.ts'
import { plain, recordset, scopeIds } from '../../db/query-helpers.ts'
import type {} from './scheduling.tables.ts'

type Db = Kysely<Database>
type Trx = Transaction<Database>

export function findFacility(db: Db, id: string, facilityIds: string[] | undefined) {
  let q = db.selectFrom('facility').select(['id', 'organizationId', 'name', 'timeZone', 'kind']).where('id', '=', id)
  if (facilityIds) q = q.where('id', 'in', scopeIds(facilityIds))
  return q.executeTakeFirst()
}

/** Active providers working at the facility. */
const activeProvidersAt = (db: Db, facilityId: string) =>
  db.selectFrom('provider')
    .innerJoin('providerFacility', 'providerFacility.providerId', 'provider.id')
    .where('providerFacility.facilityId', '=', facilityId)
    .where('provider.active', '=', true)

/** An active provider working at the facility (findTarget says the same in text). */
export const findProviderAtFacility = (db: Db, providerId: string, facilityId: string) =>
  activeProvidersAt(db, facilityId).selectAll('provider').where('provider.id', '=', providerId).executeTakeFirst()

/**
 * Up to 50 active providers working at the facility, by id, of the specialty unless it is null: a
 * value, or an expression of the statement this query is part of (findSlotSearch).
 */
export const providersOfSpecialtyAt = (db: Db, facilityId: string, specialtyId: string | null | RawBuilder<string | null>) => {
  const specialty = sql<string | null>`(${specialtyId})::uuid`
  return activeProvidersAt(db, facilityId).select(['provider.id', 'provider.displayName'])
    .where((eb) => eb.or([eb(specialty, 'is', null), eb.exists(eb.selectFrom('providerSpecialty').select('providerSpecialty.providerId')
      .whereRef('providerSpecialty.providerId', '=', 'provider.id').where('providerSpecialty.specialtyId', '=', specialty))]))
    .orderBy('provider.id').limit(50)
}

/** An active appointment type of the organisation: what can be searched, held and booked (facilityAndTypeCtes says the same in text). */
export const findAppointmentType = (db: Db, id: string, organizationId: string) =>
  db.selectFrom('appointmentType').selectAll().where('id', '=', id).where('organizationId', '=', organizationId).where('active', '=', true).executeTakeFirst()

/** What findTarget returns: each part null when it does not exist (or is out of scope, or retired). */
export interface TargetLookup {
  facility: { id: string; organizationId: string; name: string; timeZone: string; kind: string } | null
  providerName: string | null
  type: AppointmentTypeRow | null
  /** Whether the patient is linked to the facility; null when no patient was named. */
  patientLinked: boolean | null
  rules: Pick<AvailabilityRuleRow, 'providerId' | 'resourceId' | 'weekday' | 'startTime' | 'endTime' | 'effectiveFrom' | 'effectiveTo'>[]
  exceptions: Pick<AvailabilityExceptionRow, 'providerId' | 'facilityId' | 'kind' | 'resourceId' | 'startAt' | 'endAt'>[]
  /** The facility's active resources of the kinds the type needs, by name (none when the type is not found). */
  resources: Pick<ResourceRow, 'id' | 'name' | 'kind'>[]
}

// Rows as JSON, with the property names the rest of the code uses (findTarget, findSlotSearch).
const FACILITY_JSON = `json_build_object('id', id, 'organizationId', organization_id, 'name', name, 'timeZone', time_zone, 'kind', kind)`
const TYPE_JSON = `json_build_object('id', t.id, 'organizationId', t.organization_id, 'code', t.code, 'name', t.name, 'specialtyId', t.specialty_id,
  'durationMinutes', t.duration_minutes, 'bufferBeforeMinutes', t.buffer_before_minutes, 'bufferAfterMinutes', t.buffer_after_minutes,
  'resourceKinds', t.resource_kinds, 'requiresReferral', t.requires_referral, 'requiresPriorAuth', t.requires_prior_auth,
  'minimumNoticeMinutes', t.minimum_notice_minutes, 'active', t.active, 'version', t.version, 'createdAt', t.created_at)`
const RULES_JSON = `json_agg(json_build_object('providerId', provider_id, 'resourceId', resource_id, 'weekday', weekday, 'startTime', start_time,
  'endTime', end_time, 'effectiveFrom', effective_from, 'effectiveTo', effective_to))`
const EXCEPTIONS_JSON = `json_agg(json_build_object('providerId', provider_id, 'facilityId', facility_id, 'kind', kind, 'resourceId', resource_id,
  'startAt', start_at, 'endAt', end_at))`

// JSON carries instants as text: turned back into Dates here.
const toType = (t: Record<string, unknown> | null) => t && ({ ...t, createdAt: new Date(t.createdAt as string) } as AppointmentTypeRow)
const toExceptions = (list: Record<string, unknown>[] | null) =>
  (list ?? []).map((e) => ({ ...e, startAt: new Date(e.startAt as string), endAt: new Date(e.endAt as string) }) as TargetLookup['exceptions'][number])

/**
 * Everything a booking, hold or reschedule names, in one statement: the facility (in the caller's
 * scope), the provider working there, the organisation's active appointment type, whether the
 * patient is linked to the facility, the provider's availability rules and exceptions from a day
 * before `start` to a day after the longest appointment could end, and the facility's resources
 * of the kinds the type needs. As seven statements these cost a booking more than the lookups
 * themselves: each one is a socket write and a reply on both sides, about 0.3 ms of CPU on our
 * bench machine. Written as text, as the slot search is: built with Kysely's query builders and
 * mapped through the CamelCasePlugin, this lookup and the booking's insert were a quarter of the
 * app's CPU per booking.
 */
export async function findTarget(
  db: Db,
  q: { facilityId: string; scope: string[] | undefined; providerId: string; appointmentTypeId: string; patientId?: string; start: Date },
): Promise<TargetLookup> {
  const { values, $ } = textStatement()
  const facility = $(q.facilityId, 'uuid')
  const provider = $(q.providerId, 'uuid')
  const start = $(q.start, 'timestamptz')
  // The provider as findProviderAtFacility reads it, the patient as findPatientCore (patients) does.
  const text = `
    WITH ${facilityAndTypeCtes($, facility, q.scope, q.appointmentTypeId)}
    SELECT
      (SELECT ${FACILITY_JSON} FROM f) AS facility,
      (SELECT p.display_name FROM provider p JOIN provider_facility pf ON pf.provider_id = p.id
        WHERE pf.facility_id = ${facility} AND p.active AND p.id = ${provider}) AS "providerName",
      (SELECT ${TYPE_JSON} FROM t) AS type,
      ${q.patientId === undefined ? 'NULL::boolean' : `EXISTS (SELECT FROM patient WHERE id = ${$(q.patientId, 'uuid')} AND (facility_id = ${facility}
        OR EXISTS (SELECT FROM patient_facility pf WHERE pf.patient_id = patient.id AND pf.facility_id = ${facility})))`} AS "patientLinked",
      (SELECT ${RULES_JSON} FROM availability_rule WHERE provider_id = ${provider} AND facility_id = ${facility}) AS rules,
      (SELECT ${EXCEPTIONS_JSON} FROM availability_exception WHERE provider_id = ${provider}
          AND start_at < ${start} + interval '1 day 12 hours' AND end_at > ${start} - interval '1 day') AS exceptions,
      (SELECT json_agg(json_build_object('id', id, 'name', name, 'kind', kind) ORDER BY name, id) FROM resource
        WHERE facility_id = ${facility} AND active AND kind IN (SELECT unnest(resource_kinds) FROM t)) AS resources`
  const { rows } = await plain(db).executeQuery<{
    facility: TargetLookup['facility']; providerName: string | null; type: Record<string, unknown> | null; patientLinked: boolean | null
    rules: TargetLookup['rules'] | null; exceptions: Record<string, unknown>[] | null; resources: TargetLookup['resources'] | null
  }>(CompiledQuery.raw(text, values))
  const r = rows[0]
  return {
    facility: r.facility,
    providerName: r.providerName,
    type: toType(r.type),
    patientLinked: r.patientLinked,
    rules: r.rules ?? [],
    exceptions: toExceptions(r.exceptions),
    resources: r.resources ?? [],
  }
}

/** What findSlotSearch returns: facility and type null when they do not exist (or are out of scope, or retired). */
export interface SlotSearchLookup {
  facility: TargetLookup['facility']
  type: AppointmentTypeRow | null
  /** The named providers who work at the facility (in no order), or up to 50 there of the specialty. */
  providers: { id: string; displayName: string }[]
  /** The facility's active resources of the kinds the type needs, by name. */
  resources: Pick<ResourceRow, 'id' | 'kind'>[]
  rules: TargetLookup['rules']
  exceptions: TargetLookup['exceptions']
  /** Busy time of each of these providers and resources in the search's window, buffers included (as busySpans). */
  busy: Map<string, number[]>
}

/**
 * A statement written as text (see slotSearchStatement), its values numbered as the text uses them:
 * `$(value, type)` is `$n::type`, the parameter holding that value.
 */
function textStatement() {
  const values: unknown[] = []
  const $ = (value: unknown, type: string) => {
    values.push(value)
    return `$${values.length}::${type}`
  }
  return { values, $ }
}

/**
 * A text statement's CTEs `f`, the facility in the caller's scope (facility ids; undefined: every
 * facility), and `t`, the organisation's active appointment type (findTarget, slotSearchStatement).
 */
function facilityAndTypeCtes($: ReturnType<typeof textStatement>['$'], facility: string, scope: string[] | undefined, typeId: string) {
  return `f AS (SELECT id, organization_id, name, time_zone, kind FROM facility WHERE id = ${facility}${scope ? ` AND id = ANY(${$(scopeIds(scope), 'uuid[]')})` : ''}),
    t AS (SELECT * FROM appointment_type WHERE id = ${$(typeId, 'uuid')} AND organization_id = (SELECT organization_id FROM f) AND active)`
}

/**
 * Live reservations `r` overlapping [lo, hi) (SQL expressions). Reservations span at most 2 days
 * (a CHECK), so a start bound lets the btree indexes on (owner, lower(period)) find the window;
 * their periods are [), so with the start before hi, overlapping is ending after lo (cheaper than
 * `&&` with a range built for every row). What is live is the database's reservation_live, which
 * the booking's claim reads too.
 */
const liveIn = (lo: string, hi: string) => `lower(r.period) >= ${lo} - interval '2 days' AND lower(r.period) < ${hi}
      AND upper(r.period) > ${lo} AND reservation_live(r.overbook, r.expires_at)`

/**
 * The spans of the reservations `r` that match, as hex of 16 bytes each: both bounds as Postgres
 * stores them (microseconds since 2000, big-endian int8, timestamptz_send), in index order.
 * Hundreds of reservations per search made their conversion the statement's main cost: as epoch
 * milliseconds (extract gives numeric) in text, 0.5 ms of the backend's time per search; as bytes,
 * next to nothing, and to decode (busyOf) as little.
 */
const spansWhere = (where: string) =>
  `(SELECT encode(string_agg(timestamptz_send(lower(r.period)) || timestamptz_send(upper(r.period)), ''::bytea), 'hex') FROM reservation r WHERE ${where})`

const EPOCH_2000_MS = 946_684_800_000

/**
 * Flat [start, end, start, end, ...] epoch milliseconds of spansWhere's hex, widened to whole
 * milliseconds (start down, end up). Microseconds since 2000 stay exact in a double for 285,000
 * years; they are read as two 32-bit halves.
 */
export function decodeSpans(hex: string | null): number[] {
  if (!hex) return []
  const size = hex.length >> 1
  // One buffer, reused: decoding is synchronous, and a new one per search was garbage to collect.
  if (spanBytes.length < size) {
    spanBytes = Buffer.alloc(size)
    spanView = new DataView(spanBytes.buffer, spanBytes.byteOffset, size)
  }
  spanBytes.write(hex, 0, size, 'hex')
  const out = new Array<number>(size >> 3)
  for (let i = 0, at = 0; at < size; i++, at += 8) {
    const micros = spanView.getInt32(at) * 0x1_0000_0000 + spanView.getUint32(at + 4)
    out[i] = EPOCH_2000_MS + ((i & 1) === 0 ? Math.floor(micros / 1000) : Math.ceil(micros / 1000))
  }
  return out
}
let spanBytes = Buffer.alloc(32 * 1024)
let spanView = new DataView(spanBytes.buffer, spanBytes.byteOffset, spanBytes.length)

/** busy JSON ({ owner: hex or null }) as a Map of flat spans. */
const busyOf = (json: Record<string, string | null> | null) => new Map(Object.entries(json ?? {}).map(([owner, hex]) => [owner, decodeSpans(hex)]))

/**
 * The slot search statement and its values (findSlotSearch); exported for the bench's raw
 * baseline, which sends the same without a snapshot (the lookup read every time).
 */
export function slotSearchStatement(q: SlotSearchQuery, known?: string) {
  const { values, $ } = textStatement()
  const facility = $(q.facilityId, 'uuid')
  const ctes = facilityAndTypeCtes($, facility, q.scope, q.appointmentTypeId)
  // As activeProvidersAt, and providersOfSpecialtyAt when no provider is named.
  const which = q.providerIds
    ? `AND p.id IN (${q.providerIds.map((id) => $(id, 'uuid')).join(', ')})`
    : `AND (coalesce(${$(q.specialtyId ?? null, 'uuid')}, (SELECT specialty_id FROM t)) IS NULL
             OR EXISTS (SELECT FROM provider_specialty ps WHERE ps.provider_id = p.id AND ps.specialty_id = coalesce(${$(q.specialtyId ?? null, 'uuid')}, (SELECT specialty_id FROM t))))
           ORDER BY p.id LIMIT 50`
  const busy = liveIn('(SELECT lo FROM w)', '(SELECT hi FROM w)')
  const snapshot = $(known ?? null, 'pg_snapshot')
  // The lookup is read only when stale: Postgres evaluates a CASE branch's subqueries only when it is taken.
  const ifStale = (expr: string) => `CASE WHEN (SELECT stale FROM v) THEN ${expr} END`
  const text = `
    WITH ${ctes},
    p AS (SELECT p.id, p.display_name FROM provider p JOIN provider_facility pf ON pf.provider_id = p.id
           WHERE pf.facility_id = ${facility} AND p.active ${which}),
    x AS (SELECT id, kind, name FROM resource WHERE facility_id = ${facility} AND active AND kind IN (SELECT unnest(resource_kinds) FROM t)),
    w AS (SELECT ${$(q.from, 'timestamptz')} - make_interval(mins => buffer_before_minutes) AS lo,
                 ${$(q.to, 'timestamptz')} + make_interval(mins => buffer_after_minutes) AS hi FROM t),
    v AS (SELECT ${snapshot} IS NULL OR EXISTS (
            SELECT FROM (SELECT '${NIL_OWNER}'::uuid AS id UNION ALL SELECT id FROM p UNION ALL SELECT id FROM x) o
              JOIN schedule_change c ON c.owner_id = o.id AND c.xid >= pg_snapshot_xmin(${snapshot})
             WHERE NOT pg_visible_in_snapshot(c.xid, ${snapshot})) AS stale)
    SELECT
      (SELECT stale FROM v) AS stale,
      pg_current_snapshot()::text AS snapshot,
      ${ifStale(`(SELECT ${FACILITY_JSON} FROM f)`)} AS facility,
      ${ifStale(`(SELECT ${TYPE_JSON} FROM t)`)} AS type,
      ${ifStale(`(SELECT json_agg(json_build_object('id', id, 'displayName', display_name)) FROM p)`)} AS providers,
      ${ifStale(`(SELECT json_agg(json_build_object('id', id, 'kind', kind) ORDER BY name, id) FROM x)`)} AS resources,
      ${ifStale(`(SELECT ${RULES_JSON} FROM availability_rule WHERE provider_id IN (SELECT id FROM p) AND facility_id = ${facility})`)} AS rules,
      ${ifStale(`(SELECT ${EXCEPTIONS_JSON} FROM availability_exception WHERE provider_id IN (SELECT id FROM p)
          AND start_at < ${$(q.to, 'timestamptz')} AND end_at > ${$(q.expandFrom, 'timestamptz')})`)} AS exceptions,
      ${ifStale(`(SELECT json_object_agg(o.id, o.spans) FROM (
          SELECT p.id, ${spansWhere(`r.provider_id = p.id AND ${busy}`)} AS spans FROM p
          UNION ALL
          SELECT x.id, ${spansWhere(`r.resource_id = x.id AND ${busy}`)} FROM x) o)`)} AS busy,
      ${ifStale(`(SELECT (extract(epoch FROM min(r.expires_at)) * 1000)::bigint::text FROM reservation r
          WHERE r.hold_id IS NOT NULL AND r.expires_at > now() AND (r.provider_id IN (SELECT id FROM p) OR r.resource_id IN (SELECT id FROM x)))`)} AS "holdsExpireAt"`
  return { text, values }
}

/** The owner under which schedule_change logs changes to what a search reads besides reservations. */
const NIL_OWNER = '00000000-0000-0000-0000-000000000000'

export interface SlotSearchQuery {
  facilityId: string
  scope: string[] | undefined
  appointmentTypeId: string
  providerIds?: string[]
  specialtyId?: string
  /** The search's window; its busy time is read with the type's buffers either side. */
  from: Date
  to: Date
  /** From when exceptions count: availability is expanded from a day before `from`. */
  expandFrom: Date
}

/**
 * Everything a slot search reads, in one statement: the facility in the caller's scope, the
 * organisation's active appointment type, the providers (those named, or those of the specialty,
 * the type's when none is named), the resources of the kinds the type needs, the providers' rules
 * at the facility and exceptions overlapping [expandFrom, to), and the busy time of providers and
 * resources over [from - buffer before, to + buffer after). Busy time from before the minimum
 * notice is read too: it cannot overlap a slot the search keeps, and the statement stays one
 * round trip (the two it was cost the app as much as the search's own work).
 *
 * Written as text, not with Kysely's builders (as the patient search, for the same reason): built,
 * compiled and mapped per search they cost the app more CPU than running it. The text depends only
 * on the shape (scoped or not, how many providers named, or none), so each shape is prepared once
 * per connection (createDb). Named providers go in as one parameter each, not as an array: the
 * planner then knows how many in the generic plan too, and Postgres keeps that plan. For an array
 * it assumes ten, judged the generic plan dearer than a custom one and planned every search
 * afresh (0.7 ms under load).
 *
 * `known`: the snapshot of an earlier read of the same search (readSlotSearch keeps them). The
 * lookup is then read only when a transaction that changed these schedules (schedule_change:
 * their providers' and resources' reservations, or the reference rows under the nil owner) has
 * committed since, and the statement otherwise reads only what it needs to tell: the providers
 * and resources, and their log rows from the snapshot's xmin on.
 */
export async function findSlotSearch(db: Db, q: SlotSearchQuery, known?: string): Promise<SlotSearchRead> {
  const { text, values } = slotSearchStatement(q, known)
  const { rows } = await plain(db).executeQuery<{
    stale: boolean; snapshot: string
    facility: TargetLookup['facility']; type: Record<string, unknown> | null; providers: SlotSearchLookup['providers'] | null
    resources: SlotSearchLookup['resources'] | null; rules: TargetLookup['rules'] | null; exceptions: Record<string, unknown>[] | null
    busy: Record<string, string | null> | null; holdsExpireAt: string | null
  }>(CompiledQuery.raw(text, values))
  const r = rows[0]
  if (!r.stale) return { snapshot: known!, lookup: undefined }
  return {
    snapshot: r.snapshot,
    holdsExpireAt: r.holdsExpireAt === null ? undefined : Number(r.holdsExpireAt),
    lookup: {
      facility: r.facility,
      type: toType(r.type),
      providers: r.providers ?? [],
      resources: r.resources ?? [],
      rules: r.rules ?? [],
      exceptions: toExceptions(r.exceptions),
      busy: busyOf(r.busy),
    },
  }
}

/**
 * What findSlotSearch read: the snapshot its lookup is as of, and the lookup, or none when the
 * lookup read under the `known` snapshot is still current (no change to these schedules has
 * committed since). `holdsExpireAt`: when the first live hold among them expires (epoch ms), after
 * which the lookup shows busy time that is free.
 */
export type SlotSearchRead = { snapshot: string; lookup: SlotSearchLookup; holdsExpireAt?: number } | { snapshot: string; lookup: undefined }

export const listResources = (db: Db, facilityId: string, ids?: string[]) => {
  let q = db.selectFrom('resource').selectAll().where('facilityId', '=', facilityId).where('active', '=', true).orderBy('name').orderBy('id')
  if (ids) q = q.where('id', 'in', ids.length ? ids : scopeIds([]))
  return q.execute()
}

export const listRules = (db: Db, providerIds: string[], facilityId: string) =>
  db.selectFrom('availabilityRule').selectAll().where('providerId', 'in', scopeIds(providerIds)).where('facilityId', '=', facilityId).execute()

export const listExceptions = (db: Db, providerIds: string[], facilityId: string | undefined, from: Date, to: Date) => {
  let q = db.selectFrom('availabilityException').selectAll()
    .where('providerId', 'in', scopeIds(providerIds)).where('startAt', '<', to).where('endAt', '>', from)
  if (facilityId) q = q.where('facilityId', '=', facilityId)
  return q.execute()
}

/**
 * Busy time of each provider and resource in [from, to) (live reservations): each owner's spans as
 * flat [start, end, ...] epoch milliseconds (widened to whole milliseconds), in the encoding of
 * spansWhere. A slot search over weeks of a busy calendar reads hundreds of reservations, and
 * parsing each as a row of timestamps cost more than the rest of the search.
 *
 * The values reach the statement as scalar subqueries, which the planner does not look into: a
 * custom plan then costs what the generic one does, so Postgres keeps the generic plan. Seeing
 * them, it judged the generic plan dearer (it assumes ten owners per array) and planned every
 * call afresh (0.5 ms under load), to the same plan: these indexes.
 */
export async function busySpans(db: Db, providerIds: string[], resourceIds: string[], from: Date, to: Date): Promise<Map<string, number[]>> {
  const { values, $ } = textStatement()
  const busy = liveIn(`(SELECT ${$(from, 'timestamptz')})`, `(SELECT ${$(to, 'timestamptz')})`)
  const text = `
    SELECT json_object_agg(o.id, o.spans) AS busy FROM (
      SELECT o.id, ${spansWhere(`r.provider_id = o.id AND ${busy}`)} AS spans FROM unnest((SELECT ${$(providerIds, 'uuid[]')})) o(id)
      UNION ALL
      SELECT o.id, ${spansWhere(`r.resource_id = o.id AND ${busy}`)} FROM unnest((SELECT ${$(resourceIds, 'uuid[]')})) o(id)) o`
  const { rows } = await plain(db).executeQuery<{ busy: Record<string, string | null> | null }>(CompiledQuery.raw(text, values))
  return busyOf(rows[0].busy)
}

/**
 * Serialises bookings per provider and resource (the database's schedule_lock): transaction-scoped
 * advisory locks, in sorted order. Every path that takes time on a schedule, or retires one, takes
 * these; schedule_claim takes them itself.
 */
export async function lockSchedules(trx: Trx, ids: string[]) {
  if (ids.length > 0) await sql`SELECT schedule_lock(${ids}::uuid[])`.execute(trx)
}

/** What a booking, hold or reschedule claims on the schedules of a provider and its resources. */
export interface Claim {
  providerId: string
  appointmentTypeId: string
  resourceIds: string[]
  /** The reserved span, buffers included. */
  from: Date
  to: Date
  overbook: boolean
  /** The appointment being rescheduled: its own time does not count as taken. */
  exceptAppointmentId?: string
}

/** What schedule_claim found: each check, and whether the time may be taken. */
export interface ClaimOutcome {
  providerActive: boolean
  typeActive: boolean
  resourcesActive: boolean
  proceed: boolean
}

/**
 * schedule_claim (see its migrations): the schedules' locks, then whether provider, type and
 * resources are still bookable and (unless overbooking) the time free, expired holds deleted when
 * it proceeds. When the locks are held elsewhere, time already taken by a committed reservation
 * is refused without waiting for them (a burst's losers do not queue behind its winner). Its
 * queries see every commit made before the locks were granted, even as part of a statement that
 * started before (insertAppointmentReserving). A refusal takes no row lock and writes nothing.
 */
const scheduleClaim = (c: Claim) => sql<ClaimOutcome>`schedule_claim(${c.providerId}::uuid, ${c.appointmentTypeId}::uuid, ${c.resourceIds}::uuid[],
  ${c.from}::timestamptz, ${c.to}::timestamptz, ${c.overbook}::boolean, ${c.exceptAppointmentId ?? null}::uuid)`

/** schedule_claim as a statement of its own, for a transaction that goes on to take the time. */
export async function claimBookable(trx: Trx, c: Claim): Promise<ClaimOutcome> {
  const { rows } = await sql<ClaimOutcome>`SELECT * FROM ${scheduleClaim(c)}`.execute(trx)
  return rows[0]
}

/** Expired holds stop counting here: caller holds the advisory locks of these schedules. */
export async function deleteExpiredHolds(trx: Trx, providerIds: string[], resourceIds: string[]) {
  await sql`SELECT schedule_expire_holds(${providerIds}::uuid[], ${resourceIds}::uuid[])`.execute(trx)
}

export interface ReservationOwner {
  appointmentId?: string
  holdId?: string
  surgicalCaseId?: string
  expiresAt?: Date
  overbook?: boolean
}

export async function insertReservations(trx: Trx, owner: ReservationOwner, providerIds: string[], resourceIds: string[], start: Date, end: Date) {
  const base = {
    period: sql<string>`tstzrange(${start}, ${end}, '[)')`,
    appointmentId: owner.appointmentId ?? null,
    holdId: owner.holdId ?? null,
    surgicalCaseId: owner.surgicalCaseId ?? null,
    expiresAt: owner.expiresAt ?? null,
    overbook: owner.overbook ?? false,
  }
  const rows = [
    ...providerIds.map((providerId) => ({ ...base, providerId, resourceId: null })),
    ...resourceIds.map((resourceId) => ({ ...base, providerId: null, resourceId })),
  ]
  await trx.insertInto('reservation').values(rows as never).execute()
}

/** The columns a booking writes, as [property, column, SQL type] for recordset. */
const BOOKING_COLUMNS = [
  ['id', 'id', 'uuid'], ['facilityId', 'facility_id', 'uuid'], ['patientId', 'patient_id', 'uuid'], ['providerId', 'provider_id', 'uuid'],
  ['appointmentTypeId', 'appointment_type_id', 'uuid'], ['resourceIds', 'resource_ids', 'uuid[]'], ['startAt', 'start_at', 'timestamptz'],
  ['endAt', 'end_at', 'timestamptz'], ['overbooked', 'overbooked', 'boolean'], ['overbookReason', 'overbook_reason', 'text'],
  ['referralId', 'referral_id', 'uuid'], ['referralOverrideReason', 'referral_override_reason', 'text'], ['note', 'note', 'text'],
  ['createdBy', 'created_by', 'text'],
] as const

export type NewAppointment = Pick<AppointmentRow, (typeof BOOKING_COLUMNS)[number][0]>

/** Every column of an appointment under AppointmentRow's names, for statements written as text. */
const APPOINTMENT_COLUMNS = (
  [
    'id', 'facilityId', 'patientId', 'providerId', 'appointmentTypeId', 'resourceIds', 'startAt', 'endAt', 'status', 'overbooked', 'overbookReason',
    'referralId', 'referralOverrideReason', 'referralVisitCounted', 'note', 'cancelledAt', 'cancelledBy', 'cancelReason', 'lateCancellation',
    'createdBy', 'createdAt', 'updatedAt', 'version', 'erroredAt', 'erroredBy', 'errorReason',
  ] satisfies (keyof AppointmentRow)[]
).map((c) => `${c.replace(/[A-Z]/g, (l) => `_${l.toLowerCase()}`)} "${c}"`).join(', ')

/**
 * Books in one statement: schedule_claim, then, only when it says `proceed`, the appointment, its
 * reservations (provider and resources, buffers included) and its audit event (written when the
 * appointment is). An overlap the claim did not see fails the statement on the exclusion
 * constraints (23P01). Run alone (autocommit), the statement's own transaction holds the schedules'
 * locks until it commits. Returns the claim's outcome, with the appointment when it was booked.
 */
export async function insertAppointmentReserving(
  db: Db, values: NewAppointment, span: { start: Date; end: Date }, audit: (inserted: RawBuilder<boolean>) => RawBuilder<unknown>,
): Promise<ClaimOutcome & { appointment?: AppointmentRow }> {
  const claim = scheduleClaim({
    providerId: values.providerId, appointmentTypeId: values.appointmentTypeId, resourceIds: values.resourceIds, from: span.start, to: span.end, overbook: values.overbooked,
  })
  const owners = [sql`(${values.providerId}::uuid, NULL::uuid)`, ...values.resourceIds.map((id) => sql`(NULL::uuid, ${id}::uuid)`)]
  // Written as text and run without plugins (findTarget says why).
  const { rows } = await sql<ClaimOutcome & AppointmentRow>`
    WITH c AS MATERIALIZED (SELECT * FROM ${claim}),
    a AS (INSERT INTO appointment (${sql.raw(BOOKING_COLUMNS.map(([, c]) => c).join(', '))})
          SELECT ${sql.raw(BOOKING_COLUMNS.map(([, c]) => `v.${c}`).join(', '))} FROM c, ${recordset([values], BOOKING_COLUMNS)} WHERE c.proceed
          RETURNING ${sql.raw(APPOINTMENT_COLUMNS)}),
    r AS (INSERT INTO reservation (provider_id, resource_id, period, appointment_id, overbook)
          SELECT o.provider_id, o.resource_id, tstzrange(${span.start}, ${span.end}, '[)'), a.id, a.overbooked
            FROM a, (VALUES ${sql.join(owners)}) AS o(provider_id, resource_id)),
    audited AS (${audit(sql<boolean>`EXISTS (SELECT FROM a)`)})
    SELECT c.provider_active "providerActive", c.type_active "typeActive", c.resources_active "resourcesActive", c.proceed, a.*
    FROM c LEFT JOIN a ON true`.execute(plain(db))
  const { providerActive, typeActive, resourcesActive, proceed, ...appointment } = rows[0]
  return { providerActive, typeActive, resourcesActive, proceed, appointment: proceed ? appointment : undefined }
}

export async function deleteReservations(trx: Trx, owner: { appointmentId?: string; holdId?: string; surgicalCaseId?: string }) {
  let q = trx.deleteFrom('reservation')
  if (owner.appointmentId) q = q.where('appointmentId', '=', owner.appointmentId)
  else if (owner.holdId) q = q.where('holdId', '=', owner.holdId)
  else q = q.where('surgicalCaseId', '=', owner.surgicalCaseId!)
  await q.execute()
}

/**
 * Moves an appointment's reservations in place. One UPDATE per row: the constraint checks the
 * new period against everyone else's, and the old period is released by the same statement,
 * so there is never a moment with neither (and a failure leaves the old one intact).
 */
export async function moveReservations(trx: Trx, appointmentId: string, providerId: string, resourceIds: string[], start: Date, end: Date) {
  const period = sql<string>`tstzrange(${start}, ${end}, '[)')`
  await trx.updateTable('reservation').set({ providerId, period }).where('appointmentId', '=', appointmentId).where('providerId', 'is not', null).execute()
  const existing = await trx.selectFrom('reservation').select('id').where('appointmentId', '=', appointmentId).where('resourceId', 'is not', null).orderBy('id').execute()
  for (let i = 0; i < Math.max(existing.length, resourceIds.length); i++) {
    if (i < existing.length && i < resourceIds.length) {
      await trx.updateTable('reservation').set({ resourceId: resourceIds[i], period }).where('id', '=', existing[i].id).execute()
    } else if (i < existing.length) {
      await trx.deleteFrom('reservation').where('id', '=', existing[i].id).execute()
    } else {
      await insertReservations(trx, { appointmentId }, [], [resourceIds[i]], start, end)
    }
  }
}

/** An appointment with the display names its responses carry. */
export const appointmentView = (db: Db) =>
  db.selectFrom('appointment')
    .innerJoin('provider', 'provider.id', 'appointment.providerId')
    .innerJoin('facility', 'facility.id', 'appointment.facilityId')
    .innerJoin('appointmentType', 'appointmentType.id', 'appointment.appointmentTypeId')
    .selectAll('appointment')
    .select(['provider.displayName as providerName', 'facility.name as facilityName', 'facility.timeZone', 'appointmentType.name as appointmentTypeName'])

export const resourceNames = (db: Db, ids: string[]) =>
  db.selectFrom('resource').select(['id', 'name', 'kind']).where('id', 'in', scopeIds(ids)).execute()

/** Appointment statuses that still hold their time. */
export const LIVE_STATUSES = ['booked', 'arrived', 'checked-in'] as const

/**
 * Whether appointments or surgical cases still hold time of this provider or resource after
 * now: their reservations (holds excluded; they expire by themselves). Reservations span at
 * most 2 days, so the start bound lets the (owner, lower(period)) index find them.
 */
export async function hasFutureBookings(db: Db, owner: { providerId: string } | { resourceId: string }) {
  const [column, id] = 'providerId' in owner ? ['provider_id', owner.providerId] : ['resource_id', owner.resourceId]
  const { rows } = await sql`
    SELECT 1 FROM reservation
     WHERE ${sql.ref(column)} = ${id} AND hold_id IS NULL
       AND lower(period) > now() - interval '2 days' AND upper(period) > now()
     LIMIT 1`.execute(db)
  return rows.length > 0
}

/** Whether the provider has appointments or surgical cases at any of these facilities that end after now. */
export async function hasFutureBookingsAt(db: Db, providerId: string, facilityIds: string[]) {
  const [appointment, surgicalCase] = await Promise.all([
    db.selectFrom('appointment').select('id').where('providerId', '=', providerId).where('facilityId', 'in', scopeIds(facilityIds))
      .where('status', 'in', LIVE_STATUSES).where('startAt', '>', sql<Date>`now() - interval '2 days'`).where('endAt', '>', sql<Date>`now()`).limit(1).executeTakeFirst(),
    db.selectFrom('surgicalCase').select('id').where('surgeonId', '=', providerId).where('facilityId', 'in', scopeIds(facilityIds))
      .where('status', 'in', ['pending-facility-confirmation', 'scheduled']).where('endAt', '>', sql<Date>`now()`).limit(1).executeTakeFirst(),
  ])
  return appointment !== undefined || surgicalCase !== undefined
}

/** Whether appointments of this type are still to take place. */
export async function typeHasFutureAppointments(db: Db, appointmentTypeId: string) {
  const row = await db.selectFrom('appointment').select('id').where('appointmentTypeId', '=', appointmentTypeId)
    .where('status', 'in', LIVE_STATUSES).where('endAt', '>', sql<Date>`now()`).limit(1).executeTakeFirst()
  return row !== undefined
}

/**
 * Deletes a reference row, or retires it when other rows still reference it: the foreign keys
 * decide (23503), under a savepoint so the transaction outlives the refused delete.
 */
export async function deleteOrRetire(trx: Trx, remove: () => Promise<unknown>, retire: () => Promise<unknown>): Promise<'deleted' | 'retired'> {
  await sql`SAVEPOINT delete_or_retire`.execute(trx)
  try {
    await remove()
    await sql`RELEASE SAVEPOINT delete_or_retire`.execute(trx)
    return 'deleted'
  } catch (err) {
    if ((err as { code?: string }).code !== '23503') throw err
    await sql`ROLLBACK TO SAVEPOINT delete_or_retire`.execute(trx)
    await retire()
    return 'retired'
  }
}

/** A timestamptz as exact text (microseconds, UTC) for cursors: a JS Date would drop the microseconds. */
export const cursorInstant = (column: string) => sql<string>`to_char(${sql.ref(column)} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`
