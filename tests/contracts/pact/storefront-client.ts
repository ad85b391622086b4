import { randomUUID } from "node:crypto";

/**
 * A storefront's REST client of the shop's public API, written as an outside
 * client would: fetch and the JSON the API documents, nothing from the contracts' generated
 * code. Its consumer contract tests record exactly what it relies on.
 */

/** Integer minor units as a string: the JSON mapping of int64. */
export interface Money {
  currencyCode: string;
  amountMinor: string;
}

export type Role = "ROLE_CUSTOMER" | "ROLE_ADMIN";

export interface User {
  id: string;
  email: string;
  name: string;
  role: Role;
  createTime: string;
}

export interface AccessToken {
  accessToken: string;
  /** Seconds. */
  expiresIn: number;
  tokenType: string;
}

export interface Product {
  id: string;
  sku: string;
  name: string;
  description: string;
  price: Money;
}

export interface ProductPage {
  products: Product[];
  /** Empty on the last page. */
  nextPageToken: string;
}

export interface Stock {
  productId: string;
  available: number;
  reserved: number;
}

export interface Address {
  recipient: string;
  line1: string;
  line2?: string;
  city: string;
  postalCode: string;
  countryCode: string;
}

export type OrderStatus = "ORDER_STATUS_PENDING" | "ORDER_STATUS_CONFIRMED" | "ORDER_STATUS_CANCELLED";

export interface OrderItem {
  productId: string;
  name: string;
  quantity: number;
  unitPrice?: Money;
  lineTotal?: Money;
}

export interface Order {
  id: string;
  userId: string;
  status: OrderStatus;
  items: OrderItem[];
  total: Money;
  /** Empty unless the order was cancelled. */
  cancellationReason: string;
  createTime: string;
  updateTime: string;
}

export interface OrderPage {
  orders: Order[];
  nextPageToken: string;
}

export interface NewOrder {
  items: { productId: string; quantity: number }[];
  shippingAddress: Address;
  paymentToken: string;
}

export type ShipmentStatus = "SHIPMENT_STATUS_CREATED" | "SHIPMENT_STATUS_DISPATCHED" | "SHIPMENT_STATUS_CANCELLED";

export interface Shipment {
  orderId: string;
  status: ShipmentStatus;
  trackingNumber: string;
}

export interface Notification {
  id: string;
  kind: string;
  orderId: string;
  subject: string;
  body: string;
  createTime: string;
}

export interface PageRequest {
  pageSize?: number;
  pageToken?: string;
}

/** Minor units of an amount, exactly: int64 travels as a decimal string, which BigInt reads whole. */
export function minorUnits(money: Money): bigint {
  if (!/^-?\d+$/.test(money.amountMinor))
    throw new TypeError(`amountMinor must be an integer string, got ${JSON.stringify(money.amountMinor)}`);
  return BigInt(money.amountMinor);
}

/** An error answer of the API: HTTP status and the `{code, message, details}` body. */
export class StorefrontError extends Error {
  override name = "StorefrontError";

  constructor(
    readonly status: number,
    /** The gRPC code in snake_case: `not_found`, `invalid_argument`, ... */
    readonly code: string,
    message: string,
    readonly details: unknown[] = [],
  ) {
    super(message);
  }
}

export interface StorefrontOptions {
  /** Bearer token of the signed-in customer. */
  accessToken?: string;
  fetch?: typeof fetch;
}

/** An error body that is not JSON (a proxy's HTML page, say) is kept as text. */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export class StorefrontClient {
  private readonly baseUrl: string;
  private readonly fetch: typeof fetch;

  constructor(
    baseUrl: string,
    private readonly options: StorefrontOptions = {},
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.fetch = options.fetch ?? fetch;
  }

  /** The same client acting for the customer the token was issued to. */
  signedIn(accessToken: string): StorefrontClient {
    return new StorefrontClient(this.baseUrl, { ...this.options, accessToken });
  }

  async register(account: { email: string; name: string; password: string }): Promise<User> {
    return (await this.call<{ user: User }>("POST", "/v1/users", { body: account })).user;
  }

  signIn(credentials: { email: string; password: string }): Promise<AccessToken> {
    return this.call<AccessToken>("POST", "/v1/auth/token", { body: credentials });
  }

  async getUser(userId: string): Promise<User> {
    return (await this.call<{ user: User }>("GET", `/v1/users/${encodeURIComponent(userId)}`)).user;
  }

  listProducts(page: PageRequest = {}): Promise<ProductPage> {
    return this.call<ProductPage>("GET", "/v1/products", { query: page });
  }

  async getProduct(productId: string): Promise<Product> {
    return (await this.call<{ product: Product }>("GET", `/v1/products/${encodeURIComponent(productId)}`)).product;
  }

  async getStock(productId: string): Promise<Stock> {
    return (await this.call<{ stock: Stock }>("GET", `/v1/products/${encodeURIComponent(productId)}/stock`)).stock;
  }

  /**
   * Places an order. A retry with the same `idempotencyKey` (after a timeout, say) gets the
   * first answer back instead of a second order.
   */
  async placeOrder(order: NewOrder, idempotencyKey: string = randomUUID()): Promise<Order> {
    return (await this.call<{ order: Order }>("POST", "/v1/orders", { body: order, headers: { "Idempotency-Key": idempotencyKey } })).order;
  }

  async getOrder(orderId: string): Promise<Order> {
    return (await this.call<{ order: Order }>("GET", `/v1/orders/${encodeURIComponent(orderId)}`)).order;
  }

  listOrders(page: PageRequest = {}): Promise<OrderPage> {
    return this.call<OrderPage>("GET", "/v1/orders", { query: page });
  }

  async cancelOrder(orderId: string): Promise<Order> {
    return (await this.call<{ order: Order }>("POST", `/v1/orders/${encodeURIComponent(orderId)}:cancel`, { body: {} })).order;
  }

  async getShipment(orderId: string): Promise<Shipment> {
    return (await this.call<{ shipment: Shipment }>("GET", `/v1/orders/${encodeURIComponent(orderId)}/shipment`)).shipment;
  }

  async listNotifications(): Promise<Notification[]> {
    return (await this.call<{ notifications: Notification[] }>("GET", "/v1/notifications")).notifications;
  }

  private async call<T>(
    method: "GET" | "POST",
    path: string,
    { body, query, headers = {} }: { body?: unknown; query?: PageRequest; headers?: Record<string, string> } = {},
  ): Promise<T> {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(query ?? {})) if (value !== undefined) search.set(key, String(value));
    const url = `${this.baseUrl}${path}${search.size > 0 ? `?${search}` : ""}`;
    const response = await this.fetch(url, {
      method,
      headers: {
        Accept: "application/json",
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        ...(this.options.accessToken ? { Authorization: `Bearer ${this.options.accessToken}` } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) {
      const error = parseJson(text) as { code?: string; message?: string; details?: unknown[] } | undefined;
      throw new StorefrontError(response.status, error?.code ?? "unknown", error?.message ?? (text || response.statusText), error?.details);
    }
    return JSON.parse(text) as T;
  }
}
