import { fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export interface AppServer {
  baseUrl: string
  pid: number
  stop(): Promise<void>
}

/** Node's flags as the Dockerfile's CMD runs the service (its young generation's size: see there). */
const NODE_FLAGS = ['--max-semi-space-size=64']
const repoRoot = fileURLToPath(new URL('../..', import.meta.url))

/**
 * Forks bench/server.ts and resolves once it listens; `cpuProfileDir` writes a V8 CPU profile there
 * on exit. `root`: the checkout whose server it is (another one: the old code of a paired run).
 */
export async function startAppServer(audit: 'on' | 'off', env: NodeJS.ProcessEnv, cpuProfileDir?: string, root = repoRoot): Promise<AppServer> {
  const child = fork(join(root, 'bench/server.ts'), ['--audit', audit], {
    cwd: root,
    env,
    execArgv: [...NODE_FLAGS, '--import', 'tsx', ...(cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfileDir}`] : [])],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('bench server did not start within 180 s')), 180_000)
    child.once('message', (m) => {
      clearTimeout(timer)
      resolve((m as { port: number }).port)
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`bench server exited with code ${code} before listening`))
    })
  }).catch(async (err) => {
    await stopChild(child)
    throw err
  })
  return { baseUrl: `http://127.0.0.1:${port}`, pid: child.pid!, stop: () => stopChild(child) }
}

/** SIGTERM (the server drains and closes its pool), then SIGKILL if it has not exited in 15 s. */
async function stopChild(child: ChildProcess) {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
  await exited
  clearTimeout(timer)
}
