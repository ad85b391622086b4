import { env, loadServiceConfig, tokenConfigSpec } from "@shop/runtime";

export const loadUsersConfig = (source: NodeJS.ProcessEnv = process.env) =>
  loadServiceConfig(
    "users",
    {
      ...tokenConfigSpec,
      ADMIN_EMAIL: env.string("admin@shop.local"),
      ADMIN_PASSWORD: env.string("admin-password"),
    },
    source,
  );

export type UsersConfig = ReturnType<typeof loadUsersConfig>;
