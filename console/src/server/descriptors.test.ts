import { create, createFileRegistry, fromBinary, setExtension, toBinary } from "@bufbuild/protobuf";
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  type FileDescriptorProto,
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
  file_google_protobuf_descriptor,
  MethodOptionsSchema,
} from "@bufbuild/protobuf/wkt";
import { shopFiles } from "@shop/contracts";
import { describe, expect, it } from "vitest";
import { describeMethods } from "./descriptors.js";

/** A contract that declares `shop.auth.v1.policy`, a method option the console was never told about. */
function authProto(): FileDescriptorProto {
  return create(FileDescriptorProtoSchema, {
    name: "shop/auth/v1/auth.proto",
    package: "shop.auth.v1",
    syntax: "proto3",
    dependency: ["google/protobuf/descriptor.proto"],
    messageType: [
      {
        name: "Policy",
        field: [
          {
            name: "public",
            number: 1,
            type: FieldDescriptorProto_Type.BOOL,
            label: FieldDescriptorProto_Label.OPTIONAL,
            jsonName: "public",
          },
          {
            name: "roles",
            number: 2,
            type: FieldDescriptorProto_Type.STRING,
            label: FieldDescriptorProto_Label.REPEATED,
            jsonName: "roles",
          },
        ],
      },
    ],
    extension: [
      {
        name: "policy",
        number: 50_100,
        label: FieldDescriptorProto_Label.OPTIONAL,
        type: FieldDescriptorProto_Type.MESSAGE,
        typeName: ".shop.auth.v1.Policy",
        extendee: ".google.protobuf.MethodOptions",
        jsonName: "policy",
      },
    ],
  });
}

function serviceProto(): FileDescriptorProto {
  return create(FileDescriptorProtoSchema, {
    name: "shop/demo/v1/demo.proto",
    package: "shop.demo.v1",
    syntax: "proto3",
    dependency: ["shop/auth/v1/auth.proto"],
    messageType: [{ name: "Ping" }],
    service: [
      {
        name: "DemoService",
        method: [
          { name: "Guarded", inputType: ".shop.demo.v1.Ping", outputType: ".shop.demo.v1.Ping" },
          { name: "Open", inputType: ".shop.demo.v1.Ping", outputType: ".shop.demo.v1.Ping" },
        ],
      },
    ],
  });
}

describe("RPC descriptors as reflection serves them", () => {
  it("shows a method's authorization policy from a custom option it does not know, and 'not declared' without one", () => {
    const auth = authProto();
    const demo = serviceProto();
    const authoring = createFileRegistry(create(FileDescriptorSetSchema, { file: [file_google_protobuf_descriptor.proto, auth, demo] }));
    const policy = authoring.getExtension("shop.auth.v1.policy")!;
    const options = create(MethodOptionsSchema);
    setExtension(options, policy, create(authoring.getMessage("shop.auth.v1.Policy")!, { roles: ["admin"] }) as never);
    demo.service[0]!.method[0]!.options = options;

    // What a reflection client receives: serialized files, the option an unknown field of the method options.
    const served = [file_google_protobuf_descriptor.proto, auth, demo].map((file) =>
      fromBinary(FileDescriptorProtoSchema, toBinary(FileDescriptorProtoSchema, file)),
    );
    const methods = describeMethods(createFileRegistry(create(FileDescriptorSetSchema, { file: served })), ["shop.demo.v1.DemoService"]);

    expect(methods).toEqual([
      {
        service: "shop.demo.v1.DemoService",
        method: "Guarded",
        input: "shop.demo.v1.Ping",
        output: "shop.demo.v1.Ping",
        policy: { roles: ["admin"] },
        options: { "shop.auth.v1.policy": { roles: ["admin"] } },
      },
      expect.objectContaining({ method: "Open", policy: null, options: {} }),
    ]);
  });

  it("lists the shop's own options: a method's HTTP route and its access policy", () => {
    const registry = createFileRegistry(create(FileDescriptorSetSchema, { file: shopFiles.flatMap((file) => collect(file)) }));
    const placeOrder = describeMethods(registry, ["shop.orders.v1.OrderService"]).find((rpc) => rpc.method === "PlaceOrder")!;
    expect(placeOrder.options["google.api.http"]).toMatchObject({ post: "/v1/orders", body: "*" });
    expect(placeOrder.policy).toEqual({ roles: ["ROLE_CUSTOMER"] });
  });
});

/** A file and everything it imports, imports first. */
function collect(file: (typeof shopFiles)[number], seen = new Set<string>()): FileDescriptorProto[] {
  if (seen.has(file.name)) return [];
  seen.add(file.name);
  return [...file.dependencies.flatMap((dependency) => collect(dependency, seen)), file.proto];
}
