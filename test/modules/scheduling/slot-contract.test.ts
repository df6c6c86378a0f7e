import t from 'tap'
import { Ajv2020 } from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import { slotPageJson, type Slot } from '../../../src/modules/scheduling/slots.service.ts'
import { bearer, buildTestApp } from '../../helpers/app.ts'
import { addDailyAvailability, addProvider, addResource, addType, clinic, localAt } from './fixtures.ts'

/**
 * GET /slots writes its pages with slotPageJson and its problems with JSON.stringify (the route
 * says why), not through the response schemas: this checks that what it writes is exactly the
 * documented SlotPage and Problem, and the text JSON.stringify writes for them.
 */
t.test('a slot page is the documented SlotPage, written as JSON.stringify writes it', async (t) => {
  const ctx = await buildTestApp(t)
  const { app, db } = ctx
  const c = await clinic(db)
  const scheduler = await ctx.token('scheduler', [c.facility.id])
  // Names that need escaping, a character outside the BMP; two rooms and equipment, so slots differ in what they reserve.
  const awkward = await addProvider(db, c.organization.id, [c.facility.id], 'Dr. "Zoë" O\'Neil \\ 𝄞 Ünal')
  await addDailyAvailability(db, awkward.id, c.facility.id, '09:00', '12:00')
  const exam2 = await addResource(db, c.facility.id, 'exam-room', 'Exam 2')
  const scanner = await addResource(db, c.facility.id, 'equipment', 'Scanner 1')
  const scanner2 = await addResource(db, c.facility.id, 'equipment', 'Scanner 2')
  const type = await addType(db, c.organization.id, { resourceKinds: ['exam-room', 'equipment'], durationMinutes: 45 })
  // Exam 1 and Scanner 1 taken 08:45-09:30: the other provider's 09:00 gets the other two.
  const booked = await app.inject({
    method: 'POST', url: '/appointments', headers: bearer(scheduler),
    payload: { facilityId: c.facility.id, patientId: c.patient.id, providerId: c.provider.id, appointmentTypeId: type.id, start: localAt('America/New_York', 2, '08:45') },
  })
  t.equal(booked.statusCode, 201, booked.body)
  t.same(booked.json().resources.map((r: { id: string }) => r.id), [c.room.id, scanner.id])

  const doc = app.swagger() as unknown as { paths: Record<string, Record<string, { responses: Record<string, { content: Record<string, { schema: object }> }> }>>; components: object }
  const ajv = addFormats.default(new Ajv2020({ strict: false, allErrors: true }))
  const responses = doc.paths['/slots'].get.responses
  const validatePage = ajv.compile({ ...responses['200'].content['application/json'].schema, components: doc.components })
  const validateProblem = ajv.compile({ ...responses['404'].content['application/problem+json'].schema, components: doc.components })

  const window = `from=${encodeURIComponent(localAt('America/New_York', 2, '00:00'))}&to=${encodeURIComponent(localAt('America/New_York', 4, '00:00'))}`
  const base = `/slots?facilityId=${c.facility.id}&appointmentTypeId=${type.id}&providerId=${c.provider.id}&providerId=${awkward.id}&${window}`
  let url = `${base}&limit=7`
  const seen: Slot[] = []
  for (let page = 0; page < 20; page++) {
    const res = await app.inject({ url, headers: bearer(scheduler) })
    t.equal(res.statusCode, 200, res.body)
    const body = res.json()
    if (!validatePage(body)) t.fail(JSON.stringify(validatePage.errors))
    t.equal(res.body, JSON.stringify(body), `page ${page + 1}: the text JSON.stringify writes`)
    seen.push(...body.items)
    if (!body.next) break
    url = `${base}&limit=7&cursor=${body.next}`
  }
  t.equal(seen.length, 2 * (13 + 4) - 1, 'two days of both providers (45 minutes: 13 in 08:00-18:00, 4 in 09:00-12:00), less the booked one')
  t.ok(seen.some((s) => s.providerName === 'Dr. "Zoë" O\'Neil \\ 𝄞 Ünal'), 'the awkward name comes back as stored')
  t.same(seen.find((s) => s.providerId === awkward.id && s.start === localAt('America/New_York', 2, '09:00'))?.resourceIds, [exam2.id, scanner2.id], 'the free room and equipment')
  t.same(seen.find((s) => s.providerId === awkward.id && s.start === localAt('America/New_York', 2, '09:45'))?.resourceIds, [c.room.id, scanner.id], 'the first of each, once free')

  const whole = await app.inject({ url: `${base}&limit=500`, headers: bearer(scheduler) })
  t.same(whole.json().items, seen, 'paging through gives the page of everything')
  t.equal(whole.json().next, null)

  for (const [what, problemUrl, status] of [
    ['an unknown facility', base.replace(`facilityId=${c.facility.id}`, 'facilityId=5e0c3d8a-0000-4a6b-9c1d-000000000000'), 404],
    ['a window the wrong way round', `/slots?facilityId=${c.facility.id}&appointmentTypeId=${type.id}&from=${encodeURIComponent(localAt('America/New_York', 4, '00:00'))}&to=${encodeURIComponent(localAt('America/New_York', 2, '00:00'))}`, 400],
    ['a cursor this API did not issue', `${base}&cursor=bm9wZQ`, 400],
    ['a query that fails validation', `/slots?facilityId=nope&appointmentTypeId=${type.id}&${window}`, 400],
  ] as const) {
    const res = await app.inject({ url: problemUrl, headers: bearer(scheduler) })
    t.equal(res.statusCode, status, `${what}: ${res.body}`)
    t.match(res.headers['content-type'], /^application\/problem\+json/, what)
    if (!validateProblem(res.json())) t.fail(`${what}: ${JSON.stringify(validateProblem.errors)}`)
    t.equal(res.body, JSON.stringify(res.json()), `${what}: the text JSON.stringify writes`)
  }
})

t.test('slotPageJson writes what JSON.stringify writes, whatever the strings and however slots differ', async (t) => {
  const slot = (o: Partial<Slot> = {}): Slot => ({
    status: 'free', start: '2027-03-14T01:30:00-05:00', end: '2027-03-14T03:00:00-04:00', providerId: 'p1', providerName: 'Dr. A',
    facilityId: 'f1', appointmentTypeId: 't1', resourceIds: [], ...o,
  })
  const pages: { items: Slot[]; next: string | null }[] = [
    { items: [], next: null },
    { items: [], next: 'WzEsImEiLCJiIl0' },
    { items: [slot()], next: null },
    { items: [slot(), slot({ start: '2027-03-14T03:00:00-04:00', end: '2027-03-14T03:30:00-04:00' }), slot({ resourceIds: ['r1'] }), slot({ resourceIds: ['r1', 'r2'] }), slot({ resourceIds: ['r2', 'r1'] })], next: 'x' },
    { items: [slot({ providerName: 'quote " backslash \\ tab \t newline \n nul \u0000 bell \u0007' }), slot({ providerName: 'lone \ud800 surrogate, pair 😀, line sep \u2028' })], next: null },
    { items: [slot({ providerId: 'p2' }), slot({ facilityId: 'f2' }), slot({ appointmentTypeId: 't2' }), slot({ start: 'a "start"', end: 'an \\ end' }), slot({ start: 'a "start"', end: 'an \\ end' })], next: null },
  ]
  for (const [i, page] of pages.entries()) t.equal(slotPageJson(page), JSON.stringify(page), `page ${i}`)
  // Written again, the same texts come from what was kept: still the same.
  for (const [i, page] of pages.entries()) t.equal(slotPageJson(page), JSON.stringify(page), `page ${i}, again`)
})
