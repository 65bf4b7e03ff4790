import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { protect } from "../adapters/node/index.js";
import { manualClock } from "../core/clock.js";
import { silentLogger } from "../core/logger.js";
import { rateLimitGuard } from "./guard.js";
import { rateLimit } from "./limiter.js";

describe("rateLimitGuard over real HTTP (node:http adapter)", () => {
  let server: Server;
  let url: string;

  beforeAll(async () => {
    const limiter = rateLimit({
      limits: [{ name: "booking", algorithm: "fixed-window", limit: 2, windowMs: 3_600_000 }],
      clock: manualClock(Date.UTC(2026, 0, 1, 10, 0, 0)),
      logger: silentLogger,
    });
    const guard = rateLimitGuard(limiter, { logger: silentLogger, legacyHeaders: true });
    server = createServer(protect(guard)((_req, res) => res.end("booked")));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/book`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it("sends the RateLimit fields on success and a 429 problem with Retry-After once the limit is reached", async () => {
    const first = await fetch(url);
    expect(first.status).toBe(200);
    expect(await first.text()).toBe("booked");
    expect(first.headers.get("ratelimit-policy")).toBe('"booking";q=2;w=3600');
    expect(first.headers.get("ratelimit")).toBe('"booking";r=1;t=3600');
    expect(first.headers.get("x-ratelimit-remaining")).toBe("1");
    expect((await fetch(url)).status).toBe(200);
    const denied = await fetch(url);
    expect(denied.status).toBe(429);
    expect(denied.headers.get("content-type")).toBe("application/problem+json");
    expect(denied.headers.get("retry-after")).toBe("3600");
    expect(denied.headers.get("ratelimit")).toBe('"booking";r=0;t=3600');
    expect(await denied.json()).toEqual({
      type: "https://bulwark.dev/errors/ERR_RATELIMIT_EXCEEDED",
      title: "Too Many Requests",
      status: 429,
      code: "ERR_RATELIMIT_EXCEEDED",
    });
  });
});
