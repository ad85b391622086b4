export type ReservationStatus = "RESERVED" | "RELEASED" | "COMMITTED";

export interface ReservationItem {
  productId: string;
  quantity: number;
}

/** Stock held for one order; the order id makes every operation on it idempotent. */
export interface Reservation {
  orderId: string;
  status: ReservationStatus;
  items: ReservationItem[];
}

export type ReservationAction = "reserve" | "release" | "commit";

/** A call that the reservation's current status does not allow. */
export class ReservationStateError extends Error {}

/** An item list that cannot be reserved as given; `field` names the offending request field. */
export class InvalidItemsError extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

/** What an action does to a reservation that already exists. */
export type Step = { kind: "apply"; to: ReservationStatus } | { kind: "unchanged" };

const unchanged: Step = { kind: "unchanged" };

/** A string is a refusal, completing "reservation for order <id> ...". */
const transitions: Record<ReservationStatus, Record<ReservationAction, Step | string>> = {
  RESERVED: { reserve: unchanged, release: { kind: "apply", to: "RELEASED" }, commit: { kind: "apply", to: "COMMITTED" } },
  RELEASED: { reserve: "was released", release: unchanged, commit: "was released and cannot be committed" },
  // A retried Reserve after Commit is answered, not refused.
  COMMITTED: { reserve: unchanged, release: "is committed and cannot be released", commit: unchanged },
};

/**
 * The state machine of a reservation: RESERVED moves once to RELEASED or COMMITTED, both
 * final; repeating the call that led to the current status changes nothing.
 */
export function stepFor(reservation: Pick<Reservation, "orderId" | "status">, action: ReservationAction): Step {
  const step = transitions[reservation.status][action];
  if (typeof step === "string") throw new ReservationStateError(`reservation for order ${reservation.orderId} ${step}`);
  return step;
}

/**
 * The items of a Reserve request in the order their stock rows are locked: sorted by
 * product id, so that concurrent reservations over the same products cannot deadlock.
 * Ids are compared lower-cased, as PostgreSQL compares uuids. A product listed twice is
 * refused rather than merged, since the caller's intent is unclear.
 */
export function itemsInLockOrder(items: readonly ReservationItem[]): ReservationItem[] {
  const firstIndex = new Map<string, number>();
  const normalized = items.map(({ productId, quantity }, index) => {
    const id = productId.toLowerCase();
    const earlier = firstIndex.get(id);
    if (earlier !== undefined) throw new InvalidItemsError(`items[${index}].productId`, `repeats the product of items[${earlier}]`);
    firstIndex.set(id, index);
    return { productId: id, quantity };
  });
  return normalized.sort((a, b) => (a.productId < b.productId ? -1 : a.productId > b.productId ? 1 : 0));
}
