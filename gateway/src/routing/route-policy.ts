import { type DescMethod, getOption } from "@bufbuild/protobuf";
import { rate_cost } from "@shop/contracts/shop/auth/v1/auth_pb.js";
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
  /** What one call spends of its caller's rate limit: the contract's `(shop.auth.v1.rate_cost)`, else 1. */
  rateCost(method: DescMethod): number;
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
  const costs = new Map<DescMethod, number>(table.routes.map((route) => [route.method, getOption(route.method, rate_cost) || 1]));
  return {
    isPublic: (method) => publicMethods.has(method),
    isCreating: (route) => creating.has(route),
    rateCost: (method) => costs.get(method) ?? 1,
  };
}
