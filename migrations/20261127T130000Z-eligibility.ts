import { sql, type Kysely } from 'kysely'

// Frozen in time: this file never imports application code.
export async function up(db: Kysely<any>): Promise<void> {
  // Payers, plans and networks are reference data shared by every facility (no PHI).
  await sql`
    CREATE TABLE payer (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
      x12_payer_id text NOT NULL UNIQUE CHECK (x12_payer_id ~ '^[A-Za-z0-9]{2,80}$'),
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      version integer NOT NULL DEFAULT 1 CHECK (version > 0)
    )`.execute(db)

  await sql`
    CREATE TABLE network (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      payer_id uuid NOT NULL REFERENCES payer (id),
      name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
      created_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (payer_id, name)
    )`.execute(db)

  // Participation of a provider (by NPI) in a network over a period; the scheduling module's
  // provider table joins here on npi.
  await sql`
    CREATE TABLE provider_network (
      network_id uuid NOT NULL REFERENCES network (id),
      npi text NOT NULL CHECK (npi ~ '^[0-9]{10}$'),
      effective_from date NOT NULL,
      effective_to date,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (network_id, npi),
      CHECK (effective_to IS NULL OR effective_to >= effective_from)
    )`.execute(db)
  await sql`CREATE INDEX provider_network_npi ON provider_network (npi)`.execute(db)

  // A plan's benefit design: what the sandbox clearinghouse's simulated payer answers with.
  await sql`
    CREATE TABLE plan (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      payer_id uuid NOT NULL REFERENCES payer (id),
      network_id uuid REFERENCES network (id),
      name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
      plan_type text NOT NULL CHECK (plan_type IN ('HMO', 'PPO', 'EPO', 'POS', 'HDHP', 'medicare', 'medicaid', 'tricare', 'va', 'other')),
      copay_cents integer CHECK (copay_cents >= 0),
      deductible_cents integer CHECK (deductible_cents >= 0),
      family_deductible_cents integer CHECK (family_deductible_cents >= 0),
      coinsurance_percent integer CHECK (coinsurance_percent BETWEEN 0 AND 100),
      oop_max_cents integer CHECK (oop_max_cents >= 0),
      oon_deductible_cents integer CHECK (oon_deductible_cents >= 0),
      oon_coinsurance_percent integer CHECK (oon_coinsurance_percent BETWEEN 0 AND 100),
      oon_oop_max_cents integer CHECK (oon_oop_max_cents >= 0),
      prior_auth_service_types text[] NOT NULL DEFAULT '{}',
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      version integer NOT NULL DEFAULT 1 CHECK (version > 0),
      UNIQUE (payer_id, name)
    )`.execute(db)

  await sql`
    CREATE TABLE coverage (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      patient_id uuid NOT NULL REFERENCES patient (id),
      plan_id uuid NOT NULL REFERENCES plan (id),
      priority text NOT NULL CHECK (priority IN ('primary', 'secondary', 'tertiary')),
      status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'cancelled', 'entered-in-error')),
      relationship text NOT NULL CHECK (relationship IN ('self', 'spouse', 'child', 'other')),
      subscriber_family_name text CHECK (length(subscriber_family_name) BETWEEN 1 AND 100),
      subscriber_given_names text CHECK (length(subscriber_given_names) BETWEEN 1 AND 200),
      subscriber_birth_date date,
      member_id text NOT NULL CHECK (member_id ~ '^[A-Za-z0-9-]{1,80}$'),
      group_number text CHECK (group_number ~ '^[A-Za-z0-9-]{1,50}$'),
      effective_from date NOT NULL,
      effective_to date,
      verified_at timestamptz,
      verified_active boolean,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      version integer NOT NULL DEFAULT 1 CHECK (version > 0),
      CHECK (effective_to IS NULL OR effective_to >= effective_from),
      -- The patient is the subscriber, or the subscriber is named with a date of birth.
      CHECK ((relationship = 'self') = (subscriber_family_name IS NULL AND subscriber_given_names IS NULL AND subscriber_birth_date IS NULL)),
      CHECK (relationship = 'self' OR (subscriber_family_name IS NOT NULL AND subscriber_given_names IS NOT NULL AND subscriber_birth_date IS NOT NULL))
    )`.execute(db)
  // One active coverage per priority per patient, held by the database.
  await sql`CREATE UNIQUE INDEX coverage_one_active_per_priority ON coverage (patient_id, priority) WHERE status = 'active'`.execute(db)
  await sql`CREATE INDEX coverage_plan_member ON coverage (plan_id, member_id)`.execute(db)

  await sql`CREATE SEQUENCE x12_control_number MINVALUE 1 MAXVALUE 999999999 CYCLE`.execute(db)

  await sql`
    CREATE TABLE eligibility_batch (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      facility_id uuid NOT NULL REFERENCES facility (id),
      status text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'complete')),
      total integer NOT NULL CHECK (total > 0),
      service_type_codes text[] NOT NULL CHECK (cardinality(service_type_codes) BETWEEN 1 AND 10),
      requested_by text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      completed_at timestamptz
    )`.execute(db)

  await sql`
    CREATE TABLE eligibility_check (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      coverage_id uuid NOT NULL REFERENCES coverage (id),
      patient_id uuid NOT NULL REFERENCES patient (id),
      facility_id uuid NOT NULL REFERENCES facility (id),
      batch_id uuid REFERENCES eligibility_batch (id),
      appointment_id uuid,
      status text NOT NULL CHECK (status IN ('complete', 'rejected', 'failed', 'timeout')),
      service_type_codes text[] NOT NULL CHECK (cardinality(service_type_codes) BETWEEN 1 AND 10),
      provider_npi text NOT NULL CHECK (provider_npi ~ '^[0-9]{10}$'),
      provider_in_network boolean,
      date_of_service date NOT NULL,
      trace_number text NOT NULL,
      control_number integer NOT NULL,
      gateway text NOT NULL,
      active boolean,
      plan_description text,
      coverage_start date,
      coverage_end date,
      benefits jsonb NOT NULL DEFAULT '[]',
      rejections jsonb NOT NULL DEFAULT '[]',
      error_code text,
      request_x12 text NOT NULL,
      response_x12 text,
      requested_by text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      completed_at timestamptz
    )`.execute(db)
  await sql`CREATE INDEX eligibility_check_coverage ON eligibility_check (coverage_id, date_of_service, completed_at DESC)`.execute(db)
  await sql`CREATE INDEX eligibility_check_batch ON eligibility_check (batch_id) WHERE batch_id IS NOT NULL`.execute(db)

  await sql`
    CREATE TABLE eligibility_batch_item (
      batch_id uuid NOT NULL REFERENCES eligibility_batch (id),
      position integer NOT NULL CHECK (position >= 0),
      coverage_id uuid NOT NULL REFERENCES coverage (id),
      date_of_service date NOT NULL,
      provider_npi text NOT NULL CHECK (provider_npi ~ '^[0-9]{10}$'),
      appointment_id uuid,
      status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'complete', 'rejected', 'failed', 'timeout')),
      check_id uuid REFERENCES eligibility_check (id),
      error_code text,
      PRIMARY KEY (batch_id, position)
    )`.execute(db)

  await sql`
    CREATE TABLE fee_schedule_item (
      facility_id uuid NOT NULL REFERENCES facility (id),
      cpt_code text NOT NULL CHECK (cpt_code ~ '^[0-9A-Z]{5}$'),
      description text CHECK (length(description) <= 200),
      charge_cents integer NOT NULL CHECK (charge_cents >= 0),
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (facility_id, cpt_code)
    )`.execute(db)

  await sql`
    CREATE TABLE estimate (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      patient_id uuid NOT NULL REFERENCES patient (id),
      facility_id uuid NOT NULL REFERENCES facility (id),
      coverage_id uuid REFERENCES coverage (id),
      eligibility_check_id uuid REFERENCES eligibility_check (id),
      kind text NOT NULL CHECK (kind IN ('insured', 'self-pay')),
      in_network boolean,
      total_charge_cents integer NOT NULL CHECK (total_charge_cents >= 0),
      patient_share_cents integer NOT NULL CHECK (patient_share_cents >= 0),
      plan_share_cents integer NOT NULL CHECK (plan_share_cents >= 0),
      lines jsonb NOT NULL,
      requested_by text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      CHECK (patient_share_cents + plan_share_cents = total_charge_cents),
      CHECK ((kind = 'self-pay') = (coverage_id IS NULL))
    )`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE estimate`.execute(db)
  await sql`DROP TABLE fee_schedule_item`.execute(db)
  await sql`DROP TABLE eligibility_batch_item`.execute(db)
  await sql`DROP TABLE eligibility_check`.execute(db)
  await sql`DROP TABLE eligibility_batch`.execute(db)
  await sql`DROP SEQUENCE x12_control_number`.execute(db)
  await sql`DROP TABLE coverage`.execute(db)
  await sql`DROP TABLE plan`.execute(db)
  await sql`DROP TABLE provider_network`.execute(db)
  await sql`DROP TABLE network`.execute(db)
  await sql`DROP TABLE payer`.execute(db)
}
