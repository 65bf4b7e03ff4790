/** Source of wall-clock time in milliseconds since the epoch. Injected so tests never sleep. */
export interface Clock {
  now(): number;
}

/** The real clock (`Date.now`). */
export const systemClock: Clock = { now: () => Date.now() };

/** A clock that only moves when told to; for tests. */
export interface ManualClock extends Clock {
  /** Moves time forward by `ms` (may be negative to simulate skew). */
  advance(ms: number): void;
  /** Sets the absolute time. */
  set(ms: number): void;
}

/** Creates a manual clock starting at `startMs` (default: 2026-01-01T00:00:00Z). */
export function manualClock(startMs = Date.UTC(2026, 0, 1)): ManualClock {
  let current = startMs;
  return {
    now: () => current,
    advance: (ms) => {
      current += ms;
    },
    set: (ms) => {
      current = ms;
    },
  };
}
