import type { JsonValue } from "@bufbuild/protobuf";
import { errors } from "@shop/runtime";

/** Deeper than any message of the contracts nests; a body past it is refused before it is walked. */
export const maxJsonDepth = 64;

const whitespace = new Set([0x20, 0x09, 0x0a, 0x0d]);

/**
 * Walks JSON text that `JSON.parse` accepted, for what it lets pass: a key an object repeats
 * (JSON.parse keeps the last, so two parsers could read the body differently) and nesting past
 * `maxJsonDepth`. Answers the JSON path of the first problem.
 */
function problemIn(text: string): { path: string; problem: "duplicate" | "depth" } | undefined {
  let i = 0;
  const skipWhitespace = () => {
    while (whitespace.has(text.charCodeAt(i))) i++;
  };
  const readString = (): string => {
    const start = i++;
    let escaped = false;
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 0x5c) {
        escaped = true;
        i += 2;
      } else if (c === 0x22) {
        break;
      } else {
        i++;
      }
    }
    i++;
    return escaped ? (JSON.parse(text.slice(start, i)) as string) : text.slice(start + 1, i - 1);
  };
  const value = (path: string, depth: number): ReturnType<typeof problemIn> => {
    skipWhitespace();
    const c = text.charCodeAt(i);
    if (c === 0x7b || c === 0x5b) {
      if (depth >= maxJsonDepth) return { path: path || "body", problem: "depth" };
      i++;
      skipWhitespace();
      const close = c === 0x7b ? 0x7d : 0x5d;
      if (text.charCodeAt(i) === close) {
        i++;
        return undefined;
      }
      const keys = c === 0x7b ? new Set<string>() : undefined;
      for (let index = 0; ; index++) {
        let at: string;
        if (keys) {
          skipWhitespace();
          const key = readString();
          at = path ? `${path}.${key}` : key;
          if (keys.has(key)) return { path: at, problem: "duplicate" };
          keys.add(key);
          skipWhitespace();
          i++;
        } else {
          at = `${path}[${index}]`;
        }
        const found = value(at, depth + 1);
        if (found) return found;
        skipWhitespace();
        if (text.charCodeAt(i++) !== 0x2c) return undefined;
      }
    }
    if (c === 0x22) {
      readString();
      return undefined;
    }
    while (i < text.length && !whitespace.has(text.charCodeAt(i)) && !",]}".includes(text[i]!)) i++;
    return undefined;
  };
  return value("", 0);
}

/**
 * JSON as the gateway reads it from clients: well-formed, no key given twice in one object, no
 * deeper than `maxJsonDepth`; INVALID_ARGUMENT naming the problem otherwise.
 */
export function parseStrictJson(text: string, what = "body"): JsonValue {
  let value: JsonValue;
  try {
    value = JSON.parse(text) as JsonValue;
  } catch (err) {
    throw errors.invalidArgument(what, `malformed JSON (${(err as Error).message})`);
  }
  if (typeof value === "object" && value !== null) {
    const found = problemIn(text);
    if (found?.problem === "duplicate") throw errors.invalidArgument(found.path, "is given more than once in the JSON");
    if (found) throw errors.invalidArgument(what, `nests deeper than ${maxJsonDepth} levels at ${found.path}`);
  }
  return value;
}
