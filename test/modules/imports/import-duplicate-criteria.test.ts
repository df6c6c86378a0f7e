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
  const family = { same: ['smith', 'SM0'], code: ['smyth', 'SM0'], other: ['jones', 'JNS'] } as const
  const given = { same: ['john', 'JN'], code: ['jon', 'JN'], other: ['mary', 'MR'] } as const
  const probe = (f: readonly [string, string], g: readonly [string, string], o: { birthDate: string; phone: string; email: string; address: string; ssn: string }) => ({
    keys: { familyKey: f[0], familyDm: f[1], familyDmAlt: null, givenKey: g[0], givenDm: g[1] },
    birthDate: o.birthDate, phones: [o.phone], email: o.email, ssnHmac: o.ssn, address: { line1: o.address, postalCode: '12180' },
  })
  const mine = { birthDate: '1970-01-01', phone: '+15550001000', email: 'pat@example.org', address: '1 Elm St', ssn: 'hmac-1' }
  const theirs = { birthDate: '1980-02-02', phone: '+15550002000', email: 'kim@example.org', address: '9 Oak Ave', ssn: 'hmac-2' }
  const fields = Object.keys(mine) as (keyof typeof mine)[]
  let duplicates = 0
  let unsearched = 0
  for (const f of Object.keys(family) as (keyof typeof family)[]) {
    for (const g of Object.keys(given) as (keyof typeof given)[]) {
      for (let shared = 0; shared < 1 << fields.length; shared++) {
        const other = Object.fromEntries(fields.map((k, i) => [k, shared & (1 << i) ? (k === 'email' ? mine.email.toUpperCase() : mine[k]) : theirs[k]])) as typeof mine
        const p = probe(family.same, given.same, mine)
        const q = probe(family[f], given[g], other)
        const candidate = { id: 'q', ...q.keys, phoneNumbers: q.phones, email: q.email, ssnHmac: q.ssnHmac, address: q.address, birthDate: q.birthDate }
        const found = buckets(q).some((b) => buckets(p).includes(b))
        if (scoreCandidates([candidate], p).length > 0) {
          duplicates++
          if (!found) t.fail(`a duplicate no criterion finds: family ${f}, given ${g}, shared ${fields.filter((_, i) => shared & (1 << i)).join(', ') || 'nothing else'}`)
        } else if (!found) unsearched++
      }
    }
  }
  // The enumeration reached both sides: duplicates, and pairs the criteria rightly skip (such as
  // namesakes born on other days with nothing else in common).
  t.ok(duplicates > 0 && unsearched > 0, `${duplicates} duplicate pairs, ${unsearched} skipped`)
  const namesakes = buckets(probe(family.same, given.same, theirs)).some((b) => buckets(probe(family.same, given.same, mine)).includes(b))
  t.notOk(namesakes, 'namesakes with nothing else in common are not looked up')
})
