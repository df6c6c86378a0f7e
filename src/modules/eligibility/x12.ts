/**
 * ASC X12 interchange syntax: delimiters, tokenising with limits, envelope checks (ISA/GS/ST
 * and their trailers with counts and control numbers), and safe element values. The 270
 * builder and the 271 parser sit on top of this.
 */

/** Error messages name structure only, never element values (they carry PHI). */
export class X12Error extends Error {
  override name = 'X12Error'
}

export interface X12Limits {
  /** Largest interchange accepted, in characters. */
  maxLength: number
  /** Most segments accepted in one interchange. */
  maxSegments: number
}

export const DEFAULT_LIMITS: X12Limits = { maxLength: 1_048_576, maxSegments: 20_000 }

export interface Delimiters {
  element: string
  repetition: string
  component: string
  segment: string
}

export const OUR_DELIMITERS: Delimiters = { element: '*', repetition: '^', component: ':', segment: '~' }

/** A segment as its elements, `[id, e01, e02, ...]`. */
export type Segment = string[]

export interface Interchange {
  delimiters: Delimiters
  isa: Segment
  gs: Segment
  /** The transaction sets of the (single) functional group, each from ST to SE inclusive. */
  transactions: Segment[][]
}

const ISA_LENGTH = 106

/** Splits an interchange into segments after checking its size; the ISA fixes the delimiters. */
export function tokenize(text: string, limits: X12Limits = DEFAULT_LIMITS): { delimiters: Delimiters; segments: Segment[] } {
  if (text.length > limits.maxLength) throw new X12Error(`The interchange is larger than ${limits.maxLength} characters`)
  const start = text.replace(/^[\uFEFF\s]+/, '')
  if (!start.startsWith('ISA') || start.length < ISA_LENGTH) throw new X12Error('The interchange does not start with an ISA segment')
  const d: Delimiters = { element: start[3], repetition: start[82], component: start[104], segment: start[105] }
  const all = [d.element, d.component, d.segment]
  if (new Set(all).size !== 3 || all.some((c) => /[A-Za-z0-9 ]/.test(c))) throw new X12Error('The ISA segment does not define usable delimiters')
  if (start.slice(0, ISA_LENGTH - 1).split(d.element).length !== 17) throw new X12Error('The ISA segment is not 106 characters with 16 elements')
  const segments: Segment[] = []
  for (const raw of start.split(d.segment)) {
    const s = raw.replace(/^[\r\n\t ]+|[\r\n\t ]+$/g, '')
    if (s === '') continue
    if (segments.length >= limits.maxSegments) throw new X12Error(`The interchange has more than ${limits.maxSegments} segments`)
    const elements = s.split(d.element)
    if (!/^[A-Z][A-Z0-9]{1,2}$/.test(elements[0])) throw new X12Error(`Segment ${segments.length + 1} has no valid segment id`)
    segments.push(elements)
  }
  return { delimiters: d, segments }
}

/** Tokenises and checks the envelopes: one interchange, one functional group, counts and control numbers. */
export function parseInterchange(text: string, limits: X12Limits = DEFAULT_LIMITS): Interchange {
  const { delimiters, segments } = tokenize(text, limits)
  const isa = segments[0]
  const iea = segments[segments.length - 1]
  if (iea[0] !== 'IEA') throw new X12Error('The interchange does not end with an IEA segment')
  if (isa[12] !== '00501') throw new X12Error('Only X12 version 00501 interchanges are accepted')
  if (iea[2] !== isa[13]) throw new X12Error('IEA02 does not match the ISA control number')
  const gs = segments[1]
  const ge = segments[segments.length - 2]
  if (gs?.[0] !== 'GS' || ge?.[0] !== 'GE') throw new X12Error('The interchange must hold exactly one functional group')
  if (iea[1] !== '1') throw new X12Error('IEA01 does not count one functional group')
  if (ge[2] !== gs[6]) throw new X12Error('GE02 does not match the GS control number')
  const transactions: Segment[][] = []
  let current: Segment[] | undefined
  for (const seg of segments.slice(2, -2)) {
    if (seg[0] === 'ST') {
      if (current) throw new X12Error('A transaction set starts before the previous one ended')
      current = [seg]
    } else if (!current) {
      throw new X12Error('A segment lies outside any transaction set')
    } else {
      current.push(seg)
      if (seg[0] === 'SE') {
        if (Number(seg[1]) !== current.length) throw new X12Error('SE01 does not match the number of segments in the transaction set')
        if (seg[2] !== current[0][2]) throw new X12Error('SE02 does not match the ST control number')
        transactions.push(current)
        current = undefined
      }
    }
  }
  if (current) throw new X12Error('A transaction set has no SE trailer')
  if (Number(ge[1]) !== transactions.length) throw new X12Error('GE01 does not match the number of transaction sets')
  return { delimiters, isa, gs, transactions }
}

/**
 * A value safe inside an element: upper case, only characters of the X12 basic and extended
 * sets that cannot be a delimiter, trimmed to the element's maximum length.
 */
export function clean(value: string, max: number): string {
  return value
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toUpperCase()
    .replace(/[^A-Z0-9 .,'&()/#-]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, max)
    .trim()
}

/** Joins segments with our delimiters; trailing empty elements are dropped, as X12 requires. */
export function serialize(segments: Segment[], d: Delimiters = OUR_DELIMITERS): string {
  return segments
    .map((s) => {
      let end = s.length
      while (end > 1 && s[end - 1] === '') end--
      return s.slice(0, end).join(d.element) + d.segment
    })
    .join('\n')
}

const pad = (v: string, n: number) => v.padEnd(n, ' ').slice(0, n)

export interface EnvelopeInput {
  senderId: string
  receiverId: string
  controlNumber: number
  functionalId: 'HS' | 'HB'
  usage: 'P' | 'T'
  at: Date
}

/** Wraps one transaction set (ST..SE built by the caller) in GS/GE and ISA/IEA. */
export function envelope(transaction: Segment[], e: EnvelopeInput): Segment[] {
  const ymd = e.at.toISOString().slice(0, 10).replaceAll('-', '')
  const hm = e.at.toISOString().slice(11, 16).replace(':', '')
  const control = String(e.controlNumber).padStart(9, '0')
  const sender = clean(e.senderId, 15)
  const receiver = clean(e.receiverId, 15)
  return [
    ['ISA', '00', pad('', 10), '00', pad('', 10), 'ZZ', pad(sender, 15), 'ZZ', pad(receiver, 15), ymd.slice(2), hm, OUR_DELIMITERS.repetition, '00501', control, '0', e.usage, OUR_DELIMITERS.component],
    ['GS', e.functionalId, sender, receiver, ymd, hm, String(e.controlNumber), 'X', '005010X279A1'],
    ...transaction,
    ['GE', '1', String(e.controlNumber)],
    ['IEA', '1', control],
  ]
}

/** ST ... SE with the count of segments (ST and SE included). */
export function transactionSet(type: '270' | '271', control: string, body: Segment[]): Segment[] {
  return [['ST', type, control, '005010X279A1'], ...body, ['SE', String(body.length + 2), control]]
}

/** CCYYMMDD from an ISO date. */
export const d8 = (isoDate: string) => isoDate.replaceAll('-', '')

/** ISO date from CCYYMMDD; undefined when it is not a real date. */
export function fromD8(v: string | undefined): string | undefined {
  if (!v || !/^\d{8}$/.test(v)) return undefined
  const iso = `${v.slice(0, 4)}-${v.slice(4, 6)}-${v.slice(6, 8)}`
  const t = new Date(`${iso}T00:00:00Z`)
  return !Number.isNaN(t.getTime()) && t.toISOString().startsWith(iso) ? iso : undefined
}
