import { clone, create, createFileRegistry, type DescFile, type DescMethod, toBinary } from "@bufbuild/protobuf";
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FieldDescriptorProtoSchema,
  type FileDescriptorProto,
  FileDescriptorProtoSchema,
  MethodDescriptorProtoSchema,
} from "@bufbuild/protobuf/wkt";
import { file_buf_validate_validate } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import * as grpc from "@grpc/grpc-js";
import { ReflectionService } from "@grpc/reflection";
import { type ShopContext, shopFiles } from "@shop/contracts";
import { file_google_api_annotations } from "@shop/contracts/google/api/annotations_pb.js";
import { CatalogService, file_shop_catalog_v1_catalog } from "@shop/contracts/shop/catalog/v1/catalog_pb.js";
import { file_shop_users_v1_users, UserService } from "@shop/contracts/shop/users/v1/users_pb.js";
import { contexts, createLogger, fileDescriptorSet } from "@shop/runtime";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { closedAddress, startGateway } from "../testing/running-gateway.js";
import { compareServedMethods } from "./compare-descriptors.js";
import { ContractMonitor } from "./contract-monitor.js";

const catalogMethods: DescMethod[] = [
  CatalogService.method.createProduct,
  CatalogService.method.getProduct,
  CatalogService.method.listProducts,
  CatalogService.method.updateProductPrice,
];
const userMethods: DescMethod[] = [UserService.method.registerUser, UserService.method.createToken, UserService.method.getUser];

type Edit = (file: FileDescriptorProto) => void;

const allClosed = Object.fromEntries(contexts.map((context) => [context, closedAddress])) as Record<ShopContext, string>;

const message = (file: FileDescriptorProto, name: string) => file.messageType.find((m) => m.name === name)!;
const field = (file: FileDescriptorProto, messageName: string, fieldName: string) =>
  message(file, messageName).field.find((f) => f.name === fieldName)!;

/** The real descriptor of `file`, edited: what an upstream built from other contracts would serve. */
function edited(file: DescFile, edit: Edit): FileDescriptorProto {
  const proto = clone(FileDescriptorProtoSchema, file.proto);
  edit(proto);
  return proto;
}

/** Every file the contracts import, to resolve the imports of an edited file. */
const knownFiles = new Map<string, DescFile>();
const know = (file: DescFile): void => {
  if (knownFiles.has(file.proto.name)) return;
  knownFiles.set(file.proto.name, file);
  file.dependencies.forEach(know);
};
[...shopFiles, file_buf_validate_validate, file_google_api_annotations].forEach(know);

function registryOf(file: DescFile, edit: Edit) {
  return createFileRegistry(edited(file, edit), (name) => knownFiles.get(name));
}

const edits: Record<string, Edit> = {
  retypeProductPrice: (f) => {
    const price = field(f, "Product", "price");
    price.type = FieldDescriptorProto_Type.STRING;
    price.typeName = "";
  },
  renumberPageSize: (f) => {
    field(f, "ListProductsRequest", "page_size").number = 7;
  },
  repeatName: (f) => {
    field(f, "Product", "name").label = FieldDescriptorProto_Label.REPEATED;
  },
  dropGetProduct: (f) => {
    f.service[0]!.method = f.service[0]!.method.filter((m) => m.name !== "GetProduct");
  },
  dropSku: (f) => {
    message(f, "Product").field = message(f, "Product").field.filter((x) => x.name !== "sku");
  },
  addFieldAndMethod: (f) => {
    message(f, "Product").field.push(
      create(FieldDescriptorProtoSchema, {
        name: "colour",
        jsonName: "colour",
        number: 42,
        type: FieldDescriptorProto_Type.STRING,
        label: FieldDescriptorProto_Label.OPTIONAL,
      }),
    );
    f.service[0]!.method.push(
      create(MethodDescriptorProtoSchema, {
        name: "DeleteProduct",
        inputType: ".shop.catalog.v1.GetProductRequest",
        outputType: ".shop.catalog.v1.GetProductResponse",
      }),
    );
  },
};

describe("comparing served descriptors with the built-in ones", () => {
  it("finds nothing to complain about in identical descriptors", () => {
    expect(
      compareServedMethods(
        catalogMethods,
        registryOf(file_shop_catalog_v1_catalog, () => {}),
      ),
    ).toEqual([]);
  });

  it("accepts an added field and an added method", () => {
    expect(compareServedMethods(catalogMethods, registryOf(file_shop_catalog_v1_catalog, edits.addFieldAndMethod!))).toEqual([]);
  });

  it.each([
    [
      "a retyped field",
      edits.retypeProductPrice!,
      "shop.catalog.v1.CatalogService/GetProduct: field shop.catalog.v1.Product.price: type changed from message shop.common.v1.Money to string",
    ],
    [
      "a renumbered field",
      edits.renumberPageSize!,
      "shop.catalog.v1.CatalogService/ListProducts: field shop.catalog.v1.ListProductsRequest.page_size: number changed from 1 to 7",
    ],
    [
      "a field that became repeated",
      edits.repeatName!,
      "shop.catalog.v1.CatalogService/CreateProduct: field shop.catalog.v1.Product.name: cardinality changed from singular to repeated",
    ],
    ["a missing method", edits.dropGetProduct!, "shop.catalog.v1.CatalogService/GetProduct: method is not served"],
    [
      "a removed field",
      edits.dropSku!,
      "shop.catalog.v1.CatalogService/ListProducts: field shop.catalog.v1.Product.sku: is no longer served (was number 2)",
    ],
  ])("reports %s, naming service, method and field", (_case, edit, problem) => {
    expect(compareServedMethods(catalogMethods, registryOf(file_shop_catalog_v1_catalog, edit))).toContain(problem);
  });

  it("reports a removed enum value reachable from a routed method", () => {
    const registry = registryOf(file_shop_users_v1_users, (f) => {
      const role = f.enumType.find((e) => e.name === "Role")!;
      role.value = role.value.filter((v) => v.name !== "ROLE_ADMIN");
    });
    expect(compareServedMethods(userMethods, registry)).toContain(
      "shop.users.v1.UserService/GetUser: enum value shop.users.v1.Role.ROLE_ADMIN: was removed",
    );
  });

  it("reports a service that is not served at all", () => {
    expect(
      compareServedMethods(
        catalogMethods,
        registryOf(file_shop_users_v1_users, () => {}),
      ),
    ).toContain("shop.catalog.v1.CatalogService/GetProduct: service shop.catalog.v1.CatalogService is not served");
  });
});

/** A gRPC server that only answers reflection, serving the given (possibly edited) catalog contract. */
async function reflectionOnlyUpstream(catalogFile: FileDescriptorProto): Promise<{ address: string; stop(): void }> {
  const server = new grpc.Server();
  const dependencies = fileDescriptorSet(file_shop_catalog_v1_catalog.dependencies);
  const catalog = Buffer.from(toBinary(FileDescriptorProtoSchema, catalogFile));
  new ReflectionService({ shop: { fileDescriptorProtos: [catalog, ...dependencies] } } as never).addToServer(server);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
  );
  return { address: `127.0.0.1:${port}`, stop: () => server.forceShutdown() };
}

describe("the contract monitor against upstreams over gRPC reflection", () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const cleanup of cleanups.splice(0)) cleanup();
  });
  afterAll(() => {
    for (const cleanup of cleanups) cleanup();
  });

  async function monitorOf(catalogFile: FileDescriptorProto) {
    const upstream = await reflectionOnlyUpstream(catalogFile);
    const monitor = new ContractMonitor({
      upstreams: { catalog: { address: upstream.address, methods: catalogMethods } },
      intervalMs: 60_000,
      timeoutMs: 2_000,
      logger: createLogger("gateway-test", "silent"),
    });
    cleanups.push(() => monitor.close(), upstream.stop);
    return monitor;
  }

  it("is not ready before the first check", async () => {
    const monitor = await monitorOf(edited(file_shop_catalog_v1_catalog, () => {}));
    expect(monitor.report.ready).toBe(false);
    expect(monitor.report.upstreams[0]!.problems).toEqual(["catalog: not checked yet"]);
  });

  it("is ready when the upstream serves compatible descriptors, with additions", async () => {
    const monitor = await monitorOf(edited(file_shop_catalog_v1_catalog, edits.addFieldAndMethod!));
    const report = await monitor.check();
    expect(report).toMatchObject({ ready: true, upstreams: [{ upstream: "catalog", reachable: true, compatible: true, problems: [] }] });
  });

  it("is not ready when the upstream retyped a field, and names it", async () => {
    const monitor = await monitorOf(edited(file_shop_catalog_v1_catalog, edits.retypeProductPrice!));
    const report = await monitor.check();
    expect(report.ready).toBe(false);
    expect(report.upstreams[0]).toMatchObject({ reachable: true, compatible: false });
    expect(report.upstreams[0]!.problems).toContain(
      "catalog: shop.catalog.v1.CatalogService/GetProduct: field shop.catalog.v1.Product.price: type changed from message shop.common.v1.Money to string",
    );
  });

  it("is not ready when the upstream lacks a method the gateway routes", async () => {
    const monitor = await monitorOf(edited(file_shop_catalog_v1_catalog, edits.dropGetProduct!));
    expect((await monitor.check()).upstreams[0]!.problems).toEqual([
      "catalog: shop.catalog.v1.CatalogService/GetProduct: method is not served",
    ]);
  });

  it("is not ready when an upstream cannot be reached", async () => {
    const monitor = new ContractMonitor({
      upstreams: { catalog: { address: "127.0.0.1:1", methods: catalogMethods } },
      intervalMs: 60_000,
      timeoutMs: 1_000,
      logger: createLogger("gateway-test", "silent"),
    });
    cleanups.push(() => monitor.close());
    const report = await monitor.check();
    expect(report.upstreams[0]).toMatchObject({ reachable: false, compatible: false });
    expect(report.upstreams[0]!.problems[0]).toMatch(/^catalog: unreachable at 127\.0\.0\.1:1/);
  });
});

describe("readiness of a gateway in front of an incompatible upstream", () => {
  it("fails /readyz naming the service, method and field", async () => {
    const upstream = await reflectionOnlyUpstream(edited(file_shop_catalog_v1_catalog, edits.retypeProductPrice!));
    const { request, gateway } = await startGateway({ ...allClosed, catalog: upstream.address });
    try {
      const reply = await request("GET", "/readyz");
      expect(reply.status).toBe(503);
      expect(reply.body.problems).toContain(
        "catalog: shop.catalog.v1.CatalogService/GetProduct: field shop.catalog.v1.Product.price: type changed from message shop.common.v1.Money to string",
      );
    } finally {
      await gateway.shutdown();
      upstream.stop();
    }
  });
});
