/**
 * `npm run bench -- observe`
 * 1. Logging: bulwark's redacting pino logger vs plain pino and vs pino's built-in fixed-path `redact`,
 *    all writing to the same no-op destination, on a clean request log line and on one carrying secrets.
 * 2. Request context per request: ALS enter + id resolution/generation + async handler vs the same
 *    handler without any context.
 */
import { pino } from "pino";
import { viewFromParts } from "../src/core/request.js";
import { requestContextGuard } from "../src/observe/context.js";
import { createLogger } from "../src/observe/logger.js";
import { type BenchRow, type BenchSuite, compare } from "./lib.js";

const sink = { write: (_line: string) => {} };

const cleanLine = () => ({
  req: {
    method: "GET",
    url: "/api/lessons?page=2&sort=date",
    headers: { accept: "application/json", host: "school.test" },
  },
  user: { id: 1234, role: "teacher", email: "ann@school.test" },
  durationMs: 12.5,
  status: 200,
  tags: ["lessons", "list"],
});

const secretLine = () => ({
  req: {
    method: "POST",
    url: "/api/login?next=%2Fdash&token=abc123",
    headers: { accept: "application/json", authorization: "Bearer eyJhbGciOi.x.y", cookie: "sid=s3cr3t" },
  },
  user: { id: 1234, email: "ann@school.test", password: "hunter22" },
  payment: { card: { number_last4: "4242", cvv: "123" } },
  durationMs: 12.5,
  status: 200,
});

export const suite: BenchSuite = {
  name: "observe",
  async run({ quick }) {
    const timing = quick ? { rounds: 2, ms: 60 } : { rounds: 7, ms: 400 };
    const rows: BenchRow[] = [];
    const batch = 200;

    const bulwarkLogger = createLogger({ destination: sink });
    const plainPino = pino({}, sink);
    const pinoRedact = pino(
      {
        redact: ["req.headers.authorization", "req.headers.cookie", "user.password", "payment.card.cvv"],
      },
      sink,
    );

    const lines: Array<[string, () => object]> = [
      ["clean line", cleanLine],
      ["line with secrets", secretLine],
    ];
    for (const [name, make] of lines) {
      const objects = Array.from({ length: batch }, make);
      const results = await compare(
        {
          bulwark: {
            batch: () => {
              for (const o of objects) bulwarkLogger.info(o, "request done");
            },
            opsPerBatch: batch,
          },
          pino: {
            batch: () => {
              for (const o of objects) plainPino.info(o, "request done");
            },
            opsPerBatch: batch,
          },
          "pino redact (fixed paths)": {
            batch: () => {
              for (const o of objects) pinoRedact.info(o, "request done");
            },
            opsPerBatch: batch,
          },
        },
        timing,
      );
      const b = results.bulwark as number;
      const p = results.pino as number;
      const r = results["pino redact (fixed paths)"] as number;
      rows.push(
        {
          suite: "observe",
          case: `log ${name}: lines/s`,
          subject: "pino (no redaction)",
          value: p,
          unit: "lines/s",
        },
        {
          suite: "observe",
          case: `log ${name}: lines/s`,
          subject: "pino redact (4 fixed paths)",
          value: r,
          unit: "lines/s",
        },
        {
          suite: "observe",
          case: `log ${name}: lines/s`,
          subject: "bulwark (any-depth redaction)",
          value: b,
          unit: "lines/s",
          ratio: b / p,
          target: "≥ 0.5× plain pino",
          pass: b / p >= 0.5,
        },
        {
          suite: "observe",
          case: `log ${name}: vs pino redact`,
          subject: "bulwark ÷ pino redact",
          value: b / r,
          unit: "×",
          ratio: b / r,
          target: "≥ 0.8× pino fixed-path redact",
          pass: b / r >= 0.8,
        },
      );
    }

    // Request context: one "request" = build nothing, resolve context, run an async handler with two awaits.
    const guard = requestContextGuard();
    const views = [
      viewFromParts({ headers: {} }),
      viewFromParts({ headers: { "x-request-id": "req-7f3a9c" } }),
      viewFromParts({ headers: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" } }),
    ];
    let sinkValue = 0;
    const handler = async () => {
      await Promise.resolve();
      await Promise.resolve();
      sinkValue++;
    };
    const concurrent = 100;
    const ctx = await compare(
      {
        "no context": {
          batch: () => Promise.all(Array.from({ length: concurrent }, () => handler())),
          opsPerBatch: concurrent,
        },
        "run()": {
          batch: () =>
            Promise.all(
              Array.from({ length: concurrent }, (_, i) => guard.run(views[i % 3] as never, handler)),
            ),
          opsPerBatch: concurrent,
        },
        "guard + enterWith": {
          batch: () =>
            Promise.all(
              Array.from(
                { length: concurrent },
                (_, i) =>
                  // Each simulated request enters from its own async resource, like an HTTP request does.
                  new Promise<void>((resolve) =>
                    setImmediate(() => {
                      guard(views[i % 3] as never);
                      void handler().then(resolve);
                    }),
                  ),
              ),
            ),
          opsPerBatch: concurrent,
        },
        "setImmediate baseline": {
          batch: () =>
            Promise.all(
              Array.from(
                { length: concurrent },
                () =>
                  new Promise<void>((resolve) =>
                    setImmediate(() => {
                      void handler().then(resolve);
                    }),
                  ),
              ),
            ),
          opsPerBatch: concurrent,
        },
      },
      timing,
    );
    const none = ctx["no context"] as number;
    const run = ctx["run()"] as number;
    const enter = ctx["guard + enterWith"] as number;
    const immediate = ctx["setImmediate baseline"] as number;
    rows.push(
      {
        suite: "observe",
        case: "request context: requests/s",
        subject: "no context",
        value: none,
        unit: "req/s",
      },
      {
        suite: "observe",
        case: "request context: requests/s",
        subject: "runWithRequestContext",
        value: run,
        unit: "req/s",
        ratio: run / none,
        target: "≥ 0.5× no context",
        pass: run / none >= 0.5,
      },
      {
        suite: "observe",
        case: "request context: requests/s",
        subject: "no context (setImmediate entry)",
        value: immediate,
        unit: "req/s",
      },
      {
        suite: "observe",
        case: "request context: requests/s",
        subject: "guard + enterWith (setImmediate entry)",
        value: enter,
        unit: "req/s",
        ratio: enter / immediate,
        target: "≥ 0.5× same entry without context",
        pass: enter / immediate >= 0.5,
      },
      {
        suite: "observe",
        case: "request context: cost per request",
        subject: "runWithRequestContext",
        value: (1 / run - 1 / none) * 1e9,
        unit: "ns",
      },
      {
        suite: "observe",
        case: "request context: cost per request",
        subject: "guard + enterWith",
        value: (1 / enter - 1 / immediate) * 1e9,
        unit: "ns",
      },
    );
    if (sinkValue < 0) console.log(sinkValue);
    return rows;
  },
};
