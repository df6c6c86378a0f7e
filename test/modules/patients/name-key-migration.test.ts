import t from 'tap'
import { sql } from 'kysely'
import { buildTestApp } from '../../helpers/app.ts'
import { createPatient, orgWithFacility } from '../../helpers/factories.ts'
import * as transliteration from '../../../migrations/20261128T160000Z-name-key-transliteration.ts'

// The keys are stored columns: changing the function that computes them must recompute the rows
// it keys differently, or searches (which key the words typed with the new function) miss them.
t.test('the transliterating name key recomputes the stored keys of names it keys differently, and down() restores them', async (t) => {
  const { db } = await buildTestApp(t)
  const { facility } = await orgWithFacility(db)
  const keys = async (id: string) =>
    (await sql<{ familyKey: string | null; givenKey: string | null; familyDm: string | null }>`
      SELECT family_key AS "familyKey", given_key AS "givenKey", family_dm AS "familyDm" FROM patient WHERE id = ${id}`.execute(db.kysely)).rows[0]

  await transliteration.down(db.kysely)
  const sahin = await createPatient(db, facility.id, { familyName: 'Şahin', givenNames: 'Ayşe' })
  const ivanov = await createPatient(db, facility.id, { familyName: 'Иванов', givenNames: 'Сергей' })
  const smith = await createPatient(db, facility.id, { familyName: "O'Smith", givenNames: 'Ann Marie' })
  t.same(await keys(sahin.id), { familyKey: 'ahin', givenKey: 'aye', familyDm: 'AHN' }, 'the folding dropped the letters it did not list')
  t.same(await keys(ivanov.id), { familyKey: null, givenKey: null, familyDm: null })
  const before = await keys(smith.id)

  await transliteration.up(db.kysely)
  t.same(await keys(sahin.id), { familyKey: 'sahin', givenKey: 'ayse', familyDm: 'SHN' })
  t.same(await keys(ivanov.id), { familyKey: 'ivanov', givenKey: 'sergei', familyDm: 'AFNF' })
  t.same(await keys(smith.id), before, 'an ASCII name keeps its keys')

  await transliteration.down(db.kysely)
  t.same(await keys(sahin.id), { familyKey: 'ahin', givenKey: 'aye', familyDm: 'AHN' })
  t.same(await keys(ivanov.id), { familyKey: null, givenKey: null, familyDm: null })
  await transliteration.up(db.kysely)
})
