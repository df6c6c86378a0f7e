import { sql, type Kysely } from 'kysely'

// Frozen in time: this file never imports application code.
//
// The sealing queue held one row per event: a name search appends 25 events, so 25 queue rows
// inserted by the trigger and 25 deleted by the sealer, whose dead tuples its next reads of the
// queue scanned again. It now holds one row per appending statement: the ids of the events that
// statement appended, with the least (`first_id`, the queue's order) and the greatest. The sealer
// still seals events one by one, in id order; only the bookkeeping of what is left to seal is per
// statement.
//
// Sealing also hashes inside Postgres now (audit_chain below): the application used to receive
// every event's canonical rendering, hash it and send back four arrays of text, about 7 us of its
// CPU per event against none.
export async function up(db: Kysely<any>): Promise<void> {
  // No event may be appended or sealed while the queue changes shape.
  await sql`LOCK TABLE audit_event IN ACCESS EXCLUSIVE MODE`.execute(db)

  await sql`ALTER TABLE audit_pending RENAME COLUMN event_id TO first_id`.execute(db)
  await sql`ALTER TABLE audit_pending ADD COLUMN last_id bigint, ADD COLUMN event_ids bigint[]`.execute(db)
  await sql`UPDATE audit_pending SET last_id = first_id, event_ids = ARRAY[first_id]`.execute(db)
  await sql`ALTER TABLE audit_pending ALTER COLUMN last_id SET NOT NULL, ALTER COLUMN event_ids SET NOT NULL`.execute(db)
  await sql`ALTER TABLE audit_pending ADD CHECK (first_id <= last_id AND cardinality(event_ids) > 0)`.execute(db)

  // Still SECURITY DEFINER: the application role cannot queue events itself (a forged row naming
  // a sealed event would stop the sealer on audit_seal's unique event_id). A statement that
  // appended nothing (an insert whose condition failed) queues nothing. The ids go in the order
  // the statement appended them (array_agg ... ORDER BY would sort, per statement: a quarter
  // more of the trigger's cost for a registration's single event). Every name is qualified
  // instead of the function setting search_path (a GUC change and restore at every call, as much
  // again): pg_catalog's aggregates and operator, the public table; `appended`, the transition
  // table, is found before any relation of that name.
  await sql`
    CREATE OR REPLACE FUNCTION audit_event_queue() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
    BEGIN
      INSERT INTO public.audit_pending (first_id, last_id, event_ids)
      SELECT pg_catalog.min(id), pg_catalog.max(id), pg_catalog.array_agg(id) FROM appended
      HAVING pg_catalog.count(*) OPERATOR(pg_catalog.>) 0;
      RETURN NULL;
    END $$`.execute(db)

  // One link of the chain: sha256(prev_hash || '["<seq>"' || tail), where tail is the rest of
  // the event's canonical rendering (the application's canonicalTail). As an aggregate over the
  // events in seq order, its running value at each event is that event's hash: the chain is
  // folded inside the statement that writes the seals. `genesis` is the hash before the first
  // event of the fold (the head's, or 32 zero bytes). An event without a rendering is an error,
  // not a restart of the chain from genesis.
  await sql`
    CREATE FUNCTION audit_chain_step(state bytea, seq bigint, tail text, genesis bytea) RETURNS bytea
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
    BEGIN
      IF seq IS NULL OR tail IS NULL OR coalesce(state, genesis) IS NULL THEN
        RAISE EXCEPTION 'audit_chain: seq, rendering and previous hash are required';
      END IF;
      RETURN sha256(coalesce(state, genesis) || convert_to('["' || seq::text || '"' || tail, 'UTF8'));
    END $$`.execute(db)
  await sql`CREATE AGGREGATE audit_chain(bigint, text, bytea) (SFUNC = audit_chain_step, STYPE = bytea)`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`LOCK TABLE audit_event IN ACCESS EXCLUSIVE MODE`.execute(db)
  await sql`DROP AGGREGATE audit_chain(bigint, text, bytea)`.execute(db)
  await sql`DROP FUNCTION audit_chain_step`.execute(db)
  await sql`
    CREATE OR REPLACE FUNCTION audit_event_queue() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
    BEGIN
      INSERT INTO audit_pending (event_id) SELECT id FROM appended;
      RETURN NULL;
    END $$`.execute(db)
  await sql`CREATE TABLE audit_pending_event (event_id bigint PRIMARY KEY)`.execute(db)
  await sql`INSERT INTO audit_pending_event (event_id) SELECT DISTINCT unnest(event_ids) FROM audit_pending`.execute(db)
  await sql`DROP TABLE audit_pending`.execute(db)
  await sql`ALTER TABLE audit_pending_event RENAME TO audit_pending`.execute(db)
  await sql`ALTER INDEX audit_pending_event_pkey RENAME TO audit_pending_pkey`.execute(db)
  await sql`REVOKE ALL ON audit_pending FROM patient_access_app`.execute(db)
  await sql`GRANT SELECT, DELETE ON audit_pending TO patient_access_app`.execute(db)
}
