import { Code, ConnectError } from "@connectrpc/connect";
import pg from "pg";
import type { Logger } from "./logger.js";
import { ensureStillWanted } from "./request-context.js";

/**
 * Runs SQL: a service's database (each statement on its own) or an open transaction.
 * Statements use positional parameters (`$1`); a list goes in as one array parameter
 * (`= ANY($1::uuid[])`), so every statement text stays the same and is prepared once.
 */
export interface Sql {
  /** The rows a statement returns. */
  query<R extends object = Record<string, unknown>>(text: string, values?: readonly unknown[]): Promise<R[]>;
  /** How many rows a statement wrote. */
  execute(text: string, values?: readonly unknown[]): Promise<number>;
  /**
   * Runs `callback` once what was written through this `Sql` is committed: after the
   * transaction's COMMIT (never if it rolls back), or at once outside a transaction, where
   * each statement commits on its own.
   */
  afterCommit(callback: () => void): void;
}

export type IsolationLevel = "READ COMMITTED" | "REPEATABLE READ" | "SERIALIZABLE";

/** A service's own database: a pool of connections to it. */
export interface SqlDatabase extends Sql {
  /**
   * Runs `work` in one transaction on one connection: committed when it resolves, rolled back
   * when it throws (the error is rethrown).
   */
  transaction<T>(work: (tx: Sql) => Promise<T>, options?: { isolation?: IsolationLevel }): Promise<T>;
  /** Closes every connection. */
  close(): Promise<void>;
}

/** Connections a service process keeps to its database at most (`DATABASE_POOL_SIZE`). */
export const defaultDatabasePoolSize = 10;

export interface SqlDatabaseOptions {
  poolSize?: number;
  /**
   * Longest a statement may run, and a transaction stay open between statements, before
   * PostgreSQL ends it: a stuck caller must not hold row locks (and a connection) for ever.
   */
  statementTimeoutMs?: number;
  idleInTransactionTimeoutMs?: number;
  /** Longest a statement waits for a connection (from the pool, or a new one) before it fails UNAVAILABLE. */
  connectTimeoutMs?: number;
  /** Statements that may wait for a connection at once; past them a statement fails UNAVAILABLE at once. */
  maxQueued?: number;
  /** Where errors of idle connections go (PostgreSQL restarting, say); they are not thrown. */
  logger?: Logger;
}

const int8Oid = 20;

const databaseUrls = new WeakMap<Sql, string>();

/**
 * The URL of the database `sql` runs on: a database's own, or that of the database whose
 * transaction it is (undefined for other `Sql`s).
 */
export function databaseUrlOf(sql: Sql): string | undefined {
  return databaseUrls.get(sql);
}

// int8 columns (money in minor units, counters) are read as bigint, never rounded through a double.
const typeParsers = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === int8Oid ? (value: string) => BigInt(value) : pg.types.getTypeParser(oid, format as never)) as typeof pg.types.getTypeParser,
};

/**
 * Names statements so each connection parses and plans a statement once and then only binds
 * and executes it. Statement texts in code are fixed, so the set stays small; past
 * `maxPrepared` distinct texts (a statement built at run time) the rest run unprepared.
 */
class StatementNames {
  private readonly names = new Map<string, string>();

  constructor(private readonly maxPrepared = 500) {}

  config(text: string, values: readonly unknown[] | undefined): pg.QueryConfig {
    let name = this.names.get(text);
    if (name === undefined && this.names.size < this.maxPrepared) {
      name = `shop_${this.names.size}`;
      this.names.set(text, name);
    }
    return { name, text, values: values as unknown[] | undefined };
  }
}

/** SQLSTATEs of a server that is going away or not there yet: the statement may succeed on a retry. */
const unavailableStates = new Set(["57P01", "57P02", "57P03", "08000", "08001", "08003", "08004", "08006"]);
const networkErrors = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH"]);

/**
 * The error a caller sees for a failed statement: UNAVAILABLE (retryable) when the database could
 * not be reached or went away, DEADLINE_EXCEEDED for a statement PostgreSQL cancelled at its
 * timeout; any other error as it is (constraint violations and the like, which callers read).
 */
export function databaseError(err: unknown): unknown {
  if (err instanceof ConnectError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const message = (err as Error | null)?.message ?? "";
  if (
    (typeof code === "string" && (unavailableStates.has(code) || networkErrors.has(code))) ||
    /timeout exceeded when trying to connect|Connection terminated/i.test(message)
  ) {
    return new ConnectError("the database cannot be reached right now; retry later", Code.Unavailable, undefined, undefined, err);
  }
  if (code === "57014") return new ConnectError("a database statement took too long", Code.DeadlineExceeded, undefined, undefined, err);
  return err;
}

function runner(
  client: pg.Pool | pg.PoolClient,
  statements: StatementNames,
  afterCommit: (callback: () => void) => void,
  admit: () => void,
): Sql {
  return {
    afterCommit,
    async query<R extends object>(text: string, values?: readonly unknown[]): Promise<R[]> {
      admit();
      try {
        return (await client.query<R>(statements.config(text, values))).rows;
      } catch (err) {
        throw databaseError(err);
      }
    },
    async execute(text: string, values?: readonly unknown[]): Promise<number> {
      admit();
      try {
        return (await client.query(statements.config(text, values))).rowCount ?? 0;
      } catch (err) {
        throw databaseError(err);
      }
    },
  };
}

/** A pool of at most `poolSize` connections to `databaseUrl`. */
export function createSqlDatabase(databaseUrl: string, options: SqlDatabaseOptions = {}): SqlDatabase {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: options.poolSize ?? defaultDatabasePoolSize,
    types: typeParsers,
    statement_timeout: options.statementTimeoutMs ?? 30_000,
    idle_in_transaction_session_timeout: options.idleInTransactionTimeoutMs ?? 60_000,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
  });
  pool.on("error", (err) => options.logger?.warn({ err }, "idle database connection failed; it was dropped"));
  const statements = new StatementNames();
  const maxQueued = options.maxQueued ?? 200;
  /** Before a statement that needs a connection: work nobody waits for stops, and the wait queue is bounded. */
  const admitToPool = () => {
    ensureStillWanted("a database statement");
    if (pool.waitingCount >= maxQueued) {
      throw new ConnectError(
        `the database is busy (${pool.waitingCount} statements waiting for a connection); retry later`,
        Code.Unavailable,
      );
    }
  };
  const inTransaction = () => ensureStillWanted("a database statement");
  const direct = runner(pool, statements, (callback) => callback(), admitToPool);

  const database: SqlDatabase = {
    ...direct,
    async transaction<T>(work: (tx: Sql) => Promise<T>, { isolation }: { isolation?: IsolationLevel } = {}): Promise<T> {
      admitToPool();
      const client = await pool.connect().catch((err: unknown) => {
        throw databaseError(err);
      });
      const committed: (() => void)[] = [];
      let broken: Error | undefined;
      // The server may end the connection while it is checked out (a restart, a timeout): the
      // statement in flight fails, and the pool must not hand the connection out again.
      const onError = (err: Error) => (broken = err);
      client.on("error", onError);
      let result: T;
      try {
        await client.query(isolation ? `BEGIN ISOLATION LEVEL ${isolation}` : "BEGIN");
        const tx = runner(client, statements, (callback) => committed.push(callback), inTransaction);
        databaseUrls.set(tx, databaseUrl);
        result = await work(tx);
        await client.query("COMMIT");
      } catch (err) {
        try {
          await client.query("ROLLBACK");
        } catch (rollbackErr) {
          broken ??= rollbackErr as Error;
        }
        throw databaseError(err);
      } finally {
        client.off("error", onError);
        client.release(broken);
      }
      for (const callback of committed) callback();
      return result;
    },
    close: () => pool.end(),
  };
  databaseUrls.set(database, databaseUrl);
  return database;
}

/** PostgreSQL's SQLSTATE of a failed statement, if `err` is one. */
export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && code.length === 5 ? code : undefined;
}

/** A unique or primary key constraint refused the row. */
export const isUniqueViolation = (err: unknown): boolean => sqlState(err) === "23505";
