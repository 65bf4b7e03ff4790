import { describe, expect, it } from "vitest";
import { BulwarkError, isBulwarkError } from "../core/errors.js";
import { memoryLogger } from "../core/logger.js";
import type { RespondOutcome } from "../core/outcome.js";
import { viewFromParts } from "../core/request.js";
import { runWithRequestContext } from "./context.js";
import { type ErrorInfo, errorHandler, errorResponse } from "./error-response.js";

const body = (o: RespondOutcome) => JSON.parse(String(o.body)) as Record<string, unknown>;

describe("errorHandler", () => {
  it("answers 500 problem+json with the request id and no message or stack in production", () => {
    const logger = memoryLogger();
    const handle = errorHandler({ production: true, logger });
    const out = handle(new Error("SELECT * FROM users failed: password column"), "rid-1");
    expect(out.status).toBe(500);
    expect(out.headers).toEqual([
      ["content-type", "application/problem+json"],
      ["cache-control", "no-store"],
      ["x-request-id", "rid-1"],
    ]);
    expect(body(out)).toEqual({
      type: "https://bulwark.dev/errors/ERR_INTERNAL",
      title: "Internal Server Error",
      status: 500,
      code: "ERR_INTERNAL",
      requestId: "rid-1",
    });
    expect(String(out.body)).not.toMatch(/SELECT|password|at /);
    expect(logger.entries).toHaveLength(1);
    expect(logger.entries[0]).toMatchObject({
      level: "error",
      requestId: "rid-1",
      status: 500,
      code: "ERR_INTERNAL",
    });
  });

  it("takes the request id from the request context when none is passed", () => {
    const handle = errorHandler({ production: true, logger: memoryLogger() });
    const out = runWithRequestContext(viewFromParts({ headers: { "x-request-id": "ctx-7" } }), () =>
      handle(new Error("x")),
    );
    expect(body(out).requestId).toBe("ctx-7");
    expect(out.headers).toContainEqual(["x-request-id", "ctx-7"]);
  });

  it("omits the request id outside a request", () => {
    const out = errorHandler({ production: true, logger: memoryLogger() })(new Error("x"));
    expect(body(out)).not.toHaveProperty("requestId");
    expect(out.headers.map(([n]) => n)).not.toContain("x-request-id");
  });

  it("includes the redacted message and stack outside production", () => {
    const handle = errorHandler({ production: false, logger: memoryLogger() });
    const b = body(handle(new Error("fetch https://api.test/x?token=abc failed"), "r"));
    expect(b.detail).toBe("fetch https://api.test/x?token=[REDACTED] failed");
    expect(String(b.stack)).toContain("Error: fetch https://api.test/x?token=[REDACTED] failed");
  });

  it("keeps the status and code of a BulwarkError with a 4xx status", () => {
    const logger = memoryLogger();
    const out = errorHandler({ production: true, logger })(
      new BulwarkError("ERR_RATELIMIT_EXCEEDED", "limit hit for key ip:1.2.3.4", { status: 429 }),
      "r",
    );
    expect(out.status).toBe(429);
    expect(body(out)).toMatchObject({
      code: "ERR_RATELIMIT_EXCEEDED",
      title: "A rate limit denied the request.",
      status: 429,
    });
    expect(String(out.body)).not.toContain("1.2.3.4");
    expect(logger.entries[0]?.level).toBe("info");
  });

  it("hides a BulwarkError with a 5xx status behind ERR_INTERNAL", () => {
    const out = errorHandler({ production: true, logger: memoryLogger() })(
      new BulwarkError("ERR_STORE_UNAVAILABLE", "redis at 10.0.0.5 timed out", { status: 503 }),
    );
    expect(out.status).toBe(500);
    expect(body(out).code).toBe("ERR_INTERNAL");
  });

  it.each([
    [{ status: 400, type: "entity.parse.failed" }, 400, "ERR_CLIENT_REQUEST", "Bad Request"],
    [{ statusCode: 413 }, 413, "ERR_BODY_TOO_LARGE", "Payload Too Large"],
    [{ status: 415 }, 415, "ERR_BODY_UNSUPPORTED_MEDIA_TYPE", "Unsupported Media Type"],
    [{ statusCode: 405 }, 405, "ERR_METHOD_NOT_ALLOWED", "Method Not Allowed"],
    [{ status: 502 }, 500, "ERR_INTERNAL", "Internal Server Error"],
    [{ status: "400" }, 500, "ERR_INTERNAL", "Internal Server Error"],
  ])("maps a framework error %j to %i %s", (props, status, code, title) => {
    const error = Object.assign(new Error("internal detail"), props);
    const out = errorHandler({ production: true, logger: memoryLogger() })(error);
    expect(out.status).toBe(status);
    expect(body(out)).toMatchObject({ code, title, status });
  });

  it.each([["a string"], [null], [undefined], [42], [{ message: "plain object" }]])(
    "answers 500 for a thrown non-Error %j",
    (thrown) => {
      const out = errorHandler({ production: false, logger: memoryLogger() })(thrown);
      expect(out.status).toBe(500);
      expect(body(out).code).toBe("ERR_INTERNAL");
      expect(body(out)).not.toHaveProperty("detail");
    },
  );

  it("reports 5xx errors to onError with the request id, and not 4xx by default", () => {
    const calls: Array<[unknown, ErrorInfo]> = [];
    const handle = errorHandler({
      production: true,
      logger: memoryLogger(),
      onError: (error, info) => {
        calls.push([error, info]);
      },
    });
    const boom = new Error("boom");
    handle(boom, "r1");
    handle(new BulwarkError("ERR_JSON_MALFORMED", "bad", { status: 400 }), "r2");
    expect(calls).toEqual([[boom, { requestId: "r1", status: 500, code: "ERR_INTERNAL" }]]);
  });

  it("reports 4xx errors too with report: all", () => {
    const infos: ErrorInfo[] = [];
    const handle = errorHandler({
      logger: memoryLogger(),
      report: "all",
      onError: (_, info) => void infos.push(info),
    });
    handle(new BulwarkError("ERR_JSON_MALFORMED", "bad", { status: 400 }), "r2");
    expect(infos).toEqual([{ requestId: "r2", status: 400, code: "ERR_JSON_MALFORMED" }]);
  });

  it("logs a throwing or rejecting onError hook and still answers", async () => {
    const logger = memoryLogger();
    const throwing = errorHandler({
      production: true,
      logger,
      onError: () => {
        throw new Error("tracker down");
      },
    });
    expect(throwing(new Error("x"), "r").status).toBe(500);
    const rejecting = errorHandler({
      production: true,
      logger,
      onError: async () => Promise.reject(new Error("no")),
    });
    expect(rejecting(new Error("y"), "r").status).toBe(500);
    await new Promise((resolve) => setImmediate(resolve));
    expect(logger.entries.filter((e) => e.msg === "onError hook failed")).toHaveLength(2);
  });

  it.each([
    [{ production: "yes" }, /must be a boolean/],
    [{ onError: "sentry" }, /must be a function/],
    [{ report: "some" }, /must be one of/],
    [{ logger: {} }, /"logger" must have/],
    [{ onerror: () => {} }, /did you mean "onError"/],
  ])("refuses %j", (options, message) => {
    let caught: unknown;
    try {
      errorHandler(options as never);
    } catch (error) {
      caught = error;
    }
    expect(isBulwarkError(caught, "ERR_CONFIG_INVALID")).toBe(true);
    expect(String((caught as Error).message)).toMatch(message);
  });
});

describe("errorResponse", () => {
  it("works with its default logger when none is given", () => {
    const out = errorResponse(new BulwarkError("ERR_JSON_MALFORMED", "bad json", { status: 400 }), {
      production: true,
    });
    expect(out.status).toBe(400);
    expect(body(out).code).toBe("ERR_JSON_MALFORMED");
  });

  it("answers without message or stack in production", () => {
    const logger = memoryLogger();
    const out = errorResponse(new Error("secret internals"), { production: true, logger });
    expect(logger.entries).toHaveLength(1);
    expect(out.status).toBe(500);
    expect(String(out.body)).not.toContain("secret internals");
  });

  it("includes the message outside production", () => {
    const out = errorResponse(new Error("visible"), { production: false, logger: memoryLogger() });
    expect(body(out).detail).toBe("visible");
  });
});
