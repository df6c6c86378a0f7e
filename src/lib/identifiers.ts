/** Luhn check over a digit string (the last digit is the check digit). */
export function luhnValid(digits: string): boolean {
  let sum = 0
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48
    if (d < 0 || d > 9) return false
    if (i % 2 === 1) {
      d *= 2
      if (d > 9) d -= 9
    }
    sum += d
  }
  return sum % 10 === 0
}

/** NPI: 10 digits whose Luhn check includes the card-issuer prefix 80840 (CMS NPI standard). */
export const isValidNpi = (npi: string) => /^[0-9]{10}$/.test(npi) && luhnValid(`80840${npi}`)

const zones = new Set([...Intl.supportedValuesOf('timeZone'), 'UTC'])
export const isIanaTimeZone = (tz: string) => zones.has(tz)
