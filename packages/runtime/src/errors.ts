import { Code, ConnectError } from "@connectrpc/connect";

export { Code, ConnectError };

/**
 * The one error vocabulary of the shop. Handlers throw these ConnectErrors; the gRPC
 * server carries the code, message and details over the wire, and the gateway maps
 * the code to HTTP with `httpStatusOf`.
 */
export const errors = {
  invalidArgument: (field: string, message: string) => new ConnectError(`${field}: ${message}`, Code.InvalidArgument),
  notFound: (what: string, id: string) => new ConnectError(`${what} ${id} not found`, Code.NotFound),
  alreadyExists: (message: string) => new ConnectError(message, Code.AlreadyExists),
  failedPrecondition: (message: string) => new ConnectError(message, Code.FailedPrecondition),
  permissionDenied: (message = "permission denied") => new ConnectError(message, Code.PermissionDenied),
  unauthenticated: (message = "authentication required") => new ConnectError(message, Code.Unauthenticated),
  unavailable: (message: string) => new ConnectError(message, Code.Unavailable),
  resourceExhausted: (message: string) => new ConnectError(message, Code.ResourceExhausted),
  aborted: (message: string) => new ConnectError(message, Code.Aborted),
  internal: (message = "internal error") => new ConnectError(message, Code.Internal),
};

/** Metadata of the refusal of an Idempotency-Key reused for another request: the gateway answers it 422 on every path. */
export const idempotencyConflictKey = "x-shop-idempotency-conflict";

/** INVALID_ARGUMENT naming Idempotency-Key: the key was used before for a different request. */
export function idempotencyKeyReused(what: string): ConnectError {
  return new ConnectError(`Idempotency-Key: already used for a different ${what}`, Code.InvalidArgument, {
    [idempotencyConflictKey]: "different-request",
  });
}

export const isIdempotencyConflict = (err: unknown): boolean =>
  err instanceof ConnectError && err.metadata.get(idempotencyConflictKey) !== null;

/**
 * Metadata of an UNAVAILABLE answer from a service that is itself healthy while something it
 * depends on failed for a moment (the payment provider): callers retry it, but their circuit
 * breakers must not count it as the service being down.
 */
export const dependencyFailureKey = "x-shop-dependency-failure";

/** UNAVAILABLE because of a dependency of the answering service, not the service itself. */
export function dependencyUnavailable(message: string): ConnectError {
  return new ConnectError(message, Code.Unavailable, { [dependencyFailureKey]: "true" });
}

export function isDependencyFailure(err: unknown): boolean {
  return err instanceof ConnectError && err.metadata.get(dependencyFailureKey) === "true";
}

/** `invalid_argument` style names, as used in REST error bodies. */
export function codeName(code: Code): string {
  return Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}

const httpStatusByCode: Record<Code, number> = {
  [Code.Canceled]: 499,
  [Code.Unknown]: 500,
  [Code.InvalidArgument]: 400,
  [Code.DeadlineExceeded]: 504,
  [Code.NotFound]: 404,
  [Code.AlreadyExists]: 409,
  [Code.PermissionDenied]: 403,
  [Code.ResourceExhausted]: 429,
  [Code.FailedPrecondition]: 412,
  [Code.Aborted]: 409,
  [Code.OutOfRange]: 400,
  [Code.Unimplemented]: 501,
  [Code.Internal]: 500,
  [Code.Unavailable]: 503,
  [Code.DataLoss]: 500,
  [Code.Unauthenticated]: 401,
};

export function httpStatusOf(code: Code): number {
  return httpStatusByCode[code] ?? 500;
}

/** Codes worth retrying: the call did not take effect or may succeed later. */
export const transientCodes: ReadonlySet<Code> = new Set([Code.Unavailable, Code.ResourceExhausted, Code.Aborted, Code.DeadlineExceeded]);

export function isTransient(err: unknown): boolean {
  return err instanceof ConnectError && transientCodes.has(err.code);
}

/**
 * Errors a client may see. Anything that is not already a ConnectError (a bug, a driver
 * error with SQL in it) becomes a bare INTERNAL so no internals leak; the caller logs
 * the original.
 */
export function publicError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  return errors.internal();
}
