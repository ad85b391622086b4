import type { IncomingMessage, ServerResponse } from "node:http";
import { create, type DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { MeSummarySchema } from "@shop/contracts/shop/gateway/v1/summary_pb.js";
import { ListNotificationsRequestSchema, NotificationService } from "@shop/contracts/shop/notifications/v1/notifications_pb.js";
import { ListOrdersRequestSchema, OrderService } from "@shop/contracts/shop/orders/v1/orders_pb.js";
import { GetUserRequestSchema, UserService } from "@shop/contracts/shop/users/v1/users_pb.js";
import { admit, type Exchange, type GatewayParts, upstreamHeaders } from "./admission.js";
import { HttpError } from "./http/errors.js";
import { sendJson } from "./http/reply.js";
import { timeoutFromHeaders } from "./http/request-meta.js";
import { messageToJson } from "./transcoding/render-response.js";

export const meSummaryPath = "/v1/me/summary";
export const meSummaryRouteKey = `GET ${meSummaryPath}`;

const recentOrdersCount = 5;
const notificationsCount = 10;

/** The upstream methods the composition calls, so the contract check covers them too. */
export const meSummaryMethods: Readonly<Record<string, readonly DescMethod[]>> = {
  users: [UserService.method.getUser],
  orders: [OrderService.method.listOrders],
  notifications: [NotificationService.method.listNotifications],
};

/** The summary makes a call to each of its upstreams, and costs what they would. */
const summaryCost = Object.values(meSummaryMethods).flat().length;

/** Worst first: the code of the whole answer when several parts fail. */
const severity = [Code.DeadlineExceeded, Code.Unavailable, Code.Internal];
const rank = (code: Code) => (severity.includes(code) ? severity.indexOf(code) : severity.length);

/**
 * GET /v1/me/summary: the caller's profile, recent orders and notifications, fetched in
 * parallel under one deadline. If a part fails, the answer is an error naming every part
 * that failed, with the code of the worst failure; it never waits past the deadline.
 */
export async function handleMeSummary(parts: GatewayParts, req: IncomingMessage, res: ServerResponse, exchange: Exchange): Promise<void> {
  exchange.route = meSummaryRouteKey;
  if (req.method !== "GET") {
    throw new HttpError(405, Code.Unimplemented, `${req.method} is not allowed on ${meSummaryPath} (allowed: GET)`, { allow: "GET" });
  }
  const caller = (await admit(parts, exchange, req.headers.authorization, { anonymousAllowed: false, cost: summaryCost }))!;
  const timeoutMs = timeoutFromHeaders(req.headers, parts.config.upstreamTimeoutMs);
  const call = { onStart: exchange.track, timeoutMs, startedAt: exchange.receivedAt, headers: upstreamHeaders(exchange, caller) };
  const { upstreams } = parts;

  const [user, recentOrders, notifications] = await Promise.allSettled([
    upstreams.call("users", UserService.method.getUser, create(GetUserRequestSchema, { userId: caller.userId }), call),
    upstreams.call("orders", OrderService.method.listOrders, create(ListOrdersRequestSchema, { pageSize: recentOrdersCount }), call),
    upstreams.call(
      "notifications",
      NotificationService.method.listNotifications,
      create(ListNotificationsRequestSchema, { pageSize: notificationsCount }),
      call,
    ),
  ]);
  if (user.status === "fulfilled" && recentOrders.status === "fulfilled" && notifications.status === "fulfilled") {
    const summary = create(MeSummarySchema, {
      user: user.value.user,
      recentOrders: recentOrders.value.orders,
      notifications: notifications.value.notifications,
    });
    sendJson(res, 200, JSON.stringify(messageToJson(MeSummarySchema, summary, parts.registry)));
    return;
  }
  const failures = Object.entries({ user, recentOrders, notifications }).flatMap(([part, result]) =>
    result.status === "rejected" ? [{ part, error: ConnectError.from(result.reason) }] : [],
  );
  const worst = failures.reduce((a, b) => (rank(b.error.code) < rank(a.error.code) ? b : a));
  const message = `summary incomplete: ${failures.map((f) => `${f.part}: ${f.error.rawMessage}`).join("; ")}`;
  throw new ConnectError(message, worst.error.code, worst.error.metadata);
}
