import { GatewayError, type EligibilityGateway } from './gateway.ts'

export interface HttpGatewayOptions {
  url: string
  receiverId: string
  maxResponseBytes: number
}

/**
 * X12 over HTTP: POSTs the 270 as application/EDI-X12 and takes the 271 from the response
 * body, read up to maxResponseBytes (a larger answer is refused, not buffered).
 */
export function httpGateway(opts: HttpGatewayOptions): EligibilityGateway {
  return {
    name: 'http',
    usage: 'P',
    receiverId: opts.receiverId,
    async exchange(request270, signal) {
      try {
        const res = await fetch(opts.url, {
          method: 'POST',
          headers: { 'content-type': 'application/EDI-X12', accept: 'application/EDI-X12' },
          body: request270,
          signal,
          redirect: 'error',
        })
        if (!res.ok) {
          await res.body?.cancel()
          throw new GatewayError('unavailable', `The clearinghouse answered HTTP ${res.status}`)
        }
        return await readLimited(res, opts.maxResponseBytes)
      } catch (err) {
        if (err instanceof GatewayError) throw err
        if (signal.aborted) throw new GatewayError('timeout', 'The clearinghouse did not answer in time')
        throw new GatewayError('unavailable', 'The clearinghouse could not be reached')
      }
    },
  }
}

async function readLimited(res: Response, max: number): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? '0')
  if (declared > max) {
    await res.body?.cancel()
    throw new GatewayError('bad-response', 'The 271 is larger than the configured limit')
  }
  if (!res.body) return ''
  const reader = res.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > max) {
      await reader.cancel()
      throw new GatewayError('bad-response', 'The 271 is larger than the configured limit')
    }
    chunks.push(value)
  }
  return Buffer.concat(chunks).toString('utf8')
}
