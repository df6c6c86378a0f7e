import type { Kysely } from 'kysely'
import type { Database } from '../../db/database.ts'
import { facilityScope } from '../../http/auth.ts'
import { auditChange, withTransaction, type RequestContext } from '../../http/context.ts'
import { BadRequestError, ConflictError, NotFoundError, PreconditionFailedError } from '../../http/errors.ts'
import { toPage } from '../../http/pagination.ts'
import { checkVersion } from '../../http/versioning.ts'
import { isValidNpi } from '../../lib/identifiers.ts'
import { findPatientCore } from '../patients/patient.repository.ts'
import * as repo from './eligibility.repository.ts'
import { toCoverage, toNetwork, toNetworkProvider, toParticipation, toPayer, toPlan } from './eligibility.mappers.ts'
import type { CreateCoverageBody, CreatePlanBody, UpdateCoverageBody, UpdatePlanBody } from './eligibility.schemas.ts'
import { guardPatientRead } from '../patients/patient-guard.ts'

type Cursor = (string | number)[] | undefined
const pgCode = (err: unknown) => (err as { code?: string; constraint?: string }).code

// ---- access through the patient ---------------------------------------------------------

/**
 * The patient, if the caller may see it, and the facility the access goes through (for the
 * audit record): the registering facility when in scope, else the first linked one in scope.
 */
export async function patientAccess(db: Kysely<Database>, ctx: RequestContext, patientId: string, what = 'Patient') {
  const scope = facilityScope(ctx.principal)
  const patient = await findPatientCore(db, patientId, scope)
  if (!patient) throw new NotFoundError(what)
  let facilityId = patient.facilityId
  if (scope && !scope.includes(facilityId)) {
    facilityId = (await repo.listPatientFacilityIds(db, patient.id, patient.facilityId)).find((f) => scope.includes(f))!
  }
  return { patient, facilityId }
}

/** A coverage the caller may see (through its patient), with the access facility. */
export async function coverageAccess(db: Kysely<Database>, ctx: RequestContext, coverageId: string) {
  const coverage = await repo.findCoverageById(db, coverageId)
  if (!coverage) throw new NotFoundError('Coverage')
  const { patient, facilityId } = await patientAccess(db, ctx, coverage.patientId, 'Coverage')
  return { coverage, patient, facilityId }
}

// ---- payers, networks, plans (reference data, no PHI) ------------------------------------

const duplicate = (err: unknown, slug: string, detail: string) => {
  if (pgCode(err) === '23505') return new ConflictError(slug, detail)
  return err
}

export function createPayer(ctx: RequestContext, body: { name: string; x12PayerId: string }) {
  return withTransaction(ctx, async (trx) => {
    try {
      const row = await repo.insertPayer(trx, body)
      await auditChange(trx, ctx, { action: 'create', verb: 'payer.create', resourceType: 'payer', resourceId: row.id })
      return toPayer(row)
    } catch (err) {
      throw duplicate(err, 'duplicate-payer', 'A payer with this X12 payer id already exists')
    }
  })
}

export async function getPayer(ctx: RequestContext, id: string) {
  const row = await repo.findPayerById(ctx.db, id)
  if (!row) throw new NotFoundError('Payer')
  return toPayer(row)
}

export async function listPayers(ctx: RequestContext, cursor: Cursor, limit: number) {
  return toPage(await repo.listPayers(ctx.db, cursor, limit), limit, (r) => [r.name, r.id], toPayer)
}

export function updatePayer(ctx: RequestContext, id: string, expected: number | undefined, body: { name?: string; x12PayerId?: string }) {
  return withTransaction(ctx, async (trx) => {
    const existing = await repo.findPayerById(trx, id)
    if (!existing) throw new NotFoundError('Payer')
    checkVersion(existing.version, expected)
    try {
      const row = await repo.updatePayer(trx, id, existing.version, body)
      if (!row) throw new PreconditionFailedError()
      await auditChange(trx, ctx, { action: 'update', verb: 'payer.update', resourceType: 'payer', resourceId: id, detail: { fields: Object.keys(body) } })
      return toPayer(row)
    } catch (err) {
      throw duplicate(err, 'duplicate-payer', 'A payer with this X12 payer id already exists')
    }
  })
}

export function createNetwork(ctx: RequestContext, payerId: string, name: string) {
  return withTransaction(ctx, async (trx) => {
    if (!(await repo.findPayerById(trx, payerId))) throw new NotFoundError('Payer')
    try {
      const row = await repo.insertNetwork(trx, { payerId, name })
      await auditChange(trx, ctx, { action: 'create', verb: 'network.create', resourceType: 'network', resourceId: row.id })
      return toNetwork(row)
    } catch (err) {
      throw duplicate(err, 'duplicate-network', 'The payer already has a network with this name')
    }
  })
}

export async function listNetworks(ctx: RequestContext, payerId: string) {
  if (!(await repo.findPayerById(ctx.db, payerId))) throw new NotFoundError('Payer')
  return (await repo.listNetworks(ctx.db, payerId)).map(toNetwork)
}

export function putParticipation(ctx: RequestContext, networkId: string, npi: string, body: { effectiveFrom: string; effectiveTo?: string | null }) {
  if (!isValidNpi(npi)) throw new BadRequestError('The NPI is not valid', [{ pointer: 'npi', detail: 'NPI check digit is wrong' }])
  if (body.effectiveTo && body.effectiveTo < body.effectiveFrom) {
    throw new BadRequestError('The participation period ends before it starts', [{ pointer: '/effectiveTo', detail: 'before effectiveFrom' }])
  }
  return withTransaction(ctx, async (trx) => {
    if (!(await repo.findNetworkById(trx, networkId))) throw new NotFoundError('Network')
    const row = await repo.upsertParticipation(trx, { networkId, npi, effectiveFrom: body.effectiveFrom, effectiveTo: body.effectiveTo ?? null })
    await auditChange(trx, ctx, { action: 'update', verb: 'network.participation.put', resourceType: 'network', resourceId: networkId, detail: { npi } })
    return toParticipation(row)
  })
}

export function deleteParticipation(ctx: RequestContext, networkId: string, npi: string) {
  return withTransaction(ctx, async (trx) => {
    const res = await repo.deleteParticipation(trx, networkId, npi)
    if (Number(res.numDeletedRows) === 0) throw new NotFoundError('Participation')
    await auditChange(trx, ctx, { action: 'delete', verb: 'network.participation.delete', resourceType: 'network', resourceId: networkId, detail: { npi } })
  })
}

function checkPlanFields(body: Partial<CreatePlanBody>) {
  for (const [key, value] of Object.entries(body)) {
    if (key === 'priorAuthServiceTypes' && Array.isArray(value) && new Set(value).size !== value.length) {
      throw new BadRequestError('The plan is not valid', [{ pointer: '/priorAuthServiceTypes', detail: 'duplicate service type' }])
    }
  }
}

async function checkNetworkOfPayer(db: Kysely<Database>, networkId: string | null | undefined, payerId: string) {
  if (!networkId) return
  const network = await repo.findNetworkById(db, networkId)
  if (!network || network.payerId !== payerId) {
    throw new BadRequestError('The plan is not valid', [{ pointer: '/networkId', detail: "not a network of the plan's payer" }])
  }
}

export function createPlan(ctx: RequestContext, body: CreatePlanBody) {
  checkPlanFields(body)
  return withTransaction(ctx, async (trx) => {
    if (!(await repo.findPayerById(trx, body.payerId))) throw new NotFoundError('Payer')
    await checkNetworkOfPayer(trx, body.networkId, body.payerId)
    try {
      const row = await repo.insertPlan(trx, { ...body, networkId: body.networkId ?? null, copayCents: body.copayCents ?? null,
        deductibleCents: body.deductibleCents ?? null, familyDeductibleCents: body.familyDeductibleCents ?? null,
        coinsurancePercent: body.coinsurancePercent ?? null, oopMaxCents: body.oopMaxCents ?? null, oonDeductibleCents: body.oonDeductibleCents ?? null,
        oonCoinsurancePercent: body.oonCoinsurancePercent ?? null, oonOopMaxCents: body.oonOopMaxCents ?? null })
      await auditChange(trx, ctx, { action: 'create', verb: 'plan.create', resourceType: 'plan', resourceId: row.id })
      return toPlan(row)
    } catch (err) {
      throw duplicate(err, 'duplicate-plan', 'The payer already has a plan with this name')
    }
  })
}

export async function getPlan(ctx: RequestContext, id: string) {
  const row = await repo.findPlanById(ctx.db, id)
  if (!row) throw new NotFoundError('Plan')
  return toPlan(row)
}

export async function listPlans(ctx: RequestContext, payerId: string | undefined, cursor: Cursor, limit: number) {
  return toPage(await repo.listPlans(ctx.db, payerId, cursor, limit), limit, (r) => [r.name, r.id], toPlan)
}

export function updatePlan(ctx: RequestContext, id: string, expected: number | undefined, body: UpdatePlanBody) {
  checkPlanFields(body)
  return withTransaction(ctx, async (trx) => {
    const existing = await repo.findPlanById(trx, id)
    if (!existing) throw new NotFoundError('Plan')
    checkVersion(existing.version, expected)
    await checkNetworkOfPayer(trx, body.networkId, existing.payerId)
    try {
      const row = await repo.updatePlan(trx, id, existing.version, body)
      if (!row) throw new PreconditionFailedError()
      await auditChange(trx, ctx, { action: 'update', verb: 'plan.update', resourceType: 'plan', resourceId: id, detail: { fields: Object.keys(body) } })
      return toPlan(row)
    } catch (err) {
      throw duplicate(err, 'duplicate-plan', 'The payer already has a plan with this name')
    }
  })
}

/** In-network providers of a plan (by NPI): the scheduling module joins its providers on npi. */
export async function listPlanNetworkProviders(ctx: RequestContext, planId: string, onDate: string | undefined, cursor: Cursor, limit: number) {
  const plan = await repo.findPlanById(ctx.db, planId)
  if (!plan) throw new NotFoundError('Plan')
  if (!plan.networkId) return { items: [], next: null }
  const rows = await repo.listNetworkProviders(ctx.db, plan.networkId, onDate, cursor, limit)
  return toPage(rows, limit, (r) => [r.npi], toNetworkProvider)
}

// ---- coverages ---------------------------------------------------------------------------

interface CoverageShape {
  relationship: 'self' | 'spouse' | 'child' | 'other'
  subscriber: { familyName: string; givenNames: string; birthDate: string } | null
  effectiveFrom: string
  effectiveTo: string | null
}

export function checkCoverageShape(c: CoverageShape) {
  const errors: { pointer: string; detail: string }[] = []
  if (c.relationship === 'self' && c.subscriber) errors.push({ pointer: '/subscriber', detail: 'must be absent when the patient is the subscriber' })
  if (c.relationship !== 'self' && !c.subscriber) errors.push({ pointer: '/subscriber', detail: 'required when the patient is not the subscriber' })
  if (c.effectiveTo && c.effectiveTo < c.effectiveFrom) errors.push({ pointer: '/effectiveTo', detail: 'before effectiveFrom' })
  if (errors.length) throw new BadRequestError('The coverage is not valid', errors)
}

// The partial unique index coverage_one_active_per_priority is the coverage table's only unique key.
const priorityTaken = (err: unknown) =>
  pgCode(err) === '23505' ? new ConflictError('coverage-priority-taken', 'The patient already has an active coverage with this priority') : err

const subscriberColumns = (s: CoverageShape['subscriber']) => ({
  subscriberFamilyName: s?.familyName ?? null,
  subscriberGivenNames: s?.givenNames ?? null,
  subscriberBirthDate: s?.birthDate ?? null,
})

export function createCoverage(ctx: RequestContext, patientId: string, body: CreateCoverageBody) {
  checkCoverageShape({ relationship: body.relationship, subscriber: body.subscriber ?? null, effectiveFrom: body.effectiveFrom, effectiveTo: body.effectiveTo ?? null })
  return withTransaction(ctx, async (trx) => {
    const { facilityId } = await patientAccess(trx, ctx, patientId)
    if (!(await repo.findPlanById(trx, body.planId))) throw new NotFoundError('Plan')
    let id: string
    try {
      ;({ id } = await repo.insertCoverage(trx, {
        patientId, planId: body.planId, priority: body.priority, relationship: body.relationship, ...subscriberColumns(body.subscriber ?? null),
        memberId: body.memberId, groupNumber: body.groupNumber ?? null, effectiveFrom: body.effectiveFrom, effectiveTo: body.effectiveTo ?? null,
      }))
    } catch (err) {
      throw priorityTaken(err)
    }
    await auditChange(trx, ctx, { action: 'create', verb: 'coverage.create', resourceType: 'coverage', resourceId: id, patientId, facilityId })
    return toCoverage((await repo.findCoverageById(trx, id))!)
  })
}

export async function getCoverage(ctx: RequestContext, id: string) {
  const { coverage, facilityId } = await coverageAccess(ctx.db, ctx, id)
  await guardPatientRead(ctx, { verb: 'coverage.read', resourceType: 'coverage', resourceId: id, patientId: coverage.patientId, facilityId })
  return toCoverage(coverage)
}

export async function listCoverages(ctx: RequestContext, patientId: string) {
  const { facilityId } = await patientAccess(ctx.db, ctx, patientId)
  const rows = await repo.listCoveragesOfPatient(ctx.db, patientId)
  await guardPatientRead(ctx, { verb: 'coverage.search', resourceType: 'coverage', patientId, facilityId, detail: { returned: rows.length } })
  return { items: rows.map(toCoverage) }
}

export function updateCoverage(ctx: RequestContext, id: string, expected: number | undefined, body: UpdateCoverageBody) {
  return withTransaction(ctx, async (trx) => {
    const { coverage, facilityId } = await coverageAccess(trx, ctx, id)
    await repo.lockCoverage(trx, id)
    const current = (await repo.findCoverageById(trx, id))!
    checkVersion(current.version, expected)
    const relationship = body.relationship ?? current.relationship
    const currentSubscriber = toCoverage(current).subscriber
    const subscriber = relationship === 'self' ? (body.subscriber ?? null) : body.subscriber !== undefined ? body.subscriber : currentSubscriber
    const effectiveFrom = body.effectiveFrom ?? toCoverage(current).effectiveFrom
    const effectiveTo = body.effectiveTo !== undefined ? body.effectiveTo : toCoverage(current).effectiveTo
    checkCoverageShape({ relationship, subscriber, effectiveFrom, effectiveTo })
    if (body.planId && !(await repo.findPlanById(trx, body.planId))) throw new NotFoundError('Plan')
    try {
      const updated = await repo.updateCoverage(trx, id, current.version, {
        planId: body.planId, priority: body.priority, status: body.status, relationship, ...subscriberColumns(subscriber),
        memberId: body.memberId, groupNumber: body.groupNumber, effectiveFrom, effectiveTo,
      })
      if (!updated) throw new PreconditionFailedError()
    } catch (err) {
      throw priorityTaken(err)
    }
    await auditChange(trx, ctx, {
      action: 'update', verb: 'coverage.update', resourceType: 'coverage', resourceId: id, patientId: coverage.patientId, facilityId,
      detail: { fields: Object.keys(body) },
    })
    return toCoverage((await repo.findCoverageById(trx, id))!)
  })
}

/** DELETE marks the coverage entered-in-error: checks and estimates keep pointing at it. */
export function deleteCoverage(ctx: RequestContext, id: string, expected: number | undefined) {
  return withTransaction(ctx, async (trx) => {
    const { coverage, facilityId } = await coverageAccess(trx, ctx, id)
    await repo.lockCoverage(trx, id)
    const current = (await repo.findCoverageById(trx, id))!
    checkVersion(current.version, expected)
    await repo.updateCoverage(trx, id, current.version, { status: 'entered-in-error' })
    await auditChange(trx, ctx, { action: 'delete', verb: 'coverage.delete', resourceType: 'coverage', resourceId: id, patientId: coverage.patientId, facilityId })
  })
}

