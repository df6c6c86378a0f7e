import { sql, type Kysely } from 'kysely'

// Frozen in time: this file never imports application code.
// patient_registration_check (migration 20261127T200000Z) as it was, except how the duplicate
// probe drops a record found by more than one branch. Its UNION was planned as a HashAggregate
// sized by the generic plan's estimate of the phone branch (10,000 rows, for a parameter): about
// 400 kB of hash table allocated, zeroed and iterated at every registration, 5% of a
// registration's Postgres time at a million patients, to dedupe a handful of ids. UNION ALL
// under DISTINCT ON (id) keeps the same ids (the fifty lowest, distinct), deduped by a sort.

// The function as migration 20261127T200000Z created it, but for how its probe combines the
// branches (`union`) and keeps the fifty (`kept`).
const registrationCheck = (union: 'UNION' | 'UNION ALL', kept: string) => sql`
    CREATE OR REPLACE FUNCTION patient_registration_check(
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
               ${sql.raw(union)} SELECT id FROM patient WHERE organization_id = org AND active AND phone_numbers && p_phones
               ${sql.raw(union)} SELECT id FROM patient WHERE organization_id = org AND active AND email IS NOT NULL AND lower(email) = lower(p_email)
               ${sql.raw(union)} SELECT id FROM patient WHERE organization_id = org AND active AND ssn_hmac = p_ssn_hmac),
             kept AS (${sql.raw(kept)})
        SELECT coalesce(jsonb_agg(jsonb_build_object(
                 'id', p.id, 'familyKey', p.family_key, 'givenKey', p.given_key, 'familyDm', p.family_dm, 'givenDm', p.given_dm,
                 'phoneNumbers', p.phone_numbers, 'email', p.email, 'ssnHmac', p.ssn_hmac, 'address', p.address,
                 'birthDate', p.birth_date::text) ORDER BY p.id), '[]')
          INTO found_
          FROM kept JOIN patient p ON p.id = kept.id;
      END IF;
      ok := NOT EXISTS (SELECT 1 FROM jsonb_array_elements(found_) c WHERE (c->>'id')::uuid <> ALL (coalesce(p_seen, '{}')));
      RETURN QUERY SELECT org, CASE WHEN ok THEN patient_mrn(nextval('patient_mrn_seq')) END, ok, fk, fdm, fdm_alt, gk, gdm, found_;
    END $$`

export async function up(db: Kysely<any>): Promise<void> {
  // A record found by two branches is kept once by DISTINCT ON, always a sort of the few ids found.
  await registrationCheck('UNION ALL', 'SELECT DISTINCT ON (id) id FROM c ORDER BY id LIMIT 50').execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  await registrationCheck('UNION', 'SELECT id FROM c ORDER BY id LIMIT 50').execute(db)
}
