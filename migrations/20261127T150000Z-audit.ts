import { sql, type Kysely } from 'kysely'

// Frozen in time: this file never imports application code.
export async function up(db: Kysely<any>): Promise<void> {
  // Signed checkpoints of the audit chain's head. They live outside audit_event so that cutting
  // rows off the chain's tail, which leaves the remaining chain internally consistent, is still
  // detected: the latest checkpoint names a seq and hash the chain must keep reaching.
  await sql`
    CREATE TABLE audit_checkpoint (
      seq bigint PRIMARY KEY CHECK (seq > 0),
      hash bytea NOT NULL CHECK (length(hash) = 32),
      signed_at timestamptz NOT NULL,
      key_id text NOT NULL CHECK (length(key_id) BETWEEN 1 AND 64),
      signature bytea NOT NULL CHECK (length(signature) = 64)
    )`.execute(db)
  await sql`
    CREATE FUNCTION audit_checkpoint_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'audit_checkpoint is append-only (% rejected)', TG_OP USING ERRCODE = 'insufficient_privilege';
    END $$`.execute(db)
  await sql`
    CREATE TRIGGER audit_checkpoint_no_update_delete BEFORE UPDATE OR DELETE ON audit_checkpoint
    FOR EACH ROW EXECUTE FUNCTION audit_checkpoint_append_only()`.execute(db)
  await sql`
    CREATE TRIGGER audit_checkpoint_no_truncate BEFORE TRUNCATE ON audit_checkpoint
    FOR EACH STATEMENT EXECUTE FUNCTION audit_checkpoint_append_only()`.execute(db)

  // Same rule as the foundation's trigger (only sealing an unsealed row, only the sealing
  // columns), compared as a row instead of through two to_jsonb() renderings: sealing a
  // million events spent much of its time there. Columns added later are covered as before.
  await sql`
    CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      unsealed audit_event;
    BEGIN
      IF TG_OP = 'UPDATE' AND OLD.seq IS NULL AND NEW.seq IS NOT NULL THEN
        unsealed := NEW;
        unsealed.seq := NULL;
        unsealed.prev_hash := NULL;
        unsealed.hash := NULL;
        unsealed.sealed_at := NULL;
        IF unsealed IS NOT DISTINCT FROM OLD THEN
          RETURN NEW;
        END IF;
      END IF;
      RAISE EXCEPTION 'audit_event is append-only (% rejected)', TG_OP USING ERRCODE = 'insufficient_privilege';
    END $$`.execute(db)

  // The auditor's filters, each keyed on the listing order (occurred_at, id).
  await sql`CREATE INDEX audit_event_facility ON audit_event (facility_id, occurred_at, id)`.execute(db)
  await sql`CREATE INDEX audit_event_actor ON audit_event (actor_sub, occurred_at, id)`.execute(db)
  await sql`CREATE INDEX audit_event_break_glass ON audit_event (occurred_at, id) WHERE break_glass`.execute(db)

  // The application's role. Roles are cluster-wide: several databases (test clones, a bench
  // database) may run this at the same moment, so a concurrent creation is not an error.
  await sql`
    DO $$
    BEGIN
      CREATE ROLE patient_access_app NOLOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL;
    END $$`.execute(db)
  await sql`GRANT USAGE ON SCHEMA public TO patient_access_app`.execute(db)
  await sql`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO patient_access_app`.execute(db)
  await sql`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO patient_access_app`.execute(db)
  // Tables that later migrations create (as the same migrating role) get the same grants.
  await sql`ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO patient_access_app`.execute(db)
  await sql`ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO patient_access_app`.execute(db)
  // HIPAA 164.312(b): audit records are never changed or removed. The app may append, and may
  // seal (the trigger still limits that to unsealed rows and the sealing columns).
  await sql`REVOKE UPDATE, DELETE, TRUNCATE ON audit_event, audit_checkpoint FROM patient_access_app`.execute(db)
  await sql`GRANT UPDATE (seq, prev_hash, hash, sealed_at) ON audit_event TO patient_access_app`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  // The role itself stays: it is cluster-wide and other databases may still use it.
  await sql`ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE USAGE, SELECT ON SEQUENCES FROM patient_access_app`.execute(db)
  await sql`ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM patient_access_app`.execute(db)
  await sql`REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM patient_access_app`.execute(db)
  await sql`REVOKE ALL ON ALL TABLES IN SCHEMA public FROM patient_access_app`.execute(db)
  await sql`REVOKE USAGE ON SCHEMA public FROM patient_access_app`.execute(db)
  await sql`DROP INDEX audit_event_break_glass`.execute(db)
  await sql`DROP INDEX audit_event_actor`.execute(db)
  await sql`DROP INDEX audit_event_facility`.execute(db)
  await sql`DROP TABLE audit_checkpoint`.execute(db)
  await sql`
    CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'UPDATE' AND OLD.seq IS NULL AND NEW.seq IS NOT NULL
         AND (to_jsonb(NEW) - '{seq,prev_hash,hash,sealed_at}'::text[])
           = (to_jsonb(OLD) - '{seq,prev_hash,hash,sealed_at}'::text[]) THEN
        RETURN NEW;
      END IF;
      RAISE EXCEPTION 'audit_event is append-only (% rejected)', TG_OP USING ERRCODE = 'insufficient_privilege';
    END $$`.execute(db)
  await sql`DROP FUNCTION audit_checkpoint_append_only`.execute(db)
}
