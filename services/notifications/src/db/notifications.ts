import { randomUUID } from "node:crypto";
import type { EventTransaction } from "@shop/runtime";
import type { Notification, NotificationDraft } from "../domain/notification.js";
import type { NotificationsDb } from "./client.js";

export interface NotificationCursor {
  createdAt: Date;
  id: string;
}

/** Notifications over Prisma; the only code that touches the notifications table. */
export class NotificationRepository {
  constructor(private readonly db: NotificationsDb) {}

  /**
   * Stores the notification an event gave, inside the consumer's transaction. Returns false
   * when that event already has one (the unique source event id backs up the inbox).
   */
  async record(tx: EventTransaction, draft: NotificationDraft, sourceEventId: string): Promise<boolean> {
    const inserted = await tx.$executeRawUnsafe(
      `INSERT INTO notifications (id, user_id, kind, order_id, subject, body, source_event_id)
       VALUES ($1::uuid, $2::uuid, $3::notification_kind, $4::uuid, $5, $6, $7::uuid)
       ON CONFLICT (source_event_id) DO NOTHING`,
      randomUUID(),
      draft.userId,
      draft.kind,
      draft.orderId,
      draft.subject,
      draft.body,
      sourceEventId,
    );
    return inserted === 1;
  }

  /** A user's notifications, newest first (ties broken by id), strictly after the cursor. */
  listForUser(userId: string, limit: number, after?: NotificationCursor): Promise<Notification[]> {
    return this.db.notification.findMany({
      where: {
        userId,
        ...(after ? { OR: [{ createdAt: { lt: after.createdAt } }, { createdAt: after.createdAt, id: { lt: after.id } }] } : {}),
      },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      take: limit,
    });
  }
}
