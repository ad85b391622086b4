import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { lintContracts } from "../../scripts/lint-contracts.js";

const repo = path.resolve(import.meta.dirname, "../..");
const usersProto = "proto/shop/users/v1/users.proto";
let scratch: string | undefined;

/** A copy of the contracts and their baseline, with `edit` applied to users.proto. */
async function contractsWith(edit: (source: string) => string): Promise<string> {
  scratch = await mkdtemp(path.join(tmpdir(), "shop-contracts-test-"));
  for (const entry of ["proto", "third_party", "buf.yaml", "contracts/baseline"]) {
    await cp(path.join(repo, entry), path.join(scratch, entry), { recursive: true });
  }
  const file = path.join(scratch, usersProto);
  const before = await readFile(file, "utf8");
  const after = edit(before);
  if (after === before) throw new Error("the edit changed nothing");
  await writeFile(file, after);
  return scratch;
}

const replace = (from: string, to: string) => (source: string) => {
  if (!source.includes(from)) throw new Error(`"${from}" not in users.proto`);
  return source.replace(from, to);
};

afterEach(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
  scratch = undefined;
});

describe("npm run lint:contracts", () => {
  it("passes on the committed contracts", async () => {
    const report = await lintContracts(repo);
    expect(report).toEqual({ ok: true, lint: [], breaking: [], rest: [] });
  });

  it("catches a field whose type changed", async () => {
    const report = await lintContracts(await contractsWith(replace("int32 expires_in = 2;", "int64 expires_in = 2;")));
    expect(report.ok).toBe(false);
    expect(report.breaking.join("\n")).toMatch(/expires_in.*changed type from "int32" to "int64"/);
  });

  it("catches a field removed without reserving it", async () => {
    const report = await lintContracts(await contractsWith(replace("  string token_type = 3;\n", "")));
    expect(report.ok).toBe(false);
    expect(report.breaking.join("\n")).toMatch(/"token_type".*deleted without reserving/);
  });

  it("catches a renamed JSON name (the gateway speaks JSON)", async () => {
    const report = await lintContracts(
      await contractsWith(replace("  string name = 3;\n  Role role = 4;", '  string name = 3 [json_name = "fullName"];\n  Role role = 4;')),
    );
    expect(report.ok).toBe(false);
    expect(report.breaking.join("\n")).toMatch(/"name" on message "User" changed option "json_name" from "name" to "fullName"/);
  });

  it("accepts additive changes: a new optional field, a new RPC and a new route", async () => {
    const report = await lintContracts(
      await contractsWith((source) =>
        replace(
          "  google.protobuf.Timestamp create_time = 5;\n}",
          "  google.protobuf.Timestamp create_time = 5;\n  string locale = 6;\n}",
        )(
          replace(
            "  rpc GetUser(GetUserRequest)",
            '  rpc GetUserByEmail(GetUserByEmailRequest) returns (GetUserByEmailResponse) {\n    option (google.api.http) = {get: "/v1/users:byEmail"};\n  }\n  rpc GetUser(GetUserRequest)',
          )(source) +
            "\nmessage GetUserByEmailRequest {\n  string email = 1;\n}\n\nmessage GetUserByEmailResponse {\n  User user = 1;\n}\n",
        ),
      ),
    );
    expect(report).toEqual({ ok: true, lint: [], breaking: [], rest: [] });
  });
});

describe("REST-surface check", () => {
  it("fails when a published route's path changes (buf breaking ignores google.api.http)", async () => {
    const report = await lintContracts(await contractsWith(replace('get: "/v1/users/{user_id}"', 'get: "/v1/accounts/{user_id}"')));
    expect(report.breaking).toEqual([]);
    expect(report.rest).toEqual([
      "route GET /v1/users/{user_id} (shop.users.v1.UserService/GetUser) was changed to GET /v1/accounts/{user_id}",
    ]);
  });

  it("fails when a route is removed or its body binding changes", async () => {
    const removed = await lintContracts(await contractsWith(replace('    option (google.api.http) = {get: "/v1/users/{user_id}"};\n', "")));
    expect(removed.rest).toEqual(["route GET /v1/users/{user_id} (shop.users.v1.UserService/GetUser) was removed"]);
    await rm(scratch!, { recursive: true, force: true });
    const rebound = await lintContracts(
      await contractsWith(replace('      post: "/v1/users"\n      body: "*"', '      post: "/v1/users"\n      body: "email"')),
    );
    expect(rebound.rest).toContain('route POST /v1/users: body binding changed from "*" to "email"');
  });

  it("fails when a route gains a required field, but not an optional one", async () => {
    const required = await lintContracts(
      await contractsWith(
        replace("  string password = 3 [", "  string phone = 4 [(buf.validate.field).string.min_len = 1];\n  string password = 3 ["),
      ),
    );
    expect(required.breaking).toEqual([]);
    expect(required.rest).toEqual(['route POST /v1/users: new field "phone" is required (new fields must be optional)']);
    await rm(scratch!, { recursive: true, force: true });
    const optional = await lintContracts(
      await contractsWith(replace("  string password = 3 [", "  string phone = 4;\n  string password = 3 [")),
    );
    expect(optional.ok).toBe(true);
  });
});
