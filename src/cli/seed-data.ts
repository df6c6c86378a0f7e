import type { Kysely } from 'kysely'
import type { Logger } from 'pino'
import type { Config } from '../config.ts'
import type { Database } from '../db/database.ts'
import { addDays } from '../lib/dates.ts'
import { DEMO, DEMO_ELIGIBILITY, DEMO_PATIENTS, DEMO_ROI, DEMO_SCHEDULING, demoAvailabilityRuleId } from '../lib/demo-ids.ts'
import { dateIn } from '../modules/roi/roi-common.ts'

// The ids live in src/lib/demo-ids.ts so that the OpenAPI examples can name them too.
export { DEMO, DEMO_ELIGIBILITY, DEMO_PATIENTS, DEMO_ROI, DEMO_SCHEDULING }

/** Loads the demo organisation; running it again changes nothing. */
export async function seedDemo(db: Kysely<Database>, _config: Config, log: Pick<Logger, 'info'>) {
  await db.transaction().execute(async (trx) => {
    await trx.insertInto('organization').values({ id: DEMO.organizationId, name: 'Riverside Health (demo)' } as never)
      .onConflict((oc) => oc.column('id').doNothing()).execute()
    await trx.insertInto('facility').values([
      { id: DEMO.hospitalId, organizationId: DEMO.organizationId, name: 'Riverside General Hospital', kind: 'hospital', timeZone: 'America/New_York', npi: DEMO.hospitalNpi, stateCode: 'NY' },
      { id: DEMO.clinicId, organizationId: DEMO.organizationId, name: 'Riverside Family Clinic', kind: 'clinic', timeZone: 'America/New_York', stateCode: 'NY', roiDeadlineDays: 15 },
      { id: DEMO.ascId, organizationId: DEMO.organizationId, name: 'Riverside Surgery Center', kind: 'ambulatory_surgery_center', timeZone: 'America/Chicago', stateCode: 'IL' },
    ] as never).onConflict((oc) => oc.column('id').doNothing()).execute()
    await seedDemoPatients(trx)
    await seedDemoScheduling(trx)
    await seedDemoEligibility(trx)
    await seedDemoRoi(trx)
  })
  log.info({ organizationId: DEMO.organizationId, facilities: [DEMO.hospitalId, DEMO.clinicId, DEMO.ascId] }, 'demo organisation loaded')
}

async function seedDemoPatients(trx: Kysely<Database>) {
  await trx.insertInto('patient').values(DEMO_PATIENTS.map((p) => ({
    ...p, organizationId: DEMO.organizationId, facilityId: DEMO.hospitalId,
    phones: JSON.stringify([{ use: 'mobile', number: `+1555555${p.mrn.slice(-4)}` }]), phoneNumbers: [`+1555555${p.mrn.slice(-4)}`],
  }))).onConflict((oc) => oc.column('id').doNothing()).execute()
  // John Smith is also a patient of the clinic, where Dr. Ruiz's bookable hours are: the
  // scheduling examples book him there.
  await trx.insertInto('patientFacility').values([...DEMO_PATIENTS.map((p) => ({ patientId: p.id, facilityId: DEMO.hospitalId })), { patientId: DEMO_PATIENTS[0].id, facilityId: DEMO.clinicId }])
    .onConflict((oc) => oc.doNothing()).execute()
}

/** Demo scheduling reference data: providers, rooms, appointment types and weekly availability. */
async function seedDemoScheduling(trx: Kysely<Database>) {
  const S = DEMO_SCHEDULING
  await trx.insertInto('specialty').values([
    { id: S.familyMedicineId, code: 'family-medicine', name: 'Family medicine' },
    { id: S.generalSurgeryId, code: 'general-surgery', name: 'General surgery' },
  ]).onConflict((oc) => oc.doNothing()).execute()
  await trx.insertInto('provider').values([
    { id: S.drRuizId, organizationId: DEMO.organizationId, npi: S.drRuizNpi, displayName: 'Dr. Ana Ruiz, MD' },
    { id: S.drOkaforId, organizationId: DEMO.organizationId, npi: S.drOkaforNpi, displayName: 'Dr. Samuel Okafor, MD, FACS' },
  ]).onConflict((oc) => oc.doNothing()).execute()
  await trx.insertInto('providerSpecialty').values([
    { providerId: S.drRuizId, specialtyId: S.familyMedicineId },
    { providerId: S.drOkaforId, specialtyId: S.generalSurgeryId },
  ]).onConflict((oc) => oc.doNothing()).execute()
  await trx.insertInto('providerFacility').values([
    { providerId: S.drRuizId, facilityId: DEMO.clinicId },
    { providerId: S.drRuizId, facilityId: DEMO.hospitalId },
    { providerId: S.drOkaforId, facilityId: DEMO.hospitalId },
    { providerId: S.drOkaforId, facilityId: DEMO.ascId },
  ]).onConflict((oc) => oc.doNothing()).execute()
  await trx.insertInto('resource').values([
    { id: S.clinicExam1Id, facilityId: DEMO.clinicId, kind: 'exam-room', name: 'Exam 1' },
    { id: S.clinicExam2Id, facilityId: DEMO.clinicId, kind: 'exam-room', name: 'Exam 2' },
    { id: S.hospitalExamId, facilityId: DEMO.hospitalId, kind: 'exam-room', name: 'Surgical clinic room' },
    { id: S.hospitalOrId, facilityId: DEMO.hospitalId, kind: 'operating-room', name: 'OR 1' },
    { id: S.ascOrId, facilityId: DEMO.ascId, kind: 'operating-room', name: 'OR A' },
  ]).onConflict((oc) => oc.doNothing()).execute()
  await trx.insertInto('appointmentType').values([
    { id: S.newPatientTypeId, organizationId: DEMO.organizationId, code: 'new-patient', name: 'New patient visit', specialtyId: S.familyMedicineId,
      durationMinutes: 40, bufferAfterMinutes: 10, resourceKinds: ['exam-room'], minimumNoticeMinutes: 120 },
    { id: S.followUpTypeId, organizationId: DEMO.organizationId, code: 'follow-up', name: 'Follow-up visit', specialtyId: S.familyMedicineId,
      durationMinutes: 20, resourceKinds: ['exam-room'] },
    { id: S.surgicalConsultTypeId, organizationId: DEMO.organizationId, code: 'surgical-consult', name: 'Surgical consultation', specialtyId: S.generalSurgeryId,
      durationMinutes: 30, bufferBeforeMinutes: 5, resourceKinds: ['exam-room'], requiresReferral: true, requiresPriorAuth: true, minimumNoticeMinutes: 1440 },
  ]).onConflict((oc) => oc.doNothing()).execute()
  // Fixed rule ids keep a second run from adding the same week again.
  const rules = [
    ...[1, 2, 3, 4, 5].flatMap((weekday) => [
      { providerId: S.drRuizId, facilityId: DEMO.clinicId, resourceId: S.clinicExam1Id, weekday, startTime: '08:00', endTime: '12:00' },
      { providerId: S.drRuizId, facilityId: DEMO.clinicId, resourceId: S.clinicExam1Id, weekday, startTime: '13:00', endTime: '17:00' },
    ]),
    ...[1, 3].map((weekday) => ({ providerId: S.drOkaforId, facilityId: DEMO.hospitalId, resourceId: S.hospitalExamId, weekday, startTime: '09:00', endTime: '12:00' })),
  ]
  await trx.insertInto('availabilityRule').values(rules.map((r, i) => ({
    ...r, id: demoAvailabilityRuleId(i + 1), effectiveFrom: '2026-01-01', effectiveTo: null,
  }))).onConflict((oc) => oc.doNothing()).execute()
}

/** Demo payers (two of them the sandbox's down and slow payers), plans, a network, coverages and a fee schedule. */
async function seedDemoEligibility(trx: Kysely<Database>) {
  const E = DEMO_ELIGIBILITY
  await trx.insertInto('payer').values([
    { id: E.acmeId, name: 'Acme Health Plans', x12PayerId: 'ACME1' },
    { id: E.tricareId, name: 'TRICARE East', x12PayerId: 'TRICAREEAST' },
    { id: E.downPayerId, name: 'Sandbox payer that is down (AAA 42)', x12PayerId: 'SBXDOWN' },
    { id: E.slowPayerId, name: 'Sandbox payer that answers too late', x12PayerId: 'SBXSLOW' },
  ] as never).onConflict((oc) => oc.doNothing()).execute()
  await trx.insertInto('network').values({ id: E.acmeNetworkId, payerId: E.acmeId, name: 'Acme Choice' } as never)
    .onConflict((oc) => oc.doNothing()).execute()
  // Dr. Ruiz is in the Acme network; Dr. Okafor is not.
  await trx.insertInto('providerNetwork').values({ networkId: E.acmeNetworkId, npi: DEMO_SCHEDULING.drRuizNpi, effectiveFrom: '2026-01-01' })
    .onConflict((oc) => oc.doNothing()).execute()
  const design = { copayCents: 2500, deductibleCents: 150000, familyDeductibleCents: 300000, coinsurancePercent: 20, oopMaxCents: 600000, oonDeductibleCents: 300000, oonCoinsurancePercent: 40, oonOopMaxCents: 1200000 }
  await trx.insertInto('plan').values([
    { id: E.acmeGoldId, payerId: E.acmeId, networkId: E.acmeNetworkId, name: 'Acme Gold PPO', planType: 'PPO', ...design, priorAuthServiceTypes: ['2'] },
    { id: E.tricareSelectId, payerId: E.tricareId, networkId: null, name: 'TRICARE Select', planType: 'tricare', copayCents: 3300, deductibleCents: 15000, familyDeductibleCents: 30000, coinsurancePercent: 20, oopMaxCents: 100000, oonDeductibleCents: null, oonCoinsurancePercent: null, oonOopMaxCents: null },
    { id: E.downPlanId, payerId: E.downPayerId, networkId: null, name: 'Sandbox down plan', planType: 'other', ...design },
    { id: E.slowPlanId, payerId: E.slowPayerId, networkId: null, name: 'Sandbox slow plan', planType: 'other', ...design },
  ] as never).onConflict((oc) => oc.doNothing()).execute()
  await trx.insertInto('coverage').values([
    { id: E.smithCoverageId, patientId: DEMO_PATIENTS[0].id, planId: E.acmeGoldId, priority: 'primary', relationship: 'self', memberId: 'ACM100200300', groupNumber: 'G-88120', effectiveFrom: '2026-01-01' },
    { id: E.garciaCoverageId, patientId: DEMO_PATIENTS[1].id, planId: E.tricareSelectId, priority: 'primary', relationship: 'self', memberId: 'TC5550001', effectiveFrom: '2026-01-01' },
  ] as never).onConflict((oc) => oc.doNothing()).execute()
  await trx.insertInto('feeScheduleItem').values([
    ['99203', 'Office visit, new patient, low complexity', 21000], ['99213', 'Office visit, established patient', 18500],
    ['80053', 'Comprehensive metabolic panel', 4500], ['71046', 'Chest X-ray, 2 views', 16000], ['70551', 'MRI brain without contrast', 140000],
    ['45378', 'Colonoscopy, diagnostic', 320000],
  ].map(([cptCode, description, chargeCents]) => ({ facilityId: DEMO.hospitalId, cptCode: cptCode as string, description: description as string, chargeCents: chargeCents as number })))
    .onConflict((oc) => oc.doNothing()).execute()
}

/** Demo release-of-information work: the NY copy-fee schedule, requests in several states, disclosures. */
async function seedDemoRoi(trx: Kysely<Database>) {
  const R = DEMO_ROI
  // Dates relative to the day of seeding, so the work queue always has something due and overdue.
  const today = dateIn('America/New_York')
  const day = (n: number) => addDays(today, -n)
  // NY Public Health Law 18(2)(e): at most 75 cents a page for paper copies.
  await trx.insertInto('roiFeeSchedule').values({ id: R.nyScheduleId, stateCode: 'NY', facilityId: null, baseFeeCents: 0, perPageCents: 75, capCents: null, paymentRequiredBeforeRelease: true } as never)
    .onConflict((oc) => oc.doNothing()).execute()
  const base = { organizationId: DEMO.organizationId, facilityId: DEMO.hospitalId, createdBy: 'demo-seed' }
  const requests = [
    { ...base, id: R.smithAccessId, patientId: DEMO_PATIENTS[0].id, requesterType: 'patient', requesterName: 'John Paul Smith', requesterAddress: '48 Elm St, Albany NY 12203',
      legalBasis: 'individual_access', recordTypes: ['lab_results', 'discharge_summaries'], format: 'electronic', deliveryMethod: 'portal',
      receivedOn: day(24), dueOn: addDays(day(24), 30), status: 'in_review' },
    { ...base, id: R.garciaAttorneyId, patientId: DEMO_PATIENTS[1].id, requesterType: 'attorney', requesterName: 'Jordan Lee', requesterOrganization: 'Lee & Partners LLP',
      requesterAddress: '12 Court St, Albany NY 12207', requesterEmail: 'records@leepartners.example', legalBasis: 'authorization', purpose: 'Personal injury claim',
      recordTypes: ['clinical_notes', 'imaging_reports'], recordsFrom: '2025-01-01', recordsTo: '2025-12-31', format: 'paper', deliveryMethod: 'mail',
      receivedOn: day(10), dueOn: addDays(day(10), 30), status: 'pending_authorization' },
    { ...base, id: R.nguyenSubpoenaId, patientId: DEMO_PATIENTS[2].id, requesterType: 'government_agency', requesterName: 'Albany County District Attorney',
      requesterAddress: '6 Lodge St, Albany NY 12207', legalBasis: 'subpoena', purpose: 'Grand jury subpoena', recordTypes: ['clinical_notes'], format: 'paper', deliveryMethod: 'pickup',
      receivedOn: day(40), dueOn: addDays(day(40), 30), status: 'released' },
    { ...base, id: R.obrienOverdueId, patientId: DEMO_PATIENTS[3].id, requesterType: 'rehabilitation_facility', requesterName: 'Hudson Valley Rehabilitation',
      requesterAddress: '200 River Rd, Kingston NY 12401', legalBasis: 'third_party_directive', purpose: 'Continuity of care at the patient\'s direction',
      recordTypes: ['discharge_summaries', 'operative_reports', 'medications'], format: 'electronic', deliveryMethod: 'fax',
      receivedOn: day(33), dueOn: addDays(day(33), 30), status: 'in_progress' },
    { ...base, id: R.nguyenCopyId, patientId: DEMO_PATIENTS[2].id, requesterType: 'patient', requesterName: 'Linh Nguyen', requesterAddress: '9 Quail St, Albany NY 12206',
      legalBasis: 'individual_access', recordTypes: ['clinical_notes'], format: 'paper', deliveryMethod: 'pickup',
      receivedOn: day(6), dueOn: addDays(day(6), 30), status: 'ready_for_release' },
  ]
  const inserted = await trx.insertInto('roiRequest').values(requests as never).onConflict((oc) => oc.column('id').doNothing()).returning('id').execute()
  const fresh = new Set(inserted.map((r) => r.id))
  const history: Record<string, string[]> = {
    [R.smithAccessId]: ['received', 'in_review'],
    [R.garciaAttorneyId]: ['received', 'in_review', 'pending_authorization'],
    [R.nguyenSubpoenaId]: ['received', 'in_review', 'in_progress', 'ready_for_release', 'released'],
    [R.obrienOverdueId]: ['received', 'in_review', 'in_progress'],
    [R.nguyenCopyId]: ['received', 'in_review', 'in_progress', 'ready_for_release'],
  }
  const changes = Object.entries(history).filter(([id]) => fresh.has(id)).flatMap(([requestId, path]) =>
    path.map((to, i) => ({ requestId, fromStatus: i === 0 ? null : path[i - 1], toStatus: to, reason: i === 0 ? 'Request received' : 'Demo workflow', actorSub: 'demo-seed' })))
  if (changes.length) await trx.insertInto('roiStatusChange').values(changes).execute()
  // The attorney's authorization lacks the redisclosure statement: the request cannot proceed yet.
  await trx.insertInto('roiAuthorization').values({
    id: R.garciaAuthorizationId, requestId: R.garciaAttorneyId, descriptionOfInformation: 'Clinical notes and imaging reports, 2025', disclosingParty: 'Riverside General Hospital',
    recipient: 'Lee & Partners LLP', purpose: 'At the request of the individual', expiresOn: addDays(today, 180), signedBy: 'Maria Elena Garcia', signedOn: day(12),
    statementRightToRevoke: true, statementConditioning: true, statementRedisclosure: false, createdBy: 'demo-seed',
  } as never).onConflict((oc) => oc.doNothing()).execute()
  const releasedAt = `${day(20)}T15:00:00Z`
  await trx.insertInto('roiRelease').values({
    id: R.nguyenReleaseId, requestId: R.nguyenSubpoenaId, totalPages: 18, recipientName: 'Albany County District Attorney', recipientAddress: '6 Lodge St, Albany NY 12207',
    documents: JSON.stringify([{ attachmentId: null, recordType: 'clinical_notes', description: 'Emergency department notes', pages: 18, sha256: null }]),
    deliveryMethod: 'pickup', releasedAt, releasedBy: 'demo-seed',
  } as never).onConflict((oc) => oc.doNothing()).execute()
  await trx.insertInto('disclosure').values([
    { id: R.nguyenDisclosureId, organizationId: DEMO.organizationId, facilityId: DEMO.hospitalId, patientId: DEMO_PATIENTS[2].id, requestId: R.nguyenSubpoenaId,
      releaseId: R.nguyenReleaseId, legalBasis: 'subpoena', disclosedAt: releasedAt, recipientName: 'Albany County District Attorney', recipientAddress: '6 Lodge St, Albany NY 12207',
      description: 'Emergency department notes (18 p.)', purpose: 'Grand jury subpoena', recordedBy: 'demo-seed' },
    { id: R.obrienPublicHealthId, organizationId: DEMO.organizationId, facilityId: DEMO.hospitalId, patientId: DEMO_PATIENTS[3].id, legalBasis: 'public_health',
      disclosedAt: `${day(60)}T13:30:00Z`, recipientName: 'New York State Department of Health', recipientAddress: 'Corning Tower, Albany NY 12237',
      description: 'Reportable communicable disease notification with laboratory result', purpose: 'Communicable disease reporting (164.512(b))', recordedBy: 'demo-seed' },
  ] as never).onConflict((oc) => oc.doNothing()).execute()
}
