import { describe, expect, it } from "vitest";
import { normaliseName } from "./user.js";

describe("normaliseName", () => {
  it("keeps a name without its surrounding blanks", () => {
    expect(normaliseName("  Ada Lovelace ")).toBe("Ada Lovelace");
    expect(normaliseName("Grace")).toBe("Grace");
  });

  it.each(["", " ", "\t\n "])("has no name for the blank %j", (blank) => {
    expect(normaliseName(blank)).toBeUndefined();
  });
});
