import { Type, type TSchema } from '@sinclair/typebox'
import { BadRequestError } from './errors.ts'

export const PageQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 25, description: 'Page size, 1 to 100.' })),
  cursor: Type.Optional(Type.String({ maxLength: 512, pattern: '^[A-Za-z0-9_-]+$', description: 'Opaque cursor from the previous page\'s `next`.' })),
}

/** A page of items; `next` is the cursor for the following page, null on the last page. */
export const Page = <T extends TSchema>(item: T, name: string) =>
  Type.Object(
    {
      items: Type.Array(item),
      next: Type.Union([Type.String(), Type.Null()], { description: 'Cursor for the next page; null when this is the last.' }),
    },
    { title: name, additionalProperties: false },
  )

/** Cursors are base64url of the sort key and the id: stable under inserts, never offsets. */
export function encodeCursor(key: (string | number)[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url')
}

/** What one part of a cursor's key is: text (a name, a timestamp), an id, or a non-negative integer (a rank, a weekday, an instant in ms). */
export type CursorPart = 'text' | 'uuid' | 'int'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const fits: Record<CursorPart, (v: unknown) => boolean> = {
  text: (v) => typeof v === 'string',
  uuid: (v) => typeof v === 'string' && UUID.test(v),
  int: (v) => Number.isSafeInteger(v) && (v as number) >= 0,
}

/**
 * The key of a cursor, each part of the kind the list's order has (`shape`); anything else is a
 * cursor this API did not issue (400). A number where the statement casts text to a timestamp
 * failed in Postgres with an error of no client class (500 on the embedded engine).
 */
export function decodeCursor(cursor: string | undefined, shape: readonly CursorPart[]): (string | number)[] | undefined {
  if (cursor === undefined) return undefined
  try {
    const key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown
    if (Array.isArray(key) && key.length === shape.length && key.every((k, i) => fits[shape[i]](k))) return key
  } catch {
    /* fall through */
  }
  throw invalidCursor()
}

/** The 400 for a cursor this API did not issue (also for one whose key decodes but cannot be one of ours). */
export const invalidCursor = () => new BadRequestError('The cursor is not valid', [{ pointer: 'cursor', detail: 'not a cursor this API issued' }])

/** Fetch limit + 1 rows; this turns them into a page with its next cursor. */
export function toPage<R, T>(rows: R[], limit: number, keyOf: (row: R) => (string | number)[], map: (row: R) => T) {
  const more = rows.length > limit
  const slice = more ? rows.slice(0, limit) : rows
  return { items: slice.map(map), next: more ? encodeCursor(keyOf(slice[slice.length - 1])) : null }
}
