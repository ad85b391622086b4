import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { clientAddressOf, trustedProxyList } from "./request-meta.js";

const request = (remoteAddress: string, forwardedFor?: string | string[]) =>
  ({
    socket: { remoteAddress },
    headers: forwardedFor === undefined ? {} : { "x-forwarded-for": forwardedFor },
  }) as unknown as IncomingMessage;

describe("client address behind trusted proxies", () => {
  const proxies = trustedProxyList(["10.0.0.0/8", "2001:db8::/32", "192.0.2.1"]);

  it.each([
    ["no proxy configured: the socket, whatever the header says", request("198.51.100.9", "1.2.3.4"), undefined, "198.51.100.9"],
    ["an untrusted socket: the socket", request("198.51.100.9", "1.2.3.4"), proxies, "198.51.100.9"],
    ["a trusted socket: the rightmost untrusted hop", request("10.0.0.2", "6.6.6.6, 203.0.113.5, 10.3.3.3"), proxies, "203.0.113.5"],
    ["headers sent twice are one list", request("10.0.0.2", ["6.6.6.6", "203.0.113.5"]), proxies, "203.0.113.5"],
    ["every hop trusted: the leftmost", request("10.0.0.2", "10.9.9.9, 10.8.8.8"), proxies, "10.9.9.9"],
    ["a hop that is not an address stops the walk at the last proxy", request("10.0.0.2", "203.0.113.5, bogus"), proxies, "10.0.0.2"],
    ["IPv4 on a dual-stack socket", request("::ffff:10.0.0.2", "::ffff:203.0.113.5"), proxies, "203.0.113.5"],
    ["IPv6 proxies and clients", request("2001:db8::1", "2001:db8:1::1, 2606:4700::1111"), proxies, "2606:4700::1111"],
    ["a trusted socket without the header: the socket", request("192.0.2.1"), proxies, "192.0.2.1"],
  ])("%s", (_case, req, trusted, expected) => {
    expect(clientAddressOf(req, trusted)).toBe(expected);
  });

  it("refuses entries that are not addresses or ranges", () => {
    expect(() => trustedProxyList(["10.0.0.0/8", "lb.internal"])).toThrow('"lb.internal" is not an IP address or CIDR range');
  });
});
