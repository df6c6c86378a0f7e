import { sql, type Kysely } from 'kysely'

// Frozen in time: this file never imports application code.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`CREATE EXTENSION IF NOT EXISTS btree_gist`.execute(db)
  await sql`CREATE EXTENSION IF NOT EXISTS pg_trgm`.execute(db)
  await sql`CREATE EXTENSION IF NOT EXISTS fuzzystrmatch`.execute(db)

  await sql`
    CREATE TABLE organization (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      version integer NOT NULL DEFAULT 1 CHECK (version > 0)
    )`.execute(db)

  await sql`
    CREATE TABLE facility (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      organization_id uuid NOT NULL REFERENCES organization (id),
      name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
      kind text NOT NULL CHECK (kind IN ('hospital', 'clinic', 'ambulatory_surgery_center')),
      time_zone text NOT NULL CHECK (length(time_zone) BETWEEN 1 AND 64),
      npi text CHECK (npi ~ '^[0-9]{10}$'),
      state_code text CHECK (state_code ~ '^[A-Z]{2}$'),
      roi_deadline_days integer NOT NULL DEFAULT 30 CHECK (roi_deadline_days BETWEEN 1 AND 30),
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      version integer NOT NULL DEFAULT 1 CHECK (version > 0),
      UNIQUE (organization_id, name)
    )`.execute(db)

  // Audit trail (HIPAA 164.312(b)). Rows are appended unsealed; the sealer later assigns seq
  // and hash = sha256(prev_hash || canonical(row)). Nothing else may ever change a row.
  await sql`
    CREATE TABLE audit_event (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      occurred_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      request_id text,
      actor_sub text,
      actor_roles text[] NOT NULL DEFAULT '{}',
      facility_id uuid,
      action text NOT NULL CHECK (action IN ('create', 'read', 'update', 'delete', 'execute')),
      verb text NOT NULL,
      resource_type text NOT NULL,
      resource_id text,
      patient_id uuid,
      outcome text NOT NULL CHECK (outcome IN ('success', 'denied', 'not-found', 'error')),
      purpose_of_use text,
      client_ip text,
      user_agent text,
      break_glass boolean NOT NULL DEFAULT false,
      detail jsonb,
      seq bigint UNIQUE,
      prev_hash bytea,
      hash bytea,
      sealed_at timestamptz,
      CHECK ((seq IS NULL) = (hash IS NULL) AND (seq IS NULL) = (sealed_at IS NULL))
    )`.execute(db)
  await sql`CREATE INDEX audit_event_unsealed ON audit_event (id) WHERE seq IS NULL`.execute(db)
  await sql`CREATE INDEX audit_event_patient ON audit_event (patient_id, occurred_at) WHERE patient_id IS NOT NULL`.execute(db)
  await sql`CREATE INDEX audit_event_time ON audit_event (occurred_at, id)`.execute(db)

  await sql`
    CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      -- The one permitted change: sealing a row that is not yet sealed, touching only the
      -- sealing columns.
      IF TG_OP = 'UPDATE' AND OLD.seq IS NULL AND NEW.seq IS NOT NULL
         AND (to_jsonb(NEW) - '{seq,prev_hash,hash,sealed_at}'::text[])
           = (to_jsonb(OLD) - '{seq,prev_hash,hash,sealed_at}'::text[]) THEN
        RETURN NEW;
      END IF;
      RAISE EXCEPTION 'audit_event is append-only (% rejected)', TG_OP USING ERRCODE = 'insufficient_privilege';
    END $$`.execute(db)
  await sql`
    CREATE TRIGGER audit_event_no_update_delete BEFORE UPDATE OR DELETE ON audit_event
    FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()`.execute(db)
  await sql`
    CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()`.execute(db)

  await sql`
    CREATE TABLE idempotency_key (
      actor_sub text NOT NULL,
      key text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
      request_hash text NOT NULL,
      response_status integer,
      response_body jsonb,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (actor_sub, key)
    )`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE idempotency_key`.execute(db)
  await sql`DROP TABLE audit_event`.execute(db)
  await sql`DROP FUNCTION audit_event_append_only`.execute(db)
  await sql`DROP TABLE facility`.execute(db)
  await sql`DROP TABLE organization`.execute(db)
}
