import { sql, type Kysely } from 'kysely'

// Frozen in time: this file never imports application code.
export async function up(db: Kysely<any>): Promise<void> {
  // An appointment loaded by a batch import remembers the source system's id for it: the natural
  // key a later run of the same feed matches on. Unique per facility (imports are per facility);
  // appointments booked here have neither.
  await sql`
    ALTER TABLE appointment
      ADD COLUMN source_system text CHECK (length(source_system) BETWEEN 1 AND 200),
      ADD COLUMN source_id text CHECK (length(source_id) BETWEEN 1 AND 200),
      ADD CONSTRAINT appointment_source_pair CHECK ((source_system IS NULL) = (source_id IS NULL))`.execute(db)
  await sql`CREATE UNIQUE INDEX appointment_source ON appointment (facility_id, source_system, source_id) WHERE source_id IS NOT NULL`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX appointment_source`.execute(db)
  await sql`ALTER TABLE appointment DROP CONSTRAINT appointment_source_pair, DROP COLUMN source_id, DROP COLUMN source_system`.execute(db)
}
