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
 * bench database (the app's pool, the sealer, the raw pool, autovacuum there). On a shared
 * machine throughput moves with the neighbours' load; CPU per operation much less, so the two
 * designs can be compared by what each operation costs the machine.
 */
export async function cpuMeter(pool: pg.Pool, pids: number[]) {
  const backends = async () =>
    (await pool.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()')).rows.map((r) => r.pid)
  const before = new Map([...pids, ...(await backends())].map((pid) => [pid, cpuSeconds(pid)]))
  const self = process.cpuUsage()
  return {
    /**
     * CPU seconds since the meter started: the given processes' (plus this process's own when
     * `includeSelf`: the raw loops' pg client) as `client`, the Postgres backends' as `postgres`.
     */
    async stop(includeSelf: boolean): Promise<{ client: number; postgres: number }> {
      let client = 0
      for (const pid of pids) client += cpuSeconds(pid) - before.get(pid)!
      if (includeSelf) {
        const d = process.cpuUsage(self)
        client += (d.user + d.system) / 1e6
      }
      let postgres = 0
      for (const pid of new Set(await backends())) postgres += cpuSeconds(pid) - (before.get(pid) ?? 0)
      return { client, postgres }
    },
  }
}
