import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { accessTable, tableCells } from "../../scripts/access-table.js";

describe("docs/access.md", () => {
  it("says who may call each method exactly as the contracts declare it (npm run docs:access writes it)", () => {
    const committed = readFileSync(path.resolve(import.meta.dirname, "../../docs/access.md"), "utf8");
    expect(tableCells(committed)).toEqual(tableCells(accessTable()));
  });
});
