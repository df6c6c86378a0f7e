import { SerializerSelector, type SerializerFactory } from '@fastify/fast-json-stringify-compiler'

type Schema = Record<string, unknown>

const isObject = (v: unknown): v is Schema => typeof v === 'object' && v !== null && !Array.isArray(v)
const isNull = (s: unknown) => isObject(s) && s.type === 'null' && Object.keys(s).length === 1
/** A schema of one JSON type and nothing that needs a validator to tell it apart. */
const isPlain = (s: unknown): s is Schema =>
  isObject(s) && typeof s.type === 'string' && s.type !== 'null' && !('anyOf' in s) && !('oneOf' in s) && !('allOf' in s) && !('$ref' in s) && !('const' in s)
/** `{ const, type }` branches of one type: TypeBox's union of literals. */
const literalsOf = (branches: unknown[]): { type: string; values: unknown[] } | null => {
  if (branches.length === 0) return null
  const type = isObject(branches[0]) ? branches[0].type : undefined
  if (typeof type !== 'string' || !branches.every((b) => isObject(b) && 'const' in b && b.type === type && Object.keys(b).length === 2)) return null
  return { type, values: branches.map((b) => (b as Schema).const) }
}

/**
 * The response schema as fast-json-stringify serializes it fastest, same output. It serializes an
 * `anyOf` by running a JSON Schema validator over each value until a branch matches; our nullable
 * fields are `anyOf: [X, { type: 'null' }]` (TypeBox's Union) and enumerations are unions of
 * literals, so a patient or an appointment cost dozens of validator calls (a sixth of a booking's
 * serialization time, more for a patient). Written as `type: [X's type, 'null']` and `enum`, the
 * serializer tells them apart with typeof. Only the serializer sees this; validation and the
 * OpenAPI document keep the schemas as written.
 */
export function forSerializer(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(forSerializer)
  if (!isObject(schema)) return schema
  const out: Schema = {}
  for (const [k, v] of Object.entries(schema)) {
    // Property names are data, not keywords: map them, never interpret them.
    out[k] = k === 'properties' || k === 'patternProperties' || k === '$defs' || k === 'definitions'
      ? Object.fromEntries(Object.entries(v as Schema).map(([name, s]) => [name, forSerializer(s)]))
      : k === 'examples' || k === 'example' || k === 'enum' || k === 'const' || k === 'default' ? v : forSerializer(v)
  }
  const branches = out.anyOf
  if (!Array.isArray(branches)) return out
  const { anyOf: _, ...rest } = out
  const nonNull = branches.filter((b) => !isNull(b))
  const nullable = nonNull.length === branches.length - 1
  if (nonNull.length === 1 && nullable && isPlain(nonNull[0])) {
    const x = nonNull[0]
    return { ...x, ...rest, type: [x.type, 'null'], ...(Array.isArray(x.enum) ? { enum: [...x.enum, null] } : {}) }
  }
  // (A nullable union of literals arrives here already written as an enum, a plain schema, above.)
  const literals = literalsOf(nonNull)
  if (literals) {
    return { ...rest, type: nullable ? [literals.type, 'null'] : literals.type, enum: nullable ? [...literals.values, null] : literals.values }
  }
  return out
}

/** Fastify's own serializer factory, given each response schema as forSerializer writes it. */
export const buildSerializer: SerializerFactory = (externalSchemas, options) => {
  const compile = SerializerSelector()(externalSchemas, options)
  return (route) => compile({ ...route, schema: forSerializer(route.schema) })
}
