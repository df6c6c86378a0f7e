import { sql, type Kysely } from 'kysely'

// Frozen in time: this file never imports application code.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE specialty (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      code text NOT NULL UNIQUE CHECK (code ~ '^[a-z0-9-]{1,64}$'),
      name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200)
    )`.execute(db)

  await sql`
    CREATE TABLE provider (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      organization_id uuid NOT NULL REFERENCES organization (id),
      npi text NOT NULL CHECK (npi ~ '^[0-9]{10}$'),
      display_name text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
      active boolean NOT NULL DEFAULT true,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      version integer NOT NULL DEFAULT 1 CHECK (version > 0),
      UNIQUE (organization_id, npi)
    )`.execute(db)
  await sql`
    CREATE TABLE provider_specialty (
      provider_id uuid NOT NULL REFERENCES provider (id) ON DELETE CASCADE,
      specialty_id uuid NOT NULL REFERENCES specialty (id),
      PRIMARY KEY (provider_id, specialty_id)
    )`.execute(db)
  await sql`CREATE INDEX provider_specialty_specialty ON provider_specialty (specialty_id)`.execute(db)
  await sql`
    CREATE TABLE provider_facility (
      provider_id uuid NOT NULL REFERENCES provider (id) ON DELETE CASCADE,
      facility_id uuid NOT NULL REFERENCES facility (id),
      PRIMARY KEY (provider_id, facility_id)
    )`.execute(db)
  await sql`CREATE INDEX provider_facility_facility ON provider_facility (facility_id)`.execute(db)

  // Rooms and equipment: anything a booking reserves besides the provider.
  await sql`
    CREATE TABLE resource (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      facility_id uuid NOT NULL REFERENCES facility (id),
      kind text NOT NULL CHECK (kind IN ('exam-room', 'procedure-room', 'operating-room', 'equipment')),
      name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
      active boolean NOT NULL DEFAULT true,
      created_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (facility_id, name)
    )`.execute(db)

  await sql`
    CREATE TABLE appointment_type (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      organization_id uuid NOT NULL REFERENCES organization (id),
      code text NOT NULL CHECK (code ~ '^[a-z0-9-]{1,64}$'),
      name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
      specialty_id uuid REFERENCES specialty (id),
      duration_minutes integer NOT NULL CHECK (duration_minutes BETWEEN 5 AND 720),
      buffer_before_minutes integer NOT NULL DEFAULT 0 CHECK (buffer_before_minutes BETWEEN 0 AND 240),
      buffer_after_minutes integer NOT NULL DEFAULT 0 CHECK (buffer_after_minutes BETWEEN 0 AND 240),
      resource_kinds text[] NOT NULL DEFAULT '{}'
        CHECK (resource_kinds <@ ARRAY['exam-room', 'procedure-room', 'operating-room', 'equipment']::text[]),
      requires_referral boolean NOT NULL DEFAULT false,
      requires_prior_auth boolean NOT NULL DEFAULT false,
      minimum_notice_minutes integer NOT NULL DEFAULT 0 CHECK (minimum_notice_minutes BETWEEN 0 AND 525600),
      created_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (organization_id, code)
    )`.execute(db)

  // Weekly availability in the facility's local time (its IANA zone), with effective dates.
  await sql`
    CREATE TABLE availability_rule (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      provider_id uuid NOT NULL REFERENCES provider (id),
      facility_id uuid NOT NULL REFERENCES facility (id),
      resource_id uuid REFERENCES resource (id),
      weekday integer NOT NULL CHECK (weekday BETWEEN 1 AND 7),
      start_time time NOT NULL,
      end_time time NOT NULL CHECK (end_time > start_time),
      effective_from date NOT NULL,
      effective_to date CHECK (effective_to >= effective_from),
      created_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db)
  await sql`CREATE INDEX availability_rule_provider ON availability_rule (provider_id, facility_id)`.execute(db)

  // One-off extra availability and blocks (leave, meetings) are instants.
  await sql`
    CREATE TABLE availability_exception (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      provider_id uuid NOT NULL REFERENCES provider (id),
      facility_id uuid NOT NULL REFERENCES facility (id),
      kind text NOT NULL CHECK (kind IN ('extra', 'block')),
      resource_id uuid REFERENCES resource (id),
      start_at timestamptz NOT NULL,
      end_at timestamptz NOT NULL CHECK (end_at > start_at),
      reason text CHECK (length(reason) <= 500),
      created_at timestamptz NOT NULL DEFAULT now(),
      CHECK (kind = 'extra' OR resource_id IS NULL)
    )`.execute(db)
  await sql`CREATE INDEX availability_exception_provider ON availability_exception (provider_id, start_at)`.execute(db)

  await sql`
    CREATE TABLE referral (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      facility_id uuid NOT NULL REFERENCES facility (id),
      patient_id uuid NOT NULL REFERENCES patient (id),
      referring_provider_npi text NOT NULL CHECK (referring_provider_npi ~ '^[0-9]{10}$'),
      referring_provider_name text NOT NULL CHECK (length(referring_provider_name) BETWEEN 1 AND 200),
      office_contact text CHECK (length(office_contact) <= 200),
      specialty_id uuid REFERENCES specialty (id),
      reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 1000),
      icd10_codes text[] NOT NULL CHECK (cardinality(icd10_codes) BETWEEN 1 AND 12),
      authorization_number text CHECK (length(authorization_number) BETWEEN 1 AND 50),
      visits_authorized integer NOT NULL CHECK (visits_authorized BETWEEN 1 AND 999),
      visits_used integer NOT NULL DEFAULT 0 CHECK (visits_used >= 0),
      valid_from date NOT NULL,
      valid_to date NOT NULL CHECK (valid_to >= valid_from),
      status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'cancelled')),
      created_at timestamptz NOT NULL DEFAULT now(),
      version integer NOT NULL DEFAULT 1 CHECK (version > 0),
      CHECK (visits_used <= visits_authorized)
    )`.execute(db)
  await sql`CREATE INDEX referral_patient ON referral (patient_id)`.execute(db)

  await sql`
    CREATE TABLE appointment (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      facility_id uuid NOT NULL REFERENCES facility (id),
      patient_id uuid NOT NULL REFERENCES patient (id),
      provider_id uuid NOT NULL REFERENCES provider (id),
      appointment_type_id uuid NOT NULL REFERENCES appointment_type (id),
      resource_ids uuid[] NOT NULL DEFAULT '{}',
      start_at timestamptz NOT NULL,
      end_at timestamptz NOT NULL CHECK (end_at > start_at),
      status text NOT NULL DEFAULT 'booked'
        CHECK (status IN ('booked', 'arrived', 'checked-in', 'fulfilled', 'cancelled', 'noshow', 'entered-in-error')),
      overbooked boolean NOT NULL DEFAULT false,
      overbook_reason text CHECK (length(overbook_reason) BETWEEN 1 AND 500),
      referral_id uuid REFERENCES referral (id),
      referral_override_reason text CHECK (length(referral_override_reason) BETWEEN 1 AND 500),
      referral_visit_counted boolean NOT NULL DEFAULT false,
      note text CHECK (length(note) <= 1000),
      cancelled_at timestamptz,
      cancelled_by text,
      cancel_reason text CHECK (length(cancel_reason) BETWEEN 1 AND 500),
      late_cancellation boolean,
      created_by text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      version integer NOT NULL DEFAULT 1 CHECK (version > 0),
      CHECK (overbooked = (overbook_reason IS NOT NULL)),
      CHECK ((status = 'cancelled') = (cancelled_at IS NOT NULL AND cancel_reason IS NOT NULL AND cancelled_by IS NOT NULL))
    )`.execute(db)
  await sql`CREATE INDEX appointment_provider_time ON appointment (provider_id, start_at)`.execute(db)
  await sql`CREATE INDEX appointment_patient ON appointment (patient_id, start_at)`.execute(db)

  await sql`
    CREATE TABLE slot_hold (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      facility_id uuid NOT NULL REFERENCES facility (id),
      provider_id uuid NOT NULL REFERENCES provider (id),
      appointment_type_id uuid NOT NULL REFERENCES appointment_type (id),
      patient_id uuid REFERENCES patient (id),
      resource_ids uuid[] NOT NULL DEFAULT '{}',
      start_at timestamptz NOT NULL,
      end_at timestamptz NOT NULL CHECK (end_at > start_at),
      expires_at timestamptz NOT NULL,
      created_by text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db)

  await sql`
    CREATE TABLE surgical_case (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      facility_id uuid NOT NULL REFERENCES facility (id),
      patient_id uuid NOT NULL REFERENCES patient (id),
      surgeon_id uuid NOT NULL REFERENCES provider (id),
      procedure_codes text[] NOT NULL CHECK (cardinality(procedure_codes) BETWEEN 1 AND 10),
      expected_duration_minutes integer NOT NULL CHECK (expected_duration_minutes BETWEEN 15 AND 1440),
      anesthesia text NOT NULL CHECK (anesthesia IN ('general', 'regional', 'local', 'sedation', 'none')),
      priority text NOT NULL CHECK (priority IN ('elective', 'urgent', 'emergency')),
      status text NOT NULL DEFAULT 'requested'
        CHECK (status IN ('requested', 'pending-facility-confirmation', 'scheduled', 'needs-reschedule', 'completed', 'cancelled')),
      operating_room_id uuid REFERENCES resource (id),
      start_at timestamptz,
      end_at timestamptz,
      checklist_history_physical text NOT NULL DEFAULT 'pending',
      checklist_labs text NOT NULL DEFAULT 'pending',
      checklist_clearance text NOT NULL DEFAULT 'pending',
      checklist_prior_authorization text NOT NULL DEFAULT 'pending',
      checklist_consent text NOT NULL DEFAULT 'pending',
      status_reason text CHECK (length(status_reason) <= 500),
      bumped_by_case_id uuid REFERENCES surgical_case (id),
      created_by text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      version integer NOT NULL DEFAULT 1 CHECK (version > 0),
      CHECK (ARRAY[checklist_history_physical, checklist_labs, checklist_clearance, checklist_prior_authorization, checklist_consent]
        <@ ARRAY['pending', 'complete', 'not-applicable']),
      CHECK ((start_at IS NULL) = (end_at IS NULL) AND (start_at IS NULL OR end_at > start_at)),
      CHECK (status NOT IN ('pending-facility-confirmation', 'scheduled') OR (start_at IS NOT NULL AND operating_room_id IS NOT NULL))
    )`.execute(db)

  // What occupies a provider or a resource, buffers included. Appointments, live holds and
  // surgical cases all live here, so one exclusion constraint per kind of owner makes double
  // booking impossible. Holds carry expires_at; the constraint cannot consult now(), so booking
  // transactions delete expired holds of the resources they lock before inserting.
  // Deliberate overbookings are left out of the constraint (and need their own permission).
  await sql`
    CREATE TABLE reservation (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      provider_id uuid REFERENCES provider (id),
      resource_id uuid REFERENCES resource (id),
      period tstzrange NOT NULL CHECK (NOT isempty(period) AND lower_inc(period) AND NOT upper_inc(period)),
      appointment_id uuid REFERENCES appointment (id) ON DELETE CASCADE,
      hold_id uuid REFERENCES slot_hold (id) ON DELETE CASCADE,
      surgical_case_id uuid REFERENCES surgical_case (id) ON DELETE CASCADE,
      expires_at timestamptz,
      overbook boolean NOT NULL DEFAULT false,
      CHECK (num_nonnulls(provider_id, resource_id) = 1),
      CHECK (num_nonnulls(appointment_id, hold_id, surgical_case_id) = 1),
      CHECK ((hold_id IS NULL) = (expires_at IS NULL)),
      CHECK (NOT overbook OR appointment_id IS NOT NULL),
      -- Bounded spans let lookups use plain btree indexes on the start (see below).
      CHECK (upper(period) - lower(period) <= interval '2 days'),
      CONSTRAINT reservation_provider_no_overlap
        EXCLUDE USING gist (provider_id WITH =, period WITH &&) WHERE (provider_id IS NOT NULL AND NOT overbook),
      CONSTRAINT reservation_resource_no_overlap
        EXCLUDE USING gist (resource_id WITH =, period WITH &&) WHERE (resource_id IS NOT NULL AND NOT overbook)
    )`.execute(db)
  await sql`CREATE INDEX reservation_appointment ON reservation (appointment_id) WHERE appointment_id IS NOT NULL`.execute(db)
  await sql`CREATE INDEX reservation_hold ON reservation (hold_id) WHERE hold_id IS NOT NULL`.execute(db)
  await sql`CREATE INDEX reservation_case ON reservation (surgical_case_id) WHERE surgical_case_id IS NOT NULL`.execute(db)
  // Lookups by window go through these, not the constraints' GiST indexes: on 1M rows a GiST
  // (uuid, tstzrange) scan for one provider's four weeks took 280 ms, the btree 0.4 ms.
  await sql`CREATE INDEX reservation_provider_start ON reservation (provider_id, lower(period)) WHERE provider_id IS NOT NULL`.execute(db)
  await sql`CREATE INDEX reservation_resource_start ON reservation (resource_id, lower(period)) WHERE resource_id IS NOT NULL`.execute(db)
  await sql`CREATE INDEX reservation_hold_expiry ON reservation (expires_at) WHERE hold_id IS NOT NULL`.execute(db)

  await sql`
    CREATE TABLE waitlist_entry (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      facility_id uuid NOT NULL REFERENCES facility (id),
      patient_id uuid NOT NULL REFERENCES patient (id),
      appointment_type_id uuid NOT NULL REFERENCES appointment_type (id),
      provider_id uuid REFERENCES provider (id),
      specialty_id uuid REFERENCES specialty (id),
      earliest_date date NOT NULL,
      latest_date date NOT NULL CHECK (latest_date >= earliest_date),
      status text NOT NULL DEFAULT 'waiting' CHECK (status IN ('waiting', 'booked', 'removed')),
      created_by text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db)
  await sql`CREATE INDEX waitlist_entry_facility ON waitlist_entry (facility_id, created_at) WHERE status = 'waiting'`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of [
    'waitlist_entry', 'reservation', 'surgical_case', 'slot_hold', 'appointment', 'referral', 'availability_exception',
    'availability_rule', 'appointment_type', 'resource', 'provider_facility', 'provider_specialty', 'provider', 'specialty',
  ]) {
    await sql`DROP TABLE ${sql.table(table)}`.execute(db)
  }
}
