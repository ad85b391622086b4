import { type DescMessage, type JsonValue, type Message, type Registry, toJson } from "@bufbuild/protobuf";
import type { Route } from "../routing/route-table.js";

/**
 * Canonical Protobuf JSON, with fields at their default value written out (`"available": 0`,
 * `"nextPageToken": ""`) so clients see the whole shape of every response.
 */
export function messageToJson(schema: DescMessage, message: Message, registry: Registry): JsonValue {
  return toJson(schema, message as never, { registry, alwaysEmitImplicit: true });
}

/** The HTTP body of a route's response: the whole message, or its `response_body` field. */
export function renderResponse(route: Route, message: Message, registry: Registry): string {
  const json = messageToJson(route.method.output, message, registry);
  if (!route.responseField) return JSON.stringify(json);
  const selected = (json as Record<string, JsonValue>)[route.responseField.jsonName];
  return JSON.stringify(selected ?? null);
}
