import { type DescField, type DescMessage, type MessageShape, ScalarType } from "@bufbuild/protobuf";
import type { Path } from "@bufbuild/protobuf/reflect";
import { createValidator, violationsToProto } from "@bufbuild/protovalidate";
import { Code, ConnectError } from "@connectrpc/connect";

const validator = createValidator();

/** A field path as a client writes it in JSON: `items[0].quantity`, `shippingAddress.city`. */
export function jsonPath(path: Path): string {
  let out = "";
  for (const item of path) {
    switch (item.kind) {
      case "list_sub":
        out += `[${item.index}]`;
        break;
      case "map_sub":
        out += `[${String(item.key)}]`;
        break;
      case "field":
        out += (out ? "." : "") + item.jsonName;
        break;
      default:
        out += (out ? "." : "") + item.name;
    }
  }
  return out;
}

type Fields = Record<string, unknown>;

const hasNul = (value: unknown) => typeof value === "string" && value.includes("\0");

function nulInValue(field: DescField, value: unknown, path: string): string | undefined {
  switch (field.fieldKind) {
    case "scalar":
      return field.scalar === ScalarType.STRING && hasNul(value) ? path : undefined;
    case "message":
      return value ? nulInMessage(field.message, value as Fields, path) : undefined;
    case "list": {
      const items = value as unknown[];
      for (let i = 0; i < items.length; i++) {
        const at = `${path}[${i}]`;
        const found =
          field.listKind === "message" ? nulInMessage(field.message, items[i] as Fields, at) : hasNul(items[i]) ? at : undefined;
        if (found) return found;
      }
      return undefined;
    }
    case "map":
      for (const [key, entry] of Object.entries(value as Fields)) {
        const at = `${path}[${key}]`;
        if (hasNul(key)) return at;
        const found = field.mapKind === "message" ? nulInMessage(field.message, entry as Fields, at) : hasNul(entry) ? at : undefined;
        if (found) return found;
      }
      return undefined;
    default:
      return undefined;
  }
}

/** The JSON path of the first string in `message` holding a NUL character, which PostgreSQL cannot store. */
function nulInMessage(schema: DescMessage, message: Fields, prefix: string): string | undefined {
  for (const member of schema.members) {
    let field: DescField | undefined = member.kind === "oneof" ? undefined : member;
    let value = message[member.localName];
    if (member.kind === "oneof") {
      const selected = value as { case?: string; value?: unknown };
      field = member.fields.find((f) => f.localName === selected.case);
      value = selected.value;
    }
    if (!field) continue;
    const found = nulInValue(field, value, prefix ? `${prefix}.${field.jsonName}` : field.jsonName);
    if (found) return found;
  }
  return undefined;
}

/**
 * Checks a message against the protovalidate rules in its contract, and that no string holds a
 * NUL character (no text column can store one). Throws INVALID_ARGUMENT whose message names every
 * bad field, with the violations as details.
 */
export function validateMessage<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): void {
  const nul = nulInMessage(schema, message as Fields, "");
  if (nul) throw new ConnectError(`${nul}: must not contain NUL characters`, Code.InvalidArgument);
  const result = validator.validate(schema, message);
  if (result.kind === "valid") return;
  if (result.kind === "error") throw new ConnectError(`validation rules failed: ${result.error.message}`, Code.Internal);
  const text = result.violations.map((v) => `${jsonPath(v.field)}: ${v.message}`).join("; ");
  const [proto, desc] = violationsToProto(result.violations);
  throw new ConnectError(text, Code.InvalidArgument, undefined, [{ desc, value: proto }]);
}
