import { canActFor } from '../../http/auth.ts'
import { auditChange, withTransaction, type RequestContext } from '../../http/context.ts'
import { BadRequestError, ConflictError, NotFoundError, UnprocessableError } from '../../http/errors.ts'
import { toPage } from '../../http/pagination.ts'
import { isoDate } from '../../lib/dates.ts'
import { isValidNpi } from '../../lib/identifiers.ts'
import { coverageAccess, patientAccess } from './coverage.service.ts'
import * as repo from './eligibility.repository.ts'
import { toCheck, toEstimate, toFeeScheduleItem } from './eligibility.mappers.ts'
import type { CreateEstimateBody, Estimate, EstimateLine, ImportFeeScheduleBody } from './eligibility.schemas.ts'
import { estimateLines, type PricedService } from './estimate-calc.ts'
import type { Benefit } from './x12-271.ts'
import { guardPatientRead } from '../patients/patient-guard.ts'

// ---- fee schedules -----------------------------------------------------------------------

function facilityInScope(ctx: RequestContext, facilityId: string) {
  if (!canActFor(ctx.principal, facilityId)) throw new NotFoundError('Facility')
}

/** CSV with a header naming cpt_code and charge_cents (description optional); RFC 4180 quoting. */
export function parseFeeScheduleCsv(text: string): ImportFeeScheduleBody['items'] {
  const rows = parseCsv(text)
  if (rows.length < 2) throw new BadRequestError('The CSV has no data rows', [{ pointer: '/', detail: 'header and at least one row required' }])
  const header = rows[0].map((h) => h.trim().toLowerCase().replace(/[^a-z]/g, ''))
  const col = (name: string) => header.indexOf(name)
  const [cpt, charge, desc] = [col('cptcode'), col('chargecents'), col('description')]
  if (cpt < 0 || charge < 0) throw new BadRequestError('The CSV header must name cpt_code and charge_cents', [{ pointer: '/line/1', detail: 'missing cpt_code or charge_cents' }])
  const errors: { pointer: string; detail: string }[] = []
  const items: ImportFeeScheduleBody['items'] = []
  rows.slice(1).forEach((r, i) => {
    if (r.length === 1 && r[0].trim() === '') return
    const code = (r[cpt] ?? '').trim().toUpperCase()
    const cents = (r[charge] ?? '').trim()
    const description = desc >= 0 ? (r[desc] ?? '').trim() : ''
    if (!/^[0-9A-Z]{5}$/.test(code)) errors.push({ pointer: `/line/${i + 2}`, detail: 'cpt_code must be 5 letters or digits' })
    else if (!/^\d{1,10}$/.test(cents) || Number(cents) > 2_000_000_000) errors.push({ pointer: `/line/${i + 2}`, detail: 'charge_cents must be a whole number of cents' })
    else if (description.length > 200) errors.push({ pointer: `/line/${i + 2}`, detail: 'description is longer than 200 characters' })
    else items.push({ cptCode: code, chargeCents: Number(cents), ...(description ? { description } : {}) })
  })
  if (errors.length) throw new BadRequestError('The CSV has invalid rows; nothing was imported', errors.slice(0, 100))
  if (items.length > 10000) throw new BadRequestError('At most 10000 rows per import')
  return items
}

function parseCsv(text: string): string[][] {
  const rows: string[][] = [[]]
  let field = ''
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') field += text[++i]
      else if (c === '"') quoted = false
      else field += c
    } else if (c === '"' && field === '') quoted = true
    else if (c === ',') {
      rows[rows.length - 1].push(field)
      field = ''
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++
      rows[rows.length - 1].push(field)
      field = ''
      rows.push([])
    } else field += c
  }
  rows[rows.length - 1].push(field)
  return rows.filter((r) => !(r.length === 1 && r[0] === ''))
}

export function importFeeSchedule(ctx: RequestContext, facilityId: string, body: ImportFeeScheduleBody) {
  facilityInScope(ctx, facilityId)
  const codes = body.items.map((i) => i.cptCode)
  const dup = codes.find((c, i) => codes.indexOf(c) !== i)
  if (dup) throw new BadRequestError('A CPT code appears twice; nothing was imported', [{ pointer: `/items/${codes.lastIndexOf(dup)}/cptCode`, detail: 'duplicate code' }])
  return withTransaction(ctx, async (trx) => {
    if (!(await repo.findFacility(trx, facilityId))) throw new NotFoundError('Facility')
    for (let i = 0; i < body.items.length; i += 1000) await repo.upsertFeeScheduleItems(trx, facilityId, body.items.slice(i, i + 1000))
    const removed = body.replace ? await repo.deleteFeeScheduleItemsExcept(trx, facilityId, codes) : 0
    await auditChange(trx, ctx, { action: 'update', verb: 'fee-schedule.import', resourceType: 'fee-schedule', resourceId: facilityId, facilityId, detail: { upserted: codes.length, removed } })
    return { facilityId, upserted: codes.length, removed }
  })
}

export async function listFeeSchedule(ctx: RequestContext, facilityId: string, cursor: (string | number)[] | undefined, limit: number) {
  facilityInScope(ctx, facilityId)
  return toPage(await repo.listFeeSchedule(ctx.db, facilityId, cursor, limit), limit, (r) => [r.cptCode], toFeeScheduleItem)
}

// ---- estimates ---------------------------------------------------------------------------

export async function createEstimate(ctx: RequestContext, body: CreateEstimateBody): Promise<Estimate> {
  if (body.providerNpi && !isValidNpi(body.providerNpi)) throw new BadRequestError('The provider NPI is not valid', [{ pointer: '/providerNpi', detail: 'NPI check digit is wrong' }])
  if (body.eligibilityCheckId && !body.coverageId) throw new BadRequestError('eligibilityCheckId needs coverageId', [{ pointer: '/coverageId', detail: 'required with eligibilityCheckId' }])
  return withTransaction(ctx, async (trx) => {
    const { facilityId: accessFacility } = await patientAccess(trx, ctx, body.patientId)
    if (body.facilityId) facilityInScope(ctx, body.facilityId)
    const facilityId = body.facilityId ?? accessFacility

    const fees = new Map((await repo.findFeeScheduleItems(trx, facilityId, [...new Set(body.services.map((s) => s.cptCode))])).map((f) => [f.cptCode, f.chargeCents]))
    const unpriced = body.services.filter((s) => s.chargeCents === undefined && !fees.has(s.cptCode)).map((s) => s.cptCode)
    if (unpriced.length) throw new UnprocessableError('unpriced-service', "Some services have no charge and are not on the facility's fee schedule", { missing: [...new Set(unpriced)] })
    const priced: PricedService[] = body.services.map((s) => {
      const units = s.units ?? 1
      return {
        cptCode: s.cptCode, units, serviceTypeCode: s.serviceTypeCode ?? '30',
        chargeCents: (s.chargeCents ?? fees.get(s.cptCode)!) * units, chargeSource: s.chargeCents === undefined ? 'fee-schedule' : 'request',
      }
    })
    const total = priced.reduce((sum, l) => sum + l.chargeCents, 0)
    if (total > 2_000_000_000) throw new BadRequestError('The charges add up to more than the largest amount supported')

    let lines: EstimateLine[]
    let inNetwork: boolean | null = null
    let checkId: string | null = null
    if (!body.coverageId) {
      // Good-faith estimate for a self-pay patient: the facility's charges.
      lines = priced.map((p) => {
        const src = { benefitIndex: null, code: null, timePeriod: null, note: 'self-pay: no coverage' }
        return {
          cptCode: p.cptCode, units: p.units, serviceTypeCode: p.serviceTypeCode, chargeCents: p.chargeCents, chargeSource: p.chargeSource,
          copay: { amountCents: 0, source: src }, deductible: { amountCents: 0, source: src }, coinsurance: { amountCents: 0, source: src },
          outOfPocketCap: { amountCents: 0, source: src }, patientShareCents: p.chargeCents, planShareCents: 0,
        }
      })
    } else {
      const { coverage } = await coverageAccess(trx, ctx, body.coverageId)
      if (coverage.patientId !== body.patientId) throw new NotFoundError('Coverage')
      const checkRow = body.eligibilityCheckId ? await repo.findCheckById(trx, body.eligibilityCheckId) : await repo.findLatestCompleteCheck(trx, coverage.id, undefined, undefined)
      if (body.eligibilityCheckId && (!checkRow || checkRow.coverageId !== coverage.id)) throw new NotFoundError('Eligibility check')
      if (!checkRow || checkRow.status !== 'complete') throw new ConflictError('eligibility-check-required', 'The coverage has no complete eligibility check; run one first')
      const check = toCheck(checkRow)
      if (check.active === false) throw new ConflictError('coverage-not-active', 'The eligibility check found the coverage inactive; make a self-pay estimate instead')
      if (body.inNetwork !== undefined) inNetwork = body.inNetwork
      else if (body.providerNpi) {
        const plan = (await repo.findPlanById(trx, coverage.planId))!
        inNetwork = plan.networkId ? await repo.isInNetwork(trx, plan.networkId, body.providerNpi, isoDate(checkRow.dateOfService)) : true
      } else inNetwork = check.providerInNetwork ?? true
      lines = estimateLines(priced, check.benefits as Benefit[], inNetwork)
      checkId = check.id
    }
    const patientShare = lines.reduce((sum, l) => sum + l.patientShareCents, 0)
    const row = await repo.insertEstimate(trx, {
      patientId: body.patientId, facilityId, coverageId: body.coverageId ?? null, eligibilityCheckId: checkId, kind: body.coverageId ? 'insured' : 'self-pay',
      inNetwork, totalChargeCents: total, patientShareCents: patientShare, planShareCents: total - patientShare, lines: JSON.stringify(lines),
      requestedBy: ctx.principal.sub,
    })
    await auditChange(trx, ctx, { action: 'create', verb: 'estimate.create', resourceType: 'estimate', resourceId: row.id, patientId: body.patientId, facilityId, detail: { kind: row.kind } })
    return toEstimate(row)
  })
}

export async function getEstimate(ctx: RequestContext, id: string): Promise<Estimate> {
  const row = await repo.findEstimateById(ctx.db, id)
  if (!row) throw new NotFoundError('Estimate')
  if (!canActFor(ctx.principal, row.facilityId)) await patientAccess(ctx.db, ctx, row.patientId, 'Estimate')
  await guardPatientRead(ctx, { verb: 'estimate.read', resourceType: 'estimate', resourceId: id, patientId: row.patientId, facilityId: row.facilityId })
  return toEstimate(row)
}
