import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type JsonWebKey, type KeyObject } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError, type Config } from '../../config.ts'

/** The Ed25519 key that signs checkpoints of the audit chain head, and what an auditor needs to check them. */
export interface AuditSigner {
  /** sha256 of the public key's SPKI DER, hex, first 32 characters: names the key in each checkpoint. */
  keyId: string
  publicJwk: JsonWebKey
  /** The public key as base64 SPKI DER (what `openssl pkey -pubin -inform DER` reads). */
  publicSpki: string
  sign(message: string): Buffer
  verify(message: string, signature: Buffer): boolean
}

/**
 * The exact bytes a checkpoint signature covers (UTF-8). Fixed forever: an auditor rebuilds it
 * offline from a checkpoint's fields and checks the signature with the published public key.
 */
export const checkpointMessage = (seq: string, hashHex: string, signedAt: Date) =>
  `patient-access audit checkpoint v1\nseq=${seq}\nhash=${hashHex}\nsigned_at=${signedAt.toISOString()}`

function signerFor(privateKey: KeyObject): AuditSigner {
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new ConfigError('Invalid configuration:\n  AUDIT_SIGNING_KEY: not an Ed25519 private key')
  const publicKey = createPublicKey(privateKey)
  const spki = publicKey.export({ format: 'der', type: 'spki' })
  return {
    keyId: createHash('sha256').update(spki).digest('hex').slice(0, 32),
    publicJwk: publicKey.export({ format: 'jwk' }),
    publicSpki: spki.toString('base64'),
    sign: (message) => sign(null, Buffer.from(message, 'utf8'), privateKey),
    verify: (message, signature) => verify(null, Buffer.from(message, 'utf8'), publicKey, signature),
  }
}

/** AUDIT_SIGNING_KEY as base64 PKCS#8 DER or as a JWK. */
export function parseSigningKey(text: string): KeyObject {
  try {
    const trimmed = text.trim()
    if (trimmed.startsWith('{')) return createPrivateKey({ key: JSON.parse(trimmed) as JsonWebKey, format: 'jwk' })
    return createPrivateKey({ key: Buffer.from(trimmed, 'base64'), format: 'der', type: 'pkcs8' })
  } catch {
    throw new ConfigError('Invalid configuration:\n  AUDIT_SIGNING_KEY: not a base64 PKCS#8 DER or JWK private key')
  }
}

/** Trial mode: an Ed25519 key generated into DATA_DIR on first use, like the token signing key. */
function loadTrialSigningKey(dataDir: string): KeyObject {
  const file = join(dataDir, 'audit-signing-key.json')
  if (!existsSync(file)) {
    const { privateKey } = generateKeyPairSync('ed25519')
    mkdirSync(dataDir, { recursive: true })
    try {
      writeFileSync(file, JSON.stringify(privateKey.export({ format: 'jwk' })), { mode: 0o600, flag: 'wx' })
    } catch (err) {
      // Another process wrote it first: use theirs.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
  }
  return parseSigningKey(readFileSync(file, 'utf8'))
}

export function loadAuditSigner(config: Config): AuditSigner {
  if (config.AUDIT_SIGNING_KEY) return signerFor(parseSigningKey(config.AUDIT_SIGNING_KEY))
  if (!config.trial) throw new ConfigError('Invalid configuration:\n  AUDIT_SIGNING_KEY is required outside trial mode')
  return signerFor(loadTrialSigningKey(config.DATA_DIR))
}
