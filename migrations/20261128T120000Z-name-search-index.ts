import { sql, type Kysely } from 'kysely'

// Frozen in time: this file never imports application code.
// A name search of one word (a family name alone) reads its exact and phonetic ranks by
// family_key, family_dm or family_dm_alt alone, in id order up to a page (patient.repository.ts).
// The name-search indexes lead with those columns but continue with given_key or given_dm, so
// such a rank read every match and sorted it: at a million patients 'Lee' (6,000 rows) took
// 125 ms, 'Garcia' 290 ms, 'Smith' 1.2 s, and 'Lea' (phonetic, 6,000 rows) 143 ms. Ending in id,
// these indexes give each rank a page in id order and stop: 0.4-0.5 ms for each of those names.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`CREATE INDEX patient_name_family ON patient (family_key, id)`.execute(db)
  await sql`CREATE INDEX patient_name_family_phonetic ON patient (family_dm, id)`.execute(db)
  await sql`CREATE INDEX patient_name_family_phonetic_alt ON patient (family_dm_alt, id)`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX patient_name_family_phonetic_alt`.execute(db)
  await sql`DROP INDEX patient_name_family_phonetic`.execute(db)
  await sql`DROP INDEX patient_name_family`.execute(db)
}
