import { sql, type Insertable, type Kysely, type Updateable } from 'kysely'
import type {
  CoverageTable,
  Database,
  EligibilityCheckTable,
  EstimateTable,
  PlanTable,
} from '../../db/database.ts'
import { after, scopeIds } from '../../db/query-helpers.ts'

type Db = Kysely<Database>

// ---- patients (core columns only) and facilities -----------------------------------------

/** Facilities linked to the patient (the registering one included). */
export async function listPatientFacilityIds(db: Db, patientId: string, registeringFacilityId: string): Promise<string[]> {
  const rows = await db.selectFrom('patientFacility').select('facilityId').where('patientId', '=', patientId).execute()
  return [registeringFacilityId, ...rows.map((r) => r.facilityId).filter((f) => f !== registeringFacilityId)]
}

export const findFacility = (db: Db, id: string) =>
  db.selectFrom('facility').select(['id', 'organizationId', 'name', 'npi', 'timeZone']).where('id', '=', id).executeTakeFirst()

// ---- payers, networks, plans --------------------------------------------------------------

export const insertPayer = (db: Db, v: { name: string; x12PayerId: string }) =>
  db.insertInto('payer').values(v).returningAll().executeTakeFirstOrThrow()

export const findPayerById = (db: Db, id: string) => db.selectFrom('payer').selectAll().where('id', '=', id).executeTakeFirst()

export function listPayers(db: Db, cursor: (string | number)[] | undefined, limit: number) {
  let q = db.selectFrom('payer').selectAll().orderBy('name').orderBy('id').limit(limit + 1)
  if (cursor) q = q.where(after(['name', 'id'], cursor))
  return q.execute()
}

export function updatePayer(db: Db, id: string, version: number, changes: { name?: string; x12PayerId?: string }) {
  return db.updateTable('payer').set({ ...changes, version: sql`version + 1`, updatedAt: sql`now()` })
    .where('id', '=', id).where('version', '=', version).returningAll().executeTakeFirst()
}

export const insertNetwork = (db: Db, v: { payerId: string; name: string }) =>
  db.insertInto('network').values(v).returningAll().executeTakeFirstOrThrow()

export const findNetworkById = (db: Db, id: string) => db.selectFrom('network').selectAll().where('id', '=', id).executeTakeFirst()

export const listNetworks = (db: Db, payerId: string) =>
  db.selectFrom('network').selectAll().where('payerId', '=', payerId).orderBy('name').orderBy('id').limit(500).execute()

export function upsertParticipation(db: Db, v: { networkId: string; npi: string; effectiveFrom: string; effectiveTo: string | null }) {
  return db.insertInto('providerNetwork').values(v)
    .onConflict((oc) => oc.columns(['networkId', 'npi']).doUpdateSet({ effectiveFrom: v.effectiveFrom, effectiveTo: v.effectiveTo }))
    .returningAll().executeTakeFirstOrThrow()
}

export const deleteParticipation = (db: Db, networkId: string, npi: string) =>
  db.deleteFrom('providerNetwork').where('networkId', '=', networkId).where('npi', '=', npi).executeTakeFirst()

/** Providers in a network; with `onDate`, only those participating that day. */
/** A network's participations (in force on onDate when given): the plan's list below, and scheduling's in-network provider filter. */
export function networkProvidersQuery(db: Db, networkId: string, onDate: string | undefined) {
  let q = db.selectFrom('providerNetwork').where('networkId', '=', networkId)
  if (onDate) {
    q = q.where('effectiveFrom', '<=', onDate).where((eb) => eb.or([eb('effectiveTo', 'is', null), eb('effectiveTo', '>=', onDate)]))
  }
  return q
}

export function listNetworkProviders(db: Db, networkId: string, onDate: string | undefined, cursor: (string | number)[] | undefined, limit: number) {
  let q = networkProvidersQuery(db, networkId, onDate).selectAll().orderBy('npi').limit(limit + 1)
  if (cursor) q = q.where('npi', '>', String(cursor[0]))
  return q.execute()
}

export async function isInNetwork(db: Db, networkId: string, npi: string, onDate: string): Promise<boolean> {
  const row = await db.selectFrom('providerNetwork').select('npi')
    .where('networkId', '=', networkId).where('npi', '=', npi).where('effectiveFrom', '<=', onDate)
    .where((eb) => eb.or([eb('effectiveTo', 'is', null), eb('effectiveTo', '>=', onDate)]))
    .executeTakeFirst()
  return row !== undefined
}

export const insertPlan = (db: Db, v: Insertable<PlanTable>) => db.insertInto('plan').values(v).returningAll().executeTakeFirstOrThrow()

export const findPlanById = (db: Db, id: string) => db.selectFrom('plan').selectAll().where('id', '=', id).executeTakeFirst()

export function listPlans(db: Db, payerId: string | undefined, cursor: (string | number)[] | undefined, limit: number) {
  let q = db.selectFrom('plan').selectAll().orderBy('name').orderBy('id').limit(limit + 1)
  if (payerId) q = q.where('payerId', '=', payerId)
  if (cursor) q = q.where(after(['name', 'id'], cursor))
  return q.execute()
}

export function updatePlan(db: Db, id: string, version: number, changes: Updateable<PlanTable>) {
  return db.updateTable('plan').set({ ...changes, version: sql`version + 1`, updatedAt: sql`now()` })
    .where('id', '=', id).where('version', '=', version).returningAll().executeTakeFirst()
}

// ---- coverages ---------------------------------------------------------------------------

const coverageColumns = [
  'coverage.id', 'coverage.patientId', 'coverage.planId', 'plan.payerId', 'coverage.priority', 'coverage.status', 'coverage.relationship',
  'coverage.subscriberFamilyName', 'coverage.subscriberGivenNames', 'coverage.subscriberBirthDate', 'coverage.memberId',
  'coverage.groupNumber', 'coverage.effectiveFrom', 'coverage.effectiveTo', 'coverage.verifiedAt', 'coverage.verifiedActive',
  'coverage.createdAt', 'coverage.updatedAt', 'coverage.version',
] as const

/** The coverage with what a 270 needs of its plan and payer. */
export const findCoverageById = (db: Db, id: string) =>
  db.selectFrom('coverage').innerJoin('plan', 'plan.id', 'coverage.planId').innerJoin('payer', 'payer.id', 'plan.payerId')
    .select([...coverageColumns, 'plan.networkId', 'payer.name as payerName', 'payer.x12PayerId'])
    .where('coverage.id', '=', id).executeTakeFirst()

export type CoverageWithPayer = NonNullable<Awaited<ReturnType<typeof findCoverageById>>>

/** Locks the coverage row: changes to one coverage apply one after another. */
export const lockCoverage = (db: Db, id: string) =>
  db.selectFrom('coverage').select(['id', 'version']).where('id', '=', id).forUpdate().executeTakeFirst()

export const listCoveragesOfPatient = (db: Db, patientId: string) =>
  db.selectFrom('coverage').innerJoin('plan', 'plan.id', 'coverage.planId').select(coverageColumns)
    .where('coverage.patientId', '=', patientId)
    .orderBy(sql`CASE coverage.status WHEN 'active' THEN 0 ELSE 1 END`)
    .orderBy('coverage.priority').orderBy('coverage.createdAt').limit(200).execute()

export const insertCoverage = (db: Db, v: Insertable<CoverageTable>) =>
  db.insertInto('coverage').values(v).returning('id').executeTakeFirstOrThrow()

export function updateCoverage(db: Db, id: string, version: number, changes: Updateable<CoverageTable>) {
  return db.updateTable('coverage').set({ ...changes, version: sql`version + 1`, updatedAt: sql`now()` })
    .where('id', '=', id).where('version', '=', version).returning('id').executeTakeFirst()
}

/** The sandbox payer's member lookup: a live coverage under this payer id and member id. */
export const findSandboxMember = (db: Db, x12PayerId: string, memberId: string) =>
  db.selectFrom('coverage')
    .innerJoin('plan', 'plan.id', 'coverage.planId')
    .innerJoin('payer', 'payer.id', 'plan.payerId')
    .select([
      'plan.name as planName', 'plan.planType', 'coverage.effectiveFrom', 'coverage.effectiveTo', 'plan.copayCents', 'plan.deductibleCents',
      'plan.familyDeductibleCents', 'plan.coinsurancePercent', 'plan.oopMaxCents', 'plan.oonDeductibleCents', 'plan.oonCoinsurancePercent',
      'plan.oonOopMaxCents', 'plan.priorAuthServiceTypes',
    ])
    .where('payer.x12PayerId', '=', x12PayerId).where('coverage.memberId', '=', memberId)
    .where('coverage.status', '!=', 'entered-in-error')
    .orderBy('coverage.effectiveFrom', 'desc').limit(1).executeTakeFirst()

// ---- eligibility checks ------------------------------------------------------------------

export async function nextControlNumber(db: Db): Promise<number> {
  const { rows } = await sql<{ n: string }>`SELECT nextval('x12_control_number') AS n`.execute(db)
  return Number(rows[0].n)
}

export const insertCheck = (db: Db, v: Insertable<EligibilityCheckTable>) =>
  db.insertInto('eligibilityCheck').values(v).returningAll().executeTakeFirstOrThrow()

export const updateCheck = (db: Db, id: string, v: Updateable<EligibilityCheckTable>) =>
  db.updateTable('eligibilityCheck').set(v).where('id', '=', id).returningAll().executeTakeFirstOrThrow()

export const findCheckById = (db: Db, id: string) => db.selectFrom('eligibilityCheck').selectAll().where('id', '=', id).executeTakeFirst()

export function listChecksOfCoverage(db: Db, coverageId: string, cursor: (string | number)[] | undefined, limit: number) {
  let q = db.selectFrom('eligibilityCheck').selectAll().where('coverageId', '=', coverageId)
    .orderBy('createdAt', 'desc').orderBy('id', 'desc').limit(limit + 1)
  if (cursor) q = q.where(sql<boolean>`(created_at, id) < (${cursor[0]}::timestamptz, ${cursor[1]}::uuid)`)
  return q.execute()
}

/** The newest complete check for this coverage and date of service, completed on or after `notBefore`. */
export const findLatestCompleteCheck = (db: Db, coverageId: string, dateOfService: string | undefined, notBefore: string | undefined, checkId?: string) => {
  let q = db.selectFrom('eligibilityCheck').selectAll().where('coverageId', '=', coverageId).where('status', '=', 'complete')
  if (checkId) q = q.where('id', '=', checkId)
  if (dateOfService) q = q.where('dateOfService', '=', dateOfService)
  if (notBefore) q = q.where('completedAt', '>=', sql<Date>`${notBefore}::date`)
  return q.orderBy('completedAt', 'desc').limit(1).executeTakeFirst()
}

/** The patient's active coverages in force on a date, primary first. */
export const coveragesInForce = (db: Db, patientId: string, date: string) =>
  db.selectFrom('coverage').select(['id', 'priority']).where('patientId', '=', patientId).where('status', '=', 'active')
    .where('effectiveFrom', '<=', sql<string>`${date}::date`)
    .where((eb) => eb.or([eb('effectiveTo', 'is', null), eb('effectiveTo', '>=', sql<string>`${date}::date`)]))
    .orderBy(sql`array_position(array['primary','secondary','tertiary'], priority)`).execute()

// ---- batches -----------------------------------------------------------------------------

/** Of these coverages, those whose patient the facility can reach (registered there or linked to it), as a batch there runs them. */
export const coveragesReachableFrom = (db: Db, facilityId: string, coverageIds: string[]) =>
  db.selectFrom('coverage').innerJoin('patient', 'patient.id', 'coverage.patientId').select('coverage.id')
    .where('coverage.id', 'in', scopeIds(coverageIds))
    .where((eb) => eb.or([
      eb('patient.facilityId', '=', facilityId),
      eb.exists(eb.selectFrom('patientFacility').select('patientFacility.patientId').whereRef('patientFacility.patientId', '=', 'patient.id').where('patientFacility.facilityId', '=', facilityId)),
    ]))
    .execute()

export const insertBatch = (db: Db, v: { facilityId: string; total: number; serviceTypeCodes: string[]; requestedBy: string }) =>
  db.insertInto('eligibilityBatch').values(v).returningAll().executeTakeFirstOrThrow()

export const insertBatchItems = (
  db: Db,
  items: { batchId: string; position: number; coverageId: string; dateOfService: string; providerNpi: string; appointmentId: string | null }[],
) =>
  db.insertInto('eligibilityBatchItem').values(items).execute()

export const findBatchById = (db: Db, id: string) => db.selectFrom('eligibilityBatch').selectAll().where('id', '=', id).executeTakeFirst()

export const listBatchItems = (db: Db, batchId: string) =>
  db.selectFrom('eligibilityBatchItem').selectAll().where('batchId', '=', batchId).orderBy('position').execute()

export const finishBatchItem = (db: Db, batchId: string, position: number, v: { status: 'complete' | 'rejected' | 'failed' | 'timeout'; checkId: string | null; errorCode: string | null }) =>
  db.updateTable('eligibilityBatchItem').set(v).where('batchId', '=', batchId).where('position', '=', position).execute()

export const completeBatch = (db: Db, id: string) =>
  db.updateTable('eligibilityBatch').set({ status: 'complete', completedAt: sql`now()` }).where('id', '=', id).execute()

/** Batches left running (a stopped process, or one just created): their queued items are picked up. */
export const listRunningBatches = (db: Db) => db.selectFrom('eligibilityBatch').selectAll().where('status', '=', 'running').orderBy('createdAt').limit(100).execute()

export const listQueuedItems = (db: Db, batchId: string) =>
  db.selectFrom('eligibilityBatchItem').selectAll().where('batchId', '=', batchId).where('status', '=', 'queued').orderBy('position').execute()

// ---- fee schedules and estimates ---------------------------------------------------------

export function upsertFeeScheduleItems(db: Db, facilityId: string, items: { cptCode: string; description?: string; chargeCents: number }[]) {
  return db.insertInto('feeScheduleItem')
    .values(items.map((i) => ({ facilityId, cptCode: i.cptCode, description: i.description ?? null, chargeCents: i.chargeCents })))
    .onConflict((oc) => oc.columns(['facilityId', 'cptCode']).doUpdateSet((eb) => ({
      description: eb.ref('excluded.description'), chargeCents: eb.ref('excluded.chargeCents'), updatedAt: sql`now()`,
    })))
    .execute()
}

export async function deleteFeeScheduleItemsExcept(db: Db, facilityId: string, keep: string[]): Promise<number> {
  const res = await db.deleteFrom('feeScheduleItem').where('facilityId', '=', facilityId).where('cptCode', 'not in', keep).executeTakeFirst()
  return Number(res.numDeletedRows)
}

export function listFeeSchedule(db: Db, facilityId: string, cursor: (string | number)[] | undefined, limit: number) {
  let q = db.selectFrom('feeScheduleItem').selectAll().where('facilityId', '=', facilityId).orderBy('cptCode').limit(limit + 1)
  if (cursor) q = q.where('cptCode', '>', String(cursor[0]))
  return q.execute()
}

export const findFeeScheduleItems = (db: Db, facilityId: string, cptCodes: string[]) =>
  db.selectFrom('feeScheduleItem').selectAll().where('facilityId', '=', facilityId).where('cptCode', 'in', cptCodes).execute()

export const insertEstimate = (db: Db, v: Insertable<EstimateTable>) => db.insertInto('estimate').values(v).returningAll().executeTakeFirstOrThrow()

export const findEstimateById = (db: Db, id: string) => db.selectFrom('estimate').selectAll().where('id', '=', id).executeTakeFirst()
