import type { AppointmentTypeRow, AvailabilityExceptionRow, AvailabilityRuleRow, ResourceRow } from '../../db/database.ts'
import { scopeIds } from '../../db/query-helpers.ts'
import { facilityScope } from '../../http/auth.ts'
import { auditChange, auditRead, withTransaction, type RequestContext } from '../../http/context.ts'
import { BadRequestError, ConflictError, NotFoundError } from '../../http/errors.ts'
import { isValidNpi } from '../../lib/identifiers.ts'
import { formatInZone, isoDate } from './availability.ts'
import * as repo from './scheduling.repository.ts'
import type {
  CreateAppointmentTypeBody,
  CreateAvailabilityExceptionBody,
  CreateAvailabilityRuleBody,
  CreateProviderBody,
} from './scheduling.schemas.ts'

const pgCode = (err: unknown) => (err as { code?: string }).code

/**
 * The executor for a service's queries: the request's transaction when an Idempotency-Key
 * claim opened one (PGlite has a single connection, so a query beside it would wait forever).
 */
export const dbOf = (ctx: RequestContext) => ctx.trx ?? ctx.db

export async function scopedFacility(ctx: RequestContext, facilityId: string) {
  const facility = await repo.findFacility(dbOf(ctx), facilityId, facilityScope(ctx.principal))
  if (!facility) throw new NotFoundError('Facility')
  return facility
}

export async function providerAt(ctx: RequestContext, providerId: string, facilityId: string) {
  const provider = await repo.findProviderAtFacility(dbOf(ctx), providerId, facilityId)
  if (!provider) throw new NotFoundError('Provider')
  return provider
}

/** A provider visible through at least one facility in the caller's scope. */
export async function scopedProvider(ctx: RequestContext, providerId: string) {
  const scope = facilityScope(ctx.principal)
  let q = dbOf(ctx).selectFrom('provider').selectAll().where('id', '=', providerId)
  if (scope) {
    q = q.where((eb) => eb.exists(eb.selectFrom('providerFacility').select('providerId')
      .whereRef('providerFacility.providerId', '=', 'provider.id').where('providerFacility.facilityId', 'in', scopeIds(scope))))
  }
  const row = await q.executeTakeFirst()
  if (!row) throw new NotFoundError('Provider')
  return row
}

export function createSpecialty(ctx: RequestContext, body: { code: string; name: string }) {
  return withTransaction(ctx, async (trx) => {
    const row = await trx.insertInto('specialty').values(body).onConflict((oc) => oc.column('code').doNothing()).returningAll().executeTakeFirst()
    if (!row) throw new ConflictError('duplicate-specialty', 'A specialty with this code exists')
    await auditChange(trx, ctx, { action: 'create', verb: 'specialty.create', resourceType: 'specialty', resourceId: row.id })
    return row
  })
}

export async function listSpecialties(ctx: RequestContext) {
  const rows = await dbOf(ctx).selectFrom('specialty').selectAll().orderBy('name').limit(500).execute()
  await auditRead(ctx, { verb: 'specialty.search', resourceType: 'specialty' })
  return rows
}

async function providerLinks(ctx: RequestContext, ids: string[]) {
  const [specialties, facilities] = await Promise.all([
    dbOf(ctx).selectFrom('providerSpecialty').selectAll().where('providerId', 'in', scopeIds(ids)).orderBy('specialtyId').execute(),
    dbOf(ctx).selectFrom('providerFacility').selectAll().where('providerId', 'in', scopeIds(ids)).orderBy('facilityId').execute(),
  ])
  return (id: string) => ({
    specialtyIds: specialties.filter((s) => s.providerId === id).map((s) => s.specialtyId),
    facilityIds: facilities.filter((f) => f.providerId === id).map((f) => f.facilityId),
  })
}

type ProviderBase = { id: string; organizationId: string; npi: string; displayName: string; active: boolean; version: number }
const toProvider = (row: ProviderBase, links: { specialtyIds: string[]; facilityIds: string[] }) => ({
  id: row.id, organizationId: row.organizationId, npi: row.npi, displayName: row.displayName, active: row.active, version: row.version, ...links,
})

export async function createProvider(ctx: RequestContext, body: CreateProviderBody) {
  if (!isValidNpi(body.npi)) throw new BadRequestError('The provider is not valid', [{ pointer: '/npi', detail: 'NPI check digit is wrong' }])
  const facilities = await Promise.all(body.facilityIds.map((id) => scopedFacility(ctx, id)))
  const organizationId = facilities[0].organizationId
  if (facilities.some((f) => f.organizationId !== organizationId)) {
    throw new BadRequestError('The provider is not valid', [{ pointer: '/facilityIds', detail: 'facilities of one organisation only' }])
  }
  return withTransaction(ctx, async (trx) => {
    const row = await trx.insertInto('provider').values({ organizationId, npi: body.npi, displayName: body.displayName })
      .onConflict((oc) => oc.columns(['organizationId', 'npi']).doNothing()).returningAll().executeTakeFirst()
    if (!row) throw new ConflictError('duplicate-provider', 'The organisation already has a provider with this NPI')
    await trx.insertInto('providerFacility').values(body.facilityIds.map((facilityId) => ({ providerId: row.id, facilityId }))).execute()
    if (body.specialtyIds.length) {
      const found = await trx.selectFrom('specialty').select('id').where('id', 'in', body.specialtyIds).execute()
      if (found.length !== body.specialtyIds.length) throw new NotFoundError('Specialty')
      await trx.insertInto('providerSpecialty').values(body.specialtyIds.map((specialtyId) => ({ providerId: row.id, specialtyId }))).execute()
    }
    await auditChange(trx, ctx, { action: 'create', verb: 'provider.create', resourceType: 'provider', resourceId: row.id, facilityId: body.facilityIds[0] })
    return toProvider(row, { specialtyIds: [...body.specialtyIds].sort(), facilityIds: [...body.facilityIds].sort() })
  })
}

export async function getProvider(ctx: RequestContext, id: string) {
  const row = await scopedProvider(ctx, id)
  await auditRead(ctx, { verb: 'provider.read', resourceType: 'provider', resourceId: id })
  return toProvider(row, (await providerLinks(ctx, [id]))(id))
}

export async function listProviders(ctx: RequestContext, filter: { facilityId: string; specialtyId?: string }) {
  await scopedFacility(ctx, filter.facilityId)
  let q = dbOf(ctx).selectFrom('provider').innerJoin('providerFacility', 'providerFacility.providerId', 'provider.id')
    .selectAll('provider').where('providerFacility.facilityId', '=', filter.facilityId).orderBy('provider.displayName').orderBy('provider.id').limit(500)
  if (filter.specialtyId) {
    const specialtyId = filter.specialtyId
    q = q.where((eb) => eb.exists(eb.selectFrom('providerSpecialty').select('providerId')
      .whereRef('providerSpecialty.providerId', '=', 'provider.id').where('providerSpecialty.specialtyId', '=', specialtyId)))
  }
  const rows = await q.execute()
  const links = await providerLinks(ctx, rows.map((r) => r.id))
  await auditRead(ctx, { verb: 'provider.search', resourceType: 'provider', facilityId: filter.facilityId })
  return rows.map((r) => toProvider(r, links(r.id)))
}

const toResource = (r: ResourceRow) => ({ id: r.id, facilityId: r.facilityId, kind: r.kind, name: r.name, active: r.active })

export async function createResource(ctx: RequestContext, facilityId: string, body: { kind: ResourceRow['kind']; name: string }) {
  await scopedFacility(ctx, facilityId)
  return withTransaction(ctx, async (trx) => {
    const row = await trx.insertInto('resource').values({ facilityId, ...body })
      .onConflict((oc) => oc.columns(['facilityId', 'name']).doNothing()).returningAll().executeTakeFirst()
    if (!row) throw new ConflictError('duplicate-resource', 'The facility already has a resource with this name')
    await auditChange(trx, ctx, { action: 'create', verb: 'resource.create', resourceType: 'resource', resourceId: row.id, facilityId })
    return toResource(row)
  })
}

export async function listResources(ctx: RequestContext, facilityId: string) {
  await scopedFacility(ctx, facilityId)
  const rows = await repo.listResources(dbOf(ctx), facilityId)
  await auditRead(ctx, { verb: 'resource.search', resourceType: 'resource', facilityId })
  return rows.map(toResource)
}

export const toAppointmentType = (r: AppointmentTypeRow) => ({
  id: r.id, organizationId: r.organizationId, code: r.code, name: r.name, specialtyId: r.specialtyId, durationMinutes: r.durationMinutes,
  bufferBeforeMinutes: r.bufferBeforeMinutes, bufferAfterMinutes: r.bufferAfterMinutes, resourceKinds: r.resourceKinds,
  requiresReferral: r.requiresReferral, requiresPriorAuth: r.requiresPriorAuth, minimumNoticeMinutes: r.minimumNoticeMinutes,
})

async function scopedOrganization(ctx: RequestContext, organizationId: string) {
  const scope = facilityScope(ctx.principal)
  let q = dbOf(ctx).selectFrom('facility').select('id').where('organizationId', '=', organizationId)
  if (scope) q = q.where('id', 'in', scopeIds(scope))
  if (!(await q.executeTakeFirst())) throw new NotFoundError('Organization')
}

export async function createAppointmentType(ctx: RequestContext, body: CreateAppointmentTypeBody) {
  await scopedOrganization(ctx, body.organizationId)
  return withTransaction(ctx, async (trx) => {
    try {
      const row = await trx.insertInto('appointmentType').values({ ...body, specialtyId: body.specialtyId ?? null }).returningAll().executeTakeFirstOrThrow()
      await auditChange(trx, ctx, { action: 'create', verb: 'appointment-type.create', resourceType: 'appointment-type', resourceId: row.id })
      return toAppointmentType(row)
    } catch (err) {
      if (pgCode(err) === '23505') throw new ConflictError('duplicate-appointment-type', 'The organisation already has an appointment type with this code')
      if (pgCode(err) === '23503') throw new NotFoundError('Specialty')
      throw err
    }
  })
}

export async function listAppointmentTypes(ctx: RequestContext, organizationId: string) {
  await scopedOrganization(ctx, organizationId)
  const rows = await dbOf(ctx).selectFrom('appointmentType').selectAll().where('organizationId', '=', organizationId).orderBy('name').limit(500).execute()
  await auditRead(ctx, { verb: 'appointment-type.search', resourceType: 'appointment-type' })
  return rows.map(toAppointmentType)
}

const hhmm = (t: string) => t.slice(0, 5)
export const toRule = (r: AvailabilityRuleRow) => ({
  id: r.id, providerId: r.providerId, facilityId: r.facilityId, resourceId: r.resourceId, weekday: r.weekday,
  startTime: hhmm(r.startTime), endTime: hhmm(r.endTime), effectiveFrom: isoDate(r.effectiveFrom),
  effectiveTo: r.effectiveTo === null ? null : isoDate(r.effectiveTo),
})

async function checkRoom(ctx: RequestContext, facilityId: string, resourceId: string | undefined) {
  if (!resourceId) return
  const [room] = await repo.listResources(dbOf(ctx), facilityId, [resourceId])
  if (!room) throw new NotFoundError('Resource')
}

export async function createRule(ctx: RequestContext, providerId: string, body: CreateAvailabilityRuleBody) {
  await scopedFacility(ctx, body.facilityId)
  await providerAt(ctx, providerId, body.facilityId)
  await checkRoom(ctx, body.facilityId, body.resourceId)
  if (body.endTime <= body.startTime) throw new BadRequestError('The rule is not valid', [{ pointer: '/endTime', detail: 'must be after startTime' }])
  if (body.effectiveTo && body.effectiveTo < body.effectiveFrom) {
    throw new BadRequestError('The rule is not valid', [{ pointer: '/effectiveTo', detail: 'must not be before effectiveFrom' }])
  }
  return withTransaction(ctx, async (trx) => {
    const row = await trx.insertInto('availabilityRule').values({ ...body, providerId, resourceId: body.resourceId ?? null, effectiveTo: body.effectiveTo ?? null })
      .returningAll().executeTakeFirstOrThrow()
    await auditChange(trx, ctx, { action: 'create', verb: 'availability-rule.create', resourceType: 'availability-rule', resourceId: row.id, facilityId: body.facilityId })
    return toRule(row)
  })
}

export async function listRules(ctx: RequestContext, providerId: string, facilityId: string) {
  await scopedFacility(ctx, facilityId)
  await providerAt(ctx, providerId, facilityId)
  const rows = await repo.listRules(dbOf(ctx), [providerId], facilityId)
  await auditRead(ctx, { verb: 'availability-rule.search', resourceType: 'availability-rule', facilityId })
  return rows.sort((a, b) => a.weekday - b.weekday || a.startTime.localeCompare(b.startTime)).map(toRule)
}

export async function deleteRule(ctx: RequestContext, providerId: string, ruleId: string) {
  return withTransaction(ctx, async (trx) => {
    const row = await trx.selectFrom('availabilityRule').selectAll().where('id', '=', ruleId).where('providerId', '=', providerId).executeTakeFirst()
    const scope = facilityScope(ctx.principal)
    if (!row || (scope && !scope.includes(row.facilityId))) throw new NotFoundError('Availability rule')
    await trx.deleteFrom('availabilityRule').where('id', '=', ruleId).execute()
    await auditChange(trx, ctx, { action: 'delete', verb: 'availability-rule.delete', resourceType: 'availability-rule', resourceId: ruleId, facilityId: row.facilityId })
  })
}

export const toException = (r: AvailabilityExceptionRow, zone: string) => ({
  id: r.id, providerId: r.providerId, facilityId: r.facilityId, kind: r.kind, resourceId: r.resourceId,
  start: formatInZone(r.startAt.getTime(), zone), end: formatInZone(r.endAt.getTime(), zone), reason: r.reason,
})

export async function createException(ctx: RequestContext, providerId: string, body: CreateAvailabilityExceptionBody) {
  const facility = await scopedFacility(ctx, body.facilityId)
  await providerAt(ctx, providerId, body.facilityId)
  if (body.kind === 'block' && body.resourceId) {
    throw new BadRequestError('The exception is not valid', [{ pointer: '/resourceId', detail: 'only extra availability names a room' }])
  }
  await checkRoom(ctx, body.facilityId, body.resourceId)
  const start = new Date(body.start)
  const end = new Date(body.end)
  if (end <= start) throw new BadRequestError('The exception is not valid', [{ pointer: '/end', detail: 'must be after start' }])
  return withTransaction(ctx, async (trx) => {
    const row = await trx.insertInto('availabilityException')
      .values({ providerId, facilityId: body.facilityId, kind: body.kind, resourceId: body.resourceId ?? null, startAt: start, endAt: end, reason: body.reason ?? null })
      .returningAll().executeTakeFirstOrThrow()
    await auditChange(trx, ctx, { action: 'create', verb: `availability-${body.kind}.create`, resourceType: 'availability-exception', resourceId: row.id, facilityId: body.facilityId })
    return toException(row, facility.timeZone)
  })
}
