import { describe, expect, it } from "vitest";
import { decodeVariable, matchPathTemplate, parsePathTemplate, TemplateSyntaxError } from "./path-template.js";

const segmentsOf = (path: string) => path.slice(1).split("/");

describe("parsePathTemplate", () => {
  it("parses literals, a variable and a verb", () => {
    const template = parsePathTemplate("/v1/orders/{order_id}:cancel");
    expect(template.segments).toEqual([{ kind: "literal", value: "v1" }, { kind: "literal", value: "orders" }, { kind: "single" }]);
    expect(template.variables).toEqual([{ fieldPath: ["order_id"], start: 2, end: 3 }]);
    expect(template.verb).toBe("cancel");
  });

  it("parses a variable over several segments and a nested field path", () => {
    const template = parsePathTemplate("/v1/{book.name=shelves/*/books/*}");
    expect(template.variables).toEqual([{ fieldPath: ["book", "name"], start: 1, end: 5 }]);
    expect(template.segments.slice(1)).toEqual([
      { kind: "literal", value: "shelves" },
      { kind: "single" },
      { kind: "literal", value: "books" },
      { kind: "single" },
    ]);
    expect(template.verb).toBeUndefined();
  });

  it("parses a trailing ** and a verb after a variable", () => {
    expect(parsePathTemplate("/v1/files/{path=**}").segments[2]).toEqual({ kind: "deep" });
    expect(parsePathTemplate("/v1/{name=shelves/*}:archive").verb).toBe("archive");
  });

  it.each([
    ["v1/products", "must start with /"],
    ["/v1//products", "invalid segment"],
    ["/v1/products/", "invalid segment"],
    ["/v1/{id", "unclosed variable"],
    ["/v1/{a={b}}", "nested variables"],
    ["/v1/{1abc}", "invalid field path"],
    ["/v1/**/x", "** must be the last segment"],
    ["/v1/{id}/{id}", "appears twice"],
    ["/v1/{id}x", "expected /"],
  ])("rejects %s", (source, reason) => {
    expect(() => parsePathTemplate(source)).toThrow(TemplateSyntaxError);
    expect(() => parsePathTemplate(source)).toThrow(reason);
  });
});

describe("matchPathTemplate", () => {
  it("captures variables in template order", () => {
    const template = parsePathTemplate("/v1/shelves/{shelf}/books/{book}");
    expect(matchPathTemplate(template, segmentsOf("/v1/shelves/s1/books/b2"))).toEqual(["s1", "b2"]);
  });

  it("captures a multi-segment variable as one value", () => {
    const template = parsePathTemplate("/v1/{name=shelves/*/books/*}");
    expect(matchPathTemplate(template, segmentsOf("/v1/shelves/s1/books/b2"))).toEqual(["shelves/s1/books/b2"]);
    expect(matchPathTemplate(template, segmentsOf("/v1/shelves/s1/notes/b2"))).toBeUndefined();
  });

  it("lets ** take zero or more segments", () => {
    const template = parsePathTemplate("/v1/files/{path=**}");
    expect(matchPathTemplate(template, segmentsOf("/v1/files/a/b/c.txt"))).toEqual(["a/b/c.txt"]);
    expect(matchPathTemplate(template, segmentsOf("/v1/files"))).toEqual([""]);
  });

  it("rejects other lengths, other literals and empty segments", () => {
    const template = parsePathTemplate("/v1/products/{product_id}");
    expect(matchPathTemplate(template, segmentsOf("/v1/products"))).toBeUndefined();
    expect(matchPathTemplate(template, segmentsOf("/v1/products/a/b"))).toBeUndefined();
    expect(matchPathTemplate(template, segmentsOf("/v1/orders/a"))).toBeUndefined();
    expect(matchPathTemplate(template, segmentsOf("/v1/products/"))).toBeUndefined();
  });
});

describe("decodeVariable", () => {
  it("decodes a single segment fully", () => {
    expect(decodeVariable("a%20b%2Fc")).toBe("a b/c");
  });

  it("keeps %2F inside a multi-segment value", () => {
    expect(decodeVariable("shelves/a%2Fb/books/x%20y")).toBe("shelves/a%2Fb/books/x y");
  });

  it("throws on malformed percent-encoding", () => {
    expect(() => decodeVariable("%E0%A4%A")).toThrow(URIError);
  });
});
