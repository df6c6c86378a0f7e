import { readFileSync } from 'node:fs'
import t from 'tap'
import { rolesTable } from '../src/cli/roles-table.ts'

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')

t.test('the README documents exactly the role/permission table in code', async (t) => {
  const block = /<!-- roles-table:start -->\n([\s\S]*?)\n<!-- roles-table:end -->/.exec(readme)
  t.ok(block, 'README has the roles-table markers')
  t.equal(block?.[1], rolesTable(), 'regenerate with: npx tsx src/cli/roles-table.ts')
})

t.test('the README quick start is the two commands', async (t) => {
  t.match(readme, /npm ci && npm start/)
  t.match(readme, /\nnpm test/)
})

t.test('the README documents exactly the minimum-necessary field matrix in code', async (t) => {
  const { fieldAccessMarkdown } = await import('../src/modules/patients/patient.service.ts')
  const block = /<!-- field-access:start -->\n([\s\S]*?)\n<!-- field-access:end -->/.exec(readme)
  t.ok(block, 'README has the field-access markers')
  t.equal(block?.[1], fieldAccessMarkdown())
})
