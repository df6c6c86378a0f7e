import autocannon from 'autocannon'
import type pg from 'pg'
import type { HttpRequest } from './scenario.ts'

export interface Figures {
  /** Completed operations per second. */
  perSecond: number
  p50Ms: number
  p99Ms: number
  total: number
  /** HTTP: responses outside 2xx; raw: operations that threw. */
  failures: number
  /** HTTP only: socket errors and timeouts. */
  errors?: number
  statusCodes?: Record<string, number>
  /** Raw only: the first error message, when operations failed. */
  firstFailure?: string
}

export interface HttpLoad {
  baseUrl: string
  request: HttpRequest
  /** Called for every request when set (unique bodies or headers). */
  vary?: () => Partial<Pick<HttpRequest, 'path' | 'body' | 'headers'>>
  connections: number
  seconds: number
}

const json = (body: unknown) => (body === undefined ? undefined : JSON.stringify(body))

/** autocannon against one loopback server: every connection repeats the request for `seconds`. */
export function runHttp({ baseUrl, request, vary, connections, seconds }: HttpLoad): Promise<Figures> {
  const url = new URL(baseUrl)
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) throw new Error(`refusing to load a non-loopback target: ${baseUrl}`)
  const headers = { ...(request.body !== undefined || vary ? { 'content-type': 'application/json' } : {}), ...request.headers }
  const req = {
    method: request.method,
    path: request.path,
    headers,
    body: json(request.body),
    ...(vary && {
      setupRequest: (r: object) => {
        const v = vary()
        return { ...r, path: v.path ?? request.path, headers: { ...headers, ...v.headers }, body: json(v.body ?? request.body) }
      },
    }),
  }
  return new Promise((resolve, reject) => {
    autocannon({ url: baseUrl, connections, duration: seconds, timeout: 10, requests: [req] }, (err, r) => {
      if (err) return reject(err)
      const statusCodes = Object.fromEntries(Object.entries(r.statusCodeStats).map(([code, s]) => [code, s.count]))
      resolve({
        perSecond: r.requests.average,
        p50Ms: r.latency.p50,
        p99Ms: r.latency.p99,
        total: r.requests.total,
        failures: r.non2xx,
        errors: r.errors + r.timeouts,
        statusCodes,
      })
    })
  })
}

const percentile = (sorted: Float64Array, p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : 0)

/**
 * The baseline: `connections` loops, each awaiting one operation after another through the
 * bare pool for `seconds` (the pool is as large as the loop count, so no loop waits for a client).
 */
export async function runRaw(pool: pg.Pool, connections: number, seconds: number, op: () => Promise<unknown>): Promise<Figures> {
  // Open every connection first: connecting is not part of the work being measured.
  const clients = await Promise.all(Array.from({ length: connections }, () => pool.connect()))
  clients.forEach((c) => c.release())

  const latencies: number[] = []
  let failures = 0
  let firstFailure: string | undefined
  const start = performance.now()
  const end = start + seconds * 1000
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now()
        try {
          await op()
          latencies.push(performance.now() - t0)
        } catch (err) {
          failures++
          firstFailure ??= String((err as Error).message ?? err)
        }
      }
    }),
  )
  const elapsed = (performance.now() - start) / 1000
  const sorted = Float64Array.from(latencies).sort()
  return {
    perSecond: latencies.length / elapsed,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    total: latencies.length,
    failures,
    firstFailure,
  }
}
