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
      /** Failed sign-ins an account takes per window before it is refused until the window ends. */
      USERS_SIGN_IN_MAX_FAILURES: env.int(5, { min: 1 }),
      USERS_SIGN_IN_WINDOW_SECONDS: env.int(60, { min: 1 }),
      /** Password hashes and checks at once, and waiting beyond them, before callers are told to retry. */
      USERS_PASSWORD_WORK_CONCURRENCY: env.int(2, { min: 1 }),
      USERS_PASSWORD_WORK_QUEUE: env.int(32, { min: 0 }),
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
