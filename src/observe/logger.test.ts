import fc from "fast-check";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { isBulwarkError } from "../core/errors.js";
import { viewFromParts } from "../core/request.js";
import { requestContextGuard } from "./context.js";
import { type CreateLoggerOptions, createLogger } from "./logger.js";
import { DEFAULT_SENSITIVE_KEYS, REDACTED } from "./redact.js";

function capture(options: Omit<CreateLoggerOptions, "destination"> = {}) {
  const lines: string[] = [];
  const logger = createLogger({ ...options, destination: { write: (s: string) => lines.push(s) } });
  const records = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { logger, lines, records };
}

describe("createLogger", () => {
  it("redacts sensitive keys at any depth and in arrays, keeping everything else", () => {
    const { logger, records } = capture();
    logger.info(
      { user: { id: 7, password: "pw1" }, items: [{ api_key: "k1", sku: "A" }], headers: { Cookie: "c=1" } },
      "signed in",
    );
    expect(records()[0]).toMatchObject({
      msg: "signed in",
      user: { id: 7, password: REDACTED },
      items: [{ api_key: REDACTED, sku: "A" }],
      headers: { Cookie: REDACTED },
    });
  });

  it("redacts a sensitive top-level key", () => {
    const { logger, records } = capture();
    logger.info({ authorization: "Bearer x", ok: true });
    expect(records()[0]).toMatchObject({ authorization: REDACTED, ok: true });
  });

  it("scrubs URL parameters in any string field and in the message", () => {
    const { logger, records } = capture();
    logger.info({ url: "/oauth/cb?code=abc&state=s", note: "see /reset?token=t1" }, "GET /x?signature=zz");
    expect(records()[0]).toMatchObject({
      url: `/oauth/cb?code=${REDACTED}&state=s`,
      note: `see /reset?token=${REDACTED}`,
      msg: `GET /x?signature=${REDACTED}`,
    });
  });

  it("never prints a configured secret, wherever it appears", () => {
    const secret = "sk_live_51HxQz9vT8";
    const { logger, lines } = capture({ secrets: [secret] });
    logger.info({ note: `key=${secret}`, [secret]: 1 }, `message ${secret}`);
    logger.info("format %s and %j", secret, { nested: secret });
    logger.error(new Error(`boom ${secret}`));
    logger.child({ binding: secret }).info("child");
    expect(lines).toHaveLength(4);
    for (const line of lines) expect(line).not.toContain(secret);
  });

  it("serialises errors with redacted message, stack and properties, also as the first argument", () => {
    const { logger, records } = capture();
    const error = Object.assign(new Error("db at postgres://u:pw@h/d down"), { token: "t", code: "E1" });
    logger.error(error);
    logger.error({ err: error });
    for (const record of records()) {
      expect(record.msg).toBe(`db at postgres://u:${REDACTED}@h/d down`);
      expect(record.err).toMatchObject({
        type: "Error",
        message: `db at postgres://u:${REDACTED}@h/d down`,
        token: REDACTED,
        code: "E1",
      });
      expect(String((record.err as Record<string, unknown>).stack)).not.toContain(":pw@");
    }
  });

  it("logs a real database error without the statement's values or the row in its detail", async () => {
    const { PGlite } = await import("@electric-sql/pglite");
    const db = new PGlite();
    try {
      await db.exec("CREATE TABLE account (email text PRIMARY KEY, pw_hash text NOT NULL)");
      await db.query("INSERT INTO account VALUES ($1, $2)", ["ada@example.com", "argon-hash-1"]);
      const failures: unknown[] = [];
      for (const row of [
        ["ada@example.com", "argon-hash-2"],
        ["bob (x) @example.com", null],
      ]) {
        await db.query("INSERT INTO account VALUES ($1, $2)", row).catch((e: unknown) => failures.push(e));
      }
      expect(failures).toHaveLength(2);
      const { logger, lines, records } = capture();
      for (const err of failures) logger.error({ err }, "insert failed");
      const text = lines.join("");
      for (const value of ["ada@example.com", "argon-hash-2", "bob (x) @example.com"]) {
        expect(text).not.toContain(value);
      }
      const [duplicate, notNull] = records().map((r) => r.err as Record<string, unknown>);
      expect(duplicate).toMatchObject({
        code: "23505",
        constraint: "account_pkey",
        query: "INSERT INTO account VALUES ($1, $2)",
        params: REDACTED,
        detail: `Key (email)=${REDACTED} already exists.`,
      });
      expect(notNull).toMatchObject({ code: "23502", detail: `Failing row contains ${REDACTED}` });
    } finally {
      await db.close();
    }
  });

  it("redacts child-logger bindings and setBindings", () => {
    const { logger, records } = capture();
    const child = logger.child({ tenant: "t1", apiKey: "k" });
    child.info("one");
    child.setBindings({ sessionToken: "s" });
    child.child({ deeper: { password: "p" } }).info("two");
    const [one, two] = records();
    expect(one).toMatchObject({ tenant: "t1", apiKey: REDACTED });
    expect(two).toMatchObject({ deeper: { password: REDACTED }, sessionToken: REDACTED });
  });

  it("redacts the output of user serializers and censors a serializer on a sensitive key", () => {
    const { logger, records } = capture({
      serializers: { user: (u) => ({ ...(u as object), token: "from-serializer" }), password: (p) => p },
    });
    logger.info({ user: { id: 1 }, password: "p" });
    expect(records()[0]).toMatchObject({ user: { id: 1, token: REDACTED }, password: REDACTED });
  });

  it("redacts headers of a request logged through pino's standard req serializer", () => {
    const { logger, records } = capture({
      serializers: { req: pino.stdSerializers.req as (v: unknown) => unknown },
    });
    const req = {
      method: "GET",
      url: "/a?token=t",
      headers: { authorization: "Bearer abcdefgh", accept: "*/*" },
      socket: {},
    };
    logger.info({ req });
    expect(records()[0]).toMatchObject({
      req: {
        method: "GET",
        url: `/a?token=${REDACTED}`,
        headers: { authorization: REDACTED, accept: "*/*" },
      },
    });
  });

  it("adds the request id to every line written inside a request context, and none outside", async () => {
    const { logger, records } = capture();
    const guard = requestContextGuard();
    await guard.run(viewFromParts({ headers: { "x-request-id": "req-1" } }), async () => {
      logger.info("first");
      await new Promise((resolve) => setImmediate(resolve));
      logger.child({ part: "b" }).warn({ x: 1 }, "second");
    });
    logger.info("outside");
    const [first, second, outside] = records();
    expect(first?.requestId).toBe("req-1");
    expect(second?.requestId).toBe("req-1");
    expect(outside?.requestId).toBeUndefined();
  });

  it("writes the request id under a custom key", () => {
    const { logger, records } = capture({ requestIdKey: "rid" });
    requestContextGuard().run(viewFromParts({ headers: { "x-request-id": "r-9" } }), () => logger.info("x"));
    expect(records()[0]?.rid).toBe("r-9");
  });

  it.each([
    [{ level: "loud" }, /"level" must be one of/],
    [{ pino: { formatters: {} } }, /owned by createLogger/],
    [{ pino: { hooks: {} } }, /owned by createLogger/],
    [{ serializers: { a: 1 } }, /must be a function/],
    [{ secrets: ["abc"] }, /at least 6/],
    [{ redactkeys: [] }, /did you mean "redactKeys"/],
  ])("refuses %j", (options, message) => {
    let caught: unknown;
    try {
      createLogger(options as never);
    } catch (error) {
      caught = error;
    }
    expect(isBulwarkError(caught, "ERR_CONFIG_INVALID")).toBe(true);
    expect(String((caught as Error).message)).toMatch(message);
  });

  it("refuses child options that would replace the redaction", () => {
    const { logger } = capture();
    expect(() => logger.child({}, { formatters: { log: (o: object) => o } })).toThrow(
      /owned by createLogger/,
    );
  });

  it("redacts the output of serializers given to a child", () => {
    const { logger, records } = capture();
    logger.child({}, { serializers: { box: () => ({ secret: "s" }) } }).info({ box: 1 });
    expect(records()[0]).toMatchObject({ box: { secret: REDACTED } });
  });
});

/** A sensitive key spelled with random case and random `-`/`_` separators. */
const sensitiveKey = fc
  .tuple(
    fc.constantFrom(...DEFAULT_SENSITIVE_KEYS, "set-cookie", "card_number", "x-api-key", "dbPassword"),
    fc.array(fc.boolean(), { minLength: 30, maxLength: 30 }),
    fc.array(fc.constantFrom("", "", "", "-", "_"), { minLength: 30, maxLength: 30 }),
  )
  .map(([key, upper, seps]) =>
    [...key]
      .map((ch, i) => (i > 0 ? seps[i] : "") + (upper[i] ? ch.toUpperCase() : ch.toLowerCase()))
      .join(""),
  );

const safeKey = fc.constantFrom("name", "id", "items", "data", "meta", "list", "value", "notes", "amount");

let counter = 0;
/** A value that must never appear in output: unique, and easy to search for. */
const secretValue = fc.nat().map((n) => `SECRETVAL${n}x${counter++}`);
const keptValue = fc.nat().map((n) => `KEEPVAL${n}`);

type Tree = unknown;
const { tree } = fc.letrec<{ tree: Tree; leaf: Tree; secretSubtree: Tree }>((tie) => ({
  leaf: fc.oneof(keptValue, fc.integer(), fc.boolean(), fc.constant(null)),
  secretSubtree: fc.oneof(
    secretValue,
    fc.array(secretValue, { minLength: 1, maxLength: 3 }),
    fc.dictionary(safeKey, secretValue, { minKeys: 1, maxKeys: 3 }),
  ),
  tree: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    tie("leaf"),
    fc.array(tie("tree"), { maxLength: 4 }),
    fc
      .array(
        fc.oneof(
          fc.tuple(safeKey, tie("tree")),
          fc.tuple(sensitiveKey, tie("secretSubtree")),
          fc.tuple(sensitiveKey, tie("tree")),
        ),
        { maxLength: 5 },
      )
      .map((entries) => {
        const obj: Record<string, unknown> = {};
        for (const [k, v] of entries) obj[k] = v;
        return obj;
      }),
  ),
}));

/** Every KEEPVAL string that sits on a path without any sensitive key. */
function keptStrings(value: unknown, isSensitive: (k: string) => boolean, out: string[] = []): string[] {
  if (typeof value === "string") {
    if (value.startsWith("KEEPVAL")) out.push(value);
  } else if (Array.isArray(value)) {
    for (const v of value) keptStrings(v, isSensitive, out);
  } else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) if (!isSensitive(k)) keptStrings(v, isSensitive, out);
  }
  return out;
}

describe("redaction property", () => {
  it("no generated object with a secret key name at any depth or array position reaches the output", () => {
    const { logger, lines } = capture();
    const sensitive = new Set(DEFAULT_SENSITIVE_KEYS);
    const isSensitive = (k: string) => {
      const n = k.toLowerCase().replace(/[-_]/g, "");
      return sensitive.has(n) || n.endsWith("password") || n.endsWith("cookie") || n.endsWith("cardnumber");
    };
    fc.assert(
      fc.property(tree, fc.constantFrom("merge", "msg", "format", "child", "nested-err"), (value, shape) => {
        lines.length = 0;
        if (shape === "merge") logger.info({ payload: value });
        else if (shape === "msg") logger.info({ payload: value }, "message");
        else if (shape === "format") logger.info("payload %j", value as object);
        else if (shape === "child") logger.child({ payload: value }).info("child");
        else logger.error(Object.assign(new Error("wrapped"), { payload: value }));
        const output = lines.join("");
        expect(output).not.toMatch(/SECRETVAL/);
        // Values on clean paths survive: redaction is not "censor everything".
        for (const kept of keptStrings(value, isSensitive)) expect(output).toContain(kept);
      }),
      { numRuns: 400 },
    );
  });
});
