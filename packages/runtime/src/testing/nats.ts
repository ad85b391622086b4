import { defaultNatsUrl } from "../topology.js";

/** The NATS a test talks to: the test run's own server (`npm test` sets `NATS_URL`), else the local default. */
export const testNatsUrl = (): string => process.env.NATS_URL ?? defaultNatsUrl;
