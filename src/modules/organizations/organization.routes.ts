import type { FastifyPluginAsync } from 'fastify'
import { Type } from '@sinclair/typebox'
import type { Static } from '@sinclair/typebox'
import { problems } from '../../http/errors.ts'
import { idempotent, IdempotencyHeaders } from '../../http/idempotency.ts'
import { decodeCursor, Page, PageQuery } from '../../http/pagination.ts'
import { IfMatchHeaders, ifMatchVersion, sendVersioned } from '../../http/versioning.ts'
import {
  CreateFacilityBodySchema,
  CreateOrganizationBodySchema,
  FacilityParams,
  FacilitySchema,
  OrganizationParams,
  OrganizationSchema,
  UpdateFacilityBodySchema,
  UpdateOrganizationBodySchema,
} from './organization.schemas.ts'
import * as service from './organization.service.ts'
import { etagHeader as etag } from '../../http/versioning.ts'

const tags = ['organizations']

export const organizationRoutes: FastifyPluginAsync = async (app) => {
  app.addSchema(OrganizationSchema)
  app.addSchema(FacilitySchema)
  const Organization = Type.Ref('Organization')
  const Facility = Type.Ref('Facility')

  app.post<{ Body: Static<typeof CreateOrganizationBodySchema> }>('/organizations', {
    config: { permission: 'organization:write' },
    schema: {
      operationId: 'createOrganization', tags, summary: 'Create an organisation',
      description: 'Platform administrators only. Visible afterwards to tokens whose facilities include `*` or one of its facilities.',
      headers: IdempotencyHeaders, body: CreateOrganizationBodySchema,
      response: { 201: Organization, ...problems(400, 401, 403, 409, 413, 415, 422, 503) },
    },
  }, (req, reply) => idempotent(req, reply, 201, (ctx) => service.createOrganization(ctx, req.body.name), etag))

  app.get<{ Querystring: { limit?: number; cursor?: string } }>('/organizations', {
    config: { permission: 'organization:read' },
    schema: {
      operationId: 'listOrganizations', tags, summary: 'List the organisations you can act for',
      querystring: Type.Object(PageQuery, { additionalProperties: false }),
      response: { 200: Page(Organization, 'OrganizationPage'), ...problems(400, 401, 403, 503) },
    },
  }, (req) => service.listOrganizations(req.ctx, decodeCursor(req.query.cursor, ['text', 'uuid']), req.query.limit ?? 25))

  app.get<{ Params: Static<typeof OrganizationParams> }>('/organizations/:organizationId', {
    config: { permission: 'organization:read' },
    schema: {
      operationId: 'getOrganization', tags, summary: 'Read an organisation',
      params: OrganizationParams,
      response: { 200: Organization, ...problems(400, 401, 403, 404, 503) },
    },
  }, async (req, reply) => sendVersioned(reply, await service.getOrganization(req.ctx, req.params.organizationId)))

  app.patch<{ Params: Static<typeof OrganizationParams>; Body: Static<typeof UpdateOrganizationBodySchema> }>('/organizations/:organizationId', {
    config: { permission: 'organization:write' },
    schema: {
      operationId: 'updateOrganization', tags, summary: 'Rename an organisation',
      params: OrganizationParams, headers: IfMatchHeaders, body: UpdateOrganizationBodySchema,
      response: { 200: Organization, ...problems(400, 401, 403, 404, 412, 413, 415, 503) },
    },
  }, async (req, reply) => {
    const updated = await service.updateOrganization(req.ctx, req.params.organizationId, ifMatchVersion(req), req.body.name!)
    return sendVersioned(reply, updated)
  })

  app.post<{ Params: Static<typeof OrganizationParams>; Body: Static<typeof CreateFacilityBodySchema> }>('/organizations/:organizationId/facilities', {
    config: { permission: 'facility:write' },
    schema: {
      operationId: 'createFacility', tags, summary: 'Add a facility to an organisation',
      description: 'Facilities are hospitals, clinics and ambulatory surgery centres, each with its IANA time zone and its release-of-information deadline.',
      params: OrganizationParams, headers: IdempotencyHeaders, body: CreateFacilityBodySchema,
      response: { 201: Facility, ...problems(400, 401, 403, 404, 409, 413, 415, 422, 503) },
    },
  }, (req, reply) => idempotent(req, reply, 201, (ctx) => service.createFacility(ctx, req.params.organizationId, req.body), etag))

  app.get<{ Querystring: { limit?: number; cursor?: string; organizationId?: string } }>('/facilities', {
    config: { permission: 'facility:read' },
    schema: {
      operationId: 'listFacilities', tags, summary: 'List the facilities you can act for',
      querystring: Type.Object({ ...PageQuery, organizationId: Type.Optional(Type.String({ format: 'uuid' })) }, { additionalProperties: false }),
      response: { 200: Page(Facility, 'FacilityPage'), ...problems(400, 401, 403, 503) },
    },
  }, (req) => service.listFacilities(req.ctx, req.query.organizationId, decodeCursor(req.query.cursor, ['text', 'uuid']), req.query.limit ?? 25))

  app.get<{ Params: Static<typeof FacilityParams> }>('/facilities/:facilityId', {
    config: { permission: 'facility:read' },
    schema: {
      operationId: 'getFacility', tags, summary: 'Read a facility',
      params: FacilityParams,
      response: { 200: Facility, ...problems(400, 401, 403, 404, 503) },
    },
  }, async (req, reply) => sendVersioned(reply, await service.getFacility(req.ctx, req.params.facilityId)))

  app.patch<{ Params: Static<typeof FacilityParams>; Body: Static<typeof UpdateFacilityBodySchema> }>('/facilities/:facilityId', {
    config: { permission: 'facility:write' },
    schema: {
      operationId: 'updateFacility', tags, summary: 'Change a facility',
      params: FacilityParams, headers: IfMatchHeaders, body: UpdateFacilityBodySchema,
      response: { 200: Facility, ...problems(400, 401, 403, 404, 409, 412, 413, 415, 503) },
    },
  }, async (req, reply) => sendVersioned(reply, await service.updateFacility(req.ctx, req.params.facilityId, ifMatchVersion(req), req.body)))
}
