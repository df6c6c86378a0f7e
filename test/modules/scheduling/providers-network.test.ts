import { randomUUID } from 'node:crypto'
import t from 'tap'
import { bearer, buildTestApp } from '../../helpers/app.ts'
import { auditEventsFor, orgWithFacility } from '../../helpers/factories.ts'
import { addProvider } from './fixtures.ts'

const isoDay = (offsetDays: number) => new Date(Date.now() + offsetDays * 86_400_000).toISOString().slice(0, 10)

t.test('GET /providers?planId=&inNetwork=: providers by network status in an insurance plan', async (t) => {
  const ctx = await buildTestApp(t)
  const { app, db } = ctx
  const { organization, facility } = await orgWithFacility(db)
  const annex = await db.kysely.insertInto('facility').values({ organizationId: organization.id, name: `Annex ${randomUUID().slice(0, 6)}`, kind: 'clinic', timeZone: 'America/New_York' })
    .returningAll().executeTakeFirstOrThrow()
  const specialist = await ctx.token('eligibility_specialist', [facility.id])
  const scheduler = await ctx.token('scheduler', [facility.id], { sub: 'network-reader' })

  const payer = await app.inject({ method: 'POST', url: '/payers', headers: bearer(specialist), payload: { name: 'Lakeside Health', x12PayerId: `LAKE${randomUUID().slice(0, 6)}` } })
  const network = await app.inject({ method: 'POST', url: `/payers/${payer.json().id}/networks`, headers: bearer(specialist), payload: { name: 'Preferred' } })
  const plan = await app.inject({ method: 'POST', url: '/plans', headers: bearer(specialist), payload: { payerId: payer.json().id, networkId: network.json().id, name: 'Preferred PPO', planType: 'PPO' } })
  t.equal(plan.statusCode, 201, plan.body)
  const bare = await app.inject({ method: 'POST', url: '/plans', headers: bearer(specialist), payload: { payerId: payer.json().id, name: 'No network', planType: 'other' } })
  t.equal(bare.statusCode, 201, bare.body)

  const inNet = await addProvider(db, organization.id, [facility.id], 'Dr. Amy In')
  const lapsed = await addProvider(db, organization.id, [facility.id], 'Dr. Ben Lapsed')
  const outNet = await addProvider(db, organization.id, [facility.id], 'Dr. Cy Out')
  const notYet = await addProvider(db, organization.id, [facility.id], 'Dr. Di Future')
  const elsewhere = await addProvider(db, organization.id, [annex.id], 'Dr. Ed Annex')
  const participate = async (npi: string, effectiveFrom: string, effectiveTo?: string) => {
    const r = await app.inject({ method: 'PUT', url: `/networks/${network.json().id}/providers/${npi}`, headers: bearer(specialist), payload: { effectiveFrom, ...(effectiveTo ? { effectiveTo } : {}) } })
    t.equal(r.statusCode, 200, r.body)
  }
  await participate(inNet.npi, isoDay(-400))
  await participate(lapsed.npi, isoDay(-400), isoDay(-30))
  await participate(notYet.npi, isoDay(30))
  await participate(elsewhere.npi, isoDay(-400))
  const names = (r: { json: () => { items: { displayName: string }[] } }) => r.json().items.map((p) => p.displayName)

  await t.test('inNetwork=true lists providers whose NPI participates today; the default with planId is in network', async (t) => {
    const res = await app.inject({ url: `/providers?planId=${plan.json().id}&inNetwork=true`, headers: bearer(scheduler) })
    t.equal(res.statusCode, 200, res.body)
    t.same(names(res), ['Dr. Amy In'], 'lapsed and future participations do not count; the annex is outside the caller\'s facilities')
    t.match(res.json().items[0], { id: inNet.id, npi: inNet.npi, active: true, facilityIds: [facility.id] })
    t.same(names(await app.inject({ url: `/providers?planId=${plan.json().id}`, headers: bearer(scheduler) })), ['Dr. Amy In'])
    const both = await ctx.token('scheduler', [facility.id, annex.id])
    t.same(names(await app.inject({ url: `/providers?planId=${plan.json().id}`, headers: bearer(both) })), ['Dr. Amy In', 'Dr. Ed Annex'])
    t.same(names(await app.inject({ url: `/providers?planId=${plan.json().id}&facilityId=${annex.id}`, headers: bearer(both) })), ['Dr. Ed Annex'])
  })

  await t.test('inNetwork=false lists the others; a plan without a network has nobody in network', async (t) => {
    const res = await app.inject({ url: `/providers?planId=${plan.json().id}&inNetwork=false&facilityId=${facility.id}`, headers: bearer(scheduler) })
    t.equal(res.statusCode, 200, res.body)
    t.same(names(res), ['Dr. Ben Lapsed', 'Dr. Cy Out', 'Dr. Di Future'])
    t.same(names(await app.inject({ url: `/providers?planId=${bare.json().id}&inNetwork=true`, headers: bearer(scheduler) })), [])
    t.same(names(await app.inject({ url: `/providers?planId=${bare.json().id}&inNetwork=false`, headers: bearer(scheduler) })), ['Dr. Amy In', 'Dr. Ben Lapsed', 'Dr. Cy Out', 'Dr. Di Future'])
  })

  await t.test('it agrees with the plan\'s own network-providers list, which it reuses', async (t) => {
    const today = isoDay(0)
    const npis = await app.inject({ url: `/plans/${plan.json().id}/network-providers?date=${today}`, headers: bearer(specialist) })
    t.same(npis.json().items.map((p: { npi: string }) => p.npi).sort(), [inNet.npi, elsewhere.npi].sort())
  })

  await t.test('an unknown planId is a 404 problem; inNetwork without planId is 400', async (t) => {
    const unknown = await app.inject({ url: `/providers?planId=${randomUUID()}&inNetwork=true`, headers: bearer(scheduler) })
    t.equal(unknown.statusCode, 404)
    t.equal(unknown.headers['content-type'], 'application/problem+json; charset=utf-8')
    t.match(unknown.json(), { type: 'urn:patient-access:problem:not-found', detail: 'Plan not found' })
    const alone = await app.inject({ url: '/providers?inNetwork=true', headers: bearer(scheduler) })
    t.equal(alone.statusCode, 400)
    t.equal(alone.json().errors[0].pointer, 'inNetwork')
    t.equal((await app.inject({ url: `/providers?planId=${plan.json().id}&inNetwork=maybe`, headers: bearer(scheduler) })).statusCode, 400)
  })

  await t.test('the network search is paged by cursor and audited with the plan', async (t) => {
    const first = await app.inject({ url: `/providers?planId=${plan.json().id}&inNetwork=false&limit=2`, headers: bearer(scheduler) })
    t.same(names(first), ['Dr. Ben Lapsed', 'Dr. Cy Out'])
    const second = await app.inject({ url: `/providers?planId=${plan.json().id}&inNetwork=false&limit=2&cursor=${first.json().next}`, headers: bearer(scheduler) })
    t.same(names(second), ['Dr. Di Future'])
    t.equal(second.json().next, null)
    const audits = (await auditEventsFor(db, { verb: 'provider.search' })).filter((e) => e.actorSub === 'network-reader')
    t.ok(audits.length >= 5)
    t.match(audits[0], { action: 'read', detail: { planId: plan.json().id, inNetwork: true } })
  })
})
