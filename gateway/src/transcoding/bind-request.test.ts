import { create, createRegistry, fromJson, type Message, toJson } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { shopServices } from "@shop/contracts";
import { describe, expect, it } from "vitest";
import { RouteTable, routesFromAnnotations } from "../routing/route-table.js";
import { LibraryService, libraryMessage } from "../testing/library-api.js";
import { bindRequest } from "./bind-request.js";
import { renderResponse } from "./render-response.js";

const library = new RouteTable(routesFromAnnotations({ library: LibraryService }));
const shop = new RouteTable(routesFromAnnotations(shopServices));

function found(table: RouteTable, method: string, path: string) {
  const match = table.match(method, path);
  if (match.kind !== "found") throw new Error(`${method} ${path}: ${match.kind}`);
  return match;
}

function bind(table: RouteTable, method: string, url: string, body?: unknown): Record<string, unknown> {
  const [path, query = ""] = url.split("?", 2) as [string, string?];
  const match = found(table, method, path);
  const bytes = body === undefined ? undefined : Buffer.from(typeof body === "string" ? body : JSON.stringify(body));
  const message: Message = bindRequest(match.route, { variables: match.variables, query, body: bytes });
  return toJson(match.route.method.input, message as never) as Record<string, unknown>;
}

function bindError(table: RouteTable, method: string, url: string, body?: unknown): string {
  try {
    bind(table, method, url, body);
  } catch (err) {
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.InvalidArgument);
    return (err as ConnectError).rawMessage;
  }
  throw new Error("expected the binding to fail");
}

describe("binding a request message from path, query and body", () => {
  it("takes a multi-segment path variable", () => {
    expect(bind(library, "GET", "/v1/shelves/s1/books/b%201")).toEqual({ name: "shelves/s1/books/b 1" });
  });

  it("takes nested and repeated query parameters by JSON or proto name", () => {
    const json = bind(
      library,
      "GET",
      "/v1/shelves/s1/books?pageSize=10&filter.author=Ann&filter.tags=a&filter.tags=b&filter.in_print=true" +
        "&filter.publishedAfter=2024-01-01T00:00:00Z&filter.minRating=4.5&filter.minIsbn=9780000000000" +
        "&filter.nested.author=Bob&genres=GENRE_FICTION&genres=2",
    );
    expect(json).toEqual({
      shelf: "s1",
      pageSize: 10,
      filter: {
        author: "Ann",
        tags: ["a", "b"],
        inPrint: true,
        publishedAfter: "2024-01-01T00:00:00Z",
        minRating: 4.5,
        minIsbn: "9780000000000",
        nested: { author: "Bob" },
      },
      genres: ["GENRE_FICTION", "GENRE_HISTORY"],
    });
  });

  it("puts the body into the annotated field and the rest into path and query", () => {
    expect(bind(library, "POST", "/v1/shelves/s1/books?requestId=r1", { title: "Dune", pages: 412 })).toEqual({
      shelf: "s1",
      book: { title: "Dune", pages: 412 },
      requestId: "r1",
    });
  });

  it("sets a nested path variable inside the body field", () => {
    expect(bind(library, "PATCH", "/v1/shelves/s1/books/b1?validateOnly=true", { title: "New" })).toEqual({
      book: { name: "shelves/s1/books/b1", title: "New" },
      validateOnly: true,
    });
  });

  it('takes the whole body for body "*" and treats an empty body as an empty message', () => {
    expect(bind(library, "POST", "/v1/books", { shelf: "s2", book: { title: "T" } })).toEqual({ shelf: "s2", book: { title: "T" } });
    expect(bind(library, "POST", "/v1/shelves/s1/books/b1:archive")).toEqual({ name: "shelves/s1/books/b1" });
    expect(bind(shop, "POST", "/v1/orders/0b7e1c2a-2f4c-4d0e-9a53-7d0c9f3f9a11:cancel", "")).toEqual({
      orderId: "0b7e1c2a-2f4c-4d0e-9a53-7d0c9f3f9a11",
    });
  });

  it("binds the shop's routes", () => {
    expect(bind(shop, "GET", "/v1/products?pageSize=5&pageToken=abc")).toEqual({ pageSize: 5, pageToken: "abc" });
    expect(bind(shop, "PUT", "/v1/products/p1/price", { currencyCode: "USD", amountMinor: "1999" })).toEqual({
      productId: "p1",
      price: { currencyCode: "USD", amountMinor: "1999" },
    });
    expect(bind(shop, "PUT", "/v1/products/p1/stock", { quantity: 7 })).toEqual({ productId: "p1", quantity: 7 });
  });
});

describe("strict binding: every refusal names the field", () => {
  it.each([
    ["an unknown JSON field", "POST", "/v1/books", { shelf: "s", colour: "red" }, "colour: unknown field"],
    ["an unknown nested JSON field", "POST", "/v1/books", { book: { title: "T", blurb: "x" } }, "book.blurb: unknown field"],
    ["a wrong JSON type", "POST", "/v1/books", { book: { pages: "many" } }, 'book.pages: expected an integer (int32), got "many"'],
    ["an out-of-range number", "POST", "/v1/books", { book: { pages: 3_000_000_000 } }, "book.pages: 3000000000 is out of range for int32"],
    ["a fractional integer", "POST", "/v1/books", { book: { pages: 1.5 } }, "book.pages: expected an integer (int32), got 1.5"],
    ["a bad int64", "POST", "/v1/books", { book: { isbn: "12x" } }, 'book.isbn: expected an integer (int64), got "12x"'],
    [
      "a bad enum",
      "POST",
      "/v1/books",
      { book: { genre: "GENRE_POETRY" } },
      "book.genre: expected one of GENRE_UNSPECIFIED, GENRE_FICTION, GENRE_HISTORY",
    ],
    ["a bad timestamp", "POST", "/v1/books", { book: { publishedTime: "yesterday" } }, "book.publishedTime: invalid RFC 3339 string"],
    ["a string for a list", "POST", "/v1/books", { book: { tags: "a" } }, 'book.tags: expected an array, got "a"'],
    ["a bad list item", "POST", "/v1/books", { book: { tags: ["a", 7] } }, "book.tags[1]: expected a string, got 7"],
    ["a null list item", "POST", "/v1/books", { book: { tags: [null] } }, "book.tags[0]: must not be null"],
    ["an object for a string", "POST", "/v1/books", { shelf: { x: 1 } }, "shelf: expected a string, got an object"],
    ["a field set twice", "POST", "/v1/books", { request_id: "a", requestId: "b" }, "requestId: is set more than once"],
    ["a JSON array as the body", "POST", "/v1/books", [1, 2], "body: expected a JSON object, got an array"],
    ["malformed JSON", "POST", "/v1/books", '{"shelf": ', "body: malformed JSON"],
    ["a path field repeated in the body", "POST", "/v1/shelves/s/books/b:archive", { name: "x" }, "name: is set by the URL path"],
    ['a query parameter on a body-"*" route', "POST", "/v1/books?shelf=s", {}, "shelf: unknown query parameter"],
    ["an unknown query parameter", "GET", "/v1/shelves/s/books?sort=asc", undefined, "sort: unknown query parameter"],
    ["a query parameter naming a message", "GET", "/v1/shelves/s/books?filter=x", undefined, "filter: unknown query parameter"],
    ["a query parameter bound by the path", "GET", "/v1/shelves/s/books?shelf=t", undefined, "shelf: is set by the URL path"],
    [
      "a non-repeated query parameter twice",
      "GET",
      "/v1/shelves/s/books?pageSize=1&pageSize=2",
      undefined,
      "pageSize: is given more than once",
    ],
    [
      "a non-decimal integer in the query",
      "GET",
      "/v1/shelves/s/books?pageSize=0x10",
      undefined,
      'pageSize: expected an integer (int32), got "0x10"',
    ],
    [
      "an out-of-range query integer",
      "GET",
      "/v1/shelves/s/books?pageSize=99999999999",
      undefined,
      "pageSize: 99999999999 is out of range for int32",
    ],
    [
      "a bad query boolean",
      "GET",
      "/v1/shelves/s/books?filter.inPrint=yes",
      undefined,
      'filter.inPrint: expected true or false, got "yes"',
    ],
    ["a bad query enum", "GET", "/v1/shelves/s/books?genres=POETRY", undefined, "genres[0]: expected one of GENRE_UNSPECIFIED"],
    [
      "a bad query timestamp",
      "GET",
      "/v1/shelves/s/books?filter.publishedAfter=soon",
      undefined,
      "filter.publishedAfter: invalid RFC 3339 string",
    ],
    ["a body on a route without one", "GET", "/v1/shelves/s/books", { x: 1 }, "body: GET /v1/shelves/{shelf}/books takes no request body"],
    ["bad percent-encoding in the path", "GET", "/v1/shelves/%E0%A4%A/books", undefined, "shelf: is not valid percent-encoding"],
    ["a body field in a body-field route", "POST", "/v1/shelves/s/books", { shelf: "x" }, "book.shelf: unknown field"],
  ])("refuses %s", (_case, method, url, body, message) => {
    expect(bindError(library, method, url, body)).toContain(message);
  });
});

describe("rendering a response", () => {
  const registry = createRegistry(LibraryService.file);

  it("writes fields at their default value and 64-bit integers as strings", () => {
    const { route } = found(library, "GET", "/v1/files/a");
    const file = fromJson(libraryMessage("File"), { path: "a", size: "12" });
    expect(JSON.parse(renderResponse(route, file, registry))).toEqual({ path: "a", size: "12" });
    expect(JSON.parse(renderResponse(route, create(libraryMessage("File")), registry))).toEqual({ path: "", size: "0" });
  });

  it("sends only the response_body field when one is annotated", () => {
    const { route } = found(library, "GET", "/v1/shelves/s/stats");
    const response = fromJson(libraryMessage("GetShelfStatsResponse"), { stats: { bookCount: 3, labels: { new: 2 } }, computedBy: "x" });
    expect(JSON.parse(renderResponse(route, response, registry))).toEqual({ bookCount: 3, labels: { new: 2 } });
  });
});
