import type { SqlDatabase } from "@shop/runtime";
import type { SignInFailures } from "../domain/sign-in-throttle.js";

interface FailureRow {
  failures: number;
  window_started_at: Date;
  now: Date;
}

/** Failed sign-ins per email, shared by every replica of the users service. */
export class SignInFailureRepository {
  constructor(private readonly db: SqlDatabase) {}

  /** The email's failures, with the database's clock, which every replica shares. */
  async get(email: string): Promise<{ recorded: SignInFailures; now: Date } | undefined> {
    const [row] = await this.db.query<FailureRow>(
      `SELECT failures, window_started_at, now() AS now FROM sign_in_failures WHERE email = $1`,
      [email],
    );
    return row && { recorded: { failures: row.failures, windowStartedAt: row.window_started_at }, now: row.now };
  }

  /** Counts one more failure in the email's window, or starts a new window when the last one has ended. */
  async recordFailure(email: string, windowMs: number): Promise<void> {
    await this.db.execute(
      `INSERT INTO sign_in_failures (email, failures, window_started_at) VALUES ($1, 1, now())
       ON CONFLICT (email) DO UPDATE SET
         failures = CASE WHEN sign_in_failures.window_started_at <= now() - make_interval(secs => $2 / 1000.0)
                         THEN 1 ELSE sign_in_failures.failures + 1 END,
         window_started_at = CASE WHEN sign_in_failures.window_started_at <= now() - make_interval(secs => $2 / 1000.0)
                                  THEN now() ELSE sign_in_failures.window_started_at END`,
      [email, windowMs],
    );
  }

  async clear(email: string): Promise<void> {
    await this.db.execute(`DELETE FROM sign_in_failures WHERE email = $1`, [email]);
  }

  /** Deletes the windows that ended; answers how many. */
  async pruneEnded(windowMs: number): Promise<number> {
    return this.db.execute(`DELETE FROM sign_in_failures WHERE window_started_at <= now() - make_interval(secs => $1 / 1000.0)`, [
      windowMs,
    ]);
  }
}
