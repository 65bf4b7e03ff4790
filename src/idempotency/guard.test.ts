import { describe, expect, it } from "vitest";
import { manualClock } from "../core/clock.js";
import { BulwarkError, isBulwarkError } from "../core/errors.js";
import { memoryLogger } from "../core/logger.js";
import type { CapturedResponse, ContinueOutcome, Outcome, RespondOutcome } from "../core/outcome.js";
import { type RequestView, viewFromParts } from "../core/request.js";
import { memoryIdempotencyStore } from "../stores/memory/idempotency.js";
import { type IdempotencyOptions, idempotency } from "./guard.js";
import type { IdempotencyStore } from "./types.js";

const KEY = '"8e03978e-40d5-43e8-bc93-6894a57f9324"';
const PROBLEM_HEADERS = [
  ["content-type", "application/problem+json"],
  ["cache-control", "no-store"],
];

function setup(options: Partial<IdempotencyOptions> = {}) {
  const clock = manualClock();
  const logger = memoryLogger();
  const store = memoryIdempotencyStore({ clock });
  const guard = idempotency({
    store,
    scope: (view) => view.header("x-user") ?? "anonymous",
    logger,
    ...options,
  });
  return { clock, logger, store, guard };
}

function request(
  parts: { method?: string; url?: string; key?: string | undefined; user?: string; body?: string } = {},
): RequestView {
  const headers: Record<string, string | undefined> = {
    "content-type": "application/json",
    "idempotency-key": "key" in parts ? parts.key : KEY,
    "x-user": parts.user ?? "user-1",
  };
  return viewFromParts({
    method: parts.method ?? "POST",
    url: parts.url ?? "/payments",
    headers,
    body: parts.body ?? '{"amount":2500}',
  });
}

const CREATED: CapturedResponse = {
  status: 201,
  headers: [
    ["content-type", "application/json"],
    ["location", "/payments/42"],
    ["set-cookie", "session=secret"],
    ["content-length", "13"],
  ],
  body: new TextEncoder().encode('{"id":"42"}\n\u0000'),
};

function asContinue(outcome: Outcome): ContinueOutcome {
  if (outcome.action !== "continue") throw new Error(`expected continue, got ${outcome.status}`);
  return outcome;
}

function asRespond(outcome: Outcome): RespondOutcome & { json: Record<string, unknown> } {
  if (outcome.action !== "respond") throw new Error("expected a response");
  const body = typeof outcome.body === "string" ? outcome.body : new TextDecoder().decode(outcome.body);
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(body);
  } catch {}
  return { ...outcome, json };
}

async function firstCompletes(
  guard: ReturnType<typeof setup>["guard"],
  response = CREATED,
  view = request(),
) {
  const first = asContinue(await guard(view));
  await first.onResponse?.(response);
  return first;
}

describe("idempotency guard — draft-ietf-httpapi-idempotency-key-header-07", () => {
  it("lets a first request through with an onResponse hook and the key in locals", async () => {
    const { guard } = setup();
    const outcome = asContinue(await guard(request()));
    expect(outcome.locals).toEqual({ idempotencyKey: "8e03978e-40d5-43e8-bc93-6894a57f9324" });
    expect(typeof outcome.onResponse).toBe("function");
  });

  it("replays a completed request: stored status, headers and body, with Idempotent-Replayed: true", async () => {
    const { guard } = setup();
    await firstCompletes(guard);
    const replay = asRespond(await guard(request()));
    expect(replay.status).toBe(201);
    expect(replay.headers).toEqual([
      ["content-type", "application/json"],
      ["location", "/payments/42"],
      ["idempotent-replayed", "true"],
    ]);
    expect(Array.from(replay.body as Uint8Array)).toEqual(Array.from(CREATED.body));
  });

  it("never stores or replays Set-Cookie", async () => {
    const { guard } = setup();
    await firstCompletes(guard);
    const replay = asRespond(await guard(request()));
    expect(replay.headers.map(([n]) => n)).not.toContain("set-cookie");
  });

  it("answers 409 ERR_IDEMPOTENCY_IN_FLIGHT with Retry-After while the first is still running", async () => {
    const { guard, clock } = setup();
    asContinue(await guard(request()));
    clock.advance(15_000);
    const conflict = asRespond(await guard(request()));
    expect(conflict.status).toBe(409);
    expect(conflict.headers).toEqual([...PROBLEM_HEADERS, ["retry-after", "45"]]);
    expect(conflict.json).toMatchObject({ status: 409, code: "ERR_IDEMPOTENCY_IN_FLIGHT" });
  });

  it.each([
    ["another body", { body: '{"amount":9999}' }],
    ["another path", { url: "/refunds" }],
    ["another query", { url: "/payments?currency=usd" }],
    ["another method", { method: "PATCH" }],
  ])("answers 422 ERR_IDEMPOTENCY_KEY_REUSED for the same key with %s", async (_name, change) => {
    const { guard } = setup();
    await firstCompletes(guard);
    const reused = asRespond(await guard(request(change)));
    expect(reused.status).toBe(422);
    expect(reused.headers).toEqual(PROBLEM_HEADERS);
    expect(reused.json).toEqual({
      type: "https://bulwark.dev/errors/ERR_IDEMPOTENCY_KEY_REUSED",
      title: "Idempotency-Key was already used with another request",
      status: 422,
      code: "ERR_IDEMPOTENCY_KEY_REUSED",
    });
  });

  it("answers 422 rather than 409 when a different payload reuses an in-flight key", async () => {
    const { guard } = setup();
    asContinue(await guard(request()));
    expect(asRespond(await guard(request({ body: "{}" }))).status).toBe(422);
  });

  it("scopes keys per user: the same key from another user is a new request", async () => {
    const { guard } = setup();
    await firstCompletes(guard);
    asContinue(await guard(request({ user: "user-2" })));
  });

  it("answers 400 ERR_IDEMPOTENCY_KEY_MISSING when the key is required and absent", async () => {
    const { guard } = setup({ required: true });
    const missing = asRespond(await guard(request({ key: undefined })));
    expect(missing.status).toBe(400);
    expect(missing.headers).toEqual(PROBLEM_HEADERS);
    expect(missing.json).toMatchObject({ status: 400, code: "ERR_IDEMPOTENCY_KEY_MISSING" });
  });

  it("lets a request without a key through when the key is optional", async () => {
    const { guard } = setup();
    expect(await guard(request({ key: undefined }))).toEqual({ action: "continue" });
  });

  it("answers 400 ERR_IDEMPOTENCY_KEY_INVALID for a key that is not one sf-string", async () => {
    const { guard } = setup();
    const invalid = asRespond(await guard(request({ key: '"a", "b"' })));
    expect(invalid.status).toBe(400);
    expect(invalid.json).toMatchObject({ code: "ERR_IDEMPOTENCY_KEY_INVALID" });
  });

  it("ignores methods outside `methods` (GET, PUT, DELETE by default)", async () => {
    const { guard } = setup({ required: true });
    for (const method of ["GET", "PUT", "DELETE", "HEAD"]) {
      expect(await guard(request({ method, key: undefined }))).toEqual({ action: "continue" });
    }
  });

  it.each([500, 503, 408, 425, 429])(
    "does not store a %i response: the key is released so the client can retry",
    async (status) => {
      const { guard } = setup();
      await firstCompletes(guard, { status, headers: [], body: new Uint8Array() });
      asContinue(await guard(request()));
    },
  );

  it("stores and replays a 4xx outcome of the operation itself", async () => {
    const { guard } = setup();
    await firstCompletes(guard, {
      status: 402,
      headers: [["content-type", "text/plain"]],
      body: new Uint8Array([1]),
    });
    expect(asRespond(await guard(request())).status).toBe(402);
  });

  it("frees the key of a request that never finished once lockMs has passed", async () => {
    const { guard, clock } = setup({ lockMs: 10_000 });
    asContinue(await guard(request()));
    clock.advance(10_001);
    asContinue(await guard(request()));
  });

  it("forgets a completed response after ttlMs", async () => {
    const { guard, clock } = setup({ ttlMs: 60_000, lockMs: 1_000 });
    await firstCompletes(guard);
    clock.advance(59_000);
    expect(asRespond(await guard(request())).status).toBe(201);
    clock.advance(1_001);
    asContinue(await guard(request()));
  });

  it("answers 413 ERR_IDEMPOTENCY_BODY_TOO_LARGE past maxBytes, from the adapter or by length", async () => {
    const { guard } = setup({ maxBytes: 8 });
    expect(asRespond(await guard(request())).json).toMatchObject({
      status: 413,
      code: "ERR_IDEMPOTENCY_BODY_TOO_LARGE",
    });
    const view: RequestView = {
      ...request(),
      rawBody: () => Promise.reject(new BulwarkError("ERR_BODY_TOO_LARGE", "too large", { status: 413 })),
    };
    expect(asRespond(await guard(view)).status).toBe(413);
  });

  it("rethrows an unexpected body read error", async () => {
    const { guard } = setup();
    const view: RequestView = { ...request(), rawBody: () => Promise.reject(new Error("socket hang up")) };
    await expect(guard(view)).rejects.toThrow("socket hang up");
  });

  it("answers 500 ERR_IDEMPOTENCY_BODY_UNAVAILABLE when the adapter gives no raw body", async () => {
    const { guard, logger } = setup();
    const { rawBody: _, ...view } = request();
    expect(asRespond(await guard(view)).json).toMatchObject({
      status: 500,
      code: "ERR_IDEMPOTENCY_BODY_UNAVAILABLE",
    });
    expect(logger.entries[0]).toMatchObject({ level: "error", code: "ERR_IDEMPOTENCY_BODY_UNAVAILABLE" });
  });

  it("answers 500 ERR_IDEMPOTENCY_SCOPE_INVALID when scope throws or returns nothing", async () => {
    for (const scope of [
      () => {
        throw new Error("no session");
      },
      () => "",
    ]) {
      const { guard } = setup({ scope });
      expect(asRespond(await guard(request())).json).toMatchObject({
        status: 500,
        code: "ERR_IDEMPOTENCY_SCOPE_INVALID",
      });
    }
  });

  it("answers 503 ERR_STORE_UNAVAILABLE when the store fails, and never runs the handler unprotected", async () => {
    const broken: IdempotencyStore = {
      kind: "broken",
      begin: () => Promise.reject(new Error("ECONNREFUSED")),
      complete: () => Promise.reject(new Error("ECONNREFUSED")),
      release: () => Promise.reject(new Error("ECONNREFUSED")),
    };
    const logger = memoryLogger();
    const guard = idempotency({ store: broken, scope: () => "u", logger });
    const outcome = asRespond(await guard(request()));
    expect(outcome.status).toBe(503);
    expect(outcome.headers).toEqual([...PROBLEM_HEADERS, ["retry-after", "5"]]);
    expect(logger.entries[0]).toMatchObject({ code: "ERR_STORE_UNAVAILABLE", store: "broken" });
  });

  it("logs, without throwing, when storing the response fails", async () => {
    const store = memoryIdempotencyStore();
    const logger = memoryLogger();
    const guard = idempotency({
      store: { ...store, kind: "flaky", complete: () => Promise.reject(new Error("timeout")) },
      scope: () => "u",
      logger,
    });
    const first = asContinue(await guard(request()));
    await expect(first.onResponse?.(CREATED)).resolves.toBeUndefined();
    expect(logger.entries.at(-1)).toMatchObject({ level: "error", code: "ERR_STORE_UNAVAILABLE" });
  });

  it("logs when a request outlived its lock and its response could not be stored", async () => {
    const { guard, clock, logger } = setup({ lockMs: 1_000 });
    const first = asContinue(await guard(request()));
    clock.advance(1_001);
    await first.onResponse?.(CREATED);
    expect(logger.entries.at(-1)).toMatchObject({ level: "warn", code: "ERR_IDEMPOTENCY_LOCK_EXPIRED" });
  });
});

describe("idempotency options", () => {
  const store = memoryIdempotencyStore();
  const scope = () => "u";
  it.each([
    ["no store", { scope }],
    ["no scope", { store }],
    ["an unknown option", { store, scope, ttl: 5 }],
    ["GET among the methods", { store, scope, methods: ["POST", "GET"] }],
    ["an empty method list", { store, scope, methods: [] }],
    ["a ttl under a second", { store, scope, ttlMs: 10 }],
    ["a lock longer than the ttl", { store, scope, ttlMs: 60_000, lockMs: 120_000 }],
    ["a non-boolean required", { store, scope, required: "yes" }],
  ])("refuses %s with ERR_CONFIG_INVALID", (_name, options) => {
    try {
      idempotency(options as never);
      expect.unreachable();
    } catch (e) {
      expect(isBulwarkError(e, "ERR_CONFIG_INVALID")).toBe(true);
    }
  });

  it("suggests the option meant by a typo", () => {
    expect(() => idempotency({ store, scope, requierd: true } as never)).toThrow('did you mean "required"');
  });

  it("applies to custom methods, case-insensitively", async () => {
    const guard = idempotency({ store: memoryIdempotencyStore(), scope, methods: ["put"], required: true });
    expect(asRespond(await guard(request({ method: "PUT", key: undefined }))).status).toBe(400);
    expect(await guard(request({ method: "POST", key: undefined }))).toEqual({ action: "continue" });
  });
});
