import { sql, type Kysely } from 'kysely'

// Frozen in time: this file never imports application code.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE patient (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      organization_id uuid NOT NULL REFERENCES organization (id),
      -- The registering facility: the patient is visible to users of the facilities linked in
      -- patient_facility (this one included).
      facility_id uuid NOT NULL REFERENCES facility (id),
      mrn text NOT NULL,
      family_name text NOT NULL CHECK (length(family_name) BETWEEN 1 AND 100),
      given_names text NOT NULL CHECK (length(given_names) BETWEEN 1 AND 200),
      birth_date date NOT NULL,
      active boolean NOT NULL DEFAULT true,
      merged_into_id uuid REFERENCES patient (id),
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      version integer NOT NULL DEFAULT 1 CHECK (version > 0),
      UNIQUE (organization_id, mrn)
    )`.execute(db)
  await sql`
    CREATE TABLE patient_facility (
      patient_id uuid NOT NULL REFERENCES patient (id),
      facility_id uuid NOT NULL REFERENCES facility (id),
      PRIMARY KEY (patient_id, facility_id)
    )`.execute(db)
  await sql`CREATE INDEX patient_facility_facility ON patient_facility (facility_id)`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE patient_facility`.execute(db)
  await sql`DROP TABLE patient`.execute(db)
}
