import { sql, type Kysely } from 'kysely'

// Frozen in time: this file never imports application code.
// patient_name_key was STRICT around a body that is not (NULLIF), so Postgres could not inline it:
// every statement that calls it (a name search, a registration's duplicate check, every INSERT
// into patient for its generated key columns) ran the SQL-function executor, which parses and
// plans the body afresh at each call site: about 37 us of backend CPU per site per statement
// (measured at a million patients: a statement computing two keys took 120 us, inlined 60 us).
// Declared CALLED ON NULL INPUT, it is inlined into the caller's plan. The result is the same for
// every input: a null name still gives null (translate, lower and regexp_replace are strict).
const body = sql.raw(`
      SELECT NULLIF(regexp_replace(lower(translate(s,
        'ÀÁÂÃÄÅàáâãäåÇçÈÉÊËèéêëÌÍÎÏìíîïÑñÒÓÔÕÖØòóôõöøÙÚÛÜùúûüÝýÿŠšŽžŁłĆćČčĘęŃńŚśŹźŻżŘřŮůĚěĎďŤťŇň',
        'AAAAAAaaaaaaCcEEEEeeeeIIIIiiiiNnOOOOOOooooooUUUUuuuuYyySsZzLlCcCcEeNnSsZzZzRrUuEeDdTtNn')), '[^a-z]', '', 'g'), '')
    `)

export async function up(db: Kysely<any>): Promise<void> {
  await sql`CREATE OR REPLACE FUNCTION patient_name_key(s text) RETURNS text LANGUAGE sql IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE AS $$${body}$$`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`CREATE OR REPLACE FUNCTION patient_name_key(s text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$${body}$$`.execute(db)
}
