import { readFileSync, writeFileSync } from 'node:fs'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildApp } from '../app.ts'
import { loadConfig } from '../config.ts'
import type { Db } from '../db/create-db.ts'

const FILE = 'openapi/openapi.json'

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

if (import.meta.url === `file://${process.argv[1]}`) {
  const doc = await generateOpenApi()
  if (process.argv.includes('--check')) {
    let committed = ''
    try {
      committed = readFileSync(FILE, 'utf8')
    } catch {
      /* missing counts as different */
    }
    if (committed !== doc) {
      process.stderr.write(`${FILE} is out of step with the code. Run \`npm run openapi\` and commit the result.\n`)
      process.exit(1)
    }
    process.stdout.write(`${FILE} matches the code.\n`)
  } else {
    writeFileSync(FILE, doc)
    process.stdout.write(`wrote ${FILE}\n`)
  }
}
