import { type DestinationStream, type Logger, type LoggerOptions, pino } from "pino";
import { checkKeys, configError, string } from "../core/options.js";
import { currentRequestId } from "./context.js";
import { createRedactor, type Redactor } from "./redact.js";

type Serializer = (value: unknown) => unknown;

export interface CreateLoggerOptions {
  /** Minimum level written. Default `"info"`. */
  level?: string;
  /** Logger name, written as `name` on every line. Default none. */
  name?: string;
  /** Where lines go. Default pino's standard output stream. */
  destination?: DestinationStream;
  /** Extra key names to redact at any depth (case and `-_. ` ignored). Default none beyond the built-in list. */
  redactKeys?: readonly string[];
  /** Extra URL parameter names to scrub from URLs and query strings. Default none beyond the built-in list. */
  redactParams?: readonly string[];
  /** Config secret values scrubbed verbatim from every line (each ≥ 6 characters). Default none. */
  secrets?: readonly string[];
  /** Replacement text. Default `"[REDACTED]"`. */
  censor?: string;
  /** Field carrying the request id of the request being served. Default `"requestId"`. */
  requestIdKey?: string;
  /**
   * pino serializers by key (e.g. `{ req: pino.stdSerializers.req }`); their output is redacted too.
   * Default: `err` only (type, message, stack, code, cause, own properties — all redacted).
   */
  serializers?: Readonly<Record<string, Serializer>>;
  /** Any other pino option, except those bulwark owns (`formatters`, `hooks`, `mixin`, `serializers`, `redact`). */
  pino?: Omit<
    LoggerOptions,
    "formatters" | "hooks" | "mixin" | "mixinMergeStrategy" | "serializers" | "redact" | "level" | "name"
  >;
}

const KNOWN = [
  "level",
  "name",
  "destination",
  "redactKeys",
  "redactParams",
  "secrets",
  "censor",
  "requestIdKey",
  "serializers",
  "pino",
] as const;

const OWNED = [
  "formatters",
  "hooks",
  "mixin",
  "mixinMergeStrategy",
  "serializers",
  "redact",
  "level",
  "name",
];
const NO_REQUEST: Readonly<Record<string, never>> = Object.freeze({});

function wrapSerializers(
  redactor: Redactor,
  serializers: Readonly<Record<string, Serializer>>,
): Record<string, Serializer> {
  const out: Record<string, Serializer> = Object.create(null);
  for (const [key, serialize] of Object.entries(serializers)) {
    out[key] = redactor.isSensitiveKey(key)
      ? () => redactor.censor
      : (value: unknown) => redactor.redact(serialize(value));
  }
  return out;
}

/**
 * Creates a pino logger that redacts by key name at any depth and inside arrays (password, token,
 * secret, authorization, cookie, set-cookie, ssn, card numbers, cvv, api keys, private keys, … —
 * case-insensitive, `-` and `_` ignored), scrubs sensitive URL parameters (`token=`, `code=`,
 * `signature=`, …), URL passwords and bearer credentials from every string, never prints a configured
 * secret, and adds the current request id to every line written while serving a request.
 */
export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const where = "createLogger";
  const o = checkKeys(where, options, KNOWN);
  const level = string(where, "level", o.level, "info");
  if (!(level in pino.levels.values) && level !== "silent") {
    throw configError(where, `"level" must be one of ${Object.keys(pino.levels.values).join(", ")}, silent`);
  }
  const requestIdKey = string(where, "requestIdKey", o.requestIdKey, "requestId");
  const redactor = createRedactor({
    keys: o.redactKeys as string[] | undefined,
    params: o.redactParams as string[] | undefined,
    secrets: o.secrets as string[] | undefined,
    censor: o.censor as string | undefined,
  });
  const extra = (o.pino ?? {}) as Record<string, unknown>;
  if (typeof extra !== "object" || extra === null) throw configError(where, `"pino" must be an object`);
  for (const key of OWNED) {
    if (key in extra) throw configError(where, `"pino.${key}" is owned by createLogger; use its own option`);
  }
  const userSerializers = (o.serializers ?? {}) as Record<string, Serializer>;
  for (const [key, value] of Object.entries(userSerializers)) {
    if (typeof value !== "function") throw configError(where, `serializer "${key}" must be a function`);
  }
  const serializers = wrapSerializers(redactor, userSerializers);
  // Errors are serialised by the redactor itself, so message, stack and properties are scrubbed.
  if (userSerializers.err === undefined) serializers.err = redactor.serializeError;
  const errorKey = typeof extra.errorKey === "string" ? extra.errorKey : "err";
  if (errorKey !== "err" && userSerializers[errorKey] === undefined) {
    serializers[errorKey] = redactor.serializeError;
  }

  const destination = o.destination as DestinationStream | undefined;
  const secretsConfigured = (o.secrets as string[] | undefined)?.length ?? 0;

  const logger = pino(
    {
      ...extra,
      level,
      ...(o.name === undefined ? {} : { name: string(where, "name", o.name, undefined) }),
      serializers,
      mixin() {
        const id = currentRequestId();
        return id === undefined ? NO_REQUEST : { [requestIdKey]: id };
      },
      // Outside a request there is nothing to add: skip pino's copy of every logged object.
      mixinMergeStrategy: (mergeObject: object, mixinObject: object) =>
        mixinObject === NO_REQUEST ? mergeObject : Object.assign(mixinObject, mergeObject),
      formatters: {
        log: (obj) => redactor.redactTop(obj, serializers),
        bindings: (bindings) => redactor.redactTop(bindings, serializers),
      },
      hooks: {
        logMethod(args, method) {
          const list = args as unknown[];
          for (let i = 0; i < list.length; i++) {
            const a = list[i];
            if (typeof a === "string") list[i] = redactor.scrubString(a);
            else if (i > 0 && typeof a === "object" && a !== null) list[i] = redactor.redact(a);
          }
          // pino takes the message from err.message when none is given; give it a scrubbed one.
          const first = list[0];
          if (list.length === 1 && typeof first === "object" && first !== null) {
            const err = first instanceof Error ? first : (first as Record<string, unknown>)[errorKey];
            const ownMsg = first instanceof Error ? undefined : (first as Record<string, unknown>).msg;
            if (err instanceof Error && ownMsg === undefined) list.push(redactor.scrubString(err.message));
          }
          return method.apply(this, list as Parameters<typeof method>);
        },
        ...(secretsConfigured > 0 ? { streamWrite: (line: string) => redactor.scrubSerialized(line) } : {}),
      },
    },
    destination as DestinationStream,
  );

  // pino applies no formatter to the bindings of child loggers; redact them before pino sees them.
  const originalChild = logger.child;
  const originalSetBindings = logger.setBindings;
  const child = function (this: Logger, bindings: Record<string, unknown>, childOptions?: object) {
    const opts = childOptions as Record<string, unknown> | undefined;
    if (opts !== undefined && ("formatters" in opts || "redact" in opts || "hooks" in opts)) {
      throw configError("logger.child", "formatters, hooks and redact are owned by createLogger");
    }
    const wrapped =
      opts?.serializers === undefined
        ? opts
        : { ...opts, serializers: wrapSerializers(redactor, opts.serializers as Record<string, Serializer>) };
    return originalChild.call(this, redactor.redactTop(bindings, serializers), wrapped as never);
  };
  Object.defineProperty(logger, "child", { value: child, writable: true, configurable: true });
  Object.defineProperty(logger, "setBindings", {
    value(this: Logger, bindings: Record<string, unknown>) {
      originalSetBindings.call(this, redactor.redactTop(bindings, serializers) as never);
    },
    writable: true,
    configurable: true,
  });
  return logger;
}
