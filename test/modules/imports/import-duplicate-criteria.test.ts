import t from 'tap'
import { buckets } from '../../../src/modules/imports/import-patients.ts'
import { scoreCandidates } from '../../../src/modules/patients/patient.service.ts'

/**
 * A patient import looks for possible duplicates only where its criteria point (CRITERIA in
 * import-patients.ts; `buckets` states them for rows of one batch). Every pair of records that
 * scoreCandidates would call duplicates must meet under one criterion, whatever the weights become:
 * here every combination of what two records can have in common is scored and looked up.
 */
t.test('every pair that scores as a duplicate shares a candidate criterion', async (t) => {
  // [Latin key, phonetic code, as written]: a name in a script without a romanisation has only the last.
  type Name = readonly [string | null, string | null, string]
  const names = {
    latin: {
      family: { same: ['smith', 'SM0', 'Smith'], code: ['smyth', 'SM0', 'Smyth'], other: ['jones', 'JNS', 'Jones'] } as Record<string, Name>,
      given: { same: ['john', 'JN', 'John'], code: ['jon', 'JN', 'Jon'], other: ['mary', 'MR', 'Mary'] } as Record<string, Name>,
    },
    native: {
      family: { same: [null, null, '王'], other: [null, null, '李'], latin: ['wang', 'AN', 'Wang'] } as Record<string, Name>,
      given: { same: [null, null, '小明'], other: [null, null, '小红'], latin: ['xiaoming', 'SMNK', 'Xiaoming'] } as Record<string, Name>,
    },
  }
  const probe = (f: Name, g: Name, o: { birthDate: string; phone: string; email: string; address: string; ssn: string }) => ({
    keys: { familyKey: f[0], familyDm: f[1], familyDmAlt: null, givenKey: g[0], givenDm: g[1], familyNative: f[2], givenNative: g[2] },
    birthDate: o.birthDate, phones: [o.phone], email: o.email, ssnHmac: o.ssn, address: { line1: o.address, postalCode: '12180' },
  })
  const mine = { birthDate: '1970-01-01', phone: '+15550001000', email: 'pat@example.org', address: '1 Elm St', ssn: 'hmac-1' }
  const theirs = { birthDate: '1980-02-02', phone: '+15550002000', email: 'kim@example.org', address: '9 Oak Ave', ssn: 'hmac-2' }
  const fields = Object.keys(mine) as (keyof typeof mine)[]
  for (const [script, { family, given }] of Object.entries(names)) {
    let duplicates = 0
    let unsearched = 0
    for (const f of Object.keys(family)) {
      for (const g of Object.keys(given)) {
        for (let shared = 0; shared < 1 << fields.length; shared++) {
          const other = Object.fromEntries(fields.map((k, i) => [k, shared & (1 << i) ? (k === 'email' ? mine.email.toUpperCase() : mine[k]) : theirs[k]])) as typeof mine
          const p = probe(family.same, given.same, mine)
          const q = probe(family[f], given[g], other)
          const candidate = { id: 'q', ...q.keys, phoneNumbers: q.phones, email: q.email, ssnHmac: q.ssnHmac, address: q.address, birthDate: q.birthDate }
          const found = buckets(q).some((b) => buckets(p).includes(b))
          if (scoreCandidates([candidate], p).length > 0) {
            duplicates++
            if (!found) t.fail(`${script}: a duplicate no criterion finds: family ${f}, given ${g}, shared ${fields.filter((_, i) => shared & (1 << i)).join(', ') || 'nothing else'}`)
          } else if (!found) unsearched++
        }
      }
    }
    // The enumeration reached both sides: duplicates, and pairs the criteria rightly skip (such as
    // namesakes born on other days with nothing else in common).
    t.ok(duplicates > 0 && unsearched > 0, `${script}: ${duplicates} duplicate pairs, ${unsearched} skipped`)
    const namesakes = buckets(probe(family.same, given.same, theirs)).some((b) => buckets(probe(family.same, given.same, mine)).includes(b))
    t.notOk(namesakes, `${script}: namesakes with nothing else in common are not looked up`)
  }
  const wang = probe(names.native.family.same, names.native.given.same, mine)
  const candidate = { id: 'q', ...wang.keys, phoneNumbers: wang.phones, email: null, ssnHmac: null, address: null, birthDate: wang.birthDate }
  t.match(scoreCandidates([candidate], { ...wang, email: null, ssnHmac: null, phones: [], address: null }), [{ score: 0.7, matchedFields: ['familyName', 'givenNames', 'birthDate'] }],
    '王小明 and 王小明 born the same day score as a Latin name and its namesake do')
})
