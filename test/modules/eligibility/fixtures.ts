import { randomUUID } from 'node:crypto'
import { sql, type Kysely } from 'kysely'
import type { Db } from '../../../src/db/create-db.ts'
import type { Database } from '../../../src/db/database.ts'

const uniqueId = (prefix: string) => `${prefix}${randomUUID().replaceAll('-', '').slice(0, 10).toUpperCase()}`

/** A payer, a network and a plan with a full benefit design, straight into the database. */
export async function payerWithPlan(db: Db, over: { x12PayerId?: string; copayCents?: number | null } = {}) {
  const payer = await db.kysely.insertInto('payer').values({ name: `Payer ${randomUUID().slice(0, 6)}`, x12PayerId: over.x12PayerId ?? uniqueId('P') })
    .returningAll().executeTakeFirstOrThrow()
  const network = await db.kysely.insertInto('network').values({ payerId: payer.id, name: 'Choice' }).returningAll().executeTakeFirstOrThrow()
  const plan = await db.kysely.insertInto('plan').values({
    payerId: payer.id, networkId: network.id, name: 'Gold PPO', planType: 'PPO', copayCents: over.copayCents === undefined ? 2500 : over.copayCents,
    deductibleCents: 150000, familyDeductibleCents: 300000, coinsurancePercent: 20, oopMaxCents: 600000, oonDeductibleCents: 300000,
    oonCoinsurancePercent: 40, oonOopMaxCents: 1200000, priorAuthServiceTypes: ['2'],
  }).returningAll().executeTakeFirstOrThrow()
  return { payer, network, plan }
}

/** An active coverage where the patient is the subscriber. */
export async function coverageFor(db: Db, patientId: string, planId: string, over: { memberId?: string; priority?: 'primary' | 'secondary' | 'tertiary'; effectiveFrom?: string; effectiveTo?: string | null } = {}) {
  return db.kysely.insertInto('coverage').values({
    patientId, planId, priority: over.priority ?? 'primary', relationship: 'self', memberId: over.memberId ?? uniqueId('M'),
    effectiveFrom: over.effectiveFrom ?? '2026-01-01', effectiveTo: over.effectiveTo ?? null, subscriberFamilyName: null, subscriberGivenNames: null,
    subscriberBirthDate: null, groupNumber: 'G-1',
  }).returningAll().executeTakeFirstOrThrow()
}

/** A valid NPI (Luhn with the 80840 prefix). */
export const NPI = '1234567893'
export const OTHER_NPI = '1245319599'

/** An appointment at the facility through the scheduling tables (plain SQL: only the columns they require). */
export async function insertAppointment(k: Kysely<Database>, facility: { id: string; organizationId: string }, patientId: string, startAt: string) {
  const provider = await sql<{ id: string }>`
    INSERT INTO provider (organization_id, npi, display_name) VALUES (${facility.organizationId}, ${NPI}, 'Dr Test')
    ON CONFLICT (organization_id, npi) DO UPDATE SET display_name = excluded.display_name RETURNING id`.execute(k)
  const type = await sql<{ id: string }>`
    INSERT INTO appointment_type (organization_id, code, name, duration_minutes) VALUES (${facility.organizationId}, 'visit', 'Visit', 30)
    ON CONFLICT (organization_id, code) DO UPDATE SET name = excluded.name RETURNING id`.execute(k)
  const appt = await sql<{ id: string }>`
    INSERT INTO appointment (facility_id, patient_id, provider_id, appointment_type_id, start_at, end_at, created_by)
    VALUES (${facility.id}, ${patientId}, ${provider.rows[0].id}, ${type.rows[0].id}, ${startAt}::timestamptz, ${startAt}::timestamptz + interval '30 minutes', 'test')
    RETURNING id`.execute(k)
  return appt.rows[0].id
}

