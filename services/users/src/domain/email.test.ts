import { describe, expect, it } from "vitest";
import { normaliseEmail } from "./email.js";

describe("normaliseEmail", () => {
  it.each([
    ["ada@example.com", "ada@example.com"],
    ["Ada.Lovelace@Example.COM", "ada.lovelace@example.com"],
    ["  bob@example.org\t", "bob@example.org"],
  ])("spells %j as %j", (input, expected) => {
    expect(normaliseEmail(input)).toBe(expected);
  });

  it("maps every case variant of an address to one spelling", () => {
    const variants = ["carol@shop.test", "CAROL@SHOP.TEST", "Carol@Shop.Test"];
    expect(new Set(variants.map(normaliseEmail))).toEqual(new Set(["carol@shop.test"]));
  });
});
