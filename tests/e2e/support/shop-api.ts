import { randomBytes } from "node:crypto";
import { waitFor } from "@shop/runtime/testing";

/** The public REST API's JSON, as an outside client reads it. */
export interface MoneyJson {
  currencyCode: string;
  /** int64 in canonical JSON: a string. */
  amountMinor: string;
}

export interface UserJson {
  id: string;
  email: string;
  name: string;
  role: string;
}

export interface OrderItemJson {
  productId: string;
  name: string;
  unitPrice: MoneyJson;
  quantity: number;
  lineTotal: MoneyJson;
}

export interface OrderJson {
  id: string;
  userId: string;
  status: string;
  items: OrderItemJson[];
  total: MoneyJson;
  cancellationReason: string;
  createTime: string;
  updateTime: string;
}

export interface StockJson {
  productId: string;
  available: number;
  reserved: number;
  committed: number;
}

export interface ShipmentJson {
  id: string;
  orderId: string;
  userId: string;
  status: string;
  trackingNumber: string;
}

export interface NotificationJson {
  id: string;
  userId: string;
  kind: string;
  orderId: string;
  subject: string;
  body: string;
}

export interface ErrorJson {
  code: string;
  message: string;
  details: unknown[];
}

export interface Reply<T> {
  status: number;
  headers: Headers;
  body: T;
}

export interface RequestOptions {
  token?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

export const shippingAddress = {
  recipient: "Grace Hopper",
  line1: "1 Compiler Way",
  city: "Arlington",
  postalCode: "22201",
  countryCode: "US",
};

/** A customer with an account and a token. */
export interface Customer {
  user: UserJson;
  token: string;
}

/** The shop's public REST API over fetch, with no knowledge of what runs behind the gateway. */
export class ShopApi {
  constructor(private readonly baseUrl: string) {}

  async request<T>(method: string, path: string, { token, body, headers = {} }: RequestOptions = {}): Promise<Reply<T>> {
    const response = await fetch(this.baseUrl + path, {
      method,
      headers: {
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: (text ? JSON.parse(text) : undefined) as T };
  }

  /** A request that must succeed; a failure names the call and shows the error body. */
  async ok<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const reply = await this.request<T>(method, path, options);
    if (reply.status !== 200) throw new Error(`${method} ${path} answered ${reply.status}: ${JSON.stringify(reply.body)}`);
    return reply.body;
  }

  async signIn(email: string, password: string): Promise<string> {
    const { accessToken } = await this.ok<{ accessToken: string }>("POST", "/v1/auth/token", { body: { email, password } });
    return accessToken;
  }

  async registerCustomer(name = "Customer"): Promise<Customer> {
    const email = `${name.toLowerCase().replace(/\W+/g, ".")}.${randomBytes(4).toString("hex")}@e2e.shop.test`;
    const password = "correct horse battery staple";
    const { user } = await this.ok<{ user: UserJson }>("POST", "/v1/users", { body: { email, name, password } });
    return { user, token: await this.signIn(email, password) };
  }

  /** A new product with `stock` units for sale, created by an admin through the API. */
  async createProduct(
    adminToken: string,
    { name, priceMinor, stock }: { name: string; priceMinor: number; stock: number },
  ): Promise<string> {
    const sku = `E2E-${randomBytes(4).toString("hex").toUpperCase()}`;
    const { product } = await this.ok<{ product: { id: string } }>("POST", "/v1/products", {
      token: adminToken,
      body: { sku, name, description: `${name} for the end-to-end tests`, price: { currencyCode: "USD", amountMinor: String(priceMinor) } },
    });
    await this.ok("PUT", `/v1/products/${product.id}/stock`, { token: adminToken, body: { quantity: stock } });
    return product.id;
  }

  async stock(productId: string): Promise<StockJson> {
    return (await this.ok<{ stock: StockJson }>("GET", `/v1/products/${productId}/stock`)).stock;
  }

  async order(orderId: string, token: string): Promise<OrderJson> {
    return (await this.ok<{ order: OrderJson }>("GET", `/v1/orders/${orderId}`, { token })).order;
  }

  /** Polls the order until its saga has ended (CONFIRMED or CANCELLED). */
  async settledOrder(orderId: string, token: string): Promise<OrderJson> {
    return waitFor(
      () => this.order(orderId, token),
      (order) => order.status !== "ORDER_STATUS_PENDING",
      { timeoutMs: 20_000, intervalMs: 50, what: `order ${orderId} to leave ORDER_STATUS_PENDING` },
    );
  }

  async notifications(token: string): Promise<NotificationJson[]> {
    return (await this.ok<{ notifications: NotificationJson[] }>("GET", "/v1/notifications", { token })).notifications;
  }

  async orderHistory(token: string): Promise<OrderJson[]> {
    return (await this.ok<{ orders: OrderJson[] }>("GET", "/v1/orders", { token })).orders;
  }
}
