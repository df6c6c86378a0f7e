import { Type, type Static } from '@sinclair/typebox'
import { DEMO } from '../../lib/demo-ids.ts'
import { Uuid as Id } from '../../http/schema-parts.ts'

const Name = Type.String({ minLength: 1, maxLength: 200, pattern: '\\S', description: 'Display name.' })

export const OrganizationSchema = Type.Object(
  {
    id: Id('Organisation id.'),
    name: Name,
    version: Type.Integer({ description: 'Incremented on each change; the ETag carries it.' }),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  {
    $id: 'Organization',
    additionalProperties: false,
    examples: [{ id: DEMO.organizationId, name: 'Riverside Health (demo)', version: 1, createdAt: '2026-11-27T10:00:00.000Z', updatedAt: '2026-11-27T10:00:00.000Z' }],
  },
)
export type Organization = Static<typeof OrganizationSchema>

export const CreateOrganizationBodySchema = Type.Object(
  { name: Name },
  { additionalProperties: false, examples: [{ name: 'Riverside Health' }] },
)
export const UpdateOrganizationBodySchema = Type.Object(
  { name: Type.Optional(Name) },
  { additionalProperties: false, minProperties: 1, examples: [{ name: 'Riverside Health System' }] },
)

export const FacilityKindSchema = Type.Union(
  [Type.Literal('hospital'), Type.Literal('clinic'), Type.Literal('ambulatory_surgery_center')],
  { description: 'Hospital, clinic or ambulatory surgery centre.' },
)

const TimeZone = Type.String({ minLength: 1, maxLength: 64, description: 'IANA time zone of the facility.', examples: ['America/New_York'] })
const Npi = Type.String({ pattern: '^[0-9]{10}$', description: 'Organisation NPI (10 digits, Luhn check digit with the 80840 prefix).' })
const StateCode = Type.String({ pattern: '^[A-Z]{2}$', description: 'US state (USPS code) whose rules apply, e.g. for release-of-information fees.' })
const RoiDeadlineDays = Type.Integer({ minimum: 1, maximum: 30, description: 'Days to act on a right-of-access request (HIPAA 30; some states fewer).' })

export const FacilitySchema = Type.Object(
  {
    id: Id('Facility id.'),
    organizationId: Id('Owning organisation.'),
    name: Name,
    kind: FacilityKindSchema,
    timeZone: TimeZone,
    npi: Type.Union([Npi, Type.Null()]),
    stateCode: Type.Union([StateCode, Type.Null()]),
    roiDeadlineDays: RoiDeadlineDays,
    version: Type.Integer(),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  {
    $id: 'Facility',
    additionalProperties: false,
    examples: [{
      id: DEMO.hospitalId, organizationId: DEMO.organizationId, name: 'Riverside General Hospital',
      kind: 'hospital', timeZone: 'America/New_York', npi: DEMO.hospitalNpi, stateCode: 'NY', roiDeadlineDays: 30, version: 1,
      createdAt: '2026-11-27T10:00:00.000Z', updatedAt: '2026-11-27T10:00:00.000Z',
    }],
  },
)
export type Facility = Static<typeof FacilitySchema>

export const CreateFacilityBodySchema = Type.Object(
  {
    name: Name,
    kind: FacilityKindSchema,
    timeZone: TimeZone,
    npi: Type.Optional(Npi),
    stateCode: Type.Optional(StateCode),
    roiDeadlineDays: Type.Optional(RoiDeadlineDays),
  },
  { additionalProperties: false, examples: [{ name: 'Riverside North Hospital', kind: 'hospital', timeZone: 'America/New_York', npi: '1324567894', stateCode: 'NY' }] },
)
export type CreateFacilityBody = Static<typeof CreateFacilityBodySchema>

export const UpdateFacilityBodySchema = Type.Object(
  {
    name: Type.Optional(Name),
    kind: Type.Optional(FacilityKindSchema),
    timeZone: Type.Optional(TimeZone),
    npi: Type.Optional(Type.Union([Npi, Type.Null()])),
    stateCode: Type.Optional(Type.Union([StateCode, Type.Null()])),
    roiDeadlineDays: Type.Optional(RoiDeadlineDays),
  },
  { additionalProperties: false, minProperties: 1, examples: [{ roiDeadlineDays: 15 }] },
)
export type UpdateFacilityBody = Static<typeof UpdateFacilityBodySchema>

export const OrganizationParams = Type.Object({ organizationId: Id('Organisation id.', DEMO.organizationId) })
export const FacilityParams = Type.Object({ facilityId: Id('Facility id.', DEMO.hospitalId) })
