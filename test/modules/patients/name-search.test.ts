import t from 'tap'
import { sql } from 'kysely'
import { bearer, buildTestApp } from '../../helpers/app.ts'
import { auditEventsFor, createPatient, orgWithFacility } from '../../helpers/factories.ts'

t.test('name search', async (t) => {
  const ctx = await buildTestApp(t)
  const { app, db } = ctx
  const { facility } = await orgWithFacility(db)
  const desk = await ctx.token('front_desk', [facility.id])
  const make = (familyName: string, givenNames: string) => createPatient(db, facility.id, { familyName, givenNames })
  const byId = (ps: { id: string }[]) => ps.map((p) => p.id).sort()
  const search = (name: string, query = '') => app.inject({ url: `/patients?name=${encodeURIComponent(name)}${query}`, headers: bearer(desk) })
  /** Every id a search lists, following `next` with pages of `limit`. */
  const allPages = async (name: string, limit: number) => {
    const seen: string[] = []
    let cursor = ''
    for (let i = 0; i < 40; i++) {
      const res = await search(name, `&limit=${limit}${cursor}`)
      t.equal(res.statusCode, 200)
      seen.push(...res.json().items.map((p: { id: string }) => p.id))
      if (!res.json().next) break
      cursor = `&cursor=${res.json().next}`
    }
    return seen
  }

  const exact = [await make('Wrenfield', 'Ada'), await make('Wrenfield', 'Bo'), await make('Wrenfield', 'Cy')]
  const prefix = [await make('Wrenfieldson', 'Dee'), await make('Wrenfields', 'Eve')]
  const phonetic = [await make('Renfield', 'Flo'), await make('Renfeld', 'Gus')]

  await t.test('a family name alone ranks exact, prefix, then phonetic matches, by id within each; pages give the same sequence', async (t) => {
    const expected = [...byId(exact), ...byId(prefix), ...byId(phonetic)]
    const res = await search('Wrenfield', '&limit=50')
    t.equal(res.statusCode, 200)
    const ids = res.json().items.map((p: { id: string }) => p.id)
    t.same(ids.filter((id: string) => expected.includes(id)), expected)
    for (const limit of [1, 2, 4]) t.same(await allPages('Wrenfield', limit), ids, `pages of ${limit}`)
  })

  await t.test('a given name without letters searches by the family name alone, pages included', async (t) => {
    const alone = await allPages('Wrenfield', 50)
    t.ok(alone.length >= 7)
    for (const name of ['1 Wrenfield', 'Wrenfield, 1', '- Wrenfield']) {
      t.same(await allPages(name, 50), alone, name)
      t.same(await allPages(name, 2), alone, `${name}, pages of 2`)
    }
  })

  await t.test('a name whose family name has no letters is refused (400) and audits nothing', async (t) => {
    for (const name of ['123', 'Wrenfield 1', 'Ada ?!']) {
      const res = await app.inject({ url: `/patients?name=${encodeURIComponent(name)}`, headers: { ...bearer(desk), 'x-request-id': `no-letters-${name.length}` } })
      t.equal(res.statusCode, 400, name)
      t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
      t.same(res.json().errors, [{ pointer: 'name', detail: 'no letters' }])
      t.same(await auditEventsFor(db, { requestId: `no-letters-${name.length}` }), [], `${name}: no audit event`)
    }
  })

  await t.test('name keys are letters only, lower case, common accents folded; null without letters or for null', async (t) => {
    const { rows } = await sql<{ a: string | null; b: string | null; c: string | null }>`
      SELECT patient_name_key(${"O'Brien-Sánchez"}::text) AS a, patient_name_key('42 !') AS b, patient_name_key(NULL) AS c`.execute(db.kysely)
    t.same(rows[0], { a: 'obriensanchez', b: null, c: null })
  })

  await t.test('names in other Latin alphabets, Cyrillic and Greek are keyed by their romanisation; ASCII names as before', async (t) => {
    const names: [string, string | null][] = [
      ['Şahin', 'sahin'], ['Strauß', 'strauss'], ['Nguyễn', 'nguyen'], ['Ødegård', 'odegard'], ['Łukasz', 'lukasz'], ['Đặng', 'dang'],
      ['Æsa', 'aesa'], ['İlker', 'ilker'], ['ＳＭＩＴＨ', 'smith'], ['Иванов', 'ivanov'], ['ИВАНОВ', 'ivanov'], ['Щукина', 'shchukina'],
      ['Юлия', 'yuliya'], ['Παπαδόπουλος', 'papadopoulos'], ['Θεόδωρος', 'theodoros'], ['Ευάγγελος', 'evangelos'], ['王', null], ['محمد', null],
      ["D'Arcy-Smith 3rd", 'darcysmithrd'],
    ]
    const { rows } = await sql<{ name: string; key: string | null }>`
      SELECT n.name, patient_name_key(n.name) AS key FROM jsonb_array_elements_text(${JSON.stringify(names.map(([n]) => n))}::jsonb) AS n(name)`.execute(db.kysely)
    t.same(rows.map((r) => [r.name, r.key]), names)
  })

  await t.test('a name in Cyrillic, or with letters the folding once dropped, is found typed in ASCII and as written', async (t) => {
    const ivanov = await make('Иванов', 'Сергей')
    const sahin = await make('Şahin', 'Ayşe')
    const strauss = await make('Strauß', 'Jürgen')
    const ids = async (name: string) => {
      const res = await search(name)
      t.equal(res.statusCode, 200, name)
      return res.json().items.map((p: { id: string }) => p.id)
    }
    for (const name of ['Ivanov', 'Иванов', 'Sergei Ivanov', 'Ivanov, Sergey']) t.same(await ids(name), [ivanov.id], name)
    for (const name of ['Sahin', 'Ayse Sahin', 'Şahin']) t.same(await ids(name), [sahin.id], name)
    for (const name of ['Strauss', 'Jurgen Strauss', 'Strauß']) t.same(await ids(name), [strauss.id], name)
    const res = await search('王')
    t.equal(res.statusCode, 400, 'a script without a romanisation here still has nothing to search by')
  })
})
