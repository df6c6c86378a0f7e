import { fromD8, parseInterchange, X12Error, type Delimiters, type Segment, type X12Limits } from './x12.ts'

export const BENEFIT_KINDS: Record<string, string> = {
  '1': 'active-coverage', '2': 'active-full-risk-capitation', '3': 'active-services-capitated',
  '4': 'active-services-capitated-to-pcp', '5': 'active-pending-investigation', '6': 'inactive',
  '7': 'inactive-pending-eligibility-update', '8': 'inactive-pending-investigation',
  A: 'co-insurance', B: 'co-payment', C: 'deductible', CB: 'coverage-basis', D: 'benefit-description',
  E: 'exclusions', F: 'limitations', G: 'out-of-pocket', H: 'unlimited', I: 'non-covered',
  J: 'cost-containment', K: 'reserve', L: 'primary-care-provider', M: 'pre-existing-condition',
  MC: 'managed-care-coordinator', N: 'services-restricted-to-provider', O: 'not-medically-necessary',
  P: 'benefit-disclaimer', Q: 'second-surgical-opinion-required', R: 'other-or-additional-payor',
  S: 'prior-year-history', T: 'card-reported-lost-stolen', U: 'contact-entity-for-information',
  V: 'cannot-process', W: 'other-source-of-data', X: 'health-care-facility', Y: 'spend-down',
}

export const TIME_PERIODS: Record<string, string> = {
  '6': 'hour', '7': 'day', '13': '24-hours', '21': 'years', '22': 'service-year', '23': 'calendar-year',
  '24': 'year-to-date', '25': 'contract', '26': 'episode', '27': 'visit', '28': 'outlier', '29': 'remaining',
  '30': 'exceeded', '31': 'not-exceeded', '32': 'lifetime', '33': 'lifetime-remaining', '34': 'month',
  '35': 'week', '36': 'admission',
}

/** AAA03 reject reason codes of 005010X279A1. */
export const REJECT_REASONS: Record<string, string> = {
  '04': 'Authorized quantity exceeded', '15': 'Required application data missing',
  '41': 'Authorization/access restrictions', '42': 'Unable to respond at current time',
  '43': 'Invalid/missing provider identification', '44': 'Invalid/missing provider name',
  '45': 'Invalid/missing provider specialty', '46': 'Invalid/missing provider phone number',
  '47': 'Invalid/missing provider state', '48': 'Invalid/missing referring provider identification number',
  '49': 'Provider is not primary care physician', '50': 'Provider ineligible for inquiries',
  '51': 'Provider not on file', '52': 'Service dates not within provider plan enrollment',
  '53': 'Inquired benefit inconsistent with provider type', '54': 'Inappropriate product/service ID qualifier',
  '55': 'Inappropriate product/service ID', '56': 'Inappropriate date', '57': 'Invalid/missing date(s) of service',
  '58': 'Invalid/missing date-of-birth', '60': 'Date of birth follows date(s) of service',
  '61': 'Date of death precedes date(s) of service', '62': 'Date of service not within allowable inquiry period',
  '63': 'Date of service in future', '64': 'Invalid/missing patient ID', '65': 'Invalid/missing patient name',
  '66': 'Invalid/missing patient gender code', '67': 'Patient not found', '68': 'Duplicate patient ID number',
  '69': 'Inconsistent with patient\'s age', '70': 'Inconsistent with patient\'s gender',
  '71': 'Patient birth date does not match that for the patient on the database',
  '72': 'Invalid/missing subscriber/insured ID', '73': 'Invalid/missing subscriber/insured name',
  '74': 'Invalid/missing subscriber/insured gender code', '75': 'Subscriber/insured not found',
  '76': 'Duplicate subscriber/insured ID number', '77': 'Subscriber found, patient not found',
  '78': 'Subscriber/insured not in group/plan identified', '79': 'Invalid participant identification',
  '80': 'No response received - transaction terminated', '97': 'Invalid or missing provider address',
  T4: 'Payer name or identifier missing',
}

const LOOPS: Record<string, string> = { '20': '2100A', '21': '2100B', '22': '2100C', '23': '2100D' }

export interface Rejection {
  /** The loop the AAA segment stood in: 2100A payer, 2100B provider, 2100C subscriber, 2100D dependent, 2110C/D benefit. */
  loop: string
  reasonCode: string
  reason: string
  /** AAA04: C please correct and resubmit, N resubmission not allowed, R resubmission allowed, W wait 30 days, Y do not resubmit... */
  followUp: string | null
}

export interface BenefitDate {
  qualifier: string
  start: string
  end: string | null
}

export interface Benefit {
  code: string
  kind: string
  coverageLevel: string | null
  serviceTypeCodes: string[]
  insuranceType: string | null
  planDescription: string | null
  timePeriod: string | null
  amountCents: number | null
  /** EB08 as a percentage (0.2 in the 271 is 20). */
  percent: number | null
  quantity: number | null
  authorizationRequired: boolean | null
  /** EB12: true in network, false out of network, null when the payer says it does not apply (W) or says nothing. */
  inNetwork: boolean | null
  dates: BenefitDate[]
  messages: string[]
}

export interface Parsed271 {
  traceNumbers: string[]
  /** true when an active-coverage benefit is present, false when only inactive ones, null otherwise. */
  active: boolean | null
  planDescription: string | null
  coverageStart: string | null
  coverageEnd: string | null
  memberId: string | null
  benefits: Benefit[]
  rejections: Rejection[]
}

/** Decimal money (R) to integer cents without floating point. */
export function decimalToCents(v: string): number {
  const m = /^(-?)(\d{0,15})(?:\.(\d*))?$/.exec(v)
  if (!m || (m[2] === '' && !m[3])) throw new X12Error('A monetary amount is not a decimal number')
  const frac = (m[3] ?? '').padEnd(3, '0')
  let cents = Number(m[2] || '0') * 100 + Number(frac.slice(0, 2))
  if (Number(frac[2]) >= 5) cents += 1
  return m[1] ? -cents : cents
}

/** EB08 (a ratio, 0 to 1) as a percentage with at most two decimals. */
function ratioToPercent(v: string): number {
  const m = /^(\d{0,3})(?:\.(\d*))?$/.exec(v)
  if (!m || (m[1] === '' && !m[2])) throw new X12Error('A percent is not a decimal number')
  const basisPoints = Number(m[1] || '0') * 10000 + Number((m[2] ?? '').padEnd(4, '0').slice(0, 4))
  if (basisPoints > 10000) throw new X12Error('A percent is above 1')
  return basisPoints / 100
}

const yesNo = (v: string | undefined) => (v === 'Y' ? true : v === 'N' ? false : null)

function dateOf(seg: Segment): BenefitDate | undefined {
  const [, qualifier, format, value] = seg
  if (format === 'D8') {
    const start = fromD8(value)
    return start ? { qualifier, start, end: null } : undefined
  }
  if (format === 'RD8') {
    const [a, b] = (value ?? '').split('-')
    const start = fromD8(a)
    const end = fromD8(b)
    return start && end ? { qualifier, start, end } : undefined
  }
  return undefined
}

function benefitOf(seg: Segment, d: Delimiters): Benefit {
  const e = (i: number) => (seg[i] === undefined || seg[i] === '' ? undefined : seg[i])
  const code = e(1)
  if (!code) throw new X12Error('An EB segment has no EB01')
  return {
    code,
    kind: BENEFIT_KINDS[code] ?? 'other',
    coverageLevel: e(2) ?? null,
    serviceTypeCodes: e(3) ? e(3)!.split(d.repetition).filter(Boolean) : [],
    insuranceType: e(4) ?? null,
    planDescription: e(5) ?? null,
    timePeriod: e(6) ? (TIME_PERIODS[e(6)!] ?? e(6)!) : null,
    amountCents: e(7) ? decimalToCents(e(7)!) : null,
    percent: e(8) ? ratioToPercent(e(8)!) : null,
    quantity: e(10) && /^\d{1,9}(\.\d+)?$/.test(e(10)!) ? Number(e(10)) : null,
    authorizationRequired: yesNo(e(11)),
    inNetwork: yesNo(e(12)),
    dates: [],
    messages: [],
  }
}

/**
 * Parses a 005010X279A1 271: the TRN echoes, AAA rejections, subscriber or dependent dates and
 * EB benefits with their DTP dates and MSG texts. Throws X12Error for anything malformed.
 */
export function parse271(text: string, limits?: X12Limits): Parsed271 {
  const ix = parseInterchange(text, limits)
  if (ix.gs[1] !== 'HB') throw new X12Error('The functional group is not HB (eligibility response)')
  if (ix.transactions.length !== 1) throw new X12Error('Exactly one 271 transaction set is expected')
  const tx = ix.transactions[0]
  if (tx[0][1] !== '271') throw new X12Error('The transaction set is not a 271')
  const out: Parsed271 = {
    traceNumbers: [], active: null, planDescription: null, coverageStart: null, coverageEnd: null,
    memberId: null, benefits: [], rejections: [],
  }
  let level = ''
  let benefit: Benefit | undefined
  // Inside LS/LE a benefit's related entity (NM1, PRV...) follows; its segments are not the benefit's.
  let inRelatedEntity = false
  for (const seg of tx.slice(1, -1)) {
    switch (seg[0]) {
      case 'HL':
        if (!['20', '21', '22', '23'].includes(seg[3])) throw new X12Error('An HL segment has an unknown level code')
        level = seg[3]
        benefit = undefined
        break
      case 'TRN':
        if (seg[1] === '2' && seg[2]) out.traceNumbers.push(seg[2])
        break
      case 'NM1':
        if (!inRelatedEntity && !benefit && (level === '22' && seg[1] === 'IL') && seg[8] === 'MI') out.memberId = seg[9] ?? null
        break
      case 'AAA': {
        if (seg[1] !== 'N' || !seg[3]) break
        const base = LOOPS[level] ?? 'unknown'
        out.rejections.push({
          loop: benefit ? base.replace('2100', '2110') : base,
          reasonCode: seg[3],
          reason: REJECT_REASONS[seg[3]] ?? 'Unknown reason',
          followUp: seg[4] || null,
        })
        break
      }
      case 'DTP': {
        const date = dateOf(seg)
        if (!date || inRelatedEntity) break
        if (benefit) benefit.dates.push(date)
        else if (level === '22' || level === '23') {
          if (date.qualifier === '346' || date.qualifier === '356') out.coverageStart = date.start
          else if (date.qualifier === '347' || date.qualifier === '357') out.coverageEnd = date.start
          else if (date.qualifier === '291' || date.qualifier === '307') {
            out.coverageStart = date.start
            out.coverageEnd = date.end
          }
        }
        break
      }
      case 'EB':
        if (level !== '22' && level !== '23') throw new X12Error('An EB segment stands outside a subscriber or dependent loop')
        if (out.benefits.length >= 2000) throw new X12Error('The 271 holds more than 2000 benefits')
        benefit = benefitOf(seg, ix.delimiters)
        out.benefits.push(benefit)
        inRelatedEntity = false
        break
      case 'MSG':
        if (benefit && !inRelatedEntity && seg[1]) benefit.messages.push(seg[1].slice(0, 264))
        break
      case 'LS':
        inRelatedEntity = true
        break
      case 'LE':
        inRelatedEntity = false
        break
      default:
        break
    }
  }
  const activeCodes = ['1', '2', '3', '4', '5']
  const inactiveCodes = ['6', '7', '8']
  if (out.benefits.some((b) => activeCodes.includes(b.code))) out.active = true
  else if (out.benefits.some((b) => inactiveCodes.includes(b.code))) out.active = false
  out.planDescription = out.benefits.find((b) => activeCodes.includes(b.code) && b.planDescription)?.planDescription ?? null
  return out
}
