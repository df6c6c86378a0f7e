import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  exportJWK,
  generateKeyPair,
  importJWK,
  jwtVerify,
  SignJWT,
  type JWK,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose'
import type { Config } from '../config.ts'
import { UnauthorizedError } from './errors.ts'
import { permissionsFor, type Permission } from './permissions.ts'

export const TRIAL_ISSUER = 'urn:patient-access:trial'
export const ALL_FACILITIES = '*'

export interface Principal {
  sub: string
  roles: string[]
  permissions: Set<Permission>
  /** Facility ids the holder may act for; `all` when the token carries `"*"`. */
  facilities: string[] | 'all'
}

export const canActFor = (p: Principal, facilityId: string) => p.facilities === 'all' || p.facilities.includes(facilityId)

/** The facility filter for queries: undefined means every facility. */
export const facilityScope = (p: Principal): string[] | undefined => (p.facilities === 'all' ? undefined : p.facilities)

interface TrialKey {
  privateJwk: JWK
  publicJwk: JWK
}

/** Trial mode's ES256 key pair, generated into DATA_DIR on first use. */
export async function loadTrialKey(dataDir: string): Promise<TrialKey> {
  const file = join(dataDir, 'trial-signing-key.json')
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as TrialKey
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true })
  const kid = `trial-${Date.now().toString(36)}`
  const key: TrialKey = {
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg: 'ES256', use: 'sig' },
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' },
  }
  mkdirSync(dataDir, { recursive: true })
  writeFileSync(file, JSON.stringify(key), { mode: 0o600, flag: 'wx' })
  return key
}

export interface TokenRequest {
  sub: string
  roles: string[]
  facilities: string[]
  scope?: string
  expiresIn?: string
  audience: string
}

/** Mint a trial-mode token (the `npm run token` CLI and tests). */
export async function mintTrialToken(dataDir: string, req: TokenRequest): Promise<string> {
  const { privateJwk } = await loadTrialKey(dataDir)
  const key = await importJWK(privateJwk, 'ES256')
  const claims: JWTPayload = { roles: req.roles, facilities: req.facilities }
  if (req.scope) claims.scope = req.scope
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', kid: privateJwk.kid, typ: 'JWT' })
    .setSubject(req.sub)
    .setIssuer(TRIAL_ISSUER)
    .setAudience(req.audience)
    .setIssuedAt()
    .setExpirationTime(req.expiresIn ?? '8h')
    .sign(key)
}

export type Authenticator = (authorization: string | undefined) => Promise<Principal>

/** `now` is the clock of token expiry, for the cache and the verification alike (tests move it). */
export async function createAuthenticator(config: Config, { now = Date.now }: { now?: () => number } = {}): Promise<Authenticator> {
  let keys: JWTVerifyGetKey
  let issuer: string
  let algorithms: string[]
  if (config.trial) {
    const { publicJwk } = await loadTrialKey(config.DATA_DIR)
    keys = createLocalJWKSet({ keys: [publicJwk] })
    issuer = TRIAL_ISSUER
    algorithms = ['ES256']
  } else {
    keys = createRemoteJWKSet(new URL(config.AUTH_JWKS_URL!), { timeoutDuration: 5000, cooldownDuration: 30000 })
    issuer = config.AUTH_ISSUER!
    algorithms = config.authAlgorithms
  }

  const verified = new VerifiedTokens(10_000, 60_000, now)

  return async (authorization) => {
    const hit = authorization ? verified.get(authorization) : undefined
    if (hit) return hit
    const match = /^Bearer ([A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]*)$/.exec(authorization ?? '')
    if (!authorization) throw new UnauthorizedError('A bearer token is required', 'invalid_request')
    if (!match) throw new UnauthorizedError('The Authorization header is not a bearer token')
    let payload: JWTPayload
    try {
      // Algorithms are pinned: `alg: none`, HS256 signed with the public key and any other
      // algorithm are refused before a key is even looked up.
      ;({ payload } = await jwtVerify(match[1], keys, {
        issuer,
        audience: config.AUTH_AUDIENCE,
        algorithms,
        requiredClaims: ['exp', 'iss', 'aud', 'sub'],
        clockTolerance: 5,
        currentDate: new Date(now()),
      }))
    } catch {
      throw new UnauthorizedError('The bearer token is invalid or expired')
    }
    const principal = principalFromClaims(payload)
    verified.set(authorization, principal, payload.exp! * 1000)
    return principal
  }
}

/**
 * Tokens already verified, by the exact header that carried them, as API gateways keep them: an
 * ES256 verification costs ~0.2 ms of CPU, which would otherwise cap every route at a few
 * thousand requests/s per core. Another string (a tampered token) is another key, verified
 * afresh. An entry serves until the token's exp, and for at most `maxAgeMs` after it was
 * verified, so a key withdrawn from the issuer's JWKS stops being honoured soon; nbf needs nothing
 * here, since a token is only stored once jwtVerify has accepted it (its nbf already past). At
 * most `max` entries: the oldest goes first.
 */
export class VerifiedTokens {
  private readonly entries = new Map<string, { principal: Principal; until: number }>()

  constructor(
    readonly max = 10_000,
    readonly maxAgeMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  get size() {
    return this.entries.size
  }

  get(token: string): Principal | undefined {
    const hit = this.entries.get(token)
    if (!hit) return undefined
    if (hit.until > this.now()) return hit.principal
    this.entries.delete(token)
    return undefined
  }

  set(token: string, principal: Principal, expiresAtMs: number) {
    const until = Math.min(expiresAtMs, this.now() + this.maxAgeMs)
    if (until <= this.now()) return
    this.entries.delete(token)
    while (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value!)
    this.entries.set(token, { principal, until })
  }
}

const stringList = (v: unknown): string[] | undefined => {
  if (typeof v === 'string') return v.split(' ').filter(Boolean)
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[]
  return undefined
}

export function principalFromClaims(payload: JWTPayload): Principal {
  const roles = stringList(payload.roles) ?? []
  const facilities = stringList(payload.facilities) ?? []
  const scopes = stringList(payload.scope)
  return {
    sub: payload.sub!,
    roles,
    permissions: permissionsFor(roles, scopes),
    facilities: facilities.includes(ALL_FACILITIES) ? 'all' : facilities,
  }
}
