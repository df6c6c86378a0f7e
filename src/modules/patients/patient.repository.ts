import { CompiledQuery, sql, type Kysely, type RawBuilder, type Transaction } from 'kysely'
import type { Database, PatientUpdate } from '../../db/database.ts'
import { plain, recordset, scopeIds } from '../../db/query-helpers.ts'

type Db = Kysely<Database>

// Columns the API maps (never the search keys). birth_date as text: the pg driver would turn a
// date into a Date at local midnight, PGlite at UTC midnight; text is the same on both.
const columns = [
  'patient.id', 'patient.organizationId', 'patient.facilityId', 'patient.mrn', 'patient.familyName', 'patient.givenNames',
  'patient.prefix', 'patient.suffix', 'patient.preferredName', 'patient.administrativeSex', 'patient.genderIdentity',
  'patient.language', 'patient.maritalStatus', 'patient.address', 'patient.phones', 'patient.email', 'patient.emergencyContacts',
  'patient.guarantor', 'patient.preferredContact', 'patient.smsReminderConsent', 'patient.emailReminderConsent',
  'patient.ssnCipher', 'patient.ssnLast4', 'patient.motherPatientId', 'patient.birthTime', 'patient.multipleBirthOrder',
  'patient.active', 'patient.mergedIntoId', 'patient.mergedAt', 'patient.createdAt', 'patient.updatedAt', 'patient.version',
  'patient.restriction',
] as const

// The same, unqualified: every read below has patient as its only table with these names.
type Unqualified<C> = C extends `patient.${infer Name}` ? Name : never
const readColumns = columns.map((c) => c.slice('patient.'.length)) as Unqualified<(typeof columns)[number]>[]

// The same as SQL text, under PatientRecord's names, for statements written as text: their rows
// need no CamelCasePlugin pass (about 1 us per row and column).
const RECORD_COLUMNS = [...readColumns.map((c) => `${c.replace(/[A-Z]/g, (l) => `_${l.toLowerCase()}`)} "${c}"`), 'birth_date::text "birthDate"'].join(',')

// A patient's facility links and identifiers, read with its columns.
const FACILITY_IDS = 'ARRAY(SELECT pf.facility_id::text FROM patient_facility pf WHERE pf.patient_id = patient.id ORDER BY pf.facility_id)'
const IDENTIFIERS =
  "COALESCE((SELECT jsonb_agg(jsonb_build_object('system', pi.system, 'value', pi.value) ORDER BY pi.system, pi.value) FROM patient_identifier pi WHERE pi.patient_id = patient.id), '[]'::jsonb)"

function patients(db: Db) {
  return db
    .selectFrom('patient')
    .select(readColumns)
    .select(sql<string>`patient.birth_date::text`.as('birthDate'))
    .select(sql.raw<string[]>(FACILITY_IDS).as('facilityIds'))
    .select(sql.raw<{ system: string; value: string }[]>(IDENTIFIERS).as('identifiers'))
}

export type PatientRecord = Awaited<ReturnType<ReturnType<typeof patients>['executeTakeFirstOrThrow']>>

/**
 * Visible when linked to one of the facilities (undefined: every facility). OFFSET 0 keeps the
 * EXISTS a per-row index probe: pulled up into a join, a search ordered by id LIMIT n was planned
 * as a merge join walking every patient_facility row of the facility. The ids go as one array
 * parameter: the statement text is the same whatever the caller's number of facilities.
 */
export const inScope = (facilityIds: string[] | undefined) =>
  sql<boolean>`EXISTS(SELECT FROM patient_facility pf WHERE pf.patient_id=patient.id AND pf.facility_id=ANY(${scopeIds(facilityIds ?? [])}::uuid[]) OFFSET 0)`

/**
 * A patient with its facility links and identifiers. Written as text and run without plugins, as
 * the registration and the search are: built with the query builder and mapped through the
 * CamelCasePlugin, this lookup made the app's CPU per GET /patients/{id} 0.87-0.91 ms against
 * 0.55-0.73 (6,000 reads in-process, three runs each).
 */
export async function findPatientById(db: Db, id: string, facilityIds: string[] | undefined): Promise<PatientRecord | undefined> {
  const { rows } = await sql<PatientRecord>`
    SELECT ${sql.raw(RECORD_COLUMNS)}, ${sql.raw(FACILITY_IDS)} "facilityIds", ${sql.raw(IDENTIFIERS)} "identifiers"
    FROM patient WHERE id = ${id}::uuid${facilityIds ? sql` AND ${inScope(facilityIds)}` : sql``}`.execute(plain(db))
  return rows[0]
}

/** Row lock for changes; the caller holds the transaction. */
export async function lockPatient(trx: Transaction<Database>, id: string, facilityIds: string[] | undefined) {
  let q = trx.selectFrom('patient').select(['id', 'organizationId', 'version', 'active', 'restriction']).where('id', '=', id).forUpdate()
  if (facilityIds) q = q.where(inScope(facilityIds))
  return q.executeTakeFirst()
}

/**
 * The columns other modules check a patient by before referring to it (booking, referrals,
 * coverages, ROI requests, access reports), when linked to one of the facilities (undefined:
 * any). The one reading of "a patient this facility can reach" outside the patient routes.
 */
export function findPatientCore(db: Db | Transaction<Database>, id: string, facilityIds: string[] | undefined) {
  let q = db.selectFrom('patient')
    .select(['patient.id', 'patient.organizationId', 'patient.facilityId', 'patient.familyName', 'patient.givenNames'])
    .select(sql<string>`patient.birth_date::text`.as('birthDate'))
    .where('patient.id', '=', id)
  if (facilityIds) q = q.where(inScope(facilityIds))
  return q.executeTakeFirst()
}

/** Advisory-lock namespace of the duplicate check (patient_registration_check); batch imports lock under it too. */
export const DUPLICATE_LOCK = 0

/** Columns a registration writes from its request, with their SQL types (recordset). */
export const PATIENT_DEMOGRAPHICS = [
  ['familyName', 'family_name', 'text'], ['givenNames', 'given_names', 'text'], ['birthDate', 'birth_date', 'date'],
  ['prefix', 'prefix', 'text'], ['suffix', 'suffix', 'text'], ['preferredName', 'preferred_name', 'text'],
  ['administrativeSex', 'administrative_sex', 'text'], ['genderIdentity', 'gender_identity', 'text'], ['language', 'language', 'text'],
  ['maritalStatus', 'marital_status', 'text'], ['address', 'address', 'jsonb'], ['phones', 'phones', 'jsonb'],
  ['phoneNumbers', 'phone_numbers', 'text[]'], ['email', 'email', 'text'], ['emergencyContacts', 'emergency_contacts', 'jsonb'],
  ['guarantor', 'guarantor', 'jsonb'], ['preferredContact', 'preferred_contact', 'text'],
  ['smsReminderConsent', 'sms_reminder_consent', 'boolean'], ['emailReminderConsent', 'email_reminder_consent', 'boolean'],
  ['ssnCipher', 'ssn_cipher', 'text'], ['ssnHmac', 'ssn_hmac', 'text'], ['ssnLast4', 'ssn_last4', 'text'], ['restriction', 'restriction', 'text'],
] as const

/** PATIENT_DEMOGRAPHICS and what a newborn admission adds. */
const INSERT_COLUMNS = [
  ['id', 'id', 'uuid'], ['facilityId', 'facility_id', 'uuid'], ...PATIENT_DEMOGRAPHICS,
  ['motherPatientId', 'mother_patient_id', 'uuid'], ['birthTime', 'birth_time', 'timestamptz'], ['multipleBirthOrder', 'multiple_birth_order', 'int'],
] as const

export type NewPatientRow = { id: string; facilityId: string; familyName: string; givenNames: string; birthDate: string } & Partial<
  Record<(typeof INSERT_COLUMNS)[number][0], unknown>
>

/** A record the duplicate probe found: what scoreCandidates compares. */
export interface DuplicateProbeRow {
  id: string
  familyKey: string | null
  givenKey: string | null
  familyDm: string | null
  givenDm: string | null
  /** The family name and first given name as written (patient_native_key). */
  familyNative: string | null
  givenNative: string | null
  phoneNumbers: string[]
  email: string | null
  ssnHmac: string | null
  address: unknown
  birthDate: string
}

export interface DuplicateCheck {
  /** false: no probe (a newborn shares a name, a birth date and a mother with its twin). */
  duplicates: boolean
  /** Candidates the caller has scored: the insert goes ahead when the probe finds no others. */
  seen: string[]
  phones: string[]
  email: string | null
  ssnHmac: string | null
}

/**
 * A registration in one statement (migration 20261127T200000Z-registration-check): the
 * organisation of the registering facility, the duplicate-check lock and probe, the next MRN, and,
 * when the probe found nothing the caller has not scored, the patient, its registering-facility
 * link, its identifiers and its audit event. Undefined: no such facility. `candidates`: the insert
 * did not happen; score them and call again with their ids in `check.seen`. Outside a transaction
 * the statement is its own (the lock lasts as long as it). An identifier taken by another patient
 * fails the statement (23505 on patient_identifier's unique key).
 */
export async function insertPatient(
  db: Db | Transaction<Database>,
  row: NewPatientRow,
  identifiers: { system: string; value: string }[],
  check: DuplicateCheck,
  audit: (inserted: RawBuilder<boolean>) => RawBuilder<unknown>,
): Promise<{ patient: PatientRecord } | { keys: NameKeys; candidates: DuplicateProbeRow[] } | undefined> {
  // Written as text around the recordsets and the audit fragment, and run without plugins: built
  // with Kysely's insert builder and mapped through the CamelCasePlugin, this statement took about
  // 0.2 ms of the app's CPU per registration.
  const cols = INSERT_COLUMNS.filter(([k]) => row[k] !== undefined)
  const { rows } = await sql<Omit<PatientRecord, 'facilityIds' | 'identifiers'> & NameKeys & { proceed: boolean; candidates: DuplicateProbeRow[] }>`
    WITH f AS MATERIALIZED (
      SELECT * FROM patient_registration_check(${row.facilityId}, ${row.familyName}, ${row.givenNames}, ${row.birthDate},
                                               ${check.phones}::text[], ${check.email}, ${check.ssnHmac}, ${check.duplicates}, ${check.seen}::uuid[])),
    p AS (INSERT INTO patient (organization_id, mrn, ${sql.raw(cols.map(([, c]) => c).join(', '))})
          SELECT f.organization_id, f.mrn, ${sql.raw(cols.map(([, c]) => `v.${c}`).join(', '))} FROM f, ${recordset([row], cols)} WHERE f.proceed
          RETURNING ${sql.raw(RECORD_COLUMNS)}),
    linked AS (INSERT INTO patient_facility (patient_id, facility_id) SELECT "id", "facilityId" FROM p),
    identified AS (INSERT INTO patient_identifier (organization_id, patient_id, system, value)
                   SELECT p."organizationId", p."id", v.system, v.value FROM p, ${recordset(identifiers, [['system', 'system', 'text'], ['value', 'value', 'text']])}),
    audited AS (${audit(sql<boolean>`EXISTS (SELECT 1 FROM p)`)})
    SELECT p.*, f.proceed, f.family_key "familyKey", f.family_dm "familyDm", f.family_dm_alt "familyDmAlt", f.given_key "givenKey", f.given_dm "givenDm",
           f.family_native "familyNative", f.given_native "givenNative", f.candidates
    FROM f LEFT JOIN p ON true`.execute(plain(db))
  const r = rows[0]
  if (!r) return undefined
  const { proceed, familyKey, familyDm, familyDmAlt, givenKey, givenDm, familyNative, givenNative, candidates, ...patient } = r
  if (!proceed) return { keys: { familyKey, familyDm, familyDmAlt, givenKey, givenDm, familyNative, givenNative }, candidates }
  const sorted = [...identifiers].sort((a, b) => a.system.localeCompare(b.system) || a.value.localeCompare(b.value))
  return { patient: { ...patient, facilityIds: [row.facilityId], identifiers: sorted.map(({ system, value }) => ({ system, value })) } }
}

export function updatePatient(trx: Transaction<Database>, id: string, changes: PatientUpdate) {
  return trx
    .updateTable('patient')
    .set({ ...changes, version: sql`version + 1`, updatedAt: sql`now()` })
    .where('id', '=', id)
    .returning('version')
    .executeTakeFirstOrThrow()
}

export async function replaceIdentifiers(trx: Transaction<Database>, organizationId: string, patientId: string, identifiers: { system: string; value: string }[]) {
  await trx.deleteFrom('patientIdentifier').where('patientId', '=', patientId).execute()
  if (identifiers.length > 0) {
    await trx.insertInto('patientIdentifier').values(identifiers.map((i) => ({ ...i, organizationId, patientId }))).execute()
  }
}

export async function linkPatientToFacility(trx: Transaction<Database>, patientId: string, facilityId: string): Promise<boolean> {
  const rows = await trx.insertInto('patientFacility').values({ patientId, facilityId }).onConflict((oc) => oc.doNothing()).returning('patientId').execute()
  return rows.length > 0
}

export async function unlinkPatientFromFacility(trx: Transaction<Database>, patientId: string, facilityId: string): Promise<boolean> {
  const rows = await trx.deleteFrom('patientFacility').where('patientId', '=', patientId).where('facilityId', '=', facilityId).returning('patientId').execute()
  return rows.length > 0
}

/**
 * A name's keys: the Latin key and phonetic codes of the family name and the first given name,
 * and both as written (patient_native_key), what names in scripts without a romanisation are
 * searched and compared by.
 */
export interface NameKeys {
  familyKey: string | null
  familyDm: string | null
  familyDmAlt: string | null
  givenKey: string | null
  givenDm: string | null
  familyNative: string | null
  givenNative: string | null
}

/** Search keys of names ([family, given] pairs), computed in one round trip by the same SQL functions as the stored generated columns. */
export async function nameKeys(db: Db, names: [string, string | null][]): Promise<NameKeys[]> {
  const values = names.map(([family, given], i) => sql`(${i}::int, ${family}::text, ${given}::text)`)
  const { rows } = await sql<NameKeys>`
    SELECT k.f AS family_key, dmetaphone(k.f) AS family_dm, dmetaphone_alt(k.f) AS family_dm_alt,
           k.g AS given_key, dmetaphone(k.g) AS given_dm, patient_native_key(k.family) AS family_native, patient_native_key(k.given) AS given_native
    FROM (SELECT n.ord, n.family, n.given, patient_name_key(n.family) AS f, patient_name_key(n.given) AS g FROM (VALUES ${sql.join(values)}) AS n(ord, family, given)) k
    ORDER BY k.ord`.execute(db)
  return rows
}

export interface SearchFilter {
  facilityIds: string[] | undefined
  facilityId?: string
  birthDate?: string
  mrn?: string
  phone?: string
  identifier?: { system: string; value: string }
  includeInactive: boolean
}

export type SearchRow = PatientRecord & { rank: number }

/**
 * A search statement written as text: the same text for every search of one shape (so prepared
 * once per connection, createDb: the text must stay under its MAX_PREPARED_TEXT, or it is planned
 * at every search), each value one parameter however often the text uses it, and the rows named
 * as PatientRecord names them (no CamelCasePlugin pass over them). Built with Kysely's builders,
 * the name search cost the app 0.4 ms of CPU per search to build, compile and map, and sent 77
 * parameters.
 */
function statement() {
  const values: unknown[] = []
  const refs = new Map<string, string>()
  /** `$n::type`, the parameter holding the value of that name. */
  const param = (name: string, value: unknown, type: string) => {
    let ref = refs.get(name)
    if (!ref) {
      values.push(value)
      ref = `$${values.length}::${type}`
      refs.set(name, ref)
    }
    return ref
  }
  const run = async (db: Db, text: string) => (await plain(db).executeQuery<SearchRow>(CompiledQuery.raw(text, values))).rows
  return { param, run }
}
type Param = ReturnType<typeof statement>['param']

/** What a search selects: a PatientRecord. */
const SEARCH_COLUMNS = `${RECORD_COLUMNS},${FACILITY_IDS} "facilityIds",${IDENTIFIERS} "identifiers"`

/**
 * The search's filters as one condition on `patient` (its only table: columns unqualified, text
 * terse, since the name search repeats it in every branch). Scope as in inScope.
 */
function criteria(f: SearchFilter, param: Param) {
  const inScope = (ids: string) => `EXISTS(SELECT FROM patient_facility pf WHERE pf.patient_id=patient.id AND pf.facility_id=ANY(${ids}) OFFSET 0)`
  const c: string[] = []
  if (f.facilityIds) c.push(inScope(param('scope', scopeIds(f.facilityIds), 'uuid[]')))
  if (f.facilityId) c.push(inScope(param('facility', [f.facilityId], 'uuid[]')))
  if (!f.includeInactive) c.push('active')
  if (f.birthDate) c.push(`birth_date=${param('birthDate', f.birthDate, 'date')}`)
  if (f.mrn) c.push(`mrn=${param('mrn', f.mrn, 'text')}`)
  if (f.phone) c.push(`phone_numbers@>ARRAY[${param('phone', f.phone, 'text')}]`)
  if (f.identifier) {
    const { system, value } = f.identifier
    c.push(`EXISTS(SELECT FROM patient_identifier pi WHERE pi.patient_id=patient.id AND pi.system=${param('system', system, 'text')} AND pi.value=${param('value', value, 'text')})`)
  }
  return c.length === 0 ? 'true' : `(${c.join(' AND ')})`
}

/** Exact filters only, in id order. */
export function searchPatients(db: Db, f: SearchFilter, cursor: (string | number)[] | undefined, limit: number) {
  const { param, run } = statement()
  const after = cursor ? ` AND id>${param('after', String(cursor[1]), 'uuid')}` : ''
  return run(db, `SELECT ${SEARCH_COLUMNS},0 "rank" FROM patient WHERE ${criteria(f, param)}${after} ORDER BY id LIMIT ${param('limit', limit + 1, 'int')}`)
}

/** A name as searched: its family name and first given name as the caller wrote them (parseName). */
export interface NameWords {
  family: string
  given: string | null
  swappable: boolean
}

/**
 * Name search (DESIGN.md "Name search"), ranked: exact keys (0), key prefixes (1), equal phonetic
 * codes of family and first given name (2), either of those with the names swapped (3); then id.
 * Each rank's branches read only what an index gives in id order, up to the page: a common name
 * (thousands of Smiths) costs a page of rows, never a sort of every match. A row belongs to the
 * lowest rank it matches. All branches go in one statement, which reads the full rows for the
 * page alone.
 *
 * The statement computes the names' keys itself (patient_name_key and dmetaphone, as the stored
 * columns are computed), once, in a one-row CTE that the branches read as InitPlans (index
 * conditions, like parameters): the search is one round trip. Its shape assumes that a given
 * name has a key (letters); if that or the family name has none, every branch compares with a
 * null key and the statement finds nothing, so a search that finds nothing is where the caller
 * looks at the keys (nameKeys) and searches again by the family name alone.
 */
export function searchPatientsByName(db: Db, f: SearchFilter, name: NameWords, cursor: (string | number)[] | undefined, limit: number) {
  const { param, run } = statement()
  const keys = `k AS MATERIALIZED (SELECT f,g,f||'{' fe,g||'{' ge,dmetaphone(f) fd,dmetaphone_alt(f) fa,dmetaphone(g) gd,dmetaphone_alt(g) ga
    FROM (SELECT patient_name_key(${param('family', name.family, 'text')}) f,patient_name_key(${param('given', name.given, 'text')}) g) n)`
  const key = (column: string) => `(SELECT ${column} FROM k)`
  const family = { key: key('f'), end: key('fe'), dm: key('fd'), alt: key('fa') }
  const given = name.given === null ? null : { key: key('g'), end: key('ge'), dm: key('gd'), alt: key('ga') }
  type Word = typeof family

  // A key prefix as a range of the text_pattern_ops index, not LIKE 'abc%': a LIKE pattern is an
  // index range only when the planner sees it as a constant, so the statement was planned afresh
  // at every search (5.7 ms of planning against 4.6 of execution at a million patients); a range
  // works in the cached generic plan. Keys are lower-case a-z only (name keys), and '{' (the end
  // of the range, fe and ge) is the character after 'z'.
  const startsWith = (column: string, w: Word) => `${column}~>=~${w.key} AND ${column}~<~${w.end}`
  const exact = (fam: Word, giv: Word | null) => (giv ? `(family_key=${fam.key} AND given_key=${giv.key})` : `family_key=${fam.key}`)
  const prefix = (fam: Word, giv: Word | null) =>
    giv ? `(${startsWith('family_key', fam)} AND ${startsWith('given_key', giv)})` : `(${startsWith('family_key', fam)})`
  const givenDm = (giv: Word | null) => (giv ? ` AND given_dm=${giv.dm}` : '')
  // The phonetic rank as two index-ordered branches (primary and alternative family code); as a
  // lower rank to exclude, both in one condition.
  const phonetic = (fam: Word, giv: Word | null) => ({
    branches: [`(family_dm=${fam.dm}${givenDm(giv)})`, `(family_dm_alt=${fam.alt}${givenDm(giv)})`],
    either: `((family_dm=${fam.dm} OR family_dm_alt=${fam.alt})${givenDm(giv)})`,
  })
  const ranks: { branches: string[]; either: string }[] = [
    { branches: [exact(family, given)], either: exact(family, given) },
    { branches: [prefix(family, given)], either: prefix(family, given) },
    phonetic(family, given),
  ]
  if (given && name.swappable) {
    const p = phonetic(given, family)
    ranks.push({ branches: [...p.branches, prefix(given, family)], either: `(${p.either} OR ${prefix(given, family)})` })
  }
  const [fromRank, afterId] = cursor ? [Number(cursor[0]), String(cursor[1])] : [0, undefined]
  if (fromRank >= ranks.length) return Promise.resolve([] as SearchRow[])

  // One statement: every branch's first page of ids (index order), then the page by rank and id;
  // the full rows are read for that page alone (the page's ids already passed the filters). A
  // rank runs only while the ranks above it have not filled the page (a one-time filter: its
  // branches are not even started). Searching "Smith" alone, the exact rank fills it; the lower
  // ranks, whose rows are few once the Smiths are excluded but which the planner expects to find
  // quickly in id order, walked the whole table each (3-4 s per branch at a million patients).
  const where = criteria(f, param)
  const more = param('more', limit + 1, 'int')
  const ctes = [keys]
  const read: string[] = []
  // A row is listed at the lowest rank it matches (GROUP BY id, min(r) below), so a rank's branches
  // need not exclude the ranks read in full before it: a rank is read only when those above it
  // (from this page's first) found no more than a page, hence every row they match, and a branch
  // that fills up closes the gate for every rank below. Only the ranks of earlier pages are
  // excluded: those above the cursor's, and, below it, the cursor's own, which is read from the
  // cursor on. (Each excluded rank was a condition per candidate row and an InitPlan per key it
  // reads in every execution of the statement: 12% of the statement's Postgres time for a first
  // page of "Jon Smyth".)
  const excluded = (rank: number) => (afterId === undefined ? 0 : rank === fromRank ? fromRank : fromRank + 1)
  for (let rank = fromRank; rank < ranks.length; rank++) {
    const lower = ranks.slice(0, excluded(rank)).map((r) => r.either)
    const branches = ranks[rank].branches.map((branch) => {
      const c = [where, branch]
      if (lower.length > 0) c.push(`(${lower.join(' OR ')}) IS NOT TRUE`)
      if (rank === fromRank && afterId) c.push(`id>${param('after', afterId, 'uuid')}`)
      return `(SELECT id,${rank} r FROM patient WHERE ${c.join(' AND ')} ORDER BY id LIMIT ${more})`
    })
    const gate = read.length === 0 ? '' : ` WHERE (SELECT count(DISTINCT id) FROM (${read.map((r) => `SELECT id FROM ${r}`).join(' UNION ALL ')}) a)<=${param('limit', limit, 'int')}`
    read.push(`r${rank}`)
    ctes.push(`r${rank} AS MATERIALIZED (SELECT * FROM (${branches.join(' UNION ALL ')}) b${gate})`)
  }
  const page = `WITH ${ctes.join(',')} SELECT id pid,min(r) r FROM (${read.map((r) => `SELECT * FROM ${r}`).join(' UNION ALL ')}) b GROUP BY id ORDER BY 2,1 LIMIT ${more}`
  return run(db, `SELECT ${SEARCH_COLUMNS},r "rank" FROM patient JOIN (${page}) page ON pid=patient.id ORDER BY r,pid`)
}

/**
 * Name search for a family name without a key (a script with no romanisation here: Han, Arabic,
 * Hebrew ...), by the native keys (patient_native_key) through the partial index of such names.
 * Ranked: the family name as given, with the given name as a prefix of the given names (0); the
 * two swapped ("小明 王" as "王 小明", 1); a name written without a space ("王小明"), split after
 * its first one, two or three characters into family and given name (2). Each rank excludes the
 * rows of the ranks above it and reads at most a page in id order, as searchPatientsByName does.
 */
export function searchPatientsByNativeName(
  db: Db, f: SearchFilter, name: { family: string; given: string | null; givenKey: string | null; swappable: boolean }, cursor: (string | number)[] | undefined, limit: number,
) {
  const { param, run } = statement()
  const native = 'family_key IS NULL AND patient_native_key(family_name)'
  const givenStarts = (value: string) => `starts_with(coalesce(patient_native_key(given_names),''),${value})`
  const branch = (family: string, given: string | null) =>
    `(${native}=${family}${given === null ? '' : ` AND ${given}`})`
  const F = param('family', name.family, 'text')
  const G = () => param('given', name.given, 'text')
  // A given name in letters with a key ("Wei" beside 王) compares by the key, case and accents
  // folded as a Latin name's are; one without ("小明") as written.
  const givenMatch = name.given === null ? null : name.givenKey === null ? givenStarts(G()) : `starts_with(coalesce(given_key,''),${param('givenKey', name.givenKey, 'text')})`
  const ranks: string[][] = [[branch(F, givenMatch)]]
  if (name.given !== null && name.swappable) ranks.push([branch(G(), givenStarts(F))])
  if (name.given === null) {
    const chars = Array.from(name.family)
    const splits = [1, 2, 3].filter((n) => n < chars.length)
    if (splits.length > 0) ranks.push(splits.map((n) => branch(param(`f${n}`, chars.slice(0, n).join(''), 'text'), givenStarts(param(`g${n}`, chars.slice(n).join(''), 'text')))))
  }
  const [fromRank, afterId] = cursor ? [Number(cursor[0]), String(cursor[1])] : [0, undefined]
  const where = criteria(f, param)
  const more = param('more', limit + 1, 'int')
  const selects: string[] = []
  for (let rank = fromRank; rank < ranks.length; rank++) {
    const above = ranks.slice(0, rank).flat()
    const c = [where, `(${ranks[rank].join(' OR ')})`]
    if (above.length > 0) c.push(`(${above.join(' OR ')}) IS NOT TRUE`)
    if (rank === fromRank && afterId) c.push(`id>${param('after', afterId, 'uuid')}`)
    selects.push(`(SELECT id pid,${rank} r FROM patient WHERE ${c.join(' AND ')} ORDER BY id LIMIT ${more})`)
  }
  if (selects.length === 0) return Promise.resolve([] as SearchRow[])
  return run(db, `SELECT ${SEARCH_COLUMNS},r "rank" FROM patient JOIN (${selects.join(' UNION ALL ')}) page ON pid=patient.id ORDER BY r,pid LIMIT ${more}`)
}

/**
 * Misspellings beyond phonetics: a trigram match on the family key (rank 4, with LIMIT), for a
 * first page on which the name search found nothing.
 */
export function searchPatientsByTrigram(db: Db, f: SearchFilter, k: NameKeys, limit: number) {
  const { param, run } = statement()
  const family = param('family', k.familyKey, 'text')
  const given = k.givenKey === null ? 'true' : `(given_key%${param('given', k.givenKey, 'text')} OR given_key LIKE ${param('initial', `${k.givenKey.slice(0, 1)}%`, 'text')})`
  return run(db, `SELECT ${SEARCH_COLUMNS},4 "rank" FROM patient WHERE ${criteria(f, param)} AND family_key%${family} AND ${given}
    ORDER BY similarity(family_key,${family}) DESC,id LIMIT ${param('limit', limit, 'int')}`)
}

/** Every single-column foreign key to patient(id) in the database, found at run time. */
export async function patientReferences(trx: Transaction<Database>) {
  const { rows } = await sql<{ tableName: string; columnName: string; qualified: string }>`
    SELECT cl.relname AS table_name, a.attname AS column_name,
           quote_ident(ns.nspname) || '.' || quote_ident(cl.relname) AS qualified
    FROM pg_constraint c
    JOIN pg_class cl ON cl.oid = c.conrelid
    JOIN pg_namespace ns ON ns.oid = cl.relnamespace
    JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
    WHERE c.contype = 'f' AND c.confrelid = 'patient'::regclass AND cardinality(c.conkey) = 1
    ORDER BY cl.relname, a.attname`.execute(trx)
  return rows
}

export async function repointReferences(trx: Transaction<Database>, qualifiedTable: string, column: string, fromId: string, toId: string) {
  // Identifiers come from the catalogue (quote_ident above), never from a request.
  const col = sql.raw(`"${column.replace(/"/g, '""')}"`)
  const result = await sql`UPDATE ${sql.raw(qualifiedTable)} SET ${col} = ${toId} WHERE ${col} = ${fromId}`.execute(trx)
  return Number(result.numAffectedRows ?? 0)
}

export async function copyFacilityLinks(trx: Transaction<Database>, fromId: string, toId: string) {
  await sql`INSERT INTO patient_facility (patient_id, facility_id)
            SELECT ${toId}, facility_id FROM patient_facility WHERE patient_id = ${fromId}
            ON CONFLICT DO NOTHING`.execute(trx)
}

/** The restriction flag of each patient named (for the restricted-record guard). */
export const restrictionsOf = (db: Db | Transaction<Database>, ids: string[]) =>
  db.selectFrom('patient').select(['id', 'restriction']).where('id', 'in', ids).execute()

/** Which of these patients the user is on the care team of. */
export async function careTeamMemberships(db: Db | Transaction<Database>, userSub: string, patientIds: string[]): Promise<Set<string>> {
  if (patientIds.length === 0) return new Set()
  const rows = await db.selectFrom('patientCareTeam').select('patientId').where('userSub', '=', userSub).where('patientId', 'in', patientIds).execute()
  return new Set(rows.map((r) => r.patientId))
}

export function addCareTeamMember(trx: Transaction<Database>, patientId: string, userSub: string, addedBy: string) {
  return trx.insertInto('patientCareTeam').values({ patientId, userSub, addedBy }).onConflict((oc) => oc.doNothing()).returning('patientId').executeTakeFirst()
}

export function removeCareTeamMember(trx: Transaction<Database>, patientId: string, userSub: string) {
  return trx.deleteFrom('patientCareTeam').where('patientId', '=', patientId).where('userSub', '=', userSub).returning('patientId').executeTakeFirst()
}

/** Puts the members of one patient's care team on another's (merge). */
export async function copyCareTeam(trx: Transaction<Database>, fromId: string, toId: string) {
  await sql`INSERT INTO patient_care_team (patient_id, user_sub, added_by, added_at)
            SELECT ${toId}, user_sub, added_by, added_at FROM patient_care_team WHERE patient_id = ${fromId}
            ON CONFLICT DO NOTHING`.execute(trx)
}
