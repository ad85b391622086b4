import { randomBytes, randomUUID } from "node:crypto";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { type ShipmentSchema, ShipmentStatus, type ShippingService } from "@shop/contracts/shop/shipping/v1/shipping_pb.js";
import { errors, requireOwnerOrAdmin, requireUser } from "@shop/runtime";
import type { ShipmentRepository } from "../db/shipments.js";
import {
  cancelTombstone,
  creationRefusal,
  isTombstone,
  operationRefusal,
  type Shipment,
  type ShipmentOperation,
  trackingNumberFrom,
  trackingNumberRandomBytes,
  transitions,
} from "../domain/shipment.js";

export function toShipmentMessage(shipment: Shipment): MessageInitShape<typeof ShipmentSchema> {
  return {
    id: shipment.id,
    orderId: shipment.orderId,
    userId: shipment.userId ?? "",
    status: ShipmentStatus[shipment.status],
    trackingNumber: shipment.trackingNumber ?? "",
    address: shipment.address ?? undefined,
    createTime: timestampFromDate(shipment.createdAt),
    updateTime: timestampFromDate(shipment.updatedAt),
  };
}

const shipmentNotFound = (orderId: string) => errors.notFound("shipment for order", orderId);

// A create tries to store first, so a new order costs no read. Storing nothing means the
// order already has a shipment (the answer) or, rarely, the tracking number is taken; the
// next round draws another, so a few rounds always settle.
const createRounds = 3;

export function shippingHandlers(shipments: ShipmentRepository): ServiceImpl<typeof ShippingService> {
  /** The answer to a create for an order that already has a shipment. */
  function repeatedCreation(shipment: Shipment) {
    const refusal = creationRefusal(shipment);
    if (refusal) throw errors.failedPrecondition(refusal);
    return { shipment: toShipmentMessage(shipment) };
  }

  /** Applies `operation` once; null when the order has no shipment. */
  async function apply(operation: ShipmentOperation, orderId: string): Promise<Shipment | null> {
    const { from, to } = transitions[operation];
    const result = await shipments.transition(orderId, from, to);
    if (!result) return null;
    const refusal = result.changed ? undefined : operationRefusal(operation, result.shipment);
    if (refusal) throw errors.failedPrecondition(refusal);
    return result.shipment;
  }

  return {
    async createShipment(req) {
      const { recipient, line1, line2, city, postalCode, countryCode } = req.address!;
      for (let round = 0; round < createRounds; round++) {
        const created = await shipments.createFirst({
          id: randomUUID(),
          orderId: req.orderId,
          userId: req.userId,
          status: "CREATED",
          trackingNumber: trackingNumberFrom(randomBytes(trackingNumberRandomBytes)),
          address: { recipient, line1, line2, city, postalCode, countryCode },
        });
        if (created) return { shipment: toShipmentMessage(created) };
        const existing = await shipments.findByOrder(req.orderId);
        if (existing) return repeatedCreation(existing);
      }
      throw errors.unavailable(`could not create the shipment for order ${req.orderId}, try again`);
    },

    async cancelShipment(req) {
      // An unknown order is cancelled by a tombstone, so a late create is refused; if a create
      // lands first, the tombstone loses and that shipment is cancelled instead.
      const shipment =
        (await apply("cancel", req.orderId)) ??
        (await shipments.createFirst(cancelTombstone(randomUUID(), req.orderId))) ??
        (await apply("cancel", req.orderId));
      if (!shipment) throw errors.internal();
      return { shipment: toShipmentMessage(shipment) };
    },

    async dispatchShipment(req) {
      const shipment = await apply("dispatch", req.orderId);
      if (!shipment) throw shipmentNotFound(req.orderId);
      return { shipment: toShipmentMessage(shipment) };
    },

    async getShipment(req, ctx) {
      requireUser(ctx);
      const shipment = await shipments.findByOrder(req.orderId);
      if (!shipment || isTombstone(shipment)) throw shipmentNotFound(req.orderId);
      requireOwnerOrAdmin(ctx, shipment.userId!);
      return { shipment: toShipmentMessage(shipment) };
    },
  };
}
