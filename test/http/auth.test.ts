import t from 'tap'
import { exportSPKI, generateKeyPair, importJWK, SignJWT, type JWTPayload } from 'jose'
import { createAuthenticator, loadTrialKey, TRIAL_ISSUER, VerifiedTokens, type Principal } from '../../src/http/auth.ts'
import { bearer, buildTestApp } from '../helpers/app.ts'
import { auditEventsFor, orgWithFacility } from '../helpers/factories.ts'

const PROBLEM = 'application/problem+json; charset=utf-8'
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url')

t.test('authentication and authorisation', async (t) => {
  const ctx = await buildTestApp(t)
  const { app, db, config } = ctx
  const { facility } = await orgWithFacility(db)
  const trialKey = await loadTrialKey(config.DATA_DIR)
  const now = Math.floor(Date.now() / 1000)
  const goodClaims = (): JWTPayload => ({
    sub: 'mallory', roles: ['admin'], facilities: ['*'], iss: TRIAL_ISSUER, aud: config.AUTH_AUDIENCE, iat: now, exp: now + 3600,
  })
  /** Signed with the real trial key: only the claims are wrong. */
  const signTrial = async (claims: JWTPayload) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: trialKey.privateJwk.kid, typ: 'JWT' }).sign(await importJWK(trialKey.privateJwk, 'ES256'))

  // Every token sent in this file, good or bad: none may ever reach the logs.
  const sentTokens: string[] = []
  const url = `/facilities/${facility.id}`

  const rejected: [string, () => Promise<string | undefined>][] = [
    ['no Authorization header', async () => undefined],
    ['a garbage bearer token', async () => 'Bearer not-a-jwt-at-all'],
    ['a three-part token of junk', async () => 'Bearer aaaa.bbbb.cccc'],
    ['a Basic credential', async () => `Basic ${Buffer.from('admin:admin').toString('base64')}`],
    ['a token with alg none', async () => `Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${b64(goodClaims())}.`],
    ['an HS256 token signed with the trial public key', async () => {
      const pem = await exportSPKI((await importJWK(trialKey.publicJwk, 'ES256')) as CryptoKey)
      const token = await new SignJWT(goodClaims()).setProtectedHeader({ alg: 'HS256', kid: trialKey.publicJwk.kid, typ: 'JWT' }).sign(new TextEncoder().encode(pem))
      return `Bearer ${token}`
    }],
    ['an ES256 token from another key with the same kid', async () => {
      const { privateKey } = await generateKeyPair('ES256')
      return `Bearer ${await new SignJWT(goodClaims()).setProtectedHeader({ alg: 'ES256', kid: trialKey.publicJwk.kid }).sign(privateKey)}`
    }],
    ['an expired token', async () => `Bearer ${await signTrial({ ...goodClaims(), iat: now - 7200, exp: now - 60 })}`],
    ['a token for another audience', async () => `Bearer ${await signTrial({ ...goodClaims(), aud: 'someone-else' })}`],
    ['a token from another issuer', async () => `Bearer ${await signTrial({ ...goodClaims(), iss: 'https://evil.example' })}`],
    ['a token not valid yet (nbf an hour ahead)', async () => `Bearer ${await signTrial({ ...goodClaims(), nbf: now + 3600 })}`],
    ['a token without exp', async () => {
      const { exp: _exp, ...claims } = goodClaims()
      return `Bearer ${await signTrial(claims)}`
    }],
    ['a token without sub', async () => {
      const { sub: _sub, ...claims } = goodClaims()
      return `Bearer ${await signTrial(claims)}`
    }],
  ]

  for (const [name, make] of rejected) {
    await t.test(`${name} gets 401 problem+json with WWW-Authenticate, and the attempt is audited as denied`, async (t) => {
      const authorization = await make()
      if (authorization) sentTokens.push(authorization.replace(/^\w+ /, ''))
      const requestId = `auth-${sentTokens.length}-${Date.now()}`
      const res = await app.inject({ url, headers: { ...(authorization ? { authorization } : {}), 'x-request-id': requestId } })
      t.equal(res.statusCode, 401)
      t.equal(res.headers['content-type'], PROBLEM)
      t.match(res.headers['www-authenticate'], /^Bearer realm="patient-access", error="invalid_(token|request)"$/)
      t.match(res.json(), { type: 'urn:patient-access:problem:unauthorized', title: 'Unauthorized', status: 401, instance: url })
      const events = await auditEventsFor(db, { requestId })
      t.match(events, [{ outcome: 'denied', actorSub: null, verb: 'getFacility', resourceId: facility.id }])
    })
  }

  await t.test('a valid token for a role without the route permission gets 403, is audited as denied, and changes nothing', async (t) => {
    const token = await ctx.token('front_desk', [facility.id])
    sentTokens.push(token)
    const res = await app.inject({
      method: 'PATCH', url, headers: { ...bearer(token), 'x-request-id': 'forbidden-patch-1' }, payload: { roiDeadlineDays: 7 },
    })
    t.equal(res.statusCode, 403)
    t.equal(res.headers['content-type'], PROBLEM)
    t.match(res.json(), { type: 'urn:patient-access:problem:forbidden', status: 403 })
    t.notOk(res.headers['www-authenticate'])
    const events = await auditEventsFor(db, { requestId: 'forbidden-patch-1' })
    t.match(events, [{
      outcome: 'denied', action: 'update', verb: 'updateFacility', resourceType: 'organizations', resourceId: facility.id,
      actorSub: 'user-front_desk', actorRoles: ['front_desk'],
    }])
    const row = await db.kysely.selectFrom('facility').select(['roiDeadlineDays', 'version']).where('id', '=', facility.id).executeTakeFirstOrThrow()
    t.same(row, { roiDeadlineDays: facility.roiDeadlineDays, version: facility.version })
  })

  await t.test('the same role may use the routes its permissions cover', async (t) => {
    const token = await ctx.token('front_desk', [facility.id])
    const res = await app.inject({ url, headers: bearer(token) })
    t.equal(res.statusCode, 200)
    t.equal(res.json().id, facility.id)
  })

  await t.test('an OAuth scope pa:facility:read narrows an admin token to reading facilities', async (t) => {
    const token = await ctx.token('admin', ['*'], { sub: 'scoped-admin', scope: 'openid pa:facility:read' })
    sentTokens.push(token)
    const read = await app.inject({ url, headers: bearer(token) })
    t.equal(read.statusCode, 200)
    const orgs = await app.inject({ url: '/organizations', headers: bearer(token) })
    t.equal(orgs.statusCode, 403, 'organization:read is outside the scope')
    const create = await app.inject({ method: 'POST', url: '/organizations', headers: bearer(token), payload: { name: 'Scoped Org' } })
    t.equal(create.statusCode, 403)
    t.equal(create.headers['content-type'], PROBLEM)
    const created = await db.kysely.selectFrom('organization').select('id').where('name', '=', 'Scoped Org').execute()
    t.equal(created.length, 0)
  })

  await t.test('a scope cannot widen a role: pa:facility:write on a front_desk token still gets 403', async (t) => {
    const token = await ctx.token('front_desk', [facility.id], { scope: 'pa:facility:write pa:facility:read' })
    const res = await app.inject({ method: 'PATCH', url, headers: bearer(token), payload: { roiDeadlineDays: 7 } })
    t.equal(res.statusCode, 403)
    t.equal((await app.inject({ url, headers: bearer(token) })).statusCode, 200)
  })

  await t.test('scopes without the pa: prefix leave the role permissions whole', async (t) => {
    const token = await ctx.token('admin', ['*'], { scope: 'openid profile' })
    const res = await app.inject({ url: '/organizations', headers: bearer(token) })
    t.equal(res.statusCode, 200)
  })

  await t.test('a token accepted (and remembered) once does not make a tampered copy of it acceptable', async (t) => {
    const token = await ctx.token('front_desk', [facility.id])
    sentTokens.push(token)
    t.equal((await app.inject({ url, headers: bearer(token) })).statusCode, 200)
    const [header, payload, signature] = token.split('.')
    const middle = signature.length >> 1
    const flipped = `${signature.slice(0, middle)}${signature[middle] === 'A' ? 'B' : 'A'}${signature.slice(middle + 1)}`
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString())
    const tampered = [
      ['a signature changed', `${header}.${payload}.${flipped}`],
      ['the claims widened to every facility and admin, signature kept', `${header}.${b64({ ...claims, roles: ['admin'], facilities: ['*'] })}.${signature}`],
      ['the claims given a later exp, signature kept', `${header}.${b64({ ...claims, exp: claims.exp + 86_400 })}.${signature}`],
    ]
    for (const [what, copy] of tampered) {
      sentTokens.push(copy)
      const res = await app.inject({ url, headers: bearer(copy) })
      t.equal(res.statusCode, 401, what)
    }
    t.equal((await app.inject({ url, headers: bearer(token) })).statusCode, 200, 'the genuine token still works')
  })

  await t.test('a remembered token stops being accepted once it expires', async (t) => {
    let clock = Date.now()
    const authenticate = await createAuthenticator(config, { now: () => clock })
    const header = `Bearer ${await signTrial({ ...goodClaims(), exp: Math.floor(clock / 1000) + 90 })}`
    t.match(await authenticate(header), { sub: 'mallory' })
    clock += 30_000
    t.match(await authenticate(header), { sub: 'mallory' }, 'within its lifetime')
    clock += 50_000
    t.match(await authenticate(header), { sub: 'mallory' }, 'past the maximum age of an entry, verified again: still valid')
    // Past exp and the 5 s of clock tolerance the verification allows.
    clock += 20_000
    await t.rejects(authenticate(header), { status: 401, message: 'The bearer token is invalid or expired' }, 'expired: refused though it was accepted before')
    await t.rejects(authenticate(header), { status: 401, message: 'The bearer token is invalid or expired' }, 'and stays refused')
  })

  await t.test('public routes need no token', async (t) => {
    t.equal((await app.inject({ url: '/healthz' })).statusCode, 200)
    t.equal((await app.inject({ url: '/readyz' })).statusCode, 200)
  })

  await t.test('a token never appears in the logs, from successful or failing requests', async (t) => {
    const admin = await ctx.token('admin', ['*'])
    sentTokens.push(admin)
    t.equal((await app.inject({ url, headers: bearer(admin) })).statusCode, 200)
    t.equal((await app.inject({ method: 'POST', url: '/organizations', headers: bearer(admin), payload: { name: 'x', bogus: 1 } })).statusCode, 400)
    t.equal((await app.inject({ url: `/facilities?access_token=${admin}`, headers: bearer(admin) })).statusCode, 400)
    t.equal((await app.inject({ url: '/facilities/not-a-uuid', headers: bearer(admin) })).statusCode, 400)
    t.equal((await app.inject({ url: '/no/such/route', headers: bearer(admin) })).statusCode, 404)
    const logs = ctx.logs()
    t.ok(logs.includes('"statusCode":401'), 'request logging is on, so the check below means something')
    t.ok(sentTokens.length >= rejected.length, 'tokens were collected')
    for (const token of sentTokens) {
      t.notOk(logs.includes(token), 'token absent from logs')
      // A JWT's signature alone is as much a secret as the whole token.
      const signature = token.split('.')[2]
      if (signature && signature.length > 20) t.notOk(logs.includes(signature), 'signature absent from logs')
    }
    t.notOk(/authorization/i.test(logs), 'no authorization header is logged at all')
  })
})

t.test('verified tokens are kept until exp, for at most the maximum age, and at most max of them', async (t) => {
  let clock = 1_000_000
  const principal = (sub: string): Principal => ({ sub, roles: [], permissions: new Set(), facilities: [] })
  const cache = new VerifiedTokens(3, 60_000, () => clock)

  cache.set('a', principal('a'), clock + 10_000)
  cache.set('b', principal('b'), clock + 3_600_000)
  t.equal(cache.get('a')?.sub, 'a')
  clock += 10_000
  t.equal(cache.get('a'), undefined, 'gone at its exp')
  t.equal(cache.get('b')?.sub, 'b')
  clock += 50_000
  t.equal(cache.get('b'), undefined, 'gone after the maximum age though exp is an hour away')
  t.equal(cache.size, 0, 'expired entries are dropped when looked up')

  cache.set('late', principal('late'), clock - 1)
  t.equal(cache.size, 0, 'a token already past exp is not stored')

  for (const k of ['1', '2', '3', '4', '5']) cache.set(k, principal(k), clock + 60_000)
  t.equal(cache.size, 3, 'bounded')
  t.same(['1', '2', '3', '4', '5'].map((k) => cache.get(k)?.sub), [undefined, undefined, '3', '4', '5'], 'the oldest go first')
  cache.set('3', principal('3'), clock + 60_000)
  cache.set('6', principal('6'), clock + 60_000)
  t.same(['3', '4', '5', '6'].map((k) => cache.get(k)?.sub), ['3', undefined, '5', '6'], 'storing again makes an entry the newest')
})
