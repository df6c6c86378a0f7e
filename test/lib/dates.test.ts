import t from 'tap'
import { addDays, isoDate } from '../../src/lib/dates.ts'

t.test('isoDate reads a date column as either engine parses it, the year in four digits', async (t) => {
  for (const date of ['0001-01-01', '0999-12-31', '1800-03-01', '1970-01-01', '2024-02-29', '9999-12-31']) {
    const [y, m, d] = date.split('-').map(Number)
    const utcMidnight = new Date(Date.UTC(2000, m - 1, d))
    utcMidnight.setUTCFullYear(y)
    const localMidnight = new Date(2000, m - 1, d)
    localMidnight.setFullYear(y)
    t.equal(isoDate(utcMidnight), date, `${date} at UTC midnight (PGlite)`)
    t.equal(isoDate(localMidnight), date, `${date} at local midnight (node-postgres, TZ=${process.env.TZ ?? 'system'})`)
    t.equal(isoDate(`${date}T00:00:00Z`), date, `${date} as text`)
  }
  t.equal(isoDate(null), null)
})

t.test('addDays crosses months, leap days and years', async (t) => {
  t.equal(addDays('2024-02-28', 1), '2024-02-29')
  t.equal(addDays('2025-12-31', 1), '2026-01-01')
  t.equal(addDays('2026-03-01', -1), '2026-02-28')
  t.equal(addDays('0001-01-01', 30), '0001-01-31')
})
