/** Why a gateway gave no usable 271: mapped to 504 (timeout) or 502 (the others). */
export type GatewayFault = 'timeout' | 'unavailable' | 'bad-response'

export class GatewayError extends Error {
  constructor(readonly fault: GatewayFault, message: string) {
    super(message)
  }
}

/** A clearinghouse connection: one 270 in, one 271 out. Chosen by ELIGIBILITY_GATEWAY. */
export interface EligibilityGateway {
  readonly name: 'sandbox' | 'http'
  /** Usage indicator the 270's ISA15 carries: T for the sandbox, P for a real clearinghouse. */
  readonly usage: 'P' | 'T'
  readonly receiverId: string
  /** Sends the 270; must give up with GatewayError('timeout') when `signal` aborts. */
  exchange(request270: string, signal: AbortSignal): Promise<string>
}
