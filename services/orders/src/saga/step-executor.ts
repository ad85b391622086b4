import type { Product } from "@shop/contracts/shop/catalog/v1/catalog_pb.js";
import { PaymentStatus } from "@shop/contracts/shop/payments/v1/payments_pb.js";
import { Code, ConnectError, isTransient } from "@shop/runtime";
import { ExponentialBackoff, fullJitterGenerator, handleWhen, type RetryPolicy, retry } from "cockatiel";
import type { Order } from "../domain/order.js";
import type { Downstream } from "../downstream/clients.js";
import { addressMessage, moneyMessage } from "../messages/order-messages.js";
import type { Rejection, SagaAction, StepOutcome } from "./checkout-saga.js";
import { priceOrder } from "./pricing.js";

/** Runs one saga action against the services that own its effect. */
export interface SagaStepExecutor {
  /** Resolves with the outcome; rejects only when `signal` aborts the work. */
  execute(action: SagaAction, order: Order, signal: AbortSignal): Promise<StepOutcome>;
}

export interface StepRetryOptions {
  /** Calls per execution, the first included. */
  attempts: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
}

const errorText = (err: unknown) => (err instanceof ConnectError ? `${Code[err.code]}: ${err.rawMessage}` : String(err));

/**
 * Every downstream call of the checkout saga. All of them are idempotent per order id, so a
 * call repeated after a lost answer or a crash changes nothing. Transient errors are retried
 * here with exponential backoff and full jitter, up to the step budget; business answers
 * become `rejected` outcomes.
 */
export class DownstreamStepExecutor implements SagaStepExecutor {
  private readonly retry: RetryPolicy;

  constructor(
    private readonly downstream: Downstream,
    options: StepRetryOptions,
  ) {
    this.retry = retry(handleWhen(isTransient), {
      maxAttempts: options.attempts - 1,
      backoff: new ExponentialBackoff({
        generator: fullJitterGenerator,
        initialDelay: options.backoffBaseMs,
        maxDelay: options.backoffMaxMs,
      }),
    });
  }

  async execute(action: SagaAction, order: Order, signal: AbortSignal): Promise<StepOutcome> {
    try {
      return await this.retry.execute(() => this.attempt(action, order, signal), signal);
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      if (isTransient(err)) return { kind: "exhausted", detail: errorText(err) };
      return { kind: "failed", detail: errorText(err) };
    }
  }

  private async attempt(action: SagaAction, order: Order, signal: AbortSignal): Promise<StepOutcome> {
    const { catalog, inventory, payments, shipping } = this.downstream;
    const options = { signal };
    const orderId = order.id;
    switch (action) {
      case "PRICE": {
        const productIds = order.items.map((item) => item.productId);
        let products: Product[];
        try {
          ({ products } = await catalog.batchGetProducts({ productIds }, options));
        } catch (err) {
          if (err instanceof ConnectError && err.code === Code.NotFound) return rejected("PRODUCT_UNAVAILABLE", err.rawMessage);
          throw err;
        }
        const pricing = priceOrder(
          order.items,
          products.map((product) => ({
            productId: product.id,
            name: product.name,
            price: { currency: product.price?.currencyCode ?? "", amountMinor: product.price?.amountMinor ?? 0n },
          })),
        );
        if (pricing.kind === "unavailable") return rejected("PRODUCT_UNAVAILABLE", pricing.detail);
        return { kind: "succeeded", priced: pricing.order };
      }
      case "AUTHORIZE": {
        if (!order.total) throw new Error(`order ${orderId} reached AUTHORIZE without a total`);
        const { payment } = await payments.authorizePayment(
          { orderId, userId: order.userId, amount: moneyMessage(order.total), paymentToken: order.paymentToken },
          options,
        );
        if (payment?.status === PaymentStatus.DECLINED) return rejected("PAYMENT_DECLINED", payment.declineReason);
        if (payment?.status !== PaymentStatus.AUTHORIZED && payment?.status !== PaymentStatus.CAPTURED) {
          return { kind: "failed", detail: `authorization answered ${PaymentStatus[payment?.status ?? 0]}` };
        }
        return succeeded;
      }
      case "RESERVE":
        try {
          await inventory.reserveStock(
            { orderId, items: order.items.map(({ productId, quantity }) => ({ productId, quantity })) },
            options,
          );
          return succeeded;
        } catch (err) {
          if (err instanceof ConnectError && err.code === Code.FailedPrecondition) return rejected("INSUFFICIENT_STOCK", err.rawMessage);
          throw err;
        }
      case "SHIP":
        await shipping.createShipment({ orderId, userId: order.userId, address: addressMessage(order.shippingAddress) }, options);
        return succeeded;
      case "CAPTURE":
        await payments.capturePayment({ orderId }, options);
        return succeeded;
      case "COMMIT":
        await inventory.commitStock({ orderId }, options);
        return succeeded;
      case "VOID_PAYMENT":
        await payments.voidPayment({ orderId }, options);
        return succeeded;
      case "RELEASE_STOCK":
        await inventory.releaseStock({ orderId }, options);
        return succeeded;
      case "CANCEL_SHIPMENT":
        try {
          await shipping.cancelShipment({ orderId }, options);
          return succeeded;
        } catch (err) {
          if (err instanceof ConnectError && err.code === Code.FailedPrecondition) return rejected("SHIPMENT_DISPATCHED", err.rawMessage);
          throw err;
        }
      case "REFUND_PAYMENT":
        await payments.refundPayment({ orderId }, options);
        return succeeded;
    }
  }
}

const succeeded: StepOutcome = { kind: "succeeded" };

const rejected = (reason: Rejection, detail: string): StepOutcome => ({ kind: "rejected", reason, detail });
