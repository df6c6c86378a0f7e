import { randomUUID } from 'node:crypto'
import type { RawBuilder, Transaction } from 'kysely'
import type { Database, PatientUpdate } from '../../db/database.ts'
import { canActFor, facilityScope, type Principal } from '../../http/auth.ts'
import { auditChange, auditChangeIn, auditRead, auditReads, withTransaction, type RequestContext } from '../../http/context.ts'
import { BadRequestError, ConflictError, ForbiddenError, NotFoundError } from '../../http/errors.ts'
import { ROLES, type Permission } from '../../http/permissions.ts'
import { encodeCursor } from '../../http/pagination.ts'
import { checkVersion } from '../../http/versioning.ts'
import { luhnValid } from '../../lib/identifiers.ts'
import type { PhiCrypto } from './phi-crypto.ts'
import * as repo from './patient.repository.ts'
import { restrictedAccess, restrictedRecord } from './patient-guard.ts'
import type { CreatePatientBody, DuplicateCandidate, MergePatientBody, Patient, RestrictedPatient, SearchPatientsQuery, UpdatePatientBody } from './patient.schemas.ts'

/** Identifier system under which a merged record's MRN is kept on the survivor. */
export const MERGED_MRN_SYSTEM = 'urn:patient-access:merged-mrn'
/** Candidates scoring at least this are reported as possible duplicates. */
export const DUPLICATE_THRESHOLD = 0.6

const iso = (d: Date | null) => (d ? d.toISOString() : null)

/**
 * Minimum necessary: the one table of which permissions see which field groups of a patient.
 * Identity (id, MRN, names, birth date, sex, identifiers, facility links, record status) goes
 * to every patient:read role: it is what finding the right patient needs. A group a caller's
 * permissions do not reach is withheld (null or empty) and named in `withheld`.
 */
export const FIELD_ACCESS = {
  contact: {
    fields: ['address', 'phones', 'email', 'communication'],
    permissions: ['patient:read'],
    why: 'Every patient:read role contacts patients: schedulers send reminders and reschedule, eligibility specialists match the subscriber address.',
  },
  emergencyContacts: {
    fields: ['emergencyContacts'],
    permissions: ['patient:write', 'roi:read'],
    why: 'Collected and kept current at registration; scheduling and eligibility work never needs third parties.',
  },
  guarantor: {
    fields: ['guarantor'],
    permissions: ['patient:write', 'eligibility:read', 'roi:read'],
    why: 'Financial responsibility: registration, eligibility checks and estimates; schedulers do not need it.',
  },
  ssnLast4: {
    fields: ['ssn (masked ***-**-1234)'],
    permissions: ['patient:write', 'eligibility:read', 'patient:merge', 'roi:read'],
    why: 'Identity verification at the desk, payer matching and duplicate review; a scheduler gets null.',
  },
  ssnFull: {
    fields: ['ssn (full)'],
    permissions: ['patient:read-ssn'],
    why: 'Only release of information needs the full number.',
  },
} as const satisfies Record<string, { fields: readonly string[]; permissions: readonly Permission[]; why: string }>

export type FieldGroup = keyof typeof FIELD_ACCESS

export const sees = (principal: Principal, group: FieldGroup) => FIELD_ACCESS[group].permissions.some((p) => principal.permissions.has(p))

/** The matrix as a markdown table (roles x field groups), for README. */
export function fieldAccessMarkdown(): string {
  const groups = Object.keys(FIELD_ACCESS) as FieldGroup[]
  const lines = [
    `| Role | identity | ${groups.join(' | ')} |`,
    `|---|---|${groups.map(() => '---').join('|')}|`,
  ]
  for (const [role, perms] of Object.entries(ROLES)) {
    const has = new Set<string>(perms)
    if (!has.has('patient:read')) continue
    lines.push(`| ${role} | yes | ${groups.map((g) => (FIELD_ACCESS[g].permissions.some((p) => has.has(p)) ? 'yes' : 'no')).join(' | ')} |`)
  }
  lines.push('', '| Field group | Fields | Permissions | Why |', '|---|---|---|---|')
  lines.push('| identity | id, MRN, names, birth date, sex, gender identity, language, marital status, identifiers, facility links, record status, restriction | patient:read | Every role must find and tell apart the right patient. |')
  for (const g of groups) lines.push(`| ${g} | ${FIELD_ACCESS[g].fields.join(', ')} | ${FIELD_ACCESS[g].permissions.join(', ')} | ${FIELD_ACCESS[g].why} |`)
  return lines.join('\n')
}

/**
 * Rows to contract shape for one caller, with the field groups its permissions do not reach
 * withheld. What the caller sees is worked out once, for every row mapped (a search maps a page).
 */
export function patientMapper(principal: Principal, phi: PhiCrypto): (row: repo.PatientRecord) => Patient {
  const groups = Object.keys(FIELD_ACCESS) as FieldGroup[]
  const show = Object.fromEntries(groups.map((g) => [g, sees(principal, g)])) as Record<FieldGroup, boolean>
  const withheld = groups.filter((g) => !show[g] && !(g === 'ssnLast4' && show.ssnFull))
  const contact = show.contact
  return (row) => {
    let ssn: string | null = null
    if (row.ssnCipher) {
      if (show.ssnFull) ssn = formatSsn(phi.decrypt(row.ssnCipher))
      else if (show.ssnLast4) ssn = `***-**-${row.ssnLast4}`
    }
    return {
      id: row.id,
      organizationId: row.organizationId,
      facilityId: row.facilityId,
      facilityIds: row.facilityIds,
      mrn: row.mrn,
      familyName: row.familyName,
      givenNames: row.givenNames,
      prefix: row.prefix,
      suffix: row.suffix,
      preferredName: row.preferredName,
      birthDate: row.birthDate,
      administrativeSex: row.administrativeSex as Patient['administrativeSex'],
      genderIdentity: row.genderIdentity,
      language: row.language,
      maritalStatus: row.maritalStatus as Patient['maritalStatus'],
      address: contact ? (row.address as Patient['address']) : null,
      phones: contact ? (row.phones as Patient['phones']) : [],
      email: contact ? row.email : null,
      emergencyContacts: show.emergencyContacts ? (row.emergencyContacts as Patient['emergencyContacts']) : [],
      guarantor: show.guarantor ? (row.guarantor as Patient['guarantor']) : null,
      communication: {
        preferredContact: contact ? (row.preferredContact as Patient['communication']['preferredContact']) : null,
        smsReminders: contact && row.smsReminderConsent,
        emailReminders: contact && row.emailReminderConsent,
      },
      ssn,
      identifiers: row.identifiers,
      motherPatientId: row.motherPatientId,
      birthTime: iso(row.birthTime),
      multipleBirthOrder: row.multipleBirthOrder,
      active: row.active,
      mergedIntoId: row.mergedIntoId,
      mergedAt: iso(row.mergedAt),
      version: row.version,
      createdAt: row.createdAt.toISOString(),
      updatedAt: row.updatedAt.toISOString(),
      restriction: row.restriction,
      withheld: [...withheld],
    }
  }
}

/** One row to contract shape (patientMapper). */
export const toPatient = (row: repo.PatientRecord, principal: Principal, phi: PhiCrypto): Patient => patientMapper(principal, phi)(row)

const ssnDigits = (ssn: string) => ssn.replace(/-/g, '')
const formatSsn = (digits: string) => `${digits.slice(0, 3)}-${digits.slice(3, 5)}-${digits.slice(5)}`

/** MRN: the organisation-wide sequence number followed by its Luhn check digit. */
export function mrnFor(sequence: string): string {
  for (let d = 0; d <= 9; d++) if (luhnValid(`${sequence}${d}`)) return `${sequence}${d}`
  throw new Error('unreachable: one Luhn digit always fits')
}

/** The facility through which the caller reaches the patient: the audit event's facility. */
export function accessFacility(principal: Principal, row: { facilityId: string; facilityIds: string[] }): string {
  return row.facilityIds.find((f) => canActFor(principal, f)) ?? row.facilityId
}

function checkBirthDate(birthDate: string | undefined) {
  if (birthDate !== undefined && birthDate > new Date().toISOString().slice(0, 10)) {
    throw new BadRequestError('The patient is not valid', [{ pointer: '/birthDate', detail: 'must not be in the future' }])
  }
}

function checkIdentifiers(identifiers: { system: string }[] | undefined) {
  if (identifiers?.some((i) => i.system === MERGED_MRN_SYSTEM)) {
    throw new BadRequestError('The patient is not valid', [{ pointer: '/identifiers', detail: `system ${MERGED_MRN_SYSTEM} is assigned by merges` }])
  }
}

/** Demographic columns from a create or update body (only the fields present). */
/**
 * The demographic columns a body sets (only the fields present), as plain values: JSON fields as
 * objects, no SSN. The one mapping from the API's patient shape to columns; batch imports use it
 * to compare and write rows in bulk.
 */
export function demographicFields(body: Partial<Omit<CreatePatientBody, 'ssn'>>): Record<string, unknown> {
  const c: Record<string, unknown> = {}
  const direct = [
    'familyName', 'givenNames', 'prefix', 'suffix', 'preferredName', 'birthDate', 'administrativeSex', 'genderIdentity', 'language', 'maritalStatus',
    'email', 'restriction', 'address', 'phones', 'emergencyContacts', 'guarantor',
  ] as const
  for (const k of direct) if (body[k] !== undefined) c[k] = body[k]
  if (body.phones !== undefined) c.phoneNumbers = [...new Set(body.phones.map((p) => p.number))]
  if (body.communication?.preferredContact !== undefined) c.preferredContact = body.communication.preferredContact
  if (body.communication?.smsReminders !== undefined) c.smsReminderConsent = body.communication.smsReminders
  if (body.communication?.emailReminders !== undefined) c.emailReminderConsent = body.communication.emailReminders
  return c
}

function demographicColumns(body: Partial<Omit<CreatePatientBody, 'ssn'>> & { ssn?: string | null }, phi: PhiCrypto): Record<string, unknown> {
  const c = demographicFields(body)
  if (body.ssn === null) Object.assign(c, { ssnCipher: null, ssnHmac: null, ssnLast4: null })
  else if (body.ssn !== undefined) {
    const digits = ssnDigits(body.ssn)
    Object.assign(c, { ssnCipher: phi.encrypt(digits), ssnHmac: phi.lookupHash(digits), ssnLast4: digits.slice(5) })
  }
  return c
}

/** As Kysely parameters: jsonb columns as JSON text (the pg driver would send an array as a Postgres array). */
function asParameters(c: Record<string, unknown>): PatientUpdate {
  for (const k of ['address', 'phones', 'emergencyContacts', 'guarantor']) if (c[k] !== undefined && c[k] !== null) c[k] = JSON.stringify(c[k])
  return c as PatientUpdate
}

const normAddress = (a: unknown) => {
  const x = a as { line1?: string; postalCode?: string } | null
  return x?.line1 && x.postalCode ? `${x.line1.toLowerCase().replace(/[^a-z0-9]/g, '')}|${x.postalCode.replace(/[^0-9A-Za-z]/g, '').slice(0, 5)}` : null
}

/**
 * Scores candidates: name (up to 0.4: exact family 0.25 / phonetic 0.15, exact first given 0.15
 * / phonetic 0.1), birth date 0.3, phone 0.15, email 0.1, address 0.1, SSN 0.5; capped at 1.
 * A same-name same-birth-date record scores 0.7; a name-alike with the same phone and birth date too.
 * A name without a key (one in a script the keys do not romanise, such as Han; migration
 * 20261128T160000Z says what is romanised) matches another only as written (patient_native_key,
 * case and all), exactly: 王 is 王, and 王 and 汪 are not alike; a placeholder such as "-" has
 * neither and matches nothing.
 */
const sameAsWritten = (key: string | null, native: string | null, otherKey: string | null, otherNative: string | null) =>
  key === null && otherKey === null && native !== null && native === otherNative

export function scoreCandidates(
  candidates: repo.DuplicateProbeRow[],
  p: { keys: repo.NameKeys; birthDate: string; phones: string[]; email: string | null; ssnHmac: string | null; address: unknown },
): DuplicateCandidate[] {
  const address = normAddress(p.address)
  return candidates
    .map((c) => {
      let score = 0
      const matched: string[] = []
      if (p.keys.familyKey && c.familyKey === p.keys.familyKey) (score += 0.25), matched.push('familyName')
      else if (p.keys.familyDm && c.familyDm === p.keys.familyDm) (score += 0.15), matched.push('familyName')
      else if (sameAsWritten(p.keys.familyKey, p.keys.familyNative, c.familyKey, c.familyNative)) (score += 0.25), matched.push('familyName')
      if (p.keys.givenKey && c.givenKey === p.keys.givenKey) (score += 0.15), matched.push('givenNames')
      else if (p.keys.givenDm && c.givenDm === p.keys.givenDm) (score += 0.1), matched.push('givenNames')
      else if (sameAsWritten(p.keys.givenKey, p.keys.givenNative, c.givenKey, c.givenNative)) (score += 0.15), matched.push('givenNames')
      if (c.birthDate === p.birthDate) (score += 0.3), matched.push('birthDate')
      if (p.phones.some((n) => c.phoneNumbers.includes(n))) (score += 0.15), matched.push('phone')
      if (p.email && c.email?.toLowerCase() === p.email.toLowerCase()) (score += 0.1), matched.push('email')
      if (address && normAddress(c.address) === address) (score += 0.1), matched.push('address')
      if (p.ssnHmac && c.ssnHmac === p.ssnHmac) (score += 0.5), matched.push('ssn')
      return { id: c.id, score: Math.min(1, Math.round(score * 100) / 100), matchedFields: matched }
    })
    .filter((c) => c.score >= DUPLICATE_THRESHOLD)
    .sort((a, b) => b.score - a.score || a.id.localeCompare(b.id))
}

async function readPatient(ctx: RequestContext, db: Transaction<Database> | RequestContext['db'], id: string, phi: PhiCrypto) {
  const row = await repo.findPatientById(db, id, facilityScope(ctx.principal))
  if (!row) throw new NotFoundError('Patient')
  return toPatient(row, ctx.principal, phi)
}

/**
 * Registers a patient with a fresh MRN after the duplicate check, in one statement
 * (repo.insertPatient): in the caller's transaction if it has one, else alone. When the probe finds
 * records, they are scored here and, if none reaches the threshold (or the caller overrides), the
 * statement runs again with them marked as seen; it inserts only when the probe, under the lock,
 * finds nothing more. Newborn admission skips the duplicate check: twins share a name, a birth
 * date and a mother.
 */
export async function insertPatientChecked(
  db: Transaction<Database> | RequestContext['db'],
  ctx: RequestContext,
  phi: PhiCrypto,
  body: CreatePatientBody,
  extra: Partial<repo.NewPatientRow> = {},
  checkDuplicates = true,
) {
  const columns = demographicColumns(body, phi)
  // The id is chosen here so that the audit event can go in the insert's own statement.
  const id = randomUUID()
  const row = { ...columns, ...extra, id, facilityId: body.facilityId, familyName: body.familyName, givenNames: body.givenNames, birthDate: body.birthDate }
  const check = {
    duplicates: checkDuplicates,
    seen: [] as string[],
    phones: (columns.phoneNumbers as string[] | undefined) ?? [],
    email: body.email ?? null,
    ssnHmac: (columns.ssnHmac as string | null | undefined) ?? null,
  }
  let override: { reason: string; candidates: string[] } | undefined
  for (;;) {
    const fields = {
      action: 'create', verb: 'patient.create', resourceType: 'patient', resourceId: id, patientId: id, facilityId: body.facilityId,
      detail: override ? { duplicateOverride: override } : undefined,
    } as const
    const audit = (inserted: RawBuilder<boolean>) => auditChangeIn(ctx, fields, inserted)
    const result = await repo.insertPatient(db, row, body.identifiers ?? [], check, audit)
    if (!result) throw new NotFoundError('Facility')
    if ('patient' in result) return result.patient
    const candidates = scoreCandidates(result.candidates, { ...check, keys: result.keys, birthDate: body.birthDate, address: body.address ?? null })
    if (candidates.length > 0 && !body.duplicateOverride) {
      throw new ConflictError('possible-duplicate', 'Possible duplicates of this patient exist; review them or create with duplicateOverride', { candidates })
    }
    check.seen = [...new Set([...check.seen, ...result.candidates.map((c) => c.id)])]
    override = candidates.length > 0 ? { reason: body.duplicateOverride!.reason, candidates: candidates.map((c) => c.id) } : undefined
  }
}

const identifierConflict = (err: unknown) => {
  const e = err as { code?: string; constraint?: string }
  if (e.code === '23505' && e.constraint === 'patient_identifier_organization_id_system_value_key') {
    return new ConflictError('duplicate-identifier', 'Another patient of the organisation already has this identifier')
  }
  return err
}

export async function createPatient(ctx: RequestContext, phi: PhiCrypto, body: CreatePatientBody): Promise<Patient> {
  checkBirthDate(body.birthDate)
  checkIdentifiers(body.identifiers)
  if (!canActFor(ctx.principal, body.facilityId)) throw new NotFoundError('Facility')
  try {
    return toPatient(await insertPatientChecked(ctx.trx ?? ctx.db, ctx, phi, body), ctx.principal, phi)
  } catch (err) {
    throw identifierConflict(err)
  }
}

export async function getPatient(ctx: RequestContext, phi: PhiCrypto, id: string): Promise<Patient> {
  const row = await repo.findPatientById(ctx.db, id, facilityScope(ctx.principal))
  if (!row) throw new NotFoundError('Patient')
  const { access, audit } = await restrictedAccess(ctx, ctx.db, [row])
  const facilityId = accessFacility(ctx.principal, row)
  if (access.get(id) === 'restricted') {
    await auditRead(ctx, { verb: 'patient.read', resourceType: 'patient', resourceId: id, patientId: id, facilityId, outcome: 'denied', detail: { restricted: true } })
    throw restrictedRecord()
  }
  const a = audit(id)
  const ssnDisclosed = row.ssnCipher && sees(ctx.principal, 'ssnFull') ? { ssnDisclosed: true } : undefined
  await auditRead(a.ctx, {
    verb: 'patient.read', resourceType: 'patient', resourceId: id, patientId: id, facilityId,
    breakGlass: a.breakGlass, detail: ssnDisclosed || a.detail ? { ...ssnDisclosed, ...a.detail } : undefined,
  })
  return toPatient(row, ctx.principal, phi)
}

export function updatePatient(
  ctx: RequestContext, phi: PhiCrypto, id: string, expectedVersion: number | undefined, body: UpdatePatientBody,
): Promise<Patient> {
  checkBirthDate(body.birthDate)
  checkIdentifiers(body.identifiers)
  return withTransaction(ctx, async (trx) => {
    const scope = facilityScope(ctx.principal)
    const locked = await repo.lockPatient(trx, id, scope)
    if (!locked) throw new NotFoundError('Patient')
    checkVersion(locked.version, expectedVersion)
    if (!locked.active) throw new ConflictError('patient-merged', 'This patient was merged into another record; change the surviving record')
    const { access, audit } = await restrictedAccess(ctx, trx, [locked])
    if (access.get(id) === 'restricted') throw restrictedRecord()
    const { identifiers, ...rest } = body
    try {
      await repo.updatePatient(trx, id, asParameters(demographicColumns(rest, phi)))
      if (identifiers) await repo.replaceIdentifiers(trx, locked.organizationId, id, identifiers)
    } catch (err) {
      throw identifierConflict(err)
    }
    const patient = await readPatient(ctx, trx, id, phi)
    const a = audit(id)
    await auditChange(trx, a.ctx, {
      action: 'update', verb: 'patient.update', resourceType: 'patient', resourceId: id, patientId: id,
      facilityId: accessFacility(ctx.principal, patient), breakGlass: a.breakGlass, detail: { fields: Object.keys(body), ...a.detail },
    })
    return patient
  })
}

/** "Smith, John" names the family first; otherwise the last word is the family name. */
export function parseName(name: string): { family: string; given: string | null; swappable: boolean } {
  if (name.includes(',')) {
    const [family, rest] = name.split(',', 2)
    const given = rest.trim().split(/\s+/)[0] || null
    return { family: family.trim(), given, swappable: false }
  }
  const words = name.trim().split(/\s+/)
  if (words.length === 1) return { family: words[0], given: null, swappable: false }
  return { family: words[words.length - 1], given: words[0], swappable: true }
}

/**
 * Search. Audited as one read event per returned patient (patient id and the facility it was
 * reached through), so "who looked at this patient" is an indexed query on audit_event.patient_id,
 * the same as for single reads; a search that returns nothing records one event without a patient.
 * Criteria names, never values, go in the detail.
 *
 * Returns the page (PatientPage) as JSON text, written before the audit events are awaited and
 * sent once they are durable: while a request waits for its events' group commit, it holds one
 * string rather than two dozen rows and patients, which the garbage collector would otherwise copy
 * and promote at every collection (a search's page is ~1,000 objects; 50 searches wait at once).
 */
export async function searchPatients(ctx: RequestContext, phi: PhiCrypto, q: SearchPatientsQuery, cursor: (string | number)[] | undefined): Promise<string> {
  const limit = q.limit ?? 25
  const criteria = (['name', 'birthDate', 'mrn', 'phone', 'identifier'] as const).filter((c) => q[c] !== undefined)
  if (criteria.length === 0) {
    throw new BadRequestError('Give at least one of name, birthDate, mrn, phone, identifier', [{ pointer: 'name', detail: 'a search criterion is required' }])
  }
  if (q.facilityId && !canActFor(ctx.principal, q.facilityId)) throw new NotFoundError('Facility')
  const [system, value] = q.identifier ? q.identifier.split('|') : []
  const filter: repo.SearchFilter = {
    facilityIds: facilityScope(ctx.principal), facilityId: q.facilityId, birthDate: q.birthDate, mrn: q.mrn, phone: q.phone,
    identifier: q.identifier ? { system, value } : undefined, includeInactive: q.includeInactive ?? false,
  }
  // A search's cursor is [rank, id] (decodeCursor holds it to that); a rank beyond the name
  // search's last finds nothing.
  let rows: repo.SearchRow[]
  if (q.name) {
    const name = parseName(q.name)
    rows = await repo.searchPatientsByName(ctx.db, filter, name, cursor, limit)
    if (rows.length === 0) {
      // The search assumed keys for the words it was given (repo.searchPatientsByName): a family
      // name without a key is searched as written (a script without a romanisation here) or, with
      // nothing to search by, refused; a word in such a script before one in letters ("王 Wei",
      // family name first as that script writes it) is the family name; a given name without
      // letters searched again by the family name alone; a first page still empty looks for
      // misspellings.
      const [keys] = await repo.nameKeys(ctx.db, [[name.family, name.given]])
      if (!keys.familyKey) {
        if (!keys.familyNative) throw new BadRequestError('The name has no letters to search by', [{ pointer: 'name', detail: 'no letters' }])
        rows = await repo.searchPatientsByNativeName(ctx.db, filter, { family: keys.familyNative, given: keys.givenNative, givenKey: keys.givenKey, swappable: name.swappable }, cursor, limit)
      } else if (name.swappable && keys.givenKey === null && keys.givenNative) {
        rows = await repo.searchPatientsByNativeName(ctx.db, filter, { family: keys.givenNative, given: name.family, givenKey: keys.familyKey, swappable: false }, cursor, limit)
      } else {
        if (name.given !== null && keys.givenKey === null) rows = await repo.searchPatientsByName(ctx.db, filter, { family: name.family, given: null, swappable: false }, cursor, limit)
        if (rows.length === 0 && !cursor) rows = await repo.searchPatientsByTrigram(ctx.db, filter, keys, limit)
      }
    }
  } else {
    rows = await repo.searchPatients(ctx.db, filter, cursor, limit)
  }
  const more = rows.length > limit
  const page = more ? rows.slice(0, limit) : rows
  const detail = { criteria, returned: page.length }
  const { access, audit } = await restrictedAccess(ctx, ctx.db, page)
  const last = page[page.length - 1]
  const toItem = patientMapper(ctx.principal, phi)
  const items = page.map((r): Patient | RestrictedPatient => (access.get(r.id) === 'restricted' ? { id: r.id, restricted: true } : toItem(r)))
  const body = JSON.stringify({ items, next: more ? encodeCursor([last.rank, last.id]) : null })
  if (page.length === 0) await auditRead(ctx, { verb: 'patient.search', resourceType: 'patient', detail })
  else {
    // A restricted patient shown only as its id is still audited: the search revealed that it matched.
    await auditReads(ctx, page.map((r) => {
      const a = audit(r.id)
      const restricted = access.get(r.id) === 'restricted'
      return {
        ctx: a.ctx,
        fields: {
          verb: 'patient.search', resourceType: 'patient', resourceId: r.id, patientId: r.id, facilityId: accessFacility(ctx.principal, r),
          breakGlass: a.breakGlass, detail: a.detail || restricted ? { ...detail, ...a.detail, ...(restricted ? { restricted: true } : {}) } : detail,
        },
      }
    }))
  }
  return body
}

/**
 * Merges `id` into `survivorId` in one transaction: every single-column foreign key to patient(id)
 * that the catalogue knows (registrations, appointments, coverages, ROI requests, identifiers...,
 * including tables added after this code) is repointed to the survivor. The merged record keeps
 * its facility links (so it stays readable), becomes inactive and names the survivor; its MRN is
 * kept on the survivor as an identifier. Records earlier merged into it now name the survivor.
 */
export function mergePatient(ctx: RequestContext, phi: PhiCrypto, id: string, body: MergePatientBody): Promise<Patient> {
  if (id === body.survivorId) throw new BadRequestError('A patient cannot be merged into itself', [{ pointer: '/survivorId', detail: 'same as the merged patient' }])
  return withTransaction(ctx, async (trx) => {
    const scope = facilityScope(ctx.principal)
    // Lock in id order so two merges of the same pair cannot deadlock.
    const [first, second] = [id, body.survivorId].sort()
    const a = await repo.lockPatient(trx, first, scope)
    const b = await repo.lockPatient(trx, second, scope)
    const merged = a?.id === id ? a : b
    const survivor = a?.id === body.survivorId ? a : b
    if (!merged || merged.id !== id) throw new NotFoundError('Patient')
    if (!survivor || survivor.id !== body.survivorId) throw new NotFoundError('Survivor patient')
    if (!merged.active || !survivor.active) throw new ConflictError('patient-merged', 'One of the patients was already merged into another record')
    if (merged.organizationId !== survivor.organizationId) throw new ConflictError('different-organization', 'Patients of different organisations cannot be merged')
    const { access, audit } = await restrictedAccess(ctx, trx, [merged, survivor])
    if (access.get(id) === 'restricted' || access.get(body.survivorId) === 'restricted') throw restrictedRecord()

    const moved: Record<string, number> = {}
    for (const ref of await repo.patientReferences(trx)) {
      // The merge link itself and the facility links (copied below, kept on the merged record) stay.
      // Care teams are united below, like facility links: one user on both teams is no conflict.
      if ((ref.tableName === 'patient' && ref.columnName === 'merged_into_id') || ref.tableName === 'patient_facility' || ref.tableName === 'patient_care_team') continue
      const n = await repo.repointReferences(trx, ref.qualified, ref.columnName, id, body.survivorId).catch((err: { code?: string }) => {
        // A unique or exclusion constraint of that table (two active primary coverages, overlapping
        // appointments...): the records must be reconciled before the merge.
        if (err.code === '23505' || err.code === '23P01') {
          throw new ConflictError('merge-conflict', `Records of both patients conflict in ${ref.tableName}; resolve them before merging`)
        }
        throw err
      })
      if (n > 0) moved[`${ref.tableName}.${ref.columnName}`] = n
    }
    await repo.copyFacilityLinks(trx, id, body.survivorId)
    const mergedRow = await trx.selectFrom('patient').select('mrn').where('id', '=', id).executeTakeFirstOrThrow()
    await trx.insertInto('patientIdentifier').values({ organizationId: merged.organizationId, patientId: body.survivorId, system: MERGED_MRN_SYSTEM, value: mergedRow.mrn }).execute()
    await trx.updateTable('patient').set({ mergedIntoId: body.survivorId }).where('mergedIntoId', '=', id).execute()
    await repo.updatePatient(trx, id, { active: false, mergedIntoId: body.survivorId, mergedAt: new Date() })
    await repo.copyCareTeam(trx, id, body.survivorId)
    // The survivor is the same person: it keeps the merged record's restriction if it had none.
    await repo.updatePatient(trx, body.survivorId, survivor.restriction === null && merged.restriction !== null ? { restriction: merged.restriction } : {})

    const result = await readPatient(ctx, trx, body.survivorId, phi)
    const facilityId = accessFacility(ctx.principal, result)
    const detail = { mergedId: id, survivorId: body.survivorId, reason: body.reason, moved }
    for (const pid of [id, body.survivorId]) {
      const a = audit(pid)
      await auditChange(trx, a.ctx, {
        action: 'update', verb: 'patient.merge', resourceType: 'patient', resourceId: pid, patientId: pid, facilityId, breakGlass: a.breakGlass, detail: { ...detail, ...a.detail },
      })
    }
    return result
  })
}

/**
 * Adds (add=true) or removes a user from a patient's care team: the users who read a restricted
 * record without breaking the glass. Idempotent; audited with the member's sub in the detail.
 */
export function setCareTeamMember(ctx: RequestContext, patientId: string, userSub: string, add: boolean): Promise<void> {
  return withTransaction(ctx, async (trx) => {
    const locked = await repo.lockPatient(trx, patientId, facilityScope(ctx.principal))
    if (!locked) throw new NotFoundError('Patient')
    const changed = add ? await repo.addCareTeamMember(trx, patientId, userSub, ctx.principal.sub) : await repo.removeCareTeamMember(trx, patientId, userSub)
    if (!changed) return
    const row = await repo.findPatientById(trx, patientId, undefined)
    await auditChange(trx, ctx, {
      action: 'update', verb: add ? 'patient.care-team.add' : 'patient.care-team.remove', resourceType: 'patient', resourceId: patientId,
      patientId, facilityId: accessFacility(ctx.principal, row!), detail: { userSub },
    })
  })
}

/**
 * Links a patient to another facility of its organisation (link=true), so that facility's users
 * see it and can book, register and check it in there; or removes such a link. You must see the
 * patient and act for the facility. The registering facility stays linked (409). Idempotent; audited.
 */
export function setPatientFacility(ctx: RequestContext, patientId: string, facilityId: string, link: boolean): Promise<void> {
  return withTransaction(ctx, async (trx) => {
    const locked = await repo.lockPatient(trx, patientId, facilityScope(ctx.principal))
    if (!locked) throw new NotFoundError('Patient')
    const facility = canActFor(ctx.principal, facilityId) ? await trx.selectFrom('facility').select('organizationId').where('id', '=', facilityId).executeTakeFirst() : undefined
    if (!facility || facility.organizationId !== locked.organizationId) throw new NotFoundError('Facility')
    const { facilityId: registeredAt } = await trx.selectFrom('patient').select('facilityId').where('id', '=', patientId).executeTakeFirstOrThrow()
    if (!link && registeredAt === facilityId) throw new ConflictError('registering-facility', 'The registering facility stays linked to the patient')
    const changed = link ? await repo.linkPatientToFacility(trx, patientId, facilityId) : await repo.unlinkPatientFromFacility(trx, patientId, facilityId)
    if (changed) {
      await auditChange(trx, ctx, {
        action: 'update', verb: link ? 'patient.facility.link' : 'patient.facility.unlink', resourceType: 'patient', resourceId: patientId,
        patientId, facilityId, detail: { facilityId },
      })
    }
  })
}
