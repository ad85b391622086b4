import type { DescMethod } from "@bufbuild/protobuf";
import type { Route, RouteTable } from "./route-table.js";

/** The routes anyone may call without a token (DESIGN §5, "anyone"). Every other route needs one. */
export const publicRoutes: readonly string[] = [
  "POST /v1/users",
  "POST /v1/auth/token",
  "GET /v1/products",
  "GET /v1/products/{product_id}",
  "GET /v1/products/{product_id}/stock",
];

/** The POSTs that create a resource; they honour `Idempotency-Key`. */
export const creatingRoutes: readonly string[] = ["POST /v1/users", "POST /v1/products", "POST /v1/orders"];

export interface RoutePolicy {
  /** Whether a method may be called anonymously (the same answer for REST and Connect). */
  isPublic(method: DescMethod): boolean;
  isCreating(route: Route): boolean;
}

/** Resolves the declared routes against the table, failing at start when one does not exist. */
export function resolveRoutePolicy(
  table: RouteTable,
  declared: { publicRoutes: readonly string[]; creatingRoutes: readonly string[] } = { publicRoutes, creatingRoutes },
): RoutePolicy {
  const resolve = (keys: readonly string[], what: string) =>
    keys.map((key) => {
      const route = table.find(key);
      if (!route) throw new Error(`${what} route "${key}" is not declared by any google.api.http annotation`);
      return route;
    });
  const publicMethods = new Set<DescMethod>(resolve(declared.publicRoutes, "public").map((route) => route.method));
  const creating = new Set(resolve(declared.creatingRoutes, "creating"));
  return {
    isPublic: (method) => publicMethods.has(method),
    isCreating: (route) => creating.has(route),
  };
}
