import { type DescField, type DescMessage, type DescMethod, type DescMethodUnary, type DescService, getOption } from "@bufbuild/protobuf";
import { http } from "@shop/contracts/google/api/annotations_pb.js";
import type { HttpRule } from "@shop/contracts/google/api/http_pb.js";
import { matchPathTemplate, type PathTemplate, parsePathTemplate, specificity } from "./path-template.js";

/** Where the request body goes: nowhere, the whole request message, or one field of it. */
export type BodyBinding = { kind: "none" } | { kind: "whole" } | { kind: "field"; field: DescField };

/** One REST route, derived from a `google.api.http` rule (or one of its additional bindings). */
export interface Route {
  /** `GET /v1/products/{product_id}`: how routes are named in policy, metrics and logs. */
  readonly key: string;
  readonly httpMethod: string;
  readonly template: PathTemplate;
  /** The upstream that serves the method (a key of the service map the table was built from). */
  readonly upstream: string;
  readonly method: DescMethodUnary;
  readonly body: BodyBinding;
  /** The response field sent as the HTTP body (`response_body`), else the whole response. */
  readonly responseField?: DescField;
  /** For each template variable, the chain of fields from the request message to the bound field. */
  readonly variableFields: readonly (readonly DescField[])[];
}

export type RouteMatch =
  | { kind: "found"; route: Route; variables: string[] }
  | { kind: "method_not_allowed"; allowed: string[] }
  | { kind: "not_found" };

/** Thrown at start when an annotation does not fit its method: the contract itself is wrong. */
export class RouteDefinitionError extends Error {
  constructor(method: DescMethod, reason: string) {
    super(`${method.parent.typeName}/${method.name}: google.api.http ${reason}`);
    this.name = "RouteDefinitionError";
  }
}

function fieldChain(method: DescMethod, message: DescMessage, names: readonly string[]): DescField[] {
  const chain: DescField[] = [];
  let current: DescMessage | undefined = message;
  for (const name of names) {
    const field: DescField | undefined = current?.fields.find((f) => f.name === name);
    if (!field) throw new RouteDefinitionError(method, `names unknown field "${names.join(".")}" of ${message.typeName}`);
    chain.push(field);
    current = field.fieldKind === "message" ? field.message : undefined;
  }
  return chain;
}

function patternOf(rule: HttpRule): { httpMethod: string; path: string } | undefined {
  switch (rule.pattern.case) {
    case undefined:
      return undefined;
    case "custom":
      return { httpMethod: rule.pattern.value.kind.toUpperCase(), path: rule.pattern.value.path };
    default:
      return { httpMethod: rule.pattern.case.toUpperCase(), path: rule.pattern.value };
  }
}

function routeOf(upstream: string, method: DescMethod, rule: HttpRule): Route | undefined {
  const pattern = patternOf(rule);
  if (!pattern) return undefined;
  if (method.methodKind !== "unary") throw new RouteDefinitionError(method, "is only supported on unary methods");
  const template = parsePathTemplate(pattern.path);
  const variableFields = template.variables.map((variable) => {
    const chain = fieldChain(method, method.input, variable.fieldPath);
    const leaf = chain[chain.length - 1]!;
    if (leaf.fieldKind !== "scalar" && leaf.fieldKind !== "enum") {
      throw new RouteDefinitionError(method, `binds path variable ${variable.fieldPath.join(".")} to a non-scalar field`);
    }
    if (chain.slice(0, -1).some((f) => f.fieldKind !== "message")) {
      throw new RouteDefinitionError(method, `path variable ${variable.fieldPath.join(".")} goes through a repeated field`);
    }
    return chain;
  });
  let body: BodyBinding = { kind: "none" };
  if (rule.body === "*") body = { kind: "whole" };
  else if (rule.body !== "") {
    const [field] = fieldChain(method, method.input, [rule.body]);
    // `{book.name}` with body "book" is the usual update pattern; only the body field itself may not be a variable.
    if (variableFields.some((chain) => chain.length === 1 && chain[0] === field)) {
      throw new RouteDefinitionError(method, `body "${rule.body}" is also bound by the path`);
    }
    body = { kind: "field", field: field! };
  }
  const responseField = rule.responseBody === "" ? undefined : fieldChain(method, method.output, [rule.responseBody])[0];
  return {
    key: `${pattern.httpMethod} ${pattern.path}`,
    httpMethod: pattern.httpMethod,
    template,
    upstream,
    method: method as DescMethodUnary,
    body,
    responseField,
    variableFields,
  };
}

/** Every route the `google.api.http` annotations of these services declare, additional bindings included. */
export function routesFromAnnotations(services: Readonly<Record<string, DescService>>): Route[] {
  const routes: Route[] = [];
  for (const [upstream, service] of Object.entries(services)) {
    for (const method of service.methods) {
      const rule = getOption(method, http);
      for (const binding of [rule, ...rule.additionalBindings]) {
        const route = routeOf(upstream, method, binding);
        if (route) routes.push(route);
      }
    }
  }
  return routes;
}

function compareSpecificity(a: Route, b: Route): number {
  const sa = specificity(a.template);
  const sb = specificity(b.template);
  for (let i = 0; i < Math.max(sa.length, sb.length); i++) {
    const diff = (sb[i] ?? -1) - (sa[i] ?? -1);
    if (diff !== 0) return diff;
  }
  return 0;
}

function matchRoute(route: Route, segments: string[]): string[] | undefined {
  const verb = route.template.verb;
  if (verb === undefined) return matchPathTemplate(route.template, segments);
  const last = segments[segments.length - 1]!;
  const suffix = `:${verb}`;
  if (!last.endsWith(suffix)) return undefined;
  return matchPathTemplate(route.template, [...segments.slice(0, -1), last.slice(0, -suffix.length)]);
}

/** Finds the route of a request: most specific template first; 405 when only other methods match. */
export class RouteTable {
  private readonly byMethod = new Map<string, Route[]>();

  constructor(readonly routes: readonly Route[]) {
    const keys = new Set<string>();
    for (const route of routes) {
      if (keys.has(route.key)) throw new RouteDefinitionError(route.method, `route ${route.key} is declared twice`);
      keys.add(route.key);
      const list = this.byMethod.get(route.httpMethod) ?? [];
      list.push(route);
      this.byMethod.set(route.httpMethod, list);
    }
    for (const list of this.byMethod.values()) list.sort(compareSpecificity);
  }

  find(key: string): Route | undefined {
    return this.routes.find((route) => route.key === key);
  }

  match(httpMethod: string, path: string): RouteMatch {
    if (!path.startsWith("/")) return { kind: "not_found" };
    const segments = path.slice(1).split("/");
    for (const route of this.byMethod.get(httpMethod) ?? []) {
      const variables = matchRoute(route, segments);
      if (variables) return { kind: "found", route, variables };
    }
    const allowed: string[] = [];
    for (const [method, routes] of this.byMethod) {
      if (method !== httpMethod && routes.some((route) => matchRoute(route, segments))) allowed.push(method);
    }
    return allowed.length > 0 ? { kind: "method_not_allowed", allowed: allowed.sort() } : { kind: "not_found" };
  }
}
