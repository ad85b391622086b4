import type { IncomingMessage, ServerResponse } from "node:http";
import { Code, ConnectError } from "@connectrpc/connect";
import { errors } from "@shop/runtime";
import { admit, type Exchange, type GatewayParts, upstreamHeaders } from "./admission.js";
import { hasBody, readBody, requireJsonContent } from "./http/body.js";
import { errorReply, HttpError } from "./http/errors.js";
import { sendJson } from "./http/reply.js";
import { timeoutFromHeaders } from "./http/request-meta.js";
import type { Route } from "./routing/route-table.js";
import { maxIdempotencyKeyLength, requestFingerprint, type StoredResponse } from "./traffic/idempotency.js";
import { bindRequest } from "./transcoding/bind-request.js";
import { renderResponse } from "./transcoding/render-response.js";

const idempotencyKeyPattern = new RegExp(`^[\\x21-\\x7e]{1,${maxIdempotencyKeyLength}}$`);

function idempotencyKeyOf(req: IncomingMessage): string | undefined {
  const key = req.headers["idempotency-key"];
  if (key === undefined) return undefined;
  if (typeof key !== "string" || !idempotencyKeyPattern.test(key)) {
    throw errors.invalidArgument("Idempotency-Key", `must be 1 to ${maxIdempotencyKeyLength} printable ASCII characters`);
  }
  return key;
}

/**
 * Serves one REST request through its generated route: match, admit, bind, call the
 * upstream, render. Throws on failure; the caller answers with the error body.
 */
export async function handleRest(parts: GatewayParts, req: IncomingMessage, res: ServerResponse, exchange: Exchange): Promise<void> {
  const url = req.url ?? "/";
  const queryAt = url.indexOf("?");
  const path = queryAt < 0 ? url : url.slice(0, queryAt);
  const match = parts.routes.match(req.method ?? "GET", path);
  if (match.kind === "not_found") throw new HttpError(404, Code.NotFound, `no route for ${req.method} ${path}`);
  if (match.kind === "method_not_allowed") {
    throw new HttpError(405, Code.Unimplemented, `${req.method} is not allowed on ${path} (allowed: ${match.allowed.join(", ")})`, {
      allow: match.allowed.join(", "),
    });
  }
  const { route, variables } = match;
  exchange.route = route.key;
  const caller = await admit(parts, exchange, req.headers.authorization, {
    anonymousAllowed: parts.policy.isPublic(route.method),
    cost: parts.policy.rateCost(route.method),
  });
  const timeoutMs = timeoutFromHeaders(req.headers, parts.config.upstreamTimeoutMs);
  const idempotencyKey = idempotencyKeyOf(req);
  let body: Buffer | undefined;
  if (hasBody(req)) {
    requireJsonContent(req);
    body = await readBody(req, parts.config.bodyLimitBytes);
  }
  const input = bindRequest(route, { variables, query: queryAt < 0 ? "" : url.slice(queryAt + 1), body });

  const respond = async (): Promise<StoredResponse> => {
    const headers = upstreamHeaders(exchange, caller, idempotencyKey);
    const output = await parts.upstreams.call(route.upstream, route.method, input, {
      onStart: exchange.track,
      timeoutMs,
      startedAt: exchange.receivedAt,
      headers,
    });
    return { status: 200, body: renderResponse(route, output, parts.registry) };
  };

  if (idempotencyKey === undefined || !parts.policy.isCreating(route)) {
    const { status, body: json } = await respond();
    sendJson(res, status, json);
    return;
  }
  await respondOnce(
    parts,
    route,
    req,
    res,
    { key: idempotencyKey, scope: caller ? `user:${caller.userId}` : `address:${exchange.clientAddress}`, body },
    respond,
  );
}

/**
 * Statuses a retry of the same request would get again, so they are kept for replay. Not kept:
 * 408, 409 (a conflict or an abort of the moment), 425, 429 (limits), 499 (the client went away,
 * the call was cancelled) and every 5xx: the client may retry those for real.
 */
const notFinal = new Set([408, 409, 425, 429, 499]);
const isFinalAnswer = (status: number) => status < 500 && !notFinal.has(status);

/**
 * Idempotency-Key on a creating POST: the first request runs and its answer is kept; the same
 * key with the same request replays it; with a different request it is refused (422).
 */
async function respondOnce(
  parts: GatewayParts,
  route: Route,
  req: IncomingMessage,
  res: ServerResponse,
  claim: { key: string; scope: string; body: Buffer | undefined },
  respond: () => Promise<StoredResponse>,
): Promise<void> {
  const outcome = await parts.idempotency
    .begin(claim.scope, claim.key, requestFingerprint(req.method ?? "", req.url ?? "", claim.body))
    .catch((err: unknown) => {
      parts.logger.error({ err }, "idempotency store failed");
      throw errors.unavailable("Idempotency-Key cannot be honoured right now; retry later");
    });
  switch (outcome.kind) {
    case "replay":
      sendJson(res, outcome.response.status, outcome.response.body, { "idempotent-replayed": "true" });
      return;
    case "conflict":
      if (outcome.reason === "different_request") {
        throw new HttpError(422, Code.InvalidArgument, `Idempotency-Key: already used for a different ${route.key} request`);
      }
      throw new ConnectError("Idempotency-Key: a request with this key is still in progress", Code.Aborted, { "retry-after": "1" });
    case "proceed": {
      let stored: StoredResponse;
      try {
        stored = await respond();
      } catch (err) {
        const reply = errorReply(err, parts.registry);
        if (isFinalAnswer(reply.status) && reply.unexpected === undefined) {
          await outcome.complete({ status: reply.status, body: JSON.stringify(reply.body) });
        } else {
          await outcome.release();
        }
        throw err;
      }
      await outcome.complete(stored);
      sendJson(res, stored.status, stored.body);
    }
  }
}
