import { type Clock, systemClock } from "../core/clock.js";
import { checkKeys, configError, describe } from "../core/options.js";
import { backend, ed25519Key, encodeBase64, hmacKey, randomBytes, toHex, utf8Encode } from "./crypto.js";
import { decodeStandardKey } from "./schemes.js";

type Bytes = Uint8Array;

/** Standard Webhooks request headers. */
export type StandardWebhookHeaders = {
  "webhook-id": string;
  "webhook-timestamp": string;
  "webhook-signature": string;
};

export interface SignWebhookOptions {
  /** Unique message id, kept across retries (the receiver's replay and idempotency key). */
  id: string;
  /** The exact body that will be sent. */
  body: Uint8Array | string;
  /** `whsec_…` (v1, HMAC) and/or `whsk_…` (v1a, Ed25519) keys; several sign with each (rotation). */
  secrets: string | readonly string[];
  /** Unix seconds. Default: now from `clock`. */
  timestamp?: number;
  /** Time source for the default timestamp. Default: the system clock. */
  clock?: Clock;
}

const ID_RE = /^[^\s.]{1,256}$/;

function checkTimestamp(where: string, value: unknown, clock: Clock): number {
  if (value === undefined) return Math.floor(clock.now() / 1000);
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) {
    throw configError(where, `"timestamp" must be a positive integer of seconds, got ${describe(value)}`);
  }
  return value;
}

function checkBody(where: string, body: unknown): Bytes | string {
  if (typeof body !== "string" && !(body instanceof Uint8Array)) {
    throw configError(where, `"body" must be a string or Uint8Array, got ${describe(body)}`);
  }
  return body;
}

function list(where: string, secrets: unknown): string[] {
  const all = typeof secrets === "string" ? [secrets] : secrets;
  if (!Array.isArray(all) || all.length === 0 || !all.every((s) => typeof s === "string" && s.length > 0)) {
    throw configError(where, `"secrets" must be a secret string or a non-empty array of them`);
  }
  return all as string[];
}

function concatBytes(prefix: string, body: Bytes | string): Bytes {
  const head = utf8Encode(prefix);
  const tail = typeof body === "string" ? utf8Encode(body) : body;
  const out = new Uint8Array(head.length + tail.length);
  out.set(head, 0);
  out.set(tail, head.length);
  return out;
}

/**
 * Signs an outgoing webhook the Standard Webhooks way: `v1,<base64 HMAC-SHA256>` for each `whsec_`
 * secret and `v1a,<base64 Ed25519>` for each `whsk_` key, over `${id}.${timestamp}.${body}`.
 * Returns the three headers to send with the body.
 */
export async function signWebhook(options: SignWebhookOptions): Promise<StandardWebhookHeaders> {
  const where = "signWebhook";
  const o = checkKeys(where, options, ["id", "body", "secrets", "timestamp", "clock"]);
  if (typeof o.id !== "string" || !ID_RE.test(o.id)) {
    throw configError(
      where,
      `"id" must be 1–256 characters without whitespace or ".", got ${describe(o.id)}`,
    );
  }
  const body = checkBody(where, o.body);
  const timestamp = checkTimestamp(where, o.timestamp, (o.clock as Clock | undefined) ?? systemClock);
  const prefix = `${o.id}.${timestamp}.`;
  const signatures: string[] = [];
  for (const [i, secret] of list(where, o.secrets).entries()) {
    const key = decodeStandardKey(secret, `${where}: secrets[${i}]`);
    if (key.kind === "public") {
      throw configError(where, `secrets[${i}] is a whpk_ public key; signing needs the whsk_ secret key`);
    }
    if (key.kind === "hmac") {
      const digest = await backend.hmac(hmacKey(key.bytes), prefix, body, "");
      signatures.push(`v1,${encodeBase64(digest)}`);
    } else {
      const sig = await backend.ed25519Sign(ed25519Key(key.seed, "private"), concatBytes(prefix, body));
      signatures.push(`v1a,${encodeBase64(sig)}`);
    }
  }
  return {
    "webhook-id": o.id,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": signatures.join(" "),
  };
}

export interface SignStripeWebhookOptions {
  /** The exact body that will be sent (a Stripe event as JSON). */
  body: Uint8Array | string;
  /** `whsec_…` endpoint secrets; one `v1` signature each. */
  secrets: string | readonly string[];
  /** Unix seconds. Default: now from `clock`. */
  timestamp?: number;
  clock?: Clock;
}

/**
 * Produces a `Stripe-Signature` header (`t=…,v1=…`) for a body, as Stripe does. For payment
 * simulators and tests; the result passes `stripe.webhooks.constructEvent`.
 */
export async function signStripeWebhook(
  options: SignStripeWebhookOptions,
): Promise<{ "stripe-signature": string }> {
  const where = "signStripeWebhook";
  const o = checkKeys(where, options, ["body", "secrets", "timestamp", "clock"]);
  const body = checkBody(where, o.body);
  const timestamp = checkTimestamp(where, o.timestamp, (o.clock as Clock | undefined) ?? systemClock);
  let header = `t=${timestamp}`;
  for (const secret of list(where, o.secrets)) {
    const digest = await backend.hmac(hmacKey(utf8Encode(secret)), `${timestamp}.`, body, "");
    header += `,v1=${toHex(digest)}`;
  }
  return { "stripe-signature": header };
}

/** Produces GitHub's `X-Hub-Signature-256: sha256=<hex>` for a body; for tests and simulators. */
export async function signGitHubWebhook(options: {
  body: Uint8Array | string;
  secret: string;
}): Promise<{ "x-hub-signature-256": string }> {
  const where = "signGitHubWebhook";
  const o = checkKeys(where, options, ["body", "secret"]);
  const body = checkBody(where, o.body);
  const [secret] = list(where, o.secret);
  const digest = await backend.hmac(hmacKey(utf8Encode(secret as string)), "", body, "");
  return { "x-hub-signature-256": `sha256=${toHex(digest)}` };
}

/** A new random Standard Webhooks HMAC secret, `whsec_` + base64 of `bytes` random bytes (default 32). */
export function generateWebhookSecret(bytes = 32): string {
  if (!Number.isSafeInteger(bytes) || bytes < 24 || bytes > 64) {
    throw configError("generateWebhookSecret", `"bytes" must be an integer in 24–64, got ${describe(bytes)}`);
  }
  return `whsec_${encodeBase64(randomBytes(bytes))}`;
}

/**
 * A new Ed25519 key pair for Standard Webhooks v1a: `secretKey` (`whsk_` + base64 of the 32-byte
 * seed followed by the 32-byte public key, the libsodium layout) signs; `publicKey` (`whpk_` +
 * base64 of the 32-byte public key) is what receivers configure.
 */
export async function generateWebhookKeyPair(): Promise<{ secretKey: string; publicKey: string }> {
  const { seed, publicKey } = await backend.ed25519Generate();
  const secret = new Uint8Array(64);
  secret.set(seed, 0);
  secret.set(publicKey, 32);
  return { secretKey: `whsk_${encodeBase64(secret)}`, publicKey: `whpk_${encodeBase64(publicKey)}` };
}
