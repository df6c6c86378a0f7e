import { readFileSync } from 'node:fs'
import type pg from 'pg'

/** CPU seconds (user + system) a process has used, from /proc in clock ticks of 10 ms; 0 once it is gone (or off Linux). */
export function cpuSeconds(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
    return (Number(f[11]) + Number(f[12])) / 100
  } catch {
    return 0
  }
}

/**
 * CPU spent on one piece of work: the given processes' plus every Postgres backend serving the
 * bench database (the app's pool, the sealer, the raw pool, autovacuum there), listed from
 * `pool`'s database or by the function given. On a shared machine throughput moves with the
 * neighbours' load; CPU per operation much less, so the two designs can be compared by what each
 * operation costs the machine.
 *
 * Backends are listed every half second, not only at the end: a pool closes connections idle for
 * 10 s, and a backend gone by the end would take its CPU with it (its last reading counts).
 */
export async function cpuMeter(pool: pg.Pool | (() => Promise<number[]>), pids: number[]) {
  const backends = typeof pool === 'function' ? pool : async () =>
    (await pool.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()')).rows.map((r) => r.pid)
  const before = new Map([...pids, ...(await backends())].map((pid) => [pid, cpuSeconds(pid)]))
  const last = new Map<number, number>()
  const sample = async () => {
    for (const pid of await backends()) {
      const s = cpuSeconds(pid)
      if (s > 0) last.set(pid, s)
    }
  }
  const sampler = setInterval(() => void sample().catch(() => undefined), 500)
  const self = process.cpuUsage()
  return {
    /**
     * CPU seconds since the meter started: the given processes' (plus this process's own when
     * `includeSelf`: the raw loops' pg client) as `client`, the Postgres backends' as `postgres`.
     */
    async stop(includeSelf: boolean): Promise<{ client: number; postgres: number }> {
      clearInterval(sampler)
      let client = 0
      for (const pid of pids) client += cpuSeconds(pid) - before.get(pid)!
      if (includeSelf) {
        const d = process.cpuUsage(self)
        client += (d.user + d.system) / 1e6
      }
      await sample()
      let postgres = 0
      for (const [pid, s] of last) postgres += s - (before.get(pid) ?? 0)
      return { client, postgres }
    },
  }
}
