import { sql, type Kysely } from 'kysely'

// Frozen in time: this file never imports application code.
//
// A log of which schedules changed in which transaction, for the slot search's cache
// (src/modules/scheduling/slot-search-cache.ts): a search's lookup, read under one snapshot, is
// still what the database holds for as long as no transaction that touched those schedules has
// committed since. Which is what this log answers: a row per owner (provider or resource) whose
// reservations a statement changed, and a row under the nil uuid for any change to what a search
// reads besides reservations (facilities, appointment types, providers and their facilities and
// specialties, resources, availability rules and exceptions: administrative, rare).
//
// Rows are appended, never updated: a counter per owner, bumped in place, would take a row lock
// that two transactions touching the same schedules in different statement orders could deadlock
// on. A row carries its transaction's id; a search checks whether any row of its owners has an id
// its snapshot does not see (pg_visible_in_snapshot), through the (owner_id, xid) index from the
// snapshot's xmin on, so only the rows of recent transactions are read.
//
// Rows more than an hour old are pruned by the appending trigger now and then (one transaction
// at a time); a cached lookup is kept at most ten minutes, so no row a lookup still needs is gone
// (but see schedule_change_prune on transactions left open for most of an hour).
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE schedule_change (
      owner_id uuid NOT NULL,
      xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
      at timestamptz NOT NULL DEFAULT clock_timestamp()
    )`.execute(db)
  await sql`CREATE INDEX schedule_change_owner ON schedule_change (owner_id, xid)`.execute(db)
  await sql`CREATE INDEX schedule_change_at ON schedule_change (at)`.execute(db)

  // Removes rows written over an hour ago, where no other transaction is doing it; returns how
  // many. A row of a transaction still open is invisible here, so it is pruned an hour after it
  // was written and committed at the earliest. A transaction that wrote reservations and then
  // stayed open for most of an hour before committing could have its row pruned within the ten
  // minutes a lookup from before its commit is kept: that lookup would miss it.
  await sql`
    CREATE FUNCTION schedule_change_prune() RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
    DECLARE
      n bigint := 0;
    BEGIN
      IF pg_try_advisory_xact_lock(${sql.lit(0x7363_6863)}) THEN
        DELETE FROM schedule_change WHERE at < clock_timestamp() - interval '1 hour';
        GET DIAGNOSTICS n = ROW_COUNT;
      END IF;
      RETURN n;
    END $$`.execute(db)
  // Appends a row per owner, and about once in a thousand calls prunes.
  await sql`
    CREATE FUNCTION schedule_changed(owners uuid[]) RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
    BEGIN
      INSERT INTO schedule_change (owner_id) SELECT DISTINCT o FROM unnest(owners) o WHERE o IS NOT NULL;
      IF random() < 0.001 THEN
        PERFORM schedule_change_prune();
      END IF;
    END $$`.execute(db)
  await sql`REVOKE ALL ON FUNCTION schedule_changed(uuid[]), schedule_change_prune() FROM PUBLIC`.execute(db)

  // Reservations: the owners of the rows a statement inserted, updated (before and after) or
  // deleted, cascades from appointments, holds and cases included. One call per statement.
  await sql`
    CREATE FUNCTION reservation_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'INSERT' THEN
        PERFORM schedule_changed(ARRAY(SELECT coalesce(provider_id, resource_id) FROM new_rows));
      ELSIF TG_OP = 'DELETE' THEN
        PERFORM schedule_changed(ARRAY(SELECT coalesce(provider_id, resource_id) FROM old_rows));
      ELSE
        PERFORM schedule_changed(ARRAY(SELECT coalesce(provider_id, resource_id) FROM new_rows
                                       UNION ALL SELECT coalesce(provider_id, resource_id) FROM old_rows));
      END IF;
      RETURN NULL;
    END $$`.execute(db)
  await sql`CREATE TRIGGER reservation_changed_insert AFTER INSERT ON reservation REFERENCING NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION reservation_changed()`.execute(db)
  await sql`CREATE TRIGGER reservation_changed_update AFTER UPDATE ON reservation REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION reservation_changed()`.execute(db)
  await sql`CREATE TRIGGER reservation_changed_delete AFTER DELETE ON reservation REFERENCING OLD TABLE AS old_rows
            FOR EACH STATEMENT EXECUTE FUNCTION reservation_changed()`.execute(db)

  // Everything else a search reads, and a truncated reservation table: every cached lookup.
  await sql`
    CREATE FUNCTION schedule_reference_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM schedule_changed(ARRAY['00000000-0000-0000-0000-000000000000'::uuid]);
      RETURN NULL;
    END $$`.execute(db)
  for (const table of REFERENCE_TABLES) {
    await sql`CREATE TRIGGER ${sql.id(`${table}_schedule_changed`)} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ${sql.table(table)}
              FOR EACH STATEMENT EXECUTE FUNCTION schedule_reference_changed()`.execute(db)
  }
  await sql`CREATE TRIGGER reservation_truncated AFTER TRUNCATE ON reservation
            FOR EACH STATEMENT EXECUTE FUNCTION schedule_reference_changed()`.execute(db)

  // The application reads the log; only the triggers (through the SECURITY DEFINER function) write
  // it. The triggers run as whoever changed the rows, the API's role among them, so that role may
  // call schedule_changed: which can only append (a row too many makes a search read afresh).
  await sql`REVOKE ALL ON schedule_change FROM patient_access_app`.execute(db)
  await sql`GRANT SELECT ON schedule_change TO patient_access_app`.execute(db)
  await sql`GRANT EXECUTE ON FUNCTION schedule_changed(uuid[]) TO patient_access_app`.execute(db)
}

const REFERENCE_TABLES = [
  'facility', 'appointment_type', 'provider', 'provider_facility', 'provider_specialty', 'resource', 'availability_rule', 'availability_exception',
]

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TRIGGER reservation_truncated ON reservation`.execute(db)
  for (const table of REFERENCE_TABLES) await sql`DROP TRIGGER ${sql.id(`${table}_schedule_changed`)} ON ${sql.table(table)}`.execute(db)
  await sql`DROP TRIGGER reservation_changed_insert ON reservation`.execute(db)
  await sql`DROP TRIGGER reservation_changed_update ON reservation`.execute(db)
  await sql`DROP TRIGGER reservation_changed_delete ON reservation`.execute(db)
  await sql`DROP FUNCTION schedule_reference_changed`.execute(db)
  await sql`DROP FUNCTION reservation_changed`.execute(db)
  await sql`DROP FUNCTION schedule_changed`.execute(db)
  await sql`DROP FUNCTION schedule_change_prune`.execute(db)
  await sql`DROP TABLE schedule_change`.execute(db)
}
