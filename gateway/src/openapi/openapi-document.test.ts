import { Validator } from "@seriousme/openapi-schema-validator";
import { shopServices } from "@shop/contracts";
import { MeSummarySchema } from "@shop/contracts/shop/gateway/v1/summary_pb.js";
import { describe, expect, it } from "vitest";
import { resolveRoutePolicy } from "../routing/route-policy.js";
import { RouteTable, routesFromAnnotations } from "../routing/route-table.js";
import { LibraryService } from "../testing/library-api.js";
import { buildOpenApiDocument } from "./openapi-document.js";

type Doc = { paths: Record<string, Record<string, any>>; components: { schemas: Record<string, any> } };

const shopRoutes = new RouteTable(routesFromAnnotations(shopServices));
const shopDocument = buildOpenApiDocument({
  routes: shopRoutes.routes,
  policy: resolveRoutePolicy(shopRoutes),
  extraOperations: [
    {
      httpMethod: "GET",
      path: "/v1/me/summary",
      operationId: "Gateway_GetMeSummary",
      summary: "summary",
      response: MeSummarySchema,
      authenticated: true,
    },
  ],
}) as unknown as Doc;

const libraryRoutes = new RouteTable(routesFromAnnotations({ library: LibraryService }));
const libraryDocument = buildOpenApiDocument({
  routes: libraryRoutes.routes,
  policy: resolveRoutePolicy(libraryRoutes, { creatingRoutes: [] }),
}) as unknown as Doc;

async function validate(document: Doc) {
  return new Validator().validate(document as never);
}

describe("the OpenAPI document generated from the contracts", () => {
  it("is valid OpenAPI 3.1 for the shop", async () => {
    const result = await validate(shopDocument);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect((shopDocument as unknown as { openapi: string }).openapi).toBe("3.1.0");
  });

  it("is valid OpenAPI 3.1 for every binding rule", async () => {
    const result = await validate(libraryDocument);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
  });

  it("documents every REST call of the public API", () => {
    const operations = Object.entries(shopDocument.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect(operations.sort()).toEqual(
      [
        "POST /v1/users",
        "POST /v1/auth/token",
        "GET /v1/users/{userId}",
        "POST /v1/products",
        "GET /v1/products",
        "GET /v1/products/{productId}",
        "PUT /v1/products/{productId}/price",
        "PUT /v1/products/{productId}/stock",
        "GET /v1/products/{productId}/stock",
        "POST /v1/orders",
        "GET /v1/orders/{orderId}",
        "GET /v1/orders",
        "POST /v1/orders/{orderId}:cancel",
        "GET /v1/orders/{orderId}/shipment",
        "GET /v1/orders/{orderId}/payment",
        "GET /v1/notifications",
        "GET /v1/me/summary",
      ].sort(),
    );
  });

  it("describes parameters, bodies, responses, security and errors", () => {
    const getProduct = shopDocument.paths["/v1/products/{productId}"]!.get;
    expect(getProduct.parameters).toEqual([{ name: "productId", in: "path", required: true, schema: { type: "string" } }]);
    expect(getProduct.responses["200"].content["application/json"].schema).toEqual({
      $ref: "#/components/schemas/shop.catalog.v1.GetProductResponse",
    });
    expect(getProduct.responses.default.content["application/json"].schema).toEqual({ $ref: "#/components/schemas/Error" });
    expect(getProduct.security).toEqual([{}, { bearerAuth: [] }]);

    const listProducts = shopDocument.paths["/v1/products"]!.get;
    expect(listProducts.parameters.map((p: { name: string; in: string }) => `${p.in}:${p.name}`)).toEqual([
      "query:pageSize",
      "query:pageToken",
    ]);

    const setStock = shopDocument.paths["/v1/products/{productId}/stock"]!.put;
    expect(setStock.security).toEqual([{ bearerAuth: [] }]);
    expect(Object.keys(setStock.requestBody.content["application/json"].schema.properties)).toEqual(["quantity"]);

    const placeOrder = shopDocument.paths["/v1/orders"]!.post;
    expect(placeOrder.parameters).toContainEqual(expect.objectContaining({ name: "Idempotency-Key", in: "header" }));

    const money = shopDocument.components.schemas["shop.common.v1.Money"];
    expect(money.properties).toEqual({
      currencyCode: { type: "string" },
      amountMinor: { type: "string", format: "int64", pattern: "^-?[0-9]+$" },
    });
    expect(shopDocument.components.schemas["shop.orders.v1.OrderStatus"].enum).toContain("ORDER_STATUS_CONFIRMED");
    expect(shopDocument.components.schemas["shop.catalog.v1.Product"].properties.createTime).toEqual({
      type: "string",
      format: "date-time",
    });
    expect(shopDocument.components.schemas.Error.required).toEqual(["code", "message", "details"]);
  });

  it("lists nested and repeated query parameters by dotted JSON name", () => {
    const listBooks = libraryDocument.paths["/v1/shelves/{shelf}/books"]!.get;
    const names = listBooks.parameters.map((p: { name: string }) => p.name);
    expect(names).toEqual(
      expect.arrayContaining([
        "shelf",
        "pageSize",
        "filter.author",
        "filter.tags",
        "filter.nested.author",
        "genres",
        "filter.publishedAfter",
      ]),
    );
    expect(listBooks.parameters.find((p: { name: string }) => p.name === "filter.tags")).toMatchObject({
      explode: true,
      schema: { type: "array" },
    });
  });

  it("maps variables, verbs, body fields and response bodies", () => {
    expect(Object.keys(libraryDocument.paths)).toEqual(
      expect.arrayContaining(["/v1/{name}", "/v1/{book.name}", "/v1/{name}:archive", "/v1/files/{path}"]),
    );
    expect(libraryDocument.paths["/v1/books:search"]).toBeUndefined();
    const update = libraryDocument.paths["/v1/{book.name}"]!.patch;
    expect(update.requestBody.content["application/json"].schema).toEqual({ $ref: "#/components/schemas/test.library.v1.Book" });
    const stats = libraryDocument.paths["/v1/shelves/{shelf}/stats"]!.get;
    expect(stats.responses["200"].content["application/json"].schema).toEqual({ $ref: "#/components/schemas/test.library.v1.ShelfStats" });
    expect(libraryDocument.components.schemas["test.library.v1.ShelfStats"].properties.labels).toEqual({
      type: "object",
      additionalProperties: { type: "integer", format: "int32" },
    });
    expect(libraryDocument.paths["/v1/books"]!.post.operationId).toBe("LibraryService_CreateBook_1");
  });
});
