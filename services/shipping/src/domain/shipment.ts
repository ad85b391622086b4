export type ShipmentStatus = "CREATED" | "DISPATCHED" | "CANCELLED";

export interface Address {
  recipient: string;
  line1: string;
  line2: string;
  city: string;
  postalCode: string;
  countryCode: string;
}

/**
 * The one shipment of an order. A cancel tombstone (an order cancelled before any shipment
 * was created) has no user, tracking number or address.
 */
export interface Shipment {
  id: string;
  orderId: string;
  userId: string | null;
  status: ShipmentStatus;
  trackingNumber: string | null;
  address: Address | null;
  createdAt: Date;
  updatedAt: Date;
}

export type NewShipment = Omit<Shipment, "createdAt" | "updatedAt">;

export function cancelTombstone(id: string, orderId: string): NewShipment {
  return { id, orderId, userId: null, status: "CANCELLED", trackingNumber: null, address: null };
}

export const isTombstone = (shipment: Shipment): boolean => shipment.userId === null;

const base32Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** Random bytes `trackingNumberFrom` needs: one per character. */
export const trackingNumberRandomBytes = 10;

/** `SHP-` and one base32 character per random byte (32 divides 256, so every character is equally likely). */
export function trackingNumberFrom(random: Uint8Array): string {
  if (random.length !== trackingNumberRandomBytes) throw new RangeError(`expected ${trackingNumberRandomBytes} random bytes`);
  return `SHP-${Array.from(random, (byte) => base32Alphabet[byte % 32]).join("")}`;
}

/** Why creating a shipment for an order that already has `shipment` is refused; undefined when the stored one is the answer. */
export function creationRefusal(shipment: Shipment): string | undefined {
  return shipment.status === "CANCELLED" ? `shipment for order ${shipment.orderId} was cancelled` : undefined;
}

export type ShipmentOperation = "cancel" | "dispatch";

export interface Transition {
  from: ShipmentStatus;
  to: ShipmentStatus;
  /** The status in which a repeat of the operation returns the shipment unchanged. */
  settledIn: ShipmentStatus;
}

export const transitions: Record<ShipmentOperation, Transition> = {
  cancel: { from: "CREATED", to: "CANCELLED", settledIn: "CANCELLED" },
  dispatch: { from: "CREATED", to: "DISPATCHED", settledIn: "DISPATCHED" },
};

/** Why `operation` cannot apply to `shipment`; undefined when it can or already did. */
export function operationRefusal(operation: ShipmentOperation, shipment: Shipment): string | undefined {
  const { from, settledIn } = transitions[operation];
  if (shipment.status === from || shipment.status === settledIn) return undefined;
  return shipment.status === "DISPATCHED"
    ? `shipment for order ${shipment.orderId} was already dispatched`
    : `shipment for order ${shipment.orderId} was cancelled`;
}
