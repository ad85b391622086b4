/**
 * The floor of each hop of `GET /v1/products/{id}`: the same work with the libraries alone, none
 * of the runtime's or the gateway's layers (no request context, validation, metrics, spans, logs,
 * auth or limits). What the shipped stack costs above these is the price of its features.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { create, fromBinary, fromJson, toBinary, toJson } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import {
  CatalogService,
  type GetProductRequest,
  GetProductRequestSchema,
  type GetProductResponse,
  GetProductResponseSchema,
} from "@shop/contracts/shop/catalog/v1/catalog_pb.js";
import { createSqlDatabase } from "@shop/runtime";
import { ProductRepository } from "../../services/catalog/src/db/products.js";
import { toProductMessage } from "../../services/catalog/src/handlers/catalog-handlers.js";
import type { ServedByChild } from "./child-server.js";

const getProduct = CatalogService.method.getProduct;
const getProductPath = `/${CatalogService.typeName}/${getProduct.name}`;

/** A plain @grpc/grpc-js server answering GetProduct through the catalog's own repository. */
export async function serveBareCatalog(databaseUrl: string): Promise<ServedByChild> {
  const db = createSqlDatabase(databaseUrl);
  const products = new ProductRepository(db);
  const server = new grpc.Server();
  const definition: grpc.ServiceDefinition = {
    getProduct: {
      path: getProductPath,
      requestStream: false,
      responseStream: false,
      requestSerialize: (message: GetProductRequest) => Buffer.from(toBinary(GetProductRequestSchema, message)),
      requestDeserialize: (bytes: Buffer) => fromBinary(GetProductRequestSchema, bytes),
      responseSerialize: (message: GetProductResponse) => Buffer.from(toBinary(GetProductResponseSchema, message)),
      responseDeserialize: (bytes: Buffer) => fromBinary(GetProductResponseSchema, bytes),
    },
  };
  server.addService(definition, {
    getProduct(call: grpc.ServerUnaryCall<GetProductRequest, GetProductResponse>, callback: grpc.sendUnaryData<GetProductResponse>) {
      products.get(call.request.productId).then(
        (product) =>
          product
            ? callback(null, create(GetProductResponseSchema, { product: toProductMessage(product) }))
            : callback({ code: grpc.status.NOT_FOUND, details: `product ${call.request.productId} not found` }),
        (err: unknown) => callback({ code: grpc.status.INTERNAL, details: String(err) }),
      );
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
  );
  return {
    port,
    close: async () => {
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      await db.close();
    },
  };
}

const productPath = /^\/v1\/products\/([^/?]+)$/;

/**
 * A plain transcoder for this one route on node:http: match the path, build the request message
 * from JSON, one @grpc/grpc-js call, the response as canonical JSON.
 */
export async function serveBareTranscoder(upstreamAddress: string): Promise<ServedByChild> {
  const client = new grpc.Client(upstreamAddress, grpc.credentials.createInsecure());
  const serialize = (message: GetProductRequest) => Buffer.from(toBinary(GetProductRequestSchema, message));
  const deserialize = (bytes: Buffer) => fromBinary(GetProductResponseSchema, bytes);
  const reply = (res: http.ServerResponse, status: number, body: string) =>
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) }).end(body);
  const server = http.createServer((req, res) => {
    const match = productPath.exec(req.url ?? "");
    if (req.method !== "GET" || !match) return reply(res, 404, '{"code":"not_found","message":"no route"}');
    const request = fromJson(GetProductRequestSchema, { productId: decodeURIComponent(match[1]!) });
    client.makeUnaryRequest(getProductPath, serialize, deserialize, request, (err, response?: GetProductResponse) => {
      if (err || !response) return reply(res, 502, JSON.stringify({ code: "unavailable", message: err?.details ?? "no response" }));
      reply(res, 200, JSON.stringify(toJson(GetProductResponseSchema, response)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      client.close();
    },
  };
}
