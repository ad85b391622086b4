import type { OutboxTransaction } from "./outbox.js";

/**
 * What the relay and consumers need inside a transaction. Prisma's interactive transaction
 * client fits, so each service passes its own generated client.
 */
export interface EventTransaction extends OutboxTransaction {
  $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): Promise<T>;
}

/** A service's database as the event backbone sees it: a Prisma client fits. */
export interface EventDatabase extends EventTransaction {
  $transaction<R>(fn: (tx: EventTransaction) => Promise<R>, options?: { maxWait?: number; timeout?: number }): Promise<R>;
}
