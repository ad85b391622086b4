import { decodeJwt, errors as joseErrors, jwtVerify, SignJWT } from "jose";
import { env } from "./config.js";
import { errors } from "./errors.js";
import type { Role } from "./identity.js";

/** Settings shared by the issuer (users) and the verifier (gateway). */
export const tokenConfigSpec = {
  JWT_SECRET: env.string("shop-development-secret-change-me-in-production"),
  JWT_ISSUER: env.string("shop-users"),
  JWT_AUDIENCE: env.string("shop-api"),
  JWT_TTL_SECONDS: env.int(3600, { min: 60, max: 86_400 }),
};

export interface TokenSettings {
  JWT_SECRET: string;
  JWT_ISSUER: string;
  JWT_AUDIENCE: string;
  JWT_TTL_SECONDS: number;
}

export interface AccessClaims {
  userId: string;
  role: Role;
}

const keyOf = (settings: TokenSettings) => new TextEncoder().encode(settings.JWT_SECRET);

/** A signed HS256 access token: subject, role, issuer, audience, expiry. */
export async function issueAccessToken(settings: TokenSettings, claims: AccessClaims): Promise<string> {
  return new SignJWT({ role: claims.role })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(claims.userId)
    .setIssuer(settings.JWT_ISSUER)
    .setAudience(settings.JWT_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(`${settings.JWT_TTL_SECONDS}s`)
    .sign(keyOf(settings));
}

/** Verifies signature, expiry, issuer and audience; UNAUTHENTICATED with the reason otherwise. */
export async function verifyAccessToken(settings: TokenSettings, token: string): Promise<AccessClaims> {
  try {
    const { payload } = await jwtVerify(token, keyOf(settings), {
      algorithms: ["HS256"],
      issuer: settings.JWT_ISSUER,
      audience: settings.JWT_AUDIENCE,
    });
    if (!payload.sub) throw errors.unauthenticated("access token has no subject");
    return { userId: payload.sub, role: payload.role === "admin" ? "admin" : "customer" };
  } catch (err) {
    if (err instanceof joseErrors.JWTExpired) throw errors.unauthenticated("access token expired");
    if (err instanceof joseErrors.JOSEError) throw errors.unauthenticated(`invalid access token (${err.code})`);
    throw err;
  }
}

/** Verifies access tokens, remembering those it verified until they expire. */
export interface AccessTokenVerifier {
  verify(token: string): Promise<AccessClaims>;
  /** Tokens remembered now. */
  readonly size: number;
}

/**
 * `verifyAccessToken` with a bounded cache keyed by the token: a client sends the same token
 * with every request, and checking its signature cost more than the rest of the gateway's work
 * on a request. A remembered token is answered until its `exp`; failures are not remembered.
 * Past `maxEntries` the oldest entry goes.
 */
export function createAccessTokenVerifier(settings: TokenSettings, maxEntries = 10_000, now: () => number = Date.now): AccessTokenVerifier {
  const verified = new Map<string, { claims: AccessClaims; expiresAt: number }>();
  return {
    async verify(token) {
      const known = verified.get(token);
      if (known && known.expiresAt > now()) return known.claims;
      if (known) verified.delete(token);
      const claims = await verifyAccessToken(settings, token);
      const expiresAt = (decodeJwt(token).exp ?? 0) * 1000;
      if (verified.size >= maxEntries) verified.delete(verified.keys().next().value!);
      verified.set(token, { claims, expiresAt });
      return claims;
    },
    get size() {
      return verified.size;
    },
  };
}
