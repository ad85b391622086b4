import type { AddressInfo } from "node:net";
import { ConfigError, createLogger, initTracing, shutdownTracing } from "@shop/runtime";
import { type GatewayConfig, loadGatewayConfig } from "./config.js";
import { buildGateway } from "./server.js";

let config: GatewayConfig;
try {
  config = loadGatewayConfig();
  initTracing("gateway");
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`${err.message}\n`);
  process.exit(2);
}
const logger = createLogger("gateway", config.logLevel);
process.on("unhandledRejection", (err) => {
  logger.fatal({ err }, "unhandled rejection");
  process.exit(1);
});

const gateway = await buildGateway(config, { logger }).catch((err: unknown) => {
  logger.fatal({ err }, "failed to start");
  process.exit(1);
});
gateway.once("error", (err) => {
  logger.fatal({ err }, "cannot listen");
  process.exit(1);
});
gateway.listen(config.port, config.host, () => {
  const { port } = gateway.address() as AddressInfo;
  logger.info({ url: `http://${config.host === "0.0.0.0" ? "127.0.0.1" : config.host}:${port}` }, "gateway listening");
});

const shutdown = (signal: string) => {
  logger.info({ signal }, "shutting down");
  gateway
    .shutdown()
    .then(shutdownTracing)
    .then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
};
process.once("SIGTERM", () => shutdown("SIGTERM"));
process.once("SIGINT", () => shutdown("SIGINT"));
