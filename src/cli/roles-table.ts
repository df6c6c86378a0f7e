import { PERMISSIONS, ROLES, type Permission } from '../http/permissions.ts'

/** The README's role/permission matrix, rendered from the one table in code. */
export function rolesTable(): string {
  const roles = Object.keys(ROLES) as (keyof typeof ROLES)[]
  const head = `| Permission | What it allows | ${roles.join(' | ')} |`
  const rule = `|---|---|${roles.map(() => ':-:').join('|')}|`
  const rows = (Object.keys(PERMISSIONS) as Permission[]).map(
    (p) => `| \`${p}\` | ${PERMISSIONS[p]} | ${roles.map((r) => ((ROLES[r] as readonly string[]).includes(p) ? '✓' : '')).join(' | ')} |`,
  )
  return [head, rule, ...rows].join('\n')
}

if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(`${rolesTable()}\n`)
