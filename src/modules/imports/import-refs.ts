import { Type } from '@sinclair/typebox'
import { sql, type Transaction } from 'kysely'
import type { Database } from '../../db/database.ts'
import { ConflictError, NotFoundError } from '../../http/errors.ts'
import { isValidNpi } from '../../lib/identifiers.ts'
import { IdentifierSchema } from '../patients/patient.schemas.ts'
import { CreateProviderBodySchema } from '../scheduling/scheduling.schemas.ts'
import type { FieldProblem } from './import-kind.ts'
import { PatientImportRowSchema } from './import-patients.ts'
import { rowProblem, type RowProblem } from './import-parse.ts'
import type { ImportJobRow } from './import.repository.ts'
import { recordset } from './import-sql.ts'

/**
 * How a coverage or appointment row names its patient, since a file from another system does not
 * know our ids: by our MRN, or by an external identifier (system|value) as stored with the patient.
 */
export const PatientRefFields = {
  patientMrn: Type.Optional(PatientImportRowSchema.properties.mrn),
  patientIdentifier: Type.Optional(IdentifierSchema),
}

/** How an appointment row names its provider: our id, or the NPI (unique within the organisation). */
export const ProviderNpiField = { providerNpi: Type.Optional(CreateProviderBodySchema.properties.npi) }

export interface PatientRef {
  patientId?: string
  patientMrn?: string
  patientIdentifier?: { system: string; value: string }
}

type Resolved = { id: string; problem?: undefined } | { id?: undefined; problem: RowProblem }

const given = (row: object, fields: string[]) => fields.filter((f) => (row as Record<string, unknown>)[f] !== undefined)

/** Exactly one of `fields` names the referenced record. */
export function oneOf(row: object, fields: string[]): FieldProblem[] {
  const present = given(row, fields)
  if (present.length === 1) return []
  if (present.length === 0) return [{ pointer: `/${fields[0]}`, detail: `one of ${fields.join(', ')} is required` }]
  return present.slice(1).map((f) => ({ pointer: `/${f}`, detail: `give only one of ${fields.join(', ')}` }))
}

export function patientRefKey(r: PatientRef): string {
  if (r.patientId) return `id:${r.patientId}`
  if (r.patientMrn) return `mrn:${r.patientMrn}`
  return `identifier:${r.patientIdentifier!.system}|${r.patientIdentifier!.value}`
}

const pointerOf = (r: PatientRef) => (r.patientId ? '/patientId' : r.patientMrn ? '/patientMrn' : '/patientIdentifier')

/**
 * The patients named by the rows, in one statement. A patient must belong to the import's
 * organisation and be linked to its facility (anything else is "not found", as over the API), and
 * must not have been merged away.
 */
export async function resolvePatients(trx: Transaction<Database>, job: ImportJobRow, refs: PatientRef[]): Promise<Resolved[]> {
  if (refs.length === 0) return []
  const input = refs.map((r, ord) => ({ ord, pid: r.patientId, mrn: r.patientMrn, system: r.patientIdentifier?.system, value: r.patientIdentifier?.value }))
  const select = sql`SELECT p.id, p.active,
      (p.facility_id = ${job.facilityId} OR EXISTS (SELECT 1 FROM patient_facility pf WHERE pf.patient_id = p.id AND pf.facility_id = ${job.facilityId})) AS linked`
  // Per row, a probe of the unique index its kind of reference names (LIMIT 1 changes no answer).
  // A join of the whole batch let the planner, whose statistics lag a growing organisation, hash
  // every patient of the organisation for each batch (patient imports had that plan; see there).
  const { rows } = await sql<{ ord: number; id: string; active: boolean; linked: boolean }>`
    SELECT v.ord, r.id, r.active, r.linked
    FROM ${recordset(input, [['ord', 'ord', 'int'], ['pid', 'pid', 'uuid'], ['mrn', 'mrn', 'text'], ['system', 'system', 'text'], ['value', 'value', 'text']])}
    CROSS JOIN LATERAL (
      (${select} FROM patient p WHERE v.pid IS NOT NULL AND p.id = v.pid AND p.organization_id = ${job.organizationId})
      UNION ALL (${select} FROM patient p WHERE v.mrn IS NOT NULL AND p.organization_id = ${job.organizationId} AND p.mrn = v.mrn)
      UNION ALL (${select} FROM patient_identifier pi JOIN patient p ON p.id = pi.patient_id
                 WHERE v.system IS NOT NULL AND pi.organization_id = ${job.organizationId} AND pi.system = v.system AND pi.value = v.value)
      LIMIT 1) r`.execute(trx)
  const hits = new Map(rows.map((r) => [r.ord, r]))
  return refs.map((ref, ord) => {
    const hit = hits.get(ord)
    const pointer = pointerOf(ref)
    if (!hit || !hit.linked) {
      return { problem: { ...rowProblem(new NotFoundError('Patient')), errors: [{ pointer, detail: 'no patient of the facility has it' }] } }
    }
    if (!hit.active) {
      return { problem: { ...rowProblem(new ConflictError('patient-merged', 'This patient was merged into another record; name the surviving record')), errors: [{ pointer, detail: 'a merged record' }] } }
    }
    return { id: hit.id }
  })
}

export interface ProviderRef {
  providerId?: string
  providerNpi?: string
}

export function providerRefProblems(row: ProviderRef): FieldProblem[] {
  const problems = oneOf(row, ['providerId', 'providerNpi'])
  if (row.providerNpi !== undefined && !isValidNpi(row.providerNpi)) problems.push({ pointer: '/providerNpi', detail: 'NPI check digit is wrong' })
  return problems
}

/** Active providers of the organisation who work at the import's facility, by id or NPI, in one statement. */
export async function resolveProviders(trx: Transaction<Database>, job: ImportJobRow, refs: ProviderRef[]): Promise<Resolved[]> {
  if (refs.length === 0) return []
  const input = refs.map((r, ord) => ({ ord, pid: r.providerId, npi: r.providerNpi }))
  const { rows } = await sql<{ ord: number; id: string }>`
    WITH v AS (SELECT * FROM ${recordset(input, [['ord', 'ord', 'int'], ['pid', 'pid', 'uuid'], ['npi', 'npi', 'text']])})
    SELECT v.ord, p.id FROM v JOIN provider p ON p.organization_id = ${job.organizationId} AND (p.id = v.pid OR p.npi = v.npi)
    WHERE p.active AND EXISTS (SELECT 1 FROM provider_facility pf WHERE pf.provider_id = p.id AND pf.facility_id = ${job.facilityId})`.execute(trx)
  const hits = new Map(rows.map((r) => [r.ord, r.id]))
  return refs.map((ref, ord) => {
    const id = hits.get(ord)
    if (id) return { id }
    const pointer = ref.providerId ? '/providerId' : '/providerNpi'
    return { problem: { ...rowProblem(new NotFoundError('Provider')), errors: [{ pointer, detail: 'no active provider of the facility has it' }] } }
  })
}
