import { Ajv, type AnySchema, type ValidateFunction } from 'ajv'
import addFormats from 'ajv-formats'
import type { FastifyInstance } from 'fastify'
import { BadRequestError, ProblemError } from './errors.ts'

// Bodies are validated strictly: no type coercion, unknown properties rejected (never removed).
// Query strings, params and headers arrive as strings, so those coerce.
function makeAjv(coerceTypes: boolean | 'array', externalSchemas: Record<string, unknown>) {
  const ajv = new Ajv({ coerceTypes, useDefaults: true, removeAdditional: false, allErrors: true, strict: false })
  addFormats.default(ajv)
  ajv.addKeyword({ keyword: 'example' })
  for (const schema of Object.values(externalSchemas)) ajv.addSchema(schema as AnySchema)
  return ajv
}

type Compiler = (route: { schema: AnySchema; httpPart?: string }) => ValidateFunction

const compilers = new Map<string, { schemas: unknown[]; compiler: Compiler }>()

/**
 * Fastify's schema controller calls this for the root and for every plugin that adds shared
 * schemas (`app.addSchema`), and in those plugins again for every route, so compilers are reused
 * while the shared schemas are the same objects. It must be installed as
 * `schemaController.compilersFactory`: `app.setValidatorCompiler` reaches only contexts without
 * schemas of their own, and the others silently fall back to Fastify's default Ajv, which strips
 * unknown properties instead of rejecting them.
 */
export function buildValidator(externalSchemas: Record<string, unknown> = {}): Compiler {
  const key = Object.keys(externalSchemas).join('\n')
  const schemas = Object.values(externalSchemas)
  const cached = compilers.get(key)
  if (cached && cached.schemas.every((s, i) => s === schemas[i])) return cached.compiler
  const bodyAjv = makeAjv(false, externalSchemas)
  const otherAjv = makeAjv('array', externalSchemas)
  const compiler: Compiler = ({ schema, httpPart }) => (httpPart === 'body' ? bodyAjv : otherAjv).compile(schema)
  compilers.set(key, { schemas, compiler })
  return compiler
}

// NUL, or a surrogate without its partner.
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

// Only what JSON.parse and the query parser build (plain objects, or objects whose prototype has
// no prototype, as fast-querystring makes them); a Buffer or a stream of an upload route is not walked.
function isJsonContainer(v: unknown): v is object {
  if (Array.isArray(v)) return true
  if (v === null || typeof v !== 'object') return false
  const proto = Object.getPrototypeOf(v) as object | null
  return proto === null || proto === Object.prototype || Object.getPrototypeOf(proto) === null
}

/** The first string in a parsed body or query that Postgres cannot store faithfully, as a pointer. */
function unstorableString(root: unknown): string | undefined {
  // Iterative: a deeply nested body must not overflow the stack.
  const stack: [unknown, string][] = [[root, '']]
  while (stack.length > 0) {
    const [value, pointer] = stack.pop()!
    if (typeof value === 'string') {
      if (UNSTORABLE.test(value)) return pointer
    } else if (isJsonContainer(value)) {
      for (const [key, item] of Object.entries(value)) stack.push([item, `${pointer}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`])
    }
  }
  return undefined
}

/**
 * Request rules for every route. JSON bodies are UTF-8, and Fastify's text/plain parser is gone
 * (it let a bare string reach the schema; that is a 415 now). NUL characters and unpaired
 * surrogates are refused up front: Postgres cannot store the first, and would silently replace
 * the second.
 */
export function inputRules(app: FastifyInstance) {
  app.removeContentTypeParser('text/plain')
  // JSON is UTF-8 (RFC 8259); a body declared in another charset would be misread, not refused.
  app.addHook('preParsing', async (req) => {
    const type = req.headers['content-type'] ?? ''
    const charset = /^application\/([\w.-]+\+)?json\s*;/i.test(type) ? /;\s*charset="?([^";\s]+)/i.exec(type)?.[1] : undefined
    if (charset && !/^utf-?8$/i.test(charset)) {
      throw new ProblemError(415, 'unsupported-media-type', 'Unsupported Media Type', 'Send application/json in UTF-8')
    }
  })
  app.addHook('preValidation', async (req) => {
    const inBody = unstorableString(req.body)
    const inQuery = unstorableString(req.query)
    const pointer = inBody ?? inQuery?.replace(/^\//, '')
    if (pointer !== undefined) {
      throw new BadRequestError('The request contains a NUL character or an unpaired surrogate', [
        { pointer: pointer || '/', detail: 'NUL characters and unpaired surrogates are not accepted' },
      ])
    }
  })
}
