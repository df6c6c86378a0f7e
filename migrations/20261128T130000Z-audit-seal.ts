import { sql, type Kysely } from 'kysely'

// Frozen in time: this file never imports application code.
//
// HIPAA 164.312(b): audit records are never updated. Sealing used to UPDATE each event once
// (seq, prev_hash, hash, sealed_at); that update could not be HOT (seq is indexed), so it wrote a
// second version of every event into each of audit_event's indexes. Seals now go to a table of
// their own, and the events still to seal are tracked by a queue the sealer empties.
export async function up(db: Kysely<any>): Promise<void> {
  // No event may be appended, sealed or queued while the seals move: a concurrent writer waits
  // for the migration, and every event committed before it is seen by the copies below.
  await sql`LOCK TABLE audit_event IN ACCESS EXCLUSIVE MODE`.execute(db)

  // One row per sealed event: hash = sha256(prev_hash || canonical(event with this seq)).
  await sql`
    CREATE TABLE audit_seal (
      seq bigint PRIMARY KEY CHECK (seq > 0),
      event_id bigint NOT NULL UNIQUE,
      prev_hash bytea NOT NULL CHECK (length(prev_hash) = 32),
      hash bytea NOT NULL CHECK (length(hash) = 32),
      sealed_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db)
  // Events committed but not yet sealed. Every row is written by the trigger below with its
  // event, and removed by the sealer in the statement that seals it.
  await sql`CREATE TABLE audit_pending (event_id bigint PRIMARY KEY)`.execute(db)

  await sql`
    INSERT INTO audit_seal (seq, event_id, prev_hash, hash, sealed_at)
    SELECT seq, id, prev_hash, hash, sealed_at FROM audit_event WHERE seq IS NOT NULL`.execute(db)
  await sql`INSERT INTO audit_pending (event_id) SELECT id FROM audit_event WHERE seq IS NULL`.execute(db)

  // No change to an event is permitted any more, so the whole statement is refused, even one
  // that matches no row (a statement trigger: one call, however many rows).
  await sql`DROP TRIGGER audit_event_no_update_delete ON audit_event`.execute(db)
  await sql`DROP TRIGGER audit_event_no_truncate ON audit_event`.execute(db)
  await sql`
    CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION '% is append-only (% rejected)', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
    END $$`.execute(db)
  await sql`
    CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_event
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()`.execute(db)
  await sql`
    CREATE TRIGGER audit_seal_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_seal
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()`.execute(db)

  // Every seal names an event. Not a foreign key: its per-row check takes SELECT ... FOR KEY
  // SHARE on the event, which writes the lock into the event's tuple (a dirtied page and a WAL
  // record per sealed event; a batch of 5,000 seals took 60-67 ms with it, 31-38 ms without), to
  // guard against the event being deleted or its id changed, which the triggers and privileges
  // here already forbid. Checked once per statement instead, with one anti-join.
  await sql`
    CREATE FUNCTION audit_seal_event_exists() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF EXISTS (SELECT FROM sealed WHERE NOT EXISTS (SELECT FROM audit_event e WHERE e.id = sealed.event_id)) THEN
        RAISE EXCEPTION 'audit_seal must name an existing audit_event' USING ERRCODE = 'foreign_key_violation';
      END IF;
      RETURN NULL;
    END $$`.execute(db)
  await sql`
    CREATE TRIGGER audit_seal_event_exists AFTER INSERT ON audit_seal
    REFERENCING NEW TABLE AS sealed
    FOR EACH STATEMENT EXECUTE FUNCTION audit_seal_event_exists()`.execute(db)

  await sql`REVOKE UPDATE (seq, prev_hash, hash, sealed_at) ON audit_event FROM patient_access_app`.execute(db)
  await sql`DROP INDEX audit_event_unsealed`.execute(db)
  await sql`ALTER TABLE audit_event DROP CONSTRAINT audit_event_check`.execute(db)
  await sql`ALTER TABLE audit_event DROP COLUMN seq, DROP COLUMN prev_hash, DROP COLUMN hash, DROP COLUMN sealed_at`.execute(db)

  // Every statement that appends events queues them, with one trigger call per statement
  // whatever its row count, so no insert path (a read's group commit, a write's CTE, an import)
  // can forget. An event and its pending row commit together or not at all: an event whose
  // transaction commits after later events were sealed is still pending, and is sealed next.
  // SECURITY DEFINER: the application role cannot insert pending rows itself (a forged one
  // naming a sealed event would stop the sealer on the unique event_id).
  await sql`
    CREATE FUNCTION audit_event_queue() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
    BEGIN
      INSERT INTO audit_pending (event_id) SELECT id FROM appended;
      RETURN NULL;
    END $$`.execute(db)
  await sql`
    CREATE TRIGGER audit_event_queue AFTER INSERT ON audit_event
    REFERENCING NEW TABLE AS appended
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_queue()`.execute(db)
  await sql`REVOKE ALL ON FUNCTION audit_event_queue() FROM PUBLIC`.execute(db)

  // The sealer (run as the application) reads and clears the queue and appends seals; nothing
  // else. Seals are never changed or removed, like the events they cover.
  await sql`REVOKE ALL ON audit_seal, audit_pending FROM patient_access_app`.execute(db)
  await sql`GRANT SELECT, INSERT ON audit_seal TO patient_access_app`.execute(db)
  await sql`GRANT SELECT, DELETE ON audit_pending TO patient_access_app`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`LOCK TABLE audit_event IN ACCESS EXCLUSIVE MODE`.execute(db)
  await sql`DROP TRIGGER audit_event_queue ON audit_event`.execute(db)
  await sql`DROP FUNCTION audit_event_queue`.execute(db)
  await sql`DROP TRIGGER audit_event_append_only ON audit_event`.execute(db)
  await sql`
    ALTER TABLE audit_event ADD COLUMN seq bigint UNIQUE, ADD COLUMN prev_hash bytea, ADD COLUMN hash bytea,
      ADD COLUMN sealed_at timestamptz,
      ADD CONSTRAINT audit_event_check CHECK ((seq IS NULL) = (hash IS NULL) AND (seq IS NULL) = (sealed_at IS NULL))`.execute(db)
  await sql`
    UPDATE audit_event e SET seq = s.seq, prev_hash = s.prev_hash, hash = s.hash, sealed_at = s.sealed_at
    FROM audit_seal s WHERE s.event_id = e.id`.execute(db)
  await sql`CREATE INDEX audit_event_unsealed ON audit_event (id) WHERE seq IS NULL`.execute(db)
  await sql`DROP TABLE audit_pending`.execute(db)
  await sql`DROP TABLE audit_seal`.execute(db)
  await sql`DROP FUNCTION audit_seal_event_exists`.execute(db)
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
  await sql`
    CREATE TRIGGER audit_event_no_update_delete BEFORE UPDATE OR DELETE ON audit_event
    FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()`.execute(db)
  await sql`
    CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()`.execute(db)
  await sql`GRANT UPDATE (seq, prev_hash, hash, sealed_at) ON audit_event TO patient_access_app`.execute(db)
}
