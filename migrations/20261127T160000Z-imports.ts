import { sql, type Kysely } from 'kysely'

// Frozen in time: this file never imports application code.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE import_job (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      organization_id uuid NOT NULL REFERENCES organization (id),
      facility_id uuid NOT NULL REFERENCES facility (id),
      kind text NOT NULL CHECK (kind IN ('patients', 'coverages', 'providers', 'appointments')),
      format text NOT NULL CHECK (format IN ('ndjson', 'csv')),
      dry_run boolean NOT NULL,
      allow_duplicates boolean NOT NULL,
      status text NOT NULL CHECK (status IN ('created', 'running', 'interrupted', 'completed', 'failed')),
      -- The checkpoint: rows 1..rows_processed are done and their results stored. Advanced only
      -- in the transaction that commits those rows, so a resumed upload skips exactly them.
      rows_processed bigint NOT NULL DEFAULT 0 CHECK (rows_processed >= 0),
      created_count bigint NOT NULL DEFAULT 0,
      updated_count bigint NOT NULL DEFAULT 0,
      unchanged_count bigint NOT NULL DEFAULT 0,
      rejected_count bigint NOT NULL DEFAULT 0,
      duplicate_count bigint NOT NULL DEFAULT 0,
      -- Why the job stopped (failed or interrupted): a problem object without PHI.
      problem jsonb,
      created_by text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      completed_at timestamptz,
      CHECK (created_count + updated_count + unchanged_count + rejected_count + duplicate_count = rows_processed),
      CHECK ((status = 'completed') = (completed_at IS NOT NULL))
    )`.execute(db)
  await sql`CREATE INDEX import_job_facility ON import_job (facility_id, created_at)`.execute(db)

  // One row per committed batch: its rows' results as a JSON array, in row order. A row per
  // result would double the rows written by an import.
  await sql`
    CREATE TABLE import_batch (
      import_id uuid NOT NULL REFERENCES import_job (id),
      first_row bigint NOT NULL CHECK (first_row >= 1),
      last_row bigint NOT NULL,
      results jsonb NOT NULL,
      committed_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (import_id, first_row),
      CHECK (last_row >= first_row AND jsonb_array_length(results) = last_row - first_row + 1)
    )`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE import_batch`.execute(db)
  await sql`DROP TABLE import_job`.execute(db)
}
