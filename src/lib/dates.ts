const pad = (n: number, width = 2) => String(n).padStart(width, '0')

/**
 * A `date` column as YYYY-MM-DD. node-postgres parses it to a Date at local midnight, PGlite at
 * UTC midnight: the fields are read in whichever frame puts the value on midnight, and the year
 * is written with four digits (year 1 is 0001, which format "date" requires).
 */
export function isoDate(v: Date | string): string
export function isoDate(v: Date | string | null): string | null
export function isoDate(v: Date | string | null): string | null {
  if (v === null) return null
  if (typeof v === 'string') return v.slice(0, 10)
  const utc = v.getUTCHours() === 0 && v.getUTCMinutes() === 0 && v.getUTCSeconds() === 0
  const [y, m, d] = utc ? [v.getUTCFullYear(), v.getUTCMonth() + 1, v.getUTCDate()] : [v.getFullYear(), v.getMonth() + 1, v.getDate()]
  return `${pad(y, 4)}-${pad(m)}-${pad(d)}`
}

/** A calendar date `days` later (or earlier), YYYY-MM-DD. */
export const addDays = (date: string, days: number) => new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10)
