import type { Kysely } from 'kysely'
import type pg from 'pg'
import type { Config } from '../../src/config.ts'
import type { Database } from '../../src/db/database.ts'

/** What a scenario's setup may use: the bench database (typed and bare) and trial tokens. */
export interface BenchContext {
  /** Kysely over the bench database, for loading data in setup. */
  db: Kysely<Database>
  /** The bare pg pool the raw figures are measured with; also fine for bulk loads in setup. */
  pool: pg.Pool
  config: Config
  /** Unique per bench run: the bench database persists, so values that must be unique include it. */
  runId: string
  /** A trial-mode token the bench servers accept. */
  token(roles: string[], facilities: string[]): Promise<string>
}

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'

export interface HttpRequest {
  method: Method
  /** Path and query, e.g. `/facilities/<id>`. */
  path: string
  headers?: Record<string, string>
  /** Serialised as JSON. */
  body?: unknown
}

/** The database work an HTTP request stands for, done through the bare pool: the baseline. */
export interface RawWork<S> {
  /** What one raw operation is, for the table: "point SELECT facility". */
  label: string
  /** One operation; `n` counts up across all loops (unique values for INSERTs). */
  run(pool: pg.Pool, state: S, n: number): Promise<unknown>
}

export interface Targets {
  /** Least acceptable HTTP req/s divided by raw ops/s. */
  minRawRatio?: number
  minReqPerSec?: number
  maxP99Ms?: number
}

export interface Scenario<S = unknown> {
  /** Short and unique; `npm run bench -- <name>...` selects scenarios by name. */
  name: string
  description: string
  /** Which server answers: the app as it ships, or with read auditing replaced by a no-op. Default 'audited'. */
  server?: 'audited' | 'audit-off'
  /** Loads what the scenario needs (idempotently: the bench database persists between runs). */
  setup(ctx: BenchContext): Promise<S>
  /** The request every connection repeats. */
  request(state: S): HttpRequest
  /**
   * Per-request changes (unique bodies or Idempotency-Keys for creates, paths). Leave it out for
   * fixed requests: autocannon then reuses one prebuilt buffer and costs the server's CPU less.
   */
  vary?(state: S, n: number): Partial<Pick<HttpRequest, 'path' | 'body' | 'headers'>>
  raw: RawWork<S>
  /** A second ratio: this scenario's req/s over another scenario's (measured in the same run). */
  compare?: { scenario: string; minRatio?: number; label: string }
  targets?: Targets
}

/** Keeps the state type flowing from setup to request and raw. */
export const defineScenario = <S>(s: Scenario<S>): Scenario<S> => s
