import t from 'tap'
import { sql } from 'kysely'
import { bearer, buildTestApp } from '../../helpers/app.ts'
import { createPatient, orgWithFacility } from '../../helpers/factories.ts'
import * as transliteration from '../../../migrations/20261128T160000Z-name-key-transliteration.ts'
import * as nativeKey from '../../../migrations/20261128T170000Z-name-native-key.ts'
import * as nativeDuplicates from '../../../migrations/20261128T190000Z-native-name-duplicates.ts'

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

t.test('the native name key indexes the patients registered before it, and down() removes the function and its index', async (t) => {
  const ctx = await buildTestApp(t)
  const { app, db } = ctx
  const { facility } = await orgWithFacility(db)
  const desk = await ctx.token('front_desk', [facility.id])
  const exists = async () =>
    (await sql<{ fn: string | null; ix: string | null }>`SELECT to_regprocedure('patient_native_key(text)')::text AS fn, to_regclass('patient_name_native')::text AS ix`.execute(db.kysely)).rows[0]

  await nativeKey.down(db.kysely)
  t.same(await exists(), { fn: null, ix: null })
  const wang = await createPatient(db, facility.id, { familyName: '王', givenNames: '小明' })

  await nativeKey.up(db.kysely)
  t.same(await exists(), { fn: 'patient_native_key(text)', ix: 'patient_name_native' })
  const res = await app.inject({ url: `/patients?name=${encodeURIComponent('王 小明')}`, headers: bearer(desk) })
  t.equal(res.statusCode, 200)
  t.same(res.json().items.map((p: { id: string }) => p.id), [wang.id], 'a patient registered before the migration is found')
})

t.test('the native duplicate probe: down() restores the probe that never found a name without a key; up() finds it again', async (t) => {
  const { db } = await buildTestApp(t)
  const { facility } = await orgWithFacility(db)
  const wang = await createPatient(db, facility.id, { familyName: '王', givenNames: '小明', birthDate: '1968-03-09' })
  // The probe as a registration of another 王 小明 born that day calls it (nothing seen yet).
  const probe = async () => (await sql<{ r: Record<string, unknown> }>`
    SELECT to_jsonb(r) AS r FROM patient_registration_check(${facility.id}, '王', '小明', '1968-03-09', '{}'::text[], NULL, NULL, true, '{}'::uuid[]) r`.execute(db.kysely)).rows[0].r

  await nativeDuplicates.down(db.kysely)
  t.same((await probe()).candidates, [], 'before it, a name without a key was never looked up by its name')
  await nativeDuplicates.up(db.kysely)
  t.match(await probe(), { candidates: [{ id: wang.id, familyKey: null, familyNative: '王', givenNative: '小明', birthDate: '1968-03-09' }], family_native: '王', given_native: '小明' })
})
