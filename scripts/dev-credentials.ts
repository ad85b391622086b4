/**
 * Development credentials: the keys `npm start` signs with, kept in `.run/dev-keys.json` so that
 * tokens printed by `npm run token` stay valid across starts, and a token file per service, as
 * the platform would mount one. Every key is a `dev-` key, which production refuses.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import {
  asSigningKey,
  generateDevelopmentKey,
  issueServiceToken,
  issueUserToken,
  loadTokenSettings,
  publicKeySet,
  type SigningKey,
  type TokenSettings,
  type UserRole,
} from "@shop/runtime";
import { repoRoot } from "./infra.js";

const runDir = path.join(repoRoot, ".run");
const keysFile = path.join(runDir, "dev-keys.json");
const credentialsDir = path.join(runDir, "credentials");

export interface DevelopmentKeys {
  /** Signs end users' access tokens (the users service holds it). */
  users: SigningKey;
  /** Signs service tokens (the platform's; nothing but these scripts holds it). */
  platform: SigningKey;
}

/** The development keys, made on first use. */
export function developmentKeys(): DevelopmentKeys {
  if (existsSync(keysFile)) {
    const stored = JSON.parse(readFileSync(keysFile, "utf8")) as { users: unknown; platform: unknown };
    return { users: asSigningKey(stored.users), platform: asSigningKey(stored.platform) };
  }
  const keys = { users: generateDevelopmentKey(), platform: generateDevelopmentKey() };
  mkdirSync(runDir, { recursive: true });
  writeFileSync(keysFile, `${JSON.stringify({ users: keys.users.jwk, platform: keys.platform.jwk }, null, 2)}\n`, { mode: 0o600 });
  return keys;
}

/** What every process verifies credentials with: the public halves. */
export function verificationEnv(keys: DevelopmentKeys): Record<string, string> {
  return {
    AUTH_USER_TOKEN_KEYS: JSON.stringify(publicKeySet(keys.users)),
    AUTH_SERVICE_TOKEN_KEYS: JSON.stringify(publicKeySet(keys.platform)),
  };
}

const settingsOf = (keys: DevelopmentKeys): TokenSettings => loadTokenSettings({ ...process.env, ...verificationEnv(keys) });

/** A service token for `service`, signed with the development platform key. */
export function developmentServiceToken(keys: DevelopmentKeys, service: string, ttlSeconds: number): string {
  const settings = settingsOf(keys);
  return issueServiceToken(keys.platform, { issuer: settings.serviceIssuer, audience: settings.serviceAudience, ttlSeconds }, service);
}

/** An end user's access token, signed with the development users key. */
export function developmentUserToken(keys: DevelopmentKeys, userId: string, role: UserRole, ttlSeconds: number): string {
  const settings = settingsOf(keys);
  return issueUserToken(keys.users, { issuer: settings.userIssuer, audience: settings.userAudience, ttlSeconds }, { userId, role });
}

/**
 * The credentials of one process `npm start` runs: the public keys, the users service's signing
 * key for users alone, and a service token file of its own (valid a week, written afresh at
 * every start).
 */
export function processCredentials(keys: DevelopmentKeys, name: string): Record<string, string> {
  mkdirSync(credentialsDir, { recursive: true, mode: 0o700 });
  const tokenFile = path.join(credentialsDir, `${name}.token`);
  writeFileSync(tokenFile, developmentServiceToken(keys, name, 7 * 86_400), { mode: 0o600 });
  chmodSync(tokenFile, 0o600);
  return {
    ...verificationEnv(keys),
    ...(name === "users" ? { USERS_TOKEN_SIGNING_KEY: JSON.stringify(keys.users.jwk) } : {}),
    SERVICE_TOKEN_FILE: tokenFile,
  };
}
