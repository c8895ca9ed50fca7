// The gateway's fault injector, counting what it decided: the demo reports the faults actually injected.
import { type ChargePlan, FaultInjector } from '../../apps/gateway/faults';

export type InjectedFaultCounts = {
  chargeRequests: number;
  /** 503 before anything was applied (random or tok_fail_5xx_N). */
  serverErrors: number;
  /** Applied and committed, then the answer held past the client's timeout. */
  heldAnswers: number;
  /** Applied and committed, then the connection destroyed without an answer. */
  droppedConnections: number;
  refundRequests: number;
  refundServerErrors: number;
};

export class CountingFaultInjector extends FaultInjector {
  readonly counts: InjectedFaultCounts = {
    chargeRequests: 0,
    serverErrors: 0,
    heldAnswers: 0,
    droppedConnections: 0,
    refundRequests: 0,
    refundServerErrors: 0,
  };

  override planCharge(paymentToken: string, attempt: number): ChargePlan {
    const plan = super.planCharge(paymentToken, attempt);
    this.counts.chargeRequests += 1;
    if (plan.serverError) this.counts.serverErrors += 1;
    else if (plan.after.kind === 'hang') this.counts.heldAnswers += 1;
    else if (plan.after.kind === 'drop') this.counts.droppedConnections += 1;
    return plan;
  }

  override refundServerError(): boolean {
    const fails = super.refundServerError();
    this.counts.refundRequests += 1;
    if (fails) this.counts.refundServerErrors += 1;
    return fails;
  }
}
