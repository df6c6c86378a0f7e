import t from 'tap'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { configTable, readmeConfigTable } from '../src/cli/config-table.ts'
import { ConfigError, ConfigSchema, loadConfig } from '../src/config.ts'

const root = fileURLToPath(new URL('..', import.meta.url))

function thrown(fn: () => unknown): Error | undefined {
  try {
    fn()
  } catch (err) {
    return err as Error
  }
  return undefined
}

t.test('configuration', async (t) => {
  await t.test('no environment at all gives the documented defaults: trial mode on the embedded database', async (t) => {
    const config = loadConfig({})
    t.match(config, { PORT: 3000, HOST: '0.0.0.0', DATA_DIR: './.data', MIGRATE_ON_START: 'true', BODY_LIMIT_BYTES: 1048576, trial: true, corsOrigins: [] })
    t.equal(config.DATABASE_URL, undefined)
    for (const [name, schema] of Object.entries(ConfigSchema.properties)) {
      t.ok((schema as { description?: string }).description, `${name} has a description`)
    }
  })

  await t.test('values are parsed: integers, lists, empty strings as unset', async (t) => {
    const config = loadConfig({ PORT: '8080', CORS_ORIGINS: ' https://a.example , https://b.example,', DATABASE_URL: '', AUTH_ALGORITHMS: 'ES256,EdDSA' })
    t.equal(config.PORT, 8080)
    t.same(config.corsOrigins, ['https://a.example', 'https://b.example'])
    t.equal(config.DATABASE_URL, undefined)
    t.same(config.authAlgorithms, ['ES256', 'EdDSA'])
    const production = loadConfig({ AUTH_ISSUER: 'https://idp.example', AUTH_JWKS_URL: 'https://idp.example/jwks' })
    t.equal(production.trial, false)
  })

  const bad: [string, Record<string, string>, RegExp][] = [
    ['a port that is not a number', { PORT: 'abc' }, /PORT/],
    ['a port out of range', { PORT: '70000' }, /PORT/],
    ['a fractional integer', { DB_POOL_MAX: '2.5' }, /DB_POOL_MAX/],
    ['an unknown log level', { LOG_LEVEL: 'verbose' }, /LOG_LEVEL/],
    ['a boolean that is not true/false', { MIGRATE_ON_START: 'yes' }, /MIGRATE_ON_START/],
    ['a database URL that is not postgres', { DATABASE_URL: 'mysql://x' }, /DATABASE_URL/],
    ['HMAC among the token algorithms', { AUTH_ALGORITHMS: 'ES256,HS256' }, /AUTH_ALGORITHMS/],
    ['the issuer without the JWKS URL', { AUTH_ISSUER: 'https://idp.example' }, /AUTH_ISSUER and AUTH_JWKS_URL/],
    ['a body limit below 1 KiB', { BODY_LIMIT_BYTES: '10' }, /BODY_LIMIT_BYTES/],
  ]
  for (const [name, env, names] of bad) {
    await t.test(`${name} is refused with a message naming the variable`, async (t) => {
      const err = thrown(() => loadConfig(env))
      t.type(err, ConfigError)
      t.match(err?.message, names)
      t.notMatch(err?.message, /\(root\)/)
    })
  }

  await t.test('two bad values are both named', async (t) => {
    const message = thrown(() => loadConfig({ PORT: 'abc', LOG_LEVEL: 'loud' }))?.message
    t.match(message, /PORT/)
    t.match(message, /LOG_LEVEL/)
  })

  await t.test('a bad value stops `tsx src/server.ts` with exit code 2 and a message naming it', async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pa-config-'))
    t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, DATA_DIR: dataDir, PORT: 'abc' }
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/server.ts'], { cwd: root, env, encoding: 'utf8', timeout: 60_000 })
    t.equal(run.status, 2)
    t.match(run.stderr, /Invalid configuration/)
    t.match(run.stderr, /PORT/)
    t.notMatch(run.stderr, /at .*\.ts:\d+/, 'a message, not a stack trace')
  })

  await t.test('the README configuration table is exactly the one rendered from the schema', async (t) => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8')
    const table = readmeConfigTable(readme)
    t.ok(table, 'README.md has the config-table markers')
    t.equal(table, configTable(), 'regenerate with: npm run config:table -- --write')
    for (const name of Object.keys(ConfigSchema.properties)) t.match(configTable(), `| \`${name}\` |`)
  })
})
