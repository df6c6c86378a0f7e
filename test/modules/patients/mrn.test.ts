import { sql } from 'kysely'
import t from 'tap'
import { luhnValid } from '../../../src/lib/identifiers.ts'
import { mrnFor } from '../../../src/modules/patients/patient.service.ts'
import { freshDatabase } from '../../helpers/db.ts'

t.test('an MRN made in SQL (registrations) is the one mrnFor makes (batch imports): the sequence number and its Luhn digit', async (t) => {
  const { db, drop } = await freshDatabase()
  t.teardown(drop)
  const seqs = [1, 9, 10, 59, 99999999999, ...Array.from({ length: 300 }, (_, i) => 10_000_000 + i * 37)]
  const { rows } = await sql<{ seq: string; mrn: string }>`SELECT s::text AS seq, patient_mrn(s) AS mrn FROM unnest(${seqs}::bigint[]) s`.execute(db.kysely)
  t.equal(rows.length, seqs.length)
  for (const r of rows) {
    t.equal(r.mrn, mrnFor(r.seq), `sequence ${r.seq}`)
    t.ok(luhnValid(r.mrn), `${r.mrn} passes the Luhn check`)
  }
})
