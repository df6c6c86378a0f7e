import type { Kysely, RawBuilder, Transaction } from 'kysely'
import type { Database } from '../db/database.ts'
import { auditEvent, auditInsert, insertAuditEvents, type AuditFields, type AuditWriter } from './audit.ts'
import type { Principal } from './auth.ts'

/** What a service knows of the caller: who, why, from where. Nothing of HTTP itself. */
export interface RequestContext {
  principal: Principal
  requestId: string
  /** HL7 PurposeOfUse code from X-Purpose-Of-Use (default HOPERAT). */
  purposeOfUse: string
  /** X-Break-Glass-Reason: why a restricted record is read outside its care team (patient-guard.ts). */
  breakGlassReason?: string
  clientIp: string
  userAgent: string | null
  db: Kysely<Database>
  auditWriter: AuditWriter
  /** Set when the request runs inside an outer transaction (Idempotency-Key claims). */
  trx?: Transaction<Database>
}

/** Runs fn in the request's transaction, or a new one. Writes and their audit events commit together. */
export function withTransaction<T>(ctx: RequestContext, fn: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
  if (ctx.trx) return fn(ctx.trx)
  return ctx.db.transaction().execute(fn)
}

/** Audit a read: group-committed; resolves once the event is durable. */
export function auditRead(ctx: RequestContext, fields: Omit<AuditFields, 'action'>): Promise<void> {
  return ctx.auditWriter.write(auditEvent(ctx, { action: 'read', ...fields }))
}

/** Audit the reads of a list, one event per entry (each with its own context: break-the-glass); resolves once all are durable. */
export function auditReads(ctx: RequestContext, entries: { ctx: RequestContext; fields: Omit<AuditFields, 'action'> }[]): Promise<void> {
  return ctx.auditWriter.writeAll(entries.map((e) => auditEvent(e.ctx, { action: 'read', ...e.fields })))
}

/** Audit a change inside the transaction that makes it: both commit, or neither. */
export function auditChange(trx: Transaction<Database>, ctx: RequestContext, fields: AuditFields): Promise<void> {
  return insertAuditEvents(trx, [auditEvent(ctx, fields)])
}

/** auditChange as a fragment of the change's own statement (see auditInsert), written when `onlyIf` holds. */
export function auditChangeIn(ctx: RequestContext, fields: AuditFields, onlyIf?: RawBuilder<boolean>) {
  return auditInsert([auditEvent(ctx, fields)], onlyIf)
}
