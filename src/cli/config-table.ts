import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { TSchema } from '@sinclair/typebox'
import { ConfigSchema } from '../config.ts'

const cell = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ')

/** Allowed values of an enumerated variable (a union of literals), except plain true/false. */
function choices(schema: TSchema): string[] | undefined {
  const values = (schema.anyOf as TSchema[] | undefined)?.map((s) => s.const)
  if (!values || values.some((v) => typeof v !== 'string')) return undefined
  if (values.length === 2 && values.includes('true') && values.includes('false')) return undefined
  return values as string[]
}

/** The README's configuration table, rendered from the one config schema. */
export function configTable(): string {
  const rows = (Object.entries(ConfigSchema.properties) as [string, TSchema][]).map(([name, schema]) => {
    const dflt = schema.default === undefined ? '(unset)' : schema.default === '' ? '(empty)' : `\`${String(schema.default)}\``
    const options = choices(schema)
    const description = `${schema.description ?? ''}${options ? ` One of ${options.map((o) => `\`${o}\``).join(', ')}.` : ''}`
    return `| \`${name}\` | ${cell(dflt)} | ${cell(description)} |`
  })
  return ['| Variable | Default | Description |', '|---|---|---|', ...rows].join('\n')
}

const README = fileURLToPath(new URL('../../README.md', import.meta.url))
const BLOCK = /(<!-- config-table:start -->\n)[\s\S]*?(\n?<!-- config-table:end -->)/

/** The table between the README's config-table markers, or undefined without the markers. */
export const readmeConfigTable = (readme: string) => /<!-- config-table:start -->\n([\s\S]*?)\n<!-- config-table:end -->/.exec(readme)?.[1]

// `npm run config:table` prints the table; `-- --write` puts it between the README's markers.
if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv.includes('--write')) {
    writeFileSync(README, readFileSync(README, 'utf8').replace(BLOCK, (_m, start: string) => `${start}${configTable()}\n<!-- config-table:end -->`))
  } else {
    process.stdout.write(`${configTable()}\n`)
  }
}
