import { sql, type Kysely } from 'kysely'

// Frozen in time: this file never imports application code.
export async function up(db: Kysely<any>): Promise<void> {
  // Reference data becomes editable (If-Match needs a version) and retirable: a row that past
  // records still reference is deactivated rather than deleted, so the foreign keys stay whole.
  await sql`ALTER TABLE specialty ADD COLUMN active boolean NOT NULL DEFAULT true, ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version > 0)`.execute(db)
  await sql`ALTER TABLE resource ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version > 0)`.execute(db)
  await sql`ALTER TABLE appointment_type ADD COLUMN active boolean NOT NULL DEFAULT true, ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version > 0)`.execute(db)
  await sql`ALTER TABLE availability_rule ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version > 0)`.execute(db)

  // entered-in-error (FHIR): who marked it, when and why. An appointment cancelled first and
  // found to be an error afterwards keeps its cancellation record, so the old rule "cancellation
  // fields iff cancelled" (appointment_check2 in the scheduling migration) becomes two rules.
  await sql`
    ALTER TABLE appointment
      ADD COLUMN errored_at timestamptz,
      ADD COLUMN errored_by text CHECK (length(errored_by) BETWEEN 1 AND 255),
      ADD COLUMN error_reason text CHECK (length(error_reason) BETWEEN 1 AND 500),
      ADD CONSTRAINT appointment_error_recorded
        CHECK ((status = 'entered-in-error') = (errored_at IS NOT NULL AND errored_by IS NOT NULL AND error_reason IS NOT NULL))`.execute(db)
  await sql`ALTER TABLE appointment DROP CONSTRAINT appointment_check2`.execute(db)
  await sql`
    ALTER TABLE appointment
      ADD CONSTRAINT appointment_cancellation_recorded
        CHECK (status <> 'cancelled' OR (cancelled_at IS NOT NULL AND cancel_reason IS NOT NULL AND cancelled_by IS NOT NULL)),
      ADD CONSTRAINT appointment_cancellation_only_when_cancelled
        CHECK (cancelled_at IS NULL OR status IN ('cancelled', 'entered-in-error'))`.execute(db)

  // Referral lists page by facility, newest first.
  await sql`CREATE INDEX referral_facility_created ON referral (facility_id, created_at DESC, id DESC)`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX referral_facility_created`.execute(db)
  await sql`
    ALTER TABLE appointment
      DROP CONSTRAINT appointment_cancellation_only_when_cancelled,
      DROP CONSTRAINT appointment_cancellation_recorded,
      ADD CONSTRAINT appointment_check2
        CHECK ((status = 'cancelled') = (cancelled_at IS NOT NULL AND cancel_reason IS NOT NULL AND cancelled_by IS NOT NULL))`.execute(db)
  await sql`ALTER TABLE appointment DROP CONSTRAINT appointment_error_recorded, DROP COLUMN error_reason, DROP COLUMN errored_by, DROP COLUMN errored_at`.execute(db)
  await sql`ALTER TABLE availability_rule DROP COLUMN version`.execute(db)
  await sql`ALTER TABLE appointment_type DROP COLUMN version, DROP COLUMN active`.execute(db)
  await sql`ALTER TABLE resource DROP COLUMN version`.execute(db)
  await sql`ALTER TABLE specialty DROP COLUMN version, DROP COLUMN active`.execute(db)
}
