import type { FastifyInstance } from 'fastify'
import { addDays } from '../../../src/lib/dates.ts'
import { dateIn } from '../../../src/modules/roi/roi-common.ts'
import { bearer, type TestContext } from '../../helpers/app.ts'
import { createPatient, orgWithFacility } from '../../helpers/factories.ts'

/** Today at the test facilities (orgWithFacility uses America/New_York). */
export const today = () => dateIn('America/New_York')
export const daysAgo = (n: number) => addDays(today(), -n)

export const PDF = Buffer.concat([Buffer.from('%PDF-1.7\n'), Buffer.alloc(200, 0x20), Buffer.from('\n%%EOF\n')])
export const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(64, 1)])
export const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(64, 2)])
export const TIFF = Buffer.concat([Buffer.from([0x49, 0x49, 0x2a, 0x00]), Buffer.alloc(64, 3)])

export const VALID_AUTHORIZATION = {
  descriptionOfInformation: 'Clinical notes 2025',
  disclosingParty: 'Riverside General Hospital',
  recipient: 'Lee & Partners LLP',
  purpose: 'At the request of the individual',
  expiresOn: '2099-12-31',
  signedBy: 'Pat Example',
  signedOn: '2026-01-02',
  statements: { rightToRevoke: true, conditioning: true, redisclosure: true },
}

export async function roiSetup(ctx: TestContext, facilityOverrides: { roiDeadlineDays?: number } = {}) {
  const { organization, facility } = await orgWithFacility(ctx.db, facilityOverrides)
  const patient = await createPatient(ctx.db, facility.id)
  const token = await ctx.token('roi_specialist', [facility.id])
  return { organization, facility, patient, token, headers: bearer(token) }
}

export type RoiSetup = Awaited<ReturnType<typeof roiSetup>>

export function requestBody(s: RoiSetup, overrides: Record<string, unknown> = {}) {
  return {
    patientId: s.patient.id,
    facilityId: s.facility.id,
    requester: { type: 'attorney', name: 'Jordan Lee', organization: 'Lee & Partners LLP', address: '12 Court St, Albany NY 12207' },
    legalBasis: 'subpoena',
    purpose: 'Litigation: Example v. Example',
    recordsRequested: { types: ['clinical_notes', 'imaging_reports'], from: '2025-01-01', to: '2025-12-31' },
    format: 'electronic',
    deliveryMethod: 'secure_download',
    receivedOn: today(),
    ...overrides,
  }
}

export async function createRequest(app: FastifyInstance, s: RoiSetup, overrides: Record<string, unknown> = {}) {
  const res = await app.inject({ method: 'POST', url: '/roi-requests', headers: s.headers, payload: requestBody(s, overrides) })
  if (res.statusCode !== 201) throw new Error(`createRequest: ${res.statusCode} ${res.body}`)
  return res.json() as { id: string; dueOn: string; status: string; version: number; [k: string]: unknown }
}

export async function moveTo(app: FastifyInstance, s: RoiSetup, id: string, path: string[]) {
  for (const to of path) {
    const res = await app.inject({ method: 'POST', url: `/roi-requests/${id}/transitions`, headers: s.headers, payload: { to, reason: `to ${to}` } })
    if (res.statusCode !== 200) throw new Error(`moveTo ${to}: ${res.statusCode} ${res.body}`)
  }
}

export const READY = ['in_review', 'in_progress', 'ready_for_release']
