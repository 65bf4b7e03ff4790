import { type Clock, systemClock } from "../core/clock.js";
import type { Logger } from "../core/logger.js";
import { checkKeys, configError, integer, string } from "../core/options.js";
import { CONTINUE, type Guard, type HeaderList, type RespondOutcome } from "../core/outcome.js";
import { problem } from "../core/problem.js";
import type { RequestView } from "../core/request.js";

/**
 * `/livez` and `/readyz` in `application/health+json` (draft-inadarei-api-health-check-06):
 * `pass` and `warn` answer 200, `fail` answers 503. Readiness runs the registered checks with a timeout
 * each, caches the result briefly so probe storms cost one round of checks, and fails at once when a
 * shutdown has started. Failure details go to the log, never to the response.
 */

export type HealthStatus = "pass" | "warn" | "fail";

/** What a check may return instead of nothing (nothing means `pass`). */
export interface CheckResult {
  /** `"warn"` reports a degraded but usable dependency. Default `"pass"`. */
  status?: "pass" | "warn";
  /** Short, non-secret text shown with a `warn`. */
  output?: string;
  /** A measured value to report instead of the response time. */
  observedValue?: number | string | boolean;
  /** Unit of `observedValue`. */
  observedUnit?: string;
  /** Measurement name used in the report key (`<name>:<measurementName>`). Default `"responseTime"`. */
  measurementName?: string;
}

/** One dependency check. Stores register these (`redisCheck(client)`, `postgresCheck(pool)`). */
export interface HealthCheck {
  /** Component name: letters, digits, `.`, `_`, `-` (no colon: the report key is `name:measurement`). */
  name: string;
  /**
   * Resolves (or returns) when healthy — with nothing, or with a `CheckResult` to warn or report a
   * measured value; throws or rejects when not.
   */
  check: () => unknown;
  /** Time allowed before the check counts as failed, in milliseconds. Default the health `timeoutMs`. */
  timeoutMs?: number;
  /** A failing critical check fails readiness; a failing non-critical one only warns. Default `true`. */
  critical?: boolean;
  /** `componentType` in the report (`datastore`, `component`, `system`). Default `"component"`. */
  componentType?: string;
}

export interface CheckReport {
  componentId?: string;
  componentType: string;
  observedValue: number | string | boolean;
  observedUnit: string;
  status: HealthStatus;
  time: string;
  output?: string;
}

export interface HealthReport {
  status: HealthStatus;
  version?: string;
  releaseId?: string;
  serviceId?: string;
  description?: string;
  notes?: string[];
  output?: string;
  checks?: Record<string, CheckReport[]>;
}

export interface HealthOptions {
  /** Readiness checks (dependencies the service needs to serve). Default none. */
  checks?: readonly HealthCheck[];
  /** Liveness checks; keep these free of dependencies so a database outage never restarts pods. Default none. */
  liveChecks?: readonly HealthCheck[];
  /** Path answered with liveness. Default `"/livez"`. */
  livePath?: string;
  /** Path answered with readiness. Default `"/readyz"`. */
  readyPath?: string;
  /** How long a readiness result is reused, in milliseconds; 0 disables caching. Default 1000. */
  cacheMs?: number;
  /** Default per-check timeout, in milliseconds. Default 2000. */
  timeoutMs?: number;
  /** Reported as `serviceId`, `version`, `releaseId`, `description` when set. */
  serviceId?: string;
  version?: string;
  releaseId?: string;
  description?: string;
  /** Where check failures are logged with their error. Default none (failures only in the report). */
  logger?: Logger;
  /** Clock for caching and report times. Default the system clock. */
  clock?: Clock;
}

export interface Health {
  /** Answers GET/HEAD on `livePath` and `readyPath` (405 for other methods); lets everything else through. */
  readonly guard: Guard;
  /** Runs the liveness checks. */
  live(): Promise<HealthReport>;
  /** Runs (or reuses) the readiness checks; `fail` once a shutdown started. */
  ready(): Promise<HealthReport>;
  /** The full response for a probe: 200 for pass/warn, 503 for fail; no body for HEAD. */
  respond(kind: "live" | "ready", method?: string): Promise<RespondOutcome>;
  /** Adds a readiness check (stores call this). Names must be unique. */
  register(check: HealthCheck): void;
  /** Makes readiness fail from now on (called by gracefulShutdown before the server stops accepting). */
  startShutdown(): void;
  /** Whether `startShutdown` was called. */
  readonly shuttingDown: boolean;
}

const KNOWN = [
  "checks",
  "liveChecks",
  "livePath",
  "readyPath",
  "cacheMs",
  "timeoutMs",
  "serviceId",
  "version",
  "releaseId",
  "description",
  "logger",
  "clock",
] as const;
const CHECK_KNOWN = ["name", "check", "timeoutMs", "critical", "componentType"] as const;
const NAME = /^[A-Za-z0-9._-]{1,64}$/;
const HEADERS: HeaderList = [
  ["content-type", "application/health+json"],
  ["cache-control", "no-store"],
];

interface ResolvedCheck {
  name: string;
  check: HealthCheck["check"];
  timeoutMs: number;
  critical: boolean;
  componentType: string;
}

function resolveCheck(where: string, value: unknown, defaultTimeoutMs: number): ResolvedCheck {
  const c = checkKeys(`${where} check`, value, CHECK_KNOWN);
  const name = string(where, "check.name", c.name, undefined);
  if (!NAME.test(name)) {
    throw configError(where, `check name "${name}" must be 1–64 of A-Z a-z 0-9 . _ - (no colon)`);
  }
  if (typeof c.check !== "function") throw configError(where, `check "${name}": "check" must be a function`);
  if (c.critical !== undefined && typeof c.critical !== "boolean") {
    throw configError(where, `check "${name}": "critical" must be a boolean`);
  }
  return {
    name,
    check: c.check as HealthCheck["check"],
    timeoutMs: integer(where, `check "${name}" timeoutMs`, c.timeoutMs, defaultTimeoutMs, {
      min: 1,
      max: 60_000,
    }),
    critical: (c.critical as boolean | undefined) ?? true,
    componentType: string(where, "check.componentType", c.componentType, "component"),
  };
}

function path(where: string, key: string, value: unknown, fallback: string): string {
  const p = string(where, key, value, fallback);
  if (!p.startsWith("/") || p.includes("?"))
    throw configError(where, `"${key}" must be a path starting with /`);
  return p;
}

const TIMED_OUT = Symbol("timed-out");

/** Creates the health endpoints. */
export function health(options: HealthOptions = {}): Health {
  const where = "health";
  const o = checkKeys(where, options, KNOWN);
  const timeoutMs = integer(where, "timeoutMs", o.timeoutMs, 2_000, { min: 1, max: 60_000 });
  const cacheMs = integer(where, "cacheMs", o.cacheMs, 1_000, { min: 0, max: 300_000 });
  const livePath = path(where, "livePath", o.livePath, "/livez");
  const readyPath = path(where, "readyPath", o.readyPath, "/readyz");
  if (livePath === readyPath) throw configError(where, `"livePath" and "readyPath" must differ`);
  const list = (key: string, value: unknown): ResolvedCheck[] => {
    if (value === undefined) return [];
    if (!Array.isArray(value)) throw configError(where, `"${key}" must be an array of checks`);
    return value.map((c) => resolveCheck(where, c, timeoutMs));
  };
  const readyChecks = list("checks", o.checks);
  const liveChecks = list("liveChecks", o.liveChecks);
  const unique = (checks: ResolvedCheck[], key: string) => {
    const names = new Set<string>();
    for (const c of checks) {
      if (names.has(c.name)) throw configError(where, `duplicate check name "${c.name}" in "${key}"`);
      names.add(c.name);
    }
  };
  unique(readyChecks, "checks");
  unique(liveChecks, "liveChecks");
  const meta: Pick<HealthReport, "serviceId" | "version" | "releaseId" | "description"> = {};
  for (const key of ["serviceId", "version", "releaseId", "description"] as const) {
    if (o[key] !== undefined) meta[key] = string(where, key, o[key], undefined);
  }
  const logger = o.logger as Logger | undefined;
  const clock = (o.clock as Clock | undefined) ?? systemClock;

  let shuttingDown = false;
  let cached: { report: HealthReport; atMs: number } | undefined;
  let pending: Promise<HealthReport> | undefined;

  const runOne = async (c: ResolvedCheck): Promise<[string, CheckReport, HealthStatus]> => {
    const started = performance.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let result: unknown;
    let failed = false;
    let output: string | undefined;
    try {
      result = await Promise.race([
        Promise.resolve().then(c.check),
        new Promise<typeof TIMED_OUT>((resolve) => {
          timer = setTimeout(resolve, c.timeoutMs, TIMED_OUT);
          timer.unref?.();
        }),
      ]);
      if (result === TIMED_OUT) {
        failed = true;
        output = `timed out after ${c.timeoutMs} ms`;
        logger?.warn({ check: c.name, timeoutMs: c.timeoutMs }, "health check timed out");
      }
    } catch (error) {
      failed = true;
      output = "check failed";
      logger?.warn({ check: c.name, err: error }, "health check failed");
    } finally {
      clearTimeout(timer);
    }
    const r = !failed && typeof result === "object" && result !== null ? (result as CheckResult) : {};
    const elapsedMs = Math.round((performance.now() - started) * 100) / 100;
    let status: HealthStatus = "pass";
    if (failed) status = c.critical ? "fail" : "warn";
    else if (r.status === "warn") status = "warn";
    if (!failed && r.status === "warn" && typeof r.output === "string") output = r.output;
    const report: CheckReport = {
      componentType: c.componentType,
      observedValue: r.observedValue ?? elapsedMs,
      observedUnit: r.observedUnit ?? (r.observedValue === undefined ? "ms" : ""),
      status,
      time: new Date(clock.now()).toISOString(),
      ...(output === undefined ? {} : { output }),
    };
    const measurement = typeof r.measurementName === "string" ? r.measurementName : "responseTime";
    return [`${c.name}:${measurement}`, report, status];
  };

  const runAll = async (checks: ResolvedCheck[]): Promise<HealthReport> => {
    const results = await Promise.all(checks.map(runOne));
    let status: HealthStatus = "pass";
    const out: Record<string, CheckReport[]> = {};
    for (const [key, report, s] of results) {
      const list = out[key] ?? [];
      list.push(report);
      out[key] = list;
      if (s === "fail") status = "fail";
      else if (s === "warn" && status === "pass") status = "warn";
    }
    return { status, ...meta, ...(checks.length > 0 ? { checks: out } : {}) };
  };

  const shutdownReport = (): HealthReport => ({
    status: "fail",
    ...meta,
    notes: ["shutting down"],
    output: "shutting down",
  });

  const ready = async (): Promise<HealthReport> => {
    if (shuttingDown) return shutdownReport();
    if (cached !== undefined && clock.now() - cached.atMs < cacheMs) return cached.report;
    if (pending === undefined) {
      pending = runAll(readyChecks).then(
        (report) => {
          pending = undefined;
          cached = { report, atMs: clock.now() };
          return report;
        },
        (error: unknown) => {
          pending = undefined;
          throw error;
        },
      );
    }
    const report = await pending;
    return shuttingDown ? shutdownReport() : report;
  };

  const live = () => runAll(liveChecks);

  const respond = async (kind: "live" | "ready", method = "GET"): Promise<RespondOutcome> => {
    const report = kind === "live" ? await live() : await ready();
    return {
      action: "respond",
      status: report.status === "fail" ? 503 : 200,
      headers: HEADERS,
      ...(method === "HEAD" ? {} : { body: JSON.stringify(report) }),
    };
  };

  const notAllowed = problem(405, "ERR_METHOD_NOT_ALLOWED", "Method Not Allowed", [["allow", "GET, HEAD"]]);

  const guard: Guard = (view: RequestView) => {
    const kind = view.path === livePath ? "live" : view.path === readyPath ? "ready" : undefined;
    if (kind === undefined) return CONTINUE;
    if (view.method !== "GET" && view.method !== "HEAD") return notAllowed;
    return respond(kind, view.method);
  };

  return {
    guard,
    live,
    ready,
    respond,
    register(check) {
      const resolved = resolveCheck(where, check, timeoutMs);
      if (readyChecks.some((c) => c.name === resolved.name)) {
        throw configError(where, `duplicate check name "${resolved.name}"`);
      }
      readyChecks.push(resolved);
      cached = undefined;
    },
    startShutdown() {
      shuttingDown = true;
    },
    get shuttingDown() {
      return shuttingDown;
    },
  };
}
