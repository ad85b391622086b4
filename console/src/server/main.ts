/**
 * `npm run start -w console` (and `npm start`, which runs it beside the services): the
 * development console on http://127.0.0.1:8090. Not for production: it refuses to start there.
 */
import { ConfigError } from "@shop/runtime";
import { ensureBundle } from "./bundle.js";
import { loadConsoleOptions } from "./config.js";
import { startConsole } from "./console-server.js";

if (process.env.NODE_ENV === "production") {
  process.stderr.write("the development console does not run with NODE_ENV=production\n");
  process.exit(2);
}
let options: ReturnType<typeof loadConsoleOptions>;
try {
  options = loadConsoleOptions();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`${err.message}\n`);
  process.exit(2);
}
const built = await ensureBundle();
const running = await startConsole(options);
console.log(`development console at ${running.url} (${built}); OTLP/HTTP traces at ${running.url}/v1/traces`);

const stop = () => {
  running.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
