import { parseArgs } from 'node:util'
import { loadConfig } from '../config.ts'
import { mintTrialToken } from '../http/auth.ts'
import { isRole, ROLES } from '../http/permissions.ts'

const usage = `Usage: npm run token -- --role <role> [--role <role>] --facility <id|*> [--facility <id>] [--sub <subject>] [--scope "pa:patient:read ..."] [--expires 8h]
Roles: ${Object.keys(ROLES).join(', ')}
Prints a trial-mode access token signed by the key in DATA_DIR (the server must run in trial mode).`

const { values } = parseArgs({
  options: {
    role: { type: 'string', multiple: true },
    facility: { type: 'string', multiple: true },
    sub: { type: 'string' },
    scope: { type: 'string' },
    expires: { type: 'string' },
    help: { type: 'boolean' },
  },
})
const config = loadConfig()
const roles = values.role ?? []
if (values.help || roles.length === 0 || roles.some((r) => !isRole(r))) {
  process.stderr.write(`${usage}\n`)
  process.exit(values.help ? 0 : 2)
}
if (!config.trial) {
  process.stderr.write('AUTH_JWKS_URL is set: tokens come from your identity provider, not from this command.\n')
  process.exit(2)
}
const token = await mintTrialToken(config.DATA_DIR, {
  sub: values.sub ?? `trial-${roles.join('+')}`,
  roles,
  facilities: values.facility ?? [],
  scope: values.scope,
  expiresIn: values.expires,
  audience: config.AUTH_AUDIENCE,
})
process.stdout.write(`${token}\n`)
