import { sql, type Kysely } from 'kysely'

// Frozen in time: this file never imports application code.
// The duplicate check of every registration and import looks up the patients born that day and
// keeps those of the organisation whose phonetic name codes match (patient.repository.ts
// findDuplicateCandidates). With the codes in the birth-date index that is an index-only scan:
// about 30 heap pages read at random per registration (at a million patients) become none.
// Measured on the bench database: 1.5-2.5 ms to 0.2 ms for that branch. It replaces the index it
// extends; its keys, which search by birth date orders by, are unchanged.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX patient_birth_date`.execute(db)
  await sql`
    CREATE INDEX patient_birth_date ON patient (birth_date, family_key)
    INCLUDE (organization_id, active, family_dm, family_dm_alt, given_dm, id)`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX patient_birth_date`.execute(db)
  await sql`CREATE INDEX patient_birth_date ON patient (birth_date, family_key)`.execute(db)
}
