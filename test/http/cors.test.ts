import t from 'tap'
import { bearer, buildTestApp } from '../helpers/app.ts'
import { orgWithFacility } from '../helpers/factories.ts'

// CORS off (the default) is checked in conventions.test.ts; this file builds the app with it on.
t.test('CORS_ORIGINS turns CORS on for the listed origins only', async (t) => {
  const allowed = 'https://frontdesk.example'
  const ctx = await buildTestApp(t, { CORS_ORIGINS: ` ${allowed} , https://other.example` })
  const { app, db } = ctx
  const { facility } = await orgWithFacility(db)
  const token = await ctx.token('front_desk', [facility.id])

  await t.test('a preflight from an allowed origin is answered without a token', async (t) => {
    const res = await app.inject({
      method: 'OPTIONS', url: `/facilities/${facility.id}`,
      headers: { origin: allowed, 'access-control-request-method': 'PATCH', 'access-control-request-headers': 'authorization,if-match,content-type' },
    })
    t.equal(res.statusCode, 204)
    t.equal(res.headers['access-control-allow-origin'], allowed)
    t.match(res.headers['access-control-allow-methods'], /PATCH/)
    t.match(res.headers['access-control-allow-headers'], /authorization/)
  })

  await t.test('an actual request from an allowed origin gets the origin back and the API headers exposed', async (t) => {
    const res = await app.inject({ url: `/facilities/${facility.id}`, headers: { ...bearer(token), origin: allowed } })
    t.equal(res.statusCode, 200)
    t.equal(res.headers['access-control-allow-origin'], allowed)
    const exposed = String(res.headers['access-control-expose-headers']).split(/,\s*/)
    for (const h of ['etag', 'x-request-id', 'retry-after', 'location', 'idempotent-replayed']) t.ok(exposed.includes(h), `exposes ${h}`)
    t.match(res.headers.vary, /Origin/i)
  })

  await t.test('problem responses carry the CORS headers too, so a browser can read them', async (t) => {
    const res = await app.inject({ url: `/facilities/${facility.id}`, headers: { origin: allowed } })
    t.equal(res.statusCode, 401)
    t.equal(res.headers['access-control-allow-origin'], allowed)
  })

  await t.test('another origin gets no Access-Control-Allow-Origin', async (t) => {
    const res = await app.inject({ url: `/facilities/${facility.id}`, headers: { ...bearer(token), origin: 'https://evil.example' } })
    t.equal(res.statusCode, 200)
    t.notOk(res.headers['access-control-allow-origin'])
    const preflight = await app.inject({
      method: 'OPTIONS', url: '/organizations', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    })
    t.notOk(preflight.headers['access-control-allow-origin'])
  })
})
