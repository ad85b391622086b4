import { loadServiceConfig } from "@shop/runtime";

export const loadNotificationsConfig = (source: NodeJS.ProcessEnv = process.env) => loadServiceConfig("notifications", {}, source);

export type NotificationsConfig = ReturnType<typeof loadNotificationsConfig>;
