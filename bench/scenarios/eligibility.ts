import { randomUUID } from 'node:crypto'
import { DEMO, DEMO_ELIGIBILITY } from '../../src/cli/seed-data.ts'
import { build270 } from '../../src/modules/eligibility/x12-270.ts'
import { parse271 } from '../../src/modules/eligibility/x12-271.ts'
import { sandboxGateway } from '../../src/modules/eligibility/sandbox-gateway.ts'
import { defineScenario, type BenchContext } from '../lib/scenario.ts'

/**
 * Real-time eligibility through the sandbox clearinghouse: 270 built, "sent", 271 built by the
 * simulated payer, parsed, check stored, coverage verified, audited. Against the bare parse +
 * store of the same 271 through the pool. Checks spread over COVERAGES coverages so they do not
 * all queue on one coverage row.
 */
const COVERAGES = 200

interface State {
  token: string
  coverageIds: string[]
  patientIds: string[]
  request270: string
  response271: string
}

async function setup(ctx: BenchContext): Promise<State> {
  const { rows } = await ctx.pool.query<{ patient_id: string; coverage_id: string }>(
    `with p as (
       insert into patient (organization_id, facility_id, mrn, family_name, given_names, birth_date)
       select $1, $2, 'BE' || $3 || '-' || i, 'Benchmark', 'Eli', date '1970-01-01' + i
         from generate_series(1, $4::int) i
       returning id
     ), pf as (
       insert into patient_facility (patient_id, facility_id) select id, $2 from p
     )
     insert into coverage (patient_id, plan_id, priority, relationship, member_id, effective_from)
     select id, $5, 'primary', 'self', 'BENCH' || replace(id::text, '-', ''), '2026-01-01' from p
     returning patient_id, id as coverage_id`,
    [DEMO.organizationId, DEMO.hospitalId, ctx.runId.replace(/[^A-Za-z0-9]/g, '').slice(0, 20), COVERAGES, DEMO_ELIGIBILITY.acmeGoldId],
  )
  const member = {
    planName: 'Acme Gold PPO', planType: 'PPO', effectiveFrom: '2026-01-01', effectiveTo: null, copayCents: 2500, deductibleCents: 150000,
    familyDeductibleCents: 300000, coinsurancePercent: 20, oopMaxCents: 600000, oonDeductibleCents: 300000, oonCoinsurancePercent: 40,
    oonOopMaxCents: 1200000, priorAuthServiceTypes: ['2'],
  }
  const request270 = build270({
    controlNumber: 1, senderId: 'PATIENTACCESS', receiverId: 'SANDBOXCH', usage: 'T', at: new Date(),
    payer: { name: 'Acme Health Plans', x12PayerId: 'ACME1' }, provider: { name: 'Riverside General Hospital', npi: '1245319599' },
    subscriber: { familyName: 'Benchmark', givenNames: 'Eli', birthDate: '1970-01-02', memberId: 'BENCH1', groupNumber: null },
    traceNumber: 'benchtrace', dateOfService: '2026-11-27', serviceTypeCodes: ['30'],
  })
  const response271 = await sandboxGateway({ slowMs: 0, lookup: async () => member }).exchange(request270, AbortSignal.timeout(5000))
  return {
    token: await ctx.token(['eligibility_specialist'], [DEMO.hospitalId]),
    coverageIds: rows.map((r) => r.coverage_id),
    patientIds: rows.map((r) => r.patient_id),
    request270,
    response271,
  }
}

export const eligibilityCheck = defineScenario<State>({
  name: 'eligibility-check',
  description: 'POST /eligibility-checks through the sandbox gateway: 270 build + 271 parse + store + audit',
  setup,
  request: (s) => ({
    method: 'POST',
    path: '/eligibility-checks',
    headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' },
    body: { coverageId: s.coverageIds[0], providerNpi: '1245319599', dateOfService: '2026-11-27' },
  }),
  vary: (s, n) => ({ body: { coverageId: s.coverageIds[n % s.coverageIds.length], providerNpi: '1245319599', dateOfService: '2026-11-27' } }),
  raw: {
    label: 'parse the 271 + INSERT eligibility_check + UPDATE coverage + INSERT audit_event',
    async run(pool, s, n) {
      const parsed = parse271(s.response271)
      const i = n % s.coverageIds.length
      const client = await pool.connect()
      try {
        await client.query('begin')
        const id = randomUUID()
        await client.query(
          `insert into eligibility_check (id, coverage_id, patient_id, facility_id, status, service_type_codes, provider_npi, provider_in_network,
             date_of_service, trace_number, control_number, gateway, active, plan_description, coverage_start, benefits, rejections,
             request_x12, response_x12, requested_by, completed_at)
           values ($1, $2, $3, $4, 'complete', '{30}', '1245319599', true, '2026-11-27', $5, 1, 'sandbox', $6, $7, $8, $9, '[]', $10, $11, 'bench-raw', now())`,
          [id, s.coverageIds[i], s.patientIds[i], DEMO.hospitalId, id.replaceAll('-', ''), parsed.active, parsed.planDescription, parsed.coverageStart,
            JSON.stringify(parsed.benefits), s.request270, s.response271],
        )
        await client.query('update coverage set verified_at = now(), verified_active = true, version = version + 1 where id = $1', [s.coverageIds[i]])
        await client.query(
          `insert into audit_event (request_id, actor_sub, actor_roles, facility_id, action, verb, resource_type, resource_id, patient_id, outcome, purpose_of_use, client_ip, user_agent)
           values ($1, 'bench-raw', '{eligibility_specialist}', $2, 'create', 'eligibility-check.create', 'eligibility-check', $3, $4, 'success', 'HOPERAT', '127.0.0.1', 'bench-raw')`,
          [randomUUID(), DEMO.hospitalId, id, s.patientIds[i]],
        )
        await client.query('commit')
      } catch (err) {
        await client.query('rollback')
        throw err
      } finally {
        client.release()
      }
    },
  },
})
