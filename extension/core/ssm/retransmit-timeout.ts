/**
 * The adaptive retransmission timeout of the data channel, with the constants AWS's clients use:
 * it starts at 200 ms and then follows the smoothed round-trip time (gain 1/8) plus four times
 * its variance (gain 1/4, at least 10 ms), capped at 1 s. Only messages sent once give samples
 * (Karn's rule), so a resend's late ack does not shrink the timeout.
 *
 * One deviation: the timeout never falls below MIN_RTO_MS (200 ms, TCP's usual floor). AWS's
 * clients let it fall to the round trip + 10 ms; over a WebSocket (itself on TCP) nothing is lost
 * except at a reconnect, so a timeout of 20 ms only sends copies whenever the other side's event
 * loop stalls for a moment, which on a busy machine is often.
 */
export const INITIAL_RTO_MS = 200;
export const MAX_RTO_MS = 1000;
export const MIN_RTO_MS = 200;
const MIN_VARIANCE_TERM_MS = 10;
const ALPHA = 1 / 8;
const BETA = 1 / 4;

export class RetransmitTimeout {
  private srtt: number | null = null;
  private rttvar = 0;
  private rto = INITIAL_RTO_MS;

  get ms(): number {
    return this.rto;
  }

  get smoothedRtt(): number | null {
    return this.srtt;
  }

  sample(rttMs: number): void {
    const r = Math.max(0, rttMs);
    if (this.srtt === null) {
      this.srtt = r;
      this.rttvar = r / 2;
    } else {
      this.rttvar = (1 - BETA) * this.rttvar + BETA * Math.abs(this.srtt - r);
      this.srtt = (1 - ALPHA) * this.srtt + ALPHA * r;
    }
    this.rto = Math.min(MAX_RTO_MS, Math.max(MIN_RTO_MS, this.srtt + Math.max(MIN_VARIANCE_TERM_MS, 4 * this.rttvar)));
  }
}
