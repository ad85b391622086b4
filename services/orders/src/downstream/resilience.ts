import type { Interceptor } from "@connectrpc/connect";
import { Code, ConnectError, isDependencyFailure } from "@shop/runtime";
import { BrokenCircuitError, BulkheadRejectedError, bulkhead, ConsecutiveBreaker, circuitBreaker, handleWhen, wrap } from "cockatiel";

export interface ResilienceOptions {
  /** Calls in flight to the downstream at once; more wait in the queue. */
  maxConcurrentCalls: number;
  maxQueuedCalls: number;
  /** Consecutive unavailable/timed-out calls that open the circuit. */
  breakerThreshold: number;
  /** How long an open circuit fails fast before letting a trial call through. */
  breakerHalfOpenAfterMs: number;
}

// Only these say the downstream itself is unwell; business answers (NOT_FOUND, FAILED_PRECONDITION)
// do not, nor does a healthy downstream reporting that its own dependency failed for a moment.
const signalsOutage = (err: unknown) =>
  err instanceof ConnectError && (err.code === Code.Unavailable || err.code === Code.DeadlineExceeded) && !isDependencyFailure(err);

/**
 * A bulkhead and a circuit breaker around every call to one downstream, so a slow or
 * failing service neither takes all of this one's resources nor gets hammered while down.
 * Rejections surface as transient codes (UNAVAILABLE, RESOURCE_EXHAUSTED), which the
 * caller's retry policy already knows how to treat.
 */
export function resilienceInterceptor(downstream: string, options: ResilienceOptions): Interceptor {
  const policy = wrap(
    bulkhead(options.maxConcurrentCalls, options.maxQueuedCalls),
    circuitBreaker(handleWhen(signalsOutage), {
      halfOpenAfter: options.breakerHalfOpenAfterMs,
      breaker: new ConsecutiveBreaker(options.breakerThreshold),
    }),
  );
  return (next) => async (req) => {
    try {
      return await policy.execute(() => next(req), req.signal);
    } catch (err) {
      if (err instanceof BrokenCircuitError) {
        throw new ConnectError(`${downstream} is failing; circuit open`, Code.Unavailable, undefined, undefined, err);
      }
      if (err instanceof BulkheadRejectedError) {
        throw new ConnectError(`too many calls waiting for ${downstream}`, Code.ResourceExhausted, undefined, undefined, err);
      }
      throw err;
    }
  };
}
