import { gzipSync } from "node:zlib";
import { demoProducts } from "@shop/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Customer, type GatewayStack, startGatewayStack } from "./testing/gateway-stack.js";

let stack: GatewayStack;
let customer: Customer;
const mug = demoProducts[0].id;

beforeAll(async () => {
  stack = await startGatewayStack();
  customer = await stack.customer();
});

afterAll(async () => {
  await stack?.stop();
});

type As = "anonymous" | "customer" | "admin";

interface BadInput {
  name: string;
  method: string;
  path: string | (() => string);
  as?: As;
  body?: unknown;
  headers?: Record<string, string>;
  status?: number;
  /** The message must name this field, as `<field>: ...`. */
  field: string;
}

const user = { email: "someone@example.com", name: "Someone", password: "long-enough-1" };
const product = { sku: "GOOD-1", name: "Good", description: "", price: { currencyCode: "USD", amountMinor: "100" } };
const address = { recipient: "A", line1: "1 Road", city: "Town", postalCode: "12345", countryCode: "GB" };
const order = { items: [{ productId: mug, quantity: 1 }], shippingAddress: address, paymentToken: "tok_visa" };

// Refused by the gateway while transcoding, or by the service's protovalidate rules: either
// way the client gets 400 and the message names the field as the client wrote it.
const cases: BadInput[] = [
  { name: "register: unknown field", method: "POST", path: "/v1/users", body: { ...user, age: 3 }, field: "age" },
  { name: "register: number for a string", method: "POST", path: "/v1/users", body: { ...user, email: 42 }, field: "email" },
  { name: "register: not an email", method: "POST", path: "/v1/users", body: { ...user, email: "not-an-email" }, field: "email" },
  { name: "register: short password", method: "POST", path: "/v1/users", body: { ...user, password: "short" }, field: "password" },
  { name: "register: empty name", method: "POST", path: "/v1/users", body: { ...user, name: "" }, field: "name" },
  { name: "register: array body", method: "POST", path: "/v1/users", body: [user], field: "body" },
  { name: "register: malformed JSON", method: "POST", path: "/v1/users", body: '{"email": "a@b.c",', field: "body" },
  { name: "register: query parameter", method: "POST", path: "/v1/users?invite=1", body: user, field: "invite" },
  {
    name: "register: text body",
    method: "POST",
    path: "/v1/users",
    body: "email=a",
    headers: { "content-type": "text/plain" },
    status: 415,
    field: "Content-Type",
  },
  { name: "token: empty email", method: "POST", path: "/v1/auth/token", body: { email: "", password: "x" }, field: "email" },
  { name: "token: boolean password", method: "POST", path: "/v1/auth/token", body: { email: "a@b.c", password: true }, field: "password" },
  { name: "get user: not a uuid", method: "GET", path: "/v1/users/not-a-uuid", as: "admin", field: "userId" },
  {
    name: "get user: unknown query parameter",
    method: "GET",
    path: () => `/v1/users/${customer.id}?verbose=true`,
    as: "customer",
    field: "verbose",
  },
  { name: "get user: bad percent-encoding", method: "GET", path: "/v1/users/%ZZ", as: "admin", field: "userId" },
  {
    name: "create product: bad sku",
    method: "POST",
    path: "/v1/products",
    as: "admin",
    body: { ...product, sku: "bad sku" },
    field: "sku",
  },
  {
    name: "create product: long name",
    method: "POST",
    path: "/v1/products",
    as: "admin",
    body: { ...product, name: "n".repeat(201) },
    field: "name",
  },
  {
    name: "create product: long description",
    method: "POST",
    path: "/v1/products",
    as: "admin",
    body: { ...product, description: "d".repeat(2001) },
    field: "description",
  },
  {
    name: "create product: no price",
    method: "POST",
    path: "/v1/products",
    as: "admin",
    body: { ...product, price: undefined },
    field: "price",
  },
  {
    name: "create product: lower-case currency",
    method: "POST",
    path: "/v1/products",
    as: "admin",
    body: { ...product, price: { currencyCode: "usd", amountMinor: "1" } },
    field: "price.currencyCode",
  },
  {
    name: "create product: negative amount",
    method: "POST",
    path: "/v1/products",
    as: "admin",
    body: { ...product, price: { currencyCode: "USD", amountMinor: "-1" } },
    field: "price.amountMinor",
  },
  {
    name: "create product: non-numeric int64",
    method: "POST",
    path: "/v1/products",
    as: "admin",
    body: { ...product, price: { currencyCode: "USD", amountMinor: "12abc" } },
    field: "price.amountMinor",
  },
  {
    name: "create product: fractional int64",
    method: "POST",
    path: "/v1/products",
    as: "admin",
    body: { ...product, price: { currencyCode: "USD", amountMinor: 12.5 } },
    field: "price.amountMinor",
  },
  {
    name: "create product: string for a message",
    method: "POST",
    path: "/v1/products",
    as: "admin",
    body: { ...product, price: "12.99" },
    field: "price",
  },
  {
    name: "create product: unknown nested field",
    method: "POST",
    path: "/v1/products",
    as: "admin",
    body: { ...product, price: { currencyCode: "USD", amountMinor: "1", cents: 5 } },
    field: "price.cents",
  },
  { name: "list products: text page size", method: "GET", path: "/v1/products?pageSize=abc", field: "pageSize" },
  { name: "list products: page size too large", method: "GET", path: "/v1/products?pageSize=101", field: "pageSize" },
  { name: "list products: negative page size", method: "GET", path: "/v1/products?pageSize=-1", field: "pageSize" },
  { name: "list products: page size twice", method: "GET", path: "/v1/products?pageSize=1&pageSize=2", field: "pageSize" },
  { name: "list products: exponent page size", method: "GET", path: "/v1/products?pageSize=1e2", field: "pageSize" },
  { name: "list products: page size out of int32", method: "GET", path: "/v1/products?pageSize=99999999999", field: "pageSize" },
  { name: "list products: unknown query parameter", method: "GET", path: "/v1/products?sort=name", field: "sort" },
  { name: "list products: long page token", method: "GET", path: `/v1/products?pageToken=${"t".repeat(513)}`, field: "pageToken" },
  { name: "list products: forged page token", method: "GET", path: "/v1/products?pageToken=Zm9yZ2Vk", field: "pageToken" },
  { name: "list products: snake_case and camelCase both", method: "GET", path: "/v1/products?page_size=1&pageSize=2", field: "pageSize" },
  { name: "get product: not a uuid", method: "GET", path: "/v1/products/not-a-uuid", field: "productId" },
  {
    name: "reprice: non-numeric amount",
    method: "PUT",
    path: `/v1/products/${mug}/price`,
    as: "admin",
    body: { currencyCode: "USD", amountMinor: "x" },
    field: "price.amountMinor",
  },
  {
    name: "reprice: unknown field",
    method: "PUT",
    path: `/v1/products/${mug}/price`,
    as: "admin",
    body: { currencyCode: "USD", amount: 5 },
    field: "price.amount",
  },
  { name: "reprice: no body", method: "PUT", path: `/v1/products/${mug}/price`, as: "admin", field: "price" },
  {
    name: "reprice: path not a uuid",
    method: "PUT",
    path: "/v1/products/mug/price",
    as: "admin",
    body: { currencyCode: "USD", amountMinor: "1" },
    field: "productId",
  },
  { name: "set stock: negative", method: "PUT", path: `/v1/products/${mug}/stock`, as: "admin", body: { quantity: -1 }, field: "quantity" },
  {
    name: "set stock: above the maximum",
    method: "PUT",
    path: `/v1/products/${mug}/stock`,
    as: "admin",
    body: { quantity: 1_000_001 },
    field: "quantity",
  },
  {
    name: "set stock: words for a number",
    method: "PUT",
    path: `/v1/products/${mug}/stock`,
    as: "admin",
    body: { quantity: "ten" },
    field: "quantity",
  },
  {
    name: "set stock: out of int32",
    method: "PUT",
    path: `/v1/products/${mug}/stock`,
    as: "admin",
    body: { quantity: 2_147_483_648 },
    field: "quantity",
  },
  {
    name: "set stock: path field in the body",
    method: "PUT",
    path: `/v1/products/${mug}/stock`,
    as: "admin",
    body: { productId: mug, quantity: 1 },
    field: "productId",
  },
  { name: "set stock: unknown field", method: "PUT", path: `/v1/products/${mug}/stock`, as: "admin", body: { qty: 1 }, field: "qty" },
  {
    name: "set stock: path not a uuid",
    method: "PUT",
    path: "/v1/products/abc/stock",
    as: "admin",
    body: { quantity: 1 },
    field: "productId",
  },
  { name: "get stock: unknown query parameter", method: "GET", path: `/v1/products/${mug}/stock?warehouse=1`, field: "warehouse" },
  {
    name: "place order: string for a list",
    method: "POST",
    path: "/v1/orders",
    as: "customer",
    body: { ...order, items: "mug" },
    field: "items",
  },
  {
    name: "place order: bad item quantity",
    method: "POST",
    path: "/v1/orders",
    as: "customer",
    body: { ...order, items: [{ productId: mug, quantity: "many" }] },
    field: "items[0].quantity",
  },
  {
    name: "place order: unknown address field",
    method: "POST",
    path: "/v1/orders",
    as: "customer",
    body: { ...order, shippingAddress: { ...address, zip: "1" } },
    field: "shippingAddress.zip",
  },
  { name: "list orders: text page size", method: "GET", path: "/v1/orders?pageSize=x", as: "customer", field: "pageSize" },
  {
    name: "cancel order: unknown body field",
    method: "POST",
    path: `/v1/orders/${mug}:cancel`,
    as: "customer",
    body: { reason: "x" },
    field: "reason",
  },
  {
    name: "bad X-Request-Timeout",
    method: "GET",
    path: "/v1/products",
    headers: { "x-request-timeout": "soon" },
    field: "X-Request-Timeout",
  },
  { name: "bad grpc-timeout", method: "GET", path: "/v1/products", headers: { "grpc-timeout": "5 seconds" }, field: "grpc-timeout" },
  { name: "register: NUL in the name", method: "POST", path: "/v1/users", body: { ...user, name: "Some\u0000one" }, field: "name" },
  {
    name: "register: a key given twice",
    method: "POST",
    path: "/v1/users",
    body: '{"email":"a@b.c","name":"A","password":"long-enough-1","name":"B"}',
    field: "name",
  },
  {
    name: "place order: a nested key given twice",
    method: "POST",
    path: "/v1/orders",
    as: "customer",
    body: `{"items":[{"productId":"${mug}","quantity":1,"quantity":1000}],"paymentToken":"tok_visa"}`,
    field: "items[0].quantity",
  },
  {
    name: "register: nested too deep",
    method: "POST",
    path: "/v1/users",
    body: `{"email":${"[".repeat(200)}${"]".repeat(200)}}`,
    field: "body",
  },
  {
    name: "create product: price over the ceiling",
    method: "POST",
    path: "/v1/products",
    as: "admin",
    body: { ...product, price: { currencyCode: "USD", amountMinor: "9223372036854775807" } },
    field: "price",
  },
  {
    name: "over-long Idempotency-Key",
    method: "POST",
    path: "/v1/users",
    headers: { "idempotency-key": "k".repeat(201) },
    body: user,
    field: "Idempotency-Key",
  },
];

describe("bad input through the gateway", () => {
  it("has a case for every way of getting it wrong", () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
  });

  it.each(cases.map((c) => [c.name, c] as const))("%s", async (_name, bad) => {
    const token = { anonymous: undefined, customer: customer.token, admin: stack.adminToken }[bad.as ?? "anonymous"];
    const path = typeof bad.path === "function" ? bad.path() : bad.path;
    const reply = await stack.request(bad.method, path, { token, body: bad.body, headers: bad.headers });
    expect(reply.status, JSON.stringify(reply.body)).toBe(bad.status ?? 400);
    expect(reply.body.code).toBe("invalid_argument");
    expect(reply.body.message).toMatch(new RegExp(`(^|; )${bad.field.replace(/[.[\]]/g, "\\$&")}: `));
    expect(reply.body.details).toBeInstanceOf(Array);
  });

  it("refuses over Connect what REST refuses: a key given twice, a NUL, a compressed body alike", async () => {
    const connect = (body: string | Buffer, headers: Record<string, string> = {}) =>
      fetch(`${stack.baseUrl}/shop.users.v1.UserService/RegisterUser`, {
        method: "POST",
        headers: { "content-type": "application/json", "connect-protocol-version": "1", ...headers },
        body,
      }).then(async (r) => ({ status: r.status, body: await r.json() }));
    const twice = '{"email":"twice@example.com","name":"A","password":"long-enough-1","name":"B"}';
    expect(await connect(twice)).toEqual({
      status: 400,
      body: { code: "invalid_argument", message: "name: is given more than once in the JSON" },
    });
    expect(await connect(gzipSync(twice), { "content-encoding": "gzip" })).toMatchObject({
      status: 400,
      body: { message: "name: is given more than once in the JSON" },
    });
    const nul = JSON.stringify({ ...user, email: "nul@example.com", name: "N\u0000" });
    expect(await connect(nul)).toMatchObject({
      status: 400,
      body: { code: "invalid_argument", message: "name: must not contain NUL characters" },
    });
    expect(await connect(JSON.stringify({ ...user, email: `connect-${Date.now()}@example.com` }))).toMatchObject({ status: 200 });
  });

  it("carries the service's structured violations as details", async () => {
    const reply = await stack.request("POST", "/v1/products", { token: stack.adminToken, body: { ...product, sku: "bad sku" } });
    expect(reply.body.details[0]["@type"]).toBe("type.googleapis.com/buf.validate.Violations");
    expect(reply.body.details[0].violations[0].ruleId).toBe("string.pattern");
  });
});
