import { randomUUID } from 'node:crypto'
import { Type, type Static } from '@sinclair/typebox'
import { sql, type RawBuilder, type Transaction } from 'kysely'
import type { Database, NewAuditEvent } from '../../db/database.ts'
import { auditEvent, insertAuditEvents } from '../../http/audit.ts'
import { ConflictError, NotFoundError } from '../../http/errors.ts'
import type { NameKeys } from '../patients/patient.repository.ts'
import { CreatePatientBodySchema } from '../patients/patient.schemas.ts'
import { MERGED_MRN_SYSTEM, mrnFor, scoreCandidates } from '../patients/patient.service.ts'
import type { PhiCrypto } from '../patients/phi-crypto.ts'
import type { BatchContext, FieldProblem, ImportKindHandler, RowOutcome } from './import-kind.ts'
import { rowProblem } from './import-parse.ts'
import { canonical, recordset } from './import-sql.ts'
import { restrictedAccess, restrictedRecord } from '../patients/patient-guard.ts'
import { demographicFields } from '../patients/patient.service.ts'

/**
 * A patient row: the registration body (one definition, from the patients module) whose facility
 * defaults to the import's, plus the MRN as an alternative natural key.
 */
export const PatientImportRowSchema = Type.Object(
  {
    ...CreatePatientBodySchema.properties,
    facilityId: Type.Optional(CreatePatientBodySchema.properties.facilityId),
    mrn: Type.Optional(Type.String({ minLength: 1, maxLength: 40, description: 'Our MRN of an existing patient: matches it (never creates).' })),
  },
  { additionalProperties: false },
)
type PatientRow = Static<typeof PatientImportRowSchema>

// Writable demographic columns and their SQL types, in the order of the bulk statements below.
const DEMOGRAPHICS = [
  ['familyName', 'family_name', 'text'], ['givenNames', 'given_names', 'text'], ['birthDate', 'birth_date', 'date'],
  ['prefix', 'prefix', 'text'], ['suffix', 'suffix', 'text'], ['preferredName', 'preferred_name', 'text'],
  ['administrativeSex', 'administrative_sex', 'text'], ['genderIdentity', 'gender_identity', 'text'], ['language', 'language', 'text'],
  ['maritalStatus', 'marital_status', 'text'], ['address', 'address', 'jsonb'], ['phones', 'phones', 'jsonb'],
  ['phoneNumbers', 'phone_numbers', 'text[]'], ['email', 'email', 'text'], ['emergencyContacts', 'emergency_contacts', 'jsonb'],
  ['guarantor', 'guarantor', 'jsonb'], ['preferredContact', 'preferred_contact', 'text'],
  ['smsReminderConsent', 'sms_reminder_consent', 'boolean'], ['emailReminderConsent', 'email_reminder_consent', 'boolean'],
  ['ssnCipher', 'ssn_cipher', 'text'], ['ssnHmac', 'ssn_hmac', 'text'], ['ssnLast4', 'ssn_last4', 'text'], ['restriction', 'restriction', 'text'],
] as const
type Column = (typeof DEMOGRAPHICS)[number][0]
type Columns = Partial<Record<Column, unknown>>

const DEFAULTS: Columns = {
  prefix: null, suffix: null, preferredName: null, administrativeSex: null, genderIdentity: null, language: null, maritalStatus: null,
  address: null, phones: [], phoneNumbers: [], email: null, emergencyContacts: [], guarantor: null, preferredContact: null,
  smsReminderConsent: false, emailReminderConsent: false, ssnCipher: null, ssnHmac: null, ssnLast4: null, restriction: null,
}

const identifierKey = (i: { system: string; value: string }) => `${i.system}|${i.value}`
const ssnDigits = (ssn: string) => ssn.replace(/-/g, '')

export function patientImport(phi: PhiCrypto): ImportKindHandler<PatientRow> {
  /** The columns a row sets (only the fields present), without the SSN ciphertext. */
  function columnsOf(b: PatientRow): Columns {
    const c = demographicFields(b) as Columns
    if (b.ssn !== undefined) {
      const digits = ssnDigits(b.ssn)
      Object.assign(c, { ssnHmac: phi.lookupHash(digits), ssnLast4: digits.slice(5) })
    }
    return c
  }
  const withCipher = (c: Columns, b: PatientRow): Columns => (b.ssn !== undefined ? { ...c, ssnCipher: phi.encrypt(ssnDigits(b.ssn)) } : c)

  return {
    schema: PatientImportRowSchema,
    permission: 'patient:write',

    prepare(row, job) {
      const problems: FieldProblem[] = []
      if (row.facilityId === undefined) row.facilityId = job.facilityId
      else if (row.facilityId !== job.facilityId) problems.push({ pointer: '/facilityId', detail: "must be the import's facility" })
      if (row.birthDate !== undefined && row.birthDate > new Date().toISOString().slice(0, 10)) problems.push({ pointer: '/birthDate', detail: 'must not be in the future' })
      const seen = new Set<string>()
      row.identifiers?.forEach((i, n) => {
        if (i.system === MERGED_MRN_SYSTEM) problems.push({ pointer: `/identifiers/${n}/system`, detail: `system ${MERGED_MRN_SYSTEM} is assigned by merges` })
        if (seen.has(identifierKey(i))) problems.push({ pointer: `/identifiers/${n}`, detail: 'listed twice' })
        seen.add(identifierKey(i))
      })
      if (!row.mrn && !row.identifiers?.length) problems.push({ pointer: '/identifiers', detail: 'a natural key is required: identifiers or mrn' })
      return problems
    },

    keys: (row) => [...(row.identifiers ?? []).map((i) => `id:${identifierKey(i)}`), ...(row.mrn ? [`mrn:${row.mrn}`] : [])],

    async apply({ trx, ctx, job }, rows) {
      const org = job.organizationId
      const outcomes: (RowOutcome | undefined)[] = rows.map(() => undefined)

      // 1. Natural keys -> existing patients, in two statements for the whole batch.
      const idents = rows.flatMap((r) => r.value.identifiers ?? [])
      const byIdentifier = new Map<string, string>()
      if (idents.length > 0) {
        const { rows: hits } = await sql<{ system: string; value: string; patientId: string }>`
          SELECT pi.system, pi.value, pi.patient_id FROM ${recordset(idents, [['system', 'system', 'text'], ['value', 'value', 'text']])}
          JOIN patient_identifier pi ON pi.organization_id = ${org} AND pi.system = v.system AND pi.value = v.value`.execute(trx)
        for (const h of hits) byIdentifier.set(identifierKey(h), h.patientId)
      }
      const mrns = rows.flatMap((r) => (r.value.mrn ? [{ mrn: r.value.mrn }] : []))
      const byMrn = new Map<string, string>()
      if (mrns.length > 0) {
        const { rows: hits } = await sql<{ id: string; mrn: string }>`
          SELECT p.id, p.mrn FROM ${recordset(mrns, [['mrn', 'mrn', 'text']])} JOIN patient p ON p.organization_id = ${org} AND p.mrn = v.mrn`.execute(trx)
        for (const h of hits) byMrn.set(h.mrn, h.id)
      }
      const matchOf = rows.map(({ value }, i) => {
        const ids = new Set((value.identifiers ?? []).flatMap((x) => byIdentifier.get(identifierKey(x)) ?? []))
        const viaMrn = value.mrn ? byMrn.get(value.mrn) : undefined
        if (value.mrn && !viaMrn) {
          outcomes[i] = { outcome: 'rejected', recordId: null, problem: { ...rowProblem(new NotFoundError('Patient')), errors: [{ pointer: '/mrn', detail: 'no patient has this MRN' }] } }
        } else if (ids.size > 1 || (viaMrn && ids.size === 1 && !ids.has(viaMrn))) {
          outcomes[i] = { outcome: 'rejected', recordId: null, problem: rowProblem(new ConflictError('conflicting-keys', "The row's identifiers and MRN belong to different patients")) }
        }
        return viaMrn ?? [...ids][0]
      })

      // 2. Matched patients, locked in id order (two imports touching the same patients cannot deadlock).
      const matchedIds = [...new Set(matchOf.filter((id, i) => id && !outcomes[i]))] as string[]
      const restricted = new Set<string>()
      const existing = new Map<string, Columns & { id: string; active: boolean; linked: boolean; identifiers: { system: string; value: string }[] }>()
      if (matchedIds.length > 0) {
        const found = await trx
          .selectFrom('patient')
          .select(['id', 'active', ...DEMOGRAPHICS.filter(([c]) => c !== 'birthDate').map(([c]) => c)])
          .select(sql<string>`birth_date::text`.as('birthDate'))
          .select(sql<boolean>`EXISTS (SELECT 1 FROM patient_facility pf WHERE pf.patient_id = patient.id AND pf.facility_id = ${job.facilityId})`.as('linked'))
          .select(sql<{ system: string; value: string }[]>`COALESCE((SELECT jsonb_agg(jsonb_build_object('system', pi.system, 'value', pi.value)) FROM patient_identifier pi WHERE pi.patient_id = patient.id AND pi.system <> ${MERGED_MRN_SYSTEM}), '[]'::jsonb)`.as('identifiers'))
          .where('id', 'in', matchedIds)
          .orderBy('id')
          .forUpdate()
          .execute()
        for (const p of found) existing.set(p.id, p as never)
        // A restricted record changes only through its care team; a bulk load never breaks the glass.
        const { access } = await restrictedAccess(ctx, trx, found)
        for (const p of found) if (access.get(p.id) !== 'open') restricted.add(p.id)
      }

      const audit: NewAuditEvent[] = []
      const record = (i: number, verb: 'create' | 'update', id: string, detail: Record<string, unknown> = {}) =>
        audit.push(auditEvent(ctx, {
          action: verb, verb: `patient.${verb}`, resourceType: 'patient', resourceId: id, patientId: id, facilityId: job.facilityId,
          detail: { importId: job.id, row: rows[i].row, ...detail },
        }))

      // 3. Existing patients: unchanged, or the merged full row to write.
      const updates: (Columns & { id: string })[] = []
      const identifierUpdates: { patientId: string; identifiers: { system: string; value: string }[] }[] = []
      rows.forEach(({ value }, i) => {
        const id = matchOf[i]
        if (outcomes[i] || !id) return
        const old = existing.get(id)!
        if (!old.linked) {
          // The same answer as registering: the patient belongs to facilities the import cannot see.
          outcomes[i] = value.mrn
            ? { outcome: 'rejected', recordId: null, problem: { ...rowProblem(new NotFoundError('Patient')), errors: [{ pointer: '/mrn', detail: 'no patient has this MRN' }] } }
            : { outcome: 'rejected', recordId: null, problem: rowProblem(new ConflictError('duplicate-identifier', 'Another patient of the organisation already has this identifier')) }
          return
        }
        if (restricted.has(id)) {
          outcomes[i] = { outcome: 'rejected', recordId: null, problem: rowProblem(restrictedRecord()) }
          return
        }
        if (!old.active) {
          outcomes[i] = { outcome: 'rejected', recordId: null, problem: rowProblem(new ConflictError('patient-merged', 'This patient was merged into another record; change the surviving record')) }
          return
        }
        const wanted = columnsOf(value)
        const changed = (Object.keys(wanted) as Column[]).filter((k) => k !== 'phoneNumbers' && k !== 'ssnLast4' && canonical(wanted[k]) !== canonical(old[k]))
        const identifiersChanged = value.identifiers !== undefined &&
          canonical(value.identifiers.map(identifierKey).sort()) !== canonical(old.identifiers.map(identifierKey).sort())
        if (changed.length === 0 && !identifiersChanged) {
          outcomes[i] = { outcome: 'unchanged', recordId: id }
          return
        }
        outcomes[i] = { outcome: 'updated', recordId: id }
        if (changed.length > 0) updates.push({ ...old, ...(changed.includes('ssnHmac') ? withCipher(wanted, value) : { ...wanted, ssnHmac: old.ssnHmac, ssnLast4: old.ssnLast4 }), id })
        if (identifiersChanged) identifierUpdates.push({ patientId: id, identifiers: value.identifiers! })
        record(i, 'update', id, { fields: [...changed, ...(identifiersChanged ? ['identifiers'] : [])] })
      })

      // 4. New patients: duplicate check against the organisation and earlier rows of this batch.
      const fresh = rows.map((_, i) => i).filter((i) => !outcomes[i])
      const creates: { id: string; columns: Columns; identifiers: { system: string; value: string }[] }[] = []
      const probes = fresh.length > 0 ? await probeKeys(trx, fresh.map((i) => rows[i].value)) : []
      const probeAt = (n: number) => probeOf(rows[fresh[n]].value, probes[n], phi)
      const checked = job.allowDuplicates ? [] : fresh
      if (checked.length > 0) {
        const lockKeys = [...new Set(checked.map((i) => `dup:${org}:${probes[fresh.indexOf(i)].familyDm ?? ''}:${rows[i].value.birthDate}`))].sort()
        // The same advisory keys as single registrations, so the two never race each other.
        await sql`SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM jsonb_array_elements_text(${JSON.stringify(lockKeys)}::jsonb) AS k`.execute(trx)
      }
      const dbCandidates = await findCandidates(trx, org, checked.map((i, n) => ({ ord: i, ...probeAt(n) })))
      const batchIndex = new Map<string, Candidate[]>()
      for (const [n, i] of fresh.entries()) {
        const value = rows[i].value
        const probe = probeAt(n)
        let scored: ReturnType<typeof scoreCandidates> = []
        if (!job.allowDuplicates) {
          const peers = new Map<string, Candidate>()
          for (const b of buckets(probe)) for (const c of batchIndex.get(b) ?? []) peers.set(c.id, c)
          scored = scoreCandidates([...(dbCandidates.get(i) ?? []), ...peers.values()], probe)
        }
        if (scored.length > 0 && !value.duplicateOverride) {
          outcomes[i] = {
            outcome: 'duplicate', recordId: null,
            problem: rowProblem(new ConflictError('possible-duplicate', 'Possible duplicates of this patient exist; review them, or import the row with duplicateOverride', { candidates: scored })),
          }
          continue
        }
        const id = randomUUID()
        creates.push({ id, columns: withCipher(columnsOf(value), value), identifiers: value.identifiers ?? [] })
        const self: Candidate = {
          id, familyKey: probe.keys.familyKey, givenKey: probe.keys.givenKey, familyDm: probe.keys.familyDm, givenDm: probe.keys.givenDm,
          phoneNumbers: probe.phones, email: probe.email, ssnHmac: probe.ssnHmac, address: probe.address as Candidate["address"], birthDate: probe.birthDate,
        }
        for (const b of buckets(probe)) batchIndex.set(b, [...(batchIndex.get(b) ?? []), self])
        outcomes[i] = { outcome: 'created', recordId: job.dryRun ? null : id }
        if (!job.dryRun) {
          record(i, 'create', id, value.duplicateOverride && scored.length > 0
            ? { duplicateOverride: { reason: value.duplicateOverride.reason, candidates: scored.map((c) => c.id) } }
            : {})
        }
      }

      if (!job.dryRun) await write(trx, job, creates, updates, identifierUpdates)
      if (!job.dryRun) await insertAuditEvents(trx, audit)
      return outcomes as RowOutcome[]
    },
  }
}

type Candidate = Parameters<typeof scoreCandidates>[0][number]
type Probe = Parameters<typeof scoreCandidates>[1]

function probeOf(value: PatientRow, keys: NameKeys, phi: PhiCrypto): Probe {
  return {
    keys,
    birthDate: value.birthDate,
    phones: [...new Set((value.phones ?? []).map((p) => p.number))],
    email: value.email ?? null,
    ssnHmac: value.ssn !== undefined ? phi.lookupHash(ssnDigits(value.ssn)) : null,
    address: value.address ?? null,
  }
}

/** The same prefilter as the patients module's candidate query, as in-memory buckets for rows of one batch. */
function buckets(p: Probe): string[] {
  const k = p.keys
  return [
    `n:${k.familyDm}|${k.givenDm}`, `bf:${p.birthDate}|${k.familyDm}`, `bg:${p.birthDate}|${k.givenDm}`,
    ...p.phones.map((n) => `p:${n}`), ...(p.email ? [`e:${p.email.toLowerCase()}`] : []), ...(p.ssnHmac ? [`s:${p.ssnHmac}`] : []),
  ]
}

/** Name search keys of many rows in one statement, by the SQL functions behind the stored keys. */
async function probeKeys(trx: Transaction<Database>, values: PatientRow[]): Promise<NameKeys[]> {
  const input = values.map((v, ord) => ({ ord, family: v.familyName, given: v.givenNames.trim().split(/\s+/)[0] }))
  const { rows } = await sql<NameKeys & { ord: number }>`
    SELECT v.ord, k.f AS family_key, dmetaphone(k.f) AS family_dm, dmetaphone_alt(k.f) AS family_dm_alt, k.g AS given_key, dmetaphone(k.g) AS given_dm
    FROM ${recordset(input, [['ord', 'ord', 'int'], ['family', 'family', 'text'], ['given', 'given', 'text']])}
    CROSS JOIN LATERAL (SELECT patient_name_key(v.family) AS f, patient_name_key(v.given) AS g) k
    ORDER BY v.ord`.execute(trx)
  return rows.map(({ ord: _ord, ...keys }) => keys)
}

/**
 * Possible duplicates of every row of the batch in one statement: the patients module's candidate
 * criteria, one index-bounded branch each (an OR of them inside a lateral join defeats the indexes
 * and scans the organisation per row), each capped at 20. A shared phone alone is not searched:
 * under scoreCandidates' weights a candidate sharing neither a name code, nor email, nor SSN scores
 * at most 0.55 (birth date, phone, address), below DUPLICATE_THRESHOLD; and the GIN index's pending
 * list, long during a bulk load, made that lookup the slowest of all.
 */
async function findCandidates(trx: Transaction<Database>, org: string, probes: (Probe & { ord: number })[]): Promise<Map<number, Candidate[]>> {
  const out = new Map<number, Candidate[]>()
  if (probes.length === 0) return out
  const input = probes.map((p) => ({ ord: p.ord, familyDm: p.keys.familyDm, givenDm: p.keys.givenDm, birthDate: p.birthDate, email: p.email, ssnHmac: p.ssnHmac }))
  const branch = (where: RawBuilder<unknown>) => sql`(
    SELECT p.id, p.family_key, p.given_key, p.family_dm, p.given_dm, p.phone_numbers, p.email, p.ssn_hmac, p.address, p.birth_date::text AS birth_date
    FROM patient p WHERE p.organization_id = ${org} AND p.active AND ${where} LIMIT 20)`
  const { rows } = await sql<Candidate & { ord: number }>`
    SELECT v.ord, c.* FROM ${recordset(input, [
      ['ord', 'ord', 'int'], ['familyDm', 'family_dm', 'text'], ['givenDm', 'given_dm', 'text'], ['birthDate', 'birth_date', 'date'],
      ['email', 'email', 'text'], ['ssnHmac', 'ssn_hmac', 'text'],
    ])}
    CROSS JOIN LATERAL (
      ${branch(sql`p.family_dm = v.family_dm AND p.given_dm = v.given_dm`)}
      UNION ${branch(sql`p.birth_date = v.birth_date AND p.family_dm = v.family_dm`)}
      UNION ${branch(sql`p.birth_date = v.birth_date AND p.given_dm = v.given_dm`)}
      UNION ${branch(sql`p.email IS NOT NULL AND lower(p.email) = lower(v.email)`)}
      UNION ${branch(sql`p.ssn_hmac IS NOT NULL AND p.ssn_hmac = v.ssn_hmac`)}
    ) c`.execute(trx)
  for (const { ord, ...c } of rows) out.set(ord, [...(out.get(ord) ?? []), c])
  return out
}

const PATIENT_INSERT_COLUMNS = [['id', 'id', 'uuid'], ['organizationId', 'organization_id', 'uuid'], ['facilityId', 'facility_id', 'uuid'], ['mrn', 'mrn', 'text'], ...DEMOGRAPHICS] as const

/** The batch's writes: a handful of multi-row statements, whatever the number of rows. */
async function write(
  trx: Transaction<Database>,
  job: BatchContext['job'],
  creates: { id: string; columns: Columns; identifiers: { system: string; value: string }[] }[],
  updates: (Columns & { id: string })[],
  identifierUpdates: { patientId: string; identifiers: { system: string; value: string }[] }[],
) {
  if (creates.length > 0) {
    const { rows: seq } = await sql<{ n: string }>`SELECT nextval('patient_mrn_seq')::text AS n FROM generate_series(1, ${creates.length})`.execute(trx)
    const values = creates.map((c, n) => ({ ...DEFAULTS, ...c.columns, id: c.id, organizationId: job.organizationId, facilityId: job.facilityId, mrn: mrnFor(seq[n].n) }))
    const names = PATIENT_INSERT_COLUMNS.map(([, snake]) => snake).join(', ')
    await sql`INSERT INTO patient (${sql.raw(names)}) SELECT ${sql.raw(names)} FROM ${recordset(values, PATIENT_INSERT_COLUMNS)}`.execute(trx)
    await sql`INSERT INTO patient_facility (patient_id, facility_id) SELECT id, ${job.facilityId}::uuid FROM ${recordset(creates, [['id', 'id', 'uuid']])}`.execute(trx)
  }
  if (updates.length > 0) {
    const columns = [['id', 'id', 'uuid'], ...DEMOGRAPHICS] as const
    const set = DEMOGRAPHICS.map(([, snake]) => `${snake} = v.${snake}`).join(', ')
    await sql`UPDATE patient SET ${sql.raw(set)}, version = patient.version + 1, updated_at = now() FROM ${recordset(updates, columns)} WHERE patient.id = v.id`.execute(trx)
  }
  const identifierRows = [
    ...creates.flatMap((c) => c.identifiers.map((x) => ({ ...x, patientId: c.id }))),
    ...identifierUpdates.flatMap((u) => u.identifiers.map((x) => ({ ...x, patientId: u.patientId }))),
  ]
  if (identifierUpdates.length > 0) {
    await sql`DELETE FROM patient_identifier WHERE system <> ${MERGED_MRN_SYSTEM} AND patient_id IN (SELECT id FROM ${recordset(identifierUpdates.map((u) => ({ id: u.patientId })), [['id', 'id', 'uuid']])})`.execute(trx)
  }
  if (identifierRows.length > 0) {
    await sql`INSERT INTO patient_identifier (organization_id, patient_id, system, value)
              SELECT ${job.organizationId}::uuid, patient_id, system, value
              FROM ${recordset(identifierRows, [['patientId', 'patient_id', 'uuid'], ['system', 'system', 'text'], ['value', 'value', 'text']])}`.execute(trx)
  }
}
