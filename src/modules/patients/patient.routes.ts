import type { FastifyPluginAsync } from 'fastify'
import { Type, type Static } from '@sinclair/typebox'
import { problems } from '../../http/errors.ts'
import { idempotent, IdempotencyHeaders } from '../../http/idempotency.ts'
import { decodeCursor, Page } from '../../http/pagination.ts'
import { IfMatchHeaders, ifMatchVersion, sendVersioned } from '../../http/versioning.ts'
import { loadPhiKey, phiCrypto } from './phi-crypto.ts'
import {
  CareTeamParams,
  PatientFacilityParams,
  CreatePatientBodySchema,
  MergePatientBodySchema,
  MergePatientParams,
  PatientParams,
  PatientSchema,
  RestrictedPatientSchema,
  SearchPatientsQuerySchema,
  UpdatePatientBodySchema,
} from './patient.schemas.ts'
import * as service from './patient.service.ts'
import { etagHeader as etag } from '../../http/versioning.ts'

const tags = ['patients']
const restrictedNote =
  ' A restricted record (`restriction` set) is readable only by its care team: others get 403 `restricted-record` unless they send ' +
  '`X-Break-Glass-Reason`, which allows the access and flags its audit event (breakGlass, purposeOfUse ETREAT) for review.'

export const patientRoutes: FastifyPluginAsync = async (app) => {
  const phi = phiCrypto(loadPhiKey(app.config))
  app.addSchema(PatientSchema)
  app.addSchema(RestrictedPatientSchema)
  const Patient = Type.Ref('Patient')

  app.post<{ Body: Static<typeof CreatePatientBodySchema> }>('/patients', {
    config: { permission: 'patient:write' },
    schema: {
      operationId: 'createPatient', tags, summary: 'Register a patient',
      description:
        'Assigns the MRN. Possible duplicates in the organisation (name, birth date, phone, email, address, SSN) answer 409 ' +
        '`possible-duplicate` with `candidates` (ids, score, matched fields); send `duplicateOverride.reason` to create anyway (audited).',
      headers: IdempotencyHeaders, body: CreatePatientBodySchema,
      response: { 201: Patient, ...problems(400, 401, 403, 404, 409, 413, 415, 422, 503) },
    },
  }, (req, reply) => idempotent(req, reply, 201, (ctx) => service.createPatient(ctx, phi, req.body), etag))

  app.get<{ Querystring: Static<typeof SearchPatientsQuerySchema> }>('/patients', {
    config: { permission: 'patient:read' },
    // The items are Patient | RestrictedPatient: fast-json-stringify would pick the branch by
    // validating every item against the union with ajv (a sixth of a search's CPU). The service
    // builds each item field by field (toPatient, or { id, restricted }) and writes the page with
    // JSON.stringify (before it waits for its audit events: see searchPatients), exactly the
    // documented fields; test/modules/patients/search-contract.test.ts checks it. Problems go
    // through JSON.stringify too.
    serializerCompiler: () => (data) => JSON.stringify(data),
    schema: {
      operationId: 'searchPatients', tags, summary: 'Search patients',
      description:
        'By fuzzy name (phonetic and prefix matches of family and first given name, either order; a trigram fallback when nothing else matches), ' +
        'birth date, MRN, phone, or `identifier=system|value`; criteria combine. Only patients linked to your facilities. Best matches first.' +
        ' Restricted patients outside your care team appear as `{ id, restricted: true }` unless you send `X-Break-Glass-Reason`.',
      querystring: SearchPatientsQuerySchema,
      response: { 200: Page(Type.Union([Patient, Type.Ref('RestrictedPatient')]), 'PatientPage'), ...problems(400, 401, 403, 404, 503) },
    },
  }, async (req, reply) => reply.type('application/json; charset=utf-8').send(await service.searchPatients(req.ctx, phi, req.query, decodeCursor(req.query.cursor, ['int', 'uuid']))))

  app.get<{ Params: Static<typeof PatientParams> }>('/patients/:patientId', {
    config: { permission: 'patient:read' },
    schema: {
      operationId: 'getPatient', tags, summary: 'Read a patient',
      description: 'A merged record is still readable: `active` is false and `mergedIntoId` names the survivor.' + restrictedNote,
      params: PatientParams,
      response: { 200: Patient, ...problems(400, 401, 403, 404, 503) },
    },
  }, async (req, reply) => sendVersioned(reply, await service.getPatient(req.ctx, phi, req.params.patientId)))

  app.patch<{ Params: Static<typeof PatientParams>; Body: Static<typeof UpdatePatientBodySchema> }>('/patients/:patientId', {
    config: { permission: 'patient:write' },
    schema: {
      operationId: 'updatePatient', tags, summary: 'Change demographics',
      description: 'Fields present replace their values (`identifiers` replaces the list; `ssn: null` removes it). Send If-Match with the ETag you read.' + restrictedNote,
      params: PatientParams, headers: IfMatchHeaders, body: UpdatePatientBodySchema,
      response: { 200: Patient, ...problems(400, 401, 403, 404, 409, 412, 413, 415, 503) },
    },
  }, async (req, reply) => sendVersioned(reply, await service.updatePatient(req.ctx, phi, req.params.patientId, ifMatchVersion(req), req.body)))

  for (const [method, add] of [['PUT', true], ['DELETE', false]] as const) {
    app.route<{ Params: Static<typeof CareTeamParams> }>({
      method, url: '/patients/:patientId/care-team/:userSub',
      config: { permission: 'patient:write' },
      schema: {
        operationId: add ? 'addCareTeamMember' : 'removeCareTeamMember', tags,
        summary: add ? 'Put a user on the care team of a patient' : 'Take a user off the care team of a patient',
        description: 'The care team reads a restricted record without breaking the glass. Idempotent; audited.',
        params: CareTeamParams,
        response: { 204: Type.Null({ description: add ? 'On the care team.' : 'Not on the care team.' }), ...problems(400, 401, 403, 404, 503) },
      },
      handler: async (req, reply) => {
        await service.setCareTeamMember(req.ctx, req.params.patientId, req.params.userSub, add)
        return reply.code(204).send()
      },
    })
  }

  for (const [method, link] of [['PUT', true], ['DELETE', false]] as const) {
    app.route<{ Params: Static<typeof PatientFacilityParams> }>({
      method, url: '/patients/:patientId/facilities/:facilityId',
      config: { permission: 'patient:write' },
      schema: {
        operationId: link ? 'linkPatientFacility' : 'unlinkPatientFacility', tags,
        summary: link ? 'Make a patient visible at another facility of its organisation' : 'Remove a facility link from a patient',
        description: link
          ? "Users of that facility then see the patient and can book, register and check it in there (`facilityIds` lists the links). You must see the patient and act for the facility; another organisation's facility is 404. Idempotent; audited."
          : 'The registering facility stays linked (409 `registering-facility`). Idempotent; audited.',
        params: PatientFacilityParams,
        response: { 204: Type.Null({ description: link ? 'Linked.' : 'Not linked.' }), ...problems(400, 401, 403, 404, 409, 503) },
      },
      handler: async (req, reply) => {
        await service.setPatientFacility(req.ctx, req.params.patientId, req.params.facilityId, link)
        return reply.code(204).send()
      },
    })
  }

  app.post<{ Params: Static<typeof MergePatientParams>; Body: Static<typeof MergePatientBodySchema> }>('/patients/:patientId/merge', {
    config: { permission: 'patient:merge' },
    schema: {
      operationId: 'mergePatient', tags, summary: 'Merge a duplicate into a surviving record',
      description:
        'In one transaction, every reference to this patient (identifiers, registrations, appointments, coverages, ROI requests...) moves to ' +
        'the survivor; this record stays readable, inactive, with `mergedIntoId`. Returns the survivor, which keeps a restriction of the merged ' +
        'record and gains its care team.' + restrictedNote,
      params: MergePatientParams, body: MergePatientBodySchema,
      response: { 200: Patient, ...problems(400, 401, 403, 404, 409, 413, 415, 503) },
    },
  }, async (req, reply) => sendVersioned(reply, await service.mergePatient(req.ctx, phi, req.params.patientId, req.body)))
}
