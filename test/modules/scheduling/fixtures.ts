import { randomInt, randomUUID } from 'node:crypto'
import type { Db } from '../../../src/db/create-db.ts'
import type { ResourceKind } from '../../../src/db/database.ts'
import { isValidNpi } from '../../../src/lib/identifiers.ts'
import { addDays } from '../../../src/lib/dates.ts'
import { formatInZone, localDate, localToInstant } from '../../../src/modules/scheduling/availability.ts'
import { createPatient, orgWithFacility } from '../../helpers/factories.ts'

/** A random NPI with a correct check digit. */
export function validNpi(): string {
  const base = String(randomInt(100_000_000, 999_999_999))
  for (let d = 0; d < 10; d++) if (isValidNpi(base + d)) return base + d
  throw new Error('unreachable')
}

/** `HH:MM` local time `days` days from today in the zone, as ISO with its offset. */
export function localAt(zone: string, days: number, time: string): string {
  const day = addDays(localDate(Date.now(), zone), days)
  return formatInZone(localToInstant(day, time, zone), zone)
}

export async function addProvider(db: Db, organizationId: string, facilityIds: string[], displayName = `Dr. ${randomUUID().slice(0, 6)}`) {
  const provider = await db.kysely.insertInto('provider').values({ organizationId, npi: validNpi(), displayName }).returningAll().executeTakeFirstOrThrow()
  await db.kysely.insertInto('providerFacility').values(facilityIds.map((facilityId) => ({ providerId: provider.id, facilityId }))).execute()
  return provider
}

export async function addResource(db: Db, facilityId: string, kind: ResourceKind = 'exam-room', name = `Room ${randomUUID().slice(0, 6)}`) {
  return db.kysely.insertInto('resource').values({ facilityId, kind, name }).returningAll().executeTakeFirstOrThrow()
}

export async function addType(
  db: Db,
  organizationId: string,
  o: { durationMinutes?: number; bufferBeforeMinutes?: number; bufferAfterMinutes?: number; resourceKinds?: ResourceKind[]; requiresReferral?: boolean; minimumNoticeMinutes?: number } = {},
) {
  return db.kysely.insertInto('appointmentType').values({
    organizationId, code: `t-${randomUUID().slice(0, 8)}`, name: 'Follow-up visit', specialtyId: null, durationMinutes: o.durationMinutes ?? 30,
    bufferBeforeMinutes: o.bufferBeforeMinutes ?? 0, bufferAfterMinutes: o.bufferAfterMinutes ?? 0, resourceKinds: o.resourceKinds ?? ['exam-room'],
    requiresReferral: o.requiresReferral ?? false, minimumNoticeMinutes: o.minimumNoticeMinutes ?? 0,
  }).returningAll().executeTakeFirstOrThrow()
}

/** Weekly availability every day of the week, `start`-`end` local time, from a year ago, open-ended. */
export async function addDailyAvailability(db: Db, providerId: string, facilityId: string, start = '08:00', end = '18:00', resourceId: string | null = null) {
  await db.kysely.insertInto('availabilityRule').values([1, 2, 3, 4, 5, 6, 7].map((weekday) => ({
    providerId, facilityId, resourceId, weekday, startTime: start, endTime: end, effectiveFrom: '2025-01-01', effectiveTo: null,
  }))).execute()
}

/** A facility with one provider available daily 08:00-18:00, one exam room, a 30-minute type and a patient. */
export async function clinic(db: Db, timeZone = 'America/New_York', typeOptions: Parameters<typeof addType>[2] = {}) {
  const { organization, facility } = await orgWithFacility(db, { timeZone })
  const provider = await addProvider(db, organization.id, [facility.id], 'Dr. Ana Ruiz, MD')
  const room = await addResource(db, facility.id, 'exam-room', 'Exam 1')
  const type = await addType(db, organization.id, typeOptions)
  await addDailyAvailability(db, provider.id, facility.id)
  const patient = await createPatient(db, facility.id, { familyName: 'Rivera', givenNames: 'Maria' })
  return { organization, facility, provider, room, type, patient }
}
