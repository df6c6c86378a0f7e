import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { request } from 'node:http'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { mintTrialToken } from '../src/http/auth.ts'

const root = fileURLToPath(new URL('..', import.meta.url))

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return port
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

t.test('the server process: start with no configuration, graceful SIGTERM', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'pa-server-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  // Only what a shell needs: the server must run on its defaults (embedded database, trial auth).
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, DATA_DIR: dataDir, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.on('data', (d) => (output += d))
  child.stderr.on('data', (d) => (output += d))
  const exited = once(child, 'exit') as Promise<[number | null, string | null]>
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })

  await t.test('it becomes ready on the embedded database and says so', async (t) => {
    const deadline = Date.now() + 90_000
    let status = 0
    while (Date.now() < deadline && child.exitCode === null) {
      status = await fetch(`${base}/readyz`).then((r) => r.status, () => 0)
      if (status === 200) break
      await sleep(250)
    }
    t.equal(status, 200, output)
    t.match(output, /EMBEDDED TRIAL DATABASE/)
  })

  await t.test('on SIGTERM it finishes the in-flight request, refuses new ones and exits 0', async (t) => {
    const token = await mintTrialToken(dataDir, { sub: 'shutdown-test', roles: ['admin'], facilities: ['*'], audience: 'patient-access-api' })
    const body = JSON.stringify({ name: 'Created during shutdown' })
    const half = Math.floor(body.length / 2)
    const req = request(`${base}/organizations`, {
      method: 'POST',
      agent: false,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    })
    const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
      req.on('response', (res) => {
        let text = ''
        res.on('data', (d) => (text += d))
        res.on('end', () => resolve({ status: res.statusCode!, body: text }))
      })
      req.on('error', reject)
    })
    // The request is in flight: headers and half the body have reached the server.
    req.write(body.slice(0, half))
    await sleep(500)
    child.kill('SIGTERM')
    await sleep(500)
    const late = await fetch(`${base}/healthz`).then((r) => r.status, () => 'refused')
    t.not(late, 200, `a new request after SIGTERM is not served (${late})`)
    req.end(body.slice(half))
    const res = await response
    t.equal(res.status, 201, res.body)
    t.equal(JSON.parse(res.body).name, 'Created during shutdown')
    const [code, signal] = await exited
    t.equal(signal, null)
    t.equal(code, 0, output)
    t.match(output, /shutting down/)
    t.match(output, /"msg":"stopped"/)
  })
})
