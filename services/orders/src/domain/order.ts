/** Amounts in integer minor units, so no rounding ever happens. */
export interface Money {
  currency: string;
  amountMinor: bigint;
}

export type OrderStatus = "PENDING" | "CONFIRMED" | "CANCELLED";

/** Why an order ended without a sale; the vocabulary of `Order.cancellation_reason` in the contract. */
export type CancellationReason =
  | "PAYMENT_DECLINED"
  | "INSUFFICIENT_STOCK"
  | "PRODUCT_UNAVAILABLE"
  | "PAYMENT_FAILED"
  | "SHIPPING_FAILED"
  | "CUSTOMER_REQUESTED";

export interface ShippingAddress {
  recipient: string;
  line1: string;
  line2: string;
  city: string;
  postalCode: string;
  countryCode: string;
}

/** One line of an order; name and prices are the catalog snapshot, absent until the order is priced. */
export interface OrderLine {
  productId: string;
  quantity: number;
  name: string;
  unitPrice: Money | null;
  lineTotal: Money | null;
}

/** An order as clients see it. */
export interface OrderView {
  id: string;
  userId: string;
  status: OrderStatus;
  items: OrderLine[];
  /** Null while the items are being priced. */
  total: Money | null;
  /** Empty unless CANCELLED. */
  cancellationReason: CancellationReason | "";
  shippingAddress: ShippingAddress | null;
  createTime: Date;
  updateTime: Date;
}

/** An order as the orders service stores it. */
export interface Order extends OrderView {
  shippingAddress: ShippingAddress;
  paymentToken: string;
}

export interface RequestedItem {
  productId: string;
  quantity: number;
}

export interface NewOrder {
  id: string;
  userId: string;
  items: RequestedItem[];
  shippingAddress: ShippingAddress;
  paymentToken: string;
  idempotencyKey?: string;
}

/** An idempotency key already placed a different order: a retry must repeat its request exactly. */
export class IdempotencyKeyReusedError extends Error {
  constructor(readonly idempotencyKey: string) {
    super(`idempotency key ${idempotencyKey} already placed a different order`);
    this.name = "IdempotencyKeyReusedError";
  }
}

/** Whether `order` is what placing `request` makes: same items in the same order, address and payment token. */
export function placedBy(order: Order, request: NewOrder): boolean {
  const sameAddress = (Object.keys(request.shippingAddress) as (keyof ShippingAddress)[]).every(
    (field) => order.shippingAddress[field] === request.shippingAddress[field],
  );
  return (
    sameAddress &&
    order.paymentToken === request.paymentToken &&
    order.items.length === request.items.length &&
    order.items.every((item, i) => item.productId === request.items[i]!.productId && item.quantity === request.items[i]!.quantity)
  );
}

/** Index of the first item that repeats an earlier product, if any: each product appears on one line. */
export function firstRepeatedProduct(items: RequestedItem[]): number | undefined {
  const seen = new Set<string>();
  for (const [index, item] of items.entries()) {
    if (seen.has(item.productId)) return index;
    seen.add(item.productId);
  }
  return undefined;
}

export function unpricedLines(items: RequestedItem[]): OrderLine[] {
  return items.map((item) => ({ productId: item.productId, quantity: item.quantity, name: "", unitPrice: null, lineTotal: null }));
}
