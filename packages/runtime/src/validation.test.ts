import { create } from "@bufbuild/protobuf";
import { Code, type ConnectError } from "@connectrpc/connect";
import { PlaceOrderRequestSchema } from "@shop/contracts/shop/orders/v1/orders_pb.js";
import { describe, expect, it } from "vitest";
import { validateMessage } from "./validation.js";

const address = { recipient: "Ada", line1: "1 Main St", city: "London", postalCode: "N1", countryCode: "GB" };

describe("validateMessage", () => {
  it("accepts a valid request", () => {
    const request = create(PlaceOrderRequestSchema, {
      items: [{ productId: "8d0f7b8e-1b9a-4c53-9a43-0c8a5f1e0001", quantity: 1 }],
      shippingAddress: address,
      paymentToken: "tok_visa",
    });
    expect(() => validateMessage(PlaceOrderRequestSchema, request)).not.toThrow();
  });

  it("names every bad field by its JSON path", () => {
    const request = create(PlaceOrderRequestSchema, {
      items: [{ productId: "8d0f7b8e-1b9a-4c53-9a43-0c8a5f1e0001", quantity: 0 }],
      shippingAddress: { ...address, city: "" },
      paymentToken: "visa",
    });
    let error: ConnectError | undefined;
    try {
      validateMessage(PlaceOrderRequestSchema, request);
    } catch (err) {
      error = err as ConnectError;
    }
    expect(error?.code).toBe(Code.InvalidArgument);
    expect(error?.rawMessage).toContain("items[0].quantity: must be greater than 0");
    expect(error?.rawMessage).toContain("shippingAddress.city:");
    expect(error?.rawMessage).toContain("paymentToken:");
    expect(error?.details).toHaveLength(1);
  });

  it.each([
    ["a top-level string", { paymentToken: "tok\u0000visa" }, "paymentToken"],
    ["a nested string", { shippingAddress: { ...address, city: "Lon\u0000don" } }, "shippingAddress.city"],
    [
      "a string in a list of messages",
      { items: [{ productId: "8d0f7b8e-1b9a-4c53-9a43-0c8a5f1e0001\u0000", quantity: 1 }] },
      "items[0].productId",
    ],
  ])("refuses a NUL character in %s, naming the field", (_where, fields, path) => {
    const request = create(PlaceOrderRequestSchema, {
      items: [{ productId: "8d0f7b8e-1b9a-4c53-9a43-0c8a5f1e0001", quantity: 1 }],
      shippingAddress: address,
      paymentToken: "tok_visa",
      ...fields,
    });
    expect(() => validateMessage(PlaceOrderRequestSchema, request)).toThrow(
      expect.objectContaining({ code: Code.InvalidArgument, rawMessage: `${path}: must not contain NUL characters` }),
    );
  });
});
