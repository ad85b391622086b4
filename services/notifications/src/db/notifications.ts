import { newEventId, type PageEnd, type Sql, type SqlDatabase } from "@shop/runtime";
import type { Notification, NotificationDraft, NotificationKind } from "../domain/notification.js";

interface NotificationRow {
  id: string;
  user_id: string;
  kind: NotificationKind;
  order_id: string;
  subject: string;
  body: string;
  created_at: Date;
}

const notificationColumns = `id, user_id, kind, order_id, subject, body, created_at`;

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
   * Stores the notifications of several events in one statement, inside the consumer's
   * transaction. Returns the source event ids that were stored; an event that already has a
   * notification is skipped (the unique source event id backs up the inbox).
   */
  async recordAll(tx: Sql, notifications: readonly { draft: NotificationDraft; sourceEventId: string }[]): Promise<Set<string>> {
    if (notifications.length === 0) return new Set();
    const column = <T>(pick: (n: { draft: NotificationDraft; sourceEventId: string }) => T) => notifications.map(pick);
    const stored = await tx.query<{ source_event_id: string }>(
      `INSERT INTO notifications (id, user_id, kind, order_id, subject, body, source_event_id)
       SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::notification_kind[], $4::uuid[], $5::text[], $6::text[], $7::uuid[])
       ON CONFLICT (source_event_id) DO NOTHING
       RETURNING source_event_id`,
      [
        // Ids that sort in creation order keep a batch's notifications (one created_at) in stream order.
        column(() => newEventId()),
        column((n) => n.draft.userId),
        column((n) => n.draft.kind),
        column((n) => n.draft.orderId),
        column((n) => n.draft.subject),
        column((n) => n.draft.body),
        column((n) => n.sourceEventId),
      ],
    );
    return new Set(stored.map((row) => row.source_event_id));
  }

  /** A user's notifications, newest first (ties broken by id), strictly after the cursor. */
  async listForUser(userId: string, limit: number, after?: PageEnd): Promise<Notification[]> {
    // The row comparison follows the (user_id, created_at DESC, id DESC) index, so a page
    // starts at its cursor instead of reading past the pages before it.
    const rows = after
      ? await this.db.query<NotificationRow>(
          `SELECT ${notificationColumns} FROM notifications
           WHERE user_id = $1::uuid AND (created_at, id) < ($3::timestamptz, $4::uuid)
           ORDER BY created_at DESC, id DESC LIMIT $2`,
          [userId, limit, after.time, after.id],
        )
      : await this.db.query<NotificationRow>(
          `SELECT ${notificationColumns} FROM notifications WHERE user_id = $1::uuid ORDER BY created_at DESC, id DESC LIMIT $2`,
          [userId, limit],
        );
    return rows.map(notificationFrom);
  }
}
