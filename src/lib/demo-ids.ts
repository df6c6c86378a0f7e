/**
 * The demo organisation's fixed ids (and its patients' identifying fields), loaded by
 * src/cli/seed-data.ts. The OpenAPI examples name them so that "Try it out" at /docs works against
 * a server started with SEED_DEMO=true; this module imports nothing, so schema modules may use it.
 */
export const DEMO = {
  organizationId: '5e0c3d8a-1111-4a6b-9c1d-000000000001',
  hospitalId: '5e0c3d8a-2222-4a6b-9c1d-000000000001',
  clinicId: '5e0c3d8a-2222-4a6b-9c1d-000000000002',
  ascId: '5e0c3d8a-2222-4a6b-9c1d-000000000003',
  hospitalNpi: '1234567893',
}

/** Demo patients at the demo hospital (fixed ids and MRNs; MRNs carry their Luhn check digit). */
export const DEMO_PATIENTS = [
  { id: '5e0c3d8a-3333-4a6b-9c1d-000000000001', mrn: '900000019', familyName: 'Smith', givenNames: 'John Paul', birthDate: '1961-07-04', administrativeSex: 'male' },
  { id: '5e0c3d8a-3333-4a6b-9c1d-000000000002', mrn: '900000027', familyName: 'Garcia', givenNames: 'Maria Elena', birthDate: '1985-02-14', administrativeSex: 'female' },
  { id: '5e0c3d8a-3333-4a6b-9c1d-000000000003', mrn: '900000035', familyName: 'Nguyen', givenNames: 'Linh', birthDate: '1993-09-30', administrativeSex: 'female' },
  { id: '5e0c3d8a-3333-4a6b-9c1d-000000000004', mrn: '900000043', familyName: "O'Brien", givenNames: 'Sean', birthDate: '1978-12-01', administrativeSex: 'male' },
] as const

/** The n-th weekly availability rule the seed writes (1: Dr. Ruiz, Monday 08:00-12:00 at the clinic). */
export const demoAvailabilityRuleId = (n: number) => `5e0c3d8a-8888-4a6b-9c1d-${String(n).padStart(12, '0')}`

/** Demo scheduling reference data: providers, rooms, appointment types and weekly availability. */
export const DEMO_SCHEDULING = {
  familyMedicineId: '5e0c3d8a-4444-4a6b-9c1d-000000000001',
  generalSurgeryId: '5e0c3d8a-4444-4a6b-9c1d-000000000002',
  drRuizId: '5e0c3d8a-5555-4a6b-9c1d-000000000001',
  drOkaforId: '5e0c3d8a-5555-4a6b-9c1d-000000000002',
  drRuizNpi: '1245319599',
  drOkaforNpi: '1987654328',
  clinicExam1Id: '5e0c3d8a-6666-4a6b-9c1d-000000000001',
  clinicExam2Id: '5e0c3d8a-6666-4a6b-9c1d-000000000002',
  hospitalExamId: '5e0c3d8a-6666-4a6b-9c1d-000000000003',
  hospitalOrId: '5e0c3d8a-6666-4a6b-9c1d-000000000004',
  ascOrId: '5e0c3d8a-6666-4a6b-9c1d-000000000005',
  newPatientTypeId: '5e0c3d8a-7777-4a6b-9c1d-000000000001',
  followUpTypeId: '5e0c3d8a-7777-4a6b-9c1d-000000000002',
  surgicalConsultTypeId: '5e0c3d8a-7777-4a6b-9c1d-000000000003',
  ruizMondayMorningRuleId: demoAvailabilityRuleId(1),
}

/** Demo payers (two of them the sandbox's down and slow payers), plans, a network and coverages. */
export const DEMO_ELIGIBILITY = {
  acmeId: '5e0c3d8a-8888-4a6b-9c1d-000000000001',
  tricareId: '5e0c3d8a-8888-4a6b-9c1d-000000000002',
  downPayerId: '5e0c3d8a-8888-4a6b-9c1d-000000000003',
  slowPayerId: '5e0c3d8a-8888-4a6b-9c1d-000000000004',
  acmeNetworkId: '5e0c3d8a-8888-4a6b-9c1d-000000000011',
  acmeGoldId: '5e0c3d8a-8888-4a6b-9c1d-000000000021',
  tricareSelectId: '5e0c3d8a-8888-4a6b-9c1d-000000000022',
  downPlanId: '5e0c3d8a-8888-4a6b-9c1d-000000000023',
  slowPlanId: '5e0c3d8a-8888-4a6b-9c1d-000000000024',
  smithCoverageId: '5e0c3d8a-8888-4a6b-9c1d-000000000031',
  garciaCoverageId: '5e0c3d8a-8888-4a6b-9c1d-000000000032',
}

/** Demo release-of-information work: the NY copy-fee schedule, requests in several states, disclosures. */
export const DEMO_ROI = {
  nyScheduleId: '5e0c3d8a-9999-4a6b-9c1d-000000000001',
  smithAccessId: '5e0c3d8a-9999-4a6b-9c1d-000000000011',
  garciaAttorneyId: '5e0c3d8a-9999-4a6b-9c1d-000000000012',
  nguyenSubpoenaId: '5e0c3d8a-9999-4a6b-9c1d-000000000013',
  obrienOverdueId: '5e0c3d8a-9999-4a6b-9c1d-000000000014',
  /** Ready for release: the release example's request (a first "Try it out" releases it). */
  nguyenCopyId: '5e0c3d8a-9999-4a6b-9c1d-000000000015',
  garciaAuthorizationId: '5e0c3d8a-9999-4a6b-9c1d-000000000021',
  nguyenReleaseId: '5e0c3d8a-9999-4a6b-9c1d-000000000031',
  nguyenDisclosureId: '5e0c3d8a-9999-4a6b-9c1d-000000000041',
  obrienPublicHealthId: '5e0c3d8a-9999-4a6b-9c1d-000000000042',
}
