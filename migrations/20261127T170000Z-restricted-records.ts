import { sql, type Kysely } from 'kysely'

// Frozen in time: this file never imports application code.
export async function up(db: Kysely<any>): Promise<void> {
  // A restricted record (employee, VIP, sensitive) is readable in full only by its care team or
  // under a break-the-glass reason.
  await sql`ALTER TABLE patient ADD COLUMN restriction text CHECK (restriction IN ('employee', 'vip', 'sensitive'))`.execute(db)
  await sql`
    CREATE TABLE patient_care_team (
      patient_id uuid NOT NULL REFERENCES patient (id),
      user_sub text NOT NULL CHECK (length(user_sub) BETWEEN 1 AND 255),
      added_by text NOT NULL,
      added_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (patient_id, user_sub)
    )`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE patient_care_team`.execute(db)
  await sql`ALTER TABLE patient DROP COLUMN restriction`.execute(db)
}
