import path from "node:path";
import { createLogger, type EventHandlers } from "@shop/runtime";
import { createTestDatabase, type TestDatabase } from "@shop/runtime/testing";
import { createNotificationsDb, type NotificationsDb } from "../../../../services/notifications/src/db/client.js";
import { NotificationRepository } from "../../../../services/notifications/src/db/notifications.js";
import { notificationEventHandlers } from "../../../../services/notifications/src/events/notification-consumer.js";

/** The notifications service's real event handlers over a fresh database of its own. */
export interface NotificationsConsumer {
  db: NotificationsDb;
  handlers: EventHandlers;
  notifications: NotificationRepository;
  stop(): Promise<void>;
}

export async function startNotificationsConsumer(): Promise<NotificationsConsumer> {
  const database: TestDatabase = await createTestDatabase("notifications", path.resolve(import.meta.dirname, "../../../../services/notifications"));
  const db = createNotificationsDb(database.url);
  const notifications = new NotificationRepository(db);
  return {
    db,
    notifications,
    handlers: notificationEventHandlers(notifications, createLogger("notifications", "silent")),
    async stop() {
      await db.$disconnect();
      await database.drop();
    },
  };
}
