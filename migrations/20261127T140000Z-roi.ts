import { sql, type Kysely } from 'kysely'

// Frozen in time: this file never imports application code.
// Release of information (HIPAA 164.524 access, 164.508 authorizations, 164.528 accounting).

const LEGAL_BASES = `'individual_access', 'third_party_directive', 'authorization', 'subpoena', 'court_order',
  'required_by_law', 'public_health', 'abuse_neglect_report', 'health_oversight', 'law_enforcement', 'decedent',
  'organ_donation', 'research', 'serious_threat', 'specialized_government', 'workers_compensation', 'tpo'`

export async function up(db: Kysely<any>): Promise<void> {
  // Third-party fee schedules: one per state (facility_id NULL), optionally overridden per facility.
  await sql`
    CREATE TABLE roi_fee_schedule (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      state_code text NOT NULL CHECK (state_code ~ '^[A-Z]{2}$'),
      facility_id uuid REFERENCES facility (id),
      base_fee_cents integer NOT NULL CHECK (base_fee_cents >= 0),
      per_page_cents integer NOT NULL CHECK (per_page_cents >= 0),
      cap_cents integer CHECK (cap_cents >= 0),
      payment_required_before_release boolean NOT NULL DEFAULT false,
      updated_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db)
  await sql`CREATE UNIQUE INDEX roi_fee_schedule_state ON roi_fee_schedule (state_code) WHERE facility_id IS NULL`.execute(db)
  await sql`CREATE UNIQUE INDEX roi_fee_schedule_facility ON roi_fee_schedule (facility_id) WHERE facility_id IS NOT NULL`.execute(db)

  await sql`
    CREATE TABLE roi_request (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      organization_id uuid NOT NULL REFERENCES organization (id),
      facility_id uuid NOT NULL REFERENCES facility (id),
      patient_id uuid NOT NULL REFERENCES patient (id),
      requester_type text NOT NULL CHECK (requester_type IN ('patient', 'personal_representative', 'provider',
        'rehabilitation_facility', 'attorney', 'insurer', 'government_agency', 'other')),
      requester_name text NOT NULL CHECK (length(requester_name) BETWEEN 1 AND 200),
      requester_organization text CHECK (length(requester_organization) <= 200),
      requester_address text CHECK (length(requester_address) <= 500),
      requester_email text CHECK (length(requester_email) <= 254),
      requester_phone text CHECK (length(requester_phone) <= 40),
      legal_basis text NOT NULL CHECK (legal_basis IN (${sql.raw(LEGAL_BASES)})),
      purpose text CHECK (length(purpose) <= 500),
      record_types text[] NOT NULL CHECK (cardinality(record_types) BETWEEN 1 AND 20),
      records_from date,
      records_to date,
      format text NOT NULL CHECK (format IN ('paper', 'electronic')),
      delivery_method text NOT NULL CHECK (delivery_method IN ('mail', 'pickup', 'fax', 'email', 'portal', 'secure_download')),
      received_on date NOT NULL,
      due_on date NOT NULL,
      -- HIPAA 164.524(b)(2): one extension only, of at most 30 days.
      extended_due_on date,
      extension_reason text CHECK (length(extension_reason) BETWEEN 1 AND 1000),
      extension_notified_on date,
      status text NOT NULL DEFAULT 'received' CHECK (status IN ('received', 'in_review', 'pending_authorization',
        'in_progress', 'ready_for_release', 'released', 'denied', 'withdrawn')),
      created_by text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      version integer NOT NULL DEFAULT 1 CHECK (version > 0),
      CHECK (records_from IS NULL OR records_to IS NULL OR records_from <= records_to),
      CHECK (due_on > received_on),
      CHECK ((extended_due_on IS NULL) = (extension_reason IS NULL) AND (extended_due_on IS NULL) = (extension_notified_on IS NULL)),
      CHECK (extended_due_on IS NULL OR (extended_due_on > due_on AND extended_due_on <= due_on + 30)),
      CHECK (extension_notified_on IS NULL OR extension_notified_on BETWEEN received_on AND due_on)
    )`.execute(db)
  await sql`CREATE INDEX roi_request_facility_status ON roi_request (facility_id, status, created_at, id)`.execute(db)
  await sql`CREATE INDEX roi_request_patient ON roi_request (patient_id)`.execute(db)
  await sql`CREATE INDEX roi_request_open_due ON roi_request ((coalesce(extended_due_on, due_on)))
    WHERE status NOT IN ('released', 'denied', 'withdrawn')`.execute(db)

  // Who moved a request and why: the reason may name clinical facts, so it lives here, not in the audit detail.
  await sql`
    CREATE TABLE roi_status_change (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      request_id uuid NOT NULL REFERENCES roi_request (id),
      from_status text,
      to_status text NOT NULL,
      reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 1000),
      actor_sub text NOT NULL,
      changed_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db)
  await sql`CREATE INDEX roi_status_change_request ON roi_status_change (request_id, id)`.execute(db)

  await sql`
    CREATE TABLE roi_attachment (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      request_id uuid NOT NULL REFERENCES roi_request (id),
      kind text NOT NULL CHECK (kind IN ('authorization_form', 'released_document', 'correspondence', 'legal_process', 'other')),
      media_type text NOT NULL CHECK (media_type IN ('application/pdf', 'image/tiff', 'image/png', 'image/jpeg')),
      size_bytes integer NOT NULL CHECK (size_bytes > 0),
      sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
      page_count integer CHECK (page_count > 0),
      content bytea NOT NULL,
      created_by text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      CHECK (octet_length(content) = size_bytes)
    )`.execute(db)
  await sql`CREATE INDEX roi_attachment_request ON roi_attachment (request_id, created_at)`.execute(db)

  // HIPAA 164.508(c): the elements are recorded as given (possibly incomplete) so that the
  // validity check can name what is missing.
  await sql`
    CREATE TABLE roi_authorization (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      request_id uuid NOT NULL REFERENCES roi_request (id),
      description_of_information text CHECK (length(description_of_information) <= 1000),
      disclosing_party text CHECK (length(disclosing_party) <= 200),
      recipient text CHECK (length(recipient) <= 500),
      purpose text CHECK (length(purpose) <= 500),
      expires_on date,
      expiration_event text CHECK (length(expiration_event) <= 500),
      signed_by text CHECK (length(signed_by) <= 200),
      signed_on date,
      signed_by_representative boolean NOT NULL DEFAULT false,
      representative_authority text CHECK (length(representative_authority) <= 500),
      statement_right_to_revoke boolean NOT NULL DEFAULT false,
      statement_conditioning boolean NOT NULL DEFAULT false,
      statement_redisclosure boolean NOT NULL DEFAULT false,
      form_attachment_id uuid REFERENCES roi_attachment (id),
      revoked_on date,
      revocation_received_on date,
      created_by text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      CHECK ((revoked_on IS NULL) = (revocation_received_on IS NULL))
    )`.execute(db)
  await sql`CREATE INDEX roi_authorization_request ON roi_authorization (request_id, created_at)`.execute(db)

  await sql`
    CREATE TABLE roi_denial (
      request_id uuid PRIMARY KEY REFERENCES roi_request (id),
      scope text NOT NULL CHECK (scope IN ('full', 'partial')),
      grounds text[] NOT NULL CHECK (cardinality(grounds) >= 1),
      reviewable boolean NOT NULL,
      denied_record_types text[] NOT NULL,
      explanation text NOT NULL CHECK (length(explanation) BETWEEN 1 AND 2000),
      review_rights_text text CHECK (length(review_rights_text) BETWEEN 1 AND 2000),
      complaint_rights_text text NOT NULL CHECK (length(complaint_rights_text) BETWEEN 1 AND 2000),
      sent_on date NOT NULL,
      denied_by text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      -- HIPAA 164.524(d)(2)(ii): a reviewable denial states the right to have it reviewed.
      CHECK (NOT reviewable OR review_rights_text IS NOT NULL),
      CHECK ((scope = 'partial') = (cardinality(denied_record_types) > 0))
    )`.execute(db)

  await sql`
    CREATE TABLE roi_invoice (
      request_id uuid PRIMARY KEY REFERENCES roi_request (id),
      method text NOT NULL CHECK (method IN ('cost_based', 'flat_electronic', 'fee_schedule')),
      labor_cents integer NOT NULL DEFAULT 0 CHECK (labor_cents >= 0),
      supplies_cents integer NOT NULL DEFAULT 0 CHECK (supplies_cents >= 0),
      postage_cents integer NOT NULL DEFAULT 0 CHECK (postage_cents >= 0),
      pages integer CHECK (pages >= 0),
      schedule_base_cents integer NOT NULL DEFAULT 0 CHECK (schedule_base_cents >= 0),
      schedule_page_cents integer NOT NULL DEFAULT 0 CHECK (schedule_page_cents >= 0),
      total_cents integer NOT NULL CHECK (total_cents >= 0),
      paid_cents integer NOT NULL DEFAULT 0 CHECK (paid_cents >= 0 AND paid_cents <= total_cents),
      status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'paid', 'waived')),
      payment_method text CHECK (payment_method IN ('cash', 'check', 'card', 'ach', 'other')),
      payment_reference text CHECK (length(payment_reference) <= 100),
      paid_on date,
      waiver_reason text CHECK (length(waiver_reason) BETWEEN 1 AND 1000),
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      -- HIPAA 164.524(c)(4): individual access is cost-based (no search/retrieval fee) or the flat fee.
      CHECK (method = 'fee_schedule' OR (schedule_base_cents = 0 AND schedule_page_cents = 0)),
      CHECK (method <> 'flat_electronic' OR total_cents = 650),
      CHECK (status = 'waived' OR (status = 'paid') = (paid_cents = total_cents)),
      CHECK ((status = 'waived') = (waiver_reason IS NOT NULL))
    )`.execute(db)

  await sql`
    CREATE TABLE roi_release (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      request_id uuid NOT NULL UNIQUE REFERENCES roi_request (id),
      documents jsonb NOT NULL,
      total_pages integer NOT NULL CHECK (total_pages >= 0),
      recipient_name text NOT NULL CHECK (length(recipient_name) BETWEEN 1 AND 200),
      recipient_address text CHECK (length(recipient_address) <= 500),
      delivery_method text NOT NULL CHECK (delivery_method IN ('mail', 'pickup', 'fax', 'email', 'portal', 'secure_download')),
      released_at timestamptz NOT NULL,
      released_by text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db)

  // HIPAA 164.528: every disclosure, accountable or not; the accounting selects the accountable
  // ones, which the legal basis decides (kept in the database so no caller can get it wrong).
  await sql`
    CREATE TABLE disclosure (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      organization_id uuid NOT NULL REFERENCES organization (id),
      facility_id uuid NOT NULL REFERENCES facility (id),
      patient_id uuid NOT NULL REFERENCES patient (id),
      request_id uuid REFERENCES roi_request (id),
      release_id uuid UNIQUE REFERENCES roi_release (id),
      legal_basis text NOT NULL CHECK (legal_basis IN (${sql.raw(LEGAL_BASES)})),
      accountable boolean GENERATED ALWAYS AS (legal_basis NOT IN ('tpo', 'individual_access', 'third_party_directive',
        'authorization', 'specialized_government')) STORED,
      disclosed_at timestamptz NOT NULL,
      recipient_name text NOT NULL CHECK (length(recipient_name) BETWEEN 1 AND 200),
      recipient_address text CHECK (length(recipient_address) <= 500),
      description text NOT NULL CHECK (length(description) BETWEEN 1 AND 2000),
      purpose text NOT NULL CHECK (length(purpose) BETWEEN 1 AND 1000),
      recorded_by text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db)
  await sql`CREATE INDEX disclosure_patient ON disclosure (patient_id, disclosed_at, id) WHERE accountable`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['disclosure', 'roi_release', 'roi_invoice', 'roi_denial', 'roi_authorization', 'roi_attachment', 'roi_status_change', 'roi_request', 'roi_fee_schedule']) {
    await sql`DROP TABLE ${sql.table(table)}`.execute(db)
  }
}
