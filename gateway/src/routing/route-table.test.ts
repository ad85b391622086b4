import { shopServices } from "@shop/contracts";
import { describe, expect, it } from "vitest";
import { LibraryService } from "../testing/library-api.js";
import { creatingRoutes, resolveRoutePolicy } from "./route-policy.js";
import { RouteTable, routesFromAnnotations } from "./route-table.js";

const shop = new RouteTable(routesFromAnnotations(shopServices));
const library = new RouteTable(routesFromAnnotations({ library: LibraryService }));

const found = (table: RouteTable, method: string, path: string) => {
  const match = table.match(method, path);
  if (match.kind !== "found") throw new Error(`${method} ${path}: ${match.kind}`);
  return {
    rpc: `${match.route.method.parent.name}/${match.route.method.name}`,
    upstream: match.route.upstream,
    variables: match.variables,
    route: match.route,
  };
};

describe("routes generated from the shop's annotations", () => {
  // Every REST call of the public API except the hand-written /v1/me/summary.
  it.each([
    ["POST", "/v1/users", "users", "UserService/RegisterUser", []],
    ["POST", "/v1/auth/token", "users", "UserService/CreateToken", []],
    ["GET", "/v1/users/u-1", "users", "UserService/GetUser", ["u-1"]],
    ["POST", "/v1/products", "catalog", "CatalogService/CreateProduct", []],
    ["GET", "/v1/products", "catalog", "CatalogService/ListProducts", []],
    ["GET", "/v1/products/p-1", "catalog", "CatalogService/GetProduct", ["p-1"]],
    ["PUT", "/v1/products/p-1/price", "catalog", "CatalogService/UpdateProductPrice", ["p-1"]],
    ["PUT", "/v1/products/p-1/stock", "inventory", "InventoryService/SetStock", ["p-1"]],
    ["GET", "/v1/products/p-1/stock", "inventory", "InventoryService/GetStock", ["p-1"]],
    ["POST", "/v1/orders", "orders", "OrderService/PlaceOrder", []],
    ["GET", "/v1/orders/o-1", "orders", "OrderService/GetOrder", ["o-1"]],
    ["GET", "/v1/orders", "orders", "OrderService/ListOrders", []],
    ["POST", "/v1/orders/o-1:cancel", "orders", "OrderService/CancelOrder", ["o-1"]],
    ["GET", "/v1/orders/o-1/shipment", "shipping", "ShippingService/GetShipment", ["o-1"]],
    ["GET", "/v1/orders/o-1/payment", "payments", "PaymentService/GetOrderPayment", ["o-1"]],
    ["GET", "/v1/notifications", "notifications", "NotificationService/ListNotifications", []],
  ])("%s %s -> %s %s", (method, path, upstream, rpc, variables) => {
    expect(found(shop, method, path)).toMatchObject({ upstream, rpc, variables });
  });

  it("routes nothing else: internal methods (payment operations, reservations, shipments) have no REST route", () => {
    expect(shop.routes.map((r) => r.key).sort()).toEqual(
      [
        "GET /v1/notifications",
        "GET /v1/orders",
        "GET /v1/orders/{order_id}",
        "GET /v1/orders/{order_id}/shipment",
        "GET /v1/orders/{order_id}/payment",
        "GET /v1/products",
        "GET /v1/products/{product_id}",
        "GET /v1/products/{product_id}/stock",
        "GET /v1/users/{user_id}",
        "POST /v1/auth/token",
        "POST /v1/orders",
        "POST /v1/orders/{order_id}:cancel",
        "POST /v1/products",
        "POST /v1/users",
        "PUT /v1/products/{product_id}/price",
        "PUT /v1/products/{product_id}/stock",
      ].sort(),
    );
  });

  it("binds bodies as annotated", () => {
    expect(found(shop, "POST", "/v1/orders").route.body.kind).toBe("whole");
    const price = found(shop, "PUT", "/v1/products/p/price").route.body;
    expect(price.kind === "field" && price.field.name).toBe("price");
    expect(found(shop, "GET", "/v1/products").route.body.kind).toBe("none");
  });

  it("answers 405 with the allowed methods when only the method is wrong", () => {
    expect(shop.match("DELETE", "/v1/products/p-1")).toEqual({ kind: "method_not_allowed", allowed: ["GET"] });
    expect(shop.match("PATCH", "/v1/products")).toEqual({ kind: "method_not_allowed", allowed: ["GET", "POST"] });
    expect(shop.match("GET", "/v1/orders/o-1:cancel")).toMatchObject({ kind: "found" });
    expect(shop.match("PUT", "/v1/orders/o-1:cancel")).toEqual({ kind: "method_not_allowed", allowed: ["GET", "POST"] });
  });

  it("answers not found for unknown paths", () => {
    for (const path of ["/v1/nothing", "/v1/products/p-1/stock/extra", "/v1/products/", "v1/products", "/"]) {
      expect(shop.match("GET", path)).toEqual({ kind: "not_found" });
    }
  });

  it("takes the public routes from the contract's access policies, and resolves the creating routes", () => {
    const policy = resolveRoutePolicy(shop);
    const publicKeys = shop.routes.filter((r) => policy.isPublic(r.method)).map((r) => r.key);
    expect(publicKeys.sort()).toEqual(
      [
        "GET /v1/products",
        "GET /v1/products/{product_id}",
        "GET /v1/products/{product_id}/stock",
        "POST /v1/auth/token",
        "POST /v1/users",
      ].sort(),
    );
    expect(
      shop.routes
        .filter((r) => policy.isCreating(r))
        .map((r) => r.key)
        .sort(),
    ).toEqual([...creatingRoutes].sort());
  });

  it("refuses a policy that names a route no annotation declares", () => {
    expect(() => resolveRoutePolicy(shop, { creatingRoutes: ["POST /v1/secrets"] })).toThrow(
      'creating route "POST /v1/secrets" is not declared',
    );
  });
});

describe("binding rules of google.api.http", () => {
  it("matches a variable over several segments", () => {
    expect(found(library, "GET", "/v1/shelves/s1/books/b1")).toMatchObject({
      rpc: "LibraryService/GetBook",
      variables: ["shelves/s1/books/b1"],
    });
  });

  it("matches a nested field path variable with a body field", () => {
    const { route, variables } = found(library, "PATCH", "/v1/shelves/s1/books/b1");
    expect(variables).toEqual(["shelves/s1/books/b1"]);
    expect(route.variableFields[0]!.map((f) => f.name)).toEqual(["book", "name"]);
    expect(route.body.kind === "field" && route.body.field.name).toBe("book");
  });

  it("prefers the custom verb route and strips the verb from the variable", () => {
    expect(found(library, "POST", "/v1/shelves/s1/books/b1:archive")).toMatchObject({
      rpc: "LibraryService/ArchiveBook",
      variables: ["shelves/s1/books/b1"],
    });
  });

  it("serves additional bindings as routes of their own", () => {
    expect(found(library, "POST", "/v1/shelves/s1/books")).toMatchObject({ rpc: "LibraryService/CreateBook", variables: ["s1"] });
    const extra = found(library, "POST", "/v1/books");
    expect(extra.rpc).toBe("LibraryService/CreateBook");
    expect(extra.route.body.kind).toBe("whole");
  });

  it("serves custom HTTP methods", () => {
    expect(found(library, "SEARCH", "/v1/books:search").rpc).toBe("LibraryService/SearchBooks");
  });

  it("selects the response body field", () => {
    expect(found(library, "GET", "/v1/shelves/s1/stats").route.responseField?.name).toBe("stats");
  });

  it("matches ** to the end of the path", () => {
    expect(found(library, "GET", "/v1/files/a/b/c.txt").variables).toEqual(["a/b/c.txt"]);
  });

  it("prefers a literal over a variable, whatever the declaration order", () => {
    for (const routes of [
      routesFromAnnotations({ library: LibraryService }),
      routesFromAnnotations({ library: LibraryService }).reverse(),
    ]) {
      const table = new RouteTable(routes);
      expect(found(table, "GET", "/v1/files/index").rpc).toBe("LibraryService/GetFileIndex");
      expect(found(table, "GET", "/v1/files/indexes").rpc).toBe("LibraryService/GetFile");
    }
  });

  it("leaves methods without an annotation unrouted", () => {
    expect(library.routes.some((r) => r.method.name === "Ping")).toBe(false);
  });
});
