import type { FastifyPluginAsync } from 'fastify'
import { roiAttachmentRoutes } from './roi-attachment.routes.ts'
import { roiDisclosureRoutes } from './roi-disclosure.routes.ts'
import { roiFeeRoutes } from './roi-fee.routes.ts'
import { roiRequestRoutes } from './roi-request.routes.ts'
import {
  AttachmentSchema,
  AuthorizationSchema,
  DenialSchema,
  DisclosureSchema,
  FeeScheduleSchema,
  InvoiceSchema,
  ReleaseSchema,
  RoiRequestSchema,
  StatusChangeSchema,
} from './roi.schemas.ts'

/** Release of information: HIPAA 164.524 access, 164.508 authorizations, 164.528 accounting. */
export const roiRoutes: FastifyPluginAsync = async (app) => {
  for (const schema of [RoiRequestSchema, StatusChangeSchema, DenialSchema, AuthorizationSchema, AttachmentSchema, FeeScheduleSchema, InvoiceSchema, ReleaseSchema, DisclosureSchema]) {
    app.addSchema(schema)
  }
  await app.register(roiRequestRoutes)
  await app.register(roiAttachmentRoutes)
  await app.register(roiFeeRoutes)
  await app.register(roiDisclosureRoutes)
}
