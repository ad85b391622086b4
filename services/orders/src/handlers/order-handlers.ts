import { randomUUID } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { OrderService } from "@shop/contracts/shop/orders/v1/orders_pb.js";
import {
  currentContext,
  decodePageToken,
  errors,
  idempotencyKeyReused,
  metadataKeys,
  pageOf,
  pageSizeOf,
  remainingMs,
  requireOwnerOrAdmin,
  requireUser,
} from "@shop/runtime";
import type { OrderHistoryRepository } from "../db/order-history.js";
import type { OrderRepository, SagaLease, WorkOrigin } from "../db/orders.js";
import { firstRepeatedProduct, IdempotencyKeyReusedError, type Order } from "../domain/order.js";
import { addressFromMessage, orderMessage } from "../messages/order-messages.js";

/** What the handlers need from the saga runner. */
export interface SagaTrigger {
  /** Works on the order's saga now if possible; resolves when that work ends. */
  runNow(orderId: string): Promise<void>;
  /**
   * Places an order through `place`, its saga held for this runner when it has room (`lease`),
   * and runs that saga at once if the order was placed: no claim, no second read of the order.
   */
  placeAndRun(
    place: (lease: SagaLease | undefined) => Promise<{ order: Order; created: boolean }>,
    origin: WorkOrigin,
  ): Promise<{ order: Order; created: boolean }>;
}

export interface OrderHandlerDeps {
  orders: OrderRepository;
  history: OrderHistoryRepository;
  sagas: SagaTrigger;
  /** Longest CancelOrder waits for a confirmed order's cancellation to be settled. */
  cancelWaitMs: number;
}

const maxIdempotencyKeyLength = 200;

function idempotencyKeyOf(ctx: HandlerContext): string | undefined {
  const key = currentContext()?.idempotencyKey ?? ctx.requestHeader.get(metadataKeys.idempotencyKey) ?? undefined;
  if (key !== undefined && key.length > maxIdempotencyKeyLength) {
    throw errors.invalidArgument(metadataKeys.idempotencyKey, `must be at most ${maxIdempotencyKeyLength} characters`);
  }
  return key || undefined;
}

export function orderHandlers({ orders, history, sagas, cancelWaitMs }: OrderHandlerDeps): ServiceImpl<typeof OrderService> {
  async function ownedOrder(ctx: HandlerContext, orderId: string): Promise<Order> {
    requireUser(ctx);
    const order = await orders.get(orderId);
    if (!order) throw errors.notFound("order", orderId);
    requireOwnerOrAdmin(ctx, order.userId);
    return order;
  }

  /**
   * Waits until the cancellation of a confirmed order is settled: the order is CANCELLED, or
   * the shipment turned out to be dispatched. Past the wait the request stays recorded and
   * completes in the background.
   */
  async function settleCancellation(orderId: string): Promise<Order> {
    // Answer a little before the caller's own deadline, so it gets the order rather than a timeout.
    const deadline = Date.now() + Math.min(cancelWaitMs, Math.max(0, (remainingMs() ?? cancelWaitMs) - 50));
    for (;;) {
      await Promise.race([sagas.runNow(orderId), delay(Math.max(0, deadline - Date.now()), undefined, { ref: false })]);
      const [order, state] = await Promise.all([orders.get(orderId), orders.cancellationState(orderId)]);
      if (!order || !state) throw errors.notFound("order", orderId);
      if (order.status === "CANCELLED") return order;
      if (state.phase === "CONFIRMED" && !state.cancelRequested && state.cancelRejection) {
        throw errors.failedPrecondition(`order ${orderId} can no longer be cancelled: ${state.cancelRejection}`);
      }
      if (Date.now() >= deadline) return order;
      await delay(25);
    }
  }

  return {
    async placeOrder(req, ctx) {
      const caller = requireUser(ctx);
      const repeated = firstRepeatedProduct(req.items);
      if (repeated !== undefined) {
        throw errors.invalidArgument(
          `items[${repeated}].productId`,
          "is already on an earlier item; order each product once with its total quantity",
        );
      }
      const context = currentContext();
      const placing = {
        id: randomUUID(),
        userId: caller.userId,
        items: req.items.map(({ productId, quantity }) => ({ productId: productId.toLowerCase(), quantity })),
        shippingAddress: addressFromMessage(req.shippingAddress!),
        paymentToken: req.paymentToken,
        idempotencyKey: idempotencyKeyOf(ctx),
      };
      const origin = {
        correlationId: context?.correlationId ?? randomUUID(),
        traceparent: context?.traceparent,
        tracestate: context?.tracestate,
      };
      // The saga runs on its own; the customer gets the PENDING order at once.
      try {
        const { order } = await sagas.placeAndRun((lease) => orders.place(placing, origin, lease), origin);
        return { order: orderMessage(order) };
      } catch (err) {
        if (err instanceof IdempotencyKeyReusedError) throw idempotencyKeyReused("order");
        throw err;
      }
    },

    async getOrder(req, ctx) {
      return { order: orderMessage(await ownedOrder(ctx, req.orderId)) };
    },

    async listOrders(req, ctx) {
      const caller = requireUser(ctx);
      const after = decodePageToken(req.pageToken);
      const size = pageSizeOf(req.pageSize);
      const page = pageOf(await history.listForUser(caller.userId, size + 1, after), size, (listing) => listing.end);
      return { orders: page.items.map((listing) => listing.order), nextPageToken: page.nextPageToken };
    },

    async cancelOrder(req, ctx) {
      const order = await ownedOrder(ctx, req.orderId);
      if (order.status === "CANCELLED") throw errors.failedPrecondition(`order ${order.id} is already cancelled`);
      const recorded = await orders.requestCancellation(order.id);
      if (!recorded) throw errors.failedPrecondition(`order ${order.id} is already cancelled`);
      if (order.status === "PENDING") {
        // The saga stops at its next step boundary and undoes what it did.
        void sagas.runNow(order.id);
        return { order: orderMessage((await orders.get(order.id)) ?? order) };
      }
      return { order: orderMessage(await settleCancellation(order.id)) };
    },
  };
}
