/**
 * Path templates of `google.api.http` (google/api/http.proto):
 *
 *   Template = "/" Segments [ Verb ] ;  Segments = Segment { "/" Segment } ;
 *   Segment  = "*" | "**" | LITERAL | Variable ;  Variable = "{" FieldPath [ "=" Segments ] "}" ;
 *   Verb     = ":" LITERAL ;
 */

export type TemplateSegment = { kind: "literal"; value: string } | { kind: "single" } | { kind: "deep" };

export interface TemplateVariable {
  /** Proto field names from the request message down to the bound field. */
  fieldPath: string[];
  /** Segments the variable captures: [start, end); a trailing `**` extends to the end of the path. */
  start: number;
  end: number;
}

export interface PathTemplate {
  source: string;
  segments: TemplateSegment[];
  variables: TemplateVariable[];
  verb?: string;
}

export class TemplateSyntaxError extends Error {
  constructor(source: string, reason: string) {
    super(`path template "${source}": ${reason}`);
    this.name = "TemplateSyntaxError";
  }
}

const literalPattern = /^[A-Za-z0-9._~%!$&'()+,;@-]+$/;
const fieldPathPattern = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

function parseSegment(source: string, text: string): TemplateSegment {
  if (text === "*") return { kind: "single" };
  if (text === "**") return { kind: "deep" };
  if (!literalPattern.test(text)) throw new TemplateSyntaxError(source, `invalid segment "${text}"`);
  return { kind: "literal", value: text };
}

/** The verb is the part after the last ':' that follows the last '/' and the last '}'. */
function splitVerb(source: string): { path: string; verb?: string } {
  const colon = source.lastIndexOf(":");
  if (colon > source.lastIndexOf("/") && colon > source.lastIndexOf("}")) {
    const verb = source.slice(colon + 1);
    if (!literalPattern.test(verb)) throw new TemplateSyntaxError(source, `invalid verb "${verb}"`);
    return { path: source.slice(0, colon), verb };
  }
  return { path: source };
}

export function parsePathTemplate(source: string): PathTemplate {
  if (!source.startsWith("/")) throw new TemplateSyntaxError(source, "must start with /");
  const { path, verb } = splitVerb(source);
  const segments: TemplateSegment[] = [];
  const variables: TemplateVariable[] = [];
  let pos = 1;
  while (pos <= path.length) {
    if (path[pos] === "{") {
      const close = path.indexOf("}", pos);
      if (close < 0) throw new TemplateSyntaxError(source, "unclosed variable");
      const inner = path.slice(pos + 1, close);
      if (inner.includes("{")) throw new TemplateSyntaxError(source, "nested variables are not allowed");
      const [fieldPath, pattern = "*"] = inner.split("=", 2) as [string, string?];
      if (!fieldPathPattern.test(fieldPath)) throw new TemplateSyntaxError(source, `invalid field path "${fieldPath}"`);
      const start = segments.length;
      for (const part of pattern.split("/")) segments.push(parseSegment(source, part));
      variables.push({ fieldPath: fieldPath.split("."), start, end: segments.length });
      pos = close + 1;
    } else {
      const slash = path.indexOf("/", pos);
      const end = slash < 0 ? path.length : slash;
      segments.push(parseSegment(source, path.slice(pos, end)));
      pos = end;
    }
    if (pos < path.length && path[pos] !== "/") throw new TemplateSyntaxError(source, `expected / at offset ${pos}`);
    pos += 1;
  }
  const deep = segments.findIndex((s) => s.kind === "deep");
  if (deep >= 0 && deep !== segments.length - 1) throw new TemplateSyntaxError(source, "** must be the last segment");
  const names = variables.map((v) => v.fieldPath.join("."));
  const repeated = names.find((name, i) => names.indexOf(name) !== i);
  if (repeated) throw new TemplateSyntaxError(source, `variable ${repeated} appears twice`);
  return { source, segments, variables, verb };
}

/**
 * Matches the segments of a request path (split on '/', verb already removed) and returns the
 * raw, still percent-encoded value of each variable in template order.
 */
export function matchPathTemplate(template: PathTemplate, segments: readonly string[]): string[] | undefined {
  const pattern = template.segments;
  const deep = pattern.length > 0 && pattern[pattern.length - 1]!.kind === "deep";
  if (deep ? segments.length < pattern.length - 1 : segments.length !== pattern.length) return undefined;
  for (let i = 0; i < pattern.length; i++) {
    const expected = pattern[i]!;
    if (expected.kind === "deep") break;
    const actual = segments[i]!;
    if (actual === "") return undefined;
    if (expected.kind === "literal" && expected.value !== actual) return undefined;
  }
  return template.variables.map((variable) => {
    const end = deep && variable.end === pattern.length ? segments.length : variable.end;
    return segments.slice(variable.start, end).join("/");
  });
}

/**
 * Decodes a captured value. One segment decodes fully; several keep `%2F` so a slash that was
 * part of a segment stays distinguishable from a separator (http.proto "reserved expansion").
 */
export function decodeVariable(raw: string): string {
  if (!raw.includes("/")) return decodeURIComponent(raw);
  return raw
    .split("/")
    .map((segment) => segment.split(/%2F/i).map(decodeURIComponent).join("%2F"))
    .join("/");
}

/** How specific a template is, so `/v1/users/me` wins over `/v1/users/{user_id}`. */
export function specificity(template: PathTemplate): number[] {
  return [...template.segments.map((s) => (s.kind === "literal" ? 2 : s.kind === "single" ? 1 : 0)), template.verb === undefined ? 0 : 1];
}
