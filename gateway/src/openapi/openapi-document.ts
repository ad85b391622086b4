import { type DescEnum, type DescField, type DescMessage, ScalarType } from "@bufbuild/protobuf";
import type { TemplateSegment } from "../routing/path-template.js";
import type { RoutePolicy } from "../routing/route-policy.js";
import type { Route } from "../routing/route-table.js";
import { maxIdempotencyKeyLength } from "../traffic/idempotency.js";
import { isIntegerScalar, isWellKnown } from "../transcoding/json-errors.js";

type Schema = Record<string, unknown>;

/** A hand-written route to document beside the generated ones. */
export interface ExtraOperation {
  httpMethod: string;
  path: string;
  operationId: string;
  summary: string;
  response: DescMessage;
  authenticated: boolean;
}

export interface OpenApiOptions {
  routes: readonly Route[];
  policy: RoutePolicy;
  extraOperations?: readonly ExtraOperation[];
  title?: string;
  version?: string;
}

const errorSchemaName = "Error";
/** The methods OpenAPI 3.1 can describe; routes with custom HTTP methods are left out of the document. */
const describableMethods = new Set(["get", "put", "post", "delete", "options", "head", "patch", "trace"]);
const refTo = (name: string) => ({ $ref: `#/components/schemas/${name}` });

const wellKnownSchemas: Record<string, Schema> = {
  "google.protobuf.Timestamp": { type: "string", format: "date-time" },
  "google.protobuf.Duration": { type: "string", pattern: "^-?[0-9]+(\\.[0-9]{1,9})?s$" },
  "google.protobuf.FieldMask": { type: "string" },
  "google.protobuf.Struct": { type: "object" },
  "google.protobuf.Value": {},
  "google.protobuf.ListValue": { type: "array" },
  "google.protobuf.Empty": { type: "object", additionalProperties: false },
  "google.protobuf.Any": { type: "object", properties: { "@type": { type: "string" } }, required: ["@type"] },
};

function scalarSchema(scalar: ScalarType): Schema {
  switch (scalar) {
    case ScalarType.STRING:
      return { type: "string" };
    case ScalarType.BOOL:
      return { type: "boolean" };
    case ScalarType.BYTES:
      return { type: "string", contentEncoding: "base64" };
    case ScalarType.DOUBLE:
      return { type: "number", format: "double" };
    case ScalarType.FLOAT:
      return { type: "number", format: "float" };
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return { type: "integer", format: "int32" };
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return { type: "integer", format: "int64", minimum: 0, maximum: 4294967295 };
    default:
      // 64-bit integers are strings in JSON so no client loses precision.
      return isIntegerScalar(scalar)
        ? {
            type: "string",
            format: scalar === ScalarType.UINT64 || scalar === ScalarType.FIXED64 ? "uint64" : "int64",
            pattern: "^-?[0-9]+$",
          }
        : {};
  }
}

/** Collects component schemas of the messages and enums it is asked about, and everything they reach. */
class SchemaCollector {
  readonly components: Record<string, Schema> = {};

  enumSchema(desc: DescEnum): Schema {
    if (!this.components[desc.typeName]) {
      this.components[desc.typeName] = { type: "string", enum: desc.values.map((v) => v.name) };
    }
    return refTo(desc.typeName);
  }

  messageSchema(desc: DescMessage): Schema {
    const known = wellKnownSchemas[desc.typeName];
    if (known) return known;
    if (!isWellKnown(desc) && !this.components[desc.typeName]) {
      // A placeholder first, so a message that contains itself refers to its component.
      this.components[desc.typeName] = {};
      this.components[desc.typeName] = this.objectSchema(desc, desc.fields);
    }
    return isWellKnown(desc) ? this.objectSchema(desc, desc.fields) : refTo(desc.typeName);
  }

  objectSchema(desc: DescMessage, fields: readonly DescField[]): Schema {
    const properties: Record<string, Schema> = {};
    for (const field of fields) properties[field.jsonName] = this.fieldSchema(field);
    return { type: "object", title: desc.name, properties, additionalProperties: false };
  }

  /** The schema of one element (of a list) or one value (of a map) or of a singular field. */
  private elementSchema(field: DescField): Schema {
    if (field.message) return this.messageSchema(field.message);
    if (field.enum) return this.enumSchema(field.enum);
    return scalarSchema(field.scalar!);
  }

  fieldSchema(field: DescField): Schema {
    switch (field.fieldKind) {
      case "list":
        return { type: "array", items: this.elementSchema(field) };
      case "map":
        return { type: "object", additionalProperties: this.elementSchema(field) };
      default:
        return this.elementSchema(field);
    }
  }
}

const segmentText = (segment: TemplateSegment) => (segment.kind === "literal" ? segment.value : segment.kind === "single" ? "*" : "**");

/** `/v1/orders/{order_id}:cancel` -> `/v1/orders/{orderId}:cancel`, with the JSON names of the bound fields. */
function openApiPath(route: Route): string {
  const { segments, variables, verb } = route.template;
  const parts: string[] = [];
  for (let i = 0; i < segments.length; i++) {
    const index = variables.findIndex((v) => v.start === i);
    if (index >= 0) {
      parts.push(`{${route.variableFields[index]!.map((f) => f.jsonName).join(".")}}`);
      i = variables[index]!.end - 1;
      continue;
    }
    parts.push(segmentText(segments[i]!));
  }
  return `/${parts.join("/")}${verb === undefined ? "" : `:${verb}`}`;
}

function variablePattern(route: Route, index: number): string {
  const variable = route.template.variables[index]!;
  return route.template.segments.slice(variable.start, variable.end).map(segmentText).join("/");
}

/** Query parameters: every leaf field not bound by the path or the body, by dotted JSON name. */
function queryParameters(route: Route, schemas: SchemaCollector): Schema[] {
  if (route.body.kind === "whole") return [];
  const excluded = new Set<DescField>(route.variableFields.map((chain) => chain[0]!));
  if (route.body.kind === "field") excluded.add(route.body.field);
  const parameters: Schema[] = [];
  // Recursive messages (a filter inside a filter) are listed a few levels deep.
  const visit = (message: DescMessage, prefix: string, depth: number) => {
    for (const field of message.fields) {
      if (depth === 0 && excluded.has(field)) continue;
      const name = prefix + field.jsonName;
      if (field.fieldKind === "message" && !isWellKnown(field.message)) {
        if (depth < 3) visit(field.message, `${name}.`, depth + 1);
        continue;
      }
      if (field.fieldKind === "map" || (field.fieldKind === "list" && field.listKind === "message")) continue;
      const schema = schemas.fieldSchema(field);
      parameters.push(
        field.fieldKind === "list"
          ? { name, in: "query", required: false, schema, style: "form", explode: true }
          : { name, in: "query", required: false, schema },
      );
    }
  };
  visit(route.method.input, "", 0);
  return parameters;
}

function requestBody(route: Route, schemas: SchemaCollector): Schema | undefined {
  const input = route.method.input;
  let schema: Schema;
  switch (route.body.kind) {
    case "none":
      return undefined;
    case "field":
      schema = schemas.fieldSchema(route.body.field);
      break;
    case "whole": {
      const bound = new Set(route.variableFields.filter((chain) => chain.length === 1).map((chain) => chain[0]!));
      schema =
        bound.size === 0
          ? schemas.messageSchema(input)
          : schemas.objectSchema(
              input,
              input.fields.filter((f) => !bound.has(f)),
            );
    }
  }
  return { required: route.body.kind === "field", content: { "application/json": { schema } } };
}

const errorResponse = {
  description: "An error: HTTP status and the gRPC code in snake_case.",
  content: { "application/json": { schema: refTo(errorSchemaName) } },
};

function security(authenticated: boolean): Schema[] {
  // An empty requirement makes the token optional on public routes.
  return authenticated ? [{ bearerAuth: [] }] : [{}, { bearerAuth: [] }];
}

/**
 * OpenAPI 3.1 of the public REST API, from the same routes and descriptors the gateway serves:
 * message schemas, path and query parameters, request bodies, security and the error body.
 */
export function buildOpenApiDocument(options: OpenApiOptions): Schema {
  const schemas = new SchemaCollector();
  const paths: Record<string, Record<string, Schema>> = {};
  const operationIds = new Map<string, number>();

  for (const route of options.routes) {
    if (!describableMethods.has(route.httpMethod.toLowerCase())) continue;
    const method = route.method;
    const baseId = `${method.parent.name}_${method.name}`;
    const seen = operationIds.get(baseId) ?? 0;
    operationIds.set(baseId, seen + 1);
    const pathParameters = route.variableFields.map((chain, i) => {
      const parameter: Schema = {
        name: chain.map((f) => f.jsonName).join("."),
        in: "path",
        required: true,
        schema: schemas.fieldSchema(chain[chain.length - 1]!),
      };
      const pattern = variablePattern(route, i);
      // OpenAPI cannot express a parameter spanning segments; say which ones it spans.
      return pattern === "*" ? parameter : { ...parameter, description: `The path segments ${pattern}` };
    });
    const headerParameters = options.policy.isCreating(route)
      ? [{ name: "Idempotency-Key", in: "header", required: false, schema: { type: "string", maxLength: maxIdempotencyKeyLength } }]
      : [];
    const response = route.responseField ? schemas.fieldSchema(route.responseField) : schemas.messageSchema(method.output);
    const body = requestBody(route, schemas);
    const operation: Schema = {
      operationId: seen === 0 ? baseId : `${baseId}_${seen}`,
      summary: `${method.parent.name}.${method.name}`,
      tags: [method.parent.name],
      parameters: [...pathParameters, ...queryParameters(route, schemas), ...headerParameters],
      ...(body ? { requestBody: body } : {}),
      responses: { "200": { description: "OK", content: { "application/json": { schema: response } } }, default: errorResponse },
      security: security(!options.policy.isPublic(method)),
    };
    (paths[openApiPath(route)] ??= {})[route.httpMethod.toLowerCase()] = operation;
  }

  for (const extra of options.extraOperations ?? []) {
    (paths[extra.path] ??= {})[extra.httpMethod.toLowerCase()] = {
      operationId: extra.operationId,
      summary: extra.summary,
      tags: ["Gateway"],
      responses: {
        "200": { description: "OK", content: { "application/json": { schema: schemas.messageSchema(extra.response) } } },
        default: errorResponse,
      },
      security: security(extra.authenticated),
    };
  }

  return {
    openapi: "3.1.0",
    info: { title: options.title ?? "Shop API", version: options.version ?? "1.0.0" },
    paths,
    components: {
      schemas: {
        ...schemas.components,
        [errorSchemaName]: {
          type: "object",
          properties: {
            code: { type: "string", description: "gRPC status code in snake_case, e.g. invalid_argument." },
            message: { type: "string", description: "What went wrong; names the field for bad input." },
            details: { type: "array", items: { type: "object", properties: { "@type": { type: "string" } } } },
          },
          required: ["code", "message", "details"],
        },
      },
      securitySchemes: { bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "JWT" } },
    },
  };
}
