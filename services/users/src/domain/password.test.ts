import { describe, expect, it } from "vitest";
import {
  defaultScryptParams,
  formatPasswordHash,
  hashPassword,
  PasswordHashFormatError,
  parsePasswordHash,
  type ScryptParams,
  verifyPassword,
} from "./password.js";

// Cheap parameters keep these tests fast; the stored string carries them, as in production.
const cheap: ScryptParams = { N: 1024, r: 8, p: 1 };

describe("password hashing", () => {
  it("stores the scheme, parameters, salt and hash in one string", async () => {
    const stored = await hashPassword("correct horse battery staple");
    expect(stored).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    const parsed = parsePasswordHash(stored);
    expect(parsed.params).toEqual(defaultScryptParams);
    expect(parsed.salt).toHaveLength(16);
    expect(parsed.key).toHaveLength(32);
    expect(formatPasswordHash(parsed)).toBe(stored);
  });

  it("salts every hash, so equal passwords hash differently", async () => {
    const [first, second] = await Promise.all([hashPassword("same password", cheap), hashPassword("same password", cheap)]);
    expect(first).not.toBe(second);
  });

  it("accepts the right password and rejects others", async () => {
    const stored = await hashPassword("s3cret-password", cheap);
    expect(await verifyPassword("s3cret-password", stored)).toBe(true);
    expect(await verifyPassword("s3cret-passwore", stored)).toBe(false);
    expect(await verifyPassword("S3CRET-PASSWORD", stored)).toBe(false);
    expect(await verifyPassword("", stored)).toBe(false);
  });

  it("verifies with the parameters a hash was made with, so defaults can change", async () => {
    const stored = await hashPassword("older account", { N: 2048, r: 4, p: 2 });
    expect(stored.startsWith("scrypt$2048$4$2$")).toBe(true);
    expect(await verifyPassword("older account", stored)).toBe(true);
  });

  it("treats canonically equivalent spellings of a password as the same", async () => {
    const composed = "caf\u00e9 au lait";
    const decomposed = "cafe\u0301 au lait";
    expect(await verifyPassword(decomposed, await hashPassword(composed, cheap))).toBe(true);
  });

  it.each([
    ["", "expected scrypt$N$r$p$salt$hash"],
    ["bcrypt$12$abc", "expected scrypt$N$r$p$salt$hash"],
    ["scrypt$1024$8$1$c2FsdHNhbHRzYWx0c2FsdA", "expected scrypt$N$r$p$salt$hash"],
    ["scrypt$1000$8$1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g", "power of two"],
    ["scrypt$1$8$1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g", "power of two"],
    ["scrypt$4194304$8$1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g", "bad N"],
    ["scrypt$1024$x$1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g", "bad r"],
    ["scrypt$1024$8$0$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g", "bad p"],
    ["scrypt$1024$8$1$c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g", "salt must be"],
    ["scrypt$1024$8$1$c2FsdHNhbHRzYWx0c2FsdA$", "hash must be"],
    ["scrypt$1024$8$1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaA==", "hash must be"],
  ])("refuses the stored hash %j (%s)", async (stored, reason) => {
    expect(() => parsePasswordHash(stored)).toThrow(PasswordHashFormatError);
    expect(() => parsePasswordHash(stored)).toThrow(reason);
    await expect(verifyPassword("anything", stored)).rejects.toThrow(PasswordHashFormatError);
  });
});
