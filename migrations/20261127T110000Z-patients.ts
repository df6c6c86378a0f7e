import { sql, type Kysely } from 'kysely'

// Frozen in time: this file never imports application code.
export async function up(db: Kysely<any>): Promise<void> {
  // Search key of a name: lower case, common Latin accents folded, letters only ("O'Brien" ->
  // "obrien", "José" -> "jose"). Used by generated columns and by queries alike, so the stored
  // keys and the searched keys are computed by one function.
  await sql`
    CREATE FUNCTION patient_name_key(s text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
      SELECT NULLIF(regexp_replace(lower(translate(s,
        'ÀÁÂÃÄÅàáâãäåÇçÈÉÊËèéêëÌÍÎÏìíîïÑñÒÓÔÕÖØòóôõöøÙÚÛÜùúûüÝýÿŠšŽžŁłĆćČčĘęŃńŚśŹźŻżŘřŮůĚěĎďŤťŇň',
        'AAAAAAaaaaaaCcEEEEeeeeIIIIiiiiNnOOOOOOooooooUUUUuuuuYyySsZzLlCcCcEeNnSsZzZzRrUuEeDdTtNn')), '[^a-z]', '', 'g'), '')
    $$`.execute(db)

  await sql`CREATE SEQUENCE patient_mrn_seq START 10000000`.execute(db)

  await sql`
    CREATE TABLE patient (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      organization_id uuid NOT NULL REFERENCES organization (id),
      -- The registering facility: the patient is visible to users of the facilities linked in
      -- patient_facility (this one included).
      facility_id uuid NOT NULL REFERENCES facility (id),
      mrn text NOT NULL CHECK (length(mrn) BETWEEN 1 AND 40),
      family_name text NOT NULL CHECK (length(family_name) BETWEEN 1 AND 100),
      given_names text NOT NULL CHECK (length(given_names) BETWEEN 1 AND 200),
      birth_date date NOT NULL,
      prefix text CHECK (length(prefix) <= 40),
      suffix text CHECK (length(suffix) <= 40),
      preferred_name text CHECK (length(preferred_name) <= 100),
      administrative_sex text CHECK (administrative_sex IN ('female', 'male', 'other', 'unknown')),
      gender_identity text CHECK (length(gender_identity) <= 100),
      language text CHECK (length(language) <= 35),
      marital_status text CHECK (marital_status IN ('single', 'married', 'divorced', 'widowed', 'separated', 'domestic_partner', 'unknown')),
      address jsonb,
      phones jsonb NOT NULL DEFAULT '[]',
      -- E.164 numbers of phones, for indexed lookup; maintained with phones.
      phone_numbers text[] NOT NULL DEFAULT '{}',
      email text CHECK (length(email) <= 254),
      emergency_contacts jsonb NOT NULL DEFAULT '[]',
      guarantor jsonb,
      preferred_contact text CHECK (preferred_contact IN ('phone', 'sms', 'email', 'mail')),
      sms_reminder_consent boolean NOT NULL DEFAULT false,
      email_reminder_consent boolean NOT NULL DEFAULT false,
      -- AES-256-GCM (iv | tag | ciphertext, base64) and a keyed HMAC for exact lookup.
      ssn_cipher text,
      ssn_hmac text,
      ssn_last4 text CHECK (ssn_last4 ~ '^[0-9]{4}$'),
      mother_patient_id uuid REFERENCES patient (id),
      birth_time timestamptz,
      multiple_birth_order smallint CHECK (multiple_birth_order BETWEEN 1 AND 12),
      active boolean NOT NULL DEFAULT true,
      merged_into_id uuid REFERENCES patient (id),
      merged_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      version integer NOT NULL DEFAULT 1 CHECK (version > 0),
      family_key text GENERATED ALWAYS AS (patient_name_key(family_name)) STORED,
      given_key text GENERATED ALWAYS AS (patient_name_key(split_part(btrim(given_names), ' ', 1))) STORED,
      family_dm text GENERATED ALWAYS AS (dmetaphone(patient_name_key(family_name))) STORED,
      family_dm_alt text GENERATED ALWAYS AS (dmetaphone_alt(patient_name_key(family_name))) STORED,
      given_dm text GENERATED ALWAYS AS (dmetaphone(patient_name_key(split_part(btrim(given_names), ' ', 1)))) STORED,
      UNIQUE (organization_id, mrn),
      CHECK (merged_into_id IS NULL OR (merged_into_id <> id AND NOT active AND merged_at IS NOT NULL)),
      CHECK ((ssn_cipher IS NULL) = (ssn_hmac IS NULL) AND (ssn_cipher IS NULL) = (ssn_last4 IS NULL))
    )`.execute(db)
  await sql`
    CREATE TABLE patient_facility (
      patient_id uuid NOT NULL REFERENCES patient (id),
      facility_id uuid NOT NULL REFERENCES facility (id),
      PRIMARY KEY (patient_id, facility_id)
    )`.execute(db)
  await sql`CREATE INDEX patient_facility_facility ON patient_facility (facility_id)`.execute(db)

  // Name search bounds its candidates with these before scoring (DESIGN.md "Name search").
  await sql`CREATE INDEX patient_name_phonetic ON patient (family_dm, given_dm, birth_date)`.execute(db)
  await sql`CREATE INDEX patient_name_phonetic_alt ON patient (family_dm_alt, given_dm)`.execute(db)
  await sql`CREATE INDEX patient_name_prefix ON patient (family_key text_pattern_ops, given_key text_pattern_ops)`.execute(db)
  await sql`CREATE INDEX patient_birth_date ON patient (birth_date, family_key)`.execute(db)
  // fastupdate off: a GIN pending list grown by steady inserts is scanned whole by every lookup
  // (15 ms instead of 0.05 ms at a million patients); inserts pay a little instead.
  await sql`CREATE INDEX patient_family_trgm ON patient USING gin (family_key gin_trgm_ops) WITH (fastupdate = off)`.execute(db)
  await sql`CREATE INDEX patient_phone_numbers ON patient USING gin (phone_numbers) WITH (fastupdate = off)`.execute(db)
  await sql`CREATE INDEX patient_email ON patient (lower(email)) WHERE email IS NOT NULL`.execute(db)
  await sql`CREATE INDEX patient_ssn_hmac ON patient (ssn_hmac) WHERE ssn_hmac IS NOT NULL`.execute(db)
  await sql`CREATE INDEX patient_mother ON patient (mother_patient_id) WHERE mother_patient_id IS NOT NULL`.execute(db)
  await sql`CREATE INDEX patient_merged_into ON patient (merged_into_id) WHERE merged_into_id IS NOT NULL`.execute(db)

  await sql`
    CREATE TABLE patient_identifier (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      organization_id uuid NOT NULL REFERENCES organization (id),
      patient_id uuid NOT NULL REFERENCES patient (id),
      system text NOT NULL CHECK (length(system) BETWEEN 1 AND 200),
      value text NOT NULL CHECK (length(value) BETWEEN 1 AND 100),
      created_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (organization_id, system, value)
    )`.execute(db)
  await sql`CREATE INDEX patient_identifier_patient ON patient_identifier (patient_id)`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE patient_identifier`.execute(db)
  await sql`DROP TABLE patient_facility`.execute(db)
  await sql`DROP TABLE patient`.execute(db)
  await sql`DROP SEQUENCE patient_mrn_seq`.execute(db)
  await sql`DROP FUNCTION patient_name_key`.execute(db)
}
