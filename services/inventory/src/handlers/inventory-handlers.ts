import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  type InventoryService,
  type ReservationSchema,
  ReservationStatus as ReservationStatusEnum,
} from "@shop/contracts/shop/inventory/v1/inventory_pb.js";
import { errors } from "@shop/runtime";
import type { ReservationRepository } from "../db/reservations.js";
import type { StockRepository } from "../db/stock.js";
import {
  InvalidItemsError,
  itemsInLockOrder,
  type Reservation,
  ReservationStateError,
  type ReservationStatus,
} from "../domain/reservation.js";
import { InsufficientStockError } from "../domain/stock.js";

const statusEnums: Record<ReservationStatus, ReservationStatusEnum> = {
  RESERVED: ReservationStatusEnum.RESERVED,
  RELEASED: ReservationStatusEnum.RELEASED,
  COMMITTED: ReservationStatusEnum.COMMITTED,
};

export function toReservationMessage(reservation: Reservation): MessageInitShape<typeof ReservationSchema> {
  return { orderId: reservation.orderId, status: statusEnums[reservation.status], items: reservation.items };
}

/** Domain refusals as the codes clients see; anything else passes through unchanged. */
async function withDomainErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof InsufficientStockError || err instanceof ReservationStateError) throw errors.failedPrecondition(err.message);
    if (err instanceof InvalidItemsError) throw errors.invalidArgument(err.field, err.reason);
    throw err;
  }
}

// PostgreSQL answers uuids lower-cased; keeping order ids that way makes every answer for an order identical.
const canonicalId = (id: string) => id.toLowerCase();

export function inventoryHandlers(stock: StockRepository, reservations: ReservationRepository): ServiceImpl<typeof InventoryService> {
  return {
    async setStock(req) {
      return { stock: await stock.setAvailable(canonicalId(req.productId), req.quantity) };
    },

    async getStock(req) {
      return { stock: await stock.get(canonicalId(req.productId)) };
    },

    async reserveStock(req) {
      const reservation = await withDomainErrors(() => reservations.reserve(canonicalId(req.orderId), itemsInLockOrder(req.items)));
      return { reservation: toReservationMessage(reservation) };
    },

    async releaseStock(req) {
      const reservation = await withDomainErrors(() => reservations.release(canonicalId(req.orderId)));
      return { reservation: toReservationMessage(reservation) };
    },

    async commitStock(req) {
      const reservation = await withDomainErrors(() => reservations.commit(canonicalId(req.orderId)));
      if (!reservation) throw errors.notFound("reservation for order", req.orderId);
      return { reservation: toReservationMessage(reservation) };
    },

    async getReservation(req) {
      const reservation = await reservations.get(canonicalId(req.orderId));
      if (!reservation) throw errors.notFound("reservation for order", req.orderId);
      return { reservation: toReservationMessage(reservation) };
    },
  };
}
