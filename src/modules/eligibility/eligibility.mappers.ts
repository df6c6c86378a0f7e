import type {
  EligibilityCheckRow,
  EstimateRow,
  FeeScheduleItemRow,
  NetworkRow,
  PayerRow,
  PlanRow,
  ProviderNetworkRow,
} from '../../db/database.ts'
import { isoDate } from '../../lib/dates.ts'
import type { CoverageWithPayer } from './eligibility.repository.ts'
import type { Coverage, EligibilityCheck, Estimate, EstimateLine, Payer, Plan } from './eligibility.schemas.ts'
import type { Benefit, Rejection } from './x12-271.ts'

const iso = (v: Date) => v.toISOString()
const isoOrNull = (v: Date | null) => (v ? v.toISOString() : null)

export const toPayer = (r: PayerRow): Payer => ({
  id: r.id, name: r.name, x12PayerId: r.x12PayerId, version: r.version, createdAt: iso(r.createdAt), updatedAt: iso(r.updatedAt),
})

export const toNetwork = (r: NetworkRow) => ({ id: r.id, payerId: r.payerId, name: r.name, createdAt: iso(r.createdAt) })

export const toParticipation = (r: ProviderNetworkRow) => ({
  networkId: r.networkId, npi: r.npi, effectiveFrom: isoDate(r.effectiveFrom), effectiveTo: isoDate(r.effectiveTo),
})

export const toNetworkProvider = (r: ProviderNetworkRow) => ({ npi: r.npi, effectiveFrom: isoDate(r.effectiveFrom), effectiveTo: isoDate(r.effectiveTo) })

export const toPlan = (r: PlanRow): Plan => ({
  id: r.id, payerId: r.payerId, networkId: r.networkId, name: r.name, planType: r.planType as Plan['planType'],
  copayCents: r.copayCents, deductibleCents: r.deductibleCents, familyDeductibleCents: r.familyDeductibleCents,
  coinsurancePercent: r.coinsurancePercent, oopMaxCents: r.oopMaxCents, oonDeductibleCents: r.oonDeductibleCents,
  oonCoinsurancePercent: r.oonCoinsurancePercent, oonOopMaxCents: r.oonOopMaxCents, priorAuthServiceTypes: r.priorAuthServiceTypes,
  version: r.version, createdAt: iso(r.createdAt), updatedAt: iso(r.updatedAt),
})

export const toCoverage = (r: Omit<CoverageWithPayer, 'networkId' | 'payerName' | 'x12PayerId'>): Coverage => ({
  id: r.id, patientId: r.patientId, planId: r.planId, payerId: r.payerId, priority: r.priority, status: r.status, relationship: r.relationship,
  subscriber: r.relationship === 'self' || r.subscriberFamilyName === null
    ? null
    : { familyName: r.subscriberFamilyName, givenNames: r.subscriberGivenNames!, birthDate: isoDate(r.subscriberBirthDate!) },
  memberId: r.memberId, groupNumber: r.groupNumber, effectiveFrom: isoDate(r.effectiveFrom), effectiveTo: isoDate(r.effectiveTo),
  verifiedAt: isoOrNull(r.verifiedAt), verifiedActive: r.verifiedActive,
  version: r.version, createdAt: iso(r.createdAt), updatedAt: iso(r.updatedAt),
})

export const toCheck = (r: EligibilityCheckRow): EligibilityCheck => ({
  id: r.id, coverageId: r.coverageId, patientId: r.patientId, facilityId: r.facilityId, batchId: r.batchId, appointmentId: r.appointmentId,
  status: r.status, serviceTypeCodes: r.serviceTypeCodes, providerNpi: r.providerNpi, providerInNetwork: r.providerInNetwork,
  dateOfService: isoDate(r.dateOfService), gateway: r.gateway, active: r.active, planDescription: r.planDescription,
  coverageStart: isoDate(r.coverageStart), coverageEnd: isoDate(r.coverageEnd),
  benefits: r.benefits as Benefit[], rejections: r.rejections as Rejection[], errorCode: r.errorCode,
  request270: r.requestX12, response271: r.responseX12, createdAt: iso(r.createdAt), completedAt: isoOrNull(r.completedAt),
})

export const toFeeScheduleItem = (r: FeeScheduleItemRow) => ({ cptCode: r.cptCode, description: r.description, chargeCents: r.chargeCents })

export const toEstimate = (r: EstimateRow): Estimate => ({
  id: r.id, patientId: r.patientId, facilityId: r.facilityId, coverageId: r.coverageId, eligibilityCheckId: r.eligibilityCheckId,
  kind: r.kind, inNetwork: r.inNetwork, totalChargeCents: r.totalChargeCents, patientShareCents: r.patientShareCents,
  planShareCents: r.planShareCents, lines: r.lines as EstimateLine[], createdAt: iso(r.createdAt),
})
