import { createPrivateKey, generateKeyPairSync, type JsonWebKey, randomBytes } from "node:crypto";

/**
 * Signing keys are Ed25519 (JWS `EdDSA`), as JWKs: a process that only verifies tokens holds
 * public keys alone, which cannot mint any.
 */
export interface SigningKey {
  kid: string;
  /** The private JWK (`d` set). */
  jwk: JsonWebKey;
}

/** Public keys as a JSON Web Key Set, what verifiers are configured with. */
export interface PublicKeySet {
  keys: JsonWebKey[];
}

/** The kid prefix of keys made for development and tests; production refuses them. */
export const developmentKeyPrefix = "dev-";

/** A new key pair for development or tests, with a `dev-` kid. */
export function generateDevelopmentKey(): SigningKey {
  const { privateKey } = generateKeyPairSync("ed25519");
  const kid = `${developmentKeyPrefix}${randomBytes(6).toString("hex")}`;
  return { kid, jwk: { ...privateKey.export({ format: "jwk" }), kid, alg: "EdDSA", use: "sig" } };
}

/** The public half of `key`, as a one-key set. */
export function publicKeySet(...keys: SigningKey[]): PublicKeySet {
  return { keys: keys.map(({ jwk: { d: _private, ...publicJwk } }) => publicJwk) };
}

/** Checks a JSON value is an Ed25519 private JWK with a kid (for `env.json`). */
export function asSigningKey(value: unknown): SigningKey {
  const jwk = value as JsonWebKey;
  if (jwk?.kty !== "OKP" || jwk.crv !== "Ed25519" || typeof jwk.d !== "string" || typeof jwk.kid !== "string") {
    throw new Error("must be an Ed25519 private JWK with a kid");
  }
  createPrivateKey({ key: jwk, format: "jwk" });
  return { kid: jwk.kid, jwk };
}

/** Checks a JSON value is a JSON Web Key Set of public keys, each with a kid (for `env.json`). */
export function asPublicKeySet(value: unknown): PublicKeySet {
  const set = value as PublicKeySet;
  if (!Array.isArray(set?.keys) || set.keys.length === 0 || set.keys.some((key) => typeof key.kid !== "string" || key.d !== undefined)) {
    throw new Error("must be a JSON Web Key Set of public keys, each with a kid");
  }
  return set;
}

export const isDevelopmentKey = (kid: string | undefined): boolean => kid?.startsWith(developmentKeyPrefix) ?? false;

/** Why production refuses a signing key: one made for development or tests. */
export const developmentSigningKey = (key: SigningKey): string | undefined =>
  isDevelopmentKey(key.kid) ? `is a development key (${key.kid})` : undefined;
