import { type DescField, type DescMessage, fromJson, type JsonObject, type JsonValue, type Message, ScalarType } from "@bufbuild/protobuf";
import { errors } from "@shop/runtime";
import { parseStrictJson } from "../http/strict-json.js";
import { decodeVariable } from "../routing/path-template.js";
import type { Route } from "../routing/route-table.js";
import { describeJsonValue, expectationOf, explainJsonError, isIntegerScalar, isWellKnown } from "./json-errors.js";

/** The parts of an HTTP request a route binds into its request message. */
export interface HttpRequestParts {
  /** Raw (percent-encoded) values of the template variables, in template order. */
  variables: readonly string[];
  /** The query string, without `?`. */
  query: string;
  /** The request body; undefined or empty when none was sent. */
  body?: Buffer;
}

const stringJsonTypes = new Set(["google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask"]);

const jsonPath = (chain: readonly DescField[]) => chain.map((f) => f.jsonName).join(".");

/** The JSON value a path or query string stands for, checked strictly against the field's type. */
function jsonFromText(field: DescField, text: string, path: string): JsonValue {
  if (field.enum) return /^-?\d+$/.test(text) ? Number(text) : text;
  switch (field.scalar) {
    case ScalarType.BOOL:
      if (text === "true" || text === "false") return text === "true";
      throw errors.invalidArgument(path, `expected ${expectationOf(field)}, got ${describeJsonValue(text)}`);
    case undefined:
    case ScalarType.STRING:
    case ScalarType.BYTES:
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return text;
    default:
      // JSON accepts "1e2" or "0x10" for integers; a URL gets exactly decimal digits.
      if (isIntegerScalar(field.scalar) && !/^-?\d+$/.test(text)) {
        throw errors.invalidArgument(path, `expected ${expectationOf(field)}, got ${describeJsonValue(text)}`);
      }
      return text;
  }
}

function isQueryLeaf(field: DescField): boolean {
  if (field.fieldKind === "scalar" || field.fieldKind === "enum") return true;
  if (field.fieldKind === "list") return field.listKind !== "message";
  return field.fieldKind === "message" && stringJsonTypes.has(field.message.typeName);
}

/** Resolves `price.currencyCode` or `price.currency_code` to its chain of fields. */
function queryFieldChain(message: DescMessage, name: string): DescField[] | undefined {
  const chain: DescField[] = [];
  let current: DescMessage | undefined = message;
  for (const part of name.split(".")) {
    const field: DescField | undefined = current?.fields.find((f) => f.jsonName === part || f.name === part);
    if (!field) return undefined;
    chain.push(field);
    current = field.fieldKind === "message" && !isWellKnown(field.message) ? field.message : undefined;
  }
  return chain;
}

function setAt(target: JsonObject, chain: readonly DescField[], value: JsonValue, path: string): void {
  let node = target;
  for (const field of chain.slice(0, -1)) {
    const next = node[field.jsonName];
    if (next === undefined) node = node[field.jsonName] = {};
    else if (next !== null && typeof next === "object" && !Array.isArray(next)) node = next;
    else throw errors.invalidArgument(path, "conflicts with another value for the same field");
  }
  const leaf = chain[chain.length - 1]!;
  if (leaf.fieldKind === "list") {
    const list = node[leaf.jsonName];
    if (Array.isArray(list)) list.push(value);
    else node[leaf.jsonName] = [value];
    return;
  }
  if (node[leaf.jsonName] !== undefined) throw errors.invalidArgument(path, "is given more than once");
  node[leaf.jsonName] = value;
}

const parseJsonBody = (body: Buffer): JsonValue => parseStrictJson(body.toString("utf8"));

const isObject = (value: JsonValue): value is JsonObject => value !== null && typeof value === "object" && !Array.isArray(value);

function boundByPath(route: Route, chain: readonly DescField[]): boolean {
  return route.variableFields.some((bound) => bound.length === chain.length && bound.every((field, i) => field === chain[i]));
}

function bindBody(route: Route, body: Buffer | undefined): JsonObject {
  const hasBody = body !== undefined && body.length > 0;
  switch (route.body.kind) {
    case "none":
      if (hasBody) throw errors.invalidArgument("body", `${route.key} takes no request body`);
      return {};
    case "whole": {
      if (!hasBody) return {};
      const json = parseJsonBody(body);
      if (!isObject(json)) throw errors.invalidArgument("body", `expected a JSON object, got ${describeJsonValue(json)}`);
      for (const key of Object.keys(json)) {
        const field = route.method.input.fields.find((f) => f.jsonName === key || f.name === key);
        if (field && route.variableFields.some((chain) => chain.length === 1 && chain[0] === field)) {
          throw errors.invalidArgument(key, "is set by the URL path and must not be in the body");
        }
      }
      return json;
    }
    case "field":
      return hasBody ? { [route.body.field.jsonName]: parseJsonBody(body) } : {};
  }
}

function bindQuery(route: Route, query: string, target: JsonObject): void {
  if (query === "") return;
  for (const [name, text] of new URLSearchParams(query)) {
    if (route.body.kind === "whole")
      throw errors.invalidArgument(name, `unknown query parameter (${route.key} takes every field in the body)`);
    const chain = queryFieldChain(route.method.input, name);
    if (!chain || !isQueryLeaf(chain[chain.length - 1]!)) throw errors.invalidArgument(name, "unknown query parameter");
    if (boundByPath(route, chain) || (route.body.kind === "field" && chain[0] === route.body.field)) {
      throw errors.invalidArgument(name, "is set by the URL path or body, not the query string");
    }
    const path = jsonPath(chain);
    setAt(target, chain, jsonFromText(chain[chain.length - 1]!, text, path), path);
  }
}

function bindVariables(route: Route, variables: readonly string[], target: JsonObject): void {
  route.variableFields.forEach((chain, i) => {
    const path = jsonPath(chain);
    let text: string;
    try {
      text = decodeVariable(variables[i]!);
    } catch {
      throw errors.invalidArgument(path, "is not valid percent-encoding in the URL path");
    }
    setAt(target, chain, jsonFromText(chain[chain.length - 1]!, text, path), path);
  });
}

/**
 * Builds the request message of a route from the URL path, query string and JSON body
 * (google.api.http binding rules), strictly: anything the message cannot take is an
 * INVALID_ARGUMENT that names the field.
 */
export function bindRequest(route: Route, parts: HttpRequestParts): Message {
  const json = bindBody(route, parts.body);
  bindQuery(route, parts.query, json);
  bindVariables(route, parts.variables, json);
  try {
    return fromJson(route.method.input, json);
  } catch (err) {
    const problem = explainJsonError(route.method.input, json, err);
    throw errors.invalidArgument(problem.path, problem.reason);
  }
}
