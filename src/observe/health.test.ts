import { describe, expect, it } from "vitest";
import { manualClock } from "../core/clock.js";
import { isBulwarkError } from "../core/errors.js";
import { memoryLogger } from "../core/logger.js";
import { CONTINUE, type Outcome, type RespondOutcome } from "../core/outcome.js";
import { viewFromParts } from "../core/request.js";
import { type HealthCheck, type HealthOptions, type HealthReport, health } from "./health.js";

const json = (o: Outcome) => JSON.parse(String((o as RespondOutcome).body)) as HealthReport;
const probe = (h: ReturnType<typeof health>, path: string, method = "GET") =>
  Promise.resolve(h.guard(viewFromParts({ method, url: path })));

function counter(check: HealthCheck["check"] = () => {}) {
  let calls = 0;
  return {
    get calls() {
      return calls;
    },
    check: () => {
      calls++;
      return check();
    },
  };
}

describe("health", () => {
  it("answers /livez with pass in application/health+json", async () => {
    const out = (await probe(health(), "/livez")) as RespondOutcome;
    expect(out.action).toBe("respond");
    expect(out.status).toBe(200);
    expect(out.headers).toEqual([
      ["content-type", "application/health+json"],
      ["cache-control", "no-store"],
    ]);
    expect(json(out)).toEqual({ status: "pass" });
  });

  it("answers /readyz with every check keyed component:measurement", async () => {
    const clock = manualClock(Date.UTC(2026, 0, 2));
    const h = health({
      clock,
      serviceId: "school-api",
      version: "1",
      releaseId: "1.4.2",
      checks: [
        { name: "redis", check: () => {}, componentType: "datastore" },
        {
          name: "queue",
          check: async () => ({ observedValue: 3, observedUnit: "jobs", measurementName: "depth" }),
        },
      ],
    });
    const out = (await probe(h, "/readyz")) as RespondOutcome;
    expect(out.status).toBe(200);
    const report = json(out);
    expect(report).toMatchObject({
      status: "pass",
      serviceId: "school-api",
      version: "1",
      releaseId: "1.4.2",
    });
    expect(report.checks?.["redis:responseTime"]?.[0]).toMatchObject({
      componentType: "datastore",
      observedUnit: "ms",
      status: "pass",
      time: "2026-01-02T00:00:00.000Z",
    });
    expect(typeof report.checks?.["redis:responseTime"]?.[0]?.observedValue).toBe("number");
    expect(report.checks?.["queue:depth"]?.[0]).toMatchObject({
      observedValue: 3,
      observedUnit: "jobs",
      status: "pass",
    });
  });

  it("fails readiness with 503 when a critical check throws, without leaking the error", async () => {
    const logger = memoryLogger();
    const h = health({
      logger,
      checks: [
        {
          name: "postgres",
          check: async () => {
            throw new Error("connect ECONNREFUSED 10.0.0.7:5432 password auth failed");
          },
        },
      ],
    });
    const out = (await probe(h, "/readyz")) as RespondOutcome;
    expect(out.status).toBe(503);
    expect(json(out)).toMatchObject({
      status: "fail",
      checks: { "postgres:responseTime": [{ status: "fail", output: "check failed" }] },
    });
    expect(String(out.body)).not.toMatch(/10\.0\.0\.7|ECONNREFUSED|password/);
    expect(logger.entries[0]).toMatchObject({ level: "warn", check: "postgres", msg: "health check failed" });
  });

  it("counts a synchronous throw as a failure", async () => {
    const h = health({
      checks: [
        {
          name: "sync",
          check: () => {
            throw new Error("x");
          },
        },
      ],
    });
    expect((await h.ready()).status).toBe("fail");
  });

  it("only warns (200) when a non-critical check fails", async () => {
    const h = health({
      checks: [
        { name: "ok", check: () => {} },
        { name: "search", critical: false, check: () => Promise.reject(new Error("down")) },
      ],
    });
    const out = (await probe(h, "/readyz")) as RespondOutcome;
    expect(out.status).toBe(200);
    expect(json(out)).toMatchObject({
      status: "warn",
      checks: { "search:responseTime": [{ status: "warn", output: "check failed" }] },
    });
  });

  it("reports a check's own warn with its output", async () => {
    const h = health({ checks: [{ name: "disk", check: () => ({ status: "warn", output: "85% full" }) }] });
    expect(await h.ready()).toMatchObject({
      status: "warn",
      checks: { "disk:responseTime": [{ status: "warn", output: "85% full" }] },
    });
  });

  it("fails a check that does not answer within its timeout", async () => {
    const logger = memoryLogger();
    const h = health({
      logger,
      checks: [{ name: "slow", timeoutMs: 5, check: () => new Promise(() => {}) }],
    });
    const report = await h.ready();
    expect(report).toMatchObject({
      status: "fail",
      checks: { "slow:responseTime": [{ status: "fail", output: "timed out after 5 ms" }] },
    });
    expect(logger.entries[0]).toMatchObject({ check: "slow", msg: "health check timed out" });
  });

  it("reuses a readiness result for cacheMs, then runs the checks again", async () => {
    const clock = manualClock();
    const c = counter();
    const h = health({ clock, cacheMs: 1_000, checks: [{ name: "db", check: c.check }] });
    await h.ready();
    clock.advance(999);
    await h.ready();
    expect(c.calls).toBe(1);
    clock.advance(1);
    await h.ready();
    expect(c.calls).toBe(2);
  });

  it("runs the checks on every probe with cacheMs 0", async () => {
    const c = counter();
    const h = health({ cacheMs: 0, checks: [{ name: "db", check: c.check }] });
    await h.ready();
    await h.ready();
    expect(c.calls).toBe(2);
  });

  it("shares one round of checks between concurrent probes", async () => {
    let release: () => void = () => {};
    const c = counter(() => new Promise<void>((resolve) => (release = resolve)));
    const h = health({ cacheMs: 0, checks: [{ name: "db", check: c.check }] });
    const probes = Promise.all([h.ready(), h.ready(), h.ready()]);
    await new Promise((resolve) => setImmediate(resolve));
    release();
    const reports = await probes;
    expect(c.calls).toBe(1);
    expect(reports.map((r) => r.status)).toEqual(["pass", "pass", "pass"]);
  });

  it("fails readiness at once after startShutdown without running checks; liveness stays pass", async () => {
    const c = counter();
    const h = health({ checks: [{ name: "db", check: c.check }] });
    expect(h.shuttingDown).toBe(false);
    h.startShutdown();
    expect(h.shuttingDown).toBe(true);
    const out = (await probe(h, "/readyz")) as RespondOutcome;
    expect(out.status).toBe(503);
    expect(json(out)).toEqual({ status: "fail", notes: ["shutting down"], output: "shutting down" });
    expect(c.calls).toBe(0);
    expect(((await probe(h, "/livez")) as RespondOutcome).status).toBe(200);
  });

  it("fails a probe whose checks were still running when the shutdown started", async () => {
    let release: () => void = () => {};
    const h = health({
      checks: [{ name: "db", check: () => new Promise<void>((resolve) => (release = resolve)) }],
    });
    const pending = h.ready();
    await new Promise((resolve) => setImmediate(resolve));
    h.startShutdown();
    release();
    expect((await pending).status).toBe("fail");
  });

  it("runs liveness checks when given and fails liveness with 503", async () => {
    const h = health({ liveChecks: [{ name: "loop", check: () => Promise.reject(new Error("stuck")) }] });
    expect(((await probe(h, "/livez")) as RespondOutcome).status).toBe(503);
  });

  it("answers HEAD without a body and refuses other methods with 405", async () => {
    const h = health();
    const head = (await probe(h, "/readyz", "HEAD")) as RespondOutcome;
    expect(head.status).toBe(200);
    expect(head.body).toBeUndefined();
    const post = (await probe(h, "/livez", "POST")) as RespondOutcome;
    expect(post.status).toBe(405);
    expect(post.headers).toContainEqual(["allow", "GET, HEAD"]);
    expect(JSON.parse(String(post.body)).code).toBe("ERR_METHOD_NOT_ALLOWED");
  });

  it("lets every other path through, including look-alikes", async () => {
    const h = health();
    for (const url of ["/", "/livez/", "/readyz/x", "/api/readyz"])
      expect(await probe(h, url)).toBe(CONTINUE);
    expect(((await probe(h, "/readyz?verbose=1")) as RespondOutcome).status).toBe(200);
  });

  it("serves custom paths", async () => {
    const h = health({ livePath: "/healthz", readyPath: "/ready" });
    expect(((await probe(h, "/healthz")) as RespondOutcome).status).toBe(200);
    expect(await probe(h, "/livez")).toBe(CONTINUE);
  });

  it("registers a check later and drops the cached result", async () => {
    const h = health({ cacheMs: 60_000 });
    expect((await h.ready()).status).toBe("pass");
    h.register({ name: "late", check: () => Promise.reject(new Error("x")) });
    expect((await h.ready()).status).toBe("fail");
    expect(() => h.register({ name: "late", check: () => {} })).toThrow(/duplicate check name/);
  });

  it.each<[HealthOptions | Record<string, unknown>, RegExp]>([
    [{ checks: [{ name: "a:b", check: () => {} }] }, /no colon/],
    [{ checks: [{ name: "a", check: "ping" }] }, /must be a function/],
    [{ checks: [{ name: "a", check: () => {}, critical: "yes" }] }, /"critical" must be a boolean/],
    [{ checks: [{ name: "a", check: () => {}, timeout: 5 }] }, /did you mean "timeoutMs"/],
    [{ checks: [{ name: "a", check: () => {}, timeoutMs: 0 }] }, /≥ 1/],
    [
      {
        checks: [
          { name: "a", check: () => {} },
          { name: "a", check: () => {} },
        ],
      },
      /duplicate check name/,
    ],
    [{ checks: {} }, /must be an array/],
    [{ livePath: "livez" }, /must be a path/],
    [{ livePath: "/x", readyPath: "/x" }, /must differ/],
    [{ cacheMs: -1 }, /≥ 0/],
    [{ cachems: 5 }, /did you mean "cacheMs"/],
  ])("refuses %j", (options, message) => {
    let caught: unknown;
    try {
      health(options as HealthOptions);
    } catch (error) {
      caught = error;
    }
    expect(isBulwarkError(caught, "ERR_CONFIG_INVALID")).toBe(true);
    expect(String((caught as Error).message)).toMatch(message);
  });
});
