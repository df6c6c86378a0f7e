import { sql, type Kysely } from 'kysely'

// Frozen in time: this file never imports application code.
//
// A merge repoints every foreign key to patient(id) with `UPDATE t SET col = survivor WHERE col =
// merged`, and Postgres indexes the referenced key, never the referencing column. Five of them had
// no index starting with the column, so each merge read those tables whole: at 62,000 eligibility
// checks (271 responses kept) 48 ms and 14,758 pages for one patient, growing with every check the
// service runs; the foreign-key check of a patient row's removal did the same, row by row.
const REFERENCES: [table: string, index: string][] = [
  ['eligibility_check', 'eligibility_check_patient'],
  ['estimate', 'estimate_patient'],
  ['slot_hold', 'slot_hold_patient'],
  ['surgical_case', 'surgical_case_patient'],
  ['waitlist_entry', 'waitlist_entry_patient'],
]

export async function up(db: Kysely<any>): Promise<void> {
  for (const [table, index] of REFERENCES) await sql`CREATE INDEX ${sql.id(index)} ON ${sql.id(table)} (patient_id)`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const [, index] of REFERENCES) await sql`DROP INDEX ${sql.id(index)}`.execute(db)
}
