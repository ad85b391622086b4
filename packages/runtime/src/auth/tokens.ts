import { createPrivateKey, type KeyObject, sign } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { createLocalJWKSet, decodeJwt, type JWTPayload, errors as joseErrors, jwtVerify } from "jose";
import { type ConfigOf, env, loadConfig, productionRefuses } from "../config.js";
import { errors } from "../errors.js";
import { asPublicKeySet, isDevelopmentKey, type PublicKeySet, type SigningKey } from "./keys.js";

/** Who is calling: nobody, an end user (from their access token), or a service (from its own credential). */
export type Principal = { kind: "anonymous" } | { kind: "user"; userId: string; role: UserRole } | { kind: "service"; name: string };

export type UserRole = "customer" | "admin";

export const anonymous: Principal = { kind: "anonymous" };

/** How a principal reads in errors and logs: `user 0b7e...`, `service orders`, `anonymous`. */
export function describePrincipal(principal: Principal): string {
  switch (principal.kind) {
    case "anonymous":
      return "an anonymous caller";
    case "user":
      return `${principal.role} ${principal.userId}`;
    case "service":
      return `service ${principal.name}`;
  }
}

/** What verifying the credentials of a call needs: the issuers, audiences and public keys of both kinds of token. */
export interface TokenSettings {
  userIssuer: string;
  userAudience: string;
  userKeys: PublicKeySet;
  serviceIssuer: string;
  serviceAudience: string;
  serviceKeys: PublicKeySet;
}

/** A key set verifiers trust; production refuses development keys (`dev-` kids), which `npm start` and tests make. */
const verifyingKeys = () =>
  productionRefuses(env.json(asPublicKeySet), (set) => {
    const development = set.keys.map((key) => key.kid as string).filter(isDevelopmentKey);
    return development.length > 0 ? `holds development keys (${development.join(", ")})` : undefined;
  });

/**
 * The variables of `TokenSettings`. End-user access tokens are issued by the users service; service
 * tokens by the platform (Kubernetes projected ServiceAccount tokens, or `npm start` locally).
 * Key sets are JWKS JSON, inline or in a file (`AUTH_USER_TOKEN_KEYS_FILE`, ...).
 */
export const tokenSpec = {
  AUTH_USER_TOKEN_ISSUER: env.string("shop-users"),
  AUTH_USER_TOKEN_AUDIENCE: env.string("shop-api"),
  AUTH_USER_TOKEN_KEYS: verifyingKeys(),
  AUTH_SERVICE_TOKEN_ISSUER: env.string("shop-platform"),
  AUTH_SERVICE_TOKEN_AUDIENCE: env.string("shop-services"),
  AUTH_SERVICE_TOKEN_KEYS: verifyingKeys(),
};

export function tokenSettingsOf(raw: ConfigOf<typeof tokenSpec>): TokenSettings {
  return {
    userIssuer: raw.AUTH_USER_TOKEN_ISSUER,
    userAudience: raw.AUTH_USER_TOKEN_AUDIENCE,
    userKeys: raw.AUTH_USER_TOKEN_KEYS,
    serviceIssuer: raw.AUTH_SERVICE_TOKEN_ISSUER,
    serviceAudience: raw.AUTH_SERVICE_TOKEN_AUDIENCE,
    serviceKeys: raw.AUTH_SERVICE_TOKEN_KEYS,
  };
}

/** Token settings from the environment; ConfigError naming every variable that is missing or wrong. */
export const loadTokenSettings = (source: NodeJS.ProcessEnv = process.env): TokenSettings => tokenSettingsOf(loadConfig(tokenSpec, source));

const base64url = (data: string | Buffer) => Buffer.from(data).toString("base64url");
const privateKeys = new WeakMap<SigningKey, KeyObject>();

/** A compact JWS (EdDSA) of `claims` signed with `key`; synchronous, so tests and tools mint tokens inline. */
export function signToken(key: SigningKey, claims: JWTPayload & { exp: number }): string {
  let privateKey = privateKeys.get(key);
  if (!privateKey) privateKeys.set(key, (privateKey = createPrivateKey({ key: key.jwk, format: "jwk" })));
  const input = `${base64url(JSON.stringify({ alg: "EdDSA", typ: "JWT", kid: key.kid }))}.${base64url(JSON.stringify(claims))}`;
  return `${input}.${base64url(sign(null, Buffer.from(input), privateKey))}`;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** An end user's access token: subject, role, issuer, audience, expiry. */
export function issueUserToken(
  key: SigningKey,
  options: { issuer: string; audience: string; ttlSeconds: number },
  user: { userId: string; role: UserRole },
): string {
  const iat = nowSeconds();
  return signToken(key, {
    sub: user.userId,
    role: user.role,
    iss: options.issuer,
    aud: options.audience,
    iat,
    exp: iat + options.ttlSeconds,
  });
}

/** The subject of a Kubernetes ServiceAccount token: `system:serviceaccount:<namespace>:<name>`. */
const serviceAccountSubject = /^system:serviceaccount:[a-z0-9-]+:([a-z0-9-]+)$/;

/** A service's token, shaped like a projected ServiceAccount token (what `npm start` gives each service). */
export function issueServiceToken(
  key: SigningKey,
  options: { issuer: string; audience: string; ttlSeconds: number },
  service: string,
  namespace = "shop",
): string {
  const iat = nowSeconds();
  const sub = `system:serviceaccount:${namespace}:${service}`;
  return signToken(key, { sub, iss: options.issuer, aud: options.audience, iat, exp: iat + options.ttlSeconds });
}

/** Checks the credential of a call and says who made it. */
export interface TokenVerifier {
  /** The principal of a bearer token; UNAUTHENTICATED with the reason when it is not valid. Synchronous for a remembered token. */
  verify(token: string): Principal | Promise<Principal>;
  /** Tokens remembered now. */
  readonly size: number;
}

/**
 * Verifies access tokens of end users and service tokens, each against its issuer's keys, and
 * remembers those it verified until they expire (bounded; failures are never remembered): a
 * caller sends the same token with every call, and checking a signature costs more than most
 * calls' own work.
 */
export function createTokenVerifier(settings: TokenSettings, maxEntries = 10_000, now: () => number = Date.now): TokenVerifier {
  const userKeys = createLocalJWKSet(settings.userKeys as never);
  const serviceKeys = createLocalJWKSet(settings.serviceKeys as never);
  const verified = new Map<string, { principal: Principal; expiresAt: number }>();

  const check = async (token: string): Promise<{ principal: Principal; expiresAt: number }> => {
    let issuer: string | undefined;
    try {
      issuer = decodeJwt(token).iss;
    } catch {
      throw errors.unauthenticated("credential is not a JWT");
    }
    try {
      if (issuer === settings.userIssuer) {
        const { payload } = await jwtVerify(token, userKeys, { algorithms: ["EdDSA"], issuer, audience: settings.userAudience });
        if (!payload.sub) throw errors.unauthenticated("access token has no subject");
        return {
          principal: { kind: "user", userId: payload.sub, role: payload.role === "admin" ? "admin" : "customer" },
          expiresAt: payload.exp! * 1000,
        };
      }
      if (issuer === settings.serviceIssuer) {
        const { payload } = await jwtVerify(token, serviceKeys, { algorithms: ["EdDSA"], issuer, audience: settings.serviceAudience });
        const name = serviceAccountSubject.exec(payload.sub ?? "")?.[1];
        if (!name) throw errors.unauthenticated("service token does not name a service account");
        return { principal: { kind: "service", name }, expiresAt: payload.exp! * 1000 };
      }
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw errors.unauthenticated("credential expired");
      if (err instanceof joseErrors.JOSEError) throw errors.unauthenticated(`invalid credential (${err.code})`);
      throw err;
    }
    throw errors.unauthenticated(`credential from an unknown issuer`);
  };

  return {
    verify(token) {
      const known = verified.get(token);
      if (known && known.expiresAt > now()) return known.principal;
      if (known) verified.delete(token);
      return check(token).then(({ principal, expiresAt }) => {
        if (verified.size >= maxEntries) verified.delete(verified.keys().next().value!);
        verified.set(token, { principal, expiresAt });
        return principal;
      });
    },
    get size() {
      return verified.size;
    },
  };
}

/**
 * The credential this process presents when it calls other services: a token file the platform
 * keeps fresh (`SERVICE_TOKEN_FILE`, a projected ServiceAccount token on Kubernetes), read again
 * when it changes, or a token given inline (`SERVICE_TOKEN`).
 */
export interface ServiceCredential {
  /** The current bearer token. */
  token(): string;
}

export function serviceCredentialFrom(source: NodeJS.ProcessEnv = process.env): ServiceCredential | undefined {
  const file = source.SERVICE_TOKEN_FILE;
  if (file) {
    let read = { token: readFileSync(file, "utf8").trim(), mtimeMs: statSync(file).mtimeMs, checkedAt: Date.now() };
    return {
      token() {
        if (Date.now() - read.checkedAt > 10_000) {
          const mtimeMs = statSync(file).mtimeMs;
          read = { token: mtimeMs === read.mtimeMs ? read.token : readFileSync(file, "utf8").trim(), mtimeMs, checkedAt: Date.now() };
        }
        return read.token;
      },
    };
  }
  const inline = source.SERVICE_TOKEN;
  return inline ? { token: () => inline } : undefined;
}

/** `Authorization: Bearer <token>`, the only form a credential is accepted in. */
const bearerPattern = /^Bearer +([A-Za-z0-9._~+/-]+=*)$/i;

/** The token of an `authorization` header; UNAUTHENTICATED when the header is not a bearer token. */
export function bearerToken(authorization: string): string {
  const match = bearerPattern.exec(authorization);
  if (!match) throw errors.unauthenticated('authorization must be "Bearer <token>"');
  return match[1]!;
}
