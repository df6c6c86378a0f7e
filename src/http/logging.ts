import type { FastifyServerOptions } from 'fastify'
import type { Config } from '../config.ts'

/**
 * Field names that can carry PHI or secrets. Bodies are never logged at all; these paths catch
 * anything a handler might pass to the logger by mistake.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'authorization',
  'token',
  '*.token',
  ...['name', 'firstName', 'lastName', 'givenName', 'familyName', 'birthDate', 'dateOfBirth', 'ssn', 'phone', 'phones', 'email', 'address', 'mrn', 'memberId'].flatMap((f) => [f, `*.${f}`]),
]

export function loggerOptions(config: Config, stream?: NodeJS.WritableStream): FastifyServerOptions['logger'] {
  return {
    level: config.LOG_LEVEL,
    ...(stream ? { stream } : {}),
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: {
      // Only the path: query strings carry search terms (names, birth dates, MRNs).
      req: (req) => ({ method: req.method, path: req.url.split('?')[0], requestId: req.id }),
      res: (res) => ({ statusCode: res.statusCode }),
    },
  }
}
