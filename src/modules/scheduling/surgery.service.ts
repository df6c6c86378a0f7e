import { sql, type Transaction } from 'kysely'
import type { Database, SurgicalCaseRow, SurgicalCaseStatus } from '../../db/database.ts'
import { facilityScope } from '../../http/auth.ts'
import { auditChange, withTransaction, type RequestContext } from '../../http/context.ts'
import { BadRequestError, ConflictError, NotFoundError } from '../../http/errors.ts'
import { formatInZone } from './availability.ts'
import { dbOf, providerAt, scopedFacility } from './reference.service.ts'
import { findPatientCore } from '../patients/patient.repository.ts'
import * as repo from './scheduling.repository.ts'
import type { CreateSurgicalCaseBody, ScheduleSurgicalCaseBody, SurgicalCase, UpdateChecklistBody } from './scheduling.schemas.ts'
import { guardPatientRead } from '../patients/patient-guard.ts'

type Trx = Transaction<Database>
const MINUTE = 60_000

const caseView = (db: RequestContext['db']) =>
  db.selectFrom('surgicalCase')
    .innerJoin('provider', 'provider.id', 'surgicalCase.surgeonId')
    .innerJoin('facility', 'facility.id', 'surgicalCase.facilityId')
    .selectAll('surgicalCase')
    .select(['provider.displayName as surgeonName', 'facility.timeZone'])

type CaseView = SurgicalCaseRow & { surgeonName: string; timeZone: string }

const toCase = (r: CaseView): SurgicalCase => ({
  id: r.id, facilityId: r.facilityId, patientId: r.patientId, surgeonId: r.surgeonId, surgeonName: r.surgeonName, procedureCodes: r.procedureCodes,
  expectedDurationMinutes: r.expectedDurationMinutes, anesthesia: r.anesthesia, priority: r.priority, status: r.status, statusReason: r.statusReason,
  operatingRoomId: r.operatingRoomId, start: r.startAt ? formatInZone(r.startAt.getTime(), r.timeZone) : null,
  end: r.endAt ? formatInZone(r.endAt.getTime(), r.timeZone) : null,
  checklist: {
    historyAndPhysical: r.checklistHistoryPhysical, labs: r.checklistLabs, clearance: r.checklistClearance,
    priorAuthorization: r.checklistPriorAuthorization, consent: r.checklistConsent,
  },
  bumpedByCaseId: r.bumpedByCaseId, version: r.version,
})

const loadCase = async (db: RequestContext['db'], id: string) => toCase(await caseView(db).where('surgicalCase.id', '=', id).executeTakeFirstOrThrow())

export async function createCase(ctx: RequestContext, body: CreateSurgicalCaseBody) {
  const facility = await scopedFacility(ctx, body.facilityId)
  if (facility.kind === 'clinic') {
    throw new BadRequestError('Surgery is scheduled at a hospital or an ambulatory surgery centre', [{ pointer: '/facilityId', detail: 'facility is a clinic' }])
  }
  if (!(await findPatientCore(dbOf(ctx), body.patientId, [facility.id]))) throw new NotFoundError('Patient')
  await providerAt(ctx, body.surgeonId, facility.id)
  return withTransaction(ctx, async (trx) => {
    const row = await trx.insertInto('surgicalCase').values({ ...body, createdBy: ctx.principal.sub }).returning('id').executeTakeFirstOrThrow()
    await auditChange(trx, ctx, { action: 'create', verb: 'surgical-case.create', resourceType: 'surgical-case', resourceId: row.id, patientId: body.patientId, facilityId: facility.id })
    return loadCase(trx, row.id)
  })
}

async function lockCase(ctx: RequestContext, trx: Trx, id: string) {
  const row = await trx.selectFrom('surgicalCase').selectAll().where('id', '=', id).forUpdate().executeTakeFirst()
  const scope = facilityScope(ctx.principal)
  if (!row || (scope && !scope.includes(row.facilityId))) throw new NotFoundError('Surgical case')
  return row
}

export async function getCase(ctx: RequestContext, id: string) {
  const row = await caseView(dbOf(ctx)).where('surgicalCase.id', '=', id).executeTakeFirst()
  const scope = facilityScope(ctx.principal)
  if (!row || (scope && !scope.includes(row.facilityId))) throw new NotFoundError('Surgical case')
  await guardPatientRead(ctx, { verb: 'surgical-case.read', resourceType: 'surgical-case', resourceId: id, patientId: row.patientId, facilityId: row.facilityId })
  return toCase(row)
}

const OPEN: SurgicalCaseStatus[] = ['requested', 'pending-facility-confirmation', 'scheduled', 'needs-reschedule']
const illegal = (from: string, to: string) => new ConflictError('invalid-transition', `A surgical case that is ${from} cannot become ${to}`)

export function updateChecklist(ctx: RequestContext, id: string, body: UpdateChecklistBody) {
  return withTransaction(ctx, async (trx) => {
    const row = await lockCase(ctx, trx, id)
    if (!OPEN.includes(row.status)) throw new ConflictError('invalid-transition', `The checklist of a ${row.status} case cannot change`)
    await trx.updateTable('surgicalCase').set((eb) => ({
      checklistHistoryPhysical: body.historyAndPhysical, checklistLabs: body.labs, checklistClearance: body.clearance,
      checklistPriorAuthorization: body.priorAuthorization, checklistConsent: body.consent, version: eb('version', '+', 1), updatedAt: sql<Date>`now()`,
    })).where('id', '=', id).execute()
    await auditChange(trx, ctx, {
      action: 'update', verb: 'surgical-case.checklist', resourceType: 'surgical-case', resourceId: id, patientId: row.patientId, facilityId: row.facilityId,
      detail: { items: Object.keys(body) },
    })
    return loadCase(trx, id)
  })
}

/**
 * Reserves surgeon and operating room together. An emergency case may displace overlapping
 * elective cases (bumpElective): they lose their reservations and go to needs-reschedule with
 * the reason. Anything else in the way is a 409.
 */
export async function scheduleCase(ctx: RequestContext, id: string, body: ScheduleSurgicalCaseBody) {
  const existing = await dbOf(ctx).selectFrom('surgicalCase').selectAll().where('id', '=', id).executeTakeFirst()
  const scope = facilityScope(ctx.principal)
  if (!existing || (scope && !scope.includes(existing.facilityId))) throw new NotFoundError('Surgical case')
  const [room] = await repo.listResources(dbOf(ctx), existing.facilityId, [body.operatingRoomId])
  if (!room) throw new NotFoundError('Operating room')
  if (room.kind !== 'operating-room') throw new BadRequestError('Not an operating room', [{ pointer: '/operatingRoomId', detail: 'resource is not an operating room' }])
  if (body.bumpElective && existing.priority !== 'emergency') throw new ConflictError('bump-not-allowed', 'Only an emergency case may bump elective cases')
  const start = new Date(body.start)
  const end = new Date(start.getTime() + existing.expectedDurationMinutes * MINUTE)
  try {
    return await withTransaction(ctx, async (trx) => {
      await repo.lockSchedules(trx, [existing.surgeonId, room.id])
      const row = await lockCase(ctx, trx, id)
      if (!['requested', 'needs-reschedule'].includes(row.status)) throw illegal(row.status, 'pending-facility-confirmation')
      await repo.deleteExpiredHolds(trx, [row.surgeonId], [room.id])
      if (body.bumpElective) await bumpElectives(ctx, trx, row, room.id, start, end, body.reason ?? 'Bumped by an emergency case')
      await repo.insertReservations(trx, { surgicalCaseId: id }, [row.surgeonId], [room.id], start, end)
      await trx.updateTable('surgicalCase').set((eb) => ({
        status: 'pending-facility-confirmation', operatingRoomId: room.id, startAt: start, endAt: end, statusReason: null,
        version: eb('version', '+', 1), updatedAt: sql<Date>`now()`,
      })).where('id', '=', id).execute()
      await auditChange(trx, ctx, {
        action: 'update', verb: 'surgical-case.schedule', resourceType: 'surgical-case', resourceId: id, patientId: row.patientId, facilityId: row.facilityId,
        detail: { bump: body.bumpElective ?? false },
      })
      return loadCase(trx, id)
    })
  } catch (err) {
    if ((err as { code?: string }).code === '23P01') throw new ConflictError('slot-unavailable', 'The surgeon or the operating room is not free at this time')
    throw err
  }
}

async function bumpElectives(ctx: RequestContext, trx: Trx, emergency: SurgicalCaseRow, roomId: string, start: Date, end: Date, reason: string) {
  const { rows } = await sql<{ surgicalCaseId: string | null }>`
    SELECT DISTINCT surgical_case_id AS "surgicalCaseId" FROM reservation
     WHERE (provider_id = ${emergency.surgeonId} OR resource_id = ${roomId}) AND period && tstzrange(${start}, ${end}, '[)')`.execute(trx)
  const caseIds = rows.map((r) => r.surgicalCaseId)
  if (caseIds.includes(null)) throw new ConflictError('slot-unavailable', 'An appointment or hold is in the way; only elective cases can be bumped')
  for (const caseId of caseIds as string[]) {
    const other = await trx.selectFrom('surgicalCase').selectAll().where('id', '=', caseId).forUpdate().executeTakeFirstOrThrow()
    if (other.priority !== 'elective') throw new ConflictError('slot-unavailable', 'A non-elective case is in the way')
    await repo.deleteReservations(trx, { surgicalCaseId: caseId })
    await trx.updateTable('surgicalCase').set((eb) => ({
      status: 'needs-reschedule', statusReason: reason, bumpedByCaseId: emergency.id, operatingRoomId: null, startAt: null, endAt: null,
      version: eb('version', '+', 1), updatedAt: sql<Date>`now()`,
    })).where('id', '=', caseId).execute()
    await auditChange(trx, ctx, {
      action: 'update', verb: 'surgical-case.bumped', resourceType: 'surgical-case', resourceId: caseId, patientId: other.patientId, facilityId: other.facilityId,
      detail: { bumpedBy: emergency.id },
    })
  }
}

const MOVES: Record<'confirm' | 'complete' | 'cancel', { from: SurgicalCaseStatus[]; to: SurgicalCaseStatus }> = {
  confirm: { from: ['pending-facility-confirmation'], to: 'scheduled' },
  complete: { from: ['scheduled'], to: 'completed' },
  cancel: { from: OPEN, to: 'cancelled' },
}

export function moveCase(ctx: RequestContext, id: string, action: 'confirm' | 'complete' | 'cancel', reason?: string) {
  return withTransaction(ctx, async (trx) => {
    const row = await lockCase(ctx, trx, id)
    const move = MOVES[action]
    if (!move.from.includes(row.status)) throw illegal(row.status, move.to)
    const checklist = [row.checklistHistoryPhysical, row.checklistLabs, row.checklistClearance, row.checklistPriorAuthorization, row.checklistConsent]
    if (action === 'confirm' && row.priority === 'elective' && checklist.includes('pending')) {
      throw new ConflictError('checklist-incomplete', 'An elective case is confirmed only once every pre-op checklist item is complete or not applicable')
    }
    if (action === 'cancel') await repo.deleteReservations(trx, { surgicalCaseId: id })
    await trx.updateTable('surgicalCase').set((eb) => ({
      status: move.to, statusReason: reason ?? null, version: eb('version', '+', 1), updatedAt: sql<Date>`now()`,
    })).where('id', '=', id).execute()
    await auditChange(trx, ctx, { action: 'update', verb: `surgical-case.${action}`, resourceType: 'surgical-case', resourceId: id, patientId: row.patientId, facilityId: row.facilityId })
    return loadCase(trx, id)
  })
}
