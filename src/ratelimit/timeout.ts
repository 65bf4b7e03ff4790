import { BulwarkError } from "../core/errors.js";

/** The store-failure error of the limiter and the concurrency limit (status 503). */
export function unavailable(message: string, cause?: unknown): BulwarkError {
  return new BulwarkError("ERR_RATELIMIT_STORE_UNAVAILABLE", message, { status: 503, cause });
}

/** Rejects with ERR_RATELIMIT_STORE_UNAVAILABLE when `work` does not settle within `ms`. */
export function withTimeout<T>(work: () => Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(unavailable(`store did not answer within ${ms} ms`)), ms);
    timer.unref?.();
    let pending: Promise<T>;
    try {
      pending = Promise.resolve(work());
    } catch (error) {
      clearTimeout(timer);
      reject(error);
      return;
    }
    pending.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
