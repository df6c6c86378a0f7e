import { Type, type Static } from '@sinclair/typebox'
import { DEMO, DEMO_PATIENTS } from '../../lib/demo-ids.ts'
import { Uuid as Id } from '../../http/schema-parts.ts'

const Text = (maxLength: number, description: string) => Type.String({ minLength: 1, maxLength, pattern: '\\S', description })
const Nullable = <T extends ReturnType<typeof Type.String> | ReturnType<typeof Type.Object> | ReturnType<typeof Type.Union>>(t: T) => Type.Union([t, Type.Null()])

export const E164 = Type.String({ pattern: '^\\+[1-9][0-9]{6,14}$', maxLength: 16, description: 'Phone number in E.164 form.', examples: ['+15555550142'] })
const BirthDate = Type.String({ format: 'date', maxLength: 10, description: 'Date of birth (not in the future).' })

export const AdministrativeSexSchema = Type.Union((['female', 'male', 'other', 'unknown'] as const).map((v) => Type.Literal(v)), {
  description: 'Administrative sex (FHIR AdministrativeGender).',
})
const MaritalStatus = Type.Union((['single', 'married', 'divorced', 'widowed', 'separated', 'domestic_partner', 'unknown'] as const).map((v) => Type.Literal(v)))
const PreferredContact = Type.Union((['phone', 'sms', 'email', 'mail'] as const).map((v) => Type.Literal(v)))

export const AddressSchema = Type.Object(
  {
    line1: Text(200, 'Street address.'),
    line2: Type.Optional(Text(200, 'Apartment, suite, unit.')),
    city: Text(100, 'City.'),
    state: Type.Optional(Type.String({ pattern: '^[A-Z]{2}$', description: 'State (USPS code).' })),
    postalCode: Type.String({ minLength: 3, maxLength: 10, pattern: '^[A-Za-z0-9 -]+$', description: 'ZIP or postal code.' }),
    country: Type.Optional(Type.String({ pattern: '^[A-Z]{2}$', description: 'ISO 3166-1 alpha-2 country code (default US).' })),
  },
  { additionalProperties: false },
)

export const PhoneSchema = Type.Object(
  { use: Type.Union((['home', 'mobile', 'work'] as const).map((v) => Type.Literal(v))), number: E164 },
  { additionalProperties: false },
)

const ContactSchema = Type.Object(
  {
    name: Text(200, 'Full name.'),
    relationship: Text(50, 'Relationship to the patient (mother, spouse, friend...).'),
    phone: E164,
  },
  { additionalProperties: false },
)

const GuarantorSchema = Type.Object(
  {
    relationship: Type.Union((['self', 'parent', 'spouse', 'legal_guardian', 'other'] as const).map((v) => Type.Literal(v))),
    name: Type.Optional(Text(200, 'Guarantor name, when not the patient.')),
    phone: Type.Optional(E164),
    address: Type.Optional(AddressSchema),
  },
  { additionalProperties: false },
)

const CommunicationSchema = Type.Object(
  {
    preferredContact: Type.Optional(Nullable(PreferredContact)),
    smsReminders: Type.Optional(Type.Boolean({ description: 'Consent to appointment reminders by SMS.' })),
    emailReminders: Type.Optional(Type.Boolean({ description: 'Consent to appointment reminders by email.' })),
  },
  { additionalProperties: false },
)

export const IdentifierSchema = Type.Object(
  {
    system: Type.String({ minLength: 1, maxLength: 200, pattern: '^[^|\\s]+$', description: 'Namespace of the identifier (URI or OID).' }),
    value: Type.String({ minLength: 1, maxLength: 100, pattern: '^[^|]*\\S[^|]*$', description: 'Identifier within the system; unique per system.' }),
  },
  { additionalProperties: false },
)

const Ssn = Type.String({ pattern: '^[0-9]{3}-?[0-9]{2}-?[0-9]{4}$', maxLength: 11, description: 'US Social Security number; stored encrypted.' })

export const RestrictionSchema = Type.Union((['employee', 'vip', 'sensitive'] as const).map((v) => Type.Literal(v)), {
  description: 'Restricted record: readable only by its care team, or by others under a break-the-glass reason (X-Break-Glass-Reason).',
})

const demographics = {
  familyName: Text(100, 'Family (last) name.'),
  givenNames: Text(200, 'Given names, first name first.'),
  prefix: Type.Optional(Nullable(Text(40, 'Name prefix (Dr, Ms...).'))),
  suffix: Type.Optional(Nullable(Text(40, 'Name suffix (Jr, III...).'))),
  preferredName: Type.Optional(Nullable(Text(100, 'Name the patient prefers to be called.'))),
  birthDate: BirthDate,
  administrativeSex: Type.Optional(Nullable(AdministrativeSexSchema)),
  genderIdentity: Type.Optional(Nullable(Text(100, 'Gender identity as the patient states it.'))),
  language: Type.Optional(Nullable(Type.String({ pattern: '^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$', maxLength: 35, description: 'Preferred language (BCP 47).' }))),
  maritalStatus: Type.Optional(Nullable(MaritalStatus)),
  address: Type.Optional(Nullable(AddressSchema)),
  phones: Type.Optional(Type.Array(PhoneSchema, { maxItems: 5 })),
  email: Type.Optional(Nullable(Type.String({ format: 'email', maxLength: 254 }))),
  emergencyContacts: Type.Optional(Type.Array(ContactSchema, { maxItems: 5 })),
  guarantor: Type.Optional(Nullable(GuarantorSchema)),
  communication: Type.Optional(CommunicationSchema),
  identifiers: Type.Optional(Type.Array(IdentifierSchema, { maxItems: 20, description: 'External identifiers; on update the list replaces the previous one.' })),
  restriction: Type.Optional(Nullable(RestrictionSchema)),
}

/** The demo's John Paul Smith, at the demo hospital: the patient the examples name. */
const smith = DEMO_PATIENTS[0]

export const PatientSchema = Type.Object(
  {
    id: Id('Patient id.'),
    organizationId: Id('Organisation the MRN belongs to.'),
    facilityId: Id('Registering facility.'),
    facilityIds: Type.Array(Type.String({ format: 'uuid' }), { description: 'Facilities whose users may see this patient.' }),
    mrn: Type.String({ description: 'Medical record number, unique in the organisation; the last digit is a Luhn check digit.' }),
    familyName: Type.String(),
    givenNames: Type.String(),
    prefix: Type.Union([Type.String(), Type.Null()]),
    suffix: Type.Union([Type.String(), Type.Null()]),
    preferredName: Type.Union([Type.String(), Type.Null()]),
    birthDate: Type.String({ format: 'date' }),
    administrativeSex: Type.Union([AdministrativeSexSchema, Type.Null()]),
    genderIdentity: Type.Union([Type.String(), Type.Null()]),
    language: Type.Union([Type.String(), Type.Null()]),
    maritalStatus: Type.Union([MaritalStatus, Type.Null()]),
    address: Type.Union([AddressSchema, Type.Null()]),
    phones: Type.Array(PhoneSchema),
    email: Type.Union([Type.String(), Type.Null()]),
    emergencyContacts: Type.Array(ContactSchema),
    guarantor: Type.Union([GuarantorSchema, Type.Null()]),
    communication: Type.Object({ preferredContact: Type.Union([PreferredContact, Type.Null()]), smsReminders: Type.Boolean(), emailReminders: Type.Boolean() }, { additionalProperties: false }),
    ssn: Type.Union([Type.String(), Type.Null()], { description: 'Masked (***-**-1234) unless your role holds patient:read-ssn.' }),
    identifiers: Type.Array(IdentifierSchema),
    motherPatientId: Type.Union([Type.String({ format: 'uuid' }), Type.Null()], { description: 'For newborns: the mother.' }),
    birthTime: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    multipleBirthOrder: Type.Union([Type.Integer(), Type.Null()]),
    active: Type.Boolean({ description: 'False once merged into another record.' }),
    mergedIntoId: Type.Union([Type.String({ format: 'uuid' }), Type.Null()], { description: 'The surviving record this one was merged into.' }),
    mergedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    version: Type.Integer({ description: 'Incremented on each change; the ETag carries it.' }),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
    restriction: Type.Union([RestrictionSchema, Type.Null()]),
    withheld: Type.Array(Type.String(), { description: 'Field groups your role may not see (minimum necessary); their fields are null or empty.' }),
  },
  {
    $id: 'Patient',
    additionalProperties: false,
    examples: [{
      id: smith.id, organizationId: DEMO.organizationId, facilityId: DEMO.hospitalId,
      facilityIds: [DEMO.hospitalId], mrn: smith.mrn, familyName: smith.familyName, givenNames: smith.givenNames, prefix: null, suffix: null,
      preferredName: 'Jack', birthDate: smith.birthDate, administrativeSex: smith.administrativeSex, genderIdentity: null, language: 'en', maritalStatus: 'married',
      address: { line1: '12 River Road', city: 'Albany', state: 'NY', postalCode: '12207', country: 'US' },
      phones: [{ use: 'mobile', number: '+15555550142' }], email: 'john.smith@example.org',
      emergencyContacts: [{ name: 'Mary Smith', relationship: 'spouse', phone: '+15555550143' }], guarantor: { relationship: 'self' },
      communication: { preferredContact: 'sms', smsReminders: true, emailReminders: false }, ssn: '***-**-6789',
      identifiers: [{ system: 'urn:oid:2.16.840.1.113883.3.1234', value: 'EHR-88213' }], motherPatientId: null, birthTime: null, multipleBirthOrder: null,
      active: true, mergedIntoId: null, mergedAt: null, version: 1, createdAt: '2026-11-27T10:00:00.000Z', updatedAt: '2026-11-27T10:00:00.000Z',
      restriction: null, withheld: [],
    }],
  },
)
export type Patient = Static<typeof PatientSchema>

export const CreatePatientBodySchema = Type.Object(
  {
    facilityId: Id('Registering facility; you must act for it.'),
    ...demographics,
    ssn: Type.Optional(Ssn),
    duplicateOverride: Type.Optional(
      Type.Object(
        { reason: Text(500, 'Why this is a different person from the candidates (recorded in the audit trail).') },
        { additionalProperties: false, description: 'Create even though possible duplicates were found.' },
      ),
    ),
  },
  {
    additionalProperties: false,
    examples: [{
      facilityId: DEMO.hospitalId, familyName: 'Smith', givenNames: 'John Paul', birthDate: '1980-05-17', administrativeSex: 'male',
      phones: [{ use: 'mobile', number: '+15555550142' }], ssn: '123-45-6789', communication: { smsReminders: true },
    }],
  },
)
export type CreatePatientBody = Static<typeof CreatePatientBodySchema>

const { familyName, givenNames, birthDate, ...optional } = demographics
export const UpdatePatientBodySchema = Type.Object(
  {
    familyName: Type.Optional(familyName),
    givenNames: Type.Optional(givenNames),
    birthDate: Type.Optional(birthDate),
    ...optional,
    ssn: Type.Optional(Nullable(Ssn)),
  },
  { additionalProperties: false, minProperties: 1, examples: [{ phones: [{ use: 'home', number: '+15555550199' }], communication: { emailReminders: true } }] },
)
export type UpdatePatientBody = Static<typeof UpdatePatientBodySchema>

export const MergePatientBodySchema = Type.Object(
  {
    survivorId: Id('The record that remains; the merged record points to it.'),
    reason: Text(500, 'Why the records are the same person (recorded in the audit trail).'),
  },
  { additionalProperties: false, examples: [{ survivorId: smith.id, reason: 'Same SSN and birth date; duplicate created at ED registration' }] },
)
export type MergePatientBody = Static<typeof MergePatientBodySchema>

export const SearchPatientsQuerySchema = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Name, fuzzy: "Jon Smyth" finds John Smith; "Smith, John" names the family first. Accented Latin, Cyrillic and Greek names match their romanisation ("Sahin" finds Şahin, "Ivanov" finds Иванов); names in other scripts (Han, Arabic, Hebrew ...) are matched as written, exactly, with the given name as a prefix, either way round or without a space ("王小明" finds 王 小明).' })),
    birthDate: Type.Optional(BirthDate),
    mrn: Type.Optional(Type.String({ minLength: 1, maxLength: 40 })),
    phone: Type.Optional(E164),
    identifier: Type.Optional(Type.String({ minLength: 3, maxLength: 301, pattern: '^[^|]+\\|[^|]+$', description: '`system|value`.' })),
    facilityId: Type.Optional(Type.String({ format: 'uuid', description: 'Only patients linked to this facility.' })),
    includeInactive: Type.Optional(Type.Boolean({ default: false, description: 'Include records merged into another.' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 25, description: 'Page size, 1 to 100.' })),
    cursor: Type.Optional(Type.String({ maxLength: 512, pattern: '^[A-Za-z0-9_-]+$', description: "Opaque cursor from the previous page's `next`." })),
  },
  { additionalProperties: false },
)
export type SearchPatientsQuery = Static<typeof SearchPatientsQuerySchema>

export const PatientParams = Type.Object({ patientId: Id('Patient id.', smith.id) })
/** Merging: the example's survivor is John Paul Smith, so the record merged into him is another demo patient. */
export const MergePatientParams = Type.Object({ patientId: Id('Patient id.', DEMO_PATIENTS[2].id) })

/** The example links John Paul Smith to the surgery centre, the one demo facility he is not linked to. */
export const PatientFacilityParams = Type.Object({
  patientId: Id('Patient id.', smith.id),
  facilityId: Id('Facility of the same organisation; you must act for it.', DEMO.ascId),
})

export const CareTeamParams = Type.Object({
  patientId: Id('Patient id.', smith.id),
  userSub: Type.String({ minLength: 1, maxLength: 255, pattern: '^[^/\\s]+$', description: 'Subject (sub claim) of the user.' }),
})

/** A restricted patient in search results, seen without care-team membership or break-the-glass. */
export const RestrictedPatientSchema = Type.Object(
  {
    id: Id('Patient id.'),
    restricted: Type.Literal(true, { description: 'Demographics withheld: read with X-Break-Glass-Reason, or join the care team.' }),
  },
  { $id: 'RestrictedPatient', additionalProperties: false, examples: [{ id: smith.id, restricted: true }] },
)
export type RestrictedPatient = Static<typeof RestrictedPatientSchema>

export interface DuplicateCandidate {
  id: string
  score: number
  matchedFields: string[]
}
