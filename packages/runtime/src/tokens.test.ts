import { describe, expect, it } from "vitest";
import { createAccessTokenVerifier, issueAccessToken, type TokenSettings } from "./tokens.js";

const settings: TokenSettings = {
  JWT_SECRET: "a-secret-for-tests",
  JWT_ISSUER: "shop-users",
  JWT_AUDIENCE: "shop-api",
  JWT_TTL_SECONDS: 600,
};

describe("access token verifier", () => {
  it("remembers the tokens it verified, up to its bound, and none it refused", async () => {
    const verifier = createAccessTokenVerifier(settings, 2);
    const tokens = await Promise.all(["u-1", "u-2", "u-3"].map((userId) => issueAccessToken(settings, { userId, role: "customer" })));
    expect(await verifier.verify(tokens[0]!)).toEqual({ userId: "u-1", role: "customer" });
    expect(await verifier.verify(tokens[0]!)).toEqual({ userId: "u-1", role: "customer" });
    expect(verifier.size).toBe(1);
    await verifier.verify(tokens[1]!);
    await verifier.verify(tokens[2]!);
    expect(verifier.size).toBe(2);

    const forged = `${tokens[0]!.slice(0, -4)}AAAA`;
    await expect(verifier.verify(forged)).rejects.toMatchObject({ rawMessage: expect.stringContaining("invalid access token") });
    await expect(verifier.verify(forged)).rejects.toMatchObject({ rawMessage: expect.stringContaining("invalid access token") });
    expect(verifier.size).toBe(2);
  });

  it("checks a remembered token again once it has expired", async () => {
    let clock = Date.now();
    const verifier = createAccessTokenVerifier(settings, 10, () => clock);
    const token = await issueAccessToken(settings, { userId: "u-1", role: "admin" });
    await verifier.verify(token);
    clock += 601_000;
    // The signature is checked again (and still good by the real clock); the entry is renewed, not added.
    expect(await verifier.verify(token)).toEqual({ userId: "u-1", role: "admin" });
    expect(verifier.size).toBe(1);
  });
});
