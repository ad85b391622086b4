/** How many failed sign-ins an account takes in a window before it is refused until the window ends. */
export interface SignInThrottleRules {
  maxFailures: number;
  windowMs: number;
}

export const defaultSignInThrottle: SignInThrottleRules = { maxFailures: 5, windowMs: 60_000 };

/** The failed sign-ins of one account in its current window. */
export interface SignInFailures {
  failures: number;
  windowStartedAt: Date;
}

export type SignInDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/**
 * Whether an account may try a password now. Refused accounts are refused before any password
 * work, so guessing is capped per account whatever the number of clients guessing.
 */
export function signInDecision(recorded: SignInFailures | undefined, now: Date, rules: SignInThrottleRules): SignInDecision {
  if (!recorded || recorded.failures < rules.maxFailures) return { allowed: true };
  const windowEndsAt = recorded.windowStartedAt.getTime() + rules.windowMs;
  if (windowEndsAt <= now.getTime()) return { allowed: true };
  return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((windowEndsAt - now.getTime()) / 1000)) };
}
