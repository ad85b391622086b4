import type { DescMethod } from "@bufbuild/protobuf";
import { declaredPolicy } from "@shop/runtime";
import type { Route, RouteTable } from "./route-table.js";

/** The POSTs that create a resource; they honour `Idempotency-Key`. */
export const creatingRoutes: readonly string[] = ["POST /v1/users", "POST /v1/products", "POST /v1/orders"];

export interface RoutePolicy {
  /**
   * Whether a method may be called anonymously: its contract's access policy says so (the same
   * answer for REST and Connect). Every other method needs an access token.
   */
  isPublic(method: DescMethod): boolean;
  isCreating(route: Route): boolean;
}

/** Resolves the creating routes against the table, failing at start when one does not exist. */
export function resolveRoutePolicy(table: RouteTable, declared: { creatingRoutes: readonly string[] } = { creatingRoutes }): RoutePolicy {
  const creating = new Set(
    declared.creatingRoutes.map((key) => {
      const route = table.find(key);
      if (!route) throw new Error(`creating route "${key}" is not declared by any google.api.http annotation`);
      return route;
    }),
  );
  const publicMethods = new Set<DescMethod>(
    table.routes.filter((route) => declaredPolicy(route.method)?.anonymous).map((route) => route.method),
  );
  return {
    isPublic: (method) => publicMethods.has(method),
    isCreating: (route) => creating.has(route),
  };
}
