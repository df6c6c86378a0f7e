import { randomUUID } from 'node:crypto'
import t from 'tap'
import { bearer, buildTestApp } from '../../helpers/app.ts'
import { createPatient } from '../../helpers/factories.ts'
import { addProvider, addResource, addType, clinic, localAt } from './fixtures.ts'

t.test('every scheduling list pages by cursor: limit, next, no repeats, null on the last page', async (t) => {
  const ctx = await buildTestApp(t)
  const { app, db } = ctx
  const c = await clinic(db)
  const scheduler = await ctx.token('scheduler', [c.facility.id])

  /** Walks every page of a list and returns the items in order, with the page sizes. */
  async function walk(url: string, limit: number) {
    const items: Record<string, unknown>[] = []
    const sizes: number[] = []
    let cursor: string | null = null
    do {
      const sep = url.includes('?') ? '&' : '?'
      const res = await app.inject({ url: `${url}${sep}limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`, headers: bearer(scheduler) })
      t.equal(res.statusCode, 200, res.body)
      const page = res.json() as { items: Record<string, unknown>[]; next: string | null }
      t.same(Object.keys(page).sort(), ['items', 'next'])
      items.push(...page.items)
      sizes.push(page.items.length)
      cursor = page.next
    } while (cursor && sizes.length < 50)
    return { items, sizes }
  }
  const ids = (items: Record<string, unknown>[]) => items.map((i) => i.id as string)

  await t.test('specialties, providers, resources and appointment types', async (t) => {
    const tag = randomUUID().slice(0, 6)
    for (const n of [1, 2, 3]) {
      await app.inject({ method: 'POST', url: '/specialties', headers: bearer(scheduler), payload: { code: `zz-${tag}-${n}`, name: `Zz ${tag} ${n}` } })
      await addProvider(db, c.organization.id, [c.facility.id], `Dr. Zz ${n}`)
      await addResource(db, c.facility.id, 'exam-room', `Room ${tag} ${n}`)
      await addType(db, c.organization.id)
    }
    const specialties = await walk('/specialties', 2)
    t.same(specialties.items.filter((s) => String(s.name).startsWith(`Zz ${tag}`)).map((s) => s.name), [1, 2, 3].map((n) => `Zz ${tag} ${n}`), 'by name, none repeated')
    t.equal(new Set(ids(specialties.items)).size, specialties.items.length)

    const providers = await walk(`/providers?facilityId=${c.facility.id}`, 2)
    t.same(providers.sizes, [2, 2])
    t.same(providers.items.map((p) => p.displayName), ['Dr. Ana Ruiz, MD', 'Dr. Zz 1', 'Dr. Zz 2', 'Dr. Zz 3'])

    const resources = await walk(`/facilities/${c.facility.id}/resources`, 3)
    t.same(resources.sizes, [3, 1])
    t.same(resources.items.map((r) => r.name), ['Exam 1', `Room ${tag} 1`, `Room ${tag} 2`, `Room ${tag} 3`])

    const types = await walk(`/appointment-types?organizationId=${c.organization.id}`, 1)
    t.same(types.sizes, [1, 1, 1, 1])
    t.equal(new Set(ids(types.items)).size, 4)
  })

  await t.test('availability rules, by weekday and start time', async (t) => {
    const rules = await walk(`/providers/${c.provider.id}/availability-rules?facilityId=${c.facility.id}`, 3)
    t.same(rules.sizes, [3, 3, 1])
    t.same(rules.items.map((r) => r.weekday), [1, 2, 3, 4, 5, 6, 7])
  })

  await t.test('slots (up to 500 a page) continue where the last page stopped', async (t) => {
    const window = `from=${encodeURIComponent(localAt('America/New_York', 2, '00:00'))}&to=${encodeURIComponent(localAt('America/New_York', 3, '00:00'))}`
    const url = `/slots?facilityId=${c.facility.id}&appointmentTypeId=${c.type.id}&${window}`
    const all = await app.inject({ url: `${url}&limit=500`, headers: bearer(scheduler) })
    t.equal(all.json().items.length, 20)
    t.equal(all.json().next, null)
    const paged = await walk(url, 7)
    t.same(paged.sizes, [7, 7, 6])
    t.same(paged.items, all.json().items, 'the pages together are the one-page answer')
  })

  await t.test('a patient\'s appointments, earliest first', async (t) => {
    const patient = await createPatient(db, c.facility.id)
    for (const [day, time] of [[4, '11:00'], [4, '09:00'], [5, '10:00']] as const) {
      const r = await app.inject({ method: 'POST', url: '/appointments', headers: bearer(scheduler), payload: {
        facilityId: c.facility.id, patientId: patient.id, providerId: c.provider.id, appointmentTypeId: c.type.id, start: localAt('America/New_York', day, time),
      } })
      t.equal(r.statusCode, 201, r.body)
    }
    const list = await walk(`/appointments?facilityId=${c.facility.id}&patientId=${patient.id}`, 2)
    t.same(list.sizes, [2, 1])
    t.same(list.items.map((a) => a.start), [localAt('America/New_York', 4, '09:00'), localAt('America/New_York', 4, '11:00'), localAt('America/New_York', 5, '10:00')])
  })

  await t.test('waitlist matches, first come first', async (t) => {
    const waiting: string[] = []
    for (let i = 0; i < 3; i++) {
      const patient = await createPatient(db, c.facility.id)
      const r = await app.inject({ method: 'POST', url: '/waitlist', headers: bearer(scheduler), payload: {
        facilityId: c.facility.id, patientId: patient.id, appointmentTypeId: c.type.id, providerId: c.provider.id,
        earliestDate: localAt('America/New_York', 7, '00:00').slice(0, 10), latestDate: localAt('America/New_York', 8, '00:00').slice(0, 10),
      } })
      waiting.push(r.json().id)
    }
    const matches = await walk(`/waitlist/matches?facilityId=${c.facility.id}`, 2)
    t.same(matches.sizes, [2, 1])
    t.same(matches.items.map((m) => (m.entry as { id: string }).id), waiting)
  })

  await t.test('a cursor this API did not issue, or a page too large, is 400', async (t) => {
    for (const url of [`/providers?facilityId=${c.facility.id}&cursor=Zm9v`, `/specialties?limit=101`, `/waitlist/matches?facilityId=${c.facility.id}&cursor=Zm9v`,
      `/providers/${c.provider.id}/availability-rules?facilityId=${c.facility.id}&cursor=${Buffer.from('[1,"09:00"]').toString('base64url')}`]) {
      const res = await app.inject({ url, headers: bearer(scheduler) })
      t.equal(res.statusCode, 400, url)
      t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
    }
  })
})
