import { randomFillSync } from "node:crypto";

/**
 * Cryptographically random bytes drawn from the OS in 4 KiB blocks: one system call per block
 * instead of one per token. Bytes handed out are zeroed in the pool and never handed out twice.
 */
const POOL_BYTES = 4096;
const pool = new Uint8Array(POOL_BYTES);
let offset = POOL_BYTES;

/** Fills `target` with random bytes. */
export function fillRandom(target: Uint8Array): void {
  let written = 0;
  while (written < target.length) {
    if (offset >= POOL_BYTES) {
      randomFillSync(pool);
      offset = 0;
    }
    const n = Math.min(target.length - written, POOL_BYTES - offset);
    target.set(pool.subarray(offset, offset + n), written);
    pool.fill(0, offset, offset + n);
    offset += n;
    written += n;
  }
}
