import { migrateToLatest } from '../db/migrator.ts'
import { openRuntime } from '../runtime.ts'
import { DEMO, seedDemo } from './seed-data.ts'

const { config, db, log } = await openRuntime()
try {
  await migrateToLatest(db.kysely)
  await seedDemo(db.kysely, config, log)
  process.stdout.write(
    `Demo organisation ${DEMO.organizationId}\n` +
      `  hospital ${DEMO.hospitalId}\n  clinic   ${DEMO.clinicId}\n  ASC      ${DEMO.ascId}\n` +
      `Token: npm run token -- --role front_desk --facility ${DEMO.hospitalId}\n`,
  )
} finally {
  await db.close()
}
