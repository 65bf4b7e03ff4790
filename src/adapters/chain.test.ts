import { IncomingMessage, ServerResponse } from "node:http";
import { Socket } from "node:net";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isBulwarkError } from "../core/errors.js";
import { memoryLogger } from "../core/logger.js";
import { CONTINUE, type ContinueOutcome, type Guard, type HeaderList } from "../core/outcome.js";
import { problem } from "../core/problem.js";
import {
  AdapterView,
  applyHeaders,
  type Chain,
  EMPTY_LOCALS,
  INTERNAL,
  incomplete,
  isPending,
  mergeLocals,
  resolveChain,
  runChain,
  tooLarge,
  WEB_HEADERS,
} from "./chain.js";
import { setNodeHeaders } from "./node-io.js";

/** A view with a scripted body source, recording what the runner applied. */
class TestView extends AdapterView {
  readonly applied: ContinueOutcome[] = [];
  reads = 0;
  constructor(
    chain: Chain,
    private readonly source: () => Promise<Uint8Array> = async () => new Uint8Array([1, 2, 3]),
  ) {
    super(chain);
  }
  get method() {
    return "POST";
  }
  get url() {
    return "/a?b=1";
  }
  header() {
    return undefined;
  }
  get remoteAddress() {
    return "127.0.0.1";
  }
  get protocol() {
    return "http" as const;
  }
  protected async readBody(maxBytes: number): Promise<Uint8Array> {
    this.reads++;
    const bytes = await this.source();
    if (bytes.length > maxBytes) throw tooLarge(maxBytes);
    return bytes;
  }
  proceed(outcome: ContinueOutcome): void {
    this.applied.push(outcome);
  }
}

const chainOf = (...guards: Guard[]) => resolveChain("test", [{ logger: memoryLogger() }, ...guards]);

describe("resolveChain", () => {
  it("accepts guards alone or an options object first", () => {
    const g: Guard = () => CONTINUE;
    expect(resolveChain("protect", [g, g]).guards).toHaveLength(2);
    const logger = memoryLogger();
    const chain = resolveChain("protect", [{ logger }, g]);
    expect(chain.logger).toBe(logger);
    expect(Object.isFrozen(chain.guards)).toBe(true);
  });

  it("refuses an unknown option with a did-you-mean hint", () => {
    expect(() => resolveChain("protect", [{ loger: memoryLogger() } as never, () => CONTINUE])).toThrowError(
      /unknown option "loger" — did you mean "logger"\?/,
    );
  });

  it("refuses no guards, a non-function guard, a bad logger and a bad onError with ERR_CONFIG_INVALID", () => {
    const cases: unknown[][] = [
      [],
      [{}],
      [() => CONTINUE, "nope"],
      [{ logger: { error() {} } }, () => CONTINUE],
      [{ onError: 1 }, () => CONTINUE],
    ];
    for (const args of cases) {
      let caught: unknown;
      try {
        resolveChain("protect", args as never);
      } catch (error) {
        caught = error;
      }
      expect(isBulwarkError(caught, "ERR_CONFIG_INVALID")).toBe(true);
    }
  });
});

describe("runChain", () => {
  it("runs synchronous guards without allocating a promise", () => {
    const view = new TestView(
      chainOf(
        () => CONTINUE,
        () => ({ action: "continue", headers: [["x", "1"]] }),
      ),
    );
    expect(runChain(view)).toBeUndefined();
    expect(view.applied).toHaveLength(1);
  });

  it("stops at the first respond outcome, sync or async, and runs guards in order", async () => {
    const order: number[] = [];
    const denied = problem(429, "ERR_RATELIMIT_EXCEEDED", "Too Many Requests");
    const view = new TestView(
      chainOf(
        () => {
          order.push(1);
          return CONTINUE;
        },
        async () => {
          order.push(2);
          return { action: "continue", locals: { a: 1 } };
        },
        () => {
          order.push(3);
          return denied;
        },
        () => {
          order.push(4);
          return CONTINUE;
        },
      ),
    );
    const verdict = runChain(view);
    expect(isPending(verdict)).toBe(true);
    expect(await verdict).toBe(denied);
    expect(order).toEqual([1, 2, 3]);
    expect(view.applied).toEqual([{ action: "continue", locals: { a: 1 } }]);
  });

  it("turns a throwing guard, a rejecting guard and a non-outcome into the 500 answer", async () => {
    const throwing = new TestView(
      chainOf(() => {
        throw new Error("bug");
      }),
    );
    expect(runChain(throwing)).toBe(INTERNAL);
    const rejecting = new TestView(chainOf(async () => Promise.reject(new Error("bug"))));
    expect(await runChain(rejecting)).toBe(INTERNAL);
    for (const bad of [null, undefined, 42, { action: "maybe" }]) {
      expect(runChain(new TestView(chainOf(() => bad as never)))).toBe(INTERNAL);
      expect(await runChain(new TestView(chainOf(async () => bad as never)))).toBe(INTERNAL);
    }
  });

  it("logs a guard failure with its code but never answers with its message", () => {
    const logger = memoryLogger();
    const errors: unknown[] = [];
    const view = new TestView(
      resolveChain("t", [
        { logger, onError: (e) => errors.push(e) },
        () => {
          throw new Error("the-secret");
        },
      ]),
    );
    const verdict = runChain(view);
    expect(verdict).toBe(INTERNAL);
    expect(String(INTERNAL.body)).not.toContain("the-secret");
    expect(logger.entries).toMatchObject([{ level: "error", code: "ERR_INTERNAL", method: "POST" }]);
    expect(JSON.stringify(logger.entries)).not.toContain("b=1");
    expect(errors).toHaveLength(1);
  });

  it("survives a logger and an onError hook that throw", () => {
    const view = new TestView(
      resolveChain("t", [
        {
          logger: {
            debug() {},
            info() {},
            warn() {},
            error() {
              throw new Error("logger down");
            },
          },
        },
        () => {
          throw new Error("bug");
        },
      ]),
    );
    expect(runChain(view)).toBe(INTERNAL);
  });
});

describe("rawBody", () => {
  it("reads the body once and checks later calls against their own limit", async () => {
    const view = new TestView(chainOf(() => CONTINUE));
    expect(await view.rawBody(10)).toEqual(new Uint8Array([1, 2, 3]));
    expect(await view.rawBody(3)).toEqual(new Uint8Array([1, 2, 3]));
    await expect(view.rawBody(2)).rejects.toMatchObject({ code: "ERR_BODY_TOO_LARGE", status: 413 });
    expect(view.reads).toBe(1);
  });

  it("refuses a maxBytes that is not a non-negative integer", async () => {
    const view = new TestView(chainOf(() => CONTINUE));
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      await expect(view.rawBody(bad)).rejects.toMatchObject({ code: "ERR_CONFIG_INVALID" });
    }
  });

  it("answers 413 when a guard rethrows the too-large error, and also when it swallowed it", async () => {
    const rethrows = new TestView(
      chainOf(async (v) => {
        await v.rawBody!(1);
        return CONTINUE;
      }),
    );
    const answer = await runChain(rethrows);
    expect(answer?.status).toBe(413);
    expect(answer?.headers).toContainEqual(["connection", "close"]);
    expect(JSON.parse(String(answer?.body))).toMatchObject({ code: "ERR_BODY_TOO_LARGE" });
    const swallows = new TestView(
      chainOf(async (v) => {
        await v.rawBody!(1).catch(() => undefined);
        return CONTINUE;
      }),
    );
    expect((await runChain(swallows))?.status).toBe(413);
  });

  it("answers 400 ERR_BODY_INCOMPLETE when the client stopped mid-body", async () => {
    const view = new TestView(
      chainOf(async (v) => {
        await v.rawBody!(10);
        return CONTINUE;
      }),
      async () => Promise.reject(incomplete()),
    );
    const answer = await runChain(view);
    expect(answer?.status).toBe(400);
    expect(JSON.parse(String(answer?.body))).toMatchObject({ code: "ERR_BODY_INCOMPLETE" });
  });
});

describe("applyHeaders", () => {
  it("replaces earlier values, but accumulates set-cookie, vary and names repeated in one list", () => {
    const headers = new Headers();
    applyHeaders(WEB_HEADERS, headers, [
      ["x-a", "1"],
      ["vary", "Origin"],
      ["set-cookie", "a=1"],
      ["link", "</a>; rel=preload"],
      ["link", "</b>; rel=preload"],
    ]);
    applyHeaders(WEB_HEADERS, headers, [
      ["x-a", "2"],
      ["vary", "Accept-Encoding"],
      ["set-cookie", "b=2"],
    ]);
    expect(headers.get("x-a")).toBe("2");
    expect(headers.get("vary")).toBe("Origin, Accept-Encoding");
    expect(headers.getSetCookie()).toEqual(["a=1", "b=2"]);
    expect(headers.get("link")).toBe("</a>; rel=preload, </b>; rel=preload");
  });

  it("keeps every value of a name repeated in one list, for any list", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom("x-a", "x-b", "x-c"), fc.stringMatching(/^[a-z0-9]{1,4}$/)), {
          maxLength: 8,
        }),
        (list) => {
          const headers = new Headers();
          applyHeaders(WEB_HEADERS, headers, list as HeaderList);
          for (const name of ["x-a", "x-b", "x-c"]) {
            const values = list.filter(([n]) => n === name).map(([, v]) => v);
            expect(headers.get(name)).toBe(values.length === 0 ? null : values.join(", "));
          }
        },
      ),
    );
  });
});

describe("header lists on a node response", () => {
  const deepFreeze = (list: HeaderList): HeaderList =>
    Object.freeze(list.map(([n, v]) => Object.freeze([n, v] as const)));
  const lines = (res: ServerResponse) => {
    res.writeHead(200);
    return (res as unknown as { _header: string })._header.split("\r\n").filter((l) => /^x-|^vary/.test(l));
  };
  const apply = (...lists: HeaderList[]) => {
    const res = new ServerResponse(new IncomingMessage(new Socket()));
    for (const list of lists) setNodeHeaders(res, list);
    return lines(res);
  };

  it("applies a frozen constant list exactly as the same plain list, on every use", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom("x-a", "x-b", "vary"), fc.stringMatching(/^[a-z0-9]{1,4}$/)), {
          maxLength: 8,
        }),
        fc.array(fc.tuple(fc.constantFrom("x-a", "vary"), fc.stringMatching(/^[a-z0-9]{1,4}$/)), {
          maxLength: 3,
        }),
        (list, earlier) => {
          const plain = apply(earlier as HeaderList, list as HeaderList);
          const frozen = deepFreeze(list as HeaderList);
          expect(apply(earlier as HeaderList, frozen)).toEqual(plain);
          expect(apply(earlier as HeaderList, frozen)).toEqual(plain);
        },
      ),
    );
  });

  it("reads a frozen list whose entries can still change afresh every time", () => {
    const entry: [string, string] = ["x-a", "1"];
    const list: HeaderList = Object.freeze([entry]);
    expect(apply(list)).toEqual(["x-a: 1"]);
    entry[1] = "2";
    expect(apply(list)).toEqual(["x-a: 2"]);
  });
});

describe("mergeLocals", () => {
  it("allocates on first use and merges later values into the same object", () => {
    const first = mergeLocals(EMPTY_LOCALS, { a: 1 });
    expect(first).not.toBe(EMPTY_LOCALS);
    const second = mergeLocals(first, { b: 2 });
    expect(second).toBe(first);
    expect(second).toEqual({ a: 1, b: 2 });
    expect(EMPTY_LOCALS).toEqual({});
    expect(Object.isFrozen(EMPTY_LOCALS)).toBe(true);
  });
});
