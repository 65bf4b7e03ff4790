import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isBulwarkError } from "./errors.js";
import {
  cidrMatcher,
  clientIpResolver,
  formatIp,
  normalizeIp,
  parseForwardedFor,
  parseIp,
  trustCoversInternet,
} from "./ip.js";
import { viewFromParts } from "./request.js";

const view = (remoteAddress: string | undefined, headers: Record<string, string> = {}) =>
  viewFromParts({ headers, ...(remoteAddress === undefined ? {} : { remoteAddress }) });

describe("parseIp / formatIp", () => {
  it("formats IPv6 per RFC 5952 section 4 examples", () => {
    expect(normalizeIp("2001:0db8:0000:0000:0000:0000:0002:0001")).toBe("2001:db8::2:1");
    expect(normalizeIp("2001:db8:0:0:1:0:0:1")).toBe("2001:db8::1:0:0:1");
    expect(normalizeIp("2001:db8:0:1:1:1:1:1")).toBe("2001:db8:0:1:1:1:1:1");
    expect(normalizeIp("2001:DB8::AAAA")).toBe("2001:db8::aaaa");
    expect(normalizeIp("::")).toBe("::");
    expect(normalizeIp("::1")).toBe("::1");
    expect(normalizeIp("fe80::1%eth0")).toBe("fe80::1");
    expect(normalizeIp("[2001:db8::1]")).toBe("2001:db8::1");
  });

  it("normalises IPv4-mapped IPv6 to IPv4", () => {
    expect(normalizeIp("::ffff:127.0.0.1")).toBe("127.0.0.1");
    expect(normalizeIp("::ffff:7f00:1")).toBe("127.0.0.1");
    expect(parseIp("::ffff:10.1.2.3")?.version).toBe(4);
  });

  it("rejects malformed addresses", () => {
    for (const bad of [
      "",
      "1.2.3",
      "1.2.3.4.5",
      "256.1.1.1",
      "01.2.3.4",
      "1.2.3.-4",
      "1::2::3",
      "12345::",
      "g::1",
      "1:2:3:4:5:6:7:8:9",
      "::ffff:1.2.3",
      "abc",
    ]) {
      expect(parseIp(bad), bad).toBeUndefined();
    }
  });

  it("round-trips every IPv4 and IPv6 address through its canonical text", () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), (text) => {
        const parsed = parseIp(text);
        expect(parsed).toBeDefined();
        const again = parseIp(formatIp(parsed!));
        expect(again?.bytes).toEqual(parsed?.bytes);
      }),
    );
  });
});

describe("cidrMatcher", () => {
  it("matches addresses inside IPv4 and IPv6 ranges, including non-octet prefixes", () => {
    const m = cidrMatcher(["10.0.0.0/8", "172.16.0.0/12", "2001:db8::/32", "192.0.2.1"]);
    expect(m("10.255.0.1")).toBe(true);
    expect(m("172.31.255.255")).toBe(true);
    expect(m("172.32.0.0")).toBe(false);
    expect(m("2001:db8:ffff::1")).toBe(true);
    expect(m("2001:db9::1")).toBe(false);
    expect(m("192.0.2.1")).toBe(true);
    expect(m("192.0.2.2")).toBe(false);
    expect(m("::ffff:10.0.0.1")).toBe(true);
    expect(m("not an ip")).toBe(false);
  });

  it("expands the loopback, linklocal and uniquelocal aliases", () => {
    const m = cidrMatcher(["loopback", "uniquelocal"]);
    expect(m("127.0.0.1")).toBe(true);
    expect(m("::1")).toBe(true);
    expect(m("192.168.1.1")).toBe(true);
    expect(m("fd00::1")).toBe(true);
    expect(m("8.8.8.8")).toBe(false);
  });

  it("refuses invalid entries at construction with ERR_CONFIG_INVALID", () => {
    for (const bad of ["10.0.0.0/33", "::/129", "nonsense", "10.0.0.0/x", "10.0.0/8"]) {
      try {
        cidrMatcher([bad]);
        expect.unreachable(bad);
      } catch (e) {
        expect(isBulwarkError(e, "ERR_CONFIG_INVALID")).toBe(true);
      }
    }
  });

  it("flags ranges that cover the whole internet", () => {
    expect(trustCoversInternet(["0.0.0.0/0"])).toBe(true);
    expect(trustCoversInternet(["::/0"])).toBe(true);
    expect(trustCoversInternet(["0.0.0.0/1"])).toBe(true);
    expect(trustCoversInternet(["2000::/4"])).toBe(true);
    expect(trustCoversInternet(["10.0.0.0/8", "loopback", "fc00::/7"])).toBe(false);
  });
});

describe("parseForwardedFor (RFC 7239 section 7 examples)", () => {
  it("reads for= values, quoted IPv6 with port, and multiple elements", () => {
    expect(parseForwardedFor('for="_gazonk"')).toEqual(["_gazonk"]);
    expect(parseForwardedFor('For="[2001:db8:cafe::17]:4711"')).toEqual(["2001:db8:cafe::17"]);
    expect(parseForwardedFor("for=192.0.2.60;proto=http;by=203.0.113.43")).toEqual(["192.0.2.60"]);
    expect(parseForwardedFor("for=192.0.2.43, for=198.51.100.17")).toEqual(["192.0.2.43", "198.51.100.17"]);
    expect(parseForwardedFor('for="192.0.2.43:47011"')).toEqual(["192.0.2.43"]);
  });
});

describe("clientIpResolver", () => {
  it("uses the socket address and ignores a spoofed X-Forwarded-For when no proxy is trusted", () => {
    const resolve = clientIpResolver();
    const r = resolve(view("203.0.113.7", { "x-forwarded-for": "1.1.1.1" }));
    expect(r.ip).toBe("203.0.113.7");
    expect(r.forwardedHeaderIgnored).toBe(true);
    expect(resolve(view("203.0.113.7")).forwardedHeaderIgnored).toBe(false);
    expect(resolve(view("203.0.113.7", { forwarded: "for=1.1.1.1" })).forwardedHeaderIgnored).toBe(true);
  });

  it("keys IPv6 clients by their /64 by default and by the configured prefix", () => {
    expect(clientIpResolver()(view("2001:db8:1:2:3:4:5:6")).key).toBe("2001:db8:1:2::/64");
    expect(clientIpResolver()(view("2001:db8:1:2:ffff::9")).key).toBe("2001:db8:1:2::/64");
    expect(clientIpResolver({ ipv6Subnet: 48 })(view("2001:db8:1:2:3:4:5:6")).key).toBe("2001:db8:1::/48");
    expect(clientIpResolver({ ipv6Subnet: 128 })(view("2001:db8::6")).key).toBe("2001:db8::6");
    expect(clientIpResolver()(view("::ffff:198.51.100.4")).key).toBe("198.51.100.4");
  });

  it("with a hop count reads X-Forwarded-For right to left", () => {
    const headers = { "x-forwarded-for": "6.6.6.6, 198.51.100.1, 10.0.0.2" };
    expect(clientIpResolver({ trustProxy: 1 })(view("10.0.0.1", headers)).ip).toBe("10.0.0.2");
    expect(clientIpResolver({ trustProxy: 2 })(view("10.0.0.1", headers)).ip).toBe("198.51.100.1");
    expect(clientIpResolver({ trustProxy: 9 })(view("10.0.0.1", headers)).ip).toBe("6.6.6.6");
    expect(clientIpResolver({ trustProxy: 1 })(view("10.0.0.1")).ip).toBe("10.0.0.1");
  });

  it("with trusted ranges skips trusted hops and stops at the first untrusted address", () => {
    const resolve = clientIpResolver({ trustProxy: ["10.0.0.0/8"] });
    // The client wrote 6.6.6.6 itself; 198.51.100.1 is what our trusted proxy saw.
    expect(resolve(view("10.0.0.1", { "x-forwarded-for": "6.6.6.6, 198.51.100.1, 10.0.0.2" })).ip).toBe(
      "198.51.100.1",
    );
    expect(resolve(view("10.0.0.1", { "x-forwarded-for": "10.0.0.3, 10.0.0.2" })).ip).toBe("10.0.0.3");
  });

  it("ignores X-Forwarded-For from a peer outside the trusted ranges", () => {
    const resolve = clientIpResolver({ trustProxy: ["10.0.0.0/8"] });
    expect(resolve(view("203.0.113.9", { "x-forwarded-for": "1.2.3.4" })).ip).toBe("203.0.113.9");
  });

  it("stops at an unparseable hop instead of believing it", () => {
    const resolve = clientIpResolver({ trustProxy: ["10.0.0.0/8"] });
    expect(resolve(view("10.0.0.1", { "x-forwarded-for": "1.2.3.4, garbage" })).ip).toBe("10.0.0.1");
  });

  it("reads RFC 7239 Forwarded when configured, and only then", () => {
    const headers = {
      forwarded: 'for=192.0.2.43, for="[2001:db8:cafe::17]:4711"',
      "x-forwarded-for": "6.6.6.6",
    };
    const rfc = clientIpResolver({ trustProxy: 1, forwardedHeader: "forwarded" });
    expect(rfc(view("10.0.0.1", headers)).ip).toBe("2001:db8:cafe::17");
    expect(clientIpResolver({ trustProxy: 1 })(view("10.0.0.1", headers)).ip).toBe("6.6.6.6");
  });

  it("answers unknown when the peer address is unavailable", () => {
    expect(clientIpResolver()(view(undefined)).key).toBe("unknown");
  });

  it("refuses invalid options at construction", () => {
    for (const opts of [
      { ipv6Subnet: 47 },
      { ipv6Subnet: 129 },
      { trustProxy: -1 },
      { trustProxy: ["x/y"] },
      { forwardedHeader: "x-real-ip" },
    ]) {
      expect(() => clientIpResolver(opts as never)).toThrow(/clientIpResolver/);
    }
  });

  it("never lets a client choose its key by adding X-Forwarded-For entries when one proxy is trusted", () => {
    const resolve = clientIpResolver({ trustProxy: 1 });
    fc.assert(
      fc.property(fc.array(fc.ipV4(), { maxLength: 5 }), fc.ipV4(), (spoofed, realClient) => {
        const xff = [...spoofed, realClient].join(", ");
        expect(resolve(view("10.0.0.1", { "x-forwarded-for": xff })).ip).toBe(normalizeIp(realClient));
      }),
    );
  });
});
