import { asSigningKey, env, loadServiceConfig } from "@shop/runtime";

/** The development admin password documented in the README; production refuses it. */
export const defaultAdminPassword = "admin-password";

export const loadUsersConfig = (source: NodeJS.ProcessEnv = process.env) =>
  loadServiceConfig(
    "users",
    {
      /** The private key access tokens are signed with (a JWK; `_FILE` for a mounted Secret). */
      USERS_TOKEN_SIGNING_KEY: env.json(asSigningKey),
      USERS_TOKEN_TTL_SECONDS: env.int(3600, { min: 60, max: 86_400 }),
      ADMIN_EMAIL: env.string("admin@shop.local"),
      ADMIN_PASSWORD: env.string(defaultAdminPassword),
    },
    source,
  );

export type UsersConfig = ReturnType<typeof loadUsersConfig>;
