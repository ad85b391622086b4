import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from "node:crypto";

/** scrypt cost parameters: memory use is 128 * N * r bytes per hash, per parallel lane. */
export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/** 32 MiB and about 0.1 s per hash on a small server: slow for guessing, fine for logins. */
export const defaultScryptParams: ScryptParams = { N: 2 ** 15, r: 8, p: 1 };

const saltBytes = 16;
const keyBytes = 32;
const scheme = "scrypt";

export class PasswordHashFormatError extends Error {
  constructor(reason: string) {
    super(`unrecognised password hash: ${reason}`);
    this.name = "PasswordHashFormatError";
  }
}

export interface ParsedPasswordHash {
  params: ScryptParams;
  salt: Buffer;
  key: Buffer;
}

// Bounds keep a corrupted row from asking for gigabytes of memory or minutes of CPU.
const limits = { N: 2 ** 20, r: 32, p: 16 };

function parseParam(name: keyof ScryptParams, raw: string | undefined): number {
  const value = Number(raw);
  if (!/^\d+$/.test(raw ?? "") || value < 1 || value > limits[name]) throw new PasswordHashFormatError(`bad ${name} "${raw}"`);
  return value;
}

// A minimum length, because an empty key would compare equal to any empty derivation.
function parseBytes(name: string, raw: string | undefined, minBytes: number): Buffer {
  const bytes = raw && /^[A-Za-z0-9_-]+$/.test(raw) ? Buffer.from(raw, "base64url") : Buffer.alloc(0);
  if (bytes.length < minBytes) throw new PasswordHashFormatError(`${name} must be unpadded base64url of at least ${minBytes} bytes`);
  return bytes;
}

/** Reads `scrypt$N$r$p$salt$hash` (salt and hash in unpadded base64url). */
export function parsePasswordHash(stored: string): ParsedPasswordHash {
  const parts = stored.split("$");
  if (parts.length !== 6 || parts[0] !== scheme) throw new PasswordHashFormatError(`expected ${scheme}$N$r$p$salt$hash`);
  const params = { N: parseParam("N", parts[1]), r: parseParam("r", parts[2]), p: parseParam("p", parts[3]) };
  if ((params.N & (params.N - 1)) !== 0 || params.N < 2) throw new PasswordHashFormatError(`N must be a power of two, got ${params.N}`);
  return { params, salt: parseBytes("salt", parts[4], saltBytes), key: parseBytes("hash", parts[5], keyBytes) };
}

export function formatPasswordHash({ params, salt, key }: ParsedPasswordHash): string {
  return [scheme, params.N, params.r, params.p, salt.toString("base64url"), key.toString("base64url")].join("$");
}

// NIST SP 800-63B: normalise so the same password typed on different keyboards or systems matches.
const normalise = (password: string) => password.normalize("NFKC");

function deriveKey(password: string, salt: Buffer, { N, r, p }: ScryptParams, length: number): Promise<Buffer> {
  const options: ScryptOptions = { N, r, p, maxmem: 256 * N * r * p };
  return new Promise((resolve, reject) =>
    scrypt(normalise(password), salt, length, options, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

/** A fresh random salt per call, so equal passwords never share a hash. */
export async function hashPassword(password: string, params: ScryptParams = defaultScryptParams): Promise<string> {
  const salt = randomBytes(saltBytes);
  return formatPasswordHash({ params, salt, key: await deriveKey(password, salt, params, keyBytes) });
}

/** Checks a password against a stored hash, with the parameters the hash was made with. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const { params, salt, key } = parsePasswordHash(stored);
  const candidate = await deriveKey(password, salt, params, key.length);
  return timingSafeEqual(candidate, key);
}
