import { sql, type Kysely } from 'kysely'

// Frozen in time: this file never imports application code.
//
// A family name in a script without a letter-for-letter romanisation here (Han, Kana, Hangul,
// Arabic, Hebrew, Thai, Devanagari ...) has no name key (patient_name_key keeps a-z only), so name
// search answered 400 "no letters" for 王 or כהן and such a patient could be found only by MRN,
// phone, birth date or identifier. The native key is the name as written, compatibility-normalised
// (NFKC: full-width and half-width forms become the usual ones) and without spaces, ASCII
// punctuation and digits, or the middle dots that separate the parts of a transcribed name. It
// folds no case (lower() outside ASCII depends on the database's locale, and these scripts have
// none) and keys only what the Latin key cannot: the index holds the rows whose family key is null,
// so it costs a registration of an ASCII name nothing but the predicate.
const NATIVE = `SELECT NULLIF(regexp_replace(normalize(s, NFKC), '[[:space:]!-@[-\`{-~·・‧]', '', 'g'), '')`

export async function up(db: Kysely<any>): Promise<void> {
  await sql`CREATE FUNCTION patient_native_key(s text) RETURNS text LANGUAGE sql IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE AS $$${sql.raw(NATIVE)}$$`.execute(db)
  await sql`CREATE INDEX patient_name_native ON patient (patient_native_key(family_name), id) WHERE family_key IS NULL`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX patient_name_native`.execute(db)
  await sql`DROP FUNCTION patient_native_key(text)`.execute(db)
}
