import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { maxJsonDepth, parseStrictJson } from "./strict-json.js";

const refusal = (text: string) => {
  try {
    parseStrictJson(text);
  } catch (err) {
    return (err as Error & { rawMessage: string }).rawMessage;
  }
  return undefined;
};

describe("strict JSON", () => {
  it.each([
    ['{"name":"a","name":"b"}', "name: is given more than once in the JSON"],
    ['{"product":{"price":{"amountMinor":"1","amountMinor":"2"}}}', "product.price.amountMinor: is given more than once in the JSON"],
    ['{"items":[{"productId":"x"},{"quantity":1,"quantity":2}]}', "items[1].quantity: is given more than once in the JSON"],
    ['{"na\\u006de":"a","name":"b"}', "name: is given more than once in the JSON"],
    ['{"a":1,}', expect.stringMatching(/^body: malformed JSON/)],
  ])("refuses %s naming the key", (text, message) => {
    expect(refusal(text)).toEqual(message);
  });

  it("accepts the same key in different objects, escapes, and every kind of value", () => {
    expect(parseStrictJson('{"a":{"x":1},"b":{"x":[1,"x\\"y",{"x":null}]},"c":true,"d":-1.5e3}')).toEqual({
      a: { x: 1 },
      b: { x: [1, 'x"y', { x: null }] },
      c: true,
      d: -1500,
    });
  });

  it(`refuses nesting deeper than ${maxJsonDepth} levels, and a deeply nested flood without exhausting the stack`, () => {
    expect(refusal(`${"[".repeat(maxJsonDepth + 1)}${"]".repeat(maxJsonDepth + 1)}`)).toMatch(/nests deeper than 64 levels/);
    expect(refusal(`{"a":${"[".repeat(100_000)}${"]".repeat(100_000)}}`)).toMatch(/nests deeper than 64 levels at a/);
    expect(() => parseStrictJson(`${"[".repeat(maxJsonDepth)}${"]".repeat(maxJsonDepth)}`)).not.toThrow();
  });

  it("reads any JSON value JSON.parse reads, as JSON.parse does, when no key repeats", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), (value) => {
        const text = JSON.stringify(value);
        expect(parseStrictJson(text)).toEqual(JSON.parse(text));
      }),
    );
  });

  it("finds a repeated key wherever it is put", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), fc.string({ minLength: 1, maxLength: 8 }), (value, key) => {
        const text = `{"outer":[${JSON.stringify(value)},{${JSON.stringify(key)}:1,${JSON.stringify(key)}:2}]}`;
        expect(refusal(text)).toMatch(/is given more than once in the JSON$/);
      }),
    );
  });
});
