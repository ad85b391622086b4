import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  NotificationKind as NotificationKindMessage,
  type NotificationSchema,
  type NotificationService,
} from "@shop/contracts/shop/notifications/v1/notifications_pb.js";
import { decodePageToken, isUuid, pageOf, pageSizeOf, requireUser } from "@shop/runtime";
import type { NotificationRepository } from "../db/notifications.js";
import type { Notification, NotificationKind } from "../domain/notification.js";

const kindMessages: Record<NotificationKind, NotificationKindMessage> = {
  order_confirmed: NotificationKindMessage.ORDER_CONFIRMED,
  order_cancelled: NotificationKindMessage.ORDER_CANCELLED,
  shipment_created: NotificationKindMessage.SHIPMENT_CREATED,
  payment_refunded: NotificationKindMessage.PAYMENT_REFUNDED,
};

export function toNotificationMessage(notification: Notification): MessageInitShape<typeof NotificationSchema> {
  return {
    id: notification.id,
    userId: notification.userId,
    kind: kindMessages[notification.kind],
    orderId: notification.orderId,
    subject: notification.subject,
    body: notification.body,
    createTime: timestampFromDate(notification.createdAt),
  };
}

export function notificationHandlers(notifications: NotificationRepository): ServiceImpl<typeof NotificationService> {
  return {
    async listNotifications(req, ctx) {
      const caller = requireUser(ctx);
      const after = decodePageToken(req.pageToken);
      // User ids are UUIDs: any other caller id owns no notification.
      if (!isUuid(caller.userId)) return { notifications: [], nextPageToken: "" };
      const size = pageSizeOf(req.pageSize);
      const rows = await notifications.listForUser(caller.userId, size + 1, after);
      const page = pageOf(rows, size, (notification) => ({ time: notification.createdAt, id: notification.id }));
      return { notifications: page.items.map(toNotificationMessage), nextPageToken: page.nextPageToken };
    },
  };
}
