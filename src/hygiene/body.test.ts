import { describe, expect, it } from "vitest";
import { BulwarkError, isBulwarkError } from "../core/errors.js";
import { CONTINUE, type ContinueOutcome, type Outcome, type RespondOutcome } from "../core/outcome.js";
import type { RequestView } from "../core/request.js";
import {
  type BodyGuardOptions,
  bodyGuard,
  DEFAULT_JSON_MAX_BYTES,
  jsonBody,
  parseContentType,
} from "./body.js";

const encoder = new TextEncoder();

interface Req {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** Replaces the body reader (to simulate adapter behaviour). */
  rawBody?: ((maxBytes: number) => Promise<Uint8Array>) | null;
}

/** A view whose rawBody records how it was called, like an adapter's. */
function view(req: Req): RequestView & { reads: number[] } {
  const bytes = typeof req.body === "string" ? encoder.encode(req.body) : req.body;
  const headers: Record<string, string> = { ...req.headers };
  if (
    bytes !== undefined &&
    headers["content-length"] === undefined &&
    headers["transfer-encoding"] === undefined
  ) {
    headers["content-length"] = String(bytes.byteLength);
  }
  const reads: number[] = [];
  const reader =
    req.rawBody === null
      ? undefined
      : async (maxBytes: number) => {
          reads.push(maxBytes);
          if (req.rawBody) return req.rawBody(maxBytes);
          return bytes ?? new Uint8Array();
        };
  return {
    method: req.method ?? "POST",
    url: "/",
    path: "/",
    header: (name) => headers[name],
    remoteAddress: "127.0.0.1",
    protocol: "http",
    reads,
    ...(reader === undefined ? {} : { rawBody: reader }),
  };
}

const json = (body: string | Uint8Array, headers: Record<string, string> = {}) =>
  view({ headers: { "content-type": "application/json", ...headers }, body });

async function refused(outcome: Outcome | Promise<Outcome>, status: number, code: string) {
  const out = (await outcome) as RespondOutcome;
  expect(out.action).toBe("respond");
  expect(out.status).toBe(status);
  expect(out.headers).toEqual([
    ["content-type", "application/problem+json"],
    ["cache-control", "no-store"],
  ]);
  const body = JSON.parse(String(out.body));
  expect(body).toMatchObject({ status, code });
  expect(Object.keys(body).sort()).toEqual(["code", "status", "title", "type"]);
  return body;
}

const body = async (outcome: Outcome | Promise<Outcome>) => ((await outcome) as ContinueOutcome).locals?.body;

describe("bodyGuard: JSON", () => {
  const guard = bodyGuard();

  it("parses a JSON body into locals.body, reading at most the JSON limit", async () => {
    const v = json('{"name":"Ann","tags":["a"]}');
    expect(await body(guard(v))).toEqual({ name: "Ann", tags: ["a"] });
    expect(v.reads).toEqual([DEFAULT_JSON_MAX_BYTES]);
  });

  it("accepts application/*+json and a utf-8 charset, any case", async () => {
    expect(await body(guard(json("[1]", { "content-type": "application/vnd.api+json" })))).toEqual([1]);
    expect(await body(guard(json("[2]", { "content-type": "Application/JSON; Charset=UTF-8" })))).toEqual([
      2,
    ]);
    expect(await body(guard(json("[3]", { "content-type": 'application/json; charset="utf8"' })))).toEqual([
      3,
    ]);
  });

  it("strips a UTF-8 byte-order mark", async () => {
    expect(await body(guard(json(new Uint8Array([0xef, 0xbb, 0xbf, ...encoder.encode('{"a":1}')]))))).toEqual(
      { a: 1 },
    );
  });

  it("accepts a body of exactly maxBytes and refuses one byte more (413)", async () => {
    const small = bodyGuard({ json: { maxBytes: 10 } });
    expect(await body(small(json('"12345678"')))).toBe("12345678");
    await refused(small(json('"123456789"')), 413, "ERR_BODY_TOO_LARGE");
  });

  it("refuses from Content-Length alone, without reading the body", async () => {
    const v = json("{}", { "content-length": String(DEFAULT_JSON_MAX_BYTES + 1) });
    await refused(guard(v), 413, "ERR_BODY_TOO_LARGE");
    expect(v.reads).toEqual([]);
  });

  it("refuses a chunked body that turns out too large", async () => {
    const big = `"${"x".repeat(DEFAULT_JSON_MAX_BYTES)}"`;
    await refused(guard(json(big, { "transfer-encoding": "chunked" })), 413, "ERR_BODY_TOO_LARGE");
  });

  it("maps the adapter's own too-large error to 413 ERR_BODY_TOO_LARGE", async () => {
    for (const error of [
      new BulwarkError("ERR_BODY_TOO_LARGE", "too large", { status: 413 }),
      Object.assign(new Error("request entity too large"), { statusCode: 413 }),
    ]) {
      const v = view({
        headers: { "content-type": "application/json", "transfer-encoding": "chunked" },
        rawBody: async () => {
          throw error;
        },
      });
      await refused(guard(v), 413, "ERR_BODY_TOO_LARGE");
    }
  });

  it("answers 400 ERR_BODY_READ_FAILED when reading fails otherwise (client aborted)", async () => {
    const v = view({
      headers: { "content-type": "application/json", "content-length": "10" },
      rawBody: async () => {
        throw Object.assign(new Error("aborted"), { code: "ECONNRESET" });
      },
    });
    await refused(guard(v), 400, "ERR_BODY_READ_FAILED");
  });

  it.each(['{"a":', "{a:1}", "nul", '{"a":1}}'])(
    "answers 400 ERR_JSON_MALFORMED for %s, never a stack",
    async (text) => {
      const b = await refused(guard(json(text)), 400, "ERR_JSON_MALFORMED");
      expect(JSON.stringify(b)).not.toMatch(/SyntaxError|at |position/);
    },
  );

  it("answers 400 ERR_JSON_MALFORMED for an empty chunked body", async () => {
    await refused(guard(json("", { "transfer-encoding": "chunked" })), 400, "ERR_JSON_MALFORMED");
  });

  it.each(['{"__proto__":{"isAdmin":true}}', '{"a":{"constructor":{"prototype":{"x":1}}}}'])(
    "answers 400 ERR_JSON_PROTOTYPE_POLLUTION for %s",
    async (text) => {
      await refused(guard(json(text)), 400, "ERR_JSON_PROTOTYPE_POLLUTION");
    },
  );

  it("drops forbidden keys instead with protoAction/constructorAction remove", async () => {
    const lenient = bodyGuard({ protoAction: "remove", constructorAction: "remove" });
    expect(await body(lenient(json('{"__proto__":{"x":1},"a":1}')))).toEqual({ a: 1 });
  });

  it("answers 400 ERR_BODY_INVALID_ENCODING for bytes that are not UTF-8", async () => {
    await refused(guard(json(new Uint8Array([0x22, 0xc3, 0x28, 0x22]))), 400, "ERR_BODY_INVALID_ENCODING");
  });

  it("answers 415 ERR_BODY_UNSUPPORTED_CHARSET for a non-UTF-8 charset", async () => {
    await refused(
      guard(json("{}", { "content-type": "application/json; charset=latin1" })),
      415,
      "ERR_BODY_UNSUPPORTED_CHARSET",
    );
  });

  it.each(["application/xml", "text/html", "multipart/form-data; boundary=x"])(
    "answers 415 ERR_BODY_UNSUPPORTED_MEDIA_TYPE for %s",
    async (type) => {
      await refused(
        guard(view({ headers: { "content-type": type }, body: "<a/>" })),
        415,
        "ERR_BODY_UNSUPPORTED_MEDIA_TYPE",
      );
    },
  );

  it("answers 415 for a body without Content-Type", async () => {
    await refused(guard(view({ body: "{}" })), 415, "ERR_BODY_UNSUPPORTED_MEDIA_TYPE");
  });

  it("answers 400 ERR_BODY_READ_FAILED for a nonsensical Content-Length", async () => {
    await refused(guard(json("{}", { "content-length": "12abc" })), 400, "ERR_BODY_READ_FAILED");
  });

  it("answers 500 ERR_BODY_UNAVAILABLE when the adapter says the body was already consumed", async () => {
    const v = view({
      headers: { "content-type": "application/json", "content-length": "2" },
      rawBody: async () => {
        throw new BulwarkError("ERR_BODY_UNAVAILABLE", "consumed", { status: 500 });
      },
    });
    await refused(guard(v), 500, "ERR_BODY_UNAVAILABLE");
  });

  it("answers 500 ERR_BODY_UNAVAILABLE when the adapter cannot supply the body", async () => {
    await refused(
      guard(view({ headers: { "content-type": "application/json" }, body: "{}", rawBody: null })),
      500,
      "ERR_BODY_UNAVAILABLE",
    );
  });

  it("lets bodiless requests and other methods through without reading", async () => {
    const get = view({ method: "GET", headers: { "content-type": "application/json" }, body: "{" });
    expect(await guard(get)).toBe(CONTINUE);
    expect(get.reads).toEqual([]);
    expect(
      await guard(view({ headers: { "content-type": "application/json", "content-length": "0" } })),
    ).toBe(CONTINUE);
    expect(await guard(view({}))).toBe(CONTINUE);
  });

  it("leaves skipped media types unread", async () => {
    const g = bodyGuard({ skipTypes: ["multipart/form-data"] });
    const v = view({ headers: { "content-type": "multipart/form-data; boundary=x" }, body: "--x--" });
    expect(await g(v)).toBe(CONTINUE);
    expect(v.reads).toEqual([]);
  });
});

describe("bodyGuard: forms and text", () => {
  const form = (text: string, options?: BodyGuardOptions) =>
    bodyGuard(options)(
      view({ headers: { "content-type": "application/x-www-form-urlencoded" }, body: text }),
    );

  it("parses a urlencoded form with pollution rules", async () => {
    const parsed = (await body(form("name=Ann&tag=a&tag=b", { form: { arrays: ["tag"] } }))) as object;
    expect({ ...parsed }).toEqual({ name: "Ann", tag: ["a", "b"] });
    await refused(form("role=user&role=admin"), 400, "ERR_PARAM_DUPLICATE");
    await refused(form("__proto__=x"), 400, "ERR_PARAM_FORBIDDEN_NAME");
  });

  it("applies the form limit", async () => {
    await refused(form("a=123456", { form: { maxBytes: 5 } }), 413, "ERR_BODY_TOO_LARGE");
  });

  it("refuses forms with form: false", async () => {
    await refused(form("a=1", { form: false }), 415, "ERR_BODY_UNSUPPORTED_MEDIA_TYPE");
  });

  it("refuses text/plain by default and accepts it when enabled, with its own limit", async () => {
    const text = (g: ReturnType<typeof bodyGuard>, s: string) =>
      g(view({ headers: { "content-type": "text/plain" }, body: s }));
    await refused(text(bodyGuard(), "hi"), 415, "ERR_BODY_UNSUPPORTED_MEDIA_TYPE");
    const g = bodyGuard({ text: { maxBytes: 4 } });
    expect(await body(text(g, "hé!"))).toBe("hé!");
    await refused(text(g, "héé"), 413, "ERR_BODY_TOO_LARGE");
    await refused(text(g, "hello"), 413, "ERR_BODY_TOO_LARGE");
  });
});

describe("jsonBody", () => {
  it("accepts JSON with its own limit and refuses forms", async () => {
    const g = jsonBody({ maxBytes: 8 });
    expect(await body(g(json('{"a":1}')))).toEqual({ a: 1 });
    await refused(g(json('{"a":123}')), 413, "ERR_BODY_TOO_LARGE");
    await refused(
      g(view({ headers: { "content-type": "application/x-www-form-urlencoded" }, body: "a=1" })),
      415,
      "ERR_BODY_UNSUPPORTED_MEDIA_TYPE",
    );
  });

  it("checks only the configured methods", async () => {
    const g = jsonBody({ methods: ["put"] });
    expect(await g(json("{"))).toBe(CONTINUE);
    await refused(
      g(view({ method: "PUT", headers: { "content-type": "application/json" }, body: "{" })),
      400,
      "ERR_JSON_MALFORMED",
    );
  });
});

describe("options", () => {
  it.each([
    [() => bodyGuard({ json: { maxBytes: 0 } }), /≥ 1/],
    [() => bodyGuard({ json: 5 as never }), /must be an object or false/],
    [() => bodyGuard({ form: { duplicates: "merge" as never } }), /must be one of/],
    [() => bodyGuard({ methods: "POST" as never }), /array of strings/],
    [() => bodyGuard({ protoAction: "ignore" as never }), /must be one of/],
    [() => bodyGuard({ jsn: {} } as never), /did you mean "json"/],
    [() => jsonBody({ maxbytes: 5 } as never), /did you mean "maxBytes"/],
  ])("refuses invalid options (%#)", (make, message) => {
    let caught: unknown;
    try {
      make();
    } catch (error) {
      caught = error;
    }
    expect(isBulwarkError(caught, "ERR_CONFIG_INVALID")).toBe(true);
    expect(String((caught as Error).message)).toMatch(message);
  });
});

describe("parseContentType", () => {
  it("lower-cases the type and reads a quoted charset", () => {
    expect(parseContentType(' Application/JSON ; foo=bar; charset="UTF-8"')).toEqual({
      type: "application/json",
      charset: "utf-8",
    });
    expect(parseContentType("text/plain")).toEqual({ type: "text/plain", charset: undefined });
  });
});
