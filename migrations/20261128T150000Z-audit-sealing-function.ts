import { sql, type Kysely } from 'kysely'

// Frozen in time: this file never imports application code.
//
// The application role could delete rows of the sealing queue and insert seals of its own
// choosing: the sealer did both, as that role. Verification caught the outcome (an event never
// sealed is reported once older than the interval; a seal whose hash is not the chain's fails
// the walk), but nothing prevented it. Sealing is now this function, SECURITY DEFINER, the only
// way the role may write audit_seal or take rows off audit_pending: the role keeps SELECT on
// both and EXECUTE on the function.
//
// The body is the sealing statement as the application sent it (see audit-sealer.ts): the queue's
// head by first id, at least max_rows events when there are that many, plus every statement that
// interleaves with them, so every event sealed has a lower id than every event left queued; the
// events numbered from the head's seq and chained in seq order by audit_chain over their
// canonical rendering (the application's canonicalTail, the reference a test holds it to). The
// caller holds the sealer's advisory lock, which keeps one sealer at a time.
const RENDERING = `',' || btrim(to_json(ARRAY[
      audit_event.id::text, to_char(audit_event.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
      audit_event.request_id, audit_event.actor_sub])::text, '[]')
  || ',' || to_json(audit_event.actor_roles)::text
  || ',' || btrim(to_json(ARRAY[
      audit_event.facility_id::text, audit_event.action, audit_event.verb, audit_event.resource_type, audit_event.resource_id,
      audit_event.patient_id::text, audit_event.outcome, audit_event.purpose_of_use, audit_event.client_ip, audit_event.user_agent])::text, '[]')
  || ',' || CASE WHEN audit_event.break_glass THEN 'true' ELSE 'false' END
  || ',' || coalesce(to_json(audit_event.detail::text)::text, 'null') || ']'`

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE FUNCTION audit_seal_pending(max_rows integer) RETURNS bigint
    LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    WITH head AS MATERIALIZED (SELECT seq, hash FROM audit_seal ORDER BY seq DESC LIMIT 1),
    queued AS (
      SELECT first_id, event_ids,
             coalesce(sum(cardinality(event_ids)) OVER before, 0) AS events_before,
             max(last_id) OVER before AS last_before
      FROM (SELECT first_id, last_id, event_ids FROM audit_pending ORDER BY first_id LIMIT max_rows) q
      WINDOW before AS (ORDER BY first_id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)),
    taken AS MATERIALIZED (
      SELECT first_id, event_ids FROM (
        SELECT first_id, event_ids, bool_and(events_before < max_rows OR first_id < last_before) OVER (ORDER BY first_id) AS take FROM queued) q
      WHERE take),
    dequeued AS (DELETE FROM audit_pending WHERE first_id = ANY(ARRAY(SELECT first_id FROM taken))),
    numbered AS (
      SELECT audit_event.id, ${sql.raw(RENDERING)} AS tail,
             coalesce((SELECT seq FROM head), 0) + row_number() OVER (ORDER BY audit_event.id) AS seq
      FROM audit_event WHERE audit_event.id = ANY(ARRAY(SELECT unnest(event_ids) FROM taken))),
    chained AS (
      SELECT id, seq, audit_chain(seq, tail, coalesce((SELECT hash FROM head), decode(repeat('00', 32), 'hex')))
               OVER (ORDER BY seq) AS hash
      FROM numbered),
    sealed AS (
      INSERT INTO audit_seal (seq, event_id, prev_hash, hash)
      SELECT seq, id, coalesce(lag(hash) OVER (ORDER BY seq), (SELECT hash FROM head), decode(repeat('00', 32), 'hex')), hash
      FROM chained
      RETURNING 1)
    SELECT count(*) FROM sealed
    $$`.execute(db)
  await sql`REVOKE ALL ON FUNCTION audit_seal_pending(integer) FROM PUBLIC`.execute(db)
  await sql`GRANT EXECUTE ON FUNCTION audit_seal_pending(integer) TO patient_access_app`.execute(db)
  await sql`REVOKE ALL ON audit_seal, audit_pending FROM patient_access_app`.execute(db)
  await sql`GRANT SELECT ON audit_seal, audit_pending TO patient_access_app`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP FUNCTION audit_seal_pending(integer)`.execute(db)
  await sql`REVOKE ALL ON audit_seal, audit_pending FROM patient_access_app`.execute(db)
  await sql`GRANT SELECT, INSERT ON audit_seal TO patient_access_app`.execute(db)
  await sql`GRANT SELECT, DELETE ON audit_pending TO patient_access_app`.execute(db)
}
