import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MetricsScraper } from "./metrics.js";

/** A `/metrics` page of the gateway, with `count` requests of which `failed` answered 503, and `slow` of the requests above 100 ms. */
function gatewayPage(count: number, failed: number, slow: number, cpuSeconds: number): string {
  const route = 'method="GET",route="GET /v1/products/{productId}"';
  return [
    `gateway_http_requests_total{${route},status="200"} ${count - failed}`,
    `gateway_http_requests_total{${route},status="503"} ${failed}`,
    `gateway_http_request_duration_seconds_bucket{${route},le="0.01"} ${count - slow}`,
    `gateway_http_request_duration_seconds_bucket{${route},le="0.1"} ${count - slow}`,
    `gateway_http_request_duration_seconds_bucket{${route},le="1"} ${count}`,
    `gateway_http_request_duration_seconds_bucket{${route},le="+Inf"} ${count}`,
    `gateway_http_requests_total{method="GET",route="/metrics",status="200"} 3`,
    'saga_outcomes_total{result="confirmed",reason=""} 0',
    `process_cpu_seconds_total ${cpuSeconds}`,
    "process_resident_memory_bytes 52428800",
    "process_start_time_seconds 100",
    'nodejs_version_info{version="v24.22.3",major="24",minor="22",patch="3"} 1',
  ].join("\n");
}

let page = "";
let server: http.Server;
let url: string;

beforeAll(async () => {
  server = http.createServer((_req, res) => res.end(page));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe("the console's metrics", () => {
  it("turns counter and histogram increases into rates, error rates and percentiles per route, and process figures", async () => {
    let now = 1_000_000;
    const scraper = new MetricsScraper([{ name: "gateway", url }], { intervalMs: 2_000, windowMs: 10_000, keepMs: 60_000 }, () => now);
    page = gatewayPage(100, 0, 0, 10);
    await scraper.scrape();
    now += 2_000;
    // 40 more requests in 2 s, 4 of them failed, 10 of them between 100 ms and 1 s; half a second of CPU.
    page = gatewayPage(140, 4, 10, 10.5);
    await scraper.scrape();

    const plots = scraper.plots();
    const route = plots.routes.find((series) => series.key === "GET /v1/products/{productId}")!;
    const [time, rate, errorRate, p50, p95, p99] = route.points.at(-1)!;
    expect([time, rate, errorRate]).toEqual([now, 20, 2]);
    // 30 of the 40 took under 10 ms: the median is two thirds into that bucket.
    expect(p50).toBeCloseTo(6.67, 2);
    expect(p95).toBeCloseTo(820, 6);
    expect(p99).toBeCloseTo(964, 6);
    expect(plots.routes.map((series) => series.key)).toContain("GET /metrics");
    expect(scraper.processStats("gateway")).toMatchObject({
      rssBytes: 52428800,
      cpuPercent: 25,
      uptimeSeconds: now / 1000 - 100,
      nodeVersion: "v24.22.3",
    });
  });

  it("counts a restarted process's counters from zero instead of a negative rate", async () => {
    let now = 2_000_000;
    const scraper = new MetricsScraper([{ name: "gateway", url }], { intervalMs: 2_000, windowMs: 10_000, keepMs: 60_000 }, () => now);
    page = gatewayPage(500, 0, 0, 10);
    await scraper.scrape();
    now += 2_000;
    page = gatewayPage(6, 0, 0, 0.2);
    await scraper.scrape();
    const route = scraper.plots().routes.find((series) => series.key === "GET /v1/products/{productId}")!;
    expect(route.points.at(-1)![1]).toBe(3);
  });
});
