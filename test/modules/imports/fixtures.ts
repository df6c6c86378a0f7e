import { randomInt, randomUUID } from 'node:crypto'
import { sql } from 'kysely'
import type { Db } from '../../../src/db/create-db.ts'
import { isValidNpi } from '../../../src/lib/identifiers.ts'
import { bearer, type TestContext } from '../../helpers/app.ts'

export const ndjson = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n'

/** A random NPI with a correct check digit. */
export function validNpi(): string {
  const base = String(randomInt(100_000_000, 999_999_999))
  for (let d = 0; d < 10; d++) if (isValidNpi(`${base}${d}`)) return `${base}${d}`
  throw new Error('unreachable')
}

/** The NPI with a wrong check digit. */
export const badNpi = (npi: string) => `${npi.slice(0, 9)}${(Number(npi[9]) + 1) % 10}`

interface Tap {
  equal(found: unknown, wanted: unknown, message: string): unknown
}

/** Create an import, upload a file, read the per-row results. */
export function importer(t: Tap, ctx: TestContext, token: string, facilityId: string) {
  const { app } = ctx
  const create = async (body: Record<string, unknown>) => {
    const res = await app.inject({ method: 'POST', url: '/imports', headers: bearer(token), payload: { facilityId, format: 'ndjson', ...body } })
    t.equal(res.statusCode, 201, `import created: ${res.body}`)
    return res.json() as { id: string }
  }
  const results = async (id: string) => {
    const res = await app.inject({ url: `/imports/${id}/results`, headers: bearer(token) })
    t.equal(res.statusCode, 200, 'results read')
    return res.body.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l))
  }
  const importFile = async (kind: string, payload: string, body: Record<string, unknown> = {}, type = 'application/x-ndjson') => {
    const job = await create({ kind, ...body })
    const res = await app.inject({ method: 'PUT', url: `/imports/${job.id}/file`, headers: { ...bearer(token), 'content-type': type }, payload })
    t.equal(res.statusCode, 200, `file applied: ${res.statusCode === 200 ? '' : res.body}`)
    return { job: res.json(), results: await results(job.id) }
  }
  return { create, results, importFile }
}

export const countRows = async (db: Db, table: string, where = sql`true`) =>
  Number((await sql<{ n: string }>`SELECT count(*)::text AS n FROM ${sql.table(table)} WHERE ${where}`.execute(db.kysely)).rows[0].n)

/** Create and update audit events written by one import. */
export const importEvents = (db: Db, importId: string) =>
  db.kysely.selectFrom('auditEvent').select(['action', 'verb', 'resourceId', 'patientId', 'facilityId', 'detail'])
    .where(sql<boolean>`detail->>'importId' = ${importId}`).orderBy('id').execute()

export async function patientWithIdentifier(db: Db, patient: { id: string; organizationId: string }, system: string, value = randomUUID()) {
  await db.kysely.insertInto('patientIdentifier').values({ organizationId: patient.organizationId, patientId: patient.id, system, value }).execute()
  return { system, value }
}
