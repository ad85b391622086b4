import type { DescFile, DescService } from "@bufbuild/protobuf";
import { CatalogService, file_shop_catalog_v1_catalog } from "./gen/shop/catalog/v1/catalog_pb.js";
import { file_shop_catalog_v1_events } from "./gen/shop/catalog/v1/events_pb.js";
import { file_shop_gateway_v1_summary } from "./gen/shop/gateway/v1/summary_pb.js";
import { file_shop_inventory_v1_events } from "./gen/shop/inventory/v1/events_pb.js";
import { file_shop_inventory_v1_inventory, InventoryService } from "./gen/shop/inventory/v1/inventory_pb.js";
import { file_shop_notifications_v1_notifications, NotificationService } from "./gen/shop/notifications/v1/notifications_pb.js";
import { file_shop_orders_v1_events } from "./gen/shop/orders/v1/events_pb.js";
import { file_shop_orders_v1_orders, OrderService } from "./gen/shop/orders/v1/orders_pb.js";
import { file_shop_payments_v1_events } from "./gen/shop/payments/v1/events_pb.js";
import { file_shop_payments_v1_payments, PaymentService } from "./gen/shop/payments/v1/payments_pb.js";
import { file_shop_shipping_v1_events } from "./gen/shop/shipping/v1/events_pb.js";
import { file_shop_shipping_v1_shipping, ShippingService } from "./gen/shop/shipping/v1/shipping_pb.js";
import { file_shop_users_v1_events } from "./gen/shop/users/v1/events_pb.js";
import { file_shop_users_v1_users, UserService } from "./gen/shop/users/v1/users_pb.js";

/** Every contract file of the shop, for registries (JSON with Any, reflection, event decoding). */
export const shopFiles: readonly DescFile[] = [
  file_shop_users_v1_users,
  file_shop_users_v1_events,
  file_shop_catalog_v1_catalog,
  file_shop_catalog_v1_events,
  file_shop_inventory_v1_inventory,
  file_shop_inventory_v1_events,
  file_shop_orders_v1_orders,
  file_shop_orders_v1_events,
  file_shop_payments_v1_payments,
  file_shop_payments_v1_events,
  file_shop_shipping_v1_shipping,
  file_shop_shipping_v1_events,
  file_shop_notifications_v1_notifications,
  file_shop_gateway_v1_summary,
];

/** The service each bounded context serves, keyed by context name. */
export const shopServices = {
  users: UserService,
  catalog: CatalogService,
  inventory: InventoryService,
  orders: OrderService,
  payments: PaymentService,
  shipping: ShippingService,
  notifications: NotificationService,
} as const satisfies Record<string, DescService>;

export type ShopContext = keyof typeof shopServices;
