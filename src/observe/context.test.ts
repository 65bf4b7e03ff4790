import { Agent, createServer, request as httpRequest, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { manualClock } from "../core/clock.js";
import { isBulwarkError } from "../core/errors.js";
import type { ContinueOutcome, Guard } from "../core/outcome.js";
import { viewFromParts } from "../core/request.js";
import {
  currentRequestId,
  parseTraceparent,
  requestContext,
  requestContextGuard,
  runWithRequestContext,
} from "./context.js";

const VALID = "00-12345678901234567890123456789012-1234567890123456-01";

describe("parseTraceparent (W3C trace-context test suite vectors)", () => {
  it("parses a valid version-00 header", () => {
    expect(parseTraceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")).toEqual({
      version: "00",
      traceId: "0af7651916cd43dd8448eb211c80319c",
      parentId: "b7ad6b7169203331",
      flags: "01",
    });
  });

  it.each([
    [" 00-12345678901234567890123456789012-1234567890123456-01"],
    ["\t00-12345678901234567890123456789012-1234567890123456-01"],
    ["00-12345678901234567890123456789012-1234567890123456-01 "],
    ["\t 00-12345678901234567890123456789012-1234567890123456-01 \t"],
    ["cc-12345678901234567890123456789012-1234567890123456-01"],
    ["cc-12345678901234567890123456789012-1234567890123456-01-what-the-future-will-be-like"],
  ])("accepts %j", (value) => {
    expect(parseTraceparent(value)?.traceId).toBe("12345678901234567890123456789012");
  });

  it.each([
    ["00-12345678901234567890123456789012-1234567890123456-01."],
    ["00-12345678901234567890123456789012-1234567890123456-01-what-the-future-will-be-like"],
    ["cc-12345678901234567890123456789012-1234567890123456-01.what-the-future-will-be-like"],
    ["ff-12345678901234567890123456789012-1234567890123456-01"],
    [".0-12345678901234567890123456789012-1234567890123456-01"],
    ["0.-12345678901234567890123456789012-1234567890123456-01"],
    ["000-12345678901234567890123456789012-1234567890123456-01"],
    ["0-12345678901234567890123456789012-1234567890123456-01"],
    ["00-00000000000000000000000000000000-1234567890123456-01"],
    ["00-.2345678901234567890123456789012-1234567890123456-01"],
    ["00-1234567890123456789012345678901.-1234567890123456-01"],
    ["00-123456789012345678901234567890123-1234567890123456-01"],
    ["00-1234567890123456789012345678901-1234567890123456-01"],
    ["00-12345678901234567890123456789012-0000000000000000-01"],
    ["00-12345678901234567890123456789012-.234567890123456-01"],
    ["00-12345678901234567890123456789012-123456789012345.-01"],
    ["00-12345678901234567890123456789012-12345678901234567-01"],
    ["00-12345678901234567890123456789012-123456789012345-01"],
    ["00-12345678901234567890123456789012-1234567890123456-.0"],
    ["00-12345678901234567890123456789012-1234567890123456-0."],
    ["00-12345678901234567890123456789012-1234567890123456-001"],
    ["00-12345678901234567890123456789012-1234567890123456-1"],
    ["00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01"],
    [`00-12345678901234567890123456789011-1234567890123456-01, ${VALID}`],
    [""],
  ])("rejects %j", (value) => {
    expect(parseTraceparent(value)).toBeUndefined();
  });
});

describe("requestContextGuard", () => {
  const guard = requestContextGuard({ enter: "none", generateId: () => "generated-id" });
  const run = (headers: Record<string, string>) => guard(viewFromParts({ headers })) as ContinueOutcome;

  it("takes a valid incoming X-Request-Id and echoes it", () => {
    const outcome = run({ "x-request-id": "abc-123_x.y:z" });
    expect(outcome.action).toBe("continue");
    expect(outcome.headers).toEqual([["x-request-id", "abc-123_x.y:z"]]);
    expect(outcome.locals?.requestId).toBe("abc-123_x.y:z");
    expect(outcome.locals?.requestContext).toMatchObject({ source: "header" });
  });

  it.each([
    ["with a space", "a b"],
    ["with a newline (log injection)", "abc\ninjected"],
    ["with quotes", 'a"b'],
    ["with non-ASCII", "idé"],
    ["empty", ""],
    ["longer than maxLength", "a".repeat(129)],
    ["two headers joined", "a, b"],
  ])("replaces an incoming id %s", (_, value) => {
    expect(run({ "x-request-id": value }).locals?.requestId).toBe("generated-id");
  });

  it("accepts an id of exactly maxLength characters", () => {
    expect(run({ "x-request-id": "a".repeat(128) }).locals?.requestId).toBe("a".repeat(128));
  });

  it("uses the trace id of a valid traceparent when no X-Request-Id arrived", () => {
    const outcome = run({ traceparent: VALID });
    expect(outcome.locals?.requestId).toBe("12345678901234567890123456789012");
    expect(outcome.locals?.requestContext).toMatchObject({
      source: "traceparent",
      trace: { traceId: "12345678901234567890123456789012", parentId: "1234567890123456", flags: "01" },
    });
  });

  it("prefers X-Request-Id over traceparent but keeps the trace", () => {
    const outcome = run({ "x-request-id": "rid-1", traceparent: VALID });
    expect(outcome.locals?.requestId).toBe("rid-1");
    expect(outcome.locals?.requestContext).toHaveProperty("trace.traceId");
  });

  it("generates an id when the traceparent is invalid", () => {
    expect(
      run({ traceparent: VALID.replace("1234567890123456-01", "0000000000000000-01") }).locals?.requestId,
    ).toBe("generated-id");
  });

  it("ignores incoming ids when trustIncoming is false", () => {
    const strict = requestContextGuard({ enter: "none", trustIncoming: false, generateId: () => "gen" });
    const outcome = strict(
      viewFromParts({ headers: { "x-request-id": "client-chosen", traceparent: VALID } }),
    );
    expect((outcome as ContinueOutcome).locals?.requestId).toBe("gen");
  });

  it("ignores traceparent when traceparent is false", () => {
    const g = requestContextGuard({ enter: "none", traceparent: false, generateId: () => "gen" });
    expect((g(viewFromParts({ headers: { traceparent: VALID } })) as ContinueOutcome).locals?.requestId).toBe(
      "gen",
    );
  });

  it("reads and writes custom header names, or does not echo", () => {
    const custom = requestContextGuard({
      enter: "none",
      header: "x-correlation-id",
      responseHeader: "x-trace",
    });
    const outcome = custom(viewFromParts({ headers: { "x-correlation-id": "c-1" } })) as ContinueOutcome;
    expect(outcome.headers).toEqual([["x-trace", "c-1"]]);
    const silent = requestContextGuard({ enter: "none", responseHeader: false });
    expect((silent(viewFromParts({})) as ContinueOutcome).headers).toEqual([]);
  });

  it("generates a UUID by default and stamps startMs from the clock", () => {
    const clock = manualClock(1_000);
    const ctx = requestContextGuard({ clock }).create(viewFromParts({}));
    expect(ctx.requestId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(ctx.startMs).toBe(1_000);
  });

  it.each([
    [{ header: "X-Request-Id" }, /lower-case header name/],
    [{ responseHeader: "bad header" }, /lower-case header name/],
    [{ maxLength: 0 }, /≥ 1/],
    [{ enter: "always" }, /"enter" must be/],
    [{ generateId: "uuid" }, /must be a function/],
    [{ trustincoming: true }, /did you mean "trustIncoming"/],
  ])("refuses %j", (options, message) => {
    let caught: unknown;
    try {
      requestContextGuard(options as never);
    } catch (error) {
      caught = error;
    }
    expect(isBulwarkError(caught, "ERR_CONFIG_INVALID")).toBe(true);
    expect(String((caught as Error).message)).toMatch(message);
  });

  it("refuses a generateId that returns an empty id", () => {
    const g = requestContextGuard({ enter: "none", generateId: () => "" });
    expect(() => g(viewFromParts({}))).toThrow(/non-empty string/);
  });
});

describe("context propagation", () => {
  it("run() makes the context visible across awaits and returns the callback's value", async () => {
    const result = await runWithRequestContext(
      viewFromParts({ headers: { "x-request-id": "r-1" } }),
      async (ctx) => {
        await new Promise((resolve) => setTimeout(resolve, 0));
        return [ctx.requestId, currentRequestId(), requestContext()?.source];
      },
    );
    expect(result).toEqual(["r-1", "r-1", "header"]);
    expect(requestContext()).toBeUndefined();
  });

  it("interleaved run() calls never see each other's id", async () => {
    const seen = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        runWithRequestContext(viewFromParts({ headers: { "x-request-id": `id-${i}` } }), async () => {
          for (let k = 0; k < (i * 7) % 5; k++) await new Promise((resolve) => setImmediate(resolve));
          return currentRequestId();
        }),
      ),
    );
    expect(seen).toEqual(Array.from({ length: 40 }, (_, i) => `id-${i}`));
  });

  it("enterWith inside the guard does not leak out of the callback that called it", async () => {
    const guard = requestContextGuard();
    const inside = await new Promise<string | undefined>((resolve) =>
      setImmediate(() => {
        guard(viewFromParts({ headers: { "x-request-id": "scoped" } }));
        resolve(currentRequestId());
      }),
    );
    expect(inside).toBe("scoped");
    expect(currentRequestId()).toBeUndefined();
  });
});

/** The smallest adapter: build a view, apply the guard's headers, then run the handler. */
function miniAdapter(guard: Guard, style: "then" | "await"): Server {
  const handler = async (req: IncomingMessage, res: import("node:http").ServerResponse) => {
    const before = currentRequestId();
    const n = Number(new URL(req.url ?? "/", "http://x").searchParams.get("n"));
    for (let k = 0; k < (n * 7) % 6; k++) await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setTimeout(resolve, n % 3));
    const after = currentRequestId();
    res.end(JSON.stringify({ before, after }));
  };
  return createServer((req, res) => {
    const view = viewFromParts({
      method: req.method ?? "GET",
      url: req.url ?? "/",
      headers: req.headers as Record<string, string>,
    });
    const apply = (outcome: Awaited<ReturnType<Guard>>) => {
      for (const [name, value] of outcome.headers ?? []) res.setHeader(name, value);
    };
    if (style === "then") {
      void Promise.resolve(guard(view)).then((outcome) => {
        apply(outcome);
        return handler(req, res);
      });
    } else {
      void (async () => {
        apply(await guard(view));
        await handler(req, res);
      })();
    }
  });
}

function get(port: number, agent: Agent, path: string, headers: Record<string, string>) {
  return new Promise<{ header: string | undefined; body: { before?: string; after?: string } }>(
    (resolve, reject) => {
      const req = httpRequest({ host: "127.0.0.1", port, path, headers, agent }, (res) => {
        let data = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => {
          data += chunk;
        });
        res.on("end", () =>
          resolve({ header: res.headers["x-request-id"] as string | undefined, body: JSON.parse(data) }),
        );
      });
      req.on("error", reject);
      req.end();
    },
  );
}

describe("two concurrent requests never see each other's id (real node:http server, keep-alive)", () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise((resolve) => server?.close(resolve));
    server = undefined;
  });

  it.each(["then", "await"] as const)("adapter style %s", async (style) => {
    server = miniAdapter(requestContextGuard(), style);
    await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    // Few sockets for many requests: every socket serves several requests in turn.
    const agent = new Agent({ keepAlive: true, maxSockets: 6 });
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, n) =>
        get(port, agent, `/?n=${n}`, n % 4 === 3 ? {} : { "x-request-id": `req-${n}` }),
      ),
    );
    agent.destroy();
    const generated = new Set<string>();
    results.forEach((r, n) => {
      if (n % 4 === 3) {
        expect(r.header).toMatch(/^[0-9a-f-]{36}$/);
        generated.add(r.header as string);
      } else {
        expect(r.header).toBe(`req-${n}`);
      }
      expect(r.body).toEqual({ before: r.header, after: r.header });
    });
    expect(generated.size).toBe(15);
  });
});
