import { create, toJson } from "@bufbuild/protobuf";
import { CatalogService } from "@shop/contracts/shop/catalog/v1/catalog_pb.js";
import { AddressSchema } from "@shop/contracts/shop/common/v1/address_pb.js";
import { InventoryService } from "@shop/contracts/shop/inventory/v1/inventory_pb.js";
import { PaymentService } from "@shop/contracts/shop/payments/v1/payments_pb.js";
import { ShippingService } from "@shop/contracts/shop/shipping/v1/shipping_pb.js";
import type { Order } from "../../../../services/orders/src/domain/order.js";
import type { Downstream } from "../../../../services/orders/src/downstream/clients.js";
import { DownstreamStepExecutor } from "../../../../services/orders/src/saga/step-executor.js";
import { connectJsonClient } from "./connect-provider.js";

/** Path of a unary method on the Connect protocol: `/<package>.<Service>/<Method>`. */
export const connectPath = (service: { typeName: string }, method: string) => `/${service.typeName}/${method}`;

export const connectJson = { "Content-Type": "application/json" };

/**
 * The checkout saga's real step executor, its downstream clients speaking Connect JSON to
 * `baseUrl` (the Pact mock). One attempt per step: a contract interaction happens once.
 */
export function sagaStepsAgainst(baseUrl: string): DownstreamStepExecutor {
  const downstream: Downstream = {
    catalog: connectJsonClient(CatalogService, baseUrl),
    inventory: connectJsonClient(InventoryService, baseUrl),
    payments: connectJsonClient(PaymentService, baseUrl),
    shipping: connectJsonClient(ShippingService, baseUrl),
    close: () => undefined,
  };
  return new DownstreamStepExecutor(downstream, { attempts: 1, backoffBaseMs: 1, backoffMaxMs: 1 });
}

export const buyer = { userId: "7a1c3e5f-2b4d-4c6e-8f0a-1b3d5f7a9c2e" };

export const shippingAddress = {
  recipient: "Ada Lovelace",
  line1: "12 St James's Square",
  line2: "",
  city: "London",
  postalCode: "SW1Y 4JH",
  countryCode: "GB",
};

/** The address as the JSON mapping writes it on the wire (the empty second line left out). */
export const shippingAddressJson = toJson(AddressSchema, create(AddressSchema, shippingAddress));

/** The product every checkout buys unless told otherwise. */
export const mugId = "5d0f3b8a-6c1e-4f2a-9b7d-3e5c7a9b1d2f";

/** An order as the saga holds it while checking out: priced, two mugs for 25.98 USD. */
export function checkoutOrder(id: string, { productId = mugId, paymentToken = "tok_visa" } = {}): Order {
  const unitPrice = { currency: "USD", amountMinor: 1299n };
  return {
    id,
    userId: buyer.userId,
    status: "PENDING",
    items: [{ productId, quantity: 2, name: "Mug", unitPrice, lineTotal: { currency: "USD", amountMinor: 2598n } }],
    total: { currency: "USD", amountMinor: 2598n },
    cancellationReason: "",
    shippingAddress,
    paymentToken,
    createTime: new Date("2026-11-22T10:00:00Z"),
    updateTime: new Date("2026-11-22T10:00:00Z"),
  };
}

export const noAbort = () => new AbortController().signal;
