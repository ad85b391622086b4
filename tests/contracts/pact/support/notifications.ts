import path from "node:path";
import { createLogger, createSqlDatabase, type EventHandlers, type SqlDatabase } from "@shop/runtime";
import { createTestDatabase, type TestDatabase } from "@shop/runtime/testing";
import { NotificationRepository } from "../../../../services/notifications/src/db/notifications.js";
import { notificationEventHandlers } from "../../../../services/notifications/src/events/notification-consumer.js";

/** The notifications service's real event handlers over a fresh database of its own. */
export interface NotificationsConsumer {
  db: SqlDatabase;
  handlers: EventHandlers;
  notifications: NotificationRepository;
  stop(): Promise<void>;
}

export async function startNotificationsConsumer(): Promise<NotificationsConsumer> {
  const database: TestDatabase = await createTestDatabase(
    "notifications",
    path.resolve(import.meta.dirname, "../../../../services/notifications"),
  );
  const db = createSqlDatabase(database.url, { poolSize: 2 });
  const notifications = new NotificationRepository(db);
  return {
    db,
    notifications,
    handlers: notificationEventHandlers(notifications, createLogger("notifications", "silent")),
    async stop() {
      await db.close();
      await database.drop();
    },
  };
}
