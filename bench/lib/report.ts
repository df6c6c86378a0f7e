import type { Figures } from './load.ts'
import type { Targets } from './scenario.ts'

export interface ScenarioResult {
  name: string
  description: string
  server: 'audited' | 'audit-off'
  http: Figures
  raw: Figures & { label: string }
  /** HTTP req/s over raw ops/s. */
  rawRatio: number
  /** CPU milliseconds per request (server process and Postgres backends, sealing included), median over rounds. */
  cpuMsPerRequest: CpuSplit
  /** CPU milliseconds per raw operation (the bench's pg client and Postgres backends). */
  rawCpuMsPerOperation: CpuSplit
  /** Seconds the sealer needed after the HTTP load to chain every audit event (the longest round); null: timed out. */
  sealedAfterSeconds: number | null
  targets?: Targets
  verdicts: Verdict[]
  /** Each round's req/s and raw ops/s (the figures above are medians over the rounds). */
  rounds: { http: number; raw: number }[]
}

/** CPU milliseconds per operation: the client side (the app server, or the raw loops' pg client) and Postgres. */
export interface CpuSplit {
  client: number
  postgres: number
}

export interface Verdict {
  what: string
  target: string
  actual: string
  ok: boolean
}

export interface Comparison {
  label: string
  scenario: string
  against: string
  ratio: number
  minRatio?: number
  ok?: boolean
}

export function verdictsFor(http: Figures, rawRatio: number, t: Targets = {}): Verdict[] {
  const v: Verdict[] = []
  if (t.minRawRatio !== undefined) v.push({ what: 'ratio to raw', target: `>= ${t.minRawRatio}`, actual: rawRatio.toFixed(2), ok: rawRatio >= t.minRawRatio })
  if (t.minReqPerSec !== undefined) v.push({ what: 'req/s', target: `>= ${t.minReqPerSec}`, actual: http.perSecond.toFixed(0), ok: http.perSecond >= t.minReqPerSec })
  if (t.maxP99Ms !== undefined) v.push({ what: 'p99 ms', target: `<= ${t.maxP99Ms}`, actual: String(http.p99Ms), ok: http.p99Ms <= t.maxP99Ms })
  return v
}

const n0 = (x: number) => Math.round(x).toLocaleString('en-US')
const ms = (x: number) => (x >= 10 ? x.toFixed(0) : x.toFixed(1))
const cpu = (c: CpuSplit) => `${(c.client + c.postgres).toFixed(2)} (${c.client.toFixed(2)} + ${c.postgres.toFixed(2)})`
const mark = (ok: boolean) => (ok ? 'met' : 'MISSED')

export function markdown(results: ScenarioResult[], comparisons: Comparison[], settings: Record<string, unknown>): string {
  const lines = [
    `Settings: ${Object.entries(settings).map(([k, v]) => `${k}=${v}`).join(', ')}`,
    '',
    '| scenario | req/s | p50 ms | p99 ms | non-2xx | raw work (bare pg pool) | raw ops/s | raw p50 ms | raw p99 ms | HTTP / raw | CPU ms/req (app + pg) | raw CPU ms/op (client + pg) | targets |',
    '|---|--:|--:|--:|--:|---|--:|--:|--:|--:|--:|--:|---|',
  ]
  for (const r of results) {
    const targets = r.verdicts.map((v) => `${v.what} ${v.target}: ${v.actual} ${mark(v.ok)}`).join('; ') || '-'
    const non2xx = r.http.failures + (r.http.errors ? ` (+${r.http.errors} errors)` : '')
    const rawFail = r.raw.failures ? ` (${r.raw.failures} failed)` : ''
    lines.push(
      `| ${r.name} | ${n0(r.http.perSecond)} | ${ms(r.http.p50Ms)} | ${ms(r.http.p99Ms)} | ${non2xx} | ${r.raw.label}${rawFail} | ${n0(r.raw.perSecond)} | ${ms(r.raw.p50Ms)} | ${ms(r.raw.p99Ms)} | ${r.rawRatio.toFixed(2)} | ${cpu(r.cpuMsPerRequest)} | ${cpu(r.rawCpuMsPerOperation)} | ${targets} |`,
    )
  }
  if (comparisons.length) {
    lines.push('', '| comparison | req/s ratio | target |', '|---|--:|---|')
    for (const c of comparisons) {
      const target = c.minRatio === undefined ? '-' : `>= ${c.minRatio}: ${mark(c.ok!)}`
      lines.push(`| ${c.scenario} / ${c.against} (${c.label}) | ${c.ratio.toFixed(2)} | ${target} |`)
    }
  }
  const lags = results.filter((r) => r.server === 'audited').map((r) => `${r.name} ${r.sealedAfterSeconds === null ? 'not within the timeout' : `${r.sealedAfterSeconds.toFixed(1)} s`}`)
  if (lags.length) lines.push('', `Audit chain caught up after the HTTP load: ${lags.join('; ')}.`)
  lines.push('', 'CPU ms/req: CPU time of the server process plus every Postgres backend of the bench database (sealing included) per request; raw CPU ms/op: the bench\'s own pg client plus Postgres per raw operation. Steadier than req/s when the machine is shared.')
  return lines.join('\n')
}
