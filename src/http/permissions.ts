/**
 * The one table of roles and what they may do. Every route declares the permission it needs
 * (route config `permission`); README documents this table (a test checks they agree).
 */
export const PERMISSIONS = {
  'organization:read': 'Read organisations',
  'organization:write': 'Create and change organisations',
  'facility:read': 'Read facilities',
  'facility:write': 'Create and change facilities',
  'patient:read': 'Read patient demographics (SSN masked)',
  'patient:read-ssn': 'See full SSNs',
  'patient:write': 'Register and update patients',
  'patient:merge': 'Merge duplicate patient records',
  'registration:read': 'Read registrations, check-ins, intake and the queue',
  'registration:write': 'Create registrations, check in, record intake',
  'scheduling:read': 'Read availability, slots, appointments, referrals and surgical cases',
  'scheduling:write': 'Hold, book, reschedule and cancel; manage availability, referrals, cases',
  'scheduling:overbook': 'Book over an occupied slot deliberately (with a reason)',
  'eligibility:read': 'Read coverages, eligibility checks and estimates',
  'eligibility:write': 'Manage coverages, run eligibility checks, make estimates',
  'roi:read': 'Read release-of-information requests and disclosures',
  'roi:write': 'Process release-of-information requests and record disclosures',
  'audit:read': 'Query, export and verify the audit trail',
  'import:write': 'Run batch imports',
} as const

export type Permission = keyof typeof PERMISSIONS

export const ROLES = {
  front_desk: ['facility:read', 'patient:read', 'patient:write', 'registration:read', 'registration:write', 'scheduling:read', 'scheduling:write', 'eligibility:read'],
  scheduler: ['facility:read', 'patient:read', 'scheduling:read', 'scheduling:write', 'registration:read'],
  eligibility_specialist: ['facility:read', 'patient:read', 'eligibility:read', 'eligibility:write', 'scheduling:read'],
  roi_specialist: ['facility:read', 'patient:read', 'patient:read-ssn', 'roi:read', 'roi:write'],
  auditor: ['organization:read', 'facility:read', 'audit:read'],
  admin: ['organization:read', 'organization:write', 'facility:read', 'facility:write', 'patient:read', 'patient:merge', 'scheduling:overbook'],
  integrator: ['facility:read', 'patient:read', 'patient:write', 'registration:read', 'registration:write', 'scheduling:read', 'scheduling:write', 'eligibility:read', 'eligibility:write', 'import:write'],
} as const satisfies Record<string, readonly Permission[]>

export type Role = keyof typeof ROLES

export const isRole = (r: string): r is Role => Object.hasOwn(ROLES, r)

/** Union of the roles' permissions, narrowed by OAuth scopes `pa:<permission>` when the token has any. */
export function permissionsFor(roles: readonly string[], scopes: readonly string[] | undefined): Set<Permission> {
  const granted = new Set<Permission>()
  for (const role of roles) if (isRole(role)) for (const p of ROLES[role]) granted.add(p)
  const scoped = scopes?.filter((s) => s.startsWith('pa:')).map((s) => s.slice(3))
  if (!scoped || scoped.length === 0) return granted
  return new Set([...granted].filter((p) => scoped.includes(p)))
}
