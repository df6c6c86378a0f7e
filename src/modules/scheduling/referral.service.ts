import { sql, type Kysely } from 'kysely'
import type { AppointmentTypeRow, Database, ReferralRow } from '../../db/database.ts'
import { scopeIds } from '../../db/query-helpers.ts'
import { facilityScope } from '../../http/auth.ts'
import { auditChange, withTransaction, type RequestContext } from '../../http/context.ts'
import { BadRequestError, ConflictError, NotFoundError } from '../../http/errors.ts'
import { checkVersion } from '../../http/versioning.ts'
import { isoDate } from '../../lib/dates.ts'
import { isValidNpi } from '../../lib/identifiers.ts'
import { guardedPage, guardPatientRead } from '../patients/patient-guard.ts'
import { checkSpecialties, dbOf, scopedFacility } from './reference.service.ts'
import { findPatientCore } from '../patients/patient.repository.ts'
import * as repo from './scheduling.repository.ts'
import type { CreateReferralBody, ReferralListQuery, UpdateReferralBody } from './scheduling.schemas.ts'

export const toReferral = (r: ReferralRow) => ({
  id: r.id, facilityId: r.facilityId, patientId: r.patientId, referringProviderNpi: r.referringProviderNpi,
  referringProviderName: r.referringProviderName, officeContact: r.officeContact, specialtyId: r.specialtyId, reason: r.reason,
  icd10Codes: r.icd10Codes, authorizationNumber: r.authorizationNumber, visitsAuthorized: r.visitsAuthorized, visitsUsed: r.visitsUsed,
  validFrom: isoDate(r.validFrom), validTo: isoDate(r.validTo), status: r.status, version: r.version,
})

export async function createReferral(ctx: RequestContext, body: CreateReferralBody) {
  const errors: { pointer: string; detail: string }[] = []
  if (!isValidNpi(body.referringProviderNpi)) errors.push({ pointer: '/referringProviderNpi', detail: 'NPI check digit is wrong' })
  if (body.validTo < body.validFrom) errors.push({ pointer: '/validTo', detail: 'must not be before validFrom' })
  if (errors.length) throw new BadRequestError('The referral is not valid', errors)
  const facility = await scopedFacility(ctx, body.facilityId)
  if (!(await findPatientCore(dbOf(ctx), body.patientId, [facility.id]))) throw new NotFoundError('Patient')
  if (body.specialtyId) await checkSpecialties(dbOf(ctx), [body.specialtyId])
  return withTransaction(ctx, async (trx) => {
    const row = await trx.insertInto('referral').values({
      ...body, officeContact: body.officeContact ?? null, specialtyId: body.specialtyId ?? null, authorizationNumber: body.authorizationNumber ?? null,
    }).returningAll().executeTakeFirstOrThrow()
    await auditChange(trx, ctx, { action: 'create', verb: 'referral.create', resourceType: 'referral', resourceId: row.id, patientId: row.patientId, facilityId: row.facilityId })
    return toReferral(row)
  })
}

export async function getReferral(ctx: RequestContext, id: string) {
  const scope = facilityScope(ctx.principal)
  const row = await dbOf(ctx).selectFrom('referral').selectAll().where('id', '=', id).executeTakeFirst()
  if (!row || (scope && !scope.includes(row.facilityId))) throw new NotFoundError('Referral')
  await guardPatientRead(ctx, { verb: 'referral.read', resourceType: 'referral', resourceId: id, patientId: row.patientId, facilityId: row.facilityId })
  return toReferral(row)
}

/**
 * Referrals in the caller's facilities, newest first, by patient, status or referring NPI.
 * Each referral on the page is an audited read (an empty page is one audited search).
 */
export async function listReferrals(ctx: RequestContext, filter: ReferralListQuery, cursor: (string | number)[] | undefined, limit: number) {
  if (filter.facilityId) await scopedFacility(ctx, filter.facilityId)
  const scope = filter.facilityId ? [filter.facilityId] : facilityScope(ctx.principal)
  let q = dbOf(ctx).selectFrom('referral').selectAll().select(repo.cursorInstant('referral.createdAt').as('cursorAt'))
    .orderBy('createdAt', 'desc').orderBy('id', 'desc').limit(limit + 1)
  if (scope) q = q.where('facilityId', 'in', scopeIds(scope))
  if (filter.patientId) q = q.where('patientId', '=', filter.patientId)
  if (filter.status) q = q.where('status', '=', filter.status)
  if (filter.referringProviderNpi) q = q.where('referringProviderNpi', '=', filter.referringProviderNpi)
  if (cursor) q = q.where(sql<boolean>`(referral.created_at, referral.id) < (${String(cursor[0])}::timestamptz, ${String(cursor[1])}::uuid)`)
  const rows = await q.execute()
  const filters = Object.keys(filter).filter((k) => k !== 'limit' && k !== 'cursor')
  const detail = { filters, returned: Math.min(rows.length, limit) }
  // One audited read per referral listed; restricted patients' referrals are withheld (403 when asked for that patient).
  return guardedPage(ctx, rows, limit, { verb: 'referral.search', resourceType: 'referral', patientId: filter.patientId, facilityId: filter.facilityId, detail },
    (r) => [r.cursorAt, r.id], toReferral)
}

/**
 * Changes a referral as the payer or the referring office amends it: status (cancel, or
 * reinstate a cancelled one), visits authorised (never below those used), expiry, and the
 * authorisation number. Visits already counted stay counted.
 */
export async function updateReferral(ctx: RequestContext, id: string, expected: number | undefined, body: UpdateReferralBody) {
  return withTransaction(ctx, async (trx) => {
    const row = await trx.selectFrom('referral').selectAll().where('id', '=', id).forUpdate().executeTakeFirst()
    const scope = facilityScope(ctx.principal)
    if (!row || (scope && !scope.includes(row.facilityId))) throw new NotFoundError('Referral')
    checkVersion(row.version, expected)
    if (body.validTo !== undefined && body.validTo < isoDate(row.validFrom)) {
      throw new BadRequestError('The referral is not valid', [{ pointer: '/validTo', detail: 'must not be before validFrom' }])
    }
    if (body.visitsAuthorized !== undefined && body.visitsAuthorized < row.visitsUsed) {
      throw new ConflictError('visits-already-used', `${row.visitsUsed} visits have been used; fewer cannot be authorised`)
    }
    const updated = await trx.updateTable('referral').set((eb) => ({ ...body, version: eb('version', '+', 1) })).where('id', '=', id).returningAll().executeTakeFirstOrThrow()
    await auditChange(trx, ctx, {
      action: 'update', verb: body.status && body.status !== row.status ? `referral.${body.status === 'cancelled' ? 'cancel' : 'reinstate'}` : 'referral.update',
      resourceType: 'referral', resourceId: id, patientId: row.patientId, facilityId: row.facilityId, detail: { fields: Object.keys(body) },
    })
    return toReferral(updated)
  })
}

/**
 * The referral gate for booking and check-in: a type that requires a referral needs one of this
 * patient at this facility, active, valid on the visit's date, with a visit left (and an
 * authorisation number when the type requires prior authorisation), unless overridden.
 * Returns the referral to link, or null.
 */
export async function checkReferral(
  db: Kysely<Database>,
  a: { type: AppointmentTypeRow; referralId: string | null | undefined; overrideReason: string | null | undefined; patientId: string; facilityId: string; visitDate: string },
): Promise<ReferralRow | null> {
  const referral = a.referralId
    ? await db.selectFrom('referral').selectAll().where('id', '=', a.referralId).where('patientId', '=', a.patientId).where('facilityId', '=', a.facilityId).executeTakeFirst()
    : undefined
  if (a.referralId && !referral) throw new NotFoundError('Referral')
  if (!a.type.requiresReferral && !a.type.requiresPriorAuth) return referral ?? null
  if (a.overrideReason) return referral ?? null
  if (!referral) throw new ConflictError('referral-required', 'This appointment type requires a referral (or an override with a reason)')
  const problem =
    referral.status !== 'active' ? 'The referral is cancelled'
    : a.visitDate < isoDate(referral.validFrom) || a.visitDate > isoDate(referral.validTo) ? 'The referral is not valid on the visit date'
    : referral.visitsUsed >= referral.visitsAuthorized ? 'The referral has no authorised visits left'
    : a.type.requiresPriorAuth && !referral.authorizationNumber ? 'This appointment type requires a prior authorisation number on the referral'
    : null
  if (problem) throw new ConflictError('referral-invalid', problem)
  return referral
}

/** Gives back a visit counted by an appointment that turned out to be entered in error. */
export async function returnReferralVisit(db: Kysely<Database>, referralId: string) {
  await db.updateTable('referral').set((eb) => ({ visitsUsed: eb('visitsUsed', '-', 1), version: eb('version', '+', 1) }))
    .where('id', '=', referralId).where('visitsUsed', '>', 0).execute()
}

/** Counts the visit against its referral; once per appointment (the caller marks it counted). */
export async function countReferralVisit(db: Kysely<Database>, referralId: string) {
  const row = await db.updateTable('referral').set((eb) => ({ visitsUsed: eb('visitsUsed', '+', 1), version: eb('version', '+', 1) }))
    .where('id', '=', referralId).whereRef('visitsUsed', '<', 'visitsAuthorized').returning('id').executeTakeFirst()
  if (!row) throw new ConflictError('referral-invalid', 'The referral has no authorised visits left')
}
