import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
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

/**
 * Checks a message against the protovalidate rules in its contract. Throws
 * INVALID_ARGUMENT whose message names every bad field, with the violations as details.
 */
export function validateMessage<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): void {
  const result = validator.validate(schema, message);
  if (result.kind === "valid") return;
  if (result.kind === "error") throw new ConnectError(`validation rules failed: ${result.error.message}`, Code.Internal);
  const text = result.violations.map((v) => `${jsonPath(v.field)}: ${v.message}`).join("; ");
  const [proto, desc] = violationsToProto(result.violations);
  throw new ConnectError(text, Code.InvalidArgument, undefined, [{ desc, value: proto }]);
}
