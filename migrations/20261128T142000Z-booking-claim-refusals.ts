import { sql, type Kysely } from 'kysely'

// Frozen in time: this file never imports application code.
// A burst of 50 bookings of one time: schedule_claim took the schedules' locks first, so the 49
// losers queued on them and were let through one at a time, each after the previous one's commit.
// Each also read the appointment type FOR SHARE (a row lock: a transaction id and a WAL record)
// and deleted expired holds before finding the time taken, so each loser's commit waited for a
// WAL flush before the next could start: a refused booking statement took 2.3-4 ms with the
// bench machine's disk busy (0.45-0.55 ms quiet), 0.3-0.5 ms now. 50 statements at once (paired,
// 4 runs each): the whole burst 37-40 ms before, 31-35 ms after; in an HTTP burst 5-8 of the 49
// losers still wait for the locks (those that come while the winner holds them), all 49 before.
//
// Now a refusal writes nothing, and waits only behind a booking not yet committed:
// - the locks are tried without waiting first. When one is held (a burst's winner, most often),
//   time already taken by a committed reservation is refused at once (a reservation that is
//   visible is one the caller cannot have): a request that arrives after the winner committed
//   does not queue at all. Otherwise the claim waits for the locks, as before. An uncontended
//   booking gets its locks at the first try and checks the time once, as before.
// - under the locks, the appointment type is read FOR SHARE, and expired holds deleted, only when
//   the claim is about to proceed. A type retirement in progress is then waited for only by a
//   booking that would otherwise be made; one refused for its time anyway answers 409 without
//   waiting for it (either answer was true of some moment during the request).
// A claim that proceeds checks exactly what it did before, under the same locks, and the
// exclusion constraints stay the guarantee.
//
// schedule_try_lock takes the locks in schedule_lock's order and stops at the first one held
// elsewhere: the claim then waits for the rest in that order, so two claims never wait for each
// other in a cycle (trying every key and keeping those it got could hold a later key while waiting
// for an earlier one). schedule_taken is the one definition of "this time is taken" that both
// checks use; PL/pgSQL (its plan is kept per session; an SQL function that cannot be inlined is
// planned again at every call), STABLE: called from schedule_claim, a VOLATILE function, each call
// reads with a snapshot taken for it, so it sees what committed while the caller waited.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE FUNCTION schedule_try_lock(p_ids uuid[]) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
    DECLARE
      k uuid;
    BEGIN
      FOREACH k IN ARRAY ARRAY(SELECT DISTINCT i FROM unnest(p_ids) AS i ORDER BY i) LOOP
        IF NOT pg_try_advisory_xact_lock(hashtextextended(k::text, 4004)) THEN
          RETURN false;
        END IF;
      END LOOP;
      RETURN true;
    END $$`.execute(db)

  await sql`
    CREATE FUNCTION schedule_taken(p_provider_id uuid, p_resource_ids uuid[], p_from timestamptz, p_to timestamptz, p_except_appointment_id uuid)
    RETURNS boolean LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan AS $$
    BEGIN
      RETURN EXISTS (
        SELECT FROM reservation r
         WHERE (r.provider_id = p_provider_id OR r.resource_id = ANY(p_resource_ids))
           AND lower(r.period) >= p_from - interval '2 days' AND lower(r.period) < p_to AND r.period && tstzrange(p_from, p_to, '[)')
           AND reservation_live(r.overbook, r.expires_at)
           AND (r.appointment_id IS NULL OR r.appointment_id IS DISTINCT FROM p_except_appointment_id));
    END $$`.execute(db)

  await sql`
    CREATE OR REPLACE FUNCTION schedule_claim(
      p_provider_id uuid, p_appointment_type_id uuid, p_resource_ids uuid[], p_from timestamptz, p_to timestamptz,
      p_overbook boolean, p_except_appointment_id uuid,
      OUT provider_active boolean, OUT type_active boolean, OUT resources_active boolean, OUT proceed boolean
    ) LANGUAGE plpgsql VOLATILE SET plan_cache_mode = force_generic_plan AS $$
    DECLARE
      locked boolean := schedule_try_lock(p_provider_id || p_resource_ids);
      free boolean;
    BEGIN
      IF NOT locked AND NOT p_overbook AND schedule_taken(p_provider_id, p_resource_ids, p_from, p_to, p_except_appointment_id) THEN
        free := false;
      ELSE
        IF NOT locked THEN
          PERFORM schedule_lock(p_provider_id || p_resource_ids);
        END IF;
        free := p_overbook OR NOT schedule_taken(p_provider_id, p_resource_ids, p_from, p_to, p_except_appointment_id);
      END IF;
      SELECT coalesce((SELECT p.active FROM provider p WHERE p.id = p_provider_id), false),
             (SELECT count(*) FROM resource r WHERE r.id = ANY(p_resource_ids) AND r.active) = cardinality(p_resource_ids)
        INTO provider_active, resources_active;
      IF provider_active AND resources_active AND free THEN
        type_active := coalesce((SELECT t.active FROM appointment_type t WHERE t.id = p_appointment_type_id FOR SHARE), false);
      ELSE
        type_active := coalesce((SELECT t.active FROM appointment_type t WHERE t.id = p_appointment_type_id), false);
      END IF;
      proceed := provider_active AND type_active AND resources_active AND free;
      IF proceed THEN
        PERFORM schedule_expire_holds(ARRAY[p_provider_id], p_resource_ids);
      END IF;
    END $$`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE OR REPLACE FUNCTION schedule_claim(
      p_provider_id uuid, p_appointment_type_id uuid, p_resource_ids uuid[], p_from timestamptz, p_to timestamptz,
      p_overbook boolean, p_except_appointment_id uuid,
      OUT provider_active boolean, OUT type_active boolean, OUT resources_active boolean, OUT proceed boolean
    ) LANGUAGE plpgsql VOLATILE SET plan_cache_mode = force_generic_plan AS $$
    BEGIN
      PERFORM schedule_lock(p_provider_id || p_resource_ids);
      SELECT coalesce((SELECT p.active FROM provider p WHERE p.id = p_provider_id), false),
             coalesce((SELECT t.active FROM appointment_type t WHERE t.id = p_appointment_type_id FOR SHARE), false),
             (SELECT count(*) FROM resource r WHERE r.id = ANY(p_resource_ids) AND r.active) = cardinality(p_resource_ids)
        INTO provider_active, type_active, resources_active;
      PERFORM schedule_expire_holds(ARRAY[p_provider_id], p_resource_ids);
      proceed := provider_active AND type_active AND resources_active AND (p_overbook OR NOT EXISTS (
        SELECT FROM reservation r
         WHERE (r.provider_id = p_provider_id OR r.resource_id = ANY(p_resource_ids))
           AND lower(r.period) >= p_from - interval '2 days' AND lower(r.period) < p_to AND r.period && tstzrange(p_from, p_to, '[)')
           AND reservation_live(r.overbook, r.expires_at)
           AND (r.appointment_id IS NULL OR r.appointment_id IS DISTINCT FROM p_except_appointment_id)));
    END $$`.execute(db)
  await sql`DROP FUNCTION schedule_taken`.execute(db)
  await sql`DROP FUNCTION schedule_try_lock`.execute(db)
}
