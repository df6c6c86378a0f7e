import { setTimeout as delay } from 'node:timers/promises'
import t from 'tap'
import { sql } from 'kysely'
import type { Db } from '../../../src/db/create-db.ts'
import { bearer, buildTestApp } from '../../helpers/app.ts'
import { usingPostgres } from '../../helpers/db.ts'
import { createPatient, orgWithFacility } from '../../helpers/factories.ts'
import { countRows, importer, ndjson, patientWithIdentifier } from './fixtures.ts'

/**
 * On real Postgres a patient import has two batches in flight: batch k writes while batch k+1 reads
 * and locks. These files use batches of two rows. A trigger holds the insert of a patient named
 * Gatewood on an advisory lock that the test holds, so batch k stays uncommitted until the test has
 * seen batch k+1 reach the point it was meant to reach; on PGlite (one connection, one batch at a
 * time) the same files run without the wait and must give the same results.
 */
const GATE = 4242

t.test('batches in flight', async (t) => {
  const ctx = await buildTestApp(t, { IMPORT_BATCH_ROWS: '2' })
  const { app, db } = ctx
  const { facility } = await orgWithFacility(db)
  const token = await ctx.token('integrator', [facility.id])
  const { create, results } = importer(t, ctx, token, facility.id)
  await sql`CREATE FUNCTION import_gate() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.family_name = 'Gatewood' THEN
        PERFORM pg_advisory_xact_lock(${sql.lit(GATE)});
        IF NEW.given_names = 'Fail' THEN RAISE EXCEPTION 'the gate failed this batch'; END IF;
      END IF;
      RETURN NEW;
    END $$`.execute(db.kysely)
  await sql`CREATE TRIGGER import_gate BEFORE INSERT ON patient FOR EACH ROW EXECUTE FUNCTION import_gate()`.execute(db.kysely)

  const upload = (id: string, rows: unknown[]) =>
    app.inject({ method: 'PUT', url: `/imports/${id}/file`, headers: { ...bearer(token), 'content-type': 'application/x-ndjson' }, payload: ndjson(rows) })

  /**
   * Uploads the file while the gate is closed, until `reached` holds for the import's transactions
   * (on real Postgres), then opens it. Answers the upload's response.
   */
  const gated = async (id: string, rows: unknown[], reached: (backends: Backend[]) => boolean) => {
    if (!usingPostgres()) return upload(id, rows)
    let res: Promise<Awaited<ReturnType<typeof upload>>> | undefined
    await db.kysely.transaction().execute(async (trx) => {
      await sql`SELECT pg_advisory_xact_lock(${GATE})`.execute(trx)
      const { rows: [{ pid }] } = await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(trx)
      res = upload(id, rows)
      t.ok(await until(async () => reached(await backends(db, pid))), 'the next batch reached its point while the gate held the batch before')
    })
    return res!
  }

  const person = { familyName: 'Gatewood', givenNames: 'Pat', birthDate: '1975-03-04', phones: [{ use: 'mobile', number: '+15555550101' }] }
  // Rows that are nobody's duplicates: names unlike each other's and the others'.
  const families = ['Abara', 'Bukowski', 'Chidozie', 'Dvorak', 'Esposito', 'Fujimoto', 'Haddad', 'Ivanova', 'Jankowski', 'Lindqvist', 'Mbeki', 'Nakamura']
  const givens = ['Ines', 'Omar', 'Uma', 'Yara', 'Eko', 'Rafe', 'Sunniva', 'Teodor', 'Wim', 'Zuzana', 'Cato', 'Bram']
  const filler = (n: number) => ({ familyName: families[n], givenNames: givens[n], birthDate: `19${60 + n}-02-${10 + n}`, identifiers: [{ system: 'urn:overlap:filler', value: `f${n}` }] })

  await t.test('a person created by batch k and sent again in batch k+1 under another key is a possible duplicate of it, not a second patient', async (t) => {
    const job = await create({ kind: 'patients' })
    // The same duplicate-check lock as batch k's row (name code and birth date): batch k+1 waits for it.
    const res = await gated(job.id, [
      { ...person, identifiers: [{ system: 'urn:overlap', value: 'P1' }] }, filler(0),
      { ...person, identifiers: [{ system: 'urn:overlap', value: 'P2' }] }, filler(1),
    ], (b) => b.filter(waitingOnLock).length >= 2)
    t.equal(res.statusCode, 200, res.body)
    t.match(res.json(), { status: 'completed', rowsRead: 4, created: 3, duplicates: 1 })
    const rows = await results(job.id)
    t.match(rows, [{ row: 1, outcome: 'created' }, { row: 2, outcome: 'created' }, { row: 3, outcome: 'duplicate', problem: { candidates: [{ id: rows[0].recordId }] } }, { row: 4, outcome: 'created' }])
    t.equal(await countRows(db, 'patient', sql`family_name = 'Gatewood' AND given_names = 'Pat'`), 1, 'one patient')
  })

  await t.test('a duplicate that batch k+1 could not see when it searched (batch k uncommitted) is found once batch k commits', async (t) => {
    const job = await create({ kind: 'patients' })
    // Names, phone and email alike, the birth date mistyped: another duplicate-check lock, so
    // batch k+1 searches while batch k is held, and finds batch k's patient only afterwards.
    const dana = { ...person, givenNames: 'Dana', birthDate: '1981-02-03', email: 'dana@example.org' }
    const res = await gated(job.id, [
      { ...dana, identifiers: [{ system: 'urn:overlap', value: 'D1' }] }, filler(2),
      { ...dana, birthDate: '1981-03-02', identifiers: [{ system: 'urn:overlap', value: 'D2' }] }, filler(3),
    ], (b) => b.some(waitingOnLock) && b.some(readAll))
    t.equal(res.statusCode, 200, res.body)
    const rows = await results(job.id)
    t.match(rows, [{ row: 1, outcome: 'created' }, { row: 2, outcome: 'created' }, { row: 3, outcome: 'duplicate', problem: { candidates: [{ id: rows[0].recordId }] } }, { row: 4, outcome: 'created' }])
    t.equal(await countRows(db, 'patient', sql`family_name = 'Gatewood' AND given_names = 'Dana'`), 1, 'one patient')
  })

  await t.test('a natural key created in batch k and sent again in k+1 and k+2 is created, then updated, then unchanged: one patient', async (t) => {
    const job = await create({ kind: 'patients' })
    const q = { familyName: 'Quayle', givenNames: 'Quinn', birthDate: '1966-06-06', identifiers: [{ system: 'urn:overlap', value: 'Q1' }] }
    const changed = { ...q, email: 'quinn@example.org' }
    const res = await upload(job.id, [q, filler(4), changed, filler(5), changed])
    t.equal(res.statusCode, 200, res.body)
    const rows = await results(job.id)
    t.match(rows.map((r) => r.outcome), ['created', 'created', 'updated', 'created', 'unchanged'])
    t.equal(rows[2].recordId, rows[0].recordId)
    t.equal(rows[4].recordId, rows[0].recordId)
    const stored = await db.kysely.selectFrom('patientIdentifier').innerJoin('patient', 'patient.id', 'patientIdentifier.patientId')
      .select(['patient.id', 'patient.email', 'patient.version']).where('system', '=', 'urn:overlap').where('value', '=', 'Q1').execute()
    t.same(stored, [{ id: rows[0].recordId, email: 'quinn@example.org', version: 2 }], 'one patient, changed once')
  })

  await t.test("an identifier that batch k takes off a patient, sent in batch k+1, no longer names that patient", async (t) => {
    const x = await createPatient(db, facility.id, { familyName: 'Xenakis', givenNames: 'Xan', birthDate: '1958-08-08' })
    const x1 = await patientWithIdentifier(db, x, 'urn:overlap:x')
    const x2 = await patientWithIdentifier(db, x, 'urn:overlap:x')
    const job = await create({ kind: 'patients' })
    const demographics = { familyName: x.familyName, givenNames: x.givenNames, birthDate: x.birthDate }
    const res = await gated(job.id, [
      { ...demographics, identifiers: [x1] }, { ...person, givenNames: 'Gale', birthDate: '1977-07-07', identifiers: [{ system: 'urn:overlap', value: 'G1' }] },
      { ...demographics, identifiers: [x2] }, filler(6),
    ], (b) => b.filter(waitingOnLock).length >= 2)
    t.equal(res.statusCode, 200, res.body)
    const rows = await results(job.id)
    t.match(rows, [
      { row: 1, outcome: 'updated', recordId: x.id }, { row: 2, outcome: 'created' },
      { row: 3, outcome: 'duplicate', problem: { candidates: [{ id: x.id }] } }, { row: 4, outcome: 'created' },
    ])
    const owners = await db.kysely.selectFrom('patientIdentifier').select(['value', 'patientId']).where('system', '=', 'urn:overlap:x').execute()
    t.same(owners, [{ value: x1.value, patientId: x.id }], 'the second identifier was taken off and given to no one')
  })

  await t.test('a batch that fails stops the batch after it from committing; the same file again resumes after the last commit', async (t) => {
    const job = await create({ kind: 'patients' })
    const file = [
      filler(7), filler(8),
      { familyName: 'Gatewood', givenNames: 'Fail', birthDate: '1980-10-10', identifiers: [{ system: 'urn:overlap', value: 'F1' }] }, filler(9),
      filler(10), filler(11),
    ]
    const res = await gated(job.id, file, (b) => b.some(waitingOnLock) && b.some(readAll))
    t.ok(res.statusCode >= 500, `the upload failed: ${res.statusCode}`)
    const stopped = (await app.inject({ url: `/imports/${job.id}`, headers: bearer(token) })).json()
    t.match(stopped, { status: 'interrupted', rowsRead: 2, created: 2 })
    t.equal(await countRows(db, 'patient_identifier', sql`system = 'urn:overlap:filler' AND value IN ('f10', 'f11')`), 0, 'nothing of the batch after the failed one')

    await sql`DROP TRIGGER import_gate ON patient`.execute(db.kysely)
    const resumed = await upload(job.id, file)
    t.equal(resumed.statusCode, 200, resumed.body)
    t.match(resumed.json(), { status: 'completed', rowsRead: 6, created: 6 })
    t.same((await results(job.id)).map((r) => [r.row, r.outcome]), [1, 2, 3, 4, 5, 6].map((n) => [n, 'created']))
    t.equal(await countRows(db, 'patient_identifier', sql`value IN ('f7', 'f8', 'F1', 'f9', 'f10', 'f11')`), 6, 'each row once')
  })
})

interface Backend {
  state: string
  waitEventType: string | null
  query: string
}

/** The transactions of this test's database other than the gate's and the asking one. */
async function backends(db: Db, gate: number) {
  const { rows } = await sql<Backend>`
    SELECT state, wait_event_type, query FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid() AND pid <> ${gate} AND state <> 'idle'`.execute(db.kysely)
  return rows
}

/** A batch held at the gate, or on a row lock of the batch held there. */
const waitingOnLock = (b: Backend) => b.state === 'active' && b.waitEventType === 'Lock'
/**
 * A batch that has made its duplicate-candidate search (its last statement, known by its opening:
 * pg_stat_activity keeps the first kilobyte) and waits for the batch before to commit.
 */
const readAll = (b: Backend) => b.state === 'idle in transaction' && b.query.includes('SELECT v.n, c.* FROM')

async function until(check: () => Promise<boolean>, ms = 10_000) {
  for (const end = Date.now() + ms; Date.now() < end; await delay(20)) if (await check()) return true
  return false
}
