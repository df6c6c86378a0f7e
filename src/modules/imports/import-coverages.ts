import { randomUUID } from 'node:crypto'
import { Type, type Static } from '@sinclair/typebox'
import { sql } from 'kysely'
import type { NewAuditEvent } from '../../db/database.ts'
import { auditEvent, insertAuditEvents } from '../../http/audit.ts'
import { BadRequestError, ConflictError, NotFoundError } from '../../http/errors.ts'
import { checkCoverageShape } from '../eligibility/coverage.service.ts'
import { CreateCoverageBodySchema } from '../eligibility/eligibility.schemas.ts'
import type { FieldProblem, ImportKindHandler, RowOutcome } from './import-kind.ts'
import { rowProblem } from './import-parse.ts'
import { oneOf, PatientRefFields, patientRefKey, resolvePatients } from './import-refs.ts'
import { changedFields, lockKeys, recordset, rerunOnRace } from './import-sql.ts'

/**
 * A coverage row: the create-coverage body (one definition, from the eligibility module) plus the
 * patient, named by `patientMrn` or by `patientIdentifier` ({ system, value }). The natural key is
 * patient + payer (the plan's) + member id: a row matching a coverage updates it (a changed plan of
 * the same payer included); `groupNumber` and `effectiveTo` left out keep their values; the
 * subscriber always follows the row. New coverages are active. The one-active-coverage-per-priority
 * rule holds: a row that would break it is rejected alone (409 coverage-priority-taken, /priority).
 */
export const CoverageImportRowSchema = Type.Object(
  { ...CreateCoverageBodySchema.properties, ...PatientRefFields },
  { additionalProperties: false },
)
type CoverageRow = Static<typeof CoverageImportRowSchema>

type Subscriber = { familyName: string; givenNames: string; birthDate: string } | null

interface Fields {
  planId: string
  priority: string
  relationship: string
  subscriber: Subscriber
  groupNumber: string | null
  effectiveFrom: string
  effectiveTo: string | null
}

interface Coverage extends Fields {
  id: string
  isNew: boolean
  patientId: string
  payerId: string
  memberId: string
  status: string
  originalPriority: string
  updatedAt: Date
}

const fieldsOf = (c: Coverage): Fields => ({
  planId: c.planId, priority: c.priority, relationship: c.relationship, subscriber: c.subscriber,
  groupNumber: c.groupNumber, effectiveFrom: c.effectiveFrom, effectiveTo: c.effectiveTo,
})

const COLUMNS = [
  ['id', 'id', 'uuid'], ['patientId', 'patient_id', 'uuid'], ['planId', 'plan_id', 'uuid'], ['priority', 'priority', 'text'],
  ['status', 'status', 'text'], ['relationship', 'relationship', 'text'], ['subscriberFamilyName', 'subscriber_family_name', 'text'],
  ['subscriberGivenNames', 'subscriber_given_names', 'text'], ['subscriberBirthDate', 'subscriber_birth_date', 'date'],
  ['memberId', 'member_id', 'text'], ['groupNumber', 'group_number', 'text'], ['effectiveFrom', 'effective_from', 'date'],
  ['effectiveTo', 'effective_to', 'date'],
] as const

const toColumns = (c: Coverage) => ({
  ...c, subscriberFamilyName: c.subscriber?.familyName ?? null, subscriberGivenNames: c.subscriber?.givenNames ?? null,
  subscriberBirthDate: c.subscriber?.birthDate ?? null,
})

/** Advisory-lock namespace: imports touching one patient's coverages take turns. */
const COVERAGE_LOCK = 8_008

export function coverageImport(): ImportKindHandler<CoverageRow> {
  return {
    schema: CoverageImportRowSchema,
    permission: 'eligibility:write',

    prepare(row) {
      const problems: FieldProblem[] = oneOf(row, ['patientMrn', 'patientIdentifier'])
      try {
        checkCoverageShape({ relationship: row.relationship, subscriber: row.subscriber ?? null, effectiveFrom: row.effectiveFrom, effectiveTo: row.effectiveTo ?? null })
      } catch (err) {
        if (!(err instanceof BadRequestError)) throw err
        problems.push(...(err.extra.errors as FieldProblem[]))
      }
      return problems
    },

    keys: (row) => [`coverage:${patientRefKey(row)}|${row.memberId}`],

    async apply({ trx, ctx, job }, rows) {
      const first: (RowOutcome | undefined)[] = rows.map(() => undefined)
      const rejected = (err: Error, pointer: string, detail: string): RowOutcome =>
        ({ outcome: 'rejected', recordId: null, problem: { ...rowProblem(err), errors: [{ pointer, detail }] } })

      const patients = await resolvePatients(trx, job, rows.map((r) => r.value))
      const planIds = [...new Set(rows.map((r) => r.value.planId))]
      const plans = new Map((await trx.selectFrom('plan').select(['id', 'payerId']).where('id', 'in', planIds).execute()).map((p) => [p.id, p.payerId]))
      rows.forEach(({ value }, i) => {
        if (patients[i].problem) first[i] = { outcome: 'rejected', recordId: null, problem: patients[i].problem }
        else if (!plans.has(value.planId)) first[i] = rejected(new NotFoundError('Plan'), '/planId', 'no such plan')
      })
      const patientIds = [...new Set(patients.flatMap((p, i) => (first[i] ? [] : [p.id!])))]

      return rerunOnRace(trx, async () => {
        const outcomes = [...first]
        await lockKeys(trx, patientIds.map((id) => `coverage:${id}`), COVERAGE_LOCK)
        const found = patientIds.length === 0 ? [] : await trx.selectFrom('coverage')
          .innerJoin('plan', 'plan.id', 'coverage.planId')
          .select(['coverage.id', 'coverage.patientId', 'coverage.planId', 'plan.payerId', 'coverage.priority', 'coverage.status', 'coverage.relationship',
            'coverage.subscriberFamilyName', 'coverage.subscriberGivenNames', 'coverage.memberId', 'coverage.groupNumber', 'coverage.updatedAt'])
          .select([
            sql<string | null>`coverage.subscriber_birth_date::text`.as('subscriberBirthDate'),
            sql<string>`coverage.effective_from::text`.as('effectiveFrom'),
            sql<string | null>`coverage.effective_to::text`.as('effectiveTo'),
          ])
          .where('coverage.patientId', 'in', patientIds).where('coverage.status', '<>', 'entered-in-error')
          .orderBy('coverage.id').forUpdate('coverage').execute()

        const keyOf = (patientId: string, payerId: string, memberId: string) => `${patientId}|${payerId}|${memberId}`
        const slotOf = (c: { patientId: string; priority: string }) => `${c.patientId}|${c.priority}`
        const byKey = new Map<string, Coverage>()
        const slots = new Map<string, string>()
        for (const f of found) {
          const c: Coverage = {
            id: f.id, isNew: false, patientId: f.patientId, payerId: f.payerId, memberId: f.memberId, status: f.status, planId: f.planId,
            priority: f.priority, originalPriority: f.priority, relationship: f.relationship, groupNumber: f.groupNumber,
            subscriber: f.subscriberFamilyName ? { familyName: f.subscriberFamilyName, givenNames: f.subscriberGivenNames!, birthDate: f.subscriberBirthDate! } : null,
            effectiveFrom: f.effectiveFrom, effectiveTo: f.effectiveTo, updatedAt: f.updatedAt,
          }
          if (c.status === 'active') slots.set(slotOf(c), c.id)
          // A member id seen twice under one payer (re-entered after a cancellation): the active one, else the latest.
          const key = keyOf(c.patientId, c.payerId, c.memberId)
          const other = byKey.get(key)
          const rank = (x: Coverage) => [x.status === 'active' ? 1 : 0, x.updatedAt.getTime()]
          if (!other || rank(c)[0] > rank(other)[0] || (rank(c)[0] === rank(other)[0] && rank(c)[1] > rank(other)[1])) byKey.set(key, c)
        }

        const audit: NewAuditEvent[] = []
        const record = (i: number, verb: 'create' | 'update', c: Coverage, detail: Record<string, unknown> = {}) =>
          audit.push(auditEvent(ctx, {
            action: verb, verb: `coverage.${verb}`, resourceType: 'coverage', resourceId: c.id, patientId: c.patientId, facilityId: job.facilityId,
            detail: { importId: job.id, row: rows[i].row, ...detail },
          }))
        const creates: Coverage[] = []
        const updates = new Set<Coverage>()

        // Rows in file order against the state the earlier rows left, so a row sees every earlier row of its batch.
        rows.forEach(({ value }, i) => {
          if (outcomes[i]) return
          const patientId = patients[i].id!
          const key = keyOf(patientId, plans.get(value.planId)!, value.memberId)
          const current = byKey.get(key)
          const wanted: Fields = {
            planId: value.planId, priority: value.priority, relationship: value.relationship, subscriber: value.subscriber ?? null,
            groupNumber: value.groupNumber ?? current?.groupNumber ?? null, effectiveFrom: value.effectiveFrom,
            effectiveTo: value.effectiveTo ?? current?.effectiveTo ?? null,
          }
          if (wanted.effectiveTo && wanted.effectiveTo < wanted.effectiveFrom) {
            outcomes[i] = rejected(new BadRequestError('The coverage is not valid'), '/effectiveTo', "before effectiveFrom (the coverage's effectiveTo is kept when the row has none)")
            return
          }
          const active = (current?.status ?? 'active') === 'active'
          const holder = slots.get(slotOf({ patientId, priority: wanted.priority }))
          if (active && holder && holder !== current?.id) {
            outcomes[i] = rejected(new ConflictError('coverage-priority-taken', 'The patient already has an active coverage with this priority'),
              '/priority', 'another active coverage of the patient has it')
            return
          }
          if (!current) {
            const c: Coverage = { ...wanted, id: randomUUID(), isNew: true, patientId, payerId: plans.get(value.planId)!, memberId: value.memberId, status: 'active', originalPriority: wanted.priority, updatedAt: new Date() }
            byKey.set(key, c)
            slots.set(slotOf(c), c.id)
            creates.push(c)
            outcomes[i] = { outcome: 'created', recordId: job.dryRun ? null : c.id }
            record(i, 'create', c)
            return
          }
          const fields = changedFields(wanted, fieldsOf(current))
          if (fields.length === 0) {
            outcomes[i] = { outcome: 'unchanged', recordId: job.dryRun && current.isNew ? null : current.id }
            return
          }
          if (active) {
            slots.delete(slotOf(current))
            slots.set(slotOf({ patientId, priority: wanted.priority }), current.id)
          }
          Object.assign(current, wanted)
          if (!current.isNew) updates.add(current)
          outcomes[i] = { outcome: 'updated', recordId: job.dryRun && current.isNew ? null : current.id }
          record(i, 'update', current, { fields })
        })

        if (job.dryRun) return outcomes as RowOutcome[]
        const changed = [...updates]
        // The unique index behind the rule is checked row by row, so a batch that swaps two
        // priorities would trip over its own intermediate state: the moving coverages leave the
        // index first, then all take their final priorities in one statement.
        const moving = changed.filter((c) => c.status === 'active' && c.priority !== c.originalPriority)
        if (moving.length > 0) {
          await sql`UPDATE coverage SET status = 'cancelled' WHERE id IN (SELECT id FROM ${recordset(moving, [['id', 'id', 'uuid']])})`.execute(trx)
        }
        if (changed.length > 0) {
          const set = COLUMNS.filter(([c]) => c !== 'id' && c !== 'patientId' && c !== 'memberId').map(([, snake]) => `${snake} = v.${snake}`).join(', ')
          await sql`UPDATE coverage SET ${sql.raw(set)}, version = coverage.version + 1, updated_at = now()
                    FROM ${recordset(changed.map(toColumns), COLUMNS)} WHERE coverage.id = v.id`.execute(trx)
        }
        if (creates.length > 0) {
          const names = COLUMNS.map(([, snake]) => snake).join(', ')
          await sql`INSERT INTO coverage (${sql.raw(names)}) SELECT ${sql.raw(names)} FROM ${recordset(creates.map(toColumns), COLUMNS)}`.execute(trx)
        }
        await insertAuditEvents(trx, audit)
        return outcomes as RowOutcome[]
      })
    },
  }
}
