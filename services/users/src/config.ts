import { asSigningKey, developmentSigningKey, env, loadServiceConfig, productionRefuses } from "@shop/runtime";

/** The development admin password documented in the README; production refuses it. */
export const defaultAdminPassword = "admin-password";
const minimumProductionPasswordLength = 12;

export const loadUsersConfig = (source: NodeJS.ProcessEnv = process.env) =>
  loadServiceConfig(
    "users",
    {
      /** The private key access tokens are signed with (a JWK; `_FILE` for a mounted Secret). */
      USERS_TOKEN_SIGNING_KEY: productionRefuses(env.json(asSigningKey), developmentSigningKey),
      USERS_TOKEN_TTL_SECONDS: env.int(3600, { min: 60, max: 86_400 }),
      ADMIN_EMAIL: env.string("admin@shop.local"),
      /** The admin's password, set again at every start. */
      ADMIN_PASSWORD: productionRefuses(env.string(defaultAdminPassword), (password) => {
        if (password === defaultAdminPassword) return "is the documented development password";
        if (password.length < minimumProductionPasswordLength) return `is shorter than ${minimumProductionPasswordLength} characters`;
        return undefined;
      }),
    },
    source,
  );

export type UsersConfig = ReturnType<typeof loadUsersConfig>;
