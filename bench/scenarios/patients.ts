import type pg from 'pg'
import { DEMO, DEMO_PATIENTS } from '../../src/cli/seed-data.ts'
import { parseName } from '../../src/modules/patients/patient.service.ts'
import { searchPatientsByName } from '../../src/modules/patients/patient.repository.ts'
import { captureQueries, type CapturedQuery } from '../lib/database.ts'
import { defineScenario, type BenchContext } from '../lib/scenario.ts'

/** Patients loaded once into the (persistent) bench database, at the demo hospital. */
const POPULATION = 1_000_000
const BATCH = 100_000

// Common US surnames (about half the population is drawn from these, with a skew towards the
// first ones, like real name frequencies) and syllable-built ones for the long tail.
const FAMILY = [
  'Smith', 'Johnson', 'Williams', 'Brown', 'Jones', 'Garcia', 'Miller', 'Davis', 'Rodriguez', 'Martinez', 'Hernandez', 'Lopez', 'Gonzalez',
  'Wilson', 'Anderson', 'Thomas', 'Taylor', 'Moore', 'Jackson', 'Martin', 'Lee', 'Perez', 'Thompson', 'White', 'Harris', 'Sanchez', 'Clark',
  'Ramirez', 'Lewis', 'Robinson', 'Walker', 'Young', 'Allen', 'King', 'Wright', 'Scott', 'Torres', 'Nguyen', 'Hill', 'Flores', 'Green',
  'Adams', 'Nelson', 'Baker', 'Hall', 'Rivera', 'Campbell', 'Mitchell', 'Carter', 'Roberts', 'Gomez', 'Phillips', 'Evans', 'Turner', 'Diaz',
  'Parker', 'Cruz', 'Edwards', 'Collins', 'Reyes', 'Stewart', 'Morris', 'Morales', 'Murphy', 'Cook', 'Rogers', 'Gutierrez', 'Ortiz', 'Morgan',
  'Cooper', 'Peterson', 'Bailey', 'Reed', 'Kelly', 'Howard', 'Ramos', 'Kim', 'Cox', 'Ward', 'Richardson', 'Watson', 'Brooks', 'Chavez', 'Wood',
]
const GIVEN = [
  'James', 'Mary', 'Robert', 'Patricia', 'John', 'Jennifer', 'Michael', 'Linda', 'David', 'Elizabeth', 'William', 'Barbara', 'Richard', 'Susan',
  'Joseph', 'Jessica', 'Thomas', 'Sarah', 'Charles', 'Karen', 'Christopher', 'Lisa', 'Daniel', 'Nancy', 'Matthew', 'Betty', 'Anthony', 'Sandra',
  'Mark', 'Margaret', 'Donald', 'Ashley', 'Steven', 'Kimberly', 'Andrew', 'Emily', 'Paul', 'Donna', 'Joshua', 'Michelle', 'Kenneth', 'Carol',
  'Kevin', 'Amanda', 'Brian', 'Melissa', 'George', 'Deborah', 'Timothy', 'Stephanie', 'Ronald', 'Rebecca', 'Jason', 'Sharon', 'Edward', 'Laura',
  'Jeffrey', 'Cynthia', 'Ryan', 'Dorothy', 'Jacob', 'Amy', 'Gary', 'Kathleen', 'Nicholas', 'Angela', 'Eric', 'Shirley', 'Jonathan', 'Emma',
  'Stephen', 'Brenda', 'Larry', 'Pamela', 'Justin', 'Nicole', 'Scott', 'Anna', 'Brandon', 'Samantha', 'Benjamin', 'Katherine', 'Samuel', 'Christine',
]
const SYLLABLES = ['ka', 'lo', 'mir', 'den', 'sa', 'tor', 'vel', 'ban', 'qui', 'ros', 'el', 'fen', 'gar', 'hul', 'ist', 'jor', 'nak', 'pol', 'rud', 'wen']

/** Loads the population in batches; resumes where an interrupted load stopped. */
async function loadPopulation(pool: pg.Pool, say: (m: string) => void) {
  const { rows } = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM patient WHERE mrn LIKE 'BP%' AND organization_id = $1`, [DEMO.organizationId])
  let loaded = Number(rows[0].n)
  while (loaded < POPULATION) {
    const from = loaded + 1
    const to = Math.min(POPULATION, loaded + BATCH)
    await pool.query(
      `WITH p AS (
         INSERT INTO patient (organization_id, facility_id, mrn, family_name, given_names, birth_date, phones, phone_numbers)
         SELECT $1, $2, 'BP' || i,
           CASE WHEN i % 2 = 0 THEN ($3::text[])[1 + floor(power(((i::bigint * 2654435761) % 1000003) / 1000003.0, 2) * cardinality($3::text[]))::int]
                ELSE initcap(($5::text[])[1 + i % 20] || ($5::text[])[1 + (i / 20) % 20] || ($5::text[])[1 + (i / 400) % 20]) END,
           ($4::text[])[1 + ((i::bigint * 40503) % 1000033) % cardinality($4::text[])],
           date '1930-01-01' + ((i::bigint * 7919) % 32000)::int,
           jsonb_build_array(jsonb_build_object('use', 'mobile', 'number', '+1555' || lpad(i::text, 7, '0'))),
           ARRAY['+1555' || lpad(i::text, 7, '0')]
         FROM generate_series($6::int, $7::int) i
         ON CONFLICT DO NOTHING
         RETURNING id
       )
       INSERT INTO patient_facility (patient_id, facility_id) SELECT id, $2 FROM p`,
      [DEMO.organizationId, DEMO.hospitalId, FAMILY, GIVEN, SYLLABLES, from, to],
    )
    loaded = to
    say(`patients: ${loaded} of ${POPULATION} loaded`)
  }
  await pool.query('ANALYZE patient')
  await pool.query('ANALYZE patient_facility')
}

interface State {
  token: string
  patientId: string
}

async function setup(ctx: BenchContext): Promise<State> {
  await loadPopulation(ctx.pool, (m) => process.stderr.write(`[bench] ${m}\n`))
  return { token: await ctx.token(['front_desk'], [DEMO.hospitalId]), patientId: DEMO_PATIENTS[0].id }
}

const letters = (n: number) => {
  let s = ''
  for (let x = n + 26 * 26; x > 0; x = Math.floor(x / 26)) s += String.fromCharCode(97 + (x % 26))
  return s
}

/**
 * Names made of letters only (the search keys ignore digits). Each run numbers its patients on from
 * the highest phone number an earlier run used, so a create never shares a phone number (alone
 * enough for a possible duplicate, 409) or a name with an earlier run's patient.
 */
const newPatient = (runId: string, m: number) => ({
  facilityId: DEMO.hospitalId,
  familyName: `Bq${letters(m)}${runId.replace(/[^a-z]/gi, '').slice(0, 6)}`,
  givenNames: `Zed${letters(m >> 3)}`,
  birthDate: new Date(Date.UTC(1940, 0, 1) + (m % 25000) * 86400000).toISOString().slice(0, 10),
  phones: [{ use: 'mobile', number: `+1777${String(m % 10000000).padStart(7, '0')}` }],
})

/** The number after the highest +1777 phone number a bench create has used (one scan, at setup). */
async function firstFreeNumber(pool: BenchContext['pool']) {
  const { rows } = await pool.query<{ n: string }>(
    `SELECT coalesce(max(substr(phone_numbers[1], 6)::bigint), -1) + 1 AS n FROM patient WHERE family_name LIKE 'Bq%' AND phone_numbers[1] LIKE '+1777%'`,
  )
  return Number(rows[0].n)
}

/**
 * Removes the patients earlier runs created (the API's and the raw INSERT's): left in place they
 * pile up, and a new run's patients, whose birth dates and name codes can only repeat theirs,
 * become possible duplicates of them (409 with the probe's extra work) and crowd the birth dates
 * the duplicate check reads. Each run so measures creates against the loaded million alone.
 */
async function removeEarlierCreates(pool: BenchContext['pool']) {
  const created = `SELECT id FROM patient WHERE (family_name LIKE 'Bq%' OR mrn LIKE 'RAW%') AND mrn NOT LIKE 'BP%'`
  await pool.query(`DELETE FROM patient_facility WHERE patient_id IN (${created})`)
  const { rowCount } = await pool.query(`DELETE FROM patient WHERE id IN (${created})`)
  if (rowCount) process.stderr.write(`[bench] patient-create: removed ${rowCount} patients earlier runs created\n`)
}

let created = 0

export const patientCreate = defineScenario<State & { runId: string; first: number }>({
  name: 'patient-create',
  description: `POST /patients at ${POPULATION / 1e6}M patients: duplicate check, MRN, insert, audit in one transaction`,
  setup: async (ctx) => {
    const state = await setup(ctx)
    const first = await firstFreeNumber(ctx.pool)
    await removeEarlierCreates(ctx.pool)
    return { ...state, runId: ctx.runId, first }
  },
  request: (s) => ({
    method: 'POST', path: '/patients', headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' }, body: newPatient(s.runId, s.first),
  }),
  // One counter across warm-up and measurement (each restarts n): a repeated body would be a
  // possible duplicate (409) of the warm-up's patient.
  vary: (s) => ({ body: newPatient(s.runId, s.first + ++created) }),
  raw: {
    label: 'single-row INSERT patient',
    run: (pool, s, n) =>
      pool.query(
        `INSERT INTO patient (organization_id, facility_id, mrn, family_name, given_names, birth_date) VALUES ($1, $2, $3, 'Rawbench', 'Raw', '1970-01-01')`,
        [DEMO.organizationId, DEMO.hospitalId, `RAW${s.runId}-${n}`],
      ),
  },
  targets: { minRawRatio: 0.35 },
})

export const patientRead = defineScenario<State>({
  name: 'patient-read',
  description: `GET /patients/{id} at ${POPULATION / 1e6}M patients: scoped, identifiers and facilities joined, audited`,
  setup,
  request: (s) => ({ method: 'GET', path: `/patients/${s.patientId}`, headers: { authorization: `Bearer ${s.token}` } }),
  raw: { label: 'point SELECT patient', run: (pool, s) => pool.query('SELECT * FROM patient WHERE id = $1', [s.patientId]) },
  targets: { minRawRatio: 0.3 },
})

const SEARCH_PATH = '/patients?name=Jon%20Smyth&limit=25'

export const patientSearch = defineScenario<State>({
  name: 'patient-search-name',
  description: `GET /patients?name=Jon Smyth at ${POPULATION / 1e6}M patients: phonetic + prefix keys, ranked, scoped, audited per hit`,
  setup,
  request: (s) => ({ method: 'GET', path: SEARCH_PATH, headers: { authorization: `Bearer ${s.token}` } }),
  raw: {
    label: 'naive pg_trgm similarity over every patient, LIMIT 25',
    run: (pool) =>
      pool.query(
        `SELECT id FROM patient WHERE similarity(given_names || ' ' || family_name, $1) > 0.3
         ORDER BY similarity(given_names || ' ' || family_name, $1) DESC LIMIT 25`,
        ['Jon Smyth'],
      ),
  },
  targets: { minReqPerSec: 500, maxP99Ms: 100 },
  compare: { scenario: 'patient-search-name-audit-off', label: 'audited / audit off' },
})

/**
 * The same search on the server whose read-audit writer is a no-op: what the 25 audit events of a
 * search (one per patient shown) cost, as the comparison line of the table. Its raw side is the
 * search's own statement as the API sends it (captured from the repository), through the bare pool.
 */
export const patientSearchAuditOff = defineScenario<State & { statement: CapturedQuery }>({
  name: 'patient-search-name-audit-off',
  description: 'the same GET /patients?name=Jon Smyth with read auditing replaced by a no-op (comparator only)',
  server: 'audit-off',
  setup: async (ctx) => {
    const state = await setup(ctx)
    const [statement] = await captureQueries(ctx.pool, (db) =>
      searchPatientsByName(db, { facilityIds: [DEMO.hospitalId], includeInactive: false }, parseName('Jon Smyth'), undefined, 25))
    return { ...state, statement }
  },
  request: (s) => ({ method: 'GET', path: SEARCH_PATH, headers: { authorization: `Bearer ${s.token}` } }),
  raw: {
    label: "the search's own SELECT as the API sends it (keys, ranked, scoped, LIMIT 26)",
    // Prepared, as the API's pool prepares it (createDb): planned afresh at every search, the
    // statement costs several times its execution.
    run: (pool, s) => pool.query({ name: 'patient-search-name', text: s.statement.sql, values: [...s.statement.parameters] }),
  },
})
