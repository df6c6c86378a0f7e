import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../src/app.ts'
import { loadConfig, type Config } from '../../src/config.ts'
import type { Db } from '../../src/db/create-db.ts'
import { mintTrialToken } from '../../src/http/auth.ts'
import type { Role } from '../../src/http/permissions.ts'
import { freshDatabase } from './db.ts'

export interface TestContext {
  app: FastifyInstance
  db: Db
  config: Config
  dbUrl?: string
  /** Everything the app logged, as text. */
  logs: () => string
  token: (role: Role | Role[], facilities: string[], opts?: { sub?: string; scope?: string; expiresIn?: string }) => Promise<string>
}

interface Tap {
  teardown(fn: () => unknown): void
}

/** Builds the app on a fresh database of its own; everything is closed at teardown. */
export async function buildTestApp(t: Tap, env: Record<string, string> = {}): Promise<TestContext> {
  const dataDir = mkdtempSync(join(tmpdir(), 'pa-test-'))
  const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'info', ...env })
  const { db, url, drop } = await freshDatabase()
  let logged = ''
  const stream = new PassThrough()
  stream.on('data', (chunk) => (logged += chunk.toString()))
  const app = await buildApp({ config, db, logStream: stream, sealer: false })
  await app.ready()
  t.teardown(async () => {
    await app.close()
    await drop()
    rmSync(dataDir, { recursive: true, force: true })
  })
  return {
    app,
    db,
    config,
    dbUrl: url,
    logs: () => logged,
    token: (role, facilities, opts = {}) => {
      const roles = Array.isArray(role) ? role : [role]
      return mintTrialToken(dataDir, {
        sub: opts.sub ?? `user-${roles.join('-')}`,
        roles,
        facilities,
        scope: opts.scope,
        expiresIn: opts.expiresIn,
        audience: config.AUTH_AUDIENCE,
      })
    },
  }
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
