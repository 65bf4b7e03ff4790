/**
 * The logging interface bulwark writes to: a subset of pino's, so a pino logger can be passed as is.
 * bulwark never logs secrets, tokens, signatures or keys.
 */
export interface Logger {
  debug(obj: Record<string, unknown>, msg?: string): void;
  info(obj: Record<string, unknown>, msg?: string): void;
  warn(obj: Record<string, unknown>, msg?: string): void;
  error(obj: Record<string, unknown>, msg?: string): void;
}

function line(level: string, obj: Record<string, unknown>, msg?: string): string {
  return JSON.stringify({ level, time: Date.now(), name: "bulwark", ...obj, ...(msg ? { msg } : {}) });
}

/** Default logger: warnings and errors as JSON lines on stderr; debug and info dropped. */
export const consoleLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: (obj, msg) => console.warn(line("warn", obj, msg)),
  error: (obj, msg) => console.error(line("error", obj, msg)),
};

/** A logger that keeps every entry in memory; for tests. */
export function memoryLogger(): Logger & {
  entries: Array<{ level: string; msg?: string; [k: string]: unknown }>;
} {
  const entries: Array<{ level: string; msg?: string; [k: string]: unknown }> = [];
  const push = (level: string) => (obj: Record<string, unknown>, msg?: string) => {
    entries.push({ level, ...obj, ...(msg ? { msg } : {}) });
  };
  return { entries, debug: push("debug"), info: push("info"), warn: push("warn"), error: push("error") };
}

/** A logger that drops everything. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
