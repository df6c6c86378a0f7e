import { sql, type Kysely } from 'kysely'

// Frozen in time: this file never imports application code.
// A registration used to be five statements: BEGIN; the facility's organisation, name keys, next
// MRN and the duplicate-check lock; the duplicate probe; the insert; COMMIT. On a 2-core machine
// each statement cost the Node process about 0.25 ms and Postgres its own overhead, more than the
// work. patient_registration_check does the first three inside the insert's own statement (the
// insert runs only when it says `proceed`), so a registration is one statement in autocommit.
//
// The probe still sees every registration committed before the lock was granted although the
// calling statement's snapshot is older: a VOLATILE PL/pgSQL function takes a fresh snapshot for
// each query it runs (READ COMMITTED). The lock is held to the end of the calling transaction,
// which is the insert's own when the statement runs alone.
//
// The caller scores the candidates (patient.service scoreCandidates). `proceed` is false when the
// probe found a record the caller has not scored yet (not in p_seen): the caller scores them and
// calls again with them in p_seen, so what it decided on is exactly what is there under the lock.
export async function up(db: Kysely<any>): Promise<void> {
  // The MRN of a sequence number: the number followed by its Luhn check digit. PL/pgSQL, not a
  // SQL function: a SQL function that cannot be inlined is parsed and planned at every call
  // (1 ms of a registration's 5 under auto_explain).
  await sql`
    CREATE FUNCTION patient_mrn(seq bigint) RETURNS text LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
    DECLARE
      s text := seq::text;
      total int := 0;
      d int;
    BEGIN
      FOR i IN 1..length(s) LOOP
        d := substr(s, length(s) + 1 - i, 1)::int;
        IF i % 2 = 1 THEN d := 2 * d - CASE WHEN d > 4 THEN 9 ELSE 0 END; END IF;
        total := total + d;
      END LOOP;
      RETURN s || ((10 - total % 10) % 10)::text;
    END $$`.execute(db)

  // ROWS 1: it returns one row or none. At the default estimate for a set-returning function
  // (1,000 rows) the insert statement around it was costed in the millions and JIT-compiled at
  // every registration (5 s).
  // plan_cache_mode: the phone branch is estimated at the default overlap selectivity (phone
  // numbers have no common elements to keep statistics of), twice as high for a parameter as for
  // a constant, so Postgres would judge the generic plan dearer and plan the probe afresh at every
  // registration, to the same plan (0.7 ms of its 1.2).
  await sql`
    CREATE FUNCTION patient_registration_check(
      p_facility_id uuid, p_family_name text, p_given_names text, p_birth_date text,
      p_phones text[], p_email text, p_ssn_hmac text, p_check boolean, p_seen uuid[]
    ) RETURNS TABLE (organization_id uuid, mrn text, proceed boolean, family_key text, family_dm text, family_dm_alt text,
                     given_key text, given_dm text, candidates jsonb)
    LANGUAGE plpgsql VOLATILE ROWS 1 SET plan_cache_mode = force_generic_plan AS $$
    #variable_conflict use_column
    DECLARE
      org uuid;
      fk text := patient_name_key(p_family_name);
      gk text := patient_name_key(split_part(btrim(p_given_names), ' ', 1));
      fdm text := dmetaphone(fk);
      fdm_alt text := dmetaphone_alt(fk);
      gdm text := dmetaphone(gk);
      found_ jsonb := '[]';
      ok boolean;
    BEGIN
      SELECT f.organization_id INTO org FROM facility f WHERE f.id = p_facility_id;
      IF org IS NULL THEN RETURN; END IF;
      IF p_check THEN
        -- Batch imports lock the same key (organisation, family-name code, birth date).
        PERFORM pg_advisory_xact_lock(hashtextextended(org::text || ':' || coalesce(fdm, '') || ':' || p_birth_date, 0));
        -- Every record that could reach the duplicate threshold: born that day with a phonetic
        -- name match, or sharing a phone, an email or an SSN; each its own index-bounded branch,
        -- the fifty kept chosen before patient rows are read (an ORDER BY ... LIMIT over patient
        -- itself tempts the planner into walking the primary key).
        WITH c AS MATERIALIZED (
               SELECT id FROM patient WHERE organization_id = org AND active AND birth_date = p_birth_date::date
                  AND (family_dm = fdm OR family_dm_alt = fdm_alt OR given_dm = gdm)
               UNION SELECT id FROM patient WHERE organization_id = org AND active AND phone_numbers && p_phones
               UNION SELECT id FROM patient WHERE organization_id = org AND active AND email IS NOT NULL AND lower(email) = lower(p_email)
               UNION SELECT id FROM patient WHERE organization_id = org AND active AND ssn_hmac = p_ssn_hmac),
             kept AS (SELECT id FROM c ORDER BY id LIMIT 50)
        SELECT coalesce(jsonb_agg(jsonb_build_object(
                 'id', p.id, 'familyKey', p.family_key, 'givenKey', p.given_key, 'familyDm', p.family_dm, 'givenDm', p.given_dm,
                 'phoneNumbers', p.phone_numbers, 'email', p.email, 'ssnHmac', p.ssn_hmac, 'address', p.address,
                 'birthDate', p.birth_date::text) ORDER BY p.id), '[]')
          INTO found_
          FROM kept JOIN patient p ON p.id = kept.id;
      END IF;
      ok := NOT EXISTS (SELECT 1 FROM jsonb_array_elements(found_) c WHERE (c->>'id')::uuid <> ALL (coalesce(p_seen, '{}')));
      RETURN QUERY SELECT org, CASE WHEN ok THEN patient_mrn(nextval('patient_mrn_seq')) END, ok, fk, fdm, fdm_alt, gk, gdm, found_;
    END $$`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP FUNCTION patient_registration_check`.execute(db)
  await sql`DROP FUNCTION patient_mrn`.execute(db)
}
