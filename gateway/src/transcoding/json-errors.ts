import { type DescField, type DescMessage, fromJson, type JsonObject, ScalarType } from "@bufbuild/protobuf";

/** A JSON value the request message cannot take, with the client-side path to it (`items[0].quantity`). */
export interface FieldProblem {
  path: string;
  reason: string;
}

const scalarNames: Record<ScalarType, string> = {
  [ScalarType.DOUBLE]: "double",
  [ScalarType.FLOAT]: "float",
  [ScalarType.INT64]: "int64",
  [ScalarType.UINT64]: "uint64",
  [ScalarType.INT32]: "int32",
  [ScalarType.FIXED64]: "fixed64",
  [ScalarType.FIXED32]: "fixed32",
  [ScalarType.BOOL]: "bool",
  [ScalarType.STRING]: "string",
  [ScalarType.BYTES]: "bytes",
  [ScalarType.UINT32]: "uint32",
  [ScalarType.SFIXED32]: "sfixed32",
  [ScalarType.SFIXED64]: "sfixed64",
  [ScalarType.SINT32]: "sint32",
  [ScalarType.SINT64]: "sint64",
};

const integerScalars = new Set([
  ScalarType.INT32,
  ScalarType.UINT32,
  ScalarType.SINT32,
  ScalarType.FIXED32,
  ScalarType.SFIXED32,
  ScalarType.INT64,
  ScalarType.UINT64,
  ScalarType.SINT64,
  ScalarType.FIXED64,
  ScalarType.SFIXED64,
]);

/** Well-known types have their own JSON forms (a Timestamp is a string); they are checked as a whole. */
export const isWellKnown = (message: DescMessage) => message.typeName.startsWith("google.protobuf.");

export function isIntegerScalar(scalar: ScalarType): boolean {
  return integerScalars.has(scalar);
}

export function describeJsonValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  const text = JSON.stringify(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

/** What a field accepts, in the words of the JSON mapping. */
export function expectationOf(field: DescField): string {
  if (field.enum) return `one of ${field.enum.values.map((v) => v.name).join(", ")}`;
  if (field.message) return field.message.typeName === "google.protobuf.Timestamp" ? "an RFC 3339 timestamp" : "an object";
  switch (field.scalar) {
    case ScalarType.STRING:
      return "a string";
    case ScalarType.BOOL:
      return "true or false";
    case ScalarType.BYTES:
      return "base64-encoded bytes";
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return "a number";
    case undefined:
      return "a value";
    default:
      return `an integer (${scalarNames[field.scalar]})`;
  }
}

function scalarReason(field: DescField, value: unknown): string {
  const scalar = field.scalar;
  const integral = (typeof value === "number" && Number.isInteger(value)) || (typeof value === "string" && /^-?\d+$/.test(value));
  if (scalar !== undefined && isIntegerScalar(scalar) && integral) return `${String(value)} is out of range for ${scalarNames[scalar]}`;
  return `expected ${expectationOf(field)}, got ${describeJsonValue(value)}`;
}

function messageTail(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const at = text.indexOf("from JSON: ");
  return at < 0 ? text : text.slice(at + "from JSON: ".length);
}

const join = (path: string, key: string) => (path ? `${path}.${key}` : key);

/** Decodes just this one field's value with the real decoder; explains the first failure. */
function checkField(owner: DescMessage, field: DescField, value: unknown, path: string, item: unknown): FieldProblem | undefined {
  try {
    fromJson(owner, { [field.jsonName]: value } as JsonObject);
    return undefined;
  } catch (err) {
    if (field.message && isWellKnown(field.message)) return { path, reason: messageTail(err) };
    return { path, reason: scalarReason(field, item) };
  }
}

function locateInValue(owner: DescMessage, field: DescField, value: unknown, path: string): FieldProblem | undefined {
  if (value === null) return undefined;
  switch (field.fieldKind) {
    case "message":
      return isWellKnown(field.message) ? checkField(owner, field, value, path, value) : locateInMessage(field.message, value, path);
    case "list": {
      if (!Array.isArray(value)) return { path, reason: `expected an array, got ${describeJsonValue(value)}` };
      for (let i = 0; i < value.length; i++) {
        const item: unknown = value[i];
        const at = `${path}[${i}]`;
        if (item === null) return { path: at, reason: "must not be null" };
        const problem =
          field.listKind === "message" && !isWellKnown(field.message)
            ? locateInMessage(field.message, item, at)
            : checkField(owner, field, [item], at, item);
        if (problem) return problem;
      }
      return undefined;
    }
    case "map": {
      if (typeof value !== "object" || Array.isArray(value)) return { path, reason: `expected an object, got ${describeJsonValue(value)}` };
      for (const [key, entry] of Object.entries(value)) {
        const at = `${path}[${JSON.stringify(key)}]`;
        const problem =
          field.mapKind === "message" && !isWellKnown(field.message) && entry !== null
            ? locateInMessage(field.message, entry, at)
            : checkField(owner, field, { [key]: entry }, at, entry);
        if (problem) return problem;
      }
      return undefined;
    }
    default:
      return checkField(owner, field, value, path, value);
  }
}

function locateInMessage(schema: DescMessage, json: unknown, path: string): FieldProblem | undefined {
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    return { path: path || "body", reason: `expected an object, got ${describeJsonValue(json)}` };
  }
  const seen = new Set<DescField>();
  for (const [key, value] of Object.entries(json)) {
    const field = schema.fields.find((f) => f.jsonName === key || f.name === key);
    const at = join(path, key);
    if (!field) return { path: at, reason: "unknown field" };
    if (seen.has(field)) return { path: at, reason: "is set more than once" };
    seen.add(field);
    const problem = locateInValue(schema, field, value, at);
    if (problem) return problem;
  }
  return undefined;
}

/**
 * Explains why `fromJson(schema, json)` failed, naming the offending field by its JSON path.
 * Runs only on the error path, so it may decode field by field.
 */
export function explainJsonError(schema: DescMessage, json: unknown, err: unknown): FieldProblem {
  return locateInMessage(schema, json, "") ?? { path: "body", reason: messageTail(err) };
}
