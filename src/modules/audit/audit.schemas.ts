import { Type, type Static } from '@sinclair/typebox'
import { PageQuery } from '../../http/pagination.ts'
import { PURPOSES_OF_USE } from '../../http/security.ts'
import { DEMO, DEMO_PATIENTS } from '../../lib/demo-ids.ts'
import { Uuid } from '../../http/schema-parts.ts'

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()])
const Instant = (description: string) => Type.String({ format: 'date-time', description })

const Action = Type.Union(['create', 'read', 'update', 'delete', 'execute'].map((a) => Type.Literal(a)), { description: 'What was done (FHIR AuditEvent.action C/R/U/D/E).' })
const Outcome = Type.Union(['success', 'denied', 'not-found', 'error'].map((o) => Type.Literal(o)), { description: 'How it ended.' })
const PurposeOfUse = Type.Union(PURPOSES_OF_USE.map((p) => Type.Literal(p)), { description: 'HL7 v3 PurposeOfUse code the caller declared (X-Purpose-Of-Use).' })

export const AuditEventSchema = Type.Object(
  {
    id: Type.String({ pattern: '^[0-9]+$', description: 'Event id (ascending in insertion order).' }),
    occurredAt: Instant('When it happened.'),
    requestId: Nullable(Type.String({ description: 'X-Request-Id of the request that caused it.' })),
    actor: Type.Object(
      {
        sub: Nullable(Type.String({ description: 'Token subject.' })),
        roles: Type.Array(Type.String(), { description: 'Roles the token carried.' }),
      },
      { additionalProperties: false, description: 'Who: null sub when the request had no valid token.' },
    ),
    facilityId: Nullable(Uuid('Facility the event belongs to; null for events outside any facility.')),
    action: Action,
    verb: Type.String({ description: 'Domain verb `<resource>.<verb>` (or the operationId of a refused request).' }),
    resourceType: Type.String(),
    resourceId: Nullable(Type.String()),
    patientId: Nullable(Uuid('Patient whose record was touched.')),
    outcome: Outcome,
    purposeOfUse: Nullable(Type.String({ description: 'HL7 v3 PurposeOfUse code.' })),
    clientIp: Nullable(Type.String()),
    userAgent: Nullable(Type.String()),
    breakGlass: Type.Boolean({ description: 'Access to a restricted record under a break-the-glass reason.' }),
    detail: Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()], { description: 'Non-PHI facts: filter names, counts, reason codes.' }),
    seq: Nullable(Type.String({ pattern: '^[0-9]+$', description: 'Position in the hash chain; null until sealed (within seconds).' })),
    hash: Nullable(Type.String({ pattern: '^[0-9a-f]{64}$', description: 'sha256(prev_hash || canonical(event)), hex.' })),
    sealedAt: Nullable(Instant('When the sealer chained it.')),
  },
  {
    $id: 'AuditEvent',
    additionalProperties: false,
    examples: [{
      id: '4711', occurredAt: '2026-11-27T10:15:02.123456Z', requestId: '3f0c2a9e-1d4b-4c8e-9a7f-2b6d5e8c1a40',
      actor: { sub: 'jdoe', roles: ['front_desk'] }, facilityId: DEMO.hospitalId, action: 'read', verb: 'patient.read',
      resourceType: 'patient', resourceId: DEMO_PATIENTS[0].id, patientId: DEMO_PATIENTS[0].id, outcome: 'success',
      purposeOfUse: 'TREAT', clientIp: '10.1.2.3', userAgent: 'frontdesk/2.4', breakGlass: false, detail: null, seq: '4702',
      hash: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08', sealedAt: '2026-11-27T10:15:03.001Z',
    }],
  },
)
export type AuditEvent = Static<typeof AuditEventSchema>

export const AuditEventQuery = Type.Object(
  {
    ...PageQuery,
    patientId: Type.Optional(Uuid('Events touching this patient.')),
    actor: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'Token subject of the actor.' })),
    action: Type.Optional(Action),
    verb: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'Domain verb, e.g. `patient.read`.' })),
    resourceType: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    resourceId: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    outcome: Type.Optional(Outcome),
    facilityId: Type.Optional(Uuid('Events of this facility.')),
    purposeOfUse: Type.Optional(PurposeOfUse),
    breakGlass: Type.Optional(Type.Boolean({ description: '`true`: only break-the-glass accesses (for review).' })),
    from: Type.Optional(Instant('Events at or after this instant.')),
    to: Type.Optional(Instant('Events before this instant.')),
  },
  { additionalProperties: false },
)
export type AuditEventFilter = Omit<Static<typeof AuditEventQuery>, 'limit' | 'cursor'>

export const TimeRangeQuery = Type.Object(
  {
    from: Type.Optional(Instant('At or after this instant. Unset: from the first event.')),
    to: Type.Optional(Instant('Before this instant. Unset: to the last event.')),
  },
  { additionalProperties: false },
)

export const ExportQuery = Type.Object(
  {
    from: { ...Instant('Events at or after this instant.'), examples: ['2026-11-01T00:00:00Z'] },
    to: { ...Instant('Events before this instant.'), examples: ['2026-12-01T00:00:00Z'] },
  },
  { additionalProperties: false },
)

const CheckpointFields = {
  seq: Type.String({ pattern: '^[0-9]+$', description: 'Seq of the chain head that was signed.' }),
  hash: Type.String({ pattern: '^[0-9a-f]{64}$', description: 'Hash of the event at that seq, hex.' }),
  signedAt: Instant('When it was signed.'),
  keyId: Type.String({ description: 'First 32 hex digits of sha256 of the public key (SPKI DER).' }),
}

export const ChainVerificationSchema = Type.Object(
  {
    ok: Type.Boolean({ description: 'True when the chain is whole, no event is overdue for sealing, and the latest checkpoint holds.' }),
    checked: Type.Integer({ description: 'Events whose links were recomputed.' }),
    firstBrokenSeq: Nullable(Type.String({ description: 'Where the chain first breaks.' })),
    firstBrokenEventId: Nullable(Type.String({ description: 'The event there, when it still exists.' })),
    reason: Nullable(Type.String({ description: 'Why it is not ok.' })),
    unsealedOverdue: Type.Integer({ description: 'Events older than the sealing interval that are still unsealed.' }),
    head: Type.Union([
      Type.Object({ seq: Type.String(), hash: Type.String({ pattern: '^[0-9a-f]{64}$' }) }, { additionalProperties: false }),
      Type.Null(),
    ], { description: 'The last event checked and its recomputed hash.' }),
    checkpoint: Type.Union([
      Type.Object({
        ...CheckpointFields,
        signatureValid: Type.Boolean(),
        chainReaches: Type.Boolean({ description: 'The chain still has an event at this seq with the signed hash.' }),
      }, { additionalProperties: false }),
      Type.Null(),
    ], { description: 'The latest signed checkpoint and whether it holds; null before the first.' }),
  },
  {
    $id: 'AuditChainVerification',
    additionalProperties: false,
    examples: [{
      ok: false, checked: 1204, firstBrokenSeq: '733', firstBrokenEventId: '741', reason: 'content does not match its hash', unsealedOverdue: 0,
      head: { seq: '732', hash: '2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae' },
      checkpoint: { seq: '1200', hash: 'fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9', signedAt: '2026-11-27T10:00:00.000Z', keyId: '4f1b2c3d4e5f60718293a4b5c6d7e8f9', signatureValid: true, chainReaches: true },
    }],
  },
)

export const CheckpointSchema = Type.Object(
  {
    ...CheckpointFields,
    signature: Type.String({ description: 'Ed25519 signature, base64, over `message` (UTF-8).' }),
    message: Type.String({
      description: 'The signed text: `patient-access audit checkpoint v1\\nseq=<seq>\\nhash=<hash>\\nsigned_at=<signedAt>`.',
    }),
  },
  { $id: 'AuditCheckpoint', additionalProperties: false },
)
export type Checkpoint = Static<typeof CheckpointSchema>

export const CheckpointPageSchema = Type.Object(
  {
    publicKey: Type.Object(
      {
        keyId: Type.String(),
        jwk: Type.Object({ kty: Type.Literal('OKP'), crv: Type.Literal('Ed25519'), x: Type.String() }, { additionalProperties: false }),
        spki: Type.String({ description: 'Base64 SubjectPublicKeyInfo (DER).' }),
      },
      { additionalProperties: false, description: 'The key checkpoints are signed with: keep a copy to check them offline.' },
    ),
    items: Type.Array(Type.Ref('AuditCheckpoint'), { description: 'Newest first.' }),
    next: Nullable(Type.String({ description: 'Cursor for the next page; null when this is the last.' })),
  },
  {
    title: 'AuditCheckpointPage',
    additionalProperties: false,
    examples: [{
      publicKey: { keyId: '4f1b2c3d4e5f60718293a4b5c6d7e8f9', jwk: { kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' }, spki: 'MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=' },
      items: [{
        seq: '1200', hash: 'fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9', signedAt: '2026-11-27T10:00:00.000Z', keyId: '4f1b2c3d4e5f60718293a4b5c6d7e8f9',
        signature: 'q0m8vH0Qd1yXh3b6G0y0k2C5pQ3f6s9Jm2v4c8Zt1xw7Qn5r0Lk3e2Yb8Hs6Wd4Ua1Tg9Ip7Oj5Ml3Nk1Pq0Rs==',
        message: 'patient-access audit checkpoint v1\nseq=1200\nhash=fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9\nsigned_at=2026-11-27T10:00:00.000Z',
      }],
      next: null,
    }],
  },
)

export const AccessReportEntrySchema = Type.Object(
  {
    eventId: Type.String({ pattern: '^[0-9]+$' }),
    occurredAt: Instant('When.'),
    actor: Type.Object({ sub: Nullable(Type.String()), roles: Type.Array(Type.String()) }, { additionalProperties: false, description: 'Who.' }),
    action: Action,
    verb: Type.String({ description: 'What, as a domain verb: `patient.read`, `appointment.cancel`.' }),
    resourceType: Type.String(),
    resourceId: Nullable(Type.String()),
    purposeOfUse: Nullable(Type.String({ description: 'Why (HL7 v3 PurposeOfUse).' })),
    breakGlass: Type.Boolean(),
    outcome: Outcome,
    facilityId: Nullable(Type.String({ format: 'uuid' })),
  },
  {
    $id: 'AccessReportEntry',
    additionalProperties: false,
    examples: [{
      eventId: '4711', occurredAt: '2026-11-27T10:15:02.123456Z', actor: { sub: 'jdoe', roles: ['front_desk'] }, action: 'read', verb: 'patient.read',
      resourceType: 'patient', resourceId: DEMO_PATIENTS[0].id, purposeOfUse: 'TREAT', breakGlass: false, outcome: 'success',
      facilityId: DEMO.hospitalId,
    }],
  },
)
export type AccessReportEntry = Static<typeof AccessReportEntrySchema>

export const AccessReportQuery = Type.Object(
  {
    ...PageQuery,
    from: Type.Optional(Instant('At or after this instant.')),
    to: Type.Optional(Instant('Before this instant.')),
  },
  { additionalProperties: false },
)

export const PatientParams = Type.Object({ patientId: Uuid('Patient id.', DEMO_PATIENTS[0].id) })
