// Rebuilds the order history read model by replaying the SHOP_ORDERS stream:
//   node --import tsx services/orders/src/rebuild-order-history.ts

import { createLogger, createSqlDatabase, loadToolConfig } from "@shop/runtime";
import { connect } from "nats";
import { historyConsumerSpec } from "./config.js";
import { OrderHistoryRepository } from "./db/order-history.js";
import { rebuildOrderHistory } from "./events/order-history-rebuild.js";

const config = loadToolConfig("orders", historyConsumerSpec);
const logger = createLogger("orders", config.logLevel);
const db = createSqlDatabase(config.databaseUrl, { logger });
const nc = await connect({ servers: config.natsUrl, name: "orders-history-rebuild" });
try {
  const started = Date.now();
  const { applied, skipped } = await rebuildOrderHistory({
    nc,
    db,
    history: new OrderHistoryRepository(db),
    consumerName: config.ORDER_HISTORY_CONSUMER,
  });
  for (const event of skipped) logger.warn(event, "event skipped: it cannot be applied");
  logger.info({ applied, skipped: skipped.length, ms: Date.now() - started }, "order history rebuilt");
} finally {
  await nc.close();
  await db.close();
}
