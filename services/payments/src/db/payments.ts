import type { JsonValue } from "@bufbuild/protobuf";
import { EventStore, type RecordedEvent, type RefoldReport, type SnapshotPolicy, type SqlDatabase, type StreamType } from "@shop/runtime";
import { evolve, type Payment, type PaymentEvent, type PaymentStatus } from "../domain/payment.js";
import { paymentEventEntry, paymentEventOf, paymentEventSchemas } from "../events/payment-events.js";

/** Each order's payment is one stream of the ledger. */
export const paymentStreamId = (orderId: string) => `payment-${orderId}`;

/** A payment as its snapshot stores it. */
interface PaymentSnapshot {
  id: string;
  orderId: string;
  userId: string | null;
  status: PaymentStatus;
  currency: string | null;
  amountMinor: string | null;
  declineReason: string | null;
  createdAt: string;
  updatedAt: string;
}

/** Change it whenever `evolve` or the snapshot's shape changes: older snapshots are then ignored. */
const snapshotSchemaVersion = 1;

const snapshotPolicy = (every: number): SnapshotPolicy<Payment | null> => ({
  every,
  schemaVersion: snapshotSchemaVersion,
  encode: (payment) =>
    payment && {
      ...payment,
      amountMinor: payment.amountMinor?.toString() ?? null,
      createdAt: payment.createdAt.toISOString(),
      updatedAt: payment.updatedAt.toISOString(),
    },
  decode: (json: JsonValue) => {
    const snapshot = json as unknown as PaymentSnapshot | null;
    return (
      snapshot && {
        ...snapshot,
        amountMinor: snapshot.amountMinor === null ? null : BigInt(snapshot.amountMinor),
        createdAt: new Date(snapshot.createdAt),
        updatedAt: new Date(snapshot.updatedAt),
      }
    );
  },
});

/** The stream of a payment: its events, their messages, its fold and its snapshots every `snapshotEvery` events. */
export function paymentStreamType(snapshotEvery: number): StreamType<PaymentEvent, Payment | null> {
  return {
    schemas: Object.values(paymentEventSchemas),
    fromMessage: paymentEventOf,
    toEntry: paymentEventEntry,
    initial: null,
    evolve,
    snapshots: snapshotPolicy(snapshotEvery),
  };
}

/** The payments ledger in SQL; the only code that touches the payments tables. */
export class PaymentLedger {
  private readonly store: EventStore<PaymentEvent, Payment | null>;

  constructor(
    private readonly db: SqlDatabase,
    { snapshotEvery }: { snapshotEvery: number },
  ) {
    this.store = new EventStore(paymentStreamType(snapshotEvery));
  }

  /** The payment of an order as its stream folds now (its snapshot and the events after it); null for none. */
  async find(orderId: string): Promise<Payment | null> {
    return (await this.store.load(this.db, paymentStreamId(orderId))).state;
  }

  /** Every event of the payment of an order, in order. */
  history(orderId: string): Promise<RecordedEvent<PaymentEvent>[]> {
    return this.store.readStream(this.db, paymentStreamId(orderId));
  }

  /**
   * Runs a command on the payment of an order: `decide` gets the payment as it stands and
   * returns the events to append (none to leave it unchanged); after a concurrent command got
   * there first, it runs again on what that one left. Returns the payment after.
   */
  async execute(orderId: string, decide: (payment: Payment | null) => Promise<PaymentEvent[]> | PaymentEvent[]): Promise<Payment | null> {
    return (await this.store.execute(this.db, paymentStreamId(orderId), ({ state }) => decide(state))).state;
  }

  /** Counts an authorization attempt of an order, committed on its own so failed attempts count too; returns its 1-based number. */
  async countAuthorizationAttempt(orderId: string): Promise<number> {
    const [row] = await this.db.query<{ attempts: number }>(
      `INSERT INTO authorization_attempts (order_id, attempts) VALUES ($1::uuid, 1)
       ON CONFLICT (order_id) DO UPDATE SET attempts = authorization_attempts.attempts + 1, updated_at = now()
       RETURNING attempts`,
      [orderId],
    );
    return row!.attempts;
  }

  /** Folds every payment's stream again and checks it against its snapshot. */
  refold(): Promise<RefoldReport> {
    return this.store.refold(this.db);
  }
}
