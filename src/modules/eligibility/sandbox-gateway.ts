import { setTimeout as sleep } from 'node:timers/promises'
import { GatewayError, type EligibilityGateway } from './gateway.ts'
import { d8, envelope, fromD8, parseInterchange, serialize, transactionSet, type Segment } from './x12.ts'

/** What the simulated payer knows of a member: the coverage and its plan's benefit design. */
export interface SandboxMember {
  planName: string
  planType: string
  effectiveFrom: string
  effectiveTo: string | null
  copayCents: number | null
  deductibleCents: number | null
  familyDeductibleCents: number | null
  coinsurancePercent: number | null
  oopMaxCents: number | null
  oonDeductibleCents: number | null
  oonCoinsurancePercent: number | null
  oonOopMaxCents: number | null
  priorAuthServiceTypes: string[]
}

export type SandboxLookup = (x12PayerId: string, memberId: string) => Promise<SandboxMember | undefined>

/**
 * The simulated payers' rules, so trial users and tests can reach every answer:
 * - payer id SBXDOWN: AAA 42 (unable to respond now) in the payer loop;
 * - payer id SBXSLOW: answers after `slowMs` (beyond the gateway timeout by default);
 * - member id starting INVALID: AAA 72 (invalid member id);
 * - member id starting NOTFOUND, or no coverage with this payer and member id: AAA 75 (subscriber not found);
 * - member id starting INACTIVE, or a date of service outside the coverage period: EB*6 inactive;
 * - otherwise active, with the plan's copay, deductible, coinsurance and out-of-pocket
 *   benefits in and out of network; a quarter of each deductible and out-of-pocket maximum
 *   counts as already met, so "remaining" differs from the yearly figure.
 */
export const SANDBOX_DOWN_PAYER = 'SBXDOWN'
export const SANDBOX_SLOW_PAYER = 'SBXSLOW'

export interface SandboxOptions {
  lookup: SandboxLookup
  slowMs: number
}

const INSURANCE_TYPE: Record<string, string> = {
  HMO: 'HM', PPO: 'PR', EPO: 'EP', POS: 'PS', HDHP: 'HN', medicare: 'MB', medicaid: 'MC', tricare: 'CH', va: 'VA', other: 'C1',
}

const money = (cents: number) => (cents / 100).toFixed(2)
const ratio = (percent: number) => (percent / 100).toFixed(2)
const used = (cents: number) => Math.floor(cents / 4)

export function sandboxGateway(opts: SandboxOptions): EligibilityGateway {
  return {
    name: 'sandbox',
    usage: 'T',
    receiverId: 'SANDBOXCH',
    async exchange(request270, signal) {
      let ix
      try {
        ix = parseInterchange(request270)
      } catch {
        throw new GatewayError('bad-response', 'The sandbox clearinghouse refused the 270 (TA1)')
      }
      const tx = ix.transactions[0]
      const find = (pred: (s: Segment) => boolean) => tx.find(pred)
      const payer = find((s) => s[0] === 'NM1' && s[1] === 'PR')!
      const payerId = payer[9]
      if (payerId === SANDBOX_SLOW_PAYER) {
        try {
          await sleep(opts.slowMs, undefined, { signal })
        } catch {
          throw new GatewayError('timeout', 'The clearinghouse did not answer in time')
        }
      }
      const subscriber = find((s) => s[0] === 'NM1' && s[1] === 'IL')!
      const dependent = find((s) => s[0] === 'NM1' && s[1] === '03')
      const trn = find((s) => s[0] === 'TRN')!
      const dos = fromD8(find((s) => s[0] === 'DTP' && s[1] === '291')?.[3]) ?? new Date().toISOString().slice(0, 10)
      const stcs = tx.filter((s) => s[0] === 'EQ').map((s) => s[1])
      const memberId = subscriber[9]

      const body: Segment[] = [
        ['BHT', '0022', '11', trn[2].slice(0, 30), d8(new Date().toISOString().slice(0, 10)), new Date().toISOString().slice(11, 16).replace(':', '')],
        ['HL', '1', '', '20', '1'],
        payer,
      ]
      const patientLoop: Segment[] = []
      const subscriberLoop: Segment[] = [subscriber]
      const answer = () => {
        body.push(['HL', '2', '1', '21', '1'], find((s) => s[0] === 'NM1' && s[1] === '1P')!)
        body.push(['HL', '3', '2', '22', dependent ? '1' : '0'])
        if (!dependent) body.push(['TRN', '2', trn[2], trn[3]], ...subscriberLoop, ...patientLoop)
        else body.push(...subscriberLoop, ['HL', '4', '3', '23', '0'], ['TRN', '2', trn[2], trn[3]], dependent, ...patientLoop)
      }

      if (payerId === SANDBOX_DOWN_PAYER) {
        body.push(['AAA', 'N', '', '42', 'R'])
        answer()
      } else if (memberId.startsWith('INVALID')) {
        subscriberLoop.push(['AAA', 'N', '', '72', 'C'])
        answer()
      } else {
        const member = memberId.startsWith('NOTFOUND') ? undefined : await opts.lookup(payerId, memberId)
        if (!member) {
          subscriberLoop.push(['AAA', 'N', '', '75', 'C'])
          answer()
        } else {
          const inPeriod = member.effectiveFrom <= dos && (member.effectiveTo === null || dos <= member.effectiveTo)
          patientLoop.push(['DTP', '346', 'D8', d8(member.effectiveFrom)])
          if (member.effectiveTo) patientLoop.push(['DTP', '347', 'D8', d8(member.effectiveTo)])
          if (!inPeriod || memberId.startsWith('INACTIVE')) patientLoop.push(['EB', '6', 'IND', '30'])
          else patientLoop.push(...benefits(member, stcs))
          answer()
        }
      }
      const stControl = tx[0][2]
      return serialize(
        envelope(transactionSet('271', stControl, body), {
          senderId: ix.isa[8].trim(),
          receiverId: ix.isa[6].trim(),
          controlNumber: Number(ix.isa[13]),
          functionalId: 'HB',
          usage: 'T',
          at: new Date(),
        }),
      )
    },
  }
}

function benefits(m: SandboxMember, stcs: string[]): Segment[] {
  const type = INSURANCE_TYPE[m.planType] ?? 'C1'
  // EB01 .. EB12; empty trailing elements are dropped when serialised.
  const eb = (code: string, level: string, stc: string, period: string, amount: string, pct: string, auth: string, net: string): Segment =>
    ['EB', code, level, stc, type, '', period, amount, pct, '', '', auth, net]
  const out: Segment[] = [['EB', '1', 'IND', '30', type, m.planName.toUpperCase().replace(/[^A-Z0-9 ]/g, '').slice(0, 50)]]
  for (const stc of stcs.filter((s) => m.priorAuthServiceTypes.includes(s))) {
    out.push(['EB', '1', 'IND', stc, type, '', '', '', '', '', '', 'Y', 'Y'], ['MSG', 'PRIOR AUTHORIZATION REQUIRED'])
  }
  if (m.copayCents !== null) out.push(eb('B', 'IND', '98', '27', money(m.copayCents), '', 'N', 'Y'))
  if (m.deductibleCents !== null) {
    out.push(eb('C', 'IND', '30', '23', money(m.deductibleCents), '', 'N', 'Y'))
    out.push(eb('C', 'IND', '30', '29', money(m.deductibleCents - used(m.deductibleCents)), '', 'N', 'Y'))
  }
  if (m.familyDeductibleCents !== null) out.push(eb('C', 'FAM', '30', '23', money(m.familyDeductibleCents), '', 'N', 'Y'))
  if (m.coinsurancePercent !== null) out.push(eb('A', 'IND', '30', '', '', ratio(m.coinsurancePercent), 'N', 'Y'))
  if (m.oopMaxCents !== null) {
    out.push(eb('G', 'IND', '30', '23', money(m.oopMaxCents), '', 'N', 'Y'))
    out.push(eb('G', 'IND', '30', '29', money(m.oopMaxCents - used(m.oopMaxCents)), '', 'N', 'Y'))
  }
  if (m.oonDeductibleCents !== null) {
    out.push(eb('C', 'IND', '30', '23', money(m.oonDeductibleCents), '', 'N', 'N'))
    out.push(eb('C', 'IND', '30', '29', money(m.oonDeductibleCents - used(m.oonDeductibleCents)), '', 'N', 'N'))
  }
  if (m.oonCoinsurancePercent !== null) out.push(eb('A', 'IND', '30', '', '', ratio(m.oonCoinsurancePercent), 'N', 'N'))
  if (m.oonOopMaxCents !== null) {
    out.push(eb('G', 'IND', '30', '23', money(m.oonOopMaxCents), '', 'N', 'N'))
    out.push(eb('G', 'IND', '30', '29', money(m.oonOopMaxCents - used(m.oonOopMaxCents)), '', 'N', 'N'))
  }
  return out
}
