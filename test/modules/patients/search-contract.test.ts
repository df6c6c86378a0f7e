import t from 'tap'
import { Ajv2020 } from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import { CreatePatientBodySchema } from '../../../src/modules/patients/patient.schemas.ts'
import { bearer, buildTestApp } from '../../helpers/app.ts'
import { orgWithFacility } from '../../helpers/factories.ts'

/**
 * GET /patients writes its page with JSON.stringify (patient.routes.ts says why), not through the
 * response schema: this checks that what it writes is exactly the documented PatientPage, for
 * full patients (every demographic field set, SSN masked and in full) and restricted ones.
 */
t.test('a search page matches its documented schema field for field', async (t) => {
  const ctx = await buildTestApp(t)
  const { app, db } = ctx
  const { facility } = await orgWithFacility(db, { timeZone: 'UTC' })
  const desk = await ctx.token('front_desk', [facility.id], { sub: 'desk-1' })
  const roi = await ctx.token('roi_specialist', [facility.id], { sub: 'roi-1' })

  const example = (CreatePatientBodySchema as { examples: Record<string, unknown>[] }).examples[0]
  const ids: string[] = []
  for (const [familyName, givenNames] of [['Contractson', 'Alma'], ['Contractson', 'Bert']]) {
    const res = await app.inject({
      method: 'POST', url: '/patients', headers: bearer(desk),
      payload: { ...example, facilityId: facility.id, familyName, givenNames, duplicateOverride: { reason: 'Twins for a test' } },
    })
    t.equal(res.statusCode, 201, res.body)
    ids.push(res.json().id)
  }
  await db.kysely.updateTable('patient').set({ restriction: 'vip' }).where('id', '=', ids[1]).execute()

  const doc = app.swagger() as unknown as { paths: Record<string, Record<string, { responses: Record<string, { content: Record<string, { schema: object }> }> }>>; components: object }
  const ajv = addFormats.default(new Ajv2020({ strict: false, allErrors: true }))
  const validate = ajv.compile({ ...doc.paths['/patients'].get.responses['200'].content['application/json'].schema, components: doc.components })

  for (const [who, token] of [['front desk (SSN masked)', desk], ['ROI specialist (SSN in full)', roi]] as const) {
    const res = await app.inject({ url: '/patients?name=Contractson', headers: bearer(token) })
    t.equal(res.statusCode, 200, who)
    const page = res.json()
    t.ok(validate(page), `${who}: ${JSON.stringify(validate.errors)}`)
    t.same(page.items.map((i: { id: string }) => i.id).sort(), [...ids].sort(), `${who}: both patients found`)
    const full = page.items.find((i: { id: string }) => i.id === ids[0])
    const single = await app.inject({ url: `/patients/${ids[0]}`, headers: bearer(token) })
    t.strictSame(full, single.json(), `${who}: a search item is the same object as the single read (serialised through the schema)`)
    t.strictSame(page.items.find((i: { id: string }) => i.id === ids[1]), { id: ids[1], restricted: true }, `${who}: a restricted item is its id alone`)
  }
})
