import { sql, type Kysely } from 'kysely'

// Frozen in time: this file never imports application code.
// Name search reads each rank in id order up to one page (patient.repository.ts): the name-key
// indexes end in id so that a common name (hundreds of phonetic Smiths) is a short ordered index
// scan instead of a sort of every match. They replace the indexes they extend.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX patient_name_phonetic`.execute(db)
  await sql`CREATE INDEX patient_name_phonetic ON patient (family_dm, given_dm, id)`.execute(db)
  await sql`DROP INDEX patient_name_phonetic_alt`.execute(db)
  await sql`CREATE INDEX patient_name_phonetic_alt ON patient (family_dm_alt, given_dm, id)`.execute(db)
  await sql`DROP INDEX patient_name_prefix`.execute(db)
  await sql`CREATE INDEX patient_name_prefix ON patient (family_key text_pattern_ops, given_key text_pattern_ops, id)`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX patient_name_phonetic`.execute(db)
  await sql`CREATE INDEX patient_name_phonetic ON patient (family_dm, given_dm, birth_date)`.execute(db)
  await sql`DROP INDEX patient_name_phonetic_alt`.execute(db)
  await sql`CREATE INDEX patient_name_phonetic_alt ON patient (family_dm_alt, given_dm)`.execute(db)
  await sql`DROP INDEX patient_name_prefix`.execute(db)
  await sql`CREATE INDEX patient_name_prefix ON patient (family_key text_pattern_ops, given_key text_pattern_ops)`.execute(db)
}
