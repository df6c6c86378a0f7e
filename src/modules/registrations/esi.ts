import type { IntakeAnswers } from './registration.schemas.ts'

export interface EsiProposal {
  level: 1 | 2 | 3 | 4 | 5
  decisionPoint: 'A' | 'B' | 'C' | 'D'
}

/**
 * ESI v4 danger-zone vital signs by age (Emergency Severity Index Implementation Handbook v4):
 * heart rate and respiratory rate above the age band's limit, or SpO2 below 92%.
 */
function dangerZone(vitals: IntakeAnswers['vitalSigns'], ageMonths: number): boolean {
  if (!vitals) return false
  const [hr, rr] = ageMonths < 3 ? [180, 50] : ageMonths < 36 ? [160, 40] : ageMonths < 96 ? [140, 30] : [100, 20]
  return (
    (vitals.heartRate !== undefined && vitals.heartRate > hr) ||
    (vitals.respiratoryRate !== undefined && vitals.respiratoryRate > rr) ||
    (vitals.oxygenSaturation !== undefined && vitals.oxygenSaturation < 92)
  )
}

/**
 * ESI v4 algorithm. A: needs an immediate life-saving intervention -> 1. B: high-risk situation,
 * new confusion/lethargy/disorientation, or severe pain/distress (pain 7/10 or more) -> 2.
 * C: expected resources: none -> 5, one -> 4, two or more -> 3, unless D: danger-zone vitals,
 * where the handbook says to consider 2; we propose 2 and staff may override.
 */
export function proposeEsi(a: IntakeAnswers, ageMonths: number): EsiProposal {
  if (a.requiresImmediateLifeSavingIntervention) return { level: 1, decisionPoint: 'A' }
  if (a.highRiskSituation || a.confusedLethargicDisoriented || a.severePainOrDistress || (a.painScore ?? 0) >= 7) {
    return { level: 2, decisionPoint: 'B' }
  }
  if (a.expectedResources === 0) return { level: 5, decisionPoint: 'C' }
  if (a.expectedResources === 1) return { level: 4, decisionPoint: 'C' }
  if (dangerZone(a.vitalSigns, ageMonths)) return { level: 2, decisionPoint: 'D' }
  return { level: 3, decisionPoint: 'C' }
}

/** Whole months between a birth date (YYYY-MM-DD) and an instant. */
export function ageInMonths(birthDate: string, at: Date): number {
  const [y, m, d] = birthDate.split('-').map(Number)
  let months = (at.getUTCFullYear() - y) * 12 + (at.getUTCMonth() + 1 - m)
  if (at.getUTCDate() < d) months--
  return Math.max(0, months)
}
