import type { Transaction } from 'kysely'
import type { Database } from '../../db/database.ts'
import type { AuditFields } from '../../http/audit.ts'
import { auditRead, auditReads, type RequestContext } from '../../http/context.ts'
import { ForbiddenError } from '../../http/errors.ts'
import { toPage } from '../../http/pagination.ts'
import * as repo from './patient.repository.ts'

/** Purpose of use recorded for a break-the-glass access: emergency treatment. */
const BREAK_GLASS_PURPOSE = 'ETREAT'

type PatientAccess = 'open' | 'break-glass' | 'restricted'

type Executor = RequestContext['db'] | Transaction<Database>

/**
 * Restricted records, the one rule every read of patient data goes through, in every module. For
 * each patient: 'open' (not restricted, or the caller is on its care team), 'break-glass'
 * (restricted, and the request carries X-Break-Glass-Reason), or 'restricted' (the caller must not
 * see it). Also gives the context its audit events are written with: purposeOfUse ETREAT and
 * breakGlass=true under break-the-glass.
 */
export async function restrictedAccess(ctx: RequestContext, db: Executor, rows: { id: string; restriction: string | null }[]) {
  const restricted = rows.filter((r) => r.restriction !== null).map((r) => r.id)
  const member = await repo.careTeamMemberships(db, ctx.principal.sub, restricted)
  const access = new Map<string, PatientAccess>()
  for (const r of rows) access.set(r.id, r.restriction === null || member.has(r.id) ? 'open' : ctx.breakGlassReason ? 'break-glass' : 'restricted')
  const audit = (id: string | null): { ctx: RequestContext; breakGlass?: boolean; detail?: Record<string, unknown> } =>
    id && access.get(id) === 'break-glass'
      ? { ctx: { ...ctx, purposeOfUse: BREAK_GLASS_PURPOSE }, breakGlass: true, detail: { breakGlassReason: ctx.breakGlassReason } }
      : { ctx }
  return { access, audit }
}

/** Shown in place of a restricted patient's name in lists that must still show the entry (a queue, a calendar). */
export const RESTRICTED_DISPLAY_NAME = 'Restricted record'

export const restrictedRecord = () =>
  new ForbiddenError('This record is restricted to its care team; send X-Break-Glass-Reason to access it', 'restricted-record')

type ReadFields = Omit<AuditFields, 'action' | 'breakGlass'> & { patientId: string }

/** Access to each patient named, looked up once (patients that do not exist count as open). */
async function accessOf(ctx: RequestContext, db: Executor, patientIds: string[]) {
  const ids = [...new Set(patientIds)]
  return restrictedAccess(ctx, db, ids.length === 0 ? [] : await repo.restrictionsOf(db, ids))
}

/**
 * Audits reads of patient data made outside the patient module, one event per entry, each under
 * the restricted-record rule: an open entry is audited as given, a break-the-glass one is flagged,
 * and a restricted one is audited as denied. Returns the patients the caller must not see, for a
 * list to withhold; `guardPatientRead` is the one-record form that answers 403.
 */
export async function guardPatientReads(ctx: RequestContext, entries: ReadFields[], db: Executor = ctx.db): Promise<Set<string>> {
  const { access, audit } = await accessOf(ctx, db, entries.map((e) => e.patientId))
  const withheld = new Set<string>()
  await auditReads(ctx, entries.map((e) => {
    if (access.get(e.patientId) === 'restricted') {
      withheld.add(e.patientId)
      return { ctx, fields: { ...e, outcome: 'denied' as const, detail: { ...e.detail, restricted: true } } }
    }
    const a = audit(e.patientId)
    return { ctx: a.ctx, fields: { ...e, breakGlass: a.breakGlass, detail: e.detail || a.detail ? { ...e.detail, ...a.detail } : undefined } }
  }))
  return withheld
}

/** A read of one patient's data (an appointment, a coverage, a registration...): audited, or 403 `restricted-record`. */
export async function guardPatientRead(ctx: RequestContext, fields: ReadFields, db: Executor = ctx.db): Promise<void> {
  if ((await guardPatientReads(ctx, [fields], db)).size > 0) throw restrictedRecord()
}

/**
 * A page of a list about patients (registrations, referrals, ROI requests...) under the rule: one
 * audited read per row listed (an empty page records the search once), restricted patients' rows
 * withheld from the page, and 403 when the list was asked for one patient who is restricted.
 * `rows` holds up to limit + 1 rows, as for toPage; the cursor stays that of the rows read.
 */
export async function guardedPage<R extends { id: string; patientId: string; facilityId: string }, T extends { patientId: string }>(
  ctx: RequestContext,
  rows: R[],
  limit: number,
  search: { verb: string; resourceType: string; patientId?: string; facilityId?: string; detail: Record<string, unknown> },
  keyOf: (row: R) => (string | number)[],
  map: (row: R) => T,
) {
  const { verb, resourceType, detail } = search
  const shown = rows.slice(0, limit)
  if (shown.length === 0) await auditRead(ctx, { verb, resourceType, patientId: search.patientId ?? null, facilityId: search.facilityId ?? null, detail })
  const withheld = await guardPatientReads(ctx, shown.map((r) => ({ verb, resourceType, resourceId: r.id, patientId: r.patientId, facilityId: r.facilityId, detail })))
  if (search.patientId && withheld.size > 0) throw restrictedRecord()
  const page = toPage(rows, limit, keyOf, map)
  return withheld.size === 0 ? page : { ...page, items: page.items.filter((item) => !withheld.has(item.patientId)) }
}
