import { randomUUID } from 'node:crypto'
import { Type, type Static } from '@sinclair/typebox'
import { sql } from 'kysely'
import type { NewAuditEvent } from '../../db/database.ts'
import { auditEvent, insertAuditEvents } from '../../http/audit.ts'
import { canActFor } from '../../http/auth.ts'
import { ConflictError, NotFoundError } from '../../http/errors.ts'
import { isValidNpi } from '../../lib/identifiers.ts'
import { CreateProviderBodySchema } from '../scheduling/scheduling.schemas.ts'
import type { ImportKindHandler, RowOutcome } from './import-kind.ts'
import { rowProblem } from './import-parse.ts'
import { changedFields, recordset } from './import-sql.ts'

// Without its default ([]): a row that leaves specialtyIds out keeps the provider's specialties.
const { default: _noDefault, ...specialtyIds } = CreateProviderBodySchema.properties.specialtyIds

/**
 * A provider row: the create-provider body (one definition, from the scheduling module), matched
 * on the NPI within the import's organisation. `facilityIds` defaults to the import's facility;
 * the provider is linked to each (links to other facilities are kept). `specialtyIds`, when
 * given, replaces the provider's specialties.
 */
export const ProviderImportRowSchema = Type.Object(
  {
    ...CreateProviderBodySchema.properties,
    specialtyIds: Type.Optional(specialtyIds),
    facilityIds: Type.Optional(CreateProviderBodySchema.properties.facilityIds),
  },
  { additionalProperties: false },
)
type ProviderRow = Static<typeof ProviderImportRowSchema>

interface Existing {
  id: string
  npi: string
  displayName: string
  specialtyIds: string[]
  facilityIds: string[]
}

const sorted = (ids: string[]) => [...ids].sort()

export function providerImport(): ImportKindHandler<ProviderRow> {
  return {
    schema: ProviderImportRowSchema,
    permission: 'scheduling:write',

    prepare(row, job) {
      if (row.facilityIds === undefined) row.facilityIds = [job.facilityId]
      return isValidNpi(row.npi) ? [] : [{ pointer: '/npi', detail: 'NPI check digit is wrong' }]
    },

    keys: (row) => [`npi:${row.npi}`],

    async apply({ trx, ctx, job }, rows) {
      const outcomes: (RowOutcome | undefined)[] = rows.map(() => undefined)
      const reject = (i: number, err: Error, pointer: string, detail: string) =>
        (outcomes[i] = { outcome: 'rejected', recordId: null, problem: { ...rowProblem(err), errors: [{ pointer, detail }] } })

      // Facilities and specialties the rows name, in one statement each.
      const facilityIds = [...new Set(rows.flatMap((r) => r.value.facilityIds!))]
      const facilities = new Map((await trx.selectFrom('facility').select(['id', 'organizationId']).where('id', 'in', facilityIds).execute()).map((f) => [f.id, f]))
      const specialtyIds = [...new Set(rows.flatMap((r) => r.value.specialtyIds ?? []))]
      const specialties = new Set(specialtyIds.length ? (await trx.selectFrom('specialty').select('id').where('id', 'in', specialtyIds).execute()).map((s) => s.id) : [])
      rows.forEach(({ value }, i) => {
        // The same answer as the single-record endpoint for a facility the caller cannot act for.
        const f = value.facilityIds!.findIndex((id) => !canActFor(ctx.principal, id) || facilities.get(id)?.organizationId !== job.organizationId)
        if (f >= 0) return reject(i, new NotFoundError('Facility'), `/facilityIds/${f}`, "not a facility of the import's organisation you act for")
        const s = (value.specialtyIds ?? []).findIndex((id) => !specialties.has(id))
        if (s >= 0) reject(i, new NotFoundError('Specialty'), `/specialtyIds/${s}`, 'no such specialty')
      })

      // Existing providers by NPI, locked in id order, with their links.
      const npis = rows.map((r) => r.value.npi)
      const found = await trx.selectFrom('provider')
        .select(['id', 'npi', 'displayName'])
        .select(sql<string[]>`COALESCE((SELECT array_agg(ps.specialty_id::text ORDER BY ps.specialty_id) FROM provider_specialty ps WHERE ps.provider_id = provider.id), '{}')`.as('specialtyIds'))
        .select(sql<string[]>`COALESCE((SELECT array_agg(pf.facility_id::text ORDER BY pf.facility_id) FROM provider_facility pf WHERE pf.provider_id = provider.id), '{}')`.as('facilityIds'))
        .where('organizationId', '=', job.organizationId).where('npi', 'in', npis).orderBy('id').forUpdate().execute()
      const byNpi = new Map<string, Existing>(found.map((p) => [p.npi, p]))

      const audit: NewAuditEvent[] = []
      const record = (i: number, verb: 'create' | 'update', id: string, detail: Record<string, unknown> = {}) =>
        audit.push(auditEvent(ctx, {
          action: verb, verb: `provider.${verb}`, resourceType: 'provider', resourceId: id, facilityId: job.facilityId,
          detail: { importId: job.id, row: rows[i].row, ...detail },
        }))
      const creates: { ord: number; id: string; npi: string; displayName: string }[] = []
      const updates: { id: string; displayName: string }[] = []
      const specialtySets: { id: string; specialtyIds: string[] }[] = []
      const links: { providerId: string; facilityId: string }[] = []

      rows.forEach(({ value }, i) => {
        if (outcomes[i]) return
        const old = byNpi.get(value.npi)
        if (!old) {
          const id = randomUUID()
          creates.push({ ord: i, id, npi: value.npi, displayName: value.displayName })
          specialtySets.push({ id, specialtyIds: value.specialtyIds ?? [] })
          links.push(...value.facilityIds!.map((facilityId) => ({ providerId: id, facilityId })))
          outcomes[i] = { outcome: 'created', recordId: job.dryRun ? null : id }
          return
        }
        const missing = value.facilityIds!.filter((f) => !old.facilityIds.includes(f))
        const fields = changedFields(
          { displayName: value.displayName, specialtyIds: value.specialtyIds === undefined ? old.specialtyIds : sorted(value.specialtyIds) },
          { displayName: old.displayName, specialtyIds: old.specialtyIds },
        )
        if (fields.length === 0 && missing.length === 0) {
          outcomes[i] = { outcome: 'unchanged', recordId: old.id }
          return
        }
        outcomes[i] = { outcome: 'updated', recordId: old.id }
        updates.push({ id: old.id, displayName: value.displayName })
        if (fields.includes('specialtyIds')) specialtySets.push({ id: old.id, specialtyIds: value.specialtyIds! })
        links.push(...missing.map((facilityId) => ({ providerId: old.id, facilityId })))
        record(i, 'update', old.id, { fields: [...fields, ...(missing.length ? ['facilityIds'] : [])] })
      })

      if (job.dryRun) return outcomes as RowOutcome[]

      // A provider created over the API since the read above keeps its row: ours is refused with
      // the API's answer rather than failing the batch.
      let lost = new Set<string>()
      if (creates.length > 0) {
        const { rows: made } = await sql<{ id: string }>`
          INSERT INTO provider (id, organization_id, npi, display_name)
          SELECT v.id, ${job.organizationId}::uuid, v.npi, v.display_name
          FROM ${recordset(creates, [['id', 'id', 'uuid'], ['npi', 'npi', 'text'], ['displayName', 'display_name', 'text']])}
          ON CONFLICT (organization_id, npi) DO NOTHING RETURNING id`.execute(trx)
        const madeIds = new Set(made.map((m) => m.id))
        lost = new Set(creates.filter((c) => !madeIds.has(c.id)).map((c) => c.id))
        for (const c of creates) {
          if (lost.has(c.id)) {
            outcomes[c.ord] = { outcome: 'rejected', recordId: null, problem: rowProblem(new ConflictError('duplicate-provider', 'The organisation already has a provider with this NPI')) }
          } else {
            record(c.ord, 'create', c.id)
          }
        }
      }
      if (updates.length > 0) {
        await sql`UPDATE provider SET display_name = v.display_name, version = provider.version + 1, updated_at = now()
                  FROM ${recordset(updates, [['id', 'id', 'uuid'], ['displayName', 'display_name', 'text']])} WHERE provider.id = v.id`.execute(trx)
      }
      const kept = specialtySets.filter((s) => !lost.has(s.id))
      if (kept.length > 0) {
        await sql`DELETE FROM provider_specialty WHERE provider_id IN (SELECT id FROM ${recordset(kept, [['id', 'id', 'uuid']])})`.execute(trx)
        const pairs = kept.flatMap((s) => s.specialtyIds.map((specialtyId) => ({ providerId: s.id, specialtyId })))
        if (pairs.length > 0) {
          await sql`INSERT INTO provider_specialty (provider_id, specialty_id)
                    SELECT provider_id, specialty_id FROM ${recordset(pairs, [['providerId', 'provider_id', 'uuid'], ['specialtyId', 'specialty_id', 'uuid']])}`.execute(trx)
        }
      }
      const keptLinks = links.filter((l) => !lost.has(l.providerId))
      if (keptLinks.length > 0) {
        await sql`INSERT INTO provider_facility (provider_id, facility_id)
                  SELECT provider_id, facility_id FROM ${recordset(keptLinks, [['providerId', 'provider_id', 'uuid'], ['facilityId', 'facility_id', 'uuid']])}
                  ON CONFLICT DO NOTHING`.execute(trx)
      }
      await insertAuditEvents(trx, audit)
      return outcomes as RowOutcome[]
    },
  }
}
