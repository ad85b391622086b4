import { bearerToken, errors, type TokenVerifier } from "@shop/runtime";

/** A signed-in end user, and the access token that proved it (passed on to the services). */
export interface Caller {
  userId: string;
  role: "customer" | "admin";
  token: string;
}

/**
 * The end user behind an `Authorization: Bearer <access token>` header. A token that is sent is
 * always verified; without one, only anonymous-allowed methods pass. Service credentials are for
 * calls between services, not for the public API.
 */
export async function authenticate(
  tokens: TokenVerifier,
  authorization: string | undefined,
  anonymousAllowed: boolean,
): Promise<Caller | undefined> {
  if (authorization === undefined || authorization === "") {
    if (anonymousAllowed) return undefined;
    throw errors.unauthenticated("authentication required: send Authorization: Bearer <access token>");
  }
  const token = bearerToken(authorization);
  const principal = await tokens.verify(token);
  if (principal.kind !== "user") throw errors.unauthenticated("the public API takes end users' access tokens only");
  return { userId: principal.userId, role: principal.role, token };
}
