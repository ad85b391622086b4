import type { DescService } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import { CatalogService } from "@shop/contracts/shop/catalog/v1/catalog_pb.js";
import { InventoryService } from "@shop/contracts/shop/inventory/v1/inventory_pb.js";
import { PaymentService } from "@shop/contracts/shop/payments/v1/payments_pb.js";
import { ShippingService } from "@shop/contracts/shop/shipping/v1/shipping_pb.js";
import { createServiceClient, type ServiceCredential } from "@shop/runtime";
import { type ResilienceOptions, resilienceInterceptor } from "./resilience.js";

export interface DownstreamOptions {
  addresses: { catalog: string; inventory: string; payments: string; shipping: string };
  /** The orders service's own credential, which every downstream call carries. */
  credential: ServiceCredential;
  /** Deadline of a call when the work it belongs to has none. */
  callTimeoutMs: number;
  resilience: ResilienceOptions;
}

/** The services the checkout saga calls, each over one long-lived channel. */
export interface Downstream {
  catalog: Client<typeof CatalogService>;
  inventory: Client<typeof InventoryService>;
  payments: Client<typeof PaymentService>;
  shipping: Client<typeof ShippingService>;
  close(): void;
}

export function connectDownstream(options: DownstreamOptions): Downstream {
  const connect = <S extends DescService>(service: S, name: keyof DownstreamOptions["addresses"]) =>
    createServiceClient(service, {
      address: options.addresses[name],
      credential: options.credential,
      defaultTimeoutMs: options.callTimeoutMs,
      interceptors: [resilienceInterceptor(name, options.resilience)],
    });
  const clients = {
    catalog: connect(CatalogService, "catalog"),
    inventory: connect(InventoryService, "inventory"),
    payments: connect(PaymentService, "payments"),
    shipping: connect(ShippingService, "shipping"),
  };
  return {
    ...clients,
    close: () => {
      for (const client of Object.values(clients)) client.close();
    },
  };
}
