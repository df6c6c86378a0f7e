import { createHash } from 'node:crypto'
import { sql } from 'kysely'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from '@sinclair/typebox'
import { auditRead, type RequestContext } from './context.ts'
import { BadRequestError, UnprocessableError } from './errors.ts'

export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 255,
      pattern: '^[\\x21-\\x7E]+$',
      description: 'Client-chosen key; a retry with the same key and body replays the first response. Kept 24 hours.',
      examples: ['3c4e7b1a-7d0e-4e55-9a4b-2f1b8f6f9d21'],
    }),
  ),
})

const KEY_TTL = '24 hours'

function requestHash(req: FastifyRequest): string {
  return createHash('sha256')
    .update(`${req.method} ${req.routeOptions.url}\n${JSON.stringify(req.params)}\n${JSON.stringify(req.body ?? null)}`)
    .digest('hex')
}

/**
 * Runs a creating command at most once per (caller, Idempotency-Key). The key is claimed with
 * INSERT ... ON CONFLICT DO NOTHING in the same transaction as the effect: a concurrent retry
 * blocks on the uncommitted key, then finds the stored response and replays it. A failed
 * command rolls back its claim, so it may be retried.
 */
export async function idempotent<T>(
  req: FastifyRequest,
  reply: FastifyReply,
  status: number,
  run: (ctx: RequestContext) => Promise<T>,
  headersOf: (body: T) => Record<string, string> = () => ({}),
) {
  const key = req.headers['idempotency-key']
  const ctx = req.ctx
  if (key === undefined) {
    const body = await run(ctx)
    return reply.code(status).headers(headersOf(body)).send(body)
  }
  if (typeof key !== 'string') throw new BadRequestError('Idempotency-Key must be given once')
  const hash = requestHash(req)
  const outcome = await ctx.db.transaction().execute(async (trx) => {
    await trx
      .deleteFrom('idempotencyKey')
      .where('actorSub', '=', ctx.principal.sub)
      .where('key', '=', key)
      .where('createdAt', '<', sql<Date>`now() - ${KEY_TTL}::interval`)
      .execute()
    const claimed = await trx
      .insertInto('idempotencyKey')
      .values({ actorSub: ctx.principal.sub, key, requestHash: hash, responseStatus: null, responseBody: null })
      .onConflict((oc) => oc.columns(['actorSub', 'key']).doNothing())
      .returning('key')
      .executeTakeFirst()
    if (!claimed) {
      const stored = await trx
        .selectFrom('idempotencyKey')
        .select(['requestHash', 'responseStatus', 'responseBody'])
        .where('actorSub', '=', ctx.principal.sub)
        .where('key', '=', key)
        .executeTakeFirstOrThrow()
      if (stored.requestHash !== hash) {
        throw new UnprocessableError('idempotency-key-reused', 'This Idempotency-Key was used with a different request')
      }
      return { replayed: true, status: stored.responseStatus!, body: stored.responseBody as T }
    }
    const body = await run({ ...ctx, trx })
    await trx
      .updateTable('idempotencyKey')
      .set({ responseStatus: status, responseBody: JSON.stringify(body) })
      .where('actorSub', '=', ctx.principal.sub)
      .where('key', '=', key)
      .execute()
    return { replayed: false, status, body }
  })
  if (outcome.replayed) {
    // A replay discloses the stored response again: it is a read, audited like any other.
    await auditRead(ctx, replayEvent(req, outcome.body))
    reply.header('idempotent-replayed', 'true')
  }
  return reply.code(outcome.status).headers(headersOf(outcome.body)).send(outcome.body)
}

/**
 * The read event of a replayed response. Created resources name themselves the same way in
 * every module (`id`, and `patientId` / `facilityId` when they belong to a patient or facility;
 * a patient, the only resource with an `mrn`, is its own patient), so the event points at what
 * was disclosed. The resource type is the route's last literal segment (`/patients` -> patient).
 */
function replayEvent(req: FastifyRequest, body: unknown) {
  const b = (body ?? {}) as { id?: unknown; patientId?: unknown; facilityId?: unknown; mrn?: unknown }
  const str = (v: unknown) => (typeof v === 'string' ? v : null)
  const route = req.routeOptions.url ?? ''
  const segment = route.split('/').filter((p) => p && !p.startsWith(':')).at(-1) ?? 'unknown'
  return {
    verb: 'idempotency.replay', resourceType: segment.replace(/s$/, ''), resourceId: str(b.id),
    patientId: str(b.patientId) ?? (b.mrn !== undefined ? str(b.id) : null), facilityId: str(b.facilityId),
    detail: { method: req.method, route },
  }
}
