import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildApp } from '../app.ts'
import { loadConfig } from '../config.ts'
import type { Db } from '../db/create-db.ts'

export const OPENAPI_FILE = fileURLToPath(new URL('../../openapi/openapi.json', import.meta.url))

/** The document as the code generates it; no database is touched. */
export async function generateOpenApi(): Promise<string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'openapi-'))
  const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent' })
  const db = { kysely: undefined, engine: 'pglite', close: async () => undefined } as unknown as Db
  const app = await buildApp({ config, db, sealer: false })
  await app.ready()
  const doc = `${JSON.stringify(app.swagger(), null, 2)}\n`
  await app.close()
  rmSync(dataDir, { recursive: true, force: true })
  return doc
}

/** `npm run openapi:check`: does the committed document match the code? */
export async function checkOpenApi(file = OPENAPI_FILE, generated?: string): Promise<{ current: boolean; message: string }> {
  const committed = existsSync(file) ? readFileSync(file, 'utf8') : undefined
  if (committed === (generated ?? (await generateOpenApi()))) return { current: true, message: `${relative(process.cwd(), file)} matches the code.` }
  return { current: false, message: `${relative(process.cwd(), file)} is out of step with the code. Run \`npm run openapi\` and commit the result.` }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv.includes('--check')) {
    const { current, message } = await checkOpenApi()
    ;(current ? process.stdout : process.stderr).write(`${message}\n`)
    process.exit(current ? 0 : 1)
  }
  writeFileSync(OPENAPI_FILE, await generateOpenApi())
  process.stdout.write(`wrote ${relative(process.cwd(), OPENAPI_FILE)}\n`)
}
