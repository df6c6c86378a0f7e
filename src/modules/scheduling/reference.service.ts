import { sql, type Selectable, type Transaction } from 'kysely'
import type { AppointmentTypeRow, AvailabilityExceptionRow, AvailabilityRuleRow, Database, ResourceRow, SpecialtyTable } from '../../db/database.ts'
import { after, scopeIds } from '../../db/query-helpers.ts'
import { facilityScope } from '../../http/auth.ts'
import { auditChange, auditRead, withTransaction, type RequestContext } from '../../http/context.ts'
import { BadRequestError, ConflictError, ForbiddenError, NotFoundError } from '../../http/errors.ts'
import { toPage } from '../../http/pagination.ts'
import { checkVersion } from '../../http/versioning.ts'
import { isoDate } from '../../lib/dates.ts'
import { isValidNpi } from '../../lib/identifiers.ts'
import { findPlanById, networkProvidersQuery } from '../eligibility/eligibility.repository.ts'
import { formatInZone, localDate } from './availability.ts'
import * as repo from './scheduling.repository.ts'
import type {
  CreateAppointmentTypeBody,
  CreateAvailabilityExceptionBody,
  CreateAvailabilityRuleBody,
  CreateProviderBody,
  ProviderListQuery,
  UpdateAppointmentTypeBody,
  UpdateAvailabilityRuleBody,
  UpdateProviderBody,
  UpdateResourceBody,
  UpdateSpecialtyBody,
} from './scheduling.schemas.ts'

type Trx = Transaction<Database>
type Cursor = (string | number)[] | undefined
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

const inUse = (what: string) => new ConflictError('in-use', `The ${what} has future appointments or surgical cases; move or cancel them first`)

/** What a DELETE did: removed the row, or kept it retired (active=false) because records name it. */
export type Removal<T> = { outcome: 'deleted' } | { outcome: 'retired'; resource: T }

/** The tables a DELETE may retire rather than remove, by the resource type their audit events name. */
const removable = { specialty: 'specialty', provider: 'provider', resource: 'resource', 'appointment-type': 'appointmentType' } as const
type Removable = keyof typeof removable
type RemovableRow<K extends Removable> = Selectable<Database[(typeof removable)[K]]>

/**
 * The end of every reference-data DELETE, once the row is locked and checked: remove it, or retire
 * it when a foreign key refuses (or `named` says records without a foreign key name it), audit
 * `<type>.delete` or `<type>.retire`, and answer with the retired row.
 */
async function removeOrRetire<K extends Removable, T>(
  trx: Trx, ctx: RequestContext, resourceType: K, id: string, opts: { facilityId?: string; named?: boolean },
  show: (row: RemovableRow<K>) => T | Promise<T>,
): Promise<Removal<T>> {
  const table: (typeof removable)[Removable] = removable[resourceType]
  // Of these tables only provider has updatedAt.
  const retire = () => table === 'provider'
    ? trx.updateTable('provider').set((eb) => ({ active: false, version: eb('version', '+', 1), updatedAt: sql<Date>`now()` })).where('id', '=', id).execute()
    : trx.updateTable(table).set((eb) => ({ active: false, version: eb('version', '+', 1) })).where('id', '=', id).execute()
  const outcome = opts.named ? (await retire(), 'retired' as const) : await repo.deleteOrRetire(trx, () => trx.deleteFrom(table).where('id', '=', id).execute(), retire)
  await auditChange(trx, ctx, {
    action: outcome === 'deleted' ? 'delete' : 'update', verb: `${resourceType}.${outcome === 'deleted' ? 'delete' : 'retire'}`, resourceType, resourceId: id, facilityId: opts.facilityId,
  })
  if (outcome === 'deleted') return { outcome }
  // Kysely types a row of the widened table as the union of all four; `table` is removable[K], so it is K's row.
  const row = await trx.selectFrom(table).selectAll().where('id', '=', id).executeTakeFirstOrThrow() as RemovableRow<K>
  return { outcome, resource: await show(row) }
}

// ---- specialties ----------------------------------------------------------------------------

type SpecialtyRow = Selectable<SpecialtyTable>
export const toSpecialty = (r: SpecialtyRow) => ({ id: r.id, code: r.code, name: r.name, active: r.active, version: r.version })

export function createSpecialty(ctx: RequestContext, body: { code: string; name: string }) {
  return withTransaction(ctx, async (trx) => {
    const row = await trx.insertInto('specialty').values(body).onConflict((oc) => oc.column('code').doNothing()).returningAll().executeTakeFirst()
    if (!row) throw new ConflictError('duplicate-specialty', 'A specialty with this code exists')
    await auditChange(trx, ctx, { action: 'create', verb: 'specialty.create', resourceType: 'specialty', resourceId: row.id })
    return toSpecialty(row)
  })
}

export async function listSpecialties(ctx: RequestContext, filter: { active?: boolean }, cursor: Cursor, limit: number) {
  let q = dbOf(ctx).selectFrom('specialty').selectAll().orderBy('name').orderBy('id').limit(limit + 1)
  if (filter.active !== undefined) q = q.where('active', '=', filter.active)
  if (cursor) q = q.where(after(['name', 'id'], cursor))
  const rows = await q.execute()
  await auditRead(ctx, { verb: 'specialty.search', resourceType: 'specialty' })
  return toPage(rows, limit, (r) => [r.name, r.id], toSpecialty)
}

export async function getSpecialty(ctx: RequestContext, id: string) {
  const row = await dbOf(ctx).selectFrom('specialty').selectAll().where('id', '=', id).executeTakeFirst()
  if (!row) throw new NotFoundError('Specialty')
  await auditRead(ctx, { verb: 'specialty.read', resourceType: 'specialty', resourceId: id })
  return toSpecialty(row)
}

async function lockSpecialty(trx: Trx, id: string, expected: number | undefined) {
  const row = await trx.selectFrom('specialty').selectAll().where('id', '=', id).forUpdate().executeTakeFirst()
  if (!row) throw new NotFoundError('Specialty')
  checkVersion(row.version, expected)
  return row
}

export function updateSpecialty(ctx: RequestContext, id: string, expected: number | undefined, body: UpdateSpecialtyBody) {
  return withTransaction(ctx, async (trx) => {
    await lockSpecialty(trx, id, expected)
    const row = await trx.updateTable('specialty').set((eb) => ({ ...body, version: eb('version', '+', 1) })).where('id', '=', id).returningAll().executeTakeFirstOrThrow()
    await auditChange(trx, ctx, { action: 'update', verb: 'specialty.update', resourceType: 'specialty', resourceId: id, detail: { fields: Object.keys(body) } })
    return toSpecialty(row)
  })
}

export function deleteSpecialty(ctx: RequestContext, id: string, expected: number | undefined): Promise<Removal<ReturnType<typeof toSpecialty>>> {
  return withTransaction(ctx, async (trx) => {
    await lockSpecialty(trx, id, expected)
    return removeOrRetire(trx, ctx, 'specialty', id, {}, toSpecialty)
  })
}

/** Specialties to link to a provider or type: every one must exist and be active. */
export async function checkSpecialties(db: RequestContext['db'], ids: string[]) {
  if (ids.length === 0) return
  const found = await db.selectFrom('specialty').select('id').where('id', 'in', ids).where('active', '=', true).execute()
  if (found.length !== new Set(ids).size) throw new NotFoundError('Specialty')
}

// ---- providers ------------------------------------------------------------------------------

async function providerLinks(db: RequestContext['db'], ids: string[]) {
  const [specialties, facilities] = await Promise.all([
    db.selectFrom('providerSpecialty').selectAll().where('providerId', 'in', scopeIds(ids)).orderBy('specialtyId').execute(),
    db.selectFrom('providerFacility').selectAll().where('providerId', 'in', scopeIds(ids)).orderBy('facilityId').execute(),
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
const invalidNpi = () => new BadRequestError('The provider is not valid', [{ pointer: '/npi', detail: 'NPI check digit is wrong' }])
const duplicateProvider = () => new ConflictError('duplicate-provider', 'The organisation already has a provider with this NPI')

export async function createProvider(ctx: RequestContext, body: CreateProviderBody) {
  if (!isValidNpi(body.npi)) throw invalidNpi()
  const facilities = await Promise.all(body.facilityIds.map((id) => scopedFacility(ctx, id)))
  const organizationId = facilities[0].organizationId
  if (facilities.some((f) => f.organizationId !== organizationId)) {
    throw new BadRequestError('The provider is not valid', [{ pointer: '/facilityIds', detail: 'facilities of one organisation only' }])
  }
  return withTransaction(ctx, async (trx) => {
    const row = await trx.insertInto('provider').values({ organizationId, npi: body.npi, displayName: body.displayName })
      .onConflict((oc) => oc.columns(['organizationId', 'npi']).doNothing()).returningAll().executeTakeFirst()
    if (!row) throw duplicateProvider()
    await trx.insertInto('providerFacility').values(body.facilityIds.map((facilityId) => ({ providerId: row.id, facilityId }))).execute()
    if (body.specialtyIds.length) {
      await checkSpecialties(trx, body.specialtyIds)
      await trx.insertInto('providerSpecialty').values(body.specialtyIds.map((specialtyId) => ({ providerId: row.id, specialtyId }))).execute()
    }
    await auditChange(trx, ctx, { action: 'create', verb: 'provider.create', resourceType: 'provider', resourceId: row.id, facilityId: body.facilityIds[0] })
    return toProvider(row, { specialtyIds: [...body.specialtyIds].sort(), facilityIds: [...body.facilityIds].sort() })
  })
}

export async function getProvider(ctx: RequestContext, id: string) {
  const row = await scopedProvider(ctx, id)
  await auditRead(ctx, { verb: 'provider.read', resourceType: 'provider', resourceId: id })
  return toProvider(row, (await providerLinks(dbOf(ctx), [id]))(id))
}

/**
 * Providers in the caller's facilities (or one of them), optionally of a specialty, and by
 * network status in an insurance plan: the provider's NPI joined to the participations of the
 * plan's network in force today, through the eligibility module's own query.
 */
export async function listProviders(ctx: RequestContext, filter: ProviderListQuery, cursor: Cursor, limit: number) {
  if (filter.inNetwork !== undefined && !filter.planId) {
    throw new BadRequestError('inNetwork needs planId', [{ pointer: 'inNetwork', detail: 'give planId as well' }])
  }
  const facility = filter.facilityId ? await scopedFacility(ctx, filter.facilityId) : undefined
  const db = dbOf(ctx)
  const scope = facility ? [facility.id] : facilityScope(ctx.principal)
  let q = db.selectFrom('provider').selectAll('provider').orderBy('provider.displayName').orderBy('provider.id').limit(limit + 1)
  if (scope) {
    q = q.where((eb) => eb.exists(eb.selectFrom('providerFacility').select('providerFacility.providerId')
      .whereRef('providerFacility.providerId', '=', 'provider.id').where('providerFacility.facilityId', 'in', scopeIds(scope))))
  }
  if (filter.specialtyId) {
    const specialtyId = filter.specialtyId
    q = q.where((eb) => eb.exists(eb.selectFrom('providerSpecialty').select('providerSpecialty.providerId')
      .whereRef('providerSpecialty.providerId', '=', 'provider.id').where('providerSpecialty.specialtyId', '=', specialtyId)))
  }
  if (filter.active !== undefined) q = q.where('provider.active', '=', filter.active)
  if (filter.planId) {
    const plan = await findPlanById(db, filter.planId)
    if (!plan) throw new NotFoundError('Plan')
    const inNetwork = filter.inNetwork ?? true
    const today = localDate(Date.now(), facility?.timeZone ?? 'UTC')
    if (plan.networkId) {
      q = q.where('provider.npi', inNetwork ? 'in' : 'not in', networkProvidersQuery(db, plan.networkId, today).select('providerNetwork.npi'))
    } else if (inNetwork) {
      q = q.where(sql<boolean>`false`)
    }
  }
  if (cursor) q = q.where(after(['provider.displayName', 'provider.id'], cursor))
  const rows = await q.execute()
  const links = await providerLinks(db, rows.slice(0, limit).map((r) => r.id))
  await auditRead(ctx, {
    verb: 'provider.search', resourceType: 'provider', facilityId: facility?.id ?? null,
    detail: filter.planId ? { planId: filter.planId, inNetwork: filter.inNetwork ?? true } : undefined,
  })
  return toPage(rows, limit, (r) => [r.displayName, r.id], (r) => toProvider(r, links(r.id)))
}

/** Retiring or deleting a provider touches every facility it works at: all must be the caller's. */
async function checkWholeProviderInScope(ctx: RequestContext, db: RequestContext['db'], providerId: string) {
  const scope = facilityScope(ctx.principal)
  if (!scope) return
  const outside = await db.selectFrom('providerFacility').select('facilityId').where('providerId', '=', providerId)
    .where('facilityId', 'not in', scopeIds(scope)).executeTakeFirst()
  if (outside) throw new ForbiddenError('The provider also works at facilities outside your scope')
}

async function lockProvider(trx: Trx, id: string, expected: number | undefined) {
  const row = await trx.selectFrom('provider').selectAll().where('id', '=', id).forUpdate().executeTakeFirstOrThrow()
  checkVersion(row.version, expected)
  return row
}

export async function updateProvider(ctx: RequestContext, id: string, expected: number | undefined, body: UpdateProviderBody) {
  if (body.npi !== undefined && !isValidNpi(body.npi)) throw invalidNpi()
  const existing = await scopedProvider(ctx, id)
  const scope = facilityScope(ctx.principal)
  const facilities = body.facilityIds ? await Promise.all(body.facilityIds.map((f) => scopedFacility(ctx, f))) : []
  if (facilities.some((f) => f.organizationId !== existing.organizationId)) {
    throw new BadRequestError('The provider is not valid', [{ pointer: '/facilityIds', detail: "facilities of the provider's organisation only" }])
  }
  return withTransaction(ctx, async (trx) => {
    await lockProvider(trx, id, expected)
    if (body.active === false) {
      await checkWholeProviderInScope(ctx, trx, id)
      await repo.lockSchedules(trx, [id])
      if (await repo.hasFutureBookings(trx, { providerId: id })) throw inUse('provider')
    }
    if (body.facilityIds) {
      const wanted = new Set(body.facilityIds)
      const current = await trx.selectFrom('providerFacility').select('facilityId').where('providerId', '=', id).execute()
      // Links to facilities outside the caller's scope are not theirs to change.
      const removed = current.map((c) => c.facilityId).filter((f) => !wanted.has(f) && (!scope || scope.includes(f)))
      if (removed.length) {
        if (await repo.hasFutureBookingsAt(trx, id, removed)) throw inUse('provider')
        await trx.deleteFrom('providerFacility').where('providerId', '=', id).where('facilityId', 'in', removed).execute()
      }
      await trx.insertInto('providerFacility').values(body.facilityIds.map((facilityId) => ({ providerId: id, facilityId })))
        .onConflict((oc) => oc.columns(['providerId', 'facilityId']).doNothing()).execute()
    }
    if (body.specialtyIds) {
      await checkSpecialties(trx, body.specialtyIds)
      await trx.deleteFrom('providerSpecialty').where('providerId', '=', id).execute()
      if (body.specialtyIds.length) {
        await trx.insertInto('providerSpecialty').values(body.specialtyIds.map((specialtyId) => ({ providerId: id, specialtyId }))).execute()
      }
    }
    let row
    try {
      row = await trx.updateTable('provider').set((eb) => ({
        npi: body.npi, displayName: body.displayName, active: body.active, version: eb('version', '+', 1), updatedAt: sql<Date>`now()`,
      })).where('id', '=', id).returningAll().executeTakeFirstOrThrow()
    } catch (err) {
      if (pgCode(err) === '23505') throw duplicateProvider()
      throw err
    }
    await auditChange(trx, ctx, {
      action: 'update', verb: body.active === false ? 'provider.retire' : 'provider.update', resourceType: 'provider', resourceId: id,
      facilityId: facilities[0]?.id ?? null, detail: { fields: Object.keys(body) },
    })
    return toProvider(row, (await providerLinks(trx, [id]))(id))
  })
}

export async function deleteProvider(ctx: RequestContext, id: string, expected: number | undefined): Promise<Removal<ReturnType<typeof toProvider>>> {
  await scopedProvider(ctx, id)
  return withTransaction(ctx, async (trx) => {
    await lockProvider(trx, id, expected)
    await checkWholeProviderInScope(ctx, trx, id)
    await repo.lockSchedules(trx, [id])
    if (await repo.hasFutureBookings(trx, { providerId: id })) throw inUse('provider')
    return removeOrRetire(trx, ctx, 'provider', id, {}, async (row) => toProvider(row, (await providerLinks(trx, [id]))(id)))
  })
}

// ---- resources ------------------------------------------------------------------------------

const toResource = (r: ResourceRow) => ({ id: r.id, facilityId: r.facilityId, kind: r.kind, name: r.name, active: r.active, version: r.version })
const duplicateResource = () => new ConflictError('duplicate-resource', 'The facility already has a resource with this name')

export async function createResource(ctx: RequestContext, facilityId: string, body: { kind: ResourceRow['kind']; name: string }) {
  await scopedFacility(ctx, facilityId)
  return withTransaction(ctx, async (trx) => {
    const row = await trx.insertInto('resource').values({ facilityId, ...body })
      .onConflict((oc) => oc.columns(['facilityId', 'name']).doNothing()).returningAll().executeTakeFirst()
    if (!row) throw duplicateResource()
    await auditChange(trx, ctx, { action: 'create', verb: 'resource.create', resourceType: 'resource', resourceId: row.id, facilityId })
    return toResource(row)
  })
}

export async function listResources(ctx: RequestContext, facilityId: string, filter: { active?: boolean }, cursor: Cursor, limit: number) {
  await scopedFacility(ctx, facilityId)
  let q = dbOf(ctx).selectFrom('resource').selectAll().where('facilityId', '=', facilityId).orderBy('name').orderBy('id').limit(limit + 1)
  if (filter.active !== undefined) q = q.where('active', '=', filter.active)
  if (cursor) q = q.where(after(['name', 'id'], cursor))
  const rows = await q.execute()
  await auditRead(ctx, { verb: 'resource.search', resourceType: 'resource', facilityId })
  return toPage(rows, limit, (r) => [r.name, r.id], toResource)
}

export async function getResource(ctx: RequestContext, facilityId: string, id: string) {
  await scopedFacility(ctx, facilityId)
  const row = await dbOf(ctx).selectFrom('resource').selectAll().where('id', '=', id).where('facilityId', '=', facilityId).executeTakeFirst()
  if (!row) throw new NotFoundError('Resource')
  await auditRead(ctx, { verb: 'resource.read', resourceType: 'resource', resourceId: id, facilityId })
  return toResource(row)
}

async function lockResource(trx: Trx, facilityId: string, id: string, expected: number | undefined) {
  const row = await trx.selectFrom('resource').selectAll().where('id', '=', id).where('facilityId', '=', facilityId).forUpdate().executeTakeFirst()
  if (!row) throw new NotFoundError('Resource')
  checkVersion(row.version, expected)
  return row
}

export async function updateResource(ctx: RequestContext, facilityId: string, id: string, expected: number | undefined, body: UpdateResourceBody) {
  await scopedFacility(ctx, facilityId)
  return withTransaction(ctx, async (trx) => {
    const current = await lockResource(trx, facilityId, id, expected)
    // A booking reserved this room for its kind; retiring it or changing what it is would strand that booking.
    if (body.active === false || (body.kind !== undefined && body.kind !== current.kind)) {
      await repo.lockSchedules(trx, [id])
      if (await repo.hasFutureBookings(trx, { resourceId: id })) throw inUse('resource')
    }
    let row
    try {
      row = await trx.updateTable('resource').set((eb) => ({ ...body, version: eb('version', '+', 1) })).where('id', '=', id).returningAll().executeTakeFirstOrThrow()
    } catch (err) {
      if (pgCode(err) === '23505') throw duplicateResource()
      throw err
    }
    await auditChange(trx, ctx, {
      action: 'update', verb: body.active === false ? 'resource.retire' : 'resource.update', resourceType: 'resource', resourceId: id, facilityId, detail: { fields: Object.keys(body) },
    })
    return toResource(row)
  })
}

export async function deleteResource(ctx: RequestContext, facilityId: string, id: string, expected: number | undefined): Promise<Removal<ReturnType<typeof toResource>>> {
  await scopedFacility(ctx, facilityId)
  return withTransaction(ctx, async (trx) => {
    await lockResource(trx, facilityId, id, expected)
    await repo.lockSchedules(trx, [id])
    if (await repo.hasFutureBookings(trx, { resourceId: id })) throw inUse('resource')
    // appointment.resource_ids is an array without a foreign key: past appointments that name the room keep it, retired.
    const named = await trx.selectFrom('appointment').select('id').where(sql<boolean>`resource_ids @> ARRAY[${id}]::uuid[]`).limit(1).executeTakeFirst()
    return removeOrRetire(trx, ctx, 'resource', id, { facilityId, named: named !== undefined }, toResource)
  })
}

// ---- appointment types ----------------------------------------------------------------------

export const toAppointmentType = (r: AppointmentTypeRow) => ({
  id: r.id, organizationId: r.organizationId, code: r.code, name: r.name, specialtyId: r.specialtyId, durationMinutes: r.durationMinutes,
  bufferBeforeMinutes: r.bufferBeforeMinutes, bufferAfterMinutes: r.bufferAfterMinutes, resourceKinds: r.resourceKinds,
  requiresReferral: r.requiresReferral, requiresPriorAuth: r.requiresPriorAuth, minimumNoticeMinutes: r.minimumNoticeMinutes,
  active: r.active, version: r.version,
})

async function scopedOrganization(ctx: RequestContext, organizationId: string) {
  const scope = facilityScope(ctx.principal)
  let q = dbOf(ctx).selectFrom('facility').select('id').where('organizationId', '=', organizationId)
  if (scope) q = q.where('id', 'in', scopeIds(scope))
  if (!(await q.executeTakeFirst())) throw new NotFoundError('Organization')
}

export async function createAppointmentType(ctx: RequestContext, body: CreateAppointmentTypeBody) {
  await scopedOrganization(ctx, body.organizationId)
  if (body.specialtyId) await checkSpecialties(dbOf(ctx), [body.specialtyId])
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

export async function listAppointmentTypes(ctx: RequestContext, filter: { organizationId: string; active?: boolean }, cursor: Cursor, limit: number) {
  await scopedOrganization(ctx, filter.organizationId)
  let q = dbOf(ctx).selectFrom('appointmentType').selectAll().where('organizationId', '=', filter.organizationId).orderBy('name').orderBy('id').limit(limit + 1)
  if (filter.active !== undefined) q = q.where('active', '=', filter.active)
  if (cursor) q = q.where(after(['name', 'id'], cursor))
  const rows = await q.execute()
  await auditRead(ctx, { verb: 'appointment-type.search', resourceType: 'appointment-type' })
  return toPage(rows, limit, (r) => [r.name, r.id], toAppointmentType)
}

async function scopedAppointmentType(ctx: RequestContext, id: string) {
  const row = await dbOf(ctx).selectFrom('appointmentType').selectAll().where('id', '=', id).executeTakeFirst()
  if (!row) throw new NotFoundError('Appointment type')
  await scopedOrganization(ctx, row.organizationId).catch(() => {
    throw new NotFoundError('Appointment type')
  })
  return row
}

export async function getAppointmentType(ctx: RequestContext, id: string) {
  const row = await scopedAppointmentType(ctx, id)
  await auditRead(ctx, { verb: 'appointment-type.read', resourceType: 'appointment-type', resourceId: id })
  return toAppointmentType(row)
}

async function lockAppointmentType(trx: Trx, id: string, expected: number | undefined) {
  const row = await trx.selectFrom('appointmentType').selectAll().where('id', '=', id).forUpdate().executeTakeFirstOrThrow()
  checkVersion(row.version, expected)
  return row
}

export async function updateAppointmentType(ctx: RequestContext, id: string, expected: number | undefined, body: UpdateAppointmentTypeBody) {
  await scopedAppointmentType(ctx, id)
  if (body.specialtyId) await checkSpecialties(dbOf(ctx), [body.specialtyId])
  return withTransaction(ctx, async (trx) => {
    await lockAppointmentType(trx, id, expected)
    if (body.active === false && (await repo.typeHasFutureAppointments(trx, id))) throw inUse('appointment type')
    const row = await trx.updateTable('appointmentType').set((eb) => ({ ...body, version: eb('version', '+', 1) })).where('id', '=', id).returningAll().executeTakeFirstOrThrow()
    await auditChange(trx, ctx, {
      action: 'update', verb: body.active === false ? 'appointment-type.retire' : 'appointment-type.update', resourceType: 'appointment-type', resourceId: id,
      detail: { fields: Object.keys(body) },
    })
    return toAppointmentType(row)
  })
}

export async function deleteAppointmentType(ctx: RequestContext, id: string, expected: number | undefined): Promise<Removal<ReturnType<typeof toAppointmentType>>> {
  await scopedAppointmentType(ctx, id)
  return withTransaction(ctx, async (trx) => {
    await lockAppointmentType(trx, id, expected)
    if (await repo.typeHasFutureAppointments(trx, id)) throw inUse('appointment type')
    return removeOrRetire(trx, ctx, 'appointment-type', id, {}, toAppointmentType)
  })
}

// ---- availability ---------------------------------------------------------------------------

const hhmm = (t: string) => t.slice(0, 5)
export const toRule = (r: AvailabilityRuleRow) => ({
  id: r.id, providerId: r.providerId, facilityId: r.facilityId, resourceId: r.resourceId, weekday: r.weekday,
  startTime: hhmm(r.startTime), endTime: hhmm(r.endTime), effectiveFrom: isoDate(r.effectiveFrom),
  effectiveTo: r.effectiveTo === null ? null : isoDate(r.effectiveTo), version: r.version,
})

async function checkRoom(ctx: RequestContext, facilityId: string, resourceId: string | null | undefined) {
  if (!resourceId) return
  const [room] = await repo.listResources(dbOf(ctx), facilityId, [resourceId])
  if (!room) throw new NotFoundError('Resource')
}

function checkRuleShape(r: { startTime: string; endTime: string; effectiveFrom: string; effectiveTo?: string | null }) {
  if (r.endTime <= r.startTime) throw new BadRequestError('The rule is not valid', [{ pointer: '/endTime', detail: 'must be after startTime' }])
  if (r.effectiveTo && r.effectiveTo < r.effectiveFrom) {
    throw new BadRequestError('The rule is not valid', [{ pointer: '/effectiveTo', detail: 'must not be before effectiveFrom' }])
  }
}

export async function createRule(ctx: RequestContext, providerId: string, body: CreateAvailabilityRuleBody) {
  await scopedFacility(ctx, body.facilityId)
  await providerAt(ctx, providerId, body.facilityId)
  await checkRoom(ctx, body.facilityId, body.resourceId)
  checkRuleShape(body)
  return withTransaction(ctx, async (trx) => {
    const row = await trx.insertInto('availabilityRule').values({ ...body, providerId, resourceId: body.resourceId ?? null, effectiveTo: body.effectiveTo ?? null })
      .returningAll().executeTakeFirstOrThrow()
    await auditChange(trx, ctx, { action: 'create', verb: 'availability-rule.create', resourceType: 'availability-rule', resourceId: row.id, facilityId: body.facilityId })
    return toRule(row)
  })
}

export async function listRules(ctx: RequestContext, providerId: string, facilityId: string, cursor: Cursor, limit: number) {
  await scopedFacility(ctx, facilityId)
  await providerAt(ctx, providerId, facilityId)
  let q = dbOf(ctx).selectFrom('availabilityRule').selectAll().where('providerId', '=', providerId).where('facilityId', '=', facilityId)
    .orderBy('weekday').orderBy('startTime').orderBy('id').limit(limit + 1)
  if (cursor) q = q.where(sql<boolean>`(weekday, start_time, id) > (${Number(cursor[0])}::integer, ${String(cursor[1])}::time, ${String(cursor[2])}::uuid)`)
  const rows = await q.execute()
  await auditRead(ctx, { verb: 'availability-rule.search', resourceType: 'availability-rule', facilityId })
  return toPage(rows, limit, (r) => [r.weekday, r.startTime, r.id], toRule)
}

async function lockRule(ctx: RequestContext, trx: Trx, providerId: string, ruleId: string, expected: number | undefined) {
  const row = await trx.selectFrom('availabilityRule').selectAll().where('id', '=', ruleId).where('providerId', '=', providerId).forUpdate().executeTakeFirst()
  const scope = facilityScope(ctx.principal)
  if (!row || (scope && !scope.includes(row.facilityId))) throw new NotFoundError('Availability rule')
  checkVersion(row.version, expected)
  return row
}

export async function updateRule(ctx: RequestContext, providerId: string, ruleId: string, expected: number | undefined, body: UpdateAvailabilityRuleBody) {
  const current = await dbOf(ctx).selectFrom('availabilityRule').select('facilityId').where('id', '=', ruleId).where('providerId', '=', providerId).executeTakeFirst()
  const scope = facilityScope(ctx.principal)
  if (!current || (scope && !scope.includes(current.facilityId))) throw new NotFoundError('Availability rule')
  await checkRoom(ctx, current.facilityId, body.resourceId)
  return withTransaction(ctx, async (trx) => {
    const row = await lockRule(ctx, trx, providerId, ruleId, expected)
    checkRuleShape({ ...toRule(row), ...body })
    const updated = await trx.updateTable('availabilityRule').set((eb) => ({ ...body, version: eb('version', '+', 1) }))
      .where('id', '=', ruleId).returningAll().executeTakeFirstOrThrow()
    await auditChange(trx, ctx, {
      action: 'update', verb: 'availability-rule.update', resourceType: 'availability-rule', resourceId: ruleId, facilityId: row.facilityId, detail: { fields: Object.keys(body) },
    })
    return toRule(updated)
  })
}

export async function deleteRule(ctx: RequestContext, providerId: string, ruleId: string, expected?: number) {
  return withTransaction(ctx, async (trx) => {
    const row = await lockRule(ctx, trx, providerId, ruleId, expected)
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
