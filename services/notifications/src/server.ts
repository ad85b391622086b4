import { NotificationService } from "@shop/contracts/shop/notifications/v1/notifications_pb.js";
import { connectNats, type EventConsumer, registration, type ServiceDeps, type StartedParts } from "@shop/runtime";
import type { NotificationsConfig } from "./config.js";
import { NotificationRepository } from "./db/notifications.js";
import {
  defaultSubscription,
  type NotificationSubscription,
  notificationEventHandlers,
  startNotificationConsumers,
} from "./events/notification-consumer.js";
import { notificationHandlers } from "./handlers/notification-handlers.js";

/** Wires notifications: event consumers, handlers. No listening here. */
export async function buildNotifications(
  { config, logger, db }: ServiceDeps<NotificationsConfig>,
  subscription: NotificationSubscription = defaultSubscription,
): Promise<StartedParts> {
  const notifications = new NotificationRepository(db);
  const nc = await connectNats("notifications", config.natsUrl);
  let consumers: EventConsumer[];
  try {
    const handlers = notificationEventHandlers(notifications, logger);
    consumers = await startNotificationConsumers({ nc, db, logger, subscription, handlers });
  } catch (err) {
    await nc.close();
    throw err;
  }
  return {
    registrations: [registration(NotificationService, notificationHandlers(notifications))],
    async stop() {
      await Promise.all(consumers.map((consumer) => consumer.stop()));
      await nc.drain();
    },
  };
}
