import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'

const Bool = (description: string, dflt: boolean) =>
  Type.Union([Type.Literal('true'), Type.Literal('false')], { description, default: String(dflt) })

/**
 * Every environment variable the service reads, declared once. The README's
 * configuration table is checked against these descriptions by a test.
 */
export const ConfigSchema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000, description: 'TCP port the API listens on.' }),
  HOST: Type.String({ default: '0.0.0.0', description: 'Address the API binds to.' }),
  LOG_LEVEL: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), {
    default: 'info',
    description: 'pino log level.',
  }),
  DATABASE_URL: Type.Optional(
    Type.String({
      pattern: '^postgres(ql)?://',
      description: 'PostgreSQL connection string. Unset: the embedded PGlite trial database under DATA_DIR.',
    }),
  ),
  DATA_DIR: Type.String({
    default: './.data',
    description: 'Where trial mode keeps the embedded database and the generated token signing key.',
  }),
  DB_POOL_MAX: Type.Integer({ minimum: 1, maximum: 500, default: 20, description: 'Size of the PostgreSQL connection pool.' }),
  DB_STATEMENT_TIMEOUT_MS: Type.Integer({
    minimum: 0, maximum: 3_600_000, default: 30_000,
    description: 'PostgreSQL cancels a statement of the API that runs longer (a lock wait included); the request answers 503 with Retry-After. 0: no limit. Migrations run without it. PostgreSQL only.',
  }),
  DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: Type.Integer({
    minimum: 0, maximum: 3_600_000, default: 60_000,
    description: 'PostgreSQL ends a connection whose transaction has waited longer than this between two statements, releasing its locks. 0: no limit. PostgreSQL only.',
  }),
  MIGRATE_ON_START: Bool('Apply pending migrations when the server starts.', true),
  SEED_DEMO: Bool('Load the demo organisation at start (idempotent).', false),
  AUTH_ISSUER: Type.Optional(
    Type.String({ minLength: 1, description: 'Expected `iss` of access tokens. Set together with AUTH_JWKS_URL for production (OIDC).' }),
  ),
  AUTH_JWKS_URL: Type.Optional(
    Type.String({ pattern: '^https?://', description: "The identity provider's JWKS URL. Unset: trial mode, tokens signed by a key in DATA_DIR." }),
  ),
  AUTH_AUDIENCE: Type.String({ minLength: 1, default: 'patient-access-api', description: 'Expected `aud` of access tokens.' }),
  AUTH_ALGORITHMS: Type.String({
    pattern: '^(ES256|ES384|RS256|RS384|RS512|PS256|EdDSA)(,(ES256|ES384|RS256|RS384|RS512|PS256|EdDSA))*$',
    default: 'ES256,RS256',
    description: 'Comma-separated JWS algorithms accepted from the identity provider (trial mode accepts ES256 only).',
  }),
  CORS_ORIGINS: Type.String({
    default: '',
    description: 'Comma-separated origins allowed by CORS. Empty: CORS is off.',
  }),
  BODY_LIMIT_BYTES: Type.Integer({ minimum: 1024, maximum: 104857600, default: 1048576, description: 'Largest accepted request body; larger gets 413.' }),
  TRUST_PROXY: Bool('Trust X-Forwarded-For from a reverse proxy for the client address.', false),
  AUDIT_FLUSH_MAX_BATCH: Type.Integer({ minimum: 1, maximum: 5000, default: 500, description: 'Most audit events written by one grouped INSERT.' }),
  AUDIT_SEAL_INTERVAL_MS: Type.Integer({ minimum: 50, maximum: 60000, default: 1000, description: 'How often the sealer chains new audit events.' }),
  PHI_ENCRYPTION_KEY: Type.Optional(
    Type.String({
      pattern: '^[A-Za-z0-9+/]{43}=$',
      description: 'Base64 of 32 random bytes: encrypts SSNs (AES-256-GCM) and keys their lookup HMAC. Unset: trial mode generates one into DATA_DIR.',
    }),
  ),
  AUDIT_SIGNING_KEY: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 4096,
      description: 'Ed25519 private key that signs audit chain checkpoints: base64 PKCS#8 DER, or a JWK (JSON). Required outside trial mode; trial mode generates one into DATA_DIR.',
    }),
  ),
  AUDIT_CHECKPOINT_INTERVAL_MS: Type.Integer({ minimum: 1000, maximum: 86400000, default: 60000, description: 'Least time between two signed checkpoints of the audit chain. The sealer recomputes what it seals at every step and signs the point it has recomputed (the head, or a step behind it).' }),
  SHUTDOWN_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 120000, default: 10000, description: 'Longest wait for in-flight requests on SIGTERM.' }),
  ELIGIBILITY_GATEWAY: Type.Union([Type.Literal('sandbox'), Type.Literal('http')], {
    default: 'sandbox',
    description: 'Clearinghouse for X12 270/271 eligibility checks: the built-in sandbox (simulated payers) or X12 over HTTP to ELIGIBILITY_HTTP_URL.',
  }),
  ELIGIBILITY_HTTP_URL: Type.Optional(Type.String({ pattern: '^https?://', description: 'Where the http eligibility gateway POSTs 270s (body application/EDI-X12; the 271 is the response body).' })),
  ELIGIBILITY_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 10000, default: 10000, description: 'Longest wait for a 271; a check that waits longer is recorded as timed out (504).' }),
  ELIGIBILITY_SUBMITTER_ID: Type.String({ pattern: '^[A-Z0-9]{2,15}$', default: 'PATIENTACCESS', description: 'Our interchange sender id (ISA06, GS02) in 270s.' }),
  ELIGIBILITY_RECEIVER_ID: Type.String({ pattern: '^[A-Z0-9]{2,15}$', default: 'CLEARINGHOUSE', description: 'The clearinghouse id (ISA08, GS03) used by the http gateway.' }),
  ELIGIBILITY_MAX_271_BYTES: Type.Integer({ minimum: 1024, maximum: 16777216, default: 1048576, description: 'Largest 271 accepted; a larger one fails the check (502).' }),
  ELIGIBILITY_SANDBOX_SLOW_MS: Type.Integer({ minimum: 0, maximum: 120000, default: 15000, description: 'How long the sandbox payer SBXSLOW takes to answer.' }),
  ELIGIBILITY_BATCH_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 32, default: 4, description: 'Eligibility checks of one batch in flight at once.' }),
  ELIGIBILITY_MAX_CHECK_AGE_DAYS: Type.Integer({ minimum: 0, maximum: 30, default: 0, description: 'How many days before the date of service a completed eligibility check stays usable at check-in (0: same day only); without a usable check, check-in lists `eligibility` as missing.' }),
  ROI_ATTACHMENT_MAX_BYTES: Type.Integer({ minimum: 1024, maximum: 104857600, default: 10485760, description: 'Largest release-of-information attachment (PDF, TIFF, PNG, JPEG) accepted; larger gets 413.' }),
  IMPORT_MAX_BYTES: Type.Integer({ minimum: 1024, maximum: 1099511627776, default: 10737418240, description: 'Largest batch import file (streamed, never buffered); a larger one gets 413 and stops at its last committed batch.' }),
  IMPORT_BATCH_ROWS: Type.Integer({ minimum: 1, maximum: 3000, default: 1000, description: 'Rows per batch import transaction: the unit of commit and of resumption.' }),
})

export type Config = Static<typeof ConfigSchema> & { authAlgorithms: string[]; corsOrigins: string[]; trial: boolean }

export class ConfigError extends Error {}

/** Parse the environment once; a bad value names its variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const input: Record<string, unknown> = {}
  for (const [key, schema] of Object.entries(ConfigSchema.properties) as [string, TSchema][]) {
    const raw = env[key]
    if (raw === undefined || raw === '') continue
    input[key] = schema.type === 'integer' ? (/^-?\d+$/.test(raw) ? Number(raw) : raw) : raw
  }
  const withDefaults = Value.Default(ConfigSchema, input)
  const errors = [...Value.Errors(ConfigSchema, withDefaults)]
  if (errors.length > 0) {
    const lines = errors.map((e) => `${e.path.replace(/^\//, '') || '(root)'}: ${e.message}`)
    throw new ConfigError(`Invalid configuration:\n  ${[...new Set(lines)].join('\n  ')}`)
  }
  const parsed = withDefaults as Static<typeof ConfigSchema>
  if (Boolean(parsed.AUTH_ISSUER) !== Boolean(parsed.AUTH_JWKS_URL)) {
    throw new ConfigError('Invalid configuration:\n  AUTH_ISSUER and AUTH_JWKS_URL must be set together')
  }
  return {
    ...parsed,
    authAlgorithms: parsed.AUTH_ALGORITHMS.split(','),
    corsOrigins: parsed.CORS_ORIGINS.split(',').map((s) => s.trim()).filter(Boolean),
    trial: !parsed.AUTH_JWKS_URL,
  }
}

export const flag = (v: 'true' | 'false') => v === 'true'
