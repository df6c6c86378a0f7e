import { Ajv, type AnySchema } from 'ajv'
import addFormats from 'ajv-formats'
import type { FastifySchemaCompiler } from 'fastify'
import { ProblemSchema } from './errors.ts'

// Bodies are validated strictly: no type coercion, unknown properties rejected (never removed).
// Query strings, params and headers arrive as strings, so those coerce.
function makeAjv(coerceTypes: boolean | 'array') {
  const ajv = new Ajv({ coerceTypes, useDefaults: true, removeAdditional: false, allErrors: true, strict: false })
  addFormats.default(ajv)
  ajv.addKeyword({ keyword: 'example' })
  ajv.addSchema(ProblemSchema as AnySchema)
  return ajv
}

const bodyAjv = makeAjv(false)
const otherAjv = makeAjv('array')

export const validatorCompiler: FastifySchemaCompiler<AnySchema> = ({ schema, httpPart }) =>
  (httpPart === 'body' ? bodyAjv : otherAjv).compile(schema)
