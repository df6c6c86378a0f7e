import { randomUUID } from 'node:crypto'
import { Type, type Static } from '@sinclair/typebox'
import { sql, type RawBuilder, type Transaction } from 'kysely'
import type { Database, NewAuditEvent } from '../../db/database.ts'
import { auditEvent, auditInsert, insertAuditEvents } from '../../http/audit.ts'
import { ConflictError, NotFoundError } from '../../http/errors.ts'
import { DUPLICATE_LOCK, PATIENT_DEMOGRAPHICS, type NameKeys } from '../patients/patient.repository.ts'
import { CreatePatientBodySchema } from '../patients/patient.schemas.ts'
import { MERGED_MRN_SYSTEM, mrnFor, scoreCandidates } from '../patients/patient.service.ts'
import type { PhiCrypto } from '../patients/phi-crypto.ts'
import { RunAlone, type BatchContext, type FieldProblem, type ImportKindHandler, type RowOutcome } from './import-kind.ts'
import { rowProblem } from './import-parse.ts'
import { canonical, lockKeys, rowsRecordset } from './import-sql.ts'
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

// Writable demographic columns and their SQL types (the registration's), in the order of the bulk statements below.
const DEMOGRAPHICS = PATIENT_DEMOGRAPHICS
type Column = (typeof DEMOGRAPHICS)[number][0]
type Columns = Partial<Record<Column, unknown>>

/** What a new patient's row holds where it leaves a column out: the table's defaults (SQL), or null. */
const DEFAULTS: Partial<Record<Column, string>> = { phones: `'[]'`, phoneNumbers: `'{}'`, emergencyContacts: `'[]'`, smsReminderConsent: 'false', emailReminderConsent: 'false' }

/** The record of rows whose properties are the columns' camelCase names (rowsRecordset). */
const recordOf = (columns: readonly (readonly [string, string, string])[]) => columns.map(([camel, , type]) => [camel, type] as const)

// One problem for every duplicate row, its candidates added: an error per row captured a stack
// trace for each, only to be dropped.
const POSSIBLE_DUPLICATE = rowProblem(new ConflictError('possible-duplicate', 'Possible duplicates of this patient exist; review them, or import the row with duplicateOverride'))

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
    overlaps: true,

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

    async apply({ trx, ctx, job, previous, locked }, rows) {
      const org = job.organizationId
      const outcomes: (RowOutcome | undefined)[] = rows.map(() => undefined)

      // 1. Natural keys -> existing patients. These reads see what has committed; the previous
      // batch of the upload may still be writing (see previous() below).
      const byIdentifier = await patientsByIdentifier(trx, org, rows)
      const byMrn = await patientsByMrn(trx, org, rows)
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
      const checking = !job.allowDuplicates && fresh.length > 0
      const keys = checking ? await probeKeys(trx, fresh.map((i) => rows[i].value)) : []
      const probes = keys.map((k, n) => probeOf(rows[fresh[n]].value, k, phi))
      const probeBuckets = probes.map(buckets)
      // The same advisory keys as single registrations, so the two never race each other.
      // A keyless name (a script without a romanisation) locks on its name as written, as there.
      await lockKeys(trx, probes.map((p) => `${org}:${p.keys.familyDm ?? (p.keys.familyKey === null ? p.keys.familyNative : null) ?? ''}:${p.birthDate}`), DUPLICATE_LOCK)
      const search = candidateLookups(probes)
      let dbCandidates = await findCandidates(trx, org, search)

      // The previous batch has committed now. Its writes were invisible to the reads above: the
      // same reads again, restricted to the records it wrote, complete them. A natural key that
      // resolved, or now resolves, to one of them is rare (rows sharing a key with the previous
      // batch wait for it in runImport): the batch then runs again alone. Locking that patient here,
      // after the advisory locks, could deadlock with a registration or another import that holds
      // the row and waits for one of those locks. Identifiers need no second look: any the previous
      // batch wrote is a natural key of its rows, which this batch does not share.
      const missed = await previous()
      if (missed.length > 0) {
        const written = new Set(missed)
        const later = await patientsByMrn(trx, org, rows, missed)
        if (later.size > 0 || [...byIdentifier.values(), ...byMrn.values()].some((id) => written.has(id))) throw new RunAlone()
        if (checking) {
          // At most one batch of records: all read, and matched here as the lookups would have.
          const more = candidateIndex(await readCandidates(trx, org, missed))
          dbCandidates = dbCandidates.map((found, n) => [...found.filter((c) => !written.has(c.id)), ...more.find(probeBuckets[n])])
        }
      }
      locked()
      const peers = candidateIndex([])
      for (const [n, i] of fresh.entries()) {
        const value = rows[i].value
        let scored: ReturnType<typeof scoreCandidates> = []
        if (checking) scored = scoreCandidates([...dbCandidates[n], ...peers.find(probeBuckets[n])], probes[n])
        if (scored.length > 0 && !value.duplicateOverride) {
          outcomes[i] = {
            outcome: 'duplicate', recordId: null,
            problem: { ...POSSIBLE_DUPLICATE, candidates: scored },
          }
          continue
        }
        const id = randomUUID()
        creates.push({ id, columns: withCipher(columnsOf(value), value), identifiers: value.identifiers ?? [] })
        if (checking) {
          const p = probes[n]
          peers.add({
            id, familyKey: p.keys.familyKey, givenKey: p.keys.givenKey, familyDm: p.keys.familyDm, givenDm: p.keys.givenDm,
            familyNative: p.keys.familyNative, givenNative: p.keys.givenNative, phoneNumbers: p.phones, email: p.email, ssnHmac: p.ssnHmac, address: p.address as Candidate['address'], birthDate: p.birthDate,
          }, probeBuckets[n])
        }
        outcomes[i] = { outcome: 'created', recordId: job.dryRun ? null : id }
        if (!job.dryRun) {
          record(i, 'create', id, value.duplicateOverride && scored.length > 0
            ? { duplicateOverride: { reason: value.duplicateOverride.reason, candidates: scored.map((c) => c.id) } }
            : {})
        }
      }

      if (!job.dryRun) await write(trx, job, creates, updates, identifierUpdates, audit)
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

/**
 * The candidate criteria below as in-memory buckets: two records share a bucket when the lookups
 * of one would find the other in the database.
 */
export function buckets(p: Probe): string[] {
  // Loops, not flatMap and map: this runs for every row and record of a batch, several times slower so.
  const out: string[] = []
  CRITERIA.forEach(({ keys, buckets = keys }, c) => {
    for (const k of buckets(p)) out.push(`${c}|${k.join('|')}`)
  })
  return out
}

const probeOfCandidate = (c: Candidate): Probe => ({
  keys: { familyKey: c.familyKey, familyDm: c.familyDm, familyDmAlt: null, givenKey: c.givenKey, givenDm: c.givenDm, familyNative: c.familyNative, givenNative: c.givenNative },
  birthDate: c.birthDate, phones: c.phoneNumbers, email: c.email, ssnHmac: c.ssnHmac, address: c.address,
})

/**
 * Records in memory (the batch's own, the previous batch's), found by a probe's buckets as the
 * lookups would find them. `add` takes the record's buckets when the caller has them.
 */
function candidateIndex(records: Candidate[]) {
  const index = new Map<string, Candidate[]>()
  const add = (c: Candidate, keys = buckets(probeOfCandidate(c))) => {
    for (const b of keys) {
      const bucket = index.get(b)
      if (bucket) bucket.push(c)
      else index.set(b, [c])
    }
  }
  for (const c of records) add(c)
  return {
    add,
    find(keys: string[]): Candidate[] {
      const found = new Set<Candidate>()
      for (const b of keys) for (const c of index.get(b) ?? []) found.add(c)
      return [...found]
    },
  }
}

/**
 * Natural keys -> existing patients, one statement for the whole batch per kind of key. Each key
 * is unique, so LIMIT 1 changes no answer; it keeps each lookup a probe of the unique index. A
 * plain join let the planner, whose statistics lag a growing (or new) organisation, hash all of the
 * organisation's keys for every batch: quadratic over a long import.
 */
async function patientsByIdentifier(trx: Transaction<Database>, org: string, rows: { value: PatientRow }[]) {
  const idents = rows.flatMap((r) => r.value.identifiers ?? [])
  const found = new Map<string, string>()
  if (idents.length === 0) return found
  const { rows: hits } = await sql<{ system: string; value: string; patientId: string }>`
    SELECT v.system, v.value, pi.patient_id FROM ${rowsRecordset(idents, [['system', 'text'], ['value', 'text']])}
    CROSS JOIN LATERAL (SELECT pi.patient_id FROM patient_identifier pi WHERE pi.organization_id = ${org} AND pi.system = v.system AND pi.value = v.value LIMIT 1) pi`.execute(trx)
  for (const h of hits) found.set(identifierKey(h), h.patientId)
  return found
}

/** As patientsByIdentifier, for MRNs; `within`, when given, are the only patients to answer. */
async function patientsByMrn(trx: Transaction<Database>, org: string, rows: { value: PatientRow }[], within?: string[]) {
  const mrns = rows.flatMap((r) => (r.value.mrn ? [{ mrn: r.value.mrn }] : []))
  const found = new Map<string, string>()
  if (mrns.length === 0) return found
  const only = within ? sql`AND p.id = ANY(${within}::uuid[])` : sql``
  const { rows: hits } = await sql<{ id: string; mrn: string }>`
    SELECT p.id, v.mrn FROM ${rowsRecordset(mrns, [['mrn', 'text']])}
    CROSS JOIN LATERAL (SELECT p.id FROM patient p WHERE p.organization_id = ${org} AND p.mrn = v.mrn ${only} LIMIT 1) p`.execute(trx)
  for (const h of hits) found.set(h.mrn, h.id)
  return found
}

/** Name search keys of many rows in one statement, by the SQL functions behind the stored keys. */
async function probeKeys(trx: Transaction<Database>, values: PatientRow[]): Promise<NameKeys[]> {
  const input = values.map((v, ord) => ({ ord, family: v.familyName, given: v.givenNames.trim().split(/\s+/)[0] }))
  // MATERIALIZED: each name is normalised once, not once per code computed from it.
  const { rows } = await sql<NameKeys & { ord: number }>`
    WITH k AS MATERIALIZED (
      SELECT v.ord, v.family, v.given, patient_name_key(v.family) AS f, patient_name_key(v.given) AS g
      FROM ${rowsRecordset(input, [['ord', 'int'], ['family', 'text'], ['given', 'text']])}
    )
    SELECT ord, f AS family_key, dmetaphone(f) AS family_dm, dmetaphone_alt(f) AS family_dm_alt, g AS given_key, dmetaphone(g) AS given_dm,
           patient_native_key(family) AS family_native, patient_native_key(given) AS given_native FROM k`.execute(trx)
  const out: NameKeys[] = []
  for (const { ord, ...keys } of rows) out[ord] = keys
  return out
}

/**
 * Where a possible duplicate can be, each a lookup on its own index: an OR of them inside one
 * lateral join defeats the indexes and scans the organisation per row. The keys of a row under a
 * criterion (`v.k` in `where`), none when the criterion cannot match it (a null never equals); and
 * when the lookup tests more than equal keys, the keys of the in-memory buckets that stand for it.
 *
 * Under scoreCandidates' weights (birth date 0.3; family name 0.25, or 0.15 by its code; given name
 * 0.15, or 0.1 by its code; phone 0.15; address 0.1), a record that shares neither the SSN nor the
 * email reaches DUPLICATE_THRESHOLD only with: the birth date and the family name; the birth date
 * and both name codes; or a phone and a name code (with the birth date, or the family name, the
 * given name's code and the address). Wider lookups (a name code with the birth date, the name
 * codes alone) found tens of records per row in a large organisation, each to be read, sent and
 * scored, and dropped. import-duplicate-criteria.test.ts checks these against the weights.
 */
const CRITERIA: { keys: (p: Probe) => (string | null)[][]; buckets?: (p: Probe) => string[][]; where: RawBuilder<unknown> }[] = [
  {
    // Through the phone's GIN index (an OR of the codes leaves the planner no name index to prefer).
    keys: (p) => (p.keys.familyDm || p.keys.givenDm ? p.phones.map((n) => [n, p.keys.familyDm || null, p.keys.givenDm || null]) : []),
    buckets: (p) => {
      const out: string[][] = []
      for (const n of p.phones) {
        if (p.keys.familyDm) out.push([n, 'f', p.keys.familyDm])
        if (p.keys.givenDm) out.push([n, 'g', p.keys.givenDm])
      }
      return out
    },
    where: sql`p.phone_numbers @> ARRAY[v.k[1]] AND (p.family_dm = v.k[2] OR p.given_dm = v.k[3])`,
  },
  { keys: (p) => (p.keys.familyKey ? [[p.birthDate, p.keys.familyKey]] : []), where: sql`p.birth_date = v.k[1]::date AND p.family_key = v.k[2]` },
  // Names without a key (a script without a romanisation) by their names as written: the birth
  // date and the family name; a phone and the family or the first given name.
  {
    keys: (p) => (nativeFamily(p) ? [[p.birthDate, nativeFamily(p)]] : []),
    where: sql`p.birth_date = v.k[1]::date AND p.family_key IS NULL AND patient_native_key(p.family_name) = v.k[2]`,
  },
  {
    keys: (p) => (nativeFamily(p) || nativeGiven(p) ? p.phones.map((n) => [n, nativeFamily(p), nativeGiven(p)]) : []),
    buckets: (p) => {
      const out: string[][] = []
      for (const n of p.phones) {
        if (nativeFamily(p)) out.push([n, 'f', nativeFamily(p)!])
        if (nativeGiven(p)) out.push([n, 'g', nativeGiven(p)!])
      }
      return out
    },
    where: sql`p.phone_numbers @> ARRAY[v.k[1]] AND (patient_native_key(p.family_name) = v.k[2] AND p.family_key IS NULL
      OR patient_native_key(split_part(btrim(p.given_names), ' ', 1)) = v.k[3] AND p.given_key IS NULL)`,
  },
  {
    keys: (p) => (p.keys.familyDm && p.keys.givenDm ? [[p.birthDate, p.keys.familyDm, p.keys.givenDm]] : []),
    where: sql`p.birth_date = v.k[1]::date AND p.family_dm = v.k[2] AND p.given_dm = v.k[3]`,
  },
  { keys: (p) => (p.email ? [[p.email.toLowerCase()]] : []), where: sql`p.email IS NOT NULL AND lower(p.email) = lower(v.k[1])` },
  { keys: (p) => (p.ssnHmac ? [[p.ssnHmac]] : []), where: sql`p.ssn_hmac IS NOT NULL AND p.ssn_hmac = v.k[1]` },
]

/** A family or first given name as written, when it has no key (scoreCandidates compares only those so). */
function nativeFamily(p: Probe) {
  return p.keys.familyKey === null ? p.keys.familyNative : null
}
function nativeGiven(p: Probe) {
  return p.keys.givenKey === null ? p.keys.givenNative : null
}

/** The lookups of every probe under each criterion, each distinct key once however many rows share it. */
function candidateLookups(probes: Probe[]) {
  const lookups: { n: number; c: number; k: (string | null)[] }[] = []
  const lookupOf = new Map<string, number>()
  const probeLookups = probes.map((p) => {
    const ns: number[] = []
    CRITERIA.forEach(({ keys }, c) => {
      for (const k of keys(p)) {
        const name = `${c}\u0000${k.join('\u0000')}`
        let n = lookupOf.get(name)
        if (n === undefined) {
          n = lookups.length
          lookups.push({ n, c, k })
          lookupOf.set(name, n)
        }
        ns.push(n)
      }
    })
    return ns
  })
  return { count: lookups.length, probeLookups, input: rowsRecordset(lookups, [['n', 'int'], ['c', 'int'], ['k', 'text[]']]) }
}

/** What scoring reads of a candidate: read by the lookup that finds it, not by a second probe of its id. */
const CANDIDATE_COLUMNS = sql`p.id, p.family_key, p.given_key, p.family_dm, p.given_dm, p.family_name, p.given_names, p.phone_numbers, p.email, p.ssn_hmac, p.address, p.birth_date`

// The organisation is a filter only (IS NOT DISTINCT FROM is not indexable): as an index condition,
// which the planner picks while its statistics have not seen the organisation grow, every lookup
// would read all of the organisation's patients.
const candidateOf = (org: string) => sql`p.organization_id IS NOT DISTINCT FROM ${org}::uuid AND p.active`

/**
 * Candidates as one JSON text of columns, each candidate's once (`from` names them `p`): as
 * thousands of result rows they cost the driver more than the lookups cost Postgres.
 */
const candidateColumns = (from: RawBuilder<unknown>) => sql`
  SELECT json_build_array(array_agg(p.id), array_agg(p.family_key), array_agg(p.given_key), array_agg(p.family_dm), array_agg(p.given_dm),
    array_agg(patient_native_key(p.family_name)), array_agg(patient_native_key(split_part(btrim(p.given_names), ' ', 1))), array_agg(to_json(p.phone_numbers)), array_agg(p.email), array_agg(p.ssn_hmac), array_agg(p.address), array_agg(p.birth_date::text))
  FROM ${from}`

type Col<T> = T[] | null
function parseCandidates([id, familyKey, givenKey, familyDm, givenDm, familyNative, givenNative, phones, email, ssnHmac, address, birthDate]: [
  Col<string>, Col<string | null>, Col<string | null>, Col<string | null>, Col<string | null>, Col<string | null>, Col<string | null>, Col<string[]>, Col<string | null>, Col<string | null>, Col<unknown>, Col<string>,
]): Candidate[] {
  return (id ?? []).map((cid, i) => ({
    id: cid, familyKey: familyKey![i], givenKey: givenKey![i], familyDm: familyDm![i], givenDm: givenDm![i], familyNative: familyNative![i], givenNative: givenNative![i],
    phoneNumbers: phones![i], email: email![i], ssnHmac: ssnHmac![i], address: address![i] as Candidate['address'], birthDate: birthDate![i],
  }))
}

/**
 * Possible duplicates of every probe, in one statement: up to 20 patients per criterion and
 * lookup. `v.c = n` is decided once per lookup, so each runs only its own criterion's branch.
 */
async function findCandidates(trx: Transaction<Database>, org: string, search: ReturnType<typeof candidateLookups>): Promise<Candidate[][]> {
  const { count, probeLookups, input } = search
  if (probeLookups.length === 0) return []
  const { rows } = await sql<{ found: string }>`
    WITH m AS (
      SELECT v.n, c.* FROM ${input}
      CROSS JOIN LATERAL (${sql.join(CRITERIA.map(({ where }, c) => sql`(SELECT ${CANDIDATE_COLUMNS} FROM patient p WHERE v.c = ${sql.lit(c)} AND ${candidateOf(org)} AND ${where} LIMIT 20)`), sql` UNION ALL `)}) c
    )
    SELECT json_build_array(
      (SELECT json_build_array(array_agg(m.n), array_agg(m.id)) FROM m),
      (${candidateColumns(sql`(SELECT DISTINCT ON (id) * FROM m) p`)})
    )::text AS found`.execute(trx)
  const [[ns, ids], columns] = JSON.parse(rows[0].found) as [[Col<number>, Col<string>], Parameters<typeof parseCandidates>[0]]
  const byId = new Map(parseCandidates(columns).map((c) => [c.id, c]))
  const found: Candidate[][] = Array.from({ length: count }, () => [])
  ns?.forEach((n, i) => found[n].push(byId.get(ids![i])!))
  return probeLookups.map((ls) => {
    // One patient can answer several criteria of the row: each candidate once.
    const mine = new Set<Candidate>()
    for (const n of ls) for (const c of found[n]) mine.add(c)
    return [...mine]
  })
}

/** The given records, as candidates: those of the organisation that are active. */
async function readCandidates(trx: Transaction<Database>, org: string, ids: string[]): Promise<Candidate[]> {
  const { rows } = await sql<{ found: string }>`
    SELECT (${candidateColumns(sql`patient p WHERE p.id = ANY(${ids}::uuid[]) AND ${candidateOf(org)}`)})::text AS found`.execute(trx)
  return parseCandidates(JSON.parse(rows[0].found))
}

const PATIENT_INSERT_COLUMNS = [['id', 'id', 'uuid'], ['mrn', 'mrn', 'text'], ...DEMOGRAPHICS] as const
const PATIENT_UPDATE_COLUMNS = [['id', 'id', 'uuid'], ...DEMOGRAPHICS] as const
const IDENTIFIER_COLUMNS = [['patientId', 'uuid'], ['system', 'text'], ['value', 'text']] as const

/**
 * The batch's writes and audit events: a handful of multi-row statements, whatever the number of
 * rows. The events travel in the statement of the creates when there is one.
 */
async function write(
  trx: Transaction<Database>,
  job: BatchContext['job'],
  creates: { id: string; columns: Columns; identifiers: { system: string; value: string }[] }[],
  updates: (Columns & { id: string })[],
  identifierUpdates: { patientId: string; identifiers: { system: string; value: string }[] }[],
  audit: NewAuditEvent[],
) {
  if (creates.length > 0) {
    const { rows: seq } = await sql<{ n: string }>`SELECT nextval('patient_mrn_seq')::text AS n FROM generate_series(1, ${creates.length})`.execute(trx)
    // Completed in place (each row's columns are its own object, holding only the fields the row
    // sets): a copy of every row with all its columns cost more than the insert statement's JSON.
    const values = creates.map((c, n) => Object.assign(c.columns, { id: c.id, mrn: mrnFor(seq[n].n) }))
    const names = PATIENT_INSERT_COLUMNS.map(([, snake]) => snake).join(', ')
    const selected = PATIENT_INSERT_COLUMNS.map(([camel]) => {
      const fallback = DEFAULTS[camel as Column]
      return fallback ? `coalesce(v."${camel}", ${fallback})` : `v."${camel}"`
    }).join(', ')
    const identifiers = creates.flatMap((c) => c.identifiers.map((x) => ({ patientId: c.id, system: x.system, value: x.value })))
    // One statement: the patients, their registering facility's links, their identifiers, and the
    // batch's audit events.
    await sql`
      WITH p AS (
        INSERT INTO patient (organization_id, facility_id, ${sql.raw(names)})
        SELECT ${job.organizationId}::uuid, ${job.facilityId}::uuid, ${sql.raw(selected)} FROM ${rowsRecordset(values, recordOf(PATIENT_INSERT_COLUMNS))}
        RETURNING id
      ), linked AS (
        INSERT INTO patient_facility (patient_id, facility_id) SELECT id, ${job.facilityId}::uuid FROM p
      ), audited AS (${auditInsert(audit)})
      INSERT INTO patient_identifier (organization_id, patient_id, system, value)
      SELECT ${job.organizationId}::uuid, v."patientId", v.system, v.value FROM ${rowsRecordset(identifiers, IDENTIFIER_COLUMNS)}`.execute(trx)
  } else {
    await insertAuditEvents(trx, audit)
  }
  if (updates.length > 0) {
    const set = DEMOGRAPHICS.map(([camel, snake]) => `${snake} = v."${camel}"`).join(', ')
    await sql`UPDATE patient SET ${sql.raw(set)}, version = patient.version + 1, updated_at = now()
              FROM ${rowsRecordset(updates, recordOf(PATIENT_UPDATE_COLUMNS))} WHERE patient.id = v.id`.execute(trx)
  }
  if (identifierUpdates.length > 0) {
    const identifierRows = identifierUpdates.flatMap((u) => u.identifiers.map((x) => ({ patientId: u.patientId, system: x.system, value: x.value })))
    await sql`DELETE FROM patient_identifier WHERE system <> ${MERGED_MRN_SYSTEM} AND patient_id = ANY(${identifierUpdates.map((u) => u.patientId)}::uuid[])`.execute(trx)
    await sql`INSERT INTO patient_identifier (organization_id, patient_id, system, value)
              SELECT ${job.organizationId}::uuid, v."patientId", v.system, v.value FROM ${rowsRecordset(identifierRows, IDENTIFIER_COLUMNS)}`.execute(trx)
  }
}
