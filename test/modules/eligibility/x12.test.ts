import t from 'tap'
import { X12Parser, X12QueryEngine, type X12Interchange } from 'node-x12'
import { build270, type Inquiry270 } from '../../../src/modules/eligibility/x12-270.ts'
import { decimalToCents, parse271 } from '../../../src/modules/eligibility/x12-271.ts'
import { sandboxGateway, type SandboxMember } from '../../../src/modules/eligibility/sandbox-gateway.ts'
import { parseInterchange } from '../../../src/modules/eligibility/x12.ts'
import { GatewayError } from '../../../src/modules/eligibility/gateway.ts'

const inquiry = (over: Partial<Inquiry270> = {}): Inquiry270 => ({
  controlNumber: 4711, senderId: 'PATIENTACCESS', receiverId: 'CLEARINGHOUSE', usage: 'P', at: new Date('2026-11-27T14:05:00Z'),
  payer: { name: 'Acme Health*Plans~', x12PayerId: 'ACME1' }, provider: { name: 'Riverside General Hospital', npi: '1234567893' },
  subscriber: { familyName: "O'Brien-Müller", givenNames: 'Zoë Ann', birthDate: '1980-02-03', memberId: 'XJH123456789', groupNumber: 'G-88120' },
  traceNumber: '0f1e2d3c4b5a69788796a5b4c3d2e1f0', dateOfService: '2026-11-27', serviceTypeCodes: ['30', '98'], ...over,
})

/** node-x12 in strict mode checks ISA length, IEA/GE/SE counts and control numbers itself. */
function independentParse(x12: string): X12Interchange {
  return new X12Parser(true).parse(x12) as X12Interchange
}
const values = (ix: X12Interchange, ref: string) => new X12QueryEngine(false).query(ix, ref).map((r) => r.value)

t.test('a 270 for a subscriber is valid X12 to node-x12, with counts, control numbers and the HL tree', async (t) => {
  const x12 = build270(inquiry())
  const ix = independentParse(x12)
  t.match(x12, /^ISA\*(?:[^*]*\*){12}000004711\*/, 'ISA13 is the control number, 9 digits')
  t.equal(x12.split('~')[0].length + 1, 106, 'the ISA is 106 characters with its terminator')
  t.equal(ix.header.valueOf(12), '00501')
  t.equal(ix.header.valueOf(16), ':')
  t.equal(ix.functionalGroups.length, 1)
  const group = ix.functionalGroups[0]
  t.equal(group.header.valueOf(1), 'HS')
  t.equal(group.header.valueOf(8), '005010X279A1')
  t.equal(group.trailer.valueOf(2), group.header.valueOf(6))
  const tx = group.transactions[0]
  t.equal(tx.header.valueOf(1), '270')
  t.equal(tx.header.valueOf(3), '005010X279A1')
  t.equal(Number(tx.trailer.valueOf(1)), tx.segments.length + 2, 'SE01 counts ST..SE')
  t.same(values(ix, 'HL03'), ['20', '21', '22'])
  t.same(values(ix, 'HL02'), ['', '1', '2'], 'parents: 20 has none, 21 -> 1, 22 -> 2')
  t.same(values(ix, 'NM101'), ['PR', '1P', 'IL'])
  t.same(values(ix, 'NM109'), ['ACME1', '1234567893', 'XJH123456789'])
  t.same(values(ix, 'TRN02'), ['0f1e2d3c4b5a69788796a5b4c3d2e1f0'])
  t.same(values(ix, 'DMG02'), ['19800203'])
  t.same(values(ix, 'DTP03'), ['20261127'])
  t.same(values(ix, 'EQ01'), ['30', '98'])
  t.same(values(ix, 'REF02'), ['G-88120'])
  t.same(values(ix, 'BHT02'), ['13'])
  t.notMatch(x12.split('~').filter((seg) => seg.includes('NM1')).join('~'), /[a-zü]/, 'names are upper-cased and accents stripped')
  t.same(values(ix, 'NM103'), ['ACME HEALTH PLANS', 'RIVERSIDE GENERAL HOSPITAL', "O'BRIEN-MULLER"], 'delimiters inside names are removed')
  // Our own envelope parser agrees.
  t.equal(parseInterchange(x12).transactions[0].length, tx.segments.length + 2)
})

t.test('a 270 for a dependent has an HL 23 child loop with the patient, INS relationship and the TRN there', async (t) => {
  const x12 = build270(inquiry({ dependent: { familyName: 'Doe', givenNames: 'Tim', birthDate: '2015-06-01', relationship: 'child' } }))
  const ix = independentParse(x12)
  t.same(values(ix, 'HL03'), ['20', '21', '22', '23'])
  t.same(values(ix, 'HL04'), ['1', '1', '1', '0'], 'the subscriber HL says it has a child')
  t.same(values(ix, 'NM101'), ['PR', '1P', 'IL', '03'])
  t.same(values(ix, 'INS02'), ['19'])
  const segs = ix.functionalGroups[0].transactions[0].segments.map((s) => s.tag)
  t.ok(segs.indexOf('TRN') > segs.lastIndexOf('HL'), 'TRN stands in the dependent loop')
})

const member: SandboxMember = {
  planName: 'Acme Gold PPO', planType: 'PPO', effectiveFrom: '2026-01-01', effectiveTo: null, copayCents: 2500, deductibleCents: 150000,
  familyDeductibleCents: 300000, coinsurancePercent: 20, oopMaxCents: 600000, oonDeductibleCents: 300000, oonCoinsurancePercent: 40,
  oonOopMaxCents: 1200000, priorAuthServiceTypes: ['98'],
}

t.test("the sandbox's 271 parses with node-x12 and with ours, and both read the same benefits", async (t) => {
  const gw = sandboxGateway({ slowMs: 0, lookup: async () => member })
  const x12 = await gw.exchange(build270(inquiry()), AbortSignal.timeout(1000))
  const ix = independentParse(x12)
  t.equal(ix.functionalGroups[0].header.valueOf(1), 'HB')
  t.equal(ix.functionalGroups[0].transactions[0].header.valueOf(1), '271')
  const ours = parse271(x12)
  t.same(ours.traceNumbers, ['0f1e2d3c4b5a69788796a5b4c3d2e1f0'])
  t.equal(ours.active, true)
  t.equal(ours.planDescription, 'ACME GOLD PPO')
  t.equal(ours.coverageStart, '2026-01-01')
  t.equal(ours.memberId, 'XJH123456789')
  t.same(values(ix, 'EB01'), ours.benefits.map((b) => b.code))
  t.same(values(ix, 'EB12'), ours.benefits.filter((b) => b.inNetwork !== null).map((b) => (b.inNetwork ? 'Y' : 'N')))
  const copay = ours.benefits.find((b) => b.code === 'B')!
  t.match(copay, { kind: 'co-payment', coverageLevel: 'IND', serviceTypeCodes: ['98'], timePeriod: 'visit', amountCents: 2500, inNetwork: true, authorizationRequired: false })
  t.match(ours.benefits.find((b) => b.code === 'C' && b.timePeriod === 'remaining' && b.inNetwork), { amountCents: 112500 })
  t.match(ours.benefits.find((b) => b.code === 'A' && b.inNetwork === false), { percent: 40 })
  t.match(ours.benefits.find((b) => b.code === '1' && b.serviceTypeCodes[0] === '98'), { authorizationRequired: true, messages: ['PRIOR AUTHORIZATION REQUIRED'] })
})

t.test('the sandbox answers AAA 72, 75 and 42 with their loops, and EB*6 for inactive members', async (t) => {
  const gw = (m: SandboxMember | undefined) => sandboxGateway({ slowMs: 0, lookup: async () => m })
  const ask = async (m: SandboxMember | undefined, over: Partial<Inquiry270>) => {
    const x12 = await gw(m).exchange(build270(inquiry(over)), AbortSignal.timeout(1000))
    independentParse(x12)
    return parse271(x12)
  }
  const invalid = await ask(member, { subscriber: { ...inquiry().subscriber, memberId: 'INVALID42' } })
  t.same(invalid.rejections, [{ loop: '2100C', reasonCode: '72', reason: 'Invalid/missing subscriber/insured ID', followUp: 'C' }])
  const notFound = await ask(undefined, {})
  t.same(notFound.rejections.map((r) => r.reasonCode), ['75'])
  const down = await ask(member, { payer: { name: 'Down', x12PayerId: 'SBXDOWN' } })
  t.same(down.rejections, [{ loop: '2100A', reasonCode: '42', reason: 'Unable to respond at current time', followUp: 'R' }])
  t.same(down.traceNumbers, [inquiry().traceNumber], 'the trace is echoed even when the payer is down')
  const inactive = await ask({ ...member, effectiveTo: '2026-06-30' }, {})
  t.equal(inactive.active, false)
  t.equal(inactive.coverageEnd, '2026-06-30')
})

t.test('the slow sandbox payer gives up when the signal aborts', async (t) => {
  const gw = sandboxGateway({ slowMs: 5000, lookup: async () => member })
  const started = Date.now()
  const err = await gw.exchange(build270(inquiry({ payer: { name: 'Slow', x12PayerId: 'SBXSLOW' } })), AbortSignal.timeout(50)).catch((e: unknown) => e)
  t.ok(err instanceof GatewayError)
  t.equal((err as GatewayError).fault, 'timeout')
  t.ok(Date.now() - started < 4000)
})

// A payer's 271 with other delimiters (| elements, ^ repetition, > components, newline-terminated
// segments), a dependent loop, RD8 plan dates, an LS/LE related entity and a benefit-level AAA.
const foreign271 = [
  'ISA|00|          |00|          |ZZ|CLEARHOUSE     |ZZ|PATIENTACCESS  |261127|1405|^|00501|000000912|0|P|>',
  'GS|HB|CLEARHOUSE|PATIENTACCESS|20261127|1405|912|X|005010X279A1',
  'ST|271|0001|005010X279A1',
  'BHT|0022|11|TRACE1|20261127|1405',
  'HL|1||20|1',
  'NM1|PR|2|BLUE PLAN|||||PI|BLUE9',
  'HL|2|1|21|1',
  'NM1|1P|2|RIVERSIDE|||||XX|1234567893',
  'HL|3|2|22|1',
  'NM1|IL|1|DOE|JANE||||MI|W99887766',
  'HL|4|3|23|0',
  'TRN|2|abc-trace-1|9000000001',
  'TRN|1|payer-own-trace|9999999999',
  'NM1|03|1|DOE|TIM',
  'DTP|291|RD8|20260101-20261231',
  'EB|1|FAM|30^1^33^35^47^86^88^98|HM|BLUE CHOICE HMO',
  'EB|B|IND|98|HM||27|40|||||Y',
  'EB|C|FAM|30|HM||23|3000.5||||N|Y',
  'EB|A|IND|30|HM||||.25|||N|W',
  'DTP|348|D8|20260101',
  'MSG|COINSURANCE APPLIES AFTER DEDUCTIBLE',
  'LS|2120',
  'NM1|P3|1|SMITH|ANNA||||XX|1234567893',
  'LE|2120',
  'EB|G|IND|30|HM||29|4999.999||||N|Y',
  'AAA|N||57|C',
  'SE|25|0001',
  'GE|1|912',
  'IEA|1|000000912',
].join('\n')

t.test("another payer's 271 (different delimiters, dependent, RD8, LS/LE, benefit AAA) reads the same in both parsers", async (t) => {
  const ix = independentParse(foreign271)
  t.equal(ix.functionalGroups[0].transactions[0].segments.length + 2, 25)
  const p = parse271(foreign271)
  t.same(p.traceNumbers, ['abc-trace-1'], 'only TRN01=2 (referenced) traces count as echoes')
  t.equal(p.coverageStart, '2026-01-01')
  t.equal(p.coverageEnd, '2026-12-31')
  t.equal(p.planDescription, 'BLUE CHOICE HMO')
  t.same(p.benefits[0].serviceTypeCodes, ['30', '1', '33', '35', '47', '86', '88', '98'], 'EB03 repetitions split on ISA11')
  t.same(values(ix, 'EB03')[0], '30^1^33^35^47^86^88^98')
  t.match(p.benefits[1], { code: 'B', amountCents: 4000, authorizationRequired: null, inNetwork: true })
  t.match(p.benefits[2], { code: 'C', coverageLevel: 'FAM', amountCents: 300050 })
  t.match(p.benefits[3], { code: 'A', percent: 25, inNetwork: null, dates: [{ qualifier: '348', start: '2026-01-01', end: null }], messages: ['COINSURANCE APPLIES AFTER DEDUCTIBLE'] })
  t.match(p.benefits[4], { code: 'G', timePeriod: 'remaining', amountCents: 500000 })
  t.same(p.rejections, [{ loop: '2110D', reasonCode: '57', reason: 'Invalid/missing date(s) of service', followUp: 'C' }])
  t.same(values(ix, 'EB07'), ['40', '3000.5', '', '4999.999'])
})

t.test('malformed, oversized and hostile 271s are refused with X12Error, never a crash', async (t) => {
  const ok = foreign271
  const cases: [string, string][] = [
    ['empty', ''],
    ['not X12', '{"json": true}'],
    ['short ISA', 'ISA|00|'],
    ['wrong SE count', ok.replace('SE|25|0001', 'SE|24|0001')],
    ['SE control mismatch', ok.replace('SE|25|0001', 'SE|26|0002')],
    ['IEA control mismatch', ok.replace('IEA|1|000000912', 'IEA|1|000000913')],
    ['GE count', ok.replace('GE|1|912', 'GE|2|912')],
    ['no IEA', ok.split('\n').slice(0, -1).join('\n')],
    ['a 270 instead', build270(inquiry())],
    ['amount not a number', ok.replace('|27|40|', '|27|4O|')],
    ['percent above 1', ok.replace('||.25|', '||1.5|')],
    ['EB outside subscriber loop', ok.replace('NM1|1P|2|RIVERSIDE|||||XX|1234567893', 'EB|1')],
    ['bad segment id', ok.replace('BHT|', 'bh t|')],
    ['version 4010', ok.replace('|00501|', '|00401|')],
  ]
  for (const [name, text] of cases) t.throws(() => parse271(text), { name: 'X12Error' }, name)
  t.throws(() => parse271(ok, { maxLength: 500, maxSegments: 1000 }), { name: 'X12Error' }, 'longer than the limit')
  t.throws(() => parse271(ok, { maxLength: 100_000, maxSegments: 10 }), { name: 'X12Error' }, 'more segments than the limit')
  const huge = ok.replace('EB|1|', `${'MSG|X\n'.repeat(30_000)}EB|1|`)
  t.throws(() => parse271(huge), /more than 20000 segments|larger than/)
})

t.test('money converts to cents without floating point error', async (t) => {
  t.equal(decimalToCents('0.29'), 29)
  t.equal(decimalToCents('1234.5'), 123450)
  t.equal(decimalToCents('19.999'), 2000)
  t.equal(decimalToCents('.07'), 7)
  t.equal(decimalToCents('100'), 10000)
  t.throws(() => decimalToCents('1e3'), { name: 'X12Error' })
})

t.test('the gateway comes from config: http needs its URL, and the timeout cannot exceed 10 s', async (t) => {
  const { loadConfig } = await import('../../../src/config.ts')
  const { eligibilityRuntime } = await import('../../../src/modules/eligibility/eligibility.routes.ts')
  t.throws(() => eligibilityRuntime(loadConfig({ ELIGIBILITY_GATEWAY: 'http' })), /ELIGIBILITY_HTTP_URL is required/)
  t.throws(() => loadConfig({ ELIGIBILITY_TIMEOUT_MS: '10001' }), /ELIGIBILITY_TIMEOUT_MS/)
  t.throws(() => loadConfig({ ELIGIBILITY_GATEWAY: 'carrier-pigeon' }), /ELIGIBILITY_GATEWAY/)
  const rt = eligibilityRuntime(loadConfig({ ELIGIBILITY_GATEWAY: 'http', ELIGIBILITY_HTTP_URL: 'http://127.0.0.1:9/x12' }))
  t.equal(rt.gateway(undefined as never).name, 'http')
  t.equal(eligibilityRuntime(loadConfig({})).gateway(undefined as never).name, 'sandbox')
})
