import { randomUUID } from 'node:crypto'
import { sql, type Insertable, type Kysely } from 'kysely'
import type { Logger } from 'pino'
import type { Database, EligibilityCheckTable } from '../../db/database.ts'
import type { AuditWriter } from '../../http/audit.ts'
import { canActFor } from '../../http/auth.ts'
import { auditChange, auditRead, withTransaction, type RequestContext } from '../../http/context.ts'
import { BadRequestError, ConflictError, NotFoundError, ProblemError, UnprocessableError } from '../../http/errors.ts'
import { toPage } from '../../http/pagination.ts'
import { isoDate } from '../../lib/dates.ts'
import { isValidNpi } from '../../lib/identifiers.ts'
import { localDate } from '../scheduling/availability.ts'
import { coverageAccess, patientAccess } from './coverage.service.ts'
import { GatewayError, type EligibilityGateway } from './gateway.ts'
import * as repo from './eligibility.repository.ts'
import { toCheck } from './eligibility.mappers.ts'
import type { Batch, CreateBatchBody, EligibilityCheck } from './eligibility.schemas.ts'
import { build270 } from './x12-270.ts'
import { parse271, type Parsed271 } from './x12-271.ts'
import { X12Error, type X12Limits } from './x12.ts'
import { guardPatientRead } from '../patients/patient-guard.ts'

/** What the eligibility services need beyond the request: built once from config in the routes plugin. */
export interface EligibilityRuntime {
  /** The gateway, given the executor the sandbox's simulated payers read their members through. */
  gateway: (db: Kysely<Database>) => EligibilityGateway
  timeoutMs: number
  senderId: string
  limits: X12Limits
  batchConcurrency: number
}

export interface CheckInput {
  coverageId: string
  serviceTypeCodes?: string[]
  providerNpi: string
  dateOfService?: string
  appointmentId?: string
  facilityId?: string
  batchId?: string
}

type NewCheck = Insertable<EligibilityCheckTable> & { id: string; patientId: string; facilityId: string }

/**
 * A check whose gateway failed or timed out. It is thrown, so a surrounding Idempotency-Key
 * transaction rolls back; the caller then records the check in a transaction of its own
 * (`recordFault`) and answers 502 or 504.
 */
export class CheckFault extends Error {
  constructor(readonly record: NewCheck) {
    super(record.errorCode ?? 'fault')
  }
}


export async function appointmentTableExists(db: Kysely<Database>): Promise<boolean> {
  const { rows } = await sql<{ t: string | null }>`SELECT to_regclass('appointment')::text AS t`.execute(db)
  return rows[0].t !== null
}

/** The scheduling module's appointment, read by plain SQL so this module does not depend on its types. */
async function findAppointment(db: Kysely<Database>, id: string) {
  if (!(await appointmentTableExists(db))) return undefined
  const { rows } = await sql<{ patientId: string; facilityId: string; dateOfService: string; providerNpi: string | null }>`
    SELECT a.patient_id AS "patientId", a.facility_id AS "facilityId",
           to_char(a.start_at AT TIME ZONE f.time_zone, 'YYYY-MM-DD') AS "dateOfService", p.npi AS "providerNpi"
    FROM appointment a JOIN facility f ON f.id = a.facility_id LEFT JOIN provider p ON p.id = a.provider_id
    WHERE a.id = ${id}`.execute(db)
  return rows[0]
}

/** Appointments of a facility's local day with each patient's active primary coverage. */
async function appointmentsOn(db: Kysely<Database>, facilityId: string, date: string) {
  const { rows } = await sql<{ appointmentId: string; coverageId: string; providerNpi: string }>`
    SELECT a.id AS "appointmentId", c.id AS "coverageId", p.npi AS "providerNpi"
    FROM appointment a
    JOIN facility f ON f.id = a.facility_id
    JOIN provider p ON p.id = a.provider_id
    JOIN coverage c ON c.patient_id = a.patient_id AND c.status = 'active' AND c.priority = 'primary'
    WHERE a.facility_id = ${facilityId}
      AND a.status IN ('booked', 'arrived', 'checked-in')
      AND (a.start_at AT TIME ZONE f.time_zone)::date = ${date}::date
    ORDER BY a.start_at, a.id
    LIMIT 500`.execute(db)
  return rows
}

function checkNpi(npi: string, pointer: string) {
  if (!isValidNpi(npi)) throw new BadRequestError('The provider NPI is not valid', [{ pointer, detail: 'NPI check digit is wrong' }])
}

/** Builds and sends the 270, parses the 271 and records the check. Gateway faults throw CheckFault. */
export async function createCheck(ctx: RequestContext, rt: EligibilityRuntime, input: CheckInput): Promise<EligibilityCheck> {
  checkNpi(input.providerNpi, '/providerNpi')
  const db = ctx.trx ?? ctx.db
  const { coverage, patient, facilityId: accessFacility } = await coverageAccess(db, ctx, input.coverageId)
  if (input.facilityId && !canActFor(ctx.principal, input.facilityId)) throw new NotFoundError('Facility')
  const facilityId = input.facilityId ?? accessFacility
  const facility = await repo.findFacility(db, facilityId)
  if (!facility) throw new NotFoundError('Facility')

  let dateOfService = input.dateOfService
  if (input.appointmentId) {
    const appointment = await findAppointment(db, input.appointmentId)
    if (!appointment || appointment.patientId !== patient.id || !canActFor(ctx.principal, appointment.facilityId)) throw new NotFoundError('Appointment')
    dateOfService ??= appointment.dateOfService
  }
  dateOfService ??= localDate(Date.now(), facility.timeZone)
  if (coverage.status !== 'active') throw new ConflictError('coverage-not-active', 'The coverage is cancelled or entered in error')

  const inquiry = coverage
  const providerInNetwork = inquiry.networkId ? await repo.isInNetwork(db, inquiry.networkId, input.providerNpi, dateOfService) : null
  const serviceTypeCodes = [...new Set(input.serviceTypeCodes ?? ['30'])]
  const gateway = rt.gateway(db)
  const id = randomUUID()
  const traceNumber = id.replaceAll('-', '')
  const controlNumber = await repo.nextControlNumber(db)
  const patientPerson = { familyName: patient.familyName, givenNames: patient.givenNames, birthDate: isoDate(patient.birthDate as Date | string) }
  const request270 = build270({
    controlNumber, senderId: rt.senderId, receiverId: gateway.receiverId, usage: gateway.usage, at: new Date(),
    payer: { name: inquiry.payerName, x12PayerId: inquiry.x12PayerId },
    provider: { name: facility.name, npi: input.providerNpi },
    subscriber: inquiry.relationship === 'self'
      ? { ...patientPerson, memberId: inquiry.memberId, groupNumber: inquiry.groupNumber }
      : {
        familyName: inquiry.subscriberFamilyName!, givenNames: inquiry.subscriberGivenNames!, birthDate: isoDate(inquiry.subscriberBirthDate!),
        memberId: inquiry.memberId, groupNumber: inquiry.groupNumber,
      },
    dependent: inquiry.relationship === 'self' ? undefined : { ...patientPerson, relationship: inquiry.relationship },
    traceNumber, dateOfService, serviceTypeCodes,
  })

  const record: NewCheck = {
    id, coverageId: coverage.id, patientId: patient.id, facilityId, batchId: input.batchId ?? null, appointmentId: input.appointmentId ?? null,
    status: 'failed', serviceTypeCodes, providerNpi: input.providerNpi, providerInNetwork, dateOfService, traceNumber, controlNumber,
    gateway: gateway.name, requestX12: request270, responseX12: null, requestedBy: ctx.principal.sub, completedAt: new Date(),
  }

  let response271: string
  try {
    response271 = await gateway.exchange(request270, AbortSignal.timeout(rt.timeoutMs))
  } catch (err) {
    if (!(err instanceof GatewayError)) throw err
    throw new CheckFault({ ...record, status: err.fault === 'timeout' ? 'timeout' : 'failed', errorCode: err.fault === 'timeout' ? 'timeout' : err.fault === 'unavailable' ? 'gateway-unavailable' : 'bad-271', completedAt: new Date() })
  }
  // Only a bounded prefix of an oversized answer is kept as evidence.
  const kept = response271.slice(0, rt.limits.maxLength)
  let parsed: Parsed271
  try {
    parsed = parse271(response271, rt.limits)
  } catch (err) {
    if (!(err instanceof X12Error)) throw err
    throw new CheckFault({ ...record, errorCode: 'bad-271', responseX12: kept, completedAt: new Date() })
  }
  if (!parsed.traceNumbers.includes(traceNumber)) throw new CheckFault({ ...record, errorCode: 'trace-mismatch', responseX12: kept, completedAt: new Date() })

  const rejected = parsed.rejections.some((r) => r.loop.startsWith('2100'))
  return withTransaction(ctx, async (trx) => {
    const row = await repo.insertCheck(trx, {
      ...record, status: rejected ? 'rejected' : 'complete', responseX12: kept, completedAt: new Date(),
      active: rejected ? null : parsed.active, planDescription: parsed.planDescription, coverageStart: parsed.coverageStart, coverageEnd: parsed.coverageEnd,
      benefits: JSON.stringify(parsed.benefits), rejections: JSON.stringify(parsed.rejections), errorCode: rejected ? 'rejected' : null,
    })
    // Only a complete answer touches the coverage, and only its verification fields.
    if (!rejected) {
      await trx.updateTable('coverage').set({ verifiedAt: sql`now()`, verifiedActive: parsed.active, version: sql`version + 1`, updatedAt: sql`now()` })
        .where('id', '=', coverage.id).execute()
    }
    await auditChange(trx, ctx, {
      action: 'create', verb: 'eligibility-check.create', resourceType: 'eligibility-check', resourceId: row.id, patientId: patient.id, facilityId,
      detail: { status: row.status, gateway: gateway.name, coverageId: coverage.id, ...(input.batchId ? { batchId: input.batchId } : {}) },
    })
    return toCheck(row)
  })
}

/** Records a faulted check in a transaction of its own and returns the problem to answer with. */
export async function recordFault(ctx: RequestContext, fault: CheckFault): Promise<ProblemError> {
  const row = await ctx.db.transaction().execute(async (trx) => {
    const row = await repo.insertCheck(trx, fault.record)
    await auditChange(trx, ctx, {
      action: 'create', verb: 'eligibility-check.create', resourceType: 'eligibility-check', resourceId: row.id,
      patientId: row.patientId, facilityId: row.facilityId, outcome: 'error', detail: { status: row.status, errorCode: row.errorCode, coverageId: row.coverageId },
    })
    return row
  })
  return row.status === 'timeout'
    ? new ProblemError(504, 'eligibility-gateway-timeout', 'Gateway Timeout', 'The clearinghouse did not answer in time; the check is recorded as timed out', { checkId: row.id })
    : new ProblemError(502, 'eligibility-gateway-error', 'Bad Gateway', 'The clearinghouse gave no usable 271; the check is recorded as failed', { checkId: row.id, errorCode: row.errorCode })
}

/** A check is visible through its own facility or through its patient's. */
async function checkAccess(ctx: RequestContext, id: string) {
  const row = await repo.findCheckById(ctx.db, id)
  if (!row) throw new NotFoundError('Eligibility check')
  if (!canActFor(ctx.principal, row.facilityId)) await patientAccess(ctx.db, ctx, row.patientId, 'Eligibility check')
  return row
}

export async function getCheck(ctx: RequestContext, id: string): Promise<EligibilityCheck> {
  const row = await checkAccess(ctx, id)
  await guardPatientRead(ctx, { verb: 'eligibility-check.read', resourceType: 'eligibility-check', resourceId: id, patientId: row.patientId, facilityId: row.facilityId })
  return toCheck(row)
}

export async function listChecksOfCoverage(ctx: RequestContext, coverageId: string, cursor: (string | number)[] | undefined, limit: number) {
  const { coverage, facilityId } = await coverageAccess(ctx.db, ctx, coverageId)
  const rows = await repo.listChecksOfCoverage(ctx.db, coverageId, cursor, limit)
  await guardPatientRead(ctx, { verb: 'eligibility-check.search', resourceType: 'eligibility-check', patientId: coverage.patientId, facilityId, detail: { coverageId, returned: Math.min(rows.length, limit) } })
  return toPage(rows, limit, (r) => [r.createdAt.toISOString(), r.id], toCheck)
}

/**
 * For check-in: the newest complete check of this coverage for this date of service, completed
 * no earlier than `maxAgeDays` days before it (0: on the day of service itself); undefined means
 * a new check is needed. With `checkId`, whether that one check is usable. The caller audits its own read.
 */
export async function latestUsableCheck(db: Kysely<Database>, coverageId: string, dateOfService: string, maxAgeDays = 0, checkId?: string) {
  const notBefore = new Date(Date.parse(`${dateOfService}T00:00:00Z`) - maxAgeDays * 86_400_000).toISOString().slice(0, 10)
  const row = await repo.findLatestCompleteCheck(db, coverageId, dateOfService, notBefore, checkId)
  return row ? toCheck(row) : undefined
}

/**
 * Eligibility at check-in. A patient with no coverage in force on the day of service is self-pay:
 * nothing is required. Otherwise a usable check of the first coverage in force (primary before
 * secondary) is required: the one named, which must be the patient's, complete and fresh (else 422
 * `eligibility-check-stale`: run a new one), or the newest usable one on file. `checkId` null with
 * `required` true means the `eligibility` item is missing.
 */
export async function eligibilityAtCheckIn(db: Kysely<Database>, patientId: string, dateOfService: string, maxAgeDays: number, checkId?: string): Promise<{ required: boolean; checkId: string | null }> {
  const named = checkId ? await repo.findCheckById(db, checkId) : undefined
  if (checkId && (!named || named.patientId !== patientId)) {
    throw new UnprocessableError('unknown-eligibility-check', "The eligibility check does not exist or is not this patient's")
  }
  const [coverage] = await repo.coveragesInForce(db, patientId, dateOfService)
  if (named) {
    const usable = await latestUsableCheck(db, named.coverageId, dateOfService, maxAgeDays, named.id)
    if (!usable) {
      throw new UnprocessableError('eligibility-check-stale',
        `The eligibility check is not usable for a visit on ${dateOfService}: it must be complete, for that date of service, and made ${maxAgeDays === 0 ? 'on that day' : `at most ${maxAgeDays} day(s) before it`}; run a new check`)
    }
    return { required: coverage !== undefined, checkId: usable.id }
  }
  if (!coverage) return { required: false, checkId: null }
  return { required: true, checkId: (await latestUsableCheck(db, coverage.id, dateOfService, maxAgeDays))?.id ?? null }
}

// ---- batches -----------------------------------------------------------------------------

export async function createBatch(ctx: RequestContext, body: CreateBatchBody): Promise<Batch> {
  if (!canActFor(ctx.principal, body.facilityId)) throw new NotFoundError('Facility')
  const serviceTypeCodes = [...new Set(body.serviceTypeCodes ?? ['30'])]
  return withTransaction(ctx, async (trx) => {
    if (!(await repo.findFacility(trx, body.facilityId))) throw new NotFoundError('Facility')
    let items: { coverageId: string; dateOfService: string; providerNpi: string; appointmentId: string | null }[]
    if ((body.items === undefined) === (body.appointmentDate === undefined)) {
      throw new BadRequestError('Give either items or appointmentDate', [{ pointer: '/items', detail: 'exactly one of items and appointmentDate' }])
    }
    if (body.items) {
      if (!body.providerNpi) throw new BadRequestError('providerNpi is required with items', [{ pointer: '/providerNpi', detail: 'required with items' }])
      checkNpi(body.providerNpi, '/providerNpi')
      // Every coverage listed must be one the batch can check (its runner acts at this facility):
      // refused here, naming the item, rather than by the item table's foreign key (an unknown id)
      // or item by item later (a patient the facility cannot reach).
      const reachable = new Set((await repo.coveragesReachableFrom(trx, body.facilityId, body.items.map((i) => i.coverageId))).map((c) => c.id))
      const missing = body.items.findIndex((i) => !reachable.has(i.coverageId))
      if (missing >= 0) throw new NotFoundError('Coverage', [{ pointer: `/items/${missing}/coverageId`, detail: 'no such coverage of a patient of this facility' }])
      items = body.items.map((i) => ({ ...i, providerNpi: body.providerNpi!, appointmentId: null }))
    } else {
      if (!(await appointmentTableExists(trx))) throw new UnprocessableError('appointments-unavailable', 'Appointments are not available in this deployment; list items instead')
      const found = await appointmentsOn(trx, body.facilityId, body.appointmentDate!)
      items = found.map((a) => ({ coverageId: a.coverageId, dateOfService: body.appointmentDate!, providerNpi: a.providerNpi, appointmentId: a.appointmentId }))
      if (items.length === 0) throw new UnprocessableError('no-appointments', 'No appointment with an active primary coverage on that date')
    }
    const batch = await repo.insertBatch(trx, { facilityId: body.facilityId, total: items.length, serviceTypeCodes, requestedBy: ctx.principal.sub })
    await repo.insertBatchItems(trx, items.map((i, position) => ({ batchId: batch.id, position, ...i })))
    await auditChange(trx, ctx, {
      action: 'create', verb: 'eligibility-batch.create', resourceType: 'eligibility-batch', resourceId: batch.id, facilityId: body.facilityId,
      detail: { total: items.length, source: body.items ? 'items' : 'appointments' },
    })
    return batchView(trx, batch.id)
  })
}

async function batchView(db: Kysely<Database>, id: string): Promise<Batch> {
  const batch = (await repo.findBatchById(db, id))!
  const items = await repo.listBatchItems(db, id)
  const counts = { complete: 0, rejected: 0, failed: 0, timeout: 0, queued: 0 }
  for (const i of items) counts[i.status]++
  return {
    id: batch.id, facilityId: batch.facilityId, status: batch.status, total: batch.total, done: batch.total - counts.queued, counts,
    items: items.map((i) => ({ position: i.position, coverageId: i.coverageId, dateOfService: isoDate(i.dateOfService), status: i.status, checkId: i.checkId, errorCode: i.errorCode })),
    createdAt: batch.createdAt.toISOString(), completedAt: batch.completedAt ? batch.completedAt.toISOString() : null,
  }
}

export async function getBatch(ctx: RequestContext, id: string): Promise<Batch> {
  const batch = await repo.findBatchById(ctx.db, id)
  if (!batch || !canActFor(ctx.principal, batch.facilityId)) throw new NotFoundError('Eligibility batch')
  await auditRead(ctx, { verb: 'eligibility-batch.read', resourceType: 'eligibility-batch', resourceId: id, facilityId: batch.facilityId })
  return batchView(ctx.db, id)
}

/**
 * Runs the queued items of running batches, at most `concurrency` checks at once per batch.
 * Each check acts as the batch's requester limited to the batch's facility, and is audited
 * like a single check. Batches left running by a stopped process resume at the next start.
 */
export class BatchRunner {
  private readonly running = new Map<string, Promise<void>>()
  private stopped = false

  constructor(
    private readonly db: Kysely<Database>,
    private readonly auditWriter: AuditWriter,
    private readonly rt: EligibilityRuntime,
    private readonly log: Pick<Logger, 'error' | 'info'>,
  ) {}

  /** Picks up every running batch not already in hand. Never throws. */
  async kick(): Promise<void> {
    if (this.stopped) return
    try {
      for (const batch of await repo.listRunningBatches(this.db)) {
        if (this.running.has(batch.id) || this.stopped) continue
        const work = this.run(batch).catch((err) => this.log.error({ err: { code: (err as { code?: string }).code, type: (err as Error).name }, batchId: batch.id }, 'eligibility batch stopped'))
          .finally(() => this.running.delete(batch.id))
        this.running.set(batch.id, work)
      }
    } catch (err) {
      this.log.error({ err: { code: (err as { code?: string }).code } }, 'could not list eligibility batches')
    }
  }

  /** Stops taking items and waits for the checks in flight. */
  async stop(): Promise<void> {
    this.stopped = true
    await Promise.allSettled([...this.running.values()])
  }

  /** Resolves when the given batch is no longer being run here (tests and the bench). */
  async settled(batchId: string): Promise<void> {
    await this.running.get(batchId)
  }

  private async run(batch: { id: string; facilityId: string; requestedBy: string; serviceTypeCodes: string[] }) {
    const ctx: RequestContext = {
      principal: { sub: batch.requestedBy, roles: ['eligibility-batch'], permissions: new Set(), facilities: [batch.facilityId] },
      requestId: `batch-${batch.id}`, purposeOfUse: 'HOPERAT', clientIp: 'internal', userAgent: null, db: this.db, auditWriter: this.auditWriter,
    }
    const queue = await repo.listQueuedItems(this.db, batch.id)
    const worker = async () => {
      for (let item = queue.shift(); item && !this.stopped; item = queue.shift()) {
        const outcome = await this.runItem(ctx, batch, item)
        await repo.finishBatchItem(this.db, batch.id, item.position, outcome)
      }
    }
    await Promise.all(Array.from({ length: Math.min(this.rt.batchConcurrency, queue.length) }, worker))
    if (!this.stopped) await repo.completeBatch(this.db, batch.id)
  }

  private async runItem(ctx: RequestContext, batch: { id: string; facilityId: string; serviceTypeCodes: string[] }, item: { coverageId: string; dateOfService: Date | string; providerNpi: string; appointmentId: string | null }) {
    try {
      const check = await createCheck(ctx, this.rt, {
        coverageId: item.coverageId, dateOfService: isoDate(item.dateOfService), providerNpi: item.providerNpi, serviceTypeCodes: batch.serviceTypeCodes,
        facilityId: batch.facilityId, batchId: batch.id, appointmentId: item.appointmentId ?? undefined,
      })
      return { status: check.status, checkId: check.id, errorCode: check.errorCode }
    } catch (err) {
      if (err instanceof CheckFault) {
        const problem = await recordFault(ctx, err)
        return { status: err.record.status as 'failed' | 'timeout', checkId: problem.extra.checkId as string, errorCode: err.record.errorCode ?? null }
      }
      if (err instanceof ProblemError) return { status: 'failed' as const, checkId: null, errorCode: err.slug }
      throw err
    }
  }
}
