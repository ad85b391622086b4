import { NotificationService } from "@shop/contracts/shop/notifications/v1/notifications_pb.js";
import { connectNats, registration, type EventConsumer, type Logger, type StartedParts } from "@shop/runtime";
import { createNotificationsDb } from "./db/client.js";
import { NotificationRepository } from "./db/notifications.js";
import {
  defaultSubscription,
  notificationEventHandlers,
  startNotificationConsumers,
  type NotificationSubscription,
} from "./events/notification-consumer.js";
import { notificationHandlers } from "./handlers/notification-handlers.js";
import type { NotificationsConfig } from "./config.js";

/** Wires notifications: database, event consumers, handlers. No listening here. */
export async function buildNotifications(
  { config, logger }: { config: NotificationsConfig; logger: Logger },
  subscription: NotificationSubscription = defaultSubscription,
): Promise<StartedParts> {
  const db = createNotificationsDb(config.databaseUrl, config.databasePoolSize);
  const notifications = new NotificationRepository(db);
  const nc = await connectNats("notifications", config.natsUrl);
  let consumers: EventConsumer[];
  try {
    const handlers = notificationEventHandlers(notifications, logger);
    consumers = await startNotificationConsumers({ nc, db, logger, subscription, handlers });
  } catch (err) {
    await nc.close();
    await db.$disconnect();
    throw err;
  }
  return {
    registrations: [registration(NotificationService, notificationHandlers(notifications))],
    async stop() {
      await Promise.all(consumers.map((consumer) => consumer.stop()));
      await nc.drain();
      await db.$disconnect();
    },
  };
}
