import { Type, type Static } from '@sinclair/typebox'
import { DEMO } from '../../lib/demo-ids.ts'

export const IMPORT_KINDS = ['patients', 'coverages', 'providers', 'appointments'] as const
export type ImportKind = (typeof IMPORT_KINDS)[number]
export const IMPORT_FORMATS = ['ndjson', 'csv'] as const
export type ImportFormat = (typeof IMPORT_FORMATS)[number]
export const IMPORT_MEDIA_TYPES: Record<ImportFormat, string> = { ndjson: 'application/x-ndjson', csv: 'text/csv' }

const Count = (description: string) => Type.Integer({ minimum: 0, description })

export const CreateImportBodySchema = Type.Object(
  {
    kind: Type.Union(IMPORT_KINDS.map((k) => Type.Literal(k)), { description: 'What the rows are.' }),
    format: Type.Union(IMPORT_FORMATS.map((f) => Type.Literal(f)), {
      description: 'ndjson: one JSON object per line. csv: a header row naming fields (nested with dots: `address.city`, `identifiers.0.value`).',
    }),
    facilityId: Type.String({ format: 'uuid', description: 'The facility the rows belong to; you must act for it.' }),
    dryRun: Type.Optional(Type.Boolean({ default: false, description: 'Validate and report what would happen, writing nothing.' })),
    allowDuplicates: Type.Optional(Type.Boolean({ default: false, description: 'Patients: create new records even when they look like existing ones.' })),
  },
  { additionalProperties: false, examples: [{ kind: 'patients', format: 'csv', facilityId: DEMO.hospitalId }] },
)
export type CreateImportBody = Static<typeof CreateImportBodySchema>

export const ImportSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    facilityId: Type.String({ format: 'uuid' }),
    kind: Type.Union(IMPORT_KINDS.map((k) => Type.Literal(k))),
    format: Type.Union(IMPORT_FORMATS.map((f) => Type.Literal(f))),
    dryRun: Type.Boolean(),
    allowDuplicates: Type.Boolean(),
    status: Type.Union(['created', 'running', 'interrupted', 'completed', 'failed'].map((s) => Type.Literal(s)), {
      description: 'created: waiting for its file. running. interrupted: the upload broke off; PUT the same file again to resume. ' +
        'completed. failed: the file could not be read on (see problem); rows before it are committed.',
    }),
    rowsRead: Count('Rows processed and committed (the checkpoint a resumed upload starts after).'),
    created: Count('Rows that created a record.'),
    updated: Count('Rows that changed an existing record.'),
    unchanged: Count('Rows identical to the existing record.'),
    rejected: Count('Rows refused (invalid, conflicting); each has a problem in the results.'),
    duplicates: Count('New patients not created because they look like an existing one.'),
    problem: Type.Union([Type.Ref('Problem'), Type.Null()], { description: 'Why the job stopped, when failed or interrupted.' }),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
    completedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  },
  {
    $id: 'Import',
    additionalProperties: false,
    examples: [{
      id: '7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f', facilityId: DEMO.hospitalId, kind: 'patients', format: 'csv',
      dryRun: false, allowDuplicates: false, status: 'completed', rowsRead: 1200, created: 1100, updated: 40, unchanged: 50, rejected: 8, duplicates: 2,
      problem: null, createdAt: '2026-11-27T10:00:00.000Z', updatedAt: '2026-11-27T10:00:09.000Z', completedAt: '2026-11-27T10:00:09.000Z',
    }],
  },
)
export type Import = Static<typeof ImportSchema>

export const ImportOutcomes = ['created', 'updated', 'unchanged', 'rejected', 'duplicate'] as const
export type ImportOutcome = (typeof ImportOutcomes)[number]

export const ImportResultSchema = Type.Object(
  {
    row: Type.Integer({ minimum: 1, description: 'Row number in the file, 1 for the first record (a CSV header is not a row).' }),
    outcome: Type.Union(ImportOutcomes.map((o) => Type.Literal(o)), { description: 'In a dry run: what would have happened.' }),
    recordId: Type.Union([Type.String({ format: 'uuid' }), Type.Null()], { description: 'The record created, updated or matched (null when rejected, or created in a dry run).' }),
    problem: Type.Optional(Type.Ref('Problem')),
  },
  {
    $id: 'ImportResult',
    additionalProperties: false,
    examples: [
      { row: 1, outcome: 'created', recordId: '3f1c2b7a-9d84-4e1f-8a6b-2c5d7e9f0a13' },
      { row: 2, outcome: 'rejected', recordId: null, problem: { type: 'urn:patient-access:problem:validation', title: 'Bad Request', status: 400, detail: 'The row is not valid', errors: [{ pointer: '/birthDate', detail: 'must match format "date"' }] } },
    ],
  },
)
export type ImportResult = Static<typeof ImportResultSchema>

export const ImportParams = Type.Object({ importId: Type.String({ format: 'uuid', description: 'Import id.' }) })
export type ImportParams = Static<typeof ImportParams>
