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
  })

  await t.test('a name in a script without a romanisation is found as written: the family name, with the given name either way round, or written without a space', async (t) => {
    const wangXiaoming = await make('王', '小明')
    const wangFang = await make('王', '芳')
    const li = await make('李', '小明')
    const ouyang = await make('欧阳', '修')
    const mohammed = await make('محمد', 'علي')
    const cohen = await make('כהן', 'דוד')
    const ids = async (name: string, requestId?: string) => {
      const res = await app.inject({ url: `/patients?name=${encodeURIComponent(name)}`, headers: { ...bearer(desk), ...(requestId ? { 'x-request-id': requestId } : {}) } })
      t.equal(res.statusCode, 200, name)
      return res.json().items.map((p: { id: string }) => p.id)
    }
    t.same(await ids('王', 'native-wang'), byId([wangXiaoming, wangFang]))
    for (const name of ['王 小明', '小明 王', '王, 小', '王小明', ' 王　小明 ']) t.same(await ids(name), [wangXiaoming.id], name)
    t.same(await ids('王芳'), [wangFang.id])
    t.same(await ids('李'), [li.id])
    t.same(await ids('欧阳修'), [ouyang.id], 'a two-character family name written together with the given name')
    t.same(await ids('محمد'), [mohammed.id])
    t.same(await ids('علي محمد'), [mohammed.id])
    t.same(await ids('כהן'), [cohen.id])
    t.same(await ids('金'), [], 'nobody of that name: an empty page, not a 400')
    t.same(await allPages('王', 1), byId([wangXiaoming, wangFang]), 'pages of one give the same sequence')

    const events = await auditEventsFor(db, { requestId: 'native-wang' })
    t.same(events.map((e) => [e.verb, e.patientId]).sort(), byId([wangXiaoming, wangFang]).map((id) => ['patient.search', id]).sort(), 'one search event per patient shown')

    const wangWei = await make('王', 'Wéi')
    for (const name of ['Wéi 王', 'wei 王', 'WEI 王', 'We 王', '王, wei', '王 Wei', '王 wéi', '王 We']) t.same(await ids(name), [wangWei.id], `${name}: a given name in letters compares by its key, as a Latin one does, written before or after the family name`)
    const latinWei = await make('Wei', 'Lin')
    t.same(await ids('王 Wei'), [wangWei.id], 'the family name is the word in the script without a romanisation, not the Latin family name Wei')
    t.same(await ids('Lin Wei'), [latinWei.id], 'a Latin name is searched as before')
    await make('Lin', 'Mei')
    t.same(await ids('王 Lin'), [], 'no 王 whose given name is Lin: an empty page, not the patients of the Latin family name Lin')

    const { facility: elsewhere } = await orgWithFacility(db)
    const other = await ctx.token('front_desk', [elsewhere.id])
    const res = await app.inject({ url: `/patients?name=${encodeURIComponent('王')}`, headers: bearer(other) })
    t.equal(res.statusCode, 200)
    t.same(res.json().items, [], "another facility's desk finds none of them")
  })

  await t.test('a name search cursor this API did not issue answers 400 or an empty page, never a 500', async (t) => {
    const id = '00000000-0000-0000-0000-000000000000'
    for (const name of ['Wrenfield', 'Ada Wrenfield', '王', '王小明']) {
      for (const key of [[-1, id], [0.5, id], ['x', id], [0, 'not-a-uuid']]) {
        const res = await search(name, `&cursor=${Buffer.from(JSON.stringify(key)).toString('base64url')}`)
        t.equal(res.statusCode, 400, `${name} ${JSON.stringify(key)}`)
        t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
      }
      const beyond = await search(name, `&cursor=${Buffer.from(JSON.stringify([9, id])).toString('base64url')}`)
      t.equal(beyond.statusCode, 200, `${name}: a rank beyond the last`)
      t.same(beyond.json(), { items: [], next: null })
    }
  })

  await t.test('the native key is the name as written, NFKC-normalised, without spaces, ASCII punctuation, digits or middle dots', async (t) => {
    const names: [string, string | null][] = [['王', '王'], [' 王 小明 ', '王小明'], ['ジョン・スミス', 'ジョンスミス'], ['ｶﾀｶﾅ', 'カタカナ'], ['محمد', 'محمد'], ['?! 12', null]]
    const { rows } = await sql<{ name: string; key: string | null }>`
      SELECT n.name, patient_native_key(n.name) AS key FROM jsonb_array_elements_text(${JSON.stringify(names.map(([n]) => n))}::jsonb) AS n(name)`.execute(db.kysely)
    t.same(rows.map((r) => [r.name, r.key]), names)
  })
})
