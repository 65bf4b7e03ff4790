import { type Clock, systemClock } from "../core/clock.js";
import { type ClientIp, clientIpResolver, trustCoversInternet } from "../core/ip.js";
import { consoleLogger, type Logger } from "../core/logger.js";
import { boolean, checkKeys, configError, fn } from "../core/options.js";
import { CONTINUE, type Guard, type HeaderList, type Outcome } from "../core/outcome.js";
import { problem } from "../core/problem.js";
import type { RequestView } from "../core/request.js";
import { formatRateLimitPolicy, retryAfterSeconds, type ServiceLimitLike, sfString } from "./headers.js";
import {
  type CheckOptions,
  type LimitReport,
  type RateLimitDecision,
  type RateLimiter,
  syncCheckOf,
} from "./limiter.js";

export interface RateLimitGuardOptions<C = unknown> {
  /**
   * The key to limit by, from the request and the client's IP key (IPv4 address, or IPv6 masked to
   * its /64). Default: the IP key.
   */
  key?: (view: RequestView, ip: string) => string | Promise<string>;
  /** Units a request costs (default 1), or a function of the request. */
  cost?: number | ((view: RequestView) => number);
  /** The `context` passed to a per-request `limits` function (e.g. the user's tier). */
  context?: (view: RequestView) => C;
  /** Requests for which the guard does nothing (no check, no headers). */
  skip?: (view: RequestView) => boolean;
  /** Count and send headers, but never refuse (default false): to tune limits in production. */
  reportOnly?: boolean;
  /** Send `RateLimit-Policy` and `RateLimit` (default true). */
  standardHeaders?: boolean;
  /** Also send `X-RateLimit-Limit`, `-Remaining`, `-Reset` (epoch seconds) for the tightest limit (default false). */
  legacyHeaders?: boolean;
  /** Which proxies to believe for the client IP (default false: none). See `clientIpResolver`. */
  trustProxy?: false | number | readonly string[];
  /** The header trusted proxies write (default "x-forwarded-for"; "forwarded" is RFC 7239). */
  forwardedHeader?: "x-forwarded-for" | "forwarded";
  /** IPv6 clients are keyed by this prefix length (default 64; 48–128). */
  ipv6Subnet?: number;
  /** Run the start-up checks and log what they find, once each (default true). */
  validate?: boolean;
  /** Where validation findings and misuse are logged (default JSON lines on stderr). */
  logger?: Logger;
  /** Time for `X-RateLimit-Reset` (default system clock). */
  clock?: Clock;
}

/** Distinct client IPs seen with one single key before the key function is reported as constant. */
const CONSTANT_KEY_IPS = 5;
/** Requests watched for a constant key before the check gives up. */
const CONSTANT_KEY_WINDOW = 1000;

const TITLES = {
  ERR_RATELIMIT_EXCEEDED: "Too Many Requests",
  ERR_RATELIMIT_BLOCKED: "Too Many Requests",
  ERR_RATELIMIT_STORE_UNAVAILABLE: "Service Unavailable",
  ERR_RATELIMIT_COST_EXCEEDS_LIMIT: "Request Exceeds Rate Limit",
  ERR_RATELIMIT_INVALID_KEY: "Internal Server Error",
  ERR_RATELIMIT_INVALID_COST: "Internal Server Error",
} as const;

/**
 * An HTTP guard around a limiter: keys each request (by client IP unless told otherwise), checks
 * it, and answers 429 with `Retry-After` and an `application/problem+json` body
 * (`ERR_RATELIMIT_EXCEEDED`), 503 when the store is down and `failMode` is "closed", or lets the
 * request through with `RateLimit-Policy` / `RateLimit` headers.
 */
export function rateLimitGuard<C = unknown>(
  limiter: RateLimiter<C>,
  options: RateLimitGuardOptions<C> = {},
): Guard {
  const where = "rateLimitGuard";
  if (limiter === null || typeof limiter !== "object" || typeof limiter.check !== "function") {
    throw configError(where, "the first argument must be a limiter from rateLimit()");
  }
  const o = checkKeys(where, options, [
    "key",
    "cost",
    "context",
    "skip",
    "reportOnly",
    "standardHeaders",
    "legacyHeaders",
    "trustProxy",
    "forwardedHeader",
    "ipv6Subnet",
    "validate",
    "logger",
    "clock",
  ]);
  const keyFn = fn<(view: RequestView, ip: string) => string | Promise<string>>(
    where,
    "key",
    o.key,
    undefined,
  );
  const contextFn = fn<(view: RequestView) => C>(where, "context", o.context, undefined);
  const skip = fn<(view: RequestView) => boolean>(where, "skip", o.skip, undefined);
  let costFn: ((view: RequestView) => number) | undefined;
  let fixedCost = 1;
  if (typeof o.cost === "function") costFn = o.cost as (view: RequestView) => number;
  else if (o.cost !== undefined) {
    if (typeof o.cost !== "number" || !Number.isSafeInteger(o.cost) || o.cost < 0) {
      throw configError(where, `"cost" must be an integer ≥ 0 or a function`);
    }
    fixedCost = o.cost;
  }
  const reportOnly = boolean(where, "reportOnly", o.reportOnly, false);
  const standardHeaders = boolean(where, "standardHeaders", o.standardHeaders, true);
  const legacyHeaders = boolean(where, "legacyHeaders", o.legacyHeaders, false);
  const validate = boolean(where, "validate", o.validate, true);
  const logger = (o.logger ?? consoleLogger) as Logger;
  if (logger === null || typeof logger !== "object" || typeof logger.warn !== "function") {
    throw configError(where, `"logger" must have debug, info, warn and error methods`);
  }
  const clock = (o.clock ?? systemClock) as Clock;
  if (o.trustProxy === true) {
    throw configError(
      where,
      `"trustProxy: true" would let any client choose its IP; give the number of proxies in front of this server or their addresses`,
    );
  }
  const resolveIp = clientIpResolver({
    ...(o.trustProxy === undefined ? {} : { trustProxy: o.trustProxy as false | number | readonly string[] }),
    ...(o.forwardedHeader === undefined
      ? {}
      : { forwardedHeader: o.forwardedHeader as "x-forwarded-for" | "forwarded" }),
    ...(o.ipv6Subnet === undefined ? {} : { ipv6Subnet: o.ipv6Subnet as number }),
  });

  if (validate && Array.isArray(o.trustProxy) && trustCoversInternet(o.trustProxy as string[])) {
    logger.error(
      { code: "ERR_PROXY_TRUST_TOO_BROAD" },
      "a trusted proxy range covers a large part of the internet: any client there can choose its own IP and escape rate limits",
    );
  }

  const warned = new Set<string>();
  const once = (code: string, msg: string, level: "warn" | "error" = "warn"): void => {
    if (warned.has(code)) return;
    warned.add(code);
    logger[level]({ code }, msg);
  };

  // Constant-key detection: is every key the same while client IPs differ?
  let watching = validate && keyFn !== undefined;
  let watched = 0;
  let firstKey: string | undefined;
  const ipsForFirstKey = new Set<string>();
  const watchKey = (key: string, ip: ClientIp): void => {
    if (++watched > CONSTANT_KEY_WINDOW) {
      watching = false;
      return;
    }
    if (firstKey === undefined) firstKey = key;
    if (key !== firstKey) {
      watching = false;
      return;
    }
    ipsForFirstKey.add(ip.key);
    if (ipsForFirstKey.size >= CONSTANT_KEY_IPS) {
      watching = false;
      once(
        "ERR_KEY_GENERATOR_CONSTANT",
        `the key function returned the same key for requests from ${CONSTANT_KEY_IPS} different client IPs: every client shares one limit`,
      );
    }
  };

  // The policy field and the quoted names depend only on the limits' names, quotas and windows, which
  // are the same for every request of a static limit set: they are formatted once per layout.
  let layout: Layout | undefined;
  const layoutOf = (limits: readonly LimitReport[]): Layout => {
    if (layout === undefined || !sameLayout(layout, limits)) layout = newLayout(limits);
    return layout;
  };

  const policyHeaders = (
    limits: readonly LimitReport[],
    retrySeconds?: number,
  ): Array<readonly [string, string]> => {
    const out: Array<readonly [string, string]> = [];
    if (limits.length === 0) return out;
    if (standardHeaders) {
      const l = layoutOf(limits);
      out.push(l.policy);
      out.push(["ratelimit", formatRemaining(l.quoted, limits, retrySeconds)]);
    }
    if (legacyHeaders) {
      let tightest = limits[0] as LimitReport;
      for (const l of limits) if (l.remaining < tightest.remaining) tightest = l;
      out.push(["x-ratelimit-limit", String(tightest.limit)]);
      out.push(["x-ratelimit-remaining", String(Math.max(0, Math.floor(tightest.remaining)))]);
      out.push(["x-ratelimit-reset", String(Math.ceil((clock.now() + tightest.resetMs) / 1000))]);
    }
    return out;
  };

  const decide = (d: RateLimitDecision): Outcome => {
    if (d.listed === "allow") return CONTINUE;
    if (d.allowed) {
      const headers = policyHeaders(d.limits);
      return headers.length === 0 ? CONTINUE : { action: "continue", headers };
    }
    const code = d.code ?? "ERR_RATELIMIT_EXCEEDED";
    if (code === "ERR_RATELIMIT_INVALID_KEY" || code === "ERR_RATELIMIT_INVALID_COST") {
      once(
        code,
        code === "ERR_RATELIMIT_INVALID_KEY"
          ? "the key function returned something other than a non-empty string"
          : "the cost function returned something other than an integer ≥ 0",
        "error",
      );
    }
    if (reportOnly) {
      const headers = policyHeaders(d.limits);
      return headers.length === 0 ? CONTINUE : { action: "continue", headers };
    }
    switch (code) {
      case "ERR_RATELIMIT_EXCEEDED":
      case "ERR_RATELIMIT_BLOCKED": {
        if (d.listed === "deny") return problem(403, code, "Forbidden");
        const seconds = retryAfterSeconds(d.retryAfterMs);
        const headers: HeaderList = [...policyHeaders(d.limits, seconds), ["retry-after", String(seconds)]];
        return problem(429, code, TITLES[code], headers);
      }
      case "ERR_RATELIMIT_STORE_UNAVAILABLE":
        return problem(503, code, TITLES[code], [["retry-after", String(retryAfterSeconds(d.retryAfterMs))]]);
      case "ERR_RATELIMIT_COST_EXCEEDS_LIMIT":
        return problem(400, code, TITLES[code]);
      default:
        return problem(500, code, TITLES[code]);
    }
  };

  // A limiter on the memory store answers synchronously: no promise on the request's path.
  const checkNow = syncCheckOf(limiter);

  const checkKey = (view: RequestView, client: ClientIp, key: string): Outcome | Promise<Outcome> => {
    if (watching && typeof key === "string") watchKey(key, client);
    const cost = costFn === undefined ? fixedCost : costFn(view);
    const options: CheckOptions<C> =
      contextFn === undefined
        ? { cost, ip: client.ip }
        : { cost, ip: client.ip, context: contextFn(view) as C };
    if (checkNow !== undefined) return decide(checkNow(key, options));
    return limiter.check(key, options).then(decide);
  };

  return (view) => {
    if (skip?.(view)) return CONTINUE;
    const client = resolveIp(view);
    if (validate && client.forwardedHeaderIgnored) {
      once(
        "ERR_PROXY_UNTRUSTED_FORWARDED_HEADER",
        "X-Forwarded-For/Forwarded arrived but no proxy is trusted: it is ignored and clients are keyed by the proxy's address; set trustProxy if this server is behind a proxy",
      );
    }
    if (keyFn === undefined) return checkKey(view, client, client.key);
    const key = keyFn(view, client.key);
    return isThenable(key)
      ? Promise.resolve(key).then((k) => checkKey(view, client, k))
      : checkKey(view, client, key);
  };
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}

/** What the RateLimit fields need from a set of limits that does not change between requests. */
interface Layout {
  readonly names: readonly string[];
  readonly quotas: readonly number[];
  readonly windowsMs: readonly number[];
  /** Each name as an sf-string. */
  readonly quoted: readonly string[];
  /** The `RateLimit-Policy` entry (not frozen: V8 reads frozen arrays slowly). */
  readonly policy: readonly [string, string];
}

function newLayout(limits: readonly LimitReport[]): Layout {
  return {
    names: limits.map((l) => l.name),
    quotas: limits.map((l) => l.limit),
    windowsMs: limits.map((l) => l.windowMs),
    quoted: limits.map((l) => sfString(l.name)),
    policy: ["ratelimit-policy", formatRateLimitPolicy(limits)],
  };
}

function sameLayout(layout: Layout, limits: readonly LimitReport[]): boolean {
  const n = limits.length;
  if (layout.names.length !== n) return false;
  for (let i = 0; i < n; i++) {
    const l = limits[i] as LimitReport;
    if (l.name !== layout.names[i] || l.limit !== layout.quotas[i] || l.windowMs !== layout.windowsMs[i])
      return false;
  }
  return true;
}

/** `formatRateLimit` with the names already quoted. */
function formatRemaining(
  quoted: readonly string[],
  limits: readonly ServiceLimitLike[],
  maxSeconds: number | undefined,
): string {
  let out = "";
  for (let i = 0; i < limits.length; i++) {
    const l = limits[i] as ServiceLimitLike;
    let t = Math.ceil(l.resetMs / 1000);
    if (maxSeconds !== undefined && t > maxSeconds) t = maxSeconds;
    if (i > 0) out += ", ";
    out += `${quoted[i] as string};r=${Math.max(0, Math.floor(l.remaining))};t=${t}`;
  }
  return out;
}
