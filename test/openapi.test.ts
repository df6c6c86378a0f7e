import t from 'tap'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import SwaggerParser from '@apidevtools/swagger-parser'
import { createConfig, lintFromString } from '@redocly/openapi-core'
import { checkOpenApi, generateOpenApi, OPENAPI_FILE } from '../src/cli/openapi.ts'
import { PERMISSIONS, ROLES } from '../src/http/permissions.ts'

interface Operation {
  operationId?: string
  tags?: string[]
  summary?: string
  security?: unknown[]
  'x-permission'?: string
  parameters?: { in: string; name: string }[]
  requestBody?: { content?: Record<string, unknown> }
  responses: Record<string, { description?: string; content?: Record<string, { schema?: { $ref?: string } & Record<string, unknown> }> }>
}

const METHODS = ['get', 'put', 'post', 'patch', 'delete', 'head', 'options']

t.test('the OpenAPI document', async (t) => {
  const text = await generateOpenApi()
  const doc = JSON.parse(text) as {
    openapi: string
    tags: { name: string }[]
    paths: Record<string, Record<string, Operation>>
    components: { schemas: Record<string, unknown> }
  }
  const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).filter(([m]) => METHODS.includes(m)).map(([method, op]) => ({ name: `${method.toUpperCase()} ${path}`, path, method, op })),
  )
  const grantable = new Set(Object.values(ROLES).flat())

  await t.test('is OpenAPI 3.1 with named shared schemas', async (t) => {
    t.equal(doc.openapi, '3.1.0')
    t.ok(doc.components.schemas.Problem, 'Problem is a named component')
    t.same(Object.keys(doc.components.schemas).filter((k) => /^def-\d+$/.test(k)), [], 'no anonymous def-N components')
    t.ok(operations.length >= 10, `${operations.length} operations`)
  })

  await t.test('every operation has an operationId, a known tag, a summary and a permission or an explicit public marker', async (t) => {
    const ids = new Set<string>()
    const knownTags = new Set(doc.tags.map((tag) => tag.name))
    for (const { name, op } of operations) {
      t.match(op.operationId, /^[a-z][A-Za-z0-9]+$/, `${name}: camelCase operationId`)
      t.notOk(ids.has(op.operationId!), `${name}: operationId ${op.operationId} is unique`)
      ids.add(op.operationId!)
      t.ok(op.tags?.length, `${name}: has a tag`)
      for (const tag of op.tags ?? []) t.ok(knownTags.has(tag), `${name}: tag ${tag} is declared in API_TAGS`)
      t.ok(op.summary && op.summary.length > 3, `${name}: has a summary`)
      if (Array.isArray(op.security) && op.security.length === 0) {
        t.notOk(op['x-permission'], `${name}: public, so no permission`)
      } else {
        t.ok(op['x-permission'] && Object.hasOwn(PERMISSIONS, op['x-permission']), `${name}: x-permission ${op['x-permission']} is a declared permission`)
        t.ok(grantable.has(op['x-permission'] as never), `${name}: some role holds ${op['x-permission']}`)
      }
    }
  })

  await t.test('every operation has a 2xx response with a schema, and every 4xx/5xx is a Problem in application/problem+json', async (t) => {
    for (const { name, op } of operations) {
      const statuses = Object.keys(op.responses)
      const success = statuses.filter((s) => /^2\d\d$/.test(s))
      t.ok(success.length > 0, `${name}: has a 2xx response`)
      for (const s of success) {
        t.ok(op.responses[s].description && op.responses[s].description !== 'Default Response', `${name} ${s}: described`)
        const media = Object.values(op.responses[s].content ?? {})
        if (s !== '204') t.ok(media.length > 0 && media.every((m) => m.schema), `${name} ${s}: has content with a schema`)
      }
      for (const s of statuses.filter((x) => /^[45]\d\d$/.test(x))) {
        t.same(Object.keys(op.responses[s].content ?? {}), ['application/problem+json'], `${name} ${s}: problem+json only`)
        t.equal(op.responses[s].content?.['application/problem+json']?.schema?.$ref, '#/components/schemas/Problem', `${name} ${s}: Problem schema`)
      }
    }
  })

  await t.test('every operation declares the problems it can really answer', async (t) => {
    for (const { name, op } of operations) {
      const has = (s: string) => Object.hasOwn(op.responses, s)
      const isPublic = Array.isArray(op.security) && op.security.length === 0
      if (!isPublic) {
        for (const s of ['401', '403', '503']) t.ok(has(s), `${name}: declares ${s}`)
      }
      if ((op.parameters ?? []).some((p) => p.in === 'path')) t.ok(has('404'), `${name}: has a path id, so declares 404`)
      if ((op.parameters ?? []).length > 0 || op.requestBody) t.ok(has('400'), `${name}: takes input, so declares 400`)
      if (op.requestBody) {
        t.ok(has('413') && has('415'), `${name}: takes a body, so declares 413 and 415`)
        const media = Object.values(op.requestBody.content ?? {})
        t.ok(media.length > 0 && media.every((m) => (m as { schema?: unknown }).schema), `${name}: body media types have schemas`)
      }
    }
  })

  await t.test('is a valid OpenAPI document (swagger-parser)', async (t) => {
    const api = await SwaggerParser.validate(structuredClone(doc) as never)
    t.ok(api.info.title)
  })

  await t.test('passes the Redocly recommended ruleset with zero errors', async (t) => {
    const config = await createConfig({ extends: ['recommended'] })
    const problems = await lintFromString({ source: text, absoluteRef: 'openapi.json', config })
    const errors = problems.filter((p) => p.severity === 'error')
    t.same(errors.map((p) => `${p.ruleId}: ${p.message} at ${p.location[0]?.pointer}`), [])
    for (const p of problems.filter((p) => p.severity !== 'error')) t.comment(`${p.severity} ${p.ruleId}: ${p.message} at ${p.location[0]?.pointer}`)
  })

  await t.test('openapi:check passes on the committed document and detects drift', async (t) => {
    const committed = readFileSync(OPENAPI_FILE, 'utf8')
    t.ok(committed === text, 'openapi/openapi.json is current; run `npm run openapi` after changing a route')
    t.equal((await checkOpenApi(OPENAPI_FILE, text)).current, committed === text)
    const dir = mkdtempSync(join(tmpdir(), 'openapi-drift-'))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    const stale = JSON.parse(text)
    delete stale.paths['/facilities/{facilityId}'].patch.summary
    writeFileSync(join(dir, 'changed.json'), `${JSON.stringify(stale, null, 2)}\n`)
    const changed = await checkOpenApi(join(dir, 'changed.json'), text)
    t.equal(changed.current, false)
    t.match(changed.message, /out of step.*npm run openapi/)
    t.equal((await checkOpenApi(join(dir, 'missing.json'), text)).current, false, 'a missing document counts as drift')
    writeFileSync(join(dir, 'same.json'), text)
    t.equal((await checkOpenApi(join(dir, 'same.json'), text)).current, true)
  })
})
