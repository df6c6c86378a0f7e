import t from 'tap'
import { sql } from 'kysely'
import { buildTestApp } from '../../helpers/app.ts'
import * as referenceIndexes from '../../../migrations/20261128T180000Z-patient-reference-indexes.ts'

// A merge repoints every foreign key to patient(id) with an UPDATE by that column
// (repo.repointReferences); a column without an index of its own makes each merge read the whole
// table (eligibility checks grow with every check run).
t.test('every foreign key to patient(id) has an index that starts with its column, so a merge never reads a table whole', async (t) => {
  const { db } = await buildTestApp(t)
  const unindexed = async () =>
    (await sql<{ reference: string }>`
      SELECT c.conrelid::regclass::text || '.' || a.attname AS reference
      FROM pg_constraint c
      JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
      WHERE c.contype = 'f' AND c.confrelid = 'patient'::regclass AND cardinality(c.conkey) = 1
        AND NOT EXISTS (SELECT FROM pg_index i WHERE i.indrelid = c.conrelid AND i.indkey[0] = c.conkey[1])
      ORDER BY 1`.execute(db.kysely)).rows.map((r) => r.reference)

  t.same(await unindexed(), [])
  await referenceIndexes.down(db.kysely)
  t.same(await unindexed(), ['eligibility_check.patient_id', 'estimate.patient_id', 'slot_hold.patient_id', 'surgical_case.patient_id', 'waitlist_entry.patient_id'],
    'without the migration five references had none')
  await referenceIndexes.up(db.kysely)
  t.same(await unindexed(), [])
})
