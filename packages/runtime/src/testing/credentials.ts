import { randomUUID } from "node:crypto";
import type { ShopContext } from "@shop/contracts";
import type { JWTPayload } from "jose";
import { asSigningKey, generateDevelopmentKey, publicKeySet, type SigningKey } from "../auth/keys.js";
import {
  createTokenVerifier,
  issueServiceToken,
  issueUserToken,
  loadTokenSettings,
  type ServiceCredential,
  signToken,
  type TokenVerifier,
  type UserRole,
} from "../auth/tokens.js";

/**
 * The keys of a test run, in the environment so that every process the run starts (vitest
 * workers, service processes) trusts the same ones: `npm test` sets them once; a test file run
 * on its own makes its own. The signing keys never leave the test processes but through tokens.
 */
function testKeys(): { users: SigningKey; platform: SigningKey } {
  const given = (name: string) => (process.env[name] ? asSigningKey(JSON.parse(process.env[name]!)) : undefined);
  let users = given("USERS_TOKEN_SIGNING_KEY");
  let platform = given("SHOP_TEST_SERVICE_TOKEN_SIGNING_KEY");
  if (!users || !platform) {
    users = generateDevelopmentKey();
    platform = generateDevelopmentKey();
    Object.assign(process.env, {
      USERS_TOKEN_SIGNING_KEY: JSON.stringify(users.jwk),
      SHOP_TEST_SERVICE_TOKEN_SIGNING_KEY: JSON.stringify(platform.jwk),
      AUTH_USER_TOKEN_KEYS: JSON.stringify(publicKeySet(users)),
      AUTH_SERVICE_TOKEN_KEYS: JSON.stringify(publicKeySet(platform)),
    });
  }
  return { users, platform };
}

const keys = testKeys();

/** Makes sure the test run's keys are in the environment (importing this module already does). */
export const ensureTestCredentials = (): void => void keys;
const settings = loadTokenSettings(process.env);

/** An end user's access token, as the users service would issue it. */
export function userToken(userId: string = randomUUID(), role: UserRole = "customer", ttlSeconds = 3_600): string {
  return issueUserToken(keys.users, { issuer: settings.userIssuer, audience: settings.userAudience, ttlSeconds }, { userId, role });
}

/** A token of any claims signed with the users service's key of the test run, or with `key`. */
export function signedUserToken(claims: JWTPayload & { exp: number }, key: SigningKey = keys.users): string {
  return signToken(key, claims);
}

/** A service's own token, as the platform would give it. */
export function serviceToken(service: string, ttlSeconds = 3_600): string {
  return issueServiceToken(keys.platform, { issuer: settings.serviceIssuer, audience: settings.serviceAudience, ttlSeconds }, service);
}

/** Call metadata of a signed-in end user. */
export function callerHeaders(userId: string = randomUUID(), role: UserRole = "customer"): Record<string, string> {
  return { authorization: `Bearer ${userToken(userId, role)}` };
}

export const adminHeaders = (userId: string = randomUUID()) => callerHeaders(userId, "admin");

/** Call metadata of a service calling with its own credential. */
export const serviceHeaders = (service: string): Record<string, string> => ({ authorization: `Bearer ${serviceToken(service)}` });

/** What a service of the test run needs in its environment to verify calls and to make its own. */
export function credentialsEnv(context: ShopContext | "gateway"): Record<string, string> {
  return {
    AUTH_USER_TOKEN_KEYS: process.env.AUTH_USER_TOKEN_KEYS!,
    AUTH_SERVICE_TOKEN_KEYS: process.env.AUTH_SERVICE_TOKEN_KEYS!,
    ...(context === "users" ? { USERS_TOKEN_SIGNING_KEY: process.env.USERS_TOKEN_SIGNING_KEY! } : {}),
    SERVICE_TOKEN: serviceToken(context, 86_400),
  };
}

/** A verifier trusting the test run's keys, for servers a test starts itself. */
export const testTokenVerifier = (): TokenVerifier => createTokenVerifier(settings);

/** A service's credential for clients a test makes, calling as that service would. */
export const serviceCredential = (service: string): ServiceCredential => {
  const token = serviceToken(service, 86_400);
  return { token: () => token };
};
