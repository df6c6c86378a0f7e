import { sql, type Kysely } from 'kysely'

// Frozen in time: this file never imports application code.
//
// Names in a script without a romanisation here (Han, Kana, Hangul, Arabic, Hebrew ...) have no
// name keys, so the registration probe, which looks records up by them, never found two
// registrations of 王小明 born the same day unless they shared a phone, an email or an SSN, and
// the scoring never counted two such names as the same. patient_registration_check now also looks
// up, for a family name without a key, the records born that day whose family name as written
// (patient_native_key) is the same, through patient_birth_date's (birth_date, family_key) with
// family_key null: a day's keyless names, a handful. Each candidate carries its family name and
// first given name as written, and the function returns the registered name's, for the caller to
// score; the name's own are computed only where its key is null (an ASCII registration pays for
// none). The duplicate lock of a keyless name is taken on its name as written (the phonetic code
// it lacks was '' for all of them, so every keyless name born that day shared one lock).
//
// The function as migration 20261128T143100Z left it, with the native lookup when `native`.
const registrationCheck = (native: boolean) => sql`
    CREATE FUNCTION patient_registration_check(
      p_facility_id uuid, p_family_name text, p_given_names text, p_birth_date text,
      p_phones text[], p_email text, p_ssn_hmac text, p_check boolean, p_seen uuid[]
    ) RETURNS TABLE (organization_id uuid, mrn text, proceed boolean, family_key text, family_dm text, family_dm_alt text,
                     given_key text, given_dm text, ${sql.raw(native ? 'family_native text, given_native text, ' : '')}candidates jsonb)
    LANGUAGE plpgsql VOLATILE ROWS 1 SET plan_cache_mode = force_generic_plan AS $$
    #variable_conflict use_column
    DECLARE
      org uuid;
      fk text := patient_name_key(p_family_name);
      gk text := patient_name_key(split_part(btrim(p_given_names), ' ', 1));
      fdm text := dmetaphone(fk);
      fdm_alt text := dmetaphone_alt(fk);
      gdm text := dmetaphone(gk);
      ${sql.raw(native ? `fn text := CASE WHEN fk IS NULL THEN patient_native_key(p_family_name) END;
      gn text := CASE WHEN gk IS NULL THEN patient_native_key(split_part(btrim(p_given_names), ' ', 1)) END;` : '')}
      found_ jsonb := '[]';
      ok boolean;
    BEGIN
      SELECT f.organization_id INTO org FROM facility f WHERE f.id = p_facility_id;
      IF org IS NULL THEN RETURN; END IF;
      IF p_check THEN
        -- Batch imports lock the same key (organisation, family-name code, birth date).
        PERFORM pg_advisory_xact_lock(hashtextextended(org::text || ':' || coalesce(${sql.raw(native ? 'fdm, fn' : 'fdm')}, '') || ':' || p_birth_date, 0));
        -- Every record that could reach the duplicate threshold: born that day with a phonetic
        -- name match, or sharing a phone, an email or an SSN; each its own index-bounded branch,
        -- the fifty kept chosen before patient rows are read (an ORDER BY ... LIMIT over patient
        -- itself tempts the planner into walking the primary key).
        WITH c AS MATERIALIZED (
               SELECT id FROM patient WHERE organization_id = org AND active AND birth_date = p_birth_date::date
                  AND (family_dm = fdm OR family_dm_alt = fdm_alt OR given_dm = gdm)
               ${sql.raw(native ? `UNION ALL SELECT id FROM patient WHERE organization_id = org AND active AND birth_date = p_birth_date::date
                  AND fn IS NOT NULL AND family_key IS NULL AND patient_native_key(family_name) = fn` : '')}
               UNION ALL SELECT id FROM patient WHERE organization_id = org AND active AND phone_numbers && p_phones
               UNION ALL SELECT id FROM patient WHERE organization_id = org AND active AND email IS NOT NULL AND lower(email) = lower(p_email)
               UNION ALL SELECT id FROM patient WHERE organization_id = org AND active AND ssn_hmac = p_ssn_hmac),
             kept AS (SELECT DISTINCT ON (id) id FROM c ORDER BY id LIMIT 50)
        SELECT coalesce(jsonb_agg(jsonb_build_object(
                 'id', p.id, 'familyKey', p.family_key, 'givenKey', p.given_key, 'familyDm', p.family_dm, 'givenDm', p.given_dm,
                 ${sql.raw(native ? `'familyNative', patient_native_key(p.family_name), 'givenNative', patient_native_key(split_part(btrim(p.given_names), ' ', 1)),` : '')}
                 'phoneNumbers', p.phone_numbers, 'email', p.email, 'ssnHmac', p.ssn_hmac, 'address', p.address,
                 'birthDate', p.birth_date::text) ORDER BY p.id), '[]')
          INTO found_
          FROM kept JOIN patient p ON p.id = kept.id;
      END IF;
      ok := NOT EXISTS (SELECT 1 FROM jsonb_array_elements(found_) c WHERE (c->>'id')::uuid <> ALL (coalesce(p_seen, '{}')));
      RETURN QUERY SELECT org, CASE WHEN ok THEN patient_mrn(nextval('patient_mrn_seq')) END, ok, fk, fdm, fdm_alt, gk, gdm, ${sql.raw(native ? 'fn, gn, ' : '')}found_;
    END $$`

// The return type changes: the function is dropped and created, not replaced.
const drop = sql`DROP FUNCTION patient_registration_check(uuid, text, text, text, text[], text, text, boolean, uuid[])`

export async function up(db: Kysely<any>): Promise<void> {
  await drop.execute(db)
  await registrationCheck(true).execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  await drop.execute(db)
  await registrationCheck(false).execute(db)
}
