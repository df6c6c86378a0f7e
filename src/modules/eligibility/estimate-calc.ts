import type { EstimateLine } from './eligibility.schemas.ts'
import type { Benefit } from './x12-271.ts'

export interface PricedService {
  cptCode: string
  units: number
  serviceTypeCode: string
  /** Charge for all units of the line, integer cents. */
  chargeCents: number
  chargeSource: 'request' | 'fee-schedule'
}

interface Found {
  index: number
  benefit: Benefit
}

const none = (note: string) => ({ benefitIndex: null, code: null, timePeriod: null, note })
const traced = (f: Found, note: string) => ({ benefitIndex: f.index, code: f.benefit.code, timePeriod: f.benefit.timePeriod, note })

/**
 * The benefit of kind `code` that best fits the service and network: an exact service type
 * beats the general plan coverage (30 or none), a benefit for this network beats one that
 * applies to both; family-level figures are ignored (the estimate is for one person).
 */
function find(benefits: Benefit[], code: string, stc: string, inNetwork: boolean, period?: string): Found | undefined {
  let best: Found | undefined
  let bestScore = 0
  benefits.forEach((benefit, index) => {
    if (benefit.code !== code) return
    if (benefit.coverageLevel !== null && benefit.coverageLevel !== 'IND') return
    if (benefit.inNetwork !== null && benefit.inNetwork !== inNetwork) return
    if (period !== undefined && benefit.timePeriod !== period) return
    const stcScore = benefit.serviceTypeCodes.includes(stc) ? 2 : benefit.serviceTypeCodes.length === 0 || benefit.serviceTypeCodes.includes('30') ? 1 : 0
    if (stcScore === 0) return
    const score = stcScore * 2 + (benefit.inNetwork === inNetwork ? 1 : 0)
    if (score > bestScore) {
      best = { index, benefit }
      bestScore = score
    }
  })
  return best
}

/** Percentage (two decimals at most) of an amount in cents, rounded half up, in integers. */
export function percentOf(amountCents: number, percent: number): number {
  const basisPoints = Math.round(percent * 100)
  return Math.floor((amountCents * basisPoints + 5000) / 10000)
}

const COST_SHARING = ['A', 'B', 'C', 'G']

/**
 * The patient's share line by line, in order: a copay (when the plan has one for the service,
 * it replaces deductible and coinsurance), else the deductible from what remains of it, then
 * coinsurance on the rest; every line's share is capped by what remains of the out-of-pocket
 * maximum. Remaining deductible and out-of-pocket carry from one line to the next.
 */
export function estimateLines(services: PricedService[], benefits: Benefit[], inNetwork: boolean): EstimateLine[] {
  const reportsCostSharing = benefits.some((b) => COST_SHARING.includes(b.code))
  const deductible = (stc: string) => find(benefits, 'C', stc, inNetwork, 'remaining') ?? find(benefits, 'C', stc, inNetwork)
  const oop = (stc: string) => find(benefits, 'G', stc, inNetwork, 'remaining') ?? find(benefits, 'G', stc, inNetwork)
  const remainingDeductible = new Map<number, number>()
  const remainingOop = new Map<number, number>()

  return services.map((s) => {
    const charge = s.chargeCents
    const copayB = find(benefits, 'B', s.serviceTypeCode, inNetwork)
    const dedB = deductible(s.serviceTypeCode)
    const coinsB = find(benefits, 'A', s.serviceTypeCode, inNetwork)
    const oopB = oop(s.serviceTypeCode)
    const line: EstimateLine = {
      cptCode: s.cptCode, units: s.units, serviceTypeCode: s.serviceTypeCode, chargeCents: charge, chargeSource: s.chargeSource,
      copay: { amountCents: 0, source: none('no copay for this service type and network') },
      deductible: { amountCents: 0, source: none('no deductible for this service type and network') },
      coinsurance: { amountCents: 0, source: none('no coinsurance for this service type and network') },
      outOfPocketCap: { amountCents: 0, source: none('no out-of-pocket maximum for this service type and network') },
      patientShareCents: 0, planShareCents: charge,
    }
    if (reportsCostSharing && !copayB && !dedB && !coinsB && !oopB) {
      line.coinsurance = { amountCents: charge, source: none(`no benefit reported ${inNetwork ? 'in' : 'out of'} network: the patient pays the full charge`) }
      line.patientShareCents = charge
      line.planShareCents = 0
      return line
    }
    let share = 0
    if (copayB && copayB.benefit.amountCents !== null) {
      const copay = Math.min(copayB.benefit.amountCents, charge)
      line.copay = { amountCents: copay, source: traced(copayB, `copay ${copayB.benefit.amountCents} per ${copayB.benefit.timePeriod ?? 'service'}; replaces deductible and coinsurance`) }
      share = copay
    } else {
      let afterDeductible = charge
      if (dedB && dedB.benefit.amountCents !== null) {
        const left = remainingDeductible.get(dedB.index) ?? dedB.benefit.amountCents
        const applied = Math.min(left, charge)
        remainingDeductible.set(dedB.index, left - applied)
        const basis = dedB.benefit.timePeriod === 'remaining' ? 'remaining' : `${dedB.benefit.timePeriod ?? 'total'} (no remaining figure reported)`
        line.deductible = { amountCents: applied, source: traced(dedB, `deductible ${basis}: ${left} before this line`) }
        afterDeductible = charge - applied
        share += applied
      }
      if (coinsB && coinsB.benefit.percent !== null) {
        const coins = percentOf(afterDeductible, coinsB.benefit.percent)
        line.coinsurance = { amountCents: coins, source: traced(coinsB, `${coinsB.benefit.percent}% of ${afterDeductible} after deductible`) }
        share += coins
      }
    }
    if (oopB && oopB.benefit.amountCents !== null) {
      const left = remainingOop.get(oopB.index) ?? oopB.benefit.amountCents
      const capped = Math.min(share, left)
      line.outOfPocketCap = { amountCents: share - capped, source: traced(oopB, `out-of-pocket ${oopB.benefit.timePeriod === 'remaining' ? 'remaining' : `${oopB.benefit.timePeriod ?? 'total'} (no remaining figure reported)`}: ${left} before this line`) }
      remainingOop.set(oopB.index, left - capped)
      share = capped
    }
    line.patientShareCents = share
    line.planShareCents = charge - share
    return line
  })
}
