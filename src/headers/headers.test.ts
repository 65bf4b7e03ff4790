import helmet from "helmet";
import { describe, expect, it } from "vitest";
import { memoryLogger, silentLogger } from "../core/logger.js";
import type { ContinueOutcome } from "../core/outcome.js";
import { viewFromParts } from "../core/request.js";
import { type SecureHeadersOptions, secureHeaders } from "./headers.js";
import { cspHash } from "./nonce.js";

const view = (path = "/") => viewFromParts({ url: path });
const make = (options: SecureHeadersOptions = {}) => secureHeaders({ logger: silentLogger, ...options });
const run = (options: SecureHeadersOptions = {}, path = "/") => make(options)(view(path)) as ContinueOutcome;
const header = (outcome: ContinueOutcome, name: string) => outcome.headers?.find(([n]) => n === name)?.[1];
const names = (outcome: ContinueOutcome) => (outcome.headers ?? []).map(([n]) => n);

/** Runs helmet's middleware against a fake response and records what it did. */
function helmetDefaults(): { set: Map<string, string>; removed: string[] } {
  const set = new Map<string, string>();
  const removed: string[] = [];
  const res = {
    setHeader: (name: string, value: string) => set.set(name.toLowerCase(), String(value)),
    removeHeader: (name: string) => removed.push(name.toLowerCase()),
  };
  let called = false;
  helmet()({} as never, res as never, () => {
    called = true;
  });
  expect(called).toBe(true);
  return { set, removed };
}

function directives(value: string): Map<string, string[]> {
  return new Map(
    value
      .split(";")
      .map((d) => d.trim())
      .filter(Boolean)
      .map((d) => {
        const [name, ...sources] = d.split(/\s+/);
        return [name as string, sources];
      }),
  );
}

describe("secureHeaders defaults versus helmet 8 (both run in this process)", () => {
  const ours = run();
  const theirs = helmetDefaults();

  it("sets every header helmet sets, and with helmet's value outside CSP", () => {
    expect(theirs.set.size).toBeGreaterThanOrEqual(12);
    expect(names(ours)).toEqual([
      "content-security-policy",
      "cross-origin-opener-policy",
      "cross-origin-resource-policy",
      "origin-agent-cluster",
      "referrer-policy",
      "strict-transport-security",
      "x-content-type-options",
      "x-dns-prefetch-control",
      "x-download-options",
      "x-frame-options",
      "x-permitted-cross-domain-policies",
      "x-xss-protection",
      "permissions-policy",
    ]);
    for (const [name, value] of theirs.set) {
      expect(header(ours, name), name).toBeDefined();
      if (name !== "content-security-policy") expect(header(ours, name), name).toBe(value);
    }
  });

  it("has every CSP directive helmet has, with no source helmet does not allow except the nonce", () => {
    const mine = directives(header(ours, "content-security-policy") as string);
    const helmets = directives(theirs.set.get("content-security-policy") as string);
    for (const [name, sources] of helmets) {
      expect(mine.has(name), name).toBe(true);
      const extra = (mine.get(name) ?? []).filter((s) => !sources.includes(s));
      expect(
        extra.every((s) => /^'nonce-[A-Za-z0-9+/]{22}=='$/.test(s)),
        `${name}: ${extra}`,
      ).toBe(true);
    }
    expect(mine.get("script-src")).toEqual(["'self'", expect.stringMatching(/^'nonce-/)]);
  });

  it("removes X-Powered-By like helmet, and adds a Permissions-Policy helmet lacks", () => {
    expect(theirs.removed).toEqual(["x-powered-by"]);
    expect(ours.removeHeaders).toEqual(["x-powered-by"]);
    expect(theirs.set.has("permissions-policy")).toBe(false);
    expect(header(ours, "permissions-policy")).toBe(
      "accelerometer=(), autoplay=(), browsing-topics=(), camera=(), display-capture=(), " +
        "encrypted-media=(), fullscreen=(self), geolocation=(), gyroscope=(), hid=(), idle-detection=(), " +
        "local-fonts=(), magnetometer=(), microphone=(), midi=(), payment=(), picture-in-picture=(), " +
        "publickey-credentials-get=(self), screen-wake-lock=(), serial=(), usb=(), " +
        "window-management=(), xr-spatial-tracking=()",
    );
  });

  it("sends HSTS for one year with includeSubDomains and without preload", () => {
    expect(header(ours, "strict-transport-security")).toBe("max-age=31536000; includeSubDomains");
  });
});

describe("CSP nonces", () => {
  it("puts a fresh 128-bit nonce in the header and in locals for every response", () => {
    const guard = make();
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const outcome = guard(view()) as ContinueOutcome;
      const nonce = outcome.locals?.cspNonce as string;
      expect(Buffer.from(nonce, "base64")).toHaveLength(16);
      expect(header(outcome, "content-security-policy")).toContain(`script-src 'self' 'nonce-${nonce}';`);
      seen.add(nonce);
    }
    expect(seen.size).toBe(1000);
  });

  it("returns one precomputed, frozen outcome when the policy has no nonce", () => {
    const guard = make({ contentSecurityPolicy: { nonce: false } });
    const a = guard(view());
    expect(a).toBe(guard(view()));
    expect(Object.isFrozen(a)).toBe(true);
    expect((a as ContinueOutcome).locals).toBeUndefined();
    expect(header(a as ContinueOutcome, "content-security-policy")).toContain("script-src 'self';");
  });

  it("adds the nonce to style-src only when asked", () => {
    const outcome = run({ contentSecurityPolicy: { styleNonce: true } });
    const nonce = outcome.locals?.cspNonce as string;
    expect(directives(header(outcome, "content-security-policy") as string).get("style-src")).toEqual([
      "'self'",
      "https:",
      "'unsafe-inline'",
      `'nonce-${nonce}'`,
    ]);
  });

  it("adds the nonce to script-src-elem too when the policy has it", () => {
    const outcome = run({ contentSecurityPolicy: { directives: { scriptSrcElem: ["'self'"] } } });
    const nonce = outcome.locals?.cspNonce as string;
    expect(directives(header(outcome, "content-security-policy") as string).get("script-src-elem")).toEqual([
      "'self'",
      `'nonce-${nonce}'`,
    ]);
  });
});

describe("CSP builder", () => {
  it("hashes known inline scripts and styles (MDN vectors)", () => {
    expect(cspHash("var inline = 1;")).toBe("'sha256-B2yPHKaXnvFWtRChIbabYmUBFZdVfKKXHbWtWidDVF8='");
    expect(cspHash("alert('Hello, world.');")).toBe("'sha256-qznLcsROx4GACP2dm0UCKCzCG+HiZ1guq6ZZDob/Tng='");
    const outcome = run({
      contentSecurityPolicy: {
        nonce: false,
        hashes: { scripts: ["var inline = 1;"], styles: ["alert('Hello, world.');"] },
      },
    });
    const d = directives(header(outcome, "content-security-policy") as string);
    expect(d.get("script-src")).toEqual(["'self'", "'sha256-B2yPHKaXnvFWtRChIbabYmUBFZdVfKKXHbWtWidDVF8='"]);
    expect(d.get("style-src")).toContain("'sha256-qznLcsROx4GACP2dm0UCKCzCG+HiZ1guq6ZZDob/Tng='");
  });

  it("adds 'strict-dynamic' when asked", () => {
    const outcome = run({ contentSecurityPolicy: { strictDynamic: true } });
    expect(directives(header(outcome, "content-security-policy") as string).get("script-src")).toEqual([
      "'self'",
      `'nonce-${outcome.locals?.cspNonce}'`,
      "'strict-dynamic'",
    ]);
  });

  it("merges directives over the defaults, drops one with null, and starts empty without defaults", () => {
    const merged = run({
      contentSecurityPolicy: {
        nonce: false,
        directives: { imgSrc: ["'self'", "https://cdn.example"], upgradeInsecureRequests: null },
      },
    });
    const d = directives(header(merged, "content-security-policy") as string);
    expect(d.get("img-src")).toEqual(["'self'", "https://cdn.example"]);
    expect(d.has("upgrade-insecure-requests")).toBe(false);
    const bare = run({
      contentSecurityPolicy: {
        useDefaults: false,
        nonce: false,
        directives: { defaultSrc: "'none'", sandbox: true },
      },
    });
    expect(header(bare, "content-security-policy")).toBe("default-src 'none'; sandbox");
  });

  it("creates script-src from default-src when the nonce needs it", () => {
    const outcome = run({
      contentSecurityPolicy: { useDefaults: false, directives: { "default-src": ["'self'"] } },
    });
    expect(header(outcome, "content-security-policy")).toBe(
      `default-src 'self'; script-src 'self' 'nonce-${outcome.locals?.cspNonce}'`,
    );
  });

  it("sends report-only with report-to, report-uri and Reporting-Endpoints", () => {
    const outcome = run({
      contentSecurityPolicy: { reportOnly: true, reportUrl: "https://reports.example/csp" },
      reportingEndpoints: { default: "/reports" },
    });
    expect(header(outcome, "content-security-policy")).toBeUndefined();
    const d = directives(header(outcome, "content-security-policy-report-only") as string);
    expect(d.get("report-uri")).toEqual(["https://reports.example/csp"]);
    expect(d.get("report-to")).toEqual(["csp-endpoint"]);
    expect(header(outcome, "reporting-endpoints")).toBe(
      'csp-endpoint="https://reports.example/csp", default="/reports"',
    );
  });

  it("applies per-route overrides by exact path and by prefix, longest prefix first", () => {
    const guard = make({
      contentSecurityPolicy: {
        directives: { frameAncestors: ["'self'"] },
        routes: {
          "/embed": { directives: { "frame-ancestors": ["https://partner.example"] } },
          "/docs/*": { nonce: false, directives: { scriptSrc: ["'self'", "https://cdn.example"] } },
          "/docs/legacy/*": false,
        },
      },
    });
    const csp = (path: string) => header(guard(view(path)) as ContinueOutcome, "content-security-policy");
    expect(directives(csp("/embed") as string).get("frame-ancestors")).toEqual(["https://partner.example"]);
    expect(directives(csp("/embed/x") as string).get("frame-ancestors")).toEqual(["'self'"]);
    expect(directives(csp("/docs/a") as string).get("script-src")).toEqual(["'self'", "https://cdn.example"]);
    expect(directives(csp("/docs") as string).get("script-src")?.[1]).toMatch(/^'nonce-/);
    expect(csp("/docs/legacy/page")).toBeUndefined();
    expect(header(guard(view("/docs/legacy/page")) as ContinueOutcome, "x-frame-options")).toBe("SAMEORIGIN");
    expect(directives(csp("/other") as string).get("frame-ancestors")).toEqual(["'self'"]);
  });
});

describe("every header is tunable or off", () => {
  it("tunes each header", () => {
    const outcome = run({
      crossOriginOpenerPolicy: "same-origin-allow-popups",
      crossOriginResourcePolicy: "cross-origin",
      crossOriginEmbedderPolicy: "credentialless",
      referrerPolicy: ["no-referrer", "strict-origin-when-cross-origin"],
      strictTransportSecurity: { maxAgeSeconds: 63_072_000, includeSubDomains: true, preload: true },
      xDnsPrefetchControl: "on",
      xFrameOptions: "DENY",
      xPermittedCrossDomainPolicies: "by-content-type",
      permissionsPolicy: {
        camera: ["self", "https://meet.example"],
        geolocation: ["*"],
        usb: null,
        "sync-xhr": [],
      },
    });
    expect(header(outcome, "cross-origin-opener-policy")).toBe("same-origin-allow-popups");
    expect(header(outcome, "cross-origin-resource-policy")).toBe("cross-origin");
    expect(header(outcome, "cross-origin-embedder-policy")).toBe("credentialless");
    expect(header(outcome, "referrer-policy")).toBe("no-referrer, strict-origin-when-cross-origin");
    expect(header(outcome, "strict-transport-security")).toBe("max-age=63072000; includeSubDomains; preload");
    expect(header(outcome, "x-dns-prefetch-control")).toBe("on");
    expect(header(outcome, "x-frame-options")).toBe("DENY");
    expect(header(outcome, "x-permitted-cross-domain-policies")).toBe("by-content-type");
    const pp = header(outcome, "permissions-policy") as string;
    expect(pp).toContain('camera=(self "https://meet.example")');
    expect(pp).toContain("geolocation=*");
    expect(pp).not.toContain("usb=");
    expect(pp.endsWith("sync-xhr=()")).toBe(true);
  });

  it("sends HSTS without includeSubDomains when told", () => {
    const outcome = run({ strictTransportSecurity: { maxAgeSeconds: 300, includeSubDomains: false } });
    expect(header(outcome, "strict-transport-security")).toBe("max-age=300");
  });

  it("turns each header off and logs the list once", () => {
    const logger = memoryLogger();
    const guard = secureHeaders({
      logger,
      contentSecurityPolicy: false,
      crossOriginOpenerPolicy: false,
      crossOriginResourcePolicy: false,
      originAgentCluster: false,
      referrerPolicy: false,
      strictTransportSecurity: false,
      xContentTypeOptions: false,
      xDnsPrefetchControl: false,
      xDownloadOptions: false,
      xFrameOptions: false,
      xPermittedCrossDomainPolicies: false,
      xXssProtection: false,
      permissionsPolicy: false,
      removePoweredBy: false,
    });
    const outcome = guard(view()) as ContinueOutcome;
    guard(view());
    expect(outcome).toEqual({ action: "continue", headers: [] });
    expect(logger.entries).toHaveLength(1);
    expect(logger.entries[0]?.level).toBe("warn");
    expect(logger.entries[0]?.disabled).toHaveLength(14);
  });

  it("logs nothing with the defaults", () => {
    const logger = memoryLogger();
    secureHeaders({ logger });
    expect(logger.entries).toEqual([]);
  });
});

describe("secureHeaders refuses invalid options at construction", () => {
  const refused: Array<[string, unknown]> = [
    ["an unknown option", { contentSecurityPolicyy: {} }],
    ["an unknown COOP value", { crossOriginOpenerPolicy: "same-site" }],
    ["an unknown CORP value", { crossOriginResourcePolicy: "none" }],
    ["an unknown COEP value", { crossOriginEmbedderPolicy: "require" }],
    ["an unknown referrer token", { referrerPolicy: "never" }],
    ["a repeated referrer token", { referrerPolicy: ["origin", "origin"] }],
    ["an empty referrer list", { referrerPolicy: [] }],
    ["HSTS preload under a year", { strictTransportSecurity: { maxAgeSeconds: 86_400, preload: true } }],
    [
      "HSTS preload without subdomains",
      { strictTransportSecurity: { includeSubDomains: false, preload: true } },
    ],
    ["a negative HSTS max age", { strictTransportSecurity: { maxAgeSeconds: -1 } }],
    ["helmet's misspelt HSTS key", { strictTransportSecurity: { maxAge: 10 } }],
    ["X-Frame-Options ALLOW-FROM", { xFrameOptions: "ALLOW-FROM" }],
    ["a non-boolean toggle", { xXssProtection: "yes" }],
    ["an unknown CSP option", { contentSecurityPolicy: { nonces: true } }],
    ["an unknown CSP directive", { contentSecurityPolicy: { directives: { scirptSrc: ["'self'"] } } }],
    ["an unquoted keyword", { contentSecurityPolicy: { directives: { scriptSrc: ["self"] } } }],
    ["an unquoted hash", { contentSecurityPolicy: { directives: { scriptSrc: ["sha256-abc"] } } }],
    ["a fixed nonce", { contentSecurityPolicy: { directives: { scriptSrc: ["'nonce-abc'"] } } }],
    [
      "a source with a semicolon",
      { contentSecurityPolicy: { directives: { imgSrc: ["https://a; script-src *"] } } },
    ],
    ["a source with spaces", { contentSecurityPolicy: { directives: { imgSrc: ["'self' https://a"] } } }],
    [
      "'none' with other sources",
      { contentSecurityPolicy: { directives: { objectSrc: ["'none'", "https://a"] } } },
    ],
    ["removing default-src", { contentSecurityPolicy: { directives: { defaultSrc: null } } }],
    [
      "a policy without default-src",
      { contentSecurityPolicy: { useDefaults: false, directives: { imgSrc: ["'self'"] } } },
    ],
    [
      "a directive given twice",
      { contentSecurityPolicy: { directives: { imgSrc: ["'self'"], "img-src": ["'self'"] } } },
    ],
    [
      "a nonce added to script-src 'none'",
      { contentSecurityPolicy: { directives: { scriptSrc: ["'none'"] } } },
    ],
    [
      "'strict-dynamic' without nonce or hash",
      { contentSecurityPolicy: { nonce: false, strictDynamic: true } },
    ],
    ["a report URL with a quote", { contentSecurityPolicy: { reportUrl: 'https://a/"x' } }],
    ["a relative report URL without a slash", { contentSecurityPolicy: { reportUrl: "reports" } }],
    ["a route that is not a path", { contentSecurityPolicy: { routes: { embed: {} } } }],
    ["a route with a mid-path wildcard", { contentSecurityPolicy: { routes: { "/a/*/b": {} } } }],
    ["an unknown option inside a route", { contentSecurityPolicy: { routes: { "/a": { route: 1 } } } }],
    ["routes that are not an object", { contentSecurityPolicy: { routes: ["/a"] } }],
    ["hashes that are not strings", { contentSecurityPolicy: { hashes: { scripts: [1] } } }],
    ["a Permissions-Policy feature in camelCase", { permissionsPolicy: { displayCapture: [] } }],
    ["a Permissions-Policy allowlist that is not an array", { permissionsPolicy: { camera: "self" } }],
    ["a Permissions-Policy origin with a path", { permissionsPolicy: { camera: ["https://a.example/x"] } }],
    ["'*' with other entries", { permissionsPolicy: { camera: ["*", "self"] } }],
    ["a reporting endpoint with an upper-case name", { reportingEndpoints: { Default: "/r" } }],
    ["a reporting endpoint with a bad URL", { reportingEndpoints: { default: "javascript:alert(1)" } }],
  ];
  for (const [name, options] of refused) {
    it(`refuses ${name}`, () => {
      expect(() => make(options as SecureHeadersOptions)).toThrow(
        expect.objectContaining({ code: "ERR_CONFIG_INVALID" }),
      );
    });
  }

  it("suggests the intended name for typos", () => {
    expect(() => make({ contentSecurityPolicyy: {} } as SecureHeadersOptions)).toThrow(
      /did you mean "contentSecurityPolicy"/,
    );
    expect(() => make({ contentSecurityPolicy: { directives: { scirptSrc: [] } } })).toThrow(
      /did you mean "script-src"/,
    );
  });

  it("does not mutate the caller's options", () => {
    const options = {
      contentSecurityPolicy: {
        directives: { imgSrc: ["'self'"] },
        routes: { "/a": { directives: { imgSrc: ["data:"] } } },
      },
      permissionsPolicy: { camera: ["self"] },
    };
    const copy = structuredClone(options);
    make(options);
    expect(options).toEqual(copy);
  });
});
