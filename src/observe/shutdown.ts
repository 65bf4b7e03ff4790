import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { consoleLogger, type Logger } from "../core/logger.js";
import { checkKeys, configError, integer } from "../core/options.js";

/** The parts of a node:http / node:https server that graceful shutdown uses. */
export interface ShutdownServer {
  close(callback?: (error?: Error) => void): unknown;
  closeIdleConnections?(): void;
  closeAllConnections?(): void;
  on(event: "connection", listener: (socket: Socket) => void): unknown;
  on(event: "request", listener: (req: IncomingMessage, res: ServerResponse) => void): unknown;
  readonly listening: boolean;
}

/** A cleanup step run after the server has drained (close a pool, quit a client, flush logs). */
export interface ShutdownHook {
  name: string;
  run: () => unknown;
}

export interface GracefulShutdownOptions {
  /** Hard limit for the whole shutdown, in milliseconds; when reached, connections are destroyed and the exit code is 1. Default 10_000. */
  deadlineMs?: number;
  /**
   * Cleanup steps, run one at a time in REVERSE order after the last connection closed (register them in
   * the order you opened the resources). A bare function is named `hook-<index>`. Default none.
   */
  hooks?: ReadonlyArray<ShutdownHook | (() => unknown)>;
  /** Signals that start the shutdown; a second one forces exit code 1 at once. `[]` to call `shutdown()` yourself. Default `["SIGTERM", "SIGINT"]`. */
  signals?: readonly NodeJS.Signals[];
  /** The health endpoints, so readiness fails first (`health.startShutdown()`). Default none. */
  health?: { startShutdown(): void };
  /**
   * How long to keep accepting connections after readiness started failing, in milliseconds, so load
   * balancers see the failing probe and stop routing before the listener closes. Must be below
   * `deadlineMs`. Default 0.
   */
  readinessDelayMs?: number;
  /** Where progress is logged. Default bulwark's console logger (warnings and errors on stderr). */
  logger?: Logger;
  /** `true` calls `process.exit(code)` when done; a function is called with the code instead; `false` does nothing. Default `true`. */
  exit?: boolean | ((code: number) => void);
}

export interface ShutdownResult {
  /** 0 when every request finished and every hook succeeded before the deadline, else 1. */
  readonly code: 0 | 1;
  readonly timedOut: boolean;
  /** Names of hooks that threw or rejected. */
  readonly failedHooks: readonly string[];
  /** What started the shutdown: a signal name or the reason given to `shutdown()`. */
  readonly reason: string;
  readonly durationMs: number;
}

export interface ShutdownController {
  /** Starts the shutdown (idempotent: later calls return the same promise). */
  shutdown(reason?: string): Promise<ShutdownResult>;
  /** Adds a cleanup hook (it runs before the hooks registered earlier). */
  addHook(hook: ShutdownHook | (() => unknown)): void;
  /** `running`, then `draining` (readiness failing, listener closing, requests finishing), then `closed`. */
  readonly state: "running" | "draining" | "closed";
  /** Number of requests being served right now (among those seen since `gracefulShutdown` was called). */
  readonly inFlight: number;
  /** Removes the signal listeners. */
  dispose(): void;
}

const KNOWN = ["deadlineMs", "hooks", "signals", "health", "readinessDelayMs", "logger", "exit"] as const;
const IDLE_SWEEP_MS = 50;

function toHook(where: string, value: unknown, index: number): ShutdownHook {
  if (typeof value === "function") return { name: `hook-${index}`, run: value as () => unknown };
  if (
    typeof value === "object" &&
    value !== null &&
    typeof (value as ShutdownHook).name === "string" &&
    typeof (value as ShutdownHook).run === "function"
  ) {
    return value as ShutdownHook;
  }
  throw configError(where, `hook ${index} must be a function or { name, run }`);
}

/**
 * Graceful shutdown for a node:http or node:https server (Express's `app.listen()` result, Fastify's
 * `app.server`, @hono/node-server's `serve()` result). On SIGTERM/SIGINT: readiness fails first, then
 * (after `readinessDelayMs`) the listener closes so new connections are refused, idle keep-alive
 * connections are closed, responses still being written get `Connection: close`, in-flight requests
 * finish; then cleanup hooks run in reverse order; a hard deadline ends it with exit code 1.
 */
export function gracefulShutdown(
  server: ShutdownServer,
  options: GracefulShutdownOptions = {},
): ShutdownController {
  const where = "gracefulShutdown";
  const o = checkKeys(where, options, KNOWN);
  if (server === null || typeof server !== "object" || typeof server.close !== "function") {
    throw configError(where, "server must be a node:http or node:https server");
  }
  const deadlineMs = integer(where, "deadlineMs", o.deadlineMs, 10_000, { min: 1, max: 3_600_000 });
  const readinessDelayMs = integer(where, "readinessDelayMs", o.readinessDelayMs, 0, { min: 0 });
  if (readinessDelayMs >= deadlineMs)
    throw configError(where, `"readinessDelayMs" must be below "deadlineMs"`);
  if (o.hooks !== undefined && !Array.isArray(o.hooks)) throw configError(where, `"hooks" must be an array`);
  const hooks = ((o.hooks as unknown[] | undefined) ?? []).map((h, i) => toHook(where, h, i));
  const signals = (o.signals as NodeJS.Signals[] | undefined) ?? ["SIGTERM", "SIGINT"];
  if (!Array.isArray(signals) || signals.some((s) => typeof s !== "string" || !s.startsWith("SIG"))) {
    throw configError(where, `"signals" must be an array of signal names such as "SIGTERM"`);
  }
  const healthRef = o.health as GracefulShutdownOptions["health"];
  if (healthRef !== undefined && typeof healthRef?.startShutdown !== "function") {
    throw configError(where, `"health" must be the object returned by health()`);
  }
  const logger = (o.logger as Logger | undefined) ?? consoleLogger;
  const exitOption = o.exit ?? true;
  if (typeof exitOption !== "boolean" && typeof exitOption !== "function") {
    throw configError(where, `"exit" must be a boolean or a function`);
  }
  const exit = (code: number) => {
    if (exitOption === true) process.exit(code);
    else if (typeof exitOption === "function") exitOption(code);
  };

  let state: "running" | "draining" | "closed" = "running";
  const active = new Set<ServerResponse>();
  const busy = new Map<Socket, number>();

  const closeIfIdle = (socket: Socket) => {
    if ((busy.get(socket) ?? 0) === 0 && !socket.destroyed) socket.end();
  };

  server.on("connection", (socket) => {
    busy.set(socket, 0);
    socket.once("close", () => busy.delete(socket));
  });
  server.on("request", (req, res) => {
    const socket = req.socket;
    busy.set(socket, (busy.get(socket) ?? 0) + 1);
    active.add(res);
    if (state !== "running" && !res.headersSent) res.setHeader("connection", "close");
    let done = false;
    const finished = () => {
      if (done) return;
      done = true;
      active.delete(res);
      busy.set(socket, Math.max(0, (busy.get(socket) ?? 1) - 1));
      if (state !== "running") closeIfIdle(socket);
    };
    res.once("finish", finished);
    res.once("close", finished);
  });

  let result: Promise<ShutdownResult> | undefined;

  const run = async (reason: string): Promise<ShutdownResult> => {
    const started = performance.now();
    state = "draining";
    logger.warn({ reason, deadlineMs, inFlight: active.size }, "graceful shutdown started");
    healthRef?.startShutdown();
    for (const res of active) if (!res.headersSent) res.setHeader("connection", "close");

    let deadline: ReturnType<typeof setTimeout> | undefined;
    let sweep: ReturnType<typeof setInterval> | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      deadline = setTimeout(resolve, deadlineMs, "timeout");
    });

    const drain = async (): Promise<void> => {
      if (readinessDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, readinessDelayMs));
      const closed = new Promise<void>((resolve) => {
        if (!server.listening) {
          resolve();
          return;
        }
        server.close(() => resolve());
      });
      server.closeIdleConnections?.();
      for (const socket of busy.keys()) closeIfIdle(socket);
      // Connections accepted before gracefulShutdown was called are not tracked here; Node's own idle
      // sweep closes them once their current response is done.
      sweep = setInterval(() => server.closeIdleConnections?.(), IDLE_SWEEP_MS);
      sweep.unref();
      await closed;
    };

    const failedHooks: string[] = [];
    let abandoned = false;
    const runHooks = async (): Promise<void> => {
      for (const hook of [...hooks].reverse()) {
        if (abandoned) return;
        try {
          await hook.run();
        } catch (error) {
          failedHooks.push(hook.name);
          logger.error({ hook: hook.name, err: error }, "shutdown hook failed");
        }
      }
    };

    const outcome = await Promise.race([drain().then(runHooks), timedOut]);
    clearTimeout(deadline);
    clearInterval(sweep);
    const timeout = outcome === "timeout";
    if (timeout) {
      abandoned = true;
      logger.error(
        { deadlineMs, inFlight: active.size },
        "graceful shutdown deadline reached; closing connections",
      );
      server.closeAllConnections?.();
      for (const socket of busy.keys()) socket.destroy();
    }
    state = "closed";
    const code: 0 | 1 = timeout || failedHooks.length > 0 ? 1 : 0;
    const shutdownResult: ShutdownResult = {
      code,
      timedOut: timeout,
      failedHooks,
      reason,
      durationMs: Math.round(performance.now() - started),
    };
    logger.warn({ ...shutdownResult }, "graceful shutdown finished");
    exit(code);
    return shutdownResult;
  };

  const onSignal = (signal: NodeJS.Signals) => {
    if (result === undefined) {
      result = run(signal);
      return;
    }
    logger.error({ signal }, "second signal during graceful shutdown; exiting now");
    server.closeAllConnections?.();
    exit(1);
  };
  for (const signal of signals) process.on(signal, onSignal);

  return {
    shutdown(reason = "shutdown()") {
      result ??= run(reason);
      return result;
    },
    addHook(hook) {
      hooks.push(toHook(where, hook, hooks.length));
    },
    get state() {
      return state;
    },
    get inFlight() {
      return active.size;
    },
    dispose() {
      for (const signal of signals) process.off(signal, onSignal);
    },
  };
}
