import { generateKeyPairSync } from 'node:crypto'
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { ConfigError, loadConfig } from '../../../src/config.ts'
import { checkpointMessage, loadAuditSigner } from '../../../src/modules/audit/audit-signing.ts'

t.test('the checkpoint signing key', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'pa-signing-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const production = { AUTH_ISSUER: 'https://idp.example', AUTH_JWKS_URL: 'https://idp.example/jwks', DATA_DIR: dataDir }

  await t.test('AUDIT_SIGNING_KEY is read as base64 PKCS#8 or as a JWK, to the same key', async (t) => {
    const { privateKey } = generateKeyPairSync('ed25519')
    const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64')
    const jwk = JSON.stringify(privateKey.export({ format: 'jwk' }))
    const a = loadAuditSigner(loadConfig({ ...production, AUDIT_SIGNING_KEY: pkcs8 }))
    const b = loadAuditSigner(loadConfig({ ...production, AUDIT_SIGNING_KEY: jwk }))
    t.equal(a.keyId, b.keyId)
    t.match(a.keyId, /^[0-9a-f]{32}$/)
    const message = checkpointMessage('42', 'ab'.repeat(32), new Date('2026-11-27T10:00:00.000Z'))
    t.ok(b.verify(message, a.sign(message)))
    t.notOk(b.verify(message.replace('seq=42', 'seq=41'), a.sign(message)))
  })

  await t.test('a key that is not Ed25519, or not a key, stops start-up with a message naming the variable', async (t) => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const ec = privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64')
    t.throws(() => loadAuditSigner(loadConfig({ ...production, AUDIT_SIGNING_KEY: ec })), { name: 'Error', message: /AUDIT_SIGNING_KEY: not an Ed25519 private key/ })
    t.throws(() => loadAuditSigner(loadConfig({ ...production, AUDIT_SIGNING_KEY: 'bm90IGEga2V5' })), /AUDIT_SIGNING_KEY: not a base64 PKCS#8 DER or JWK/)
    let caught: unknown
    try {
      loadAuditSigner(loadConfig(production))
    } catch (err) {
      caught = err
    }
    t.ok(caught instanceof ConfigError, 'a ConfigError, which start-up reports and exits on')
    t.throws(() => loadAuditSigner(loadConfig(production)), /AUDIT_SIGNING_KEY is required outside trial mode/)
  })

  await t.test('trial mode generates a key into DATA_DIR once and keeps using it', async (t) => {
    const first = loadAuditSigner(loadConfig({ DATA_DIR: dataDir }))
    const file = join(dataDir, 'audit-signing-key.json')
    t.ok(existsSync(file))
    t.equal(statSync(file).mode & 0o777, 0o600)
    t.equal(loadAuditSigner(loadConfig({ DATA_DIR: dataDir })).keyId, first.keyId)
  })
})
