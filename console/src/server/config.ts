import path from "node:path";
import { contexts, env, envPrefix, loadConfig, natsUrlVariable, serviceAddress, topology } from "@shop/runtime";
import type { ConsoleOptions } from "./console-server.js";
import type { Component } from "./services.js";

export const consoleDir = path.resolve(import.meta.dirname, "../..");
export const defaultConsolePort = 8090;

/** The OTLP endpoint the services export to, if one is set and it is not `consoleUrl`. */
export function externalOtlpEndpoint(source: NodeJS.ProcessEnv, consoleUrl: string): string | undefined {
  const endpoint = source.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || source.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (!endpoint) return undefined;
  return new URL(endpoint).host === new URL(consoleUrl).host ? undefined : endpoint;
}

/**
 * The console's settings from the same variables `npm start` and the services read: where each
 * service and its metrics are (`<CTX>_ADDR` or `<CTX>_PORT`, `<CTX>_METRICS_PORT`), the gateway
 * (`GATEWAY_URL`, else `GATEWAY_PORT` on loopback), NATS, the development admin, and its own
 * `DEV_CONSOLE_HOST`/`DEV_CONSOLE_PORT`.
 */
export function loadConsoleOptions(source: NodeJS.ProcessEnv = process.env): ConsoleOptions {
  const config = loadConfig(
    {
      DEV_CONSOLE_HOST: env.string("127.0.0.1"),
      DEV_CONSOLE_PORT: env.port(defaultConsolePort),
      GATEWAY_PORT: env.port(8080),
      NATS_URL: natsUrlVariable,
      ADMIN_EMAIL: env.string("admin@shop.local"),
      ADMIN_PASSWORD: env.string("admin-password"),
      DEV_CONSOLE_CUSTOMER_EMAIL: env.string("customer@shop.local"),
      DEV_CONSOLE_CUSTOMER_PASSWORD: env.string("console-customer-password"),
      ...Object.fromEntries(contexts.map((context) => [`${envPrefix(context)}_METRICS_PORT`, env.port(topology[context].metricsPort)])),
    },
    source,
  ) as Record<string, string | number>;
  const gatewayUrl = source.GATEWAY_URL || `http://127.0.0.1:${config.GATEWAY_PORT}`;
  const services: Component[] = contexts.map((context) => {
    const address = serviceAddress(context, source);
    const metricsPort = Number(config[`${envPrefix(context)}_METRICS_PORT`]);
    const host = address.slice(0, address.lastIndexOf(":"));
    return {
      name: context,
      kind: "service",
      address,
      metricsUrl: metricsPort > 0 ? `http://${host}:${metricsPort}/metrics` : undefined,
    };
  });
  const host = String(config.DEV_CONSOLE_HOST);
  const port = Number(config.DEV_CONSOLE_PORT);
  return {
    host,
    port,
    components: [...services, { name: "gateway", kind: "gateway", address: gatewayUrl, metricsUrl: `${gatewayUrl}/metrics` }],
    gatewayUrl,
    natsUrl: String(config.NATS_URL),
    accounts: {
      admin: { email: String(config.ADMIN_EMAIL), password: String(config.ADMIN_PASSWORD) },
      customer: {
        email: String(config.DEV_CONSOLE_CUSTOMER_EMAIL),
        password: String(config.DEV_CONSOLE_CUSTOMER_PASSWORD),
        name: "Console Customer",
      },
    },
    externalOtlpEndpoint: externalOtlpEndpoint(source, `http://${host}:${port}`),
    staticDir: path.join(consoleDir, "dist"),
  };
}
