import { randomUUID } from "node:crypto";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  PaymentEventType,
  type PaymentHistoryEntrySchema,
  type PaymentSchema,
  type PaymentService,
  PaymentStatus,
} from "@shop/contracts/shop/payments/v1/payments_pb.js";
import {
  callerOf,
  currentContext,
  dependencyUnavailable,
  errors,
  type RecordedEvent,
  requireOwnerOrAdmin,
  requireUser,
  StreamVersionConflict,
} from "@shop/runtime";
import type { PaymentLedger } from "../db/payments.js";
import {
  authorizationEvent,
  authorizationOf,
  type CommandContext,
  type Decision,
  decide,
  eventsUntil,
  foldPayment,
  type Payment,
  type PaymentCommand,
  type PaymentEvent,
  type PaymentOperation,
} from "../domain/payment.js";
import { decideAuthorization } from "../domain/provider.js";

export function toPaymentMessage(payment: Payment): MessageInitShape<typeof PaymentSchema> {
  return {
    id: payment.id,
    orderId: payment.orderId,
    userId: payment.userId ?? "",
    status: PaymentStatus[payment.status],
    amount:
      payment.currency !== null && payment.amountMinor !== null
        ? { currencyCode: payment.currency, amountMinor: payment.amountMinor }
        : undefined,
    declineReason: payment.declineReason ?? "",
    createTime: timestampFromDate(payment.createdAt),
    updateTime: timestampFromDate(payment.updatedAt),
  };
}

function historyEntry({ eventId, version, event }: RecordedEvent<PaymentEvent>): MessageInitShape<typeof PaymentHistoryEntrySchema> {
  return {
    version,
    type: PaymentEventType[event.type],
    amount: event.amount ? { currencyCode: event.amount.currency, amountMinor: event.amount.amountMinor } : undefined,
    occurTime: timestampFromDate(event.occurredAt),
    reason: event.reason,
    providerReference: event.providerReference,
    cause: event.cause && {
      command: event.cause.command,
      userId: event.cause.userId ?? "",
      role: event.cause.role ?? "",
      service: event.cause.service ?? "",
      correlationId: event.cause.correlationId ?? "",
    },
    eventId,
  };
}

const paymentNotFound = (orderId: string) => errors.notFound("payment for order", orderId);

/** The facts of a command call the ledger records with its event: when, and who asked within what work. */
function commandContext(command: PaymentCommand, ctx: HandlerContext): CommandContext {
  const caller = callerOf(ctx);
  const who =
    caller.kind === "user" ? { userId: caller.userId, role: caller.role } : caller.kind === "service" ? { service: caller.name } : {};
  return {
    occurredAt: new Date(),
    cause: { command, ...who, correlationId: currentContext()?.correlationId },
    newPaymentId: randomUUID(),
  };
}

/** The events a decision appends; refusals become the errors callers see. */
function eventsOf(decision: Decision, orderId: string): PaymentEvent[] {
  switch (decision.kind) {
    case "append":
      return [decision.event];
    case "unchanged":
      return [];
    case "refused":
      throw errors.failedPrecondition(decision.reason);
    case "notFound":
      throw paymentNotFound(orderId);
  }
}

const operationCommands: Record<PaymentOperation, PaymentCommand> = {
  capture: "CapturePayment",
  void: "VoidPayment",
  refund: "RefundPayment",
};

export function paymentHandlers(
  ledger: PaymentLedger,
  { amountLimitMinor }: { amountLimitMinor: bigint },
): ServiceImpl<typeof PaymentService> {
  /** Runs a command on the order's payment; a command that lost to concurrent ones every time is ABORTED, for the caller to retry. */
  async function execute(orderId: string, decideEvents: (payment: Payment | null) => Promise<PaymentEvent[]> | PaymentEvent[]) {
    try {
      const payment = await ledger.execute(orderId, decideEvents);
      if (!payment) throw errors.internal();
      return { payment: toPaymentMessage(payment) };
    } catch (err) {
      if (err instanceof StreamVersionConflict) throw errors.aborted(`payment for order ${orderId} changed concurrently; try again`);
      throw err;
    }
  }

  const operate = (operation: PaymentOperation) => (req: { orderId: string }, ctx: HandlerContext) =>
    execute(req.orderId, (payment) =>
      eventsOf(decide(operation, req.orderId, payment, commandContext(operationCommands[operation], ctx)), req.orderId),
    );

  return {
    authorizePayment: (req, ctx) =>
      execute(req.orderId, async (payment) => {
        const known = authorizationOf(payment);
        if (known.kind !== "askProvider") return eventsOf(known, req.orderId);
        const amount = { currency: req.amount!.currencyCode, amountMinor: req.amount!.amountMinor };
        const attempt = await ledger.countAuthorizationAttempt(req.orderId);
        const answer = decideAuthorization({ token: req.paymentToken, amountMinor: amount.amountMinor, attempt }, amountLimitMinor);
        if (answer.outcome === "unavailable") throw dependencyUnavailable("payment provider temporarily unavailable");
        return [authorizationEvent({ orderId: req.orderId, userId: req.userId, amount }, answer, commandContext("AuthorizePayment", ctx))];
      }),

    capturePayment: operate("capture"),

    // An unknown order is voided by a tombstone, so a late authorization is refused; if an
    // authorization lands first, the tombstone loses and that payment is voided instead.
    voidPayment: operate("void"),

    refundPayment: operate("refund"),

    async getPayment(req) {
      const payment = await ledger.find(req.orderId);
      if (!payment) throw paymentNotFound(req.orderId);
      return { payment: toPaymentMessage(payment) };
    },

    async getOrderPayment(req, ctx) {
      requireUser(ctx);
      const recorded = await ledger.history(req.orderId);
      const events = recorded.map((r) => r.event);
      const payment = foldPayment(events);
      // A tombstone is no payment to show: the order never had one.
      if (!payment || payment.userId === null) throw paymentNotFound(req.orderId);
      requireOwnerOrAdmin(ctx, payment.userId);
      const shown = req.asOf ? recorded.slice(0, eventsUntil(events, timestampDate(req.asOf))) : recorded;
      const then = foldPayment(shown.map((r) => r.event));
      if (!then) throw errors.notFound("payment for order", `${req.orderId} as of ${timestampDate(req.asOf!).toISOString()}`);
      return { payment: toPaymentMessage(then), history: shown.map(historyEntry) };
    },
  };
}
