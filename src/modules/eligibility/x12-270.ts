import { clean, d8, envelope, serialize, transactionSet, type Segment } from './x12.ts'

export interface Person {
  familyName: string
  givenNames: string
  birthDate: string
}

/** What one 005010X279A1 eligibility inquiry carries. */
export interface Inquiry270 {
  controlNumber: number
  senderId: string
  receiverId: string
  usage: 'P' | 'T'
  at: Date
  payer: { name: string; x12PayerId: string }
  provider: { name: string; npi: string }
  subscriber: Person & { memberId: string; groupNumber: string | null }
  /** Present when the patient is not the subscriber (2000D loop). */
  dependent?: Person & { relationship: 'spouse' | 'child' | 'other' }
  /** TRN02: our trace number, echoed by the payer in the 271. */
  traceNumber: string
  dateOfService: string
  serviceTypeCodes: string[]
}

/** TRN03: "9" followed by our originating company identifier. */
export const TRACE_ORIGINATOR = '9000000001'

/** X12 individual relationship codes (INS02) for a dependent. */
export const RELATIONSHIP_CODES = { spouse: '01', child: '19', other: 'G8' } as const

/** Builds the 270 interchange: ISA/GS/ST/BHT, HL 20-21-22(-23), NM1, TRN, DMG, DTP, EQ, SE/GE/IEA. */
export function build270(q: Inquiry270): string {
  const at = q.at.toISOString()
  const stControl = String(q.controlNumber % 10000).padStart(4, '0')
  const eq: Segment[] = q.serviceTypeCodes.map((code) => ['EQ', code])
  const dos: Segment = ['DTP', '291', 'D8', d8(q.dateOfService)]
  const trn: Segment = ['TRN', '1', q.traceNumber, TRACE_ORIGINATOR]
  const body: Segment[] = [
    ['BHT', '0022', '13', q.traceNumber.slice(0, 30), d8(at.slice(0, 10)), at.slice(11, 16).replace(':', '')],
    ['HL', '1', '', '20', '1'],
    ['NM1', 'PR', '2', clean(q.payer.name, 60), '', '', '', '', 'PI', clean(q.payer.x12PayerId, 80)],
    ['HL', '2', '1', '21', '1'],
    ['NM1', '1P', '2', clean(q.provider.name, 60), '', '', '', '', 'XX', q.provider.npi],
    ['HL', '3', '2', '22', q.dependent ? '1' : '0'],
  ]
  const s = q.subscriber
  const subscriber: Segment[] = [
    ['NM1', 'IL', '1', clean(s.familyName, 60), clean(s.givenNames, 35), '', '', '', 'MI', clean(s.memberId, 80)],
    ...(s.groupNumber ? [['REF', '6P', clean(s.groupNumber, 50)]] : []),
    ['DMG', 'D8', d8(s.birthDate)],
  ]
  if (!q.dependent) {
    body.push(trn, ...subscriber, dos, ...eq)
  } else {
    const p = q.dependent
    body.push(
      ...subscriber,
      ['HL', '4', '3', '23', '0'],
      trn,
      ['NM1', '03', '1', clean(p.familyName, 60), clean(p.givenNames, 35)],
      ['DMG', 'D8', d8(p.birthDate)],
      ['INS', 'N', RELATIONSHIP_CODES[p.relationship]],
      dos,
      ...eq,
    )
  }
  const segments = envelope(transactionSet('270', stControl, body), {
    senderId: q.senderId,
    receiverId: q.receiverId,
    controlNumber: q.controlNumber,
    functionalId: 'HS',
    usage: q.usage,
    at: q.at,
  })
  return serialize(segments)
}
