import { sql, type Kysely } from 'kysely'

// Frozen in time: this file never imports application code.
// A booking used to be six statements: the lookup of what it names, then BEGIN; the schedules'
// advisory locks; the re-check that provider, type and resources are still bookable with the
// occupancy of the time; the insert; COMMIT. Each statement costs the Node process and Postgres
// about 0.3 ms of CPU on a 2-core machine. schedule_claim takes the locks and makes the re-check
// inside the insert's own statement (the insert runs only when it says `proceed`), so a booking
// is the lookup and one statement in autocommit.
//
// The checks still see everything committed before the locks were granted although the calling
// statement's snapshot is older: a VOLATILE PL/pgSQL function takes a fresh snapshot for each
// query it runs (READ COMMITTED). The locks are held to the end of the calling transaction, which
// is the insert's own when the statement runs alone.
//
// What the application did in TypeScript (the lock keys, the expired-hold delete, what counts as
// live) is defined here once, and the application calls these functions for every path that needs
// them, so the rules cannot drift apart.
export async function up(db: Kysely<any>): Promise<void> {
  // Holds stop counting when they expire, overbookings always count (the exclusion constraints
  // leave them out, so only reads can see them). SQL, so that it is inlined where it is used and
  // the planner sees the columns.
  await sql`
    CREATE FUNCTION reservation_live(overbook boolean, expires_at timestamptz) RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE AS $$
      SELECT overbook OR expires_at IS NULL OR expires_at > now()
    $$`.execute(db)

  // Serialises bookings per provider and resource: transaction-scoped advisory locks, in one
  // order (the ids sorted) so two bookings never wait on each other in a cycle. Without them,
  // overlapping inserts into the exclusion-constrained table deadlock now and then (40P01), each
  // costing the 1 s deadlock timeout. The keys are those the application used before (the id as
  // text, namespace 4004), so a session of the previous version and one of this agree.
  await sql`
    CREATE FUNCTION schedule_lock(p_ids uuid[]) RETURNS void LANGUAGE plpgsql VOLATILE AS $$
    BEGIN
      -- unnest yields the sorted array in its order.
      PERFORM pg_advisory_xact_lock(hashtextextended(k::text, 4004)) FROM unnest(ARRAY(SELECT DISTINCT i FROM unnest(p_ids) AS i ORDER BY i)) AS k;
    END $$`.execute(db)

  // A constraint cannot consult now(): expired holds of these schedules are deleted by whoever
  // holds their locks and is about to take time on them.
  await sql`
    CREATE FUNCTION schedule_expire_holds(p_provider_ids uuid[], p_resource_ids uuid[]) RETURNS void LANGUAGE plpgsql VOLATILE AS $$
    BEGIN
      DELETE FROM reservation WHERE hold_id IS NOT NULL AND expires_at <= now()
         AND (provider_id = ANY(p_provider_ids) OR resource_id = ANY(p_resource_ids));
    END $$`.execute(db)

  // Under the schedules' locks: whether what a booking names can still be booked, and (unless
  // overbooking) whether [p_from, p_to) is free on them, apart from p_except_appointment_id (the
  // appointment being rescheduled). Expired holds are deleted on the way.
  //
  // A retirement committed while the request was validated outside shows here: provider and
  // resource retirements take the same schedule locks; an appointment type's retirement locks
  // only the type's row, so the type is read FOR SHARE, which waits for a retirement in progress
  // and then reads the row as it committed.
  //
  // Reservations span at most 2 days (a CHECK), so a start bound lets the btree indexes on
  // (owner, lower(period)) find the window. plan_cache_mode: the arrays of resources would make
  // Postgres judge the generic plan dearer (it assumes ten elements) and plan each query afresh
  // at every booking, to the same plan.
  await sql`
    CREATE FUNCTION schedule_claim(
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
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP FUNCTION schedule_claim`.execute(db)
  await sql`DROP FUNCTION schedule_expire_holds`.execute(db)
  await sql`DROP FUNCTION schedule_lock`.execute(db)
  await sql`DROP FUNCTION reservation_live`.execute(db)
}
