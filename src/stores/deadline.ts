import { BulwarkError } from "../core/errors.js";

/**
 * Bounds every store call by one timeout with a single timer per store (not one per call): calls
 * share the same `timeoutMs`, so their deadlines arrive in call order and a FIFO queue is enough.
 * A call that settles late is ignored; one that fails is mapped to `ERR_RATELIMIT_STORE_UNAVAILABLE`.
 */

interface Pending {
  readonly at: number;
  done: boolean;
  readonly reject: (error: unknown) => void;
}

export interface Deadline {
  /**
   * Resolves with `parse(value of promise)`, or rejects with the store-unavailable error once
   * `timeoutMs` elapse. When `promise` rejects, `retry(error)` may return a second attempt (still
   * within the same deadline); errors `parse` throws are passed through as they are.
   */
  run<R, T>(
    promise: Promise<R>,
    parse: (value: R) => T,
    retry?: (error: unknown) => Promise<R> | undefined,
  ): Promise<T>;
  /** Stops the timer; pending calls are rejected. */
  close(): void;
}

/** The error every store failure turns into; `reason` is a short fixed phrase, never data. */
export function storeUnavailable(store: string, reason: string, cause?: unknown): BulwarkError {
  if (cause instanceof BulwarkError && cause.code === "ERR_RATELIMIT_STORE_UNAVAILABLE") return cause;
  return new BulwarkError("ERR_RATELIMIT_STORE_UNAVAILABLE", `${store} store: ${reason}`, {
    status: 503,
    details: { store, reason },
    cause,
  });
}

export function deadline(store: string, timeoutMs: number): Deadline {
  let queue: Pending[] = [];
  let head = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;

  const fire = () => {
    timer = undefined;
    const now = performance.now();
    while (head < queue.length) {
      const entry = queue[head] as Pending;
      if (!entry.done) {
        if (entry.at > now) break;
        entry.done = true;
        entry.reject(storeUnavailable(store, `no answer within ${timeoutMs} ms`));
      }
      head++;
    }
    if (head === queue.length) {
      queue = [];
      head = 0;
    } else if (head > 1024 && head * 2 > queue.length) {
      queue = queue.slice(head);
      head = 0;
    }
    arm(now);
  };

  const arm = (now: number) => {
    if (timer !== undefined || head >= queue.length) return;
    const first = queue[head] as Pending;
    timer = setTimeout(fire, Math.max(0, first.at - now));
    timer.unref?.();
  };

  return {
    run<R, T>(
      promise: Promise<R>,
      parse: (value: R) => T,
      retry?: (error: unknown) => Promise<R> | undefined,
    ): Promise<T> {
      if (closed) return Promise.reject(storeUnavailable(store, "store closed"));
      return new Promise<T>((resolve, reject) => {
        const now = performance.now();
        const entry: Pending = { at: now + timeoutMs, done: false, reject };
        queue.push(entry);
        if (timer === undefined) arm(now);
        const ok = (value: R) => {
          if (entry.done) return;
          entry.done = true;
          let result: T;
          try {
            result = parse(value);
          } catch (error) {
            reject(error);
            return;
          }
          resolve(result);
        };
        const fail = (error: unknown) => {
          if (entry.done) return;
          entry.done = true;
          reject(storeUnavailable(store, "command failed", error));
        };
        promise.then(ok, (error: unknown) => {
          const again = entry.done ? undefined : retry?.(error);
          if (again === undefined) fail(error);
          else again.then(ok, fail);
        });
      });
    },
    close() {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      for (let i = head; i < queue.length; i++) {
        const entry = queue[i] as Pending;
        if (!entry.done) {
          entry.done = true;
          entry.reject(storeUnavailable(store, "store closed"));
        }
      }
      queue = [];
      head = 0;
    },
  };
}
