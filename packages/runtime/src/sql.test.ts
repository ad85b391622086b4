import { randomBytes } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { dropDatabase, ensureDatabase } from "./db.js";
import { runWithContext } from "./request-context.js";
import { createSqlDatabase, databaseUrlOf, isUniqueViolation, type Sql, type SqlDatabase, sqlState } from "./sql.js";
import { defaultPostgresUrl } from "./topology.js";

describe("SqlDatabase", () => {
  const url = new URL(process.env.POSTGRES_URL ?? defaultPostgresUrl);
  url.pathname = `/shop_test_sql_${randomBytes(6).toString("hex")}`;
  let db: SqlDatabase;

  beforeAll(async () => {
    await ensureDatabase(url.toString());
    db = createSqlDatabase(url.toString(), { poolSize: 3 });
    await db.execute(
      `CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL, balance_minor bigint NOT NULL, opened_at timestamptz NOT NULL, tags jsonb)`,
    );
  });

  afterAll(async () => {
    await db?.close();
    await dropDatabase(url.toString());
  });

  const balanceOf = async (id: number) =>
    (await db.query<{ balance_minor: bigint }>(`SELECT balance_minor FROM accounts WHERE id = $1`, [id]))[0]?.balance_minor;

  it("reads int8 as bigint without rounding, timestamps as Date and jsonb as values", async () => {
    const openedAt = new Date("2026-12-03T10:00:00.123Z");
    const huge = 9_007_199_254_740_993n; // 2^53 + 1: a double would round it
    await db.execute(`INSERT INTO accounts VALUES ($1, $2, $3, $4, $5::jsonb)`, [1, "ada", huge, openedAt, JSON.stringify({ vip: true })]);

    const [row] = await db.query<{ balance_minor: bigint; opened_at: Date; tags: unknown; count: bigint }>(
      `SELECT balance_minor, opened_at, tags, (SELECT count(*) FROM accounts) AS count FROM accounts WHERE id = $1`,
      [1],
    );
    expect(row).toEqual({ balance_minor: huge, opened_at: openedAt, tags: { vip: true }, count: 1n });
  });

  it("commits a transaction's statements together and returns what the work returned", async () => {
    const moved = await db.transaction(async (tx) => {
      await tx.execute(`INSERT INTO accounts VALUES (2, 'bob', 0, now(), NULL)`);
      return tx.execute(`UPDATE accounts SET balance_minor = balance_minor + 500 WHERE id = ANY($1::int[])`, [[2]]);
    });
    expect(moved).toBe(1);
    expect(await balanceOf(2)).toBe(500n);
  });

  it("rolls everything back when the work throws, and rethrows its error", async () => {
    const failure = new Error("refused");
    await expect(
      db.transaction(async (tx) => {
        await tx.execute(`UPDATE accounts SET balance_minor = 0 WHERE id = 2`);
        await tx.execute(`INSERT INTO accounts VALUES (3, 'eve', 1, now(), NULL)`);
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(await balanceOf(2)).toBe(500n);
    expect(await balanceOf(3)).toBeUndefined();
  });

  it("rolls back on a failing statement and names the constraint through its SQLSTATE", async () => {
    const err = await db
      .transaction(async (tx) => {
        await tx.execute(`UPDATE accounts SET balance_minor = 1 WHERE id = 2`);
        await tx.execute(`INSERT INTO accounts VALUES (2, 'bob again', 0, now(), NULL)`);
      })
      .catch((e: unknown) => e);
    expect(isUniqueViolation(err)).toBe(true);
    expect(sqlState(new Error("not from the database"))).toBeUndefined();
    expect(await balanceOf(2)).toBe(500n);
  });

  it("isolates concurrent transactions: each sees only what is committed", async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const writer = db.transaction(async (tx) => {
      await tx.execute(`UPDATE accounts SET balance_minor = 900 WHERE id = 2`);
      await held;
    });
    // The writer's update is not visible until it commits.
    await expect(balanceOf(2)).resolves.toBe(500n);
    release();
    await writer;
    expect(await balanceOf(2)).toBe(900n);
  });

  it("ends a statement that runs too long, and a transaction left idle too long, then goes on with fresh connections", async () => {
    const strict = createSqlDatabase(url.toString(), { poolSize: 1, statementTimeoutMs: 100, idleInTransactionTimeoutMs: 200 });
    try {
      await expect(strict.query(`SELECT pg_sleep(2)`)).rejects.toMatchObject({ code: Code.DeadlineExceeded, cause: { code: "57014" } });
      const stalled = strict.transaction(async (tx) => {
        await tx.execute(`UPDATE accounts SET balance_minor = 0 WHERE id = 2`);
        await new Promise((resolve) => setTimeout(resolve, 600));
        await tx.execute(`UPDATE accounts SET owner = 'stalled' WHERE id = 2`);
      });
      await expect(stalled).rejects.toThrow();
      expect(await balanceOf(2)).toBe(900n);
      expect(await strict.query(`SELECT owner FROM accounts WHERE id = 2`)).toEqual([{ owner: "bob" }]);
    } finally {
      await strict.close();
    }
  });

  it("runs afterCommit callbacks once the transaction commits, never after a rollback, and at once outside one", async () => {
    const seen: string[] = [];
    await db.transaction(async (tx) => {
      tx.afterCommit(() => seen.push("committed"));
      await tx.execute(`UPDATE accounts SET owner = owner WHERE id = 2`);
      expect(seen).toEqual([]);
    });
    expect(seen).toEqual(["committed"]);
    await db
      .transaction(async (tx) => {
        tx.afterCommit(() => seen.push("rolled back"));
        throw new Error("refused");
      })
      .catch(() => undefined);
    db.afterCommit(() => seen.push("autocommit"));
    expect(seen).toEqual(["committed", "autocommit"]);
  });

  it("databaseUrlOf names the database of a pool and of its transactions, and nothing for other Sql", async () => {
    expect(databaseUrlOf(db)).toBe(url.toString());
    expect(await db.transaction(async (tx) => databaseUrlOf(tx))).toBe(url.toString());
    const wrapped: Sql = { query: db.query, execute: db.execute, afterCommit: db.afterCommit };
    expect(databaseUrlOf(wrapped)).toBeUndefined();
  });

  it("keeps a connection usable after a statement error outside a transaction", async () => {
    await expect(db.query(`SELECT * FROM no_such_table`)).rejects.toMatchObject({ code: "42P01" });
    for (let i = 0; i < 5; i++) expect(await balanceOf(2)).toBe(900n);
  });

  it("runs no statement for work nobody waits for: a deadline passed, a caller that cancelled", async () => {
    const expired = { correlationId: "expired", deadline: Date.now() - 1 };
    await expect(runWithContext(expired, () => db.query(`SELECT 1`))).rejects.toMatchObject({
      code: Code.DeadlineExceeded,
      rawMessage: "deadline passed before a database statement",
    });
    let cancelled = false;
    const call = { correlationId: "cancelled", deadline: Date.now() + 60_000, cancelled: () => cancelled };
    const work = runWithContext(call, () =>
      db.transaction(async (tx) => {
        await tx.execute(`UPDATE accounts SET owner = 'first' WHERE id = 2`);
        cancelled = true;
        await tx.execute(`UPDATE accounts SET owner = 'second' WHERE id = 2`);
      }),
    );
    await expect(work).rejects.toMatchObject({ code: Code.Canceled });
    expect(await db.query(`SELECT owner FROM accounts WHERE id = 2`)).toEqual([{ owner: "bob" }]);
  });

  it("bounds the wait for a connection: past maxQueued waiting statements, a statement fails UNAVAILABLE at once", async () => {
    const small = createSqlDatabase(url.toString(), { poolSize: 1, maxQueued: 1 });
    try {
      let release!: () => void;
      const held = small.transaction(() => new Promise<void>((resolve) => (release = resolve)));
      await vi.waitFor(() => expect(release).toBeDefined());
      const queued = small.query<{ one: number }>(`SELECT 1 AS one`);
      await expect(small.query(`SELECT 2`)).rejects.toMatchObject({ code: Code.Unavailable, rawMessage: expect.stringContaining("busy") });
      release();
      await held;
      expect(await queued).toEqual([{ one: 1 }]);
    } finally {
      await small.close();
    }
  });

  it("answers UNAVAILABLE when the database cannot be reached, within its connect timeout", async () => {
    const nowhere = createSqlDatabase("postgresql://postgres@127.0.0.1:1/none", { connectTimeoutMs: 500 });
    try {
      await expect(nowhere.query(`SELECT 1`)).rejects.toMatchObject({ code: Code.Unavailable });
      await expect(nowhere.transaction(async () => undefined)).rejects.toMatchObject({ code: Code.Unavailable });
    } finally {
      await nowhere.close();
    }
  });
});
