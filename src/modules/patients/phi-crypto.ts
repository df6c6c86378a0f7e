import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError, type Config } from '../../config.ts'

/** Field-level encryption of SSNs: AES-256-GCM to store, a keyed HMAC to look up exactly. */
export interface PhiCrypto {
  encrypt(plain: string): string
  decrypt(stored: string): string
  /** Deterministic keyed digest: equal inputs give equal digests, without revealing the input. */
  lookupHash(plain: string): string
}

/**
 * The master key from PHI_ENCRYPTION_KEY; in trial mode (no identity provider configured) one is
 * generated into DATA_DIR on first use, like the trial signing key. Production without a key
 * refuses to start rather than store SSNs under a key nobody manages.
 */
export function loadPhiKey(config: Config): Buffer {
  if (config.PHI_ENCRYPTION_KEY) return Buffer.from(config.PHI_ENCRYPTION_KEY, 'base64')
  if (!config.trial) throw new ConfigError('Invalid configuration:\n  PHI_ENCRYPTION_KEY is required outside trial mode')
  const file = join(config.DATA_DIR, 'phi-encryption-key')
  if (!existsSync(file)) {
    mkdirSync(config.DATA_DIR, { recursive: true })
    try {
      writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' })
    } catch (err) {
      // Another process created it first: use theirs.
      if ((err as { code?: string }).code !== 'EEXIST') throw err
    }
  }
  return Buffer.from(readFileSync(file, 'utf8').trim(), 'base64')
}

export function phiCrypto(master: Buffer): PhiCrypto {
  if (master.length !== 32) throw new ConfigError('Invalid configuration:\n  PHI_ENCRYPTION_KEY must be 32 bytes (base64)')
  // Separate keys per purpose, so the lookup digest never shares a key with the cipher.
  const encKey = Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), 'patient-access ssn aes-256-gcm', 32))
  const macKey = Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), 'patient-access ssn hmac-sha256', 32))
  return {
    encrypt(plain) {
      const iv = randomBytes(12)
      const cipher = createCipheriv('aes-256-gcm', encKey, iv)
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()])
      return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')
    },
    decrypt(stored) {
      const raw = Buffer.from(stored, 'base64')
      const decipher = createDecipheriv('aes-256-gcm', encKey, raw.subarray(0, 12))
      decipher.setAuthTag(raw.subarray(12, 28))
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8')
    },
    lookupHash: (plain) => createHmac('sha256', macKey).update(plain).digest('hex'),
  }
}
