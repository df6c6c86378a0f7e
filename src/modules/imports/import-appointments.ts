import { randomUUID } from 'node:crypto'
import { Type, type Static } from '@sinclair/typebox'
import { sql, type Transaction } from 'kysely'
import type { Database, NewAuditEvent } from '../../db/database.ts'
import { auditEvent, insertAuditEvents } from '../../http/audit.ts'
import { BadRequestError, ConflictError, ForbiddenError, NotFoundError } from '../../http/errors.ts'
import { deleteExpiredHolds, lockSchedules } from '../scheduling/scheduling.repository.ts'
import { AppointmentStatusSchema, BookAppointmentBodySchema, CancelBodySchema } from '../scheduling/scheduling.schemas.ts'
import type { FieldProblem, ImportKindHandler, RowOutcome } from './import-kind.ts'
import { rowProblem } from './import-parse.ts'
import { oneOf, PatientRefFields, providerRefProblems, ProviderNpiField, resolvePatients, resolveProviders } from './import-refs.ts'
import { canonical, changedFields, lockKeys, recordset, rerunOnRace } from './import-sql.ts'
import type { ImportJobRow } from './import.repository.ts'

const Book = BookAppointmentBodySchema.properties

/**
 * An appointment row: the booking body (one definition, from the scheduling module) without
 * `holdId` (a file cannot consume a live hold) and the referral fields (imported bookings were
 * made in the source system; the referral gate still applies at arrival and check-in), plus:
 * - the natural key `sourceSystem` + `sourceId`, unique per facility;
 * - the patient by `patientId`, `patientMrn` or `patientIdentifier` ({ system, value }), and the
 *   provider by `providerId` or `providerNpi`;
 * - `status` (default booked; entered-in-error is set over the API only) and `cancelReason`
 *   (required with status cancelled), so a feed can carry history and cancellations.
 * The source system already booked these, so minimum notice and availability rules are not
 * applied; double booking is: a row whose time overlaps another reservation of its provider or
 * resources is rejected alone (409 slot-unavailable), unless it carries an `overbookReason`
 * (permission scheduling:overbook). Fields left out of a row that matches keep their values.
 */
export const AppointmentImportRowSchema = Type.Object(
  {
    sourceSystem: Type.String({ minLength: 1, maxLength: 200, pattern: '\\S', description: 'The system the appointment comes from (URI or name).' }),
    sourceId: Type.String({ minLength: 1, maxLength: 200, pattern: '\\S', description: "The appointment's id in that system." }),
    facilityId: Type.Optional(Book.facilityId),
    patientId: Type.Optional(Book.patientId),
    ...PatientRefFields,
    providerId: Type.Optional(Book.providerId),
    ...ProviderNpiField,
    appointmentTypeId: Book.appointmentTypeId,
    start: Book.start,
    resourceIds: Book.resourceIds,
    overbookReason: Book.overbookReason,
    note: Book.note,
    status: Type.Optional(Type.Exclude(AppointmentStatusSchema, Type.Literal('entered-in-error'), { description: 'FHIR R4 Appointment.status; default booked.' })),
    cancelReason: Type.Optional(CancelBodySchema.properties.reason),
  },
  { additionalProperties: false },
)
type AppointmentRow = Static<typeof AppointmentImportRowSchema>

/** Statuses that occupy the provider's and resources' time (as the scheduling module keeps them). */
const RESERVING = new Set(['booked', 'arrived', 'checked-in', 'fulfilled'])
const MINUTE = 60_000
/** Advisory-lock namespace of a source key (schedules are locked by the scheduling module's lockSchedules). */
const SOURCE_LOCK = 4_005

interface State {
  patientId: string
  providerId: string
  appointmentTypeId: string
  resourceIds: string[]
  startAt: string
  endAt: string
  status: string
  overbookReason: string | null
  note: string | null
  cancelReason: string | null
}

interface Current extends State {
  id: string
  sourceSystem: string
  sourceId: string
}

interface TypeInfo {
  id: string
  durationMinutes: number
  bufferBeforeMinutes: number
  bufferAfterMinutes: number
  resourceKinds: string[]
}

/** The time an appointment holds: its providers and resources over its span, buffers included. */
interface Hold {
  owners: { kind: 'provider' | 'resource'; id: string }[]
  from: number
  to: number
  overbook: boolean
}

function holdOf(s: State, type: TypeInfo): Hold | null {
  if (!RESERVING.has(s.status)) return null
  return {
    owners: [{ kind: 'provider', id: s.providerId }, ...[...s.resourceIds].sort().map((id) => ({ kind: 'resource' as const, id }))],
    from: Date.parse(s.startAt) - type.bufferBeforeMinutes * MINUTE,
    to: Date.parse(s.endAt) + type.bufferAfterMinutes * MINUTE,
    overbook: s.overbookReason !== null,
  }
}

const sourceKey = (facilityId: string, r: { sourceSystem: string; sourceId: string }) => `${facilityId}|${r.sourceSystem}|${r.sourceId}`

export function appointmentImport(): ImportKindHandler<AppointmentRow> {
  return {
    schema: AppointmentImportRowSchema,
    permission: 'scheduling:write',

    prepare(row, job) {
      const problems: FieldProblem[] = []
      if (row.facilityId === undefined) row.facilityId = job.facilityId
      else if (row.facilityId !== job.facilityId) problems.push({ pointer: '/facilityId', detail: "must be the import's facility" })
      problems.push(...oneOf(row, ['patientId', 'patientMrn', 'patientIdentifier']), ...providerRefProblems(row))
      if (row.status === 'cancelled' && row.cancelReason === undefined) problems.push({ pointer: '/cancelReason', detail: 'required when status is cancelled' })
      if (row.status !== 'cancelled' && row.cancelReason !== undefined) problems.push({ pointer: '/cancelReason', detail: 'only with status cancelled' })
      return problems
    },

    keys: (row) => [`source:${row.sourceSystem}|${row.sourceId}`],

    async apply({ trx, ctx, job }, rows) {
      const first: (RowOutcome | undefined)[] = rows.map(() => undefined)
      const rejected = (err: Error, pointer: string, detail: string): RowOutcome =>
        ({ outcome: 'rejected', recordId: null, problem: { ...rowProblem(err), errors: [{ pointer, detail }] } })

      const overbooker = ctx.principal.permissions.has('scheduling:overbook')
      const patients = await resolvePatients(trx, job, rows.map((r) => r.value))
      const providers = await resolveProviders(trx, job, rows.map((r) => r.value))
      rows.forEach(({ value }, i) => {
        if (value.overbookReason !== undefined && !overbooker) {
          first[i] = rejected(new ForbiddenError('Overbooking needs the scheduling:overbook permission'), '/overbookReason', 'needs scheduling:overbook')
        } else if (patients[i].problem) first[i] = { outcome: 'rejected', recordId: null, problem: patients[i].problem }
        else if (providers[i].problem) first[i] = { outcome: 'rejected', recordId: null, problem: providers[i].problem }
      })

      return rerunOnRace(trx, async () => {
        const outcomes = [...first]
        // Locks in the order bookings take them, schedules before appointment rows (a reschedule
        // holds its schedules while it waits for the row): the source keys (two imports of one feed
        // take turns), then the schedules the rows could touch, wanted and current, then the rows.
        await lockKeys(trx, rows.map((r) => sourceKey(job.facilityId, r.value)), SOURCE_LOCK)
        const keys = rows.map((r) => ({ system: r.value.sourceSystem, id: r.value.sourceId }))
        const readCurrent = (lock: boolean) => sql<Omit<Current, 'startAt' | 'endAt'> & { startAt: Date; endAt: Date }>`
          SELECT a.id, a.source_system, a.source_id, a.patient_id, a.provider_id, a.appointment_type_id, a.resource_ids, a.start_at, a.end_at,
                 a.status, a.overbook_reason, a.note, a.cancel_reason
          FROM appointment a JOIN ${recordset(keys, [['system', 'system', 'text'], ['id', 'id', 'text']])}
            ON a.facility_id = ${job.facilityId} AND a.source_system = v.system AND a.source_id = v.id
          ORDER BY a.id ${lock ? sql`FOR UPDATE OF a` : sql``}`.execute(trx).then((r) => r.rows)
        const scheduleIds = (current: { providerId: string; resourceIds: string[] }[]) => [
          ...rows.flatMap(({ value }, i) => (outcomes[i] ? [] : [providers[i].id!, ...(value.resourceIds ?? [])])),
          ...current.flatMap((a) => [a.providerId, ...a.resourceIds]),
        ]
        const locked = new Set(scheduleIds(await readCurrent(false)))
        await lockSchedules(trx, [...locked])
        const found = await readCurrent(true)
        // Moved to another provider or room in between (rare): lock those as well.
        await lockSchedules(trx, scheduleIds(found).filter((id) => !locked.has(id)))
        const bySource = new Map<string, Current>(found.map((a) => [
          sourceKey(job.facilityId, a),
          { ...a, startAt: new Date(a.startAt).toISOString(), endAt: new Date(a.endAt).toISOString() },
        ]))

        // Appointment types and resources, wanted and current, in one statement each.
        const typeIds = [...new Set([...rows.map((r) => r.value.appointmentTypeId), ...found.map((a) => a.appointmentTypeId)])]
        const types = new Map<string, TypeInfo>((await trx.selectFrom('appointmentType')
          .select(['id', 'durationMinutes', 'bufferBeforeMinutes', 'bufferAfterMinutes', 'resourceKinds'])
          .where('organizationId', '=', job.organizationId).where('id', 'in', typeIds).execute()).map((t) => [t.id, t]))
        const resourceIds = [...new Set([...rows.flatMap((r) => r.value.resourceIds ?? []), ...found.flatMap((a) => a.resourceIds)])]
        const resources = new Map(resourceIds.length === 0 ? [] : (await trx.selectFrom('resource').select(['id', 'kind'])
          .where('facilityId', '=', job.facilityId).where('active', '=', true).where('id', 'in', resourceIds).execute()).map((r) => [r.id, r.kind as string]))

        // What each row wants, checked against everything but other bookings.
        const plans = rows.map(({ value }, i) => {
          if (outcomes[i]) return undefined
          const current = bySource.get(sourceKey(job.facilityId, value))
          if (current?.status === 'entered-in-error') {
            outcomes[i] = { outcome: 'rejected', recordId: null, problem: rowProblem(new ConflictError('appointment-entered-in-error', 'This appointment was marked entered-in-error; imports do not change it')) }
            return undefined
          }
          const type = types.get(value.appointmentTypeId)
          if (!type) {
            outcomes[i] = rejected(new NotFoundError('Appointment type'), '/appointmentTypeId', "no appointment type of the import's organisation has it")
            return undefined
          }
          const start = Date.parse(value.start)
          const status = value.status ?? current?.status ?? 'booked'
          const wanted: State = {
            patientId: patients[i].id!, providerId: providers[i].id!, appointmentTypeId: type.id,
            resourceIds: value.resourceIds ?? current?.resourceIds ?? [],
            startAt: new Date(start).toISOString(), endAt: new Date(start + type.durationMinutes * MINUTE).toISOString(), status,
            overbookReason: value.overbookReason ?? current?.overbookReason ?? null, note: value.note ?? current?.note ?? null,
            cancelReason: status === 'cancelled' ? (value.cancelReason ?? current?.cancelReason ?? null) : null,
          }
          if (status === 'cancelled' && wanted.cancelReason === null) {
            outcomes[i] = rejected(new BadRequestError('The row is not valid'), '/cancelReason', 'required when status is cancelled')
            return undefined
          }
          if (value.resourceIds !== undefined || !current || current.appointmentTypeId !== type.id) {
            const kinds = wanted.resourceIds.map((id) => resources.get(id))
            if (kinds.some((k) => !k) || canonical([...kinds].sort()) !== canonical([...type.resourceKinds].sort())) {
              outcomes[i] = rejected(new BadRequestError('The resources do not fit the appointment type'), '/resourceIds',
                `one active resource of the facility of each kind: ${type.resourceKinds.join(', ') || 'none'}`)
              return undefined
            }
          }
          const comparable = (s: State) => ({ ...s, resourceIds: [...s.resourceIds].sort() })
          const fields = current ? changedFields(comparable(wanted), comparable(current)) : []
          const hold = holdOf(wanted, type)
          const oldHold = current ? holdOf(current, types.get(current.appointmentTypeId)!) : null
          return { i, current, wanted, fields, hold, moves: !current || canonical(hold) !== canonical(oldHold) }
        })

        // What occupies the schedules whose time changes hands (their locks are held).
        const moving = plans.filter((p) => p && (!p.current || p.fields.length > 0) && p.moves) as NonNullable<(typeof plans)[number]>[]
        const owners = moving.flatMap((p) => p.hold?.owners ?? [])
        const spans = moving.flatMap((p) => (p.hold && !p.hold.overbook ? p.hold.owners.map((o) => ({ ...o, from: new Date(p.hold!.from).toISOString(), to: new Date(p.hold!.to).toISOString() })) : []))
        const busy = new Map<string, { from: number; to: number; appointmentId: string | null }[]>()
        if (spans.length > 0) {
          // Overbookings count as busy, holds only while live: the same rule as booking.
          const branch = (column: 'provider_id' | 'resource_id', kind: string) => sql`
            SELECT r.id, r.${sql.raw(column)} AS owner, r.appointment_id, lower(r.period) AS span_from, upper(r.period) AS span_to
            FROM v JOIN reservation r ON v.kind = ${kind} AND r.${sql.raw(column)} = v.id
              AND lower(r.period) >= v.span_from - interval '2 days' AND lower(r.period) < v.span_to AND r.period && tstzrange(v.span_from, v.span_to, '[)')
              AND reservation_live(r.overbook, r.expires_at)`
          const { rows: taken } = await sql<{ owner: string; appointmentId: string | null; spanFrom: Date; spanTo: Date }>`
            WITH v AS (SELECT * FROM ${recordset(spans, [['kind', 'kind', 'text'], ['id', 'id', 'uuid'], ['from', 'span_from', 'timestamptz'], ['to', 'span_to', 'timestamptz']])})
            SELECT DISTINCT ON (id) * FROM (${branch('provider_id', 'provider')} UNION ALL ${branch('resource_id', 'resource')}) t`.execute(trx)
          for (const t of taken) busy.set(t.owner, [...(busy.get(t.owner) ?? []), { from: new Date(t.spanFrom).getTime(), to: new Date(t.spanTo).getTime(), appointmentId: t.appointmentId }])
        }

        const audit: NewAuditEvent[] = []
        const record = (i: number, action: 'create' | 'update', verb: string, id: string, patientId: string, detail: Record<string, unknown> = {}) =>
          audit.push(auditEvent(ctx, { action, verb, resourceType: 'appointment', resourceId: id, patientId, facilityId: job.facilityId, detail: { importId: job.id, row: rows[i].row, ...detail } }))
        const creates: (State & { id: string; sourceSystem: string; sourceId: string })[] = []
        const updates: (State & { id: string })[] = []
        const released = new Set<string>()
        const claims: { owner: { kind: string; id: string }; from: number; to: number; appointmentId: string; overbook: boolean }[] = []

        // In file order: a row sees the time earlier rows of the batch took or gave back.
        for (const plan of plans) {
          if (!plan) continue
          const { i, current, wanted, fields, hold, moves } = plan
          if (current && fields.length === 0) {
            outcomes[i] = { outcome: 'unchanged', recordId: current.id }
            continue
          }
          const id = current?.id ?? randomUUID()
          if (moves && hold && !hold.overbook) {
            const overlaps = (x: { from: number; to: number }) => x.from < hold.to && x.to > hold.from
            const clash = hold.owners.some((o) =>
              (busy.get(o.id) ?? []).some((b) => overlaps(b) && (b.appointmentId === null || (b.appointmentId !== id && !released.has(b.appointmentId)))) ||
              claims.some((c) => c.owner.id === o.id && overlaps(c)))
            if (clash) {
              outcomes[i] = rejected(new ConflictError('slot-unavailable', 'The time is not free for this provider or resource'), '/start',
                'overlaps another booking of the provider or of a resource')
              continue
            }
          }
          if (moves) {
            if (current) released.add(current.id)
            if (hold) claims.push(...hold.owners.map((owner) => ({ owner, from: hold.from, to: hold.to, appointmentId: id, overbook: hold.overbook })))
          }
          if (current) {
            updates.push({ ...wanted, id })
            outcomes[i] = { outcome: 'updated', recordId: id }
            record(i, 'update', 'appointment.update', id, wanted.patientId, { fields })
          } else {
            creates.push({ ...wanted, id, sourceSystem: rows[i].value.sourceSystem, sourceId: rows[i].value.sourceId })
            outcomes[i] = { outcome: 'created', recordId: job.dryRun ? null : id }
            record(i, 'create', 'appointment.book', id, wanted.patientId, { overbooked: wanted.overbookReason !== null })
          }
        }

        if (job.dryRun) return outcomes as RowOutcome[]
        await write(trx, job, ctx.principal.sub, { owners, creates, updates, released: [...released], claims })
        await insertAuditEvents(trx, audit)
        return outcomes as RowOutcome[]
      })
    },
  }
}

const STATE_COLUMNS = [
  ['id', 'id', 'uuid'], ['patientId', 'patient_id', 'uuid'], ['providerId', 'provider_id', 'uuid'], ['appointmentTypeId', 'appointment_type_id', 'uuid'],
  ['resourceIds', 'resource_ids', 'uuid[]'], ['startAt', 'start_at', 'timestamptz'], ['endAt', 'end_at', 'timestamptz'], ['status', 'status', 'text'],
  ['overbookReason', 'overbook_reason', 'text'], ['note', 'note', 'text'], ['cancelReason', 'cancel_reason', 'text'],
] as const

/** The batch's writes: a handful of multi-row statements, whatever the number of rows. */
async function write(
  trx: Transaction<Database>,
  job: ImportJobRow,
  sub: string,
  w: {
    owners: { kind: 'provider' | 'resource'; id: string }[]
    creates: (State & { id: string; sourceSystem: string; sourceId: string })[]
    updates: (State & { id: string })[]
    released: string[]
    claims: { owner: { kind: string; id: string }; from: number; to: number; appointmentId: string; overbook: boolean }[]
  },
) {
  if (w.claims.length > 0) {
    // Expired holds stop counting here, as in booking (the schedules' locks are held).
    const of = (kind: 'provider' | 'resource') => [...new Set(w.owners.filter((o) => o.kind === kind).map((o) => o.id))]
    await deleteExpiredHolds(trx, of('provider'), of('resource'))
  }
  if (w.updates.length > 0) {
    const set = STATE_COLUMNS.filter(([c]) => c !== 'id').map(([, snake]) => `${snake} = v.${snake}`).join(', ')
    await sql`UPDATE appointment SET ${sql.raw(set)}, overbooked = v.overbook_reason IS NOT NULL,
                cancelled_at = CASE WHEN v.status = 'cancelled' THEN COALESCE(appointment.cancelled_at, now()) END,
                cancelled_by = CASE WHEN v.status = 'cancelled' THEN COALESCE(appointment.cancelled_by, ${sub}) END,
                late_cancellation = CASE WHEN v.status = 'cancelled' THEN appointment.late_cancellation END,
                version = appointment.version + 1, updated_at = now()
              FROM ${recordset(w.updates, STATE_COLUMNS)} WHERE appointment.id = v.id`.execute(trx)
  }
  if (w.released.length > 0) {
    await sql`DELETE FROM reservation WHERE appointment_id IN (SELECT id FROM ${recordset(w.released.map((id) => ({ id })), [['id', 'id', 'uuid']])})`.execute(trx)
  }
  if (w.creates.length > 0) {
    const names = STATE_COLUMNS.map(([, snake]) => snake).join(', ')
    await sql`INSERT INTO appointment (${sql.raw(names)}, facility_id, overbooked, cancelled_at, cancelled_by, created_by, source_system, source_id)
              SELECT ${sql.raw(names)}, ${job.facilityId}::uuid, v.overbook_reason IS NOT NULL,
                     CASE WHEN v.status = 'cancelled' THEN now() END, CASE WHEN v.status = 'cancelled' THEN ${sub} END, ${sub}, v.source_system, v.source_id
              FROM ${recordset(w.creates, [...STATE_COLUMNS, ['sourceSystem', 'source_system', 'text'], ['sourceId', 'source_id', 'text']])}`.execute(trx)
  }
  if (w.claims.length > 0) {
    const rows = w.claims.map((c) => ({
      providerId: c.owner.kind === 'provider' ? c.owner.id : null, resourceId: c.owner.kind === 'resource' ? c.owner.id : null,
      from: new Date(c.from).toISOString(), to: new Date(c.to).toISOString(), appointmentId: c.appointmentId, overbook: c.overbook,
    }))
    await sql`INSERT INTO reservation (provider_id, resource_id, period, appointment_id, overbook)
              SELECT v.provider_id, v.resource_id, tstzrange(v.span_from, v.span_to, '[)'), v.appointment_id, v.overbook
              FROM ${recordset(rows, [['providerId', 'provider_id', 'uuid'], ['resourceId', 'resource_id', 'uuid'], ['from', 'span_from', 'timestamptz'],
                ['to', 'span_to', 'timestamptz'], ['appointmentId', 'appointment_id', 'uuid'], ['overbook', 'overbook', 'boolean']])}`.execute(trx)
  }
}
