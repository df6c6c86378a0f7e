import type { FacilityRow, OrganizationRow } from '../../db/database.ts'
import { auditChange, auditRead, withTransaction, type RequestContext } from '../../http/context.ts'
import { canActFor, facilityScope } from '../../http/auth.ts'
import { BadRequestError, ConflictError, NotFoundError, PreconditionFailedError } from '../../http/errors.ts'
import { toPage } from '../../http/pagination.ts'
import { checkVersion } from '../../http/versioning.ts'
import { isIanaTimeZone, isValidNpi } from '../../lib/identifiers.ts'
import * as repo from './organization.repository.ts'
import type { CreateFacilityBody, Facility, Organization, UpdateFacilityBody } from './organization.schemas.ts'

export const toOrganization = (row: OrganizationRow): Organization => ({
  id: row.id,
  name: row.name,
  version: row.version,
  createdAt: row.createdAt.toISOString(),
  updatedAt: row.updatedAt.toISOString(),
})

export const toFacility = (row: FacilityRow): Facility => ({
  id: row.id,
  organizationId: row.organizationId,
  name: row.name,
  kind: row.kind,
  timeZone: row.timeZone,
  npi: row.npi,
  stateCode: row.stateCode,
  roiDeadlineDays: row.roiDeadlineDays,
  version: row.version,
  createdAt: row.createdAt.toISOString(),
  updatedAt: row.updatedAt.toISOString(),
})

function checkFacilityFields(body: Partial<CreateFacilityBody>) {
  const errors: { pointer: string; detail: string }[] = []
  if (body.timeZone !== undefined && !isIanaTimeZone(body.timeZone)) errors.push({ pointer: '/timeZone', detail: 'not an IANA time zone' })
  if (body.npi && !isValidNpi(body.npi)) errors.push({ pointer: '/npi', detail: 'NPI check digit is wrong' })
  if (errors.length) throw new BadRequestError('The facility is not valid', errors)
}

export function createOrganization(ctx: RequestContext, name: string): Promise<Organization> {
  return withTransaction(ctx, async (trx) => {
    const row = await repo.insertOrganization(trx, name)
    await auditChange(trx, ctx, { action: 'create', verb: 'organization.create', resourceType: 'organization', resourceId: row.id })
    return toOrganization(row)
  })
}

export async function getOrganization(ctx: RequestContext, id: string): Promise<Organization> {
  const row = await repo.findOrganizationById(ctx.db, id, facilityScope(ctx.principal))
  if (!row) throw new NotFoundError('Organization')
  await auditRead(ctx, { verb: 'organization.read', resourceType: 'organization', resourceId: id })
  return toOrganization(row)
}

export async function listOrganizations(ctx: RequestContext, cursor: (string | number)[] | undefined, limit: number) {
  const rows = await repo.listOrganizations(ctx.db, facilityScope(ctx.principal), cursor, limit)
  await auditRead(ctx, { verb: 'organization.search', resourceType: 'organization', detail: { returned: Math.min(rows.length, limit) } })
  return toPage(rows, limit, (r) => [r.name, r.id], toOrganization)
}

export function updateOrganization(ctx: RequestContext, id: string, expectedVersion: number | undefined, name: string) {
  return withTransaction(ctx, async (trx) => {
    const existing = await repo.findOrganizationById(trx, id, facilityScope(ctx.principal))
    if (!existing) throw new NotFoundError('Organization')
    checkVersion(existing.version, expectedVersion)
    const row = await repo.updateOrganization(trx, id, existing.version, name)
    if (!row) throw new PreconditionFailedError()
    await auditChange(trx, ctx, { action: 'update', verb: 'organization.update', resourceType: 'organization', resourceId: id })
    return toOrganization(row)
  })
}

export function createFacility(ctx: RequestContext, organizationId: string, body: CreateFacilityBody): Promise<Facility> {
  checkFacilityFields(body)
  return withTransaction(ctx, async (trx) => {
    const org = await repo.findOrganizationById(trx, organizationId, facilityScope(ctx.principal))
    if (!org) throw new NotFoundError('Organization')
    try {
      const row = await repo.insertFacility(trx, { ...body, organizationId })
      await auditChange(trx, ctx, { action: 'create', verb: 'facility.create', resourceType: 'facility', resourceId: row.id, facilityId: row.id })
      return toFacility(row)
    } catch (err) {
      if ((err as { code?: string }).code === '23505') throw new ConflictError('duplicate-facility', 'The organisation already has a facility with this name')
      throw err
    }
  })
}

export async function getFacility(ctx: RequestContext, id: string): Promise<Facility> {
  const row = await repo.findFacilityById(ctx.db, id, facilityScope(ctx.principal))
  if (!row) throw new NotFoundError('Facility')
  await auditRead(ctx, { verb: 'facility.read', resourceType: 'facility', resourceId: id, facilityId: id })
  return toFacility(row)
}

export async function listFacilities(ctx: RequestContext, organizationId: string | undefined, cursor: (string | number)[] | undefined, limit: number) {
  const rows = await repo.listFacilities(ctx.db, { facilityIds: facilityScope(ctx.principal), organizationId }, cursor, limit)
  await auditRead(ctx, { verb: 'facility.search', resourceType: 'facility', detail: { returned: Math.min(rows.length, limit) } })
  return toPage(rows, limit, (r) => [r.name, r.id], toFacility)
}

export function updateFacility(ctx: RequestContext, id: string, expectedVersion: number | undefined, body: UpdateFacilityBody) {
  checkFacilityFields(body as Partial<CreateFacilityBody>)
  return withTransaction(ctx, async (trx) => {
    if (!canActFor(ctx.principal, id)) throw new NotFoundError('Facility')
    const existing = await repo.findFacilityById(trx, id, undefined)
    if (!existing) throw new NotFoundError('Facility')
    checkVersion(existing.version, expectedVersion)
    let row
    try {
      row = await repo.updateFacility(trx, id, existing.version, body)
    } catch (err) {
      if ((err as { code?: string }).code === '23505') throw new ConflictError('duplicate-facility', 'The organisation already has a facility with this name')
      throw err
    }
    if (!row) throw new PreconditionFailedError()
    await auditChange(trx, ctx, { action: 'update', verb: 'facility.update', resourceType: 'facility', resourceId: id, facilityId: id, detail: { fields: Object.keys(body) } })
    return toFacility(row)
  })
}
