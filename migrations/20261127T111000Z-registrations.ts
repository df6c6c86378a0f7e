import { sql, type Kysely } from 'kysely'

// Frozen in time: this file never imports application code.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE registration (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      organization_id uuid NOT NULL REFERENCES organization (id),
      facility_id uuid NOT NULL REFERENCES facility (id),
      patient_id uuid NOT NULL REFERENCES patient (id),
      kind text NOT NULL CHECK (kind IN ('outpatient_diagnostic', 'surgery', 'direct_admission', 'newborn_admission', 'emergency')),
      status text NOT NULL DEFAULT 'planned' CHECK (status IN ('planned', 'arrived', 'in_progress', 'finished', 'cancelled')),
      -- Department or area whose queue the patient joins (ED, radiology...).
      location text CHECK (length(location) BETWEEN 1 AND 100),
      planned_at timestamptz,
      details jsonb NOT NULL DEFAULT '{}',
      referral_required boolean NOT NULL DEFAULT false,
      copay_due_cents integer NOT NULL DEFAULT 0 CHECK (copay_due_cents >= 0),
      mother_patient_id uuid REFERENCES patient (id),
      delivery_registration_id uuid REFERENCES registration (id),
      birth_order smallint CHECK (birth_order BETWEEN 1 AND 12),
      arrived_at timestamptz,
      started_at timestamptz,
      finished_at timestamptz,
      cancelled_at timestamptz,
      cancel_reason text CHECK (length(cancel_reason) BETWEEN 1 AND 500),
      -- Patient flow while on site, each state with the time it was entered.
      flow_state text CHECK (flow_state IN ('waiting', 'roomed', 'with_provider', 'checked_out')),
      waiting_at timestamptz,
      roomed_at timestamptz,
      with_provider_at timestamptz,
      checked_out_at timestamptz,
      esi_level smallint CHECK (esi_level BETWEEN 1 AND 5),
      created_by text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      version integer NOT NULL DEFAULT 1 CHECK (version > 0),
      CHECK ((kind = 'newborn_admission') = (mother_patient_id IS NOT NULL)),
      CHECK ((kind = 'newborn_admission') = (delivery_registration_id IS NOT NULL AND birth_order IS NOT NULL)),
      CHECK ((status = 'cancelled') = (cancelled_at IS NOT NULL)),
      CHECK (status IN ('planned', 'cancelled') OR arrived_at IS NOT NULL),
      CHECK (flow_state IS NULL OR waiting_at IS NOT NULL),
      UNIQUE (delivery_registration_id, birth_order)
    )`.execute(db)
  await sql`CREATE INDEX registration_patient ON registration (patient_id, created_at)`.execute(db)
  await sql`CREATE INDEX registration_mother ON registration (mother_patient_id) WHERE mother_patient_id IS NOT NULL`.execute(db)
  await sql`CREATE INDEX registration_queue ON registration (facility_id, esi_level, arrived_at) WHERE flow_state IN ('waiting', 'roomed', 'with_provider')`.execute(db)
  await sql`CREATE INDEX registration_facility ON registration (facility_id, created_at, id)`.execute(db)

  // One check-in per registration (or per appointment, once scheduling links them).
  await sql`
    CREATE TABLE check_in (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      facility_id uuid NOT NULL REFERENCES facility (id),
      patient_id uuid NOT NULL REFERENCES patient (id),
      registration_id uuid UNIQUE REFERENCES registration (id),
      appointment_id uuid UNIQUE,
      arrived_at timestamptz NOT NULL,
      demographics_confirmed boolean NOT NULL,
      insurance_verified boolean NOT NULL,
      eligibility_check_id uuid,
      referral_required boolean NOT NULL,
      referral_verified boolean NOT NULL,
      consent_forms jsonb NOT NULL DEFAULT '[]',
      complete text[] NOT NULL,
      missing text[] NOT NULL,
      override_reason text CHECK (length(override_reason) BETWEEN 1 AND 500),
      created_by text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      CHECK (registration_id IS NOT NULL OR appointment_id IS NOT NULL),
      CHECK (cardinality(missing) = 0 OR override_reason IS NOT NULL)
    )`.execute(db)
  await sql`CREATE INDEX check_in_patient ON check_in (patient_id)`.execute(db)

  await sql`
    CREATE TABLE payment (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      facility_id uuid NOT NULL REFERENCES facility (id),
      patient_id uuid NOT NULL REFERENCES patient (id),
      registration_id uuid REFERENCES registration (id),
      check_in_id uuid REFERENCES check_in (id),
      kind text NOT NULL DEFAULT 'copay' CHECK (kind IN ('copay', 'deposit', 'other')),
      amount_cents integer NOT NULL CHECK (amount_cents > 0),
      method text NOT NULL CHECK (method IN ('cash', 'card', 'check', 'ach', 'other')),
      reference text CHECK (length(reference) BETWEEN 1 AND 100),
      receipt_number text NOT NULL UNIQUE,
      collected_by text NOT NULL,
      collected_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db)
  await sql`CREATE INDEX payment_patient ON payment (patient_id)`.execute(db)
  await sql`CREATE INDEX payment_registration ON payment (registration_id)`.execute(db)

  // Refunds are records of their own; the service keeps their sum within the payment (row lock).
  await sql`
    CREATE TABLE payment_refund (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      payment_id uuid NOT NULL REFERENCES payment (id),
      amount_cents integer NOT NULL CHECK (amount_cents > 0),
      method text NOT NULL CHECK (method IN ('cash', 'card', 'check', 'ach', 'other')),
      reference text CHECK (length(reference) BETWEEN 1 AND 100),
      reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
      receipt_number text NOT NULL UNIQUE,
      refunded_by text NOT NULL,
      refunded_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db)
  await sql`CREATE INDEX payment_refund_payment ON payment_refund (payment_id)`.execute(db)
  await sql`CREATE SEQUENCE receipt_number_seq START 100000`.execute(db)

  await sql`
    CREATE TABLE intake (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      registration_id uuid NOT NULL UNIQUE REFERENCES registration (id),
      patient_id uuid NOT NULL REFERENCES patient (id),
      facility_id uuid NOT NULL REFERENCES facility (id),
      chief_complaint text NOT NULL CHECK (length(chief_complaint) BETWEEN 1 AND 500),
      answers jsonb NOT NULL,
      proposed_esi smallint NOT NULL CHECK (proposed_esi BETWEEN 1 AND 5),
      decision_point text NOT NULL CHECK (decision_point IN ('A', 'B', 'C', 'D')),
      esi_level smallint NOT NULL CHECK (esi_level BETWEEN 1 AND 5),
      override_reason text CHECK (length(override_reason) BETWEEN 1 AND 500),
      recorded_by text NOT NULL,
      recorded_at timestamptz NOT NULL DEFAULT now(),
      CHECK ((esi_level = proposed_esi) OR override_reason IS NOT NULL)
    )`.execute(db)
  await sql`CREATE INDEX intake_patient ON intake (patient_id)`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE intake`.execute(db)
  await sql`DROP SEQUENCE receipt_number_seq`.execute(db)
  await sql`DROP TABLE payment_refund`.execute(db)
  await sql`DROP TABLE payment`.execute(db)
  await sql`DROP TABLE check_in`.execute(db)
  await sql`DROP TABLE registration`.execute(db)
}
