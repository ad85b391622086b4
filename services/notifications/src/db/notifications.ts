import { randomUUID } from "node:crypto";
import type { Sql, SqlDatabase } from "@shop/runtime";
import type { Notification, NotificationDraft, NotificationKind } from "../domain/notification.js";

export interface NotificationCursor {
  createdAt: Date;
  id: string;
}

interface NotificationRow {
  id: string;
  user_id: string;
  kind: NotificationKind;
  order_id: string;
  subject: string;
  body: string;
  created_at: Date;
}

const notificationColumns = `id::text, user_id::text, kind, order_id::text, subject, body, created_at`;

const notificationFrom = (row: NotificationRow): Notification => ({
  id: row.id,
  userId: row.user_id,
  kind: row.kind,
  orderId: row.order_id,
  subject: row.subject,
  body: row.body,
  createdAt: row.created_at,
});

/** Notifications in SQL; the only code that touches the notifications table. */
export class NotificationRepository {
  constructor(private readonly db: SqlDatabase) {}

  /**
   * Stores the notification an event gave, inside the consumer's transaction. Returns false
   * when that event already has one (the unique source event id backs up the inbox).
   */
  async record(tx: Sql, draft: NotificationDraft, sourceEventId: string): Promise<boolean> {
    const inserted = await tx.execute(
      `INSERT INTO notifications (id, user_id, kind, order_id, subject, body, source_event_id)
       VALUES ($1::uuid, $2::uuid, $3::notification_kind, $4::uuid, $5, $6, $7::uuid)
       ON CONFLICT (source_event_id) DO NOTHING`,
      [randomUUID(), draft.userId, draft.kind, draft.orderId, draft.subject, draft.body, sourceEventId],
    );
    return inserted === 1;
  }

  /** A user's notifications, newest first (ties broken by id), strictly after the cursor. */
  async listForUser(userId: string, limit: number, after?: NotificationCursor): Promise<Notification[]> {
    // The row comparison follows the (user_id, created_at DESC, id DESC) index, so a page
    // starts at its cursor instead of reading past the pages before it.
    const rows = after
      ? await this.db.query<NotificationRow>(
          `SELECT ${notificationColumns} FROM notifications
           WHERE user_id = $1::uuid AND (created_at, id) < ($3::timestamptz, $4::uuid)
           ORDER BY created_at DESC, id DESC LIMIT $2`,
          [userId, limit, after.createdAt, after.id],
        )
      : await this.db.query<NotificationRow>(
          `SELECT ${notificationColumns} FROM notifications WHERE user_id = $1::uuid ORDER BY created_at DESC, id DESC LIMIT $2`,
          [userId, limit],
        );
    return rows.map(notificationFrom);
  }
}
