import t from 'tap'
import { Type } from '@sinclair/typebox'
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler'
import { forSerializer } from '../../src/http/serializer.ts'
import { AppointmentSchema } from '../../src/modules/scheduling/scheduling.schemas.ts'
import { PatientSchema } from '../../src/modules/patients/patient.schemas.ts'

const Status = Type.Union([Type.Literal('booked'), Type.Literal('cancelled')])
const Sample = Type.Object(
  {
    at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'When.' }),
    count: Type.Union([Type.Integer(), Type.Null()]),
    status: Status,
    previous: Type.Union([Status, Type.Null()]),
    address: Type.Union([Type.Object({ line: Type.String(), city: Type.Union([Type.String(), Type.Null()]) }, { additionalProperties: false }), Type.Null()]),
    // A property named like a keyword is data, not a keyword.
    properties: Type.Object({ anyOf: Type.String(), type: Type.Union([Type.String(), Type.Null()]) }),
    either: Type.Union([Type.String(), Type.Integer()]),
  },
  { additionalProperties: false },
)

t.test('nullable fields and unions of literals become type lists and enums', async (t) => {
  const s = forSerializer(Sample) as any
  t.same(s.properties.at, { format: 'date-time', type: ['string', 'null'], description: 'When.' })
  t.same(s.properties.count, { type: ['integer', 'null'] })
  t.same(s.properties.status, { type: 'string', enum: ['booked', 'cancelled'] })
  t.same(s.properties.previous, { type: ['string', 'null'], enum: ['booked', 'cancelled', null] })
  t.same(s.properties.address.type, ['object', 'null'])
  t.same(s.properties.address.properties.city, { type: ['string', 'null'] })
  t.same(Object.keys(s.properties.properties.properties), ['anyOf', 'type'], 'property names are left alone')
  t.same(s.properties.properties.properties.type, { type: ['string', 'null'] })
  t.ok(Array.isArray(s.properties.either.anyOf), 'a union of two real types stays a union')
  t.ok(Array.isArray((Sample as any).properties.at.anyOf), 'the route schema itself is not changed')
})

t.test('the rewritten schema serializes every document exactly as the original', async (t) => {
  const documents = [
    { at: null, count: null, status: 'booked', previous: null, address: null, properties: { anyOf: 'x', type: null }, either: 3 },
    {
      at: new Date('2026-11-27T10:00:00.000Z'), count: 7, status: 'cancelled', previous: 'booked', address: { line: '1 Main St', city: null },
      properties: { anyOf: 'y', type: 'z' }, either: 'text', unknown: 'dropped',
    },
  ]
  for (const [name, schema] of [['sample', Sample], ['patient', PatientSchema], ['appointment', AppointmentSchema]] as const) {
    const compile = (s: unknown) => SerializerSelector()()({ schema: s, method: 'GET', url: '/', httpStatus: '200' })
    const original = compile(schema)
    const rewritten = compile(forSerializer(schema))
    const docs = name === 'sample' ? documents : ((schema as any).examples ?? [])
    t.ok(docs.length > 0, `${name} has documents to compare`)
    for (const doc of docs) t.equal(rewritten(doc), original(doc), `${name}: same JSON`)
  }
})
