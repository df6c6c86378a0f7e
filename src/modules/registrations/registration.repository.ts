import { sql, type Kysely, type Transaction } from 'kysely'
import type { Database, RegistrationTable } from '../../db/database.ts'
import { scopeIds } from '../../db/query-helpers.ts'
import type { Insertable, Updateable } from 'kysely'

type Db = Kysely<Database>

export function findRegistrationById(db: Db, id: string, facilityIds: string[] | undefined) {
  let q = db.selectFrom('registration').selectAll().where('id', '=', id)
  if (facilityIds) q = q.where('facilityId', 'in', scopeIds(facilityIds))
  return q.executeTakeFirst()
}

export function lockRegistration(trx: Transaction<Database>, id: string, facilityIds: string[] | undefined) {
  let q = trx.selectFrom('registration').selectAll().where('id', '=', id).forUpdate()
  if (facilityIds) q = q.where('facilityId', 'in', scopeIds(facilityIds))
  return q.executeTakeFirst()
}

export const insertRegistration = (trx: Transaction<Database>, values: Insertable<RegistrationTable>) =>
  trx.insertInto('registration').values(values).returningAll().executeTakeFirstOrThrow()

export const updateRegistration = (trx: Transaction<Database>, id: string, changes: Updateable<RegistrationTable>) =>
  trx
    .updateTable('registration')
    .set({ ...changes, version: sql`version + 1`, updatedAt: sql`now()` })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow()

export function listRegistrations(
  db: Db,
  f: { facilityIds: string[] | undefined; facilityId?: string; patientId?: string; status?: string },
  cursor: (string | number)[] | undefined,
  limit: number,
) {
  let q = db.selectFrom('registration').selectAll().orderBy('createdAt', 'desc').orderBy('id', 'desc').limit(limit + 1)
  if (f.facilityIds) q = q.where('facilityId', 'in', scopeIds(f.facilityIds))
  if (f.facilityId) q = q.where('facilityId', '=', f.facilityId)
  if (f.patientId) q = q.where('patientId', '=', f.patientId)
  if (f.status) q = q.where('status', '=', f.status as never)
  if (cursor) q = q.where(sql<boolean>`(created_at, id) < (${String(cursor[0])}::timestamptz, ${String(cursor[1])}::uuid)`)
  return q.execute()
}

export const nextReceiptNumber = async (db: Db) =>
  `R-${(await sql<{ n: string }>`SELECT nextval('receipt_number_seq')::text AS n`.execute(db)).rows[0].n}`

export function paymentsWithRefunds(db: Db, where: { registrationId?: string; paymentId?: string; checkInId?: string }) {
  let q = db
    .selectFrom('payment')
    .selectAll('payment')
    .select(sql<{ id: string; amountCents: number; method: string; reference: string | null; reason: string; receiptNumber: string; refundedAt: string }[]>`
      COALESCE((SELECT jsonb_agg(jsonb_build_object('id', r.id, 'amountCents', r.amount_cents, 'method', r.method, 'reference', r.reference,
        'reason', r.reason, 'receiptNumber', r.receipt_number, 'refundedAt', r.refunded_at) ORDER BY r.refunded_at, r.id)
        FROM payment_refund r WHERE r.payment_id = payment.id), '[]'::jsonb)`.as('refunds'))
    .orderBy('collectedAt')
    .orderBy('id')
  if (where.registrationId) q = q.where('registrationId', '=', where.registrationId)
  else if (where.checkInId) q = q.where('checkInId', '=', where.checkInId)
  if (where.paymentId) q = q.where('payment.id', '=', where.paymentId)
  return q.execute()
}

export type PaymentRecord = Awaited<ReturnType<typeof paymentsWithRefunds>>[number]

/** Registrations on site at a facility, triaged first by ESI level, then by arrival. */
export function queueEntries(db: Db, facilityId: string, location: string | undefined) {
  let q = db
    .selectFrom('registration')
    .innerJoin('patient', 'patient.id', 'registration.patientId')
    .select([
      'registration.id', 'registration.patientId', 'registration.location', 'registration.esiLevel', 'registration.arrivedAt',
      'registration.flowState', 'registration.waitingAt', 'registration.roomedAt', 'registration.withProviderAt', 'registration.checkedOutAt',
      'patient.givenNames', 'patient.familyName',
    ])
    .where('registration.facilityId', '=', facilityId)
    .where('registration.flowState', 'in', ['waiting', 'roomed', 'with_provider'])
    .orderBy(sql`registration.esi_level ASC NULLS LAST`)
    .orderBy('registration.arrivedAt')
    .orderBy('registration.id')
    .limit(500)
  if (location) q = q.where('registration.location', '=', location)
  return q.execute()
}

/** Co-payments collected for a registration, net of their refunds. */
export const paidCopay = (db: Db, registrationId: string) =>
  sql<{ cents: string }>`
    SELECT (COALESCE(SUM(p.amount_cents), 0) - COALESCE((SELECT SUM(r.amount_cents) FROM payment_refund r JOIN payment q ON q.id = r.payment_id
      WHERE q.registration_id = ${registrationId} AND q.kind = 'copay'), 0))::text AS cents
    FROM payment p WHERE p.registration_id = ${registrationId} AND p.kind = 'copay'`.execute(db)

export const refundedCents = (db: Db, paymentId: string) =>
  sql<{ cents: string }>`SELECT COALESCE(SUM(amount_cents), 0)::text AS cents FROM payment_refund WHERE payment_id = ${paymentId}`.execute(db)
