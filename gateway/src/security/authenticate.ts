import { type AccessClaims, type AccessTokenVerifier, errors } from "@shop/runtime";

const bearerPattern = /^Bearer +([A-Za-z0-9._~+/-]+=*)$/i;

/**
 * The caller behind an `Authorization: Bearer <JWT>` header. A token that is sent is always
 * verified; without one, only anonymous-allowed methods pass.
 */
export async function authenticate(
  verifier: AccessTokenVerifier,
  authorization: string | undefined,
  anonymousAllowed: boolean,
): Promise<AccessClaims | undefined> {
  if (authorization === undefined || authorization === "") {
    if (anonymousAllowed) return undefined;
    throw errors.unauthenticated("authentication required: send Authorization: Bearer <access token>");
  }
  const match = bearerPattern.exec(authorization);
  if (!match) throw errors.unauthenticated('Authorization header must be "Bearer <access token>"');
  return verifier.verify(match[1]!);
}
