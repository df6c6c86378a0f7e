import t from 'tap'
import { sql } from 'kysely'
import { busySpans } from '../../../src/modules/scheduling/scheduling.repository.ts'
import { spanIndex } from '../../../src/modules/scheduling/slots.service.ts'
import { buildTestApp } from '../../helpers/app.ts'
import { addResource, clinic } from './fixtures.ts'

const ms = (iso: string) => Date.parse(iso)

t.test('busy time: live reservations overlapping the window, bounds widened to whole milliseconds', async (t) => {
  const { db } = await buildTestApp(t)
  const c = await clinic(db)
  const room = await addResource(db, c.facility.id, 'exam-room', 'Exam 9')
  const appointment = async (start: string, end: string, overbook = false) =>
    (await db.kysely.insertInto('appointment').values({
      facilityId: c.facility.id, patientId: c.patient.id, providerId: c.provider.id, appointmentTypeId: c.type.id, startAt: start, endAt: end,
      overbooked: overbook, overbookReason: overbook ? 'test' : null, createdBy: 'test',
    } as never).returning('id').executeTakeFirstOrThrow()).id
  const hold = async (start: string, end: string, expiresAt: string) =>
    (await db.kysely.insertInto('slotHold').values({
      facilityId: c.facility.id, providerId: c.provider.id, appointmentTypeId: c.type.id, startAt: start, endAt: end, expiresAt, createdBy: 'test',
    } as never).returning('id').executeTakeFirstOrThrow()).id
  // Reservations straight into the table: bounds the API never writes (microseconds, before 2000).
  const reserve = async (owner: { providerId: string } | { resourceId: string }, start: string, end: string, o: { overbook?: boolean; holdExpiresAt?: string } = {}) => {
    const holdId = o.holdExpiresAt ? await hold(start, end, o.holdExpiresAt) : null
    const appointmentId = holdId ? null : await appointment(start, end, o.overbook)
    await sql`INSERT INTO reservation (provider_id, resource_id, period, appointment_id, hold_id, expires_at, overbook)
      VALUES (${'providerId' in owner ? owner.providerId : null}, ${'resourceId' in owner ? owner.resourceId : null}, tstzrange(${start}::timestamptz, ${end}::timestamptz, '[)'),
              ${appointmentId}, ${holdId}, ${o.holdExpiresAt ?? null}::timestamptz, ${o.overbook ?? false})`.execute(db.kysely)
  }
  const provider = { providerId: c.provider.id }
  const resource = { resourceId: room.id }
  await reserve(provider, '2027-05-09T23:00:00Z', '2027-05-10T00:30:00Z') // across the window's start
  await reserve(provider, '2027-05-10T10:00:00.000500Z', '2027-05-10T10:29:59.999500Z')
  await reserve(provider, '2027-05-10T10:15:00Z', '2027-05-10T10:45:00Z', { overbook: true })
  await reserve(provider, '2027-05-10T12:00:00Z', '2027-05-10T12:30:00Z', { holdExpiresAt: '2099-01-01T00:00:00Z' })
  await reserve(provider, '2027-05-10T13:00:00Z', '2027-05-10T13:30:00Z', { holdExpiresAt: '2020-01-01T00:00:00Z' }) // expired
  await reserve(provider, '2027-05-10T23:59:59.999Z', '2027-05-11T01:00:00Z') // across the window's end
  await reserve(resource, '2027-05-09T22:00:00Z', '2027-05-10T00:00:00Z') // ends where the window starts
  await reserve(resource, '2027-05-11T00:00:00Z', '2027-05-11T01:00:00Z') // starts where it ends
  await reserve(resource, '2027-05-08T11:00:00Z', '2027-05-10T00:00:00.001Z', { overbook: true }) // started a day and a half before
  await reserve(provider, '1999-12-31T23:59:59.999999Z', '2000-01-01T00:00:00.000001Z') // before 2000: negative microseconds

  const busy = await busySpans(db.kysely, [c.provider.id], [room.id, c.room.id], new Date('2027-05-10T00:00:00Z'), new Date('2027-05-11T00:00:00Z'))
  t.same(busy.get(c.provider.id), [
    ms('2027-05-09T23:00:00Z'), ms('2027-05-10T00:30:00Z'),
    ms('2027-05-10T10:00:00.000Z'), ms('2027-05-10T10:30:00.000Z'),
    ms('2027-05-10T10:15:00Z'), ms('2027-05-10T10:45:00Z'),
    ms('2027-05-10T12:00:00Z'), ms('2027-05-10T12:30:00Z'),
    ms('2027-05-10T23:59:59.999Z'), ms('2027-05-11T01:00:00Z'),
  ], 'the provider: start order, widened, overbooked and held time in, expired hold and other windows out')
  t.same(busy.get(room.id), [ms('2027-05-08T11:00:00Z'), ms('2027-05-10T00:00:00.001Z')], 'the room: only what overlaps')
  t.same(busy.get(c.room.id), [], 'an owner with nothing: no spans')

  const y2k = await busySpans(db.kysely, [c.provider.id], [], new Date('1999-12-31T23:00:00Z'), new Date('2000-01-01T01:00:00Z'))
  t.same(y2k.get(c.provider.id), [ms('1999-12-31T23:59:59.999Z'), ms('2000-01-01T00:00:00.001Z')], 'before 2000, widened the same way')

  const none = await busySpans(db.kysely, [], [], new Date('2027-05-10T00:00:00Z'), new Date('2027-05-11T00:00:00Z'))
  t.equal(none.size, 0, 'no owners, no busy time')
})

t.test('spanIndex: overlap with the union of spans given in any order', async (t) => {
  const flat = [50, 60, 10, 20, 15, 30, 30, 35, 70, 71, 5, 6]
  const busy = spanIndex(flat)
  const naive = (start: number, end: number) => {
    for (let i = 0; i < flat.length; i += 2) if (flat[i] < end && flat[i + 1] > start) return true
    return false
  }
  for (let start = 0; start < 80; start++) {
    for (let end = start + 1; end <= 81; end++) if (busy(start, end) !== naive(start, end)) t.fail(`[${start}, ${end})`)
  }
  t.equal(spanIndex([])(0, 100), false, 'nothing busy')
  t.equal(spanIndex()(0, 100), false, 'no spans given')
  t.equal(busy(35, 50), false, 'between spans')
  t.equal(busy(34, 51), true, 'touching both ends')
})
