import t from 'tap'
import { ConflictError, ProblemError } from '../../src/http/errors.ts'

t.test('a 4xx problem captures no stack; a 5xx keeps its stack for the log; other errors are untouched', async (t) => {
  const limit = Error.stackTraceLimit
  const answer = new ConflictError('slot-unavailable', 'That time is no longer free')
  t.equal(answer.status, 409)
  t.equal(answer.message, 'That time is no longer free')
  t.notMatch(answer.stack ?? '', /\n\s+at /, 'no frames')
  const fault = new ProblemError(503, 'unavailable', 'Service Unavailable', 'The database is unavailable', {}, { 'retry-after': '5' })
  t.match(fault.stack ?? '', /\n\s+at /, 'frames')
  t.same(fault.headers, { 'retry-after': '5' })
  t.equal(Error.stackTraceLimit, limit, 'the limit is restored')
  t.match(new Error('other').stack ?? '', /\n\s+at /)
})
