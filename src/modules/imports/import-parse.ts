import { StringDecoder } from 'node:string_decoder'
import { Transform, type Readable } from 'node:stream'
import { parse as parseCsv } from 'csv-parse'
import type { TSchema } from '@sinclair/typebox'
import { toProblem } from '../../http/error-handler.ts'
import { BadRequestError, PROBLEM_TYPE_BASE, ProblemError } from '../../http/errors.ts'
import type { ImportFormat } from './import.schemas.ts'

/** A problem as stored in a row's result: the problem+json body without `instance`. */
export type RowProblem = { type: string; title: string; status: number; detail: string } & Record<string, unknown>

export function rowProblem(err: unknown): RowProblem {
  const p = toProblem(err)
  return { type: PROBLEM_TYPE_BASE + p.slug, title: p.title, status: p.status, detail: p.message, ...p.extra }
}

export interface ParsedRow {
  row: number
  value?: Record<string, unknown>
  problem?: RowProblem
}

/** One record longer than this is not a roster row: the file is refused rather than buffered. */
export const MAX_ROW_BYTES = 1024 * 1024

export class TooLargeError extends ProblemError {
  constructor(detail: string) {
    super(413, 'body-too-large', 'Content Too Large', detail)
  }
}

/** Counts the bytes passing through and fails the stream past `limit`. */
export function byteLimit(limit: number): Transform & { bytes: number } {
  const t = new Transform({
    transform(chunk: Buffer, _enc, done) {
      t.bytes += chunk.length
      if (t.bytes > limit) done(new TooLargeError(`The file is larger than the configured limit of ${limit} bytes`))
      else done(null, chunk)
    },
  }) as Transform & { bytes: number }
  t.bytes = 0
  return t
}

/** Rows of an NDJSON or CSV stream, numbered from 1, each a JSON object or a problem. */
export function readRows(stream: Readable, format: ImportFormat, schema: TSchema): AsyncGenerator<ParsedRow> {
  return format === 'csv' ? csvRows(stream, schema) : ndjsonRows(stream)
}

async function* ndjsonRows(stream: Readable): AsyncGenerator<ParsedRow> {
  const decoder = new StringDecoder('utf8')
  let pending = ''
  let row = 0
  let first = true
  const parseLine = (line: string): ParsedRow | undefined => {
    if (first) {
      first = false
      if (line.charCodeAt(0) === 0xfeff) line = line.slice(1)
    }
    if (line.trim() === '') return undefined
    row++
    let value: unknown
    try {
      value = JSON.parse(line)
    } catch {
      return { row, problem: rowProblem(new BadRequestError('The row is not valid JSON', [{ pointer: '/', detail: 'not valid JSON' }])) }
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      return { row, problem: rowProblem(new BadRequestError('The row is not a JSON object', [{ pointer: '/', detail: 'must be object' }])) }
    }
    return { row, value: value as Record<string, unknown> }
  }
  for await (const chunk of stream) {
    pending += decoder.write(chunk as Buffer)
    let nl: number
    while ((nl = pending.indexOf('\n')) >= 0) {
      const parsed = parseLine(pending.slice(0, nl))
      pending = pending.slice(nl + 1)
      if (parsed) yield parsed
    }
    if (pending.length > MAX_ROW_BYTES) throw new TooLargeError(`Row ${row + 1} is longer than ${MAX_ROW_BYTES} bytes`)
  }
  pending += decoder.end()
  const last = parseLine(pending)
  if (last) yield last
}

async function* csvRows(stream: Readable, schema: TSchema): AsyncGenerator<ParsedRow> {
  const parser = stream.pipe(
    parseCsv({ bom: true, relax_column_count: true, skip_empty_lines: true, max_record_size: MAX_ROW_BYTES }),
  )
  // A source error does not travel through pipe(): hand it to the parser so the loop below throws it.
  stream.on('error', (err) => parser.destroy(err))
  let header: { path: (string | number)[]; coerce: Coerce }[] | undefined
  let row = 0
  try {
    for await (const record of parser as AsyncIterable<string[]>) {
      if (!header) {
        header = record.map((name, i) => {
          const path = name.trim().split('.').map((s) => (/^\d+$/.test(s) ? Number(s) : s))
          checkItemIndexes(schema, path, i + 1)
          return { path, coerce: coercerFor(schema, path) }
        })
        continue
      }
      row++
      if (record.length !== header.length) {
        yield { row, problem: rowProblem(new BadRequestError(`The row has ${record.length} fields; the header names ${header.length}`, [{ pointer: '/', detail: 'wrong number of fields' }])) }
        continue
      }
      // Null-prototype objects: a header such as `__proto__.x` makes an own (unknown, rejected) property.
      const value: Record<string, unknown> = Object.create(null)
      record.forEach((cell, i) => {
        if (cell !== '') setPath(value, header![i].path, header![i].coerce(cell))
      })
      yield { row, value }
    }
  } catch (err) {
    if (err instanceof ProblemError) throw err
    const e = err as { code?: string; lines?: number }
    if (typeof e.code === 'string' && e.code.startsWith('CSV_')) {
      // Quoting errors leave the parser unable to tell where the next row starts.
      throw new BadRequestError(`The CSV cannot be read past row ${row} (${e.code}, line ${e.lines ?? '?'})`)
    }
    throw err
  }
}

type Coerce = (cell: string) => unknown

/** The most items a header may address in a list whose schema sets no maxItems (or that no schema knows). */
const MAX_LIST_ITEMS = 100

/**
 * A header's item numbers stay below what the list can hold: `identifiers.99999999.system` made
 * every row a list of a hundred million holes, and validating it ran the process out of memory.
 */
function checkItemIndexes(schema: TSchema, path: (string | number)[], column: number) {
  let s: TSchema | undefined = schema
  for (const seg of path) {
    if (typeof seg === 'number') {
      const list = s && ((s.anyOf as TSchema[] | undefined) ?? [s]).find((o) => o.type === 'array')
      const max = (list?.maxItems as number | undefined) ?? MAX_LIST_ITEMS
      if (seg >= max) throw new BadRequestError(`Column ${column} of the header names item ${seg} of a list that holds at most ${max}`)
    }
    s = s && child(s, seg)
  }
}

/**
 * CSV cells are text; the row schema is strict (no coercion). A cell is converted only where the
 * schema wants a boolean or a number there, so the one schema validates both formats.
 */
function coercerFor(schema: TSchema, path: (string | number)[]): Coerce {
  let s: TSchema | undefined = schema
  for (const seg of path) s = s && child(s, seg)
  const types = s ? leafTypes(s) : new Set<string>()
  if (types.has('string')) return (c) => c
  if (types.has('boolean')) return (c) => (c === 'true' ? true : c === 'false' ? false : c)
  if (types.has('integer') || types.has('number')) return (c) => (/^-?\d+(\.\d+)?$/.test(c) ? Number(c) : c)
  return (c) => c
}

function child(s: TSchema, seg: string | number): TSchema | undefined {
  for (const option of (s.anyOf as TSchema[] | undefined) ?? [s]) {
    if (typeof seg === 'number' && option.type === 'array') return option.items as TSchema
    if (typeof seg === 'string' && option.type === 'object') return (option.properties as Record<string, TSchema> | undefined)?.[seg]
  }
  return undefined
}

function leafTypes(s: TSchema): Set<string> {
  const out = new Set<string>()
  for (const option of (s.anyOf as TSchema[] | undefined) ?? [s]) {
    if (typeof option.type === 'string') out.add(option.type)
    if (option.const !== undefined) out.add(typeof option.const)
  }
  return out
}

function setPath(target: Record<string, unknown>, path: (string | number)[], value: unknown) {
  let node: Record<string | number, unknown> = target
  path.forEach((seg, i) => {
    if (i === path.length - 1) {
      node[seg] = value
      return
    }
    if (node[seg] === undefined || node[seg] === null || typeof node[seg] !== 'object') node[seg] = typeof path[i + 1] === 'number' ? [] : Object.create(null)
    node = node[seg] as Record<string | number, unknown>
  })
}
