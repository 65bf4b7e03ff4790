import { decodeKey } from "../crypto/key.js";
import { entropyBits, isUrlLike } from "./values.js";

/**
 * Deployment rules checked on the raw strings of the environment, beside the schema. Most apply only
 * when production rules are on (NODE_ENV=production); the Stripe live-key rule applies everywhere else.
 */

export type RuleName =
  | "secret-strength"
  | "no-localhost"
  | "https-origin"
  | "stripe-live-key"
  | "stripe-test-key"
  | "encryption-key";

export interface RuleSettings {
  production: boolean;
  minSecretLength: number;
  minSecretEntropyBits: number;
  httpsVariables: ReadonlySet<string>;
  encryptionKeyVariables: ReadonlySet<string>;
}

export interface RuleViolation {
  rule: RuleName;
  expected: string;
}

/** Names that hold browser-facing origins or public URLs and so must be https in production. */
const HTTPS_NAME =
  /(?:^|_)(?:ORIGINS?|PUBLIC_URL|APP_URL|BASE_URL|SITE_URL|FRONTEND_URL|CALLBACK_URL|REDIRECT_URIS?)$/i;
/** Names that hold a raw 256-bit encryption key. */
const ENCRYPTION_KEY_NAME = /(?:^|_)(?:ENCRYPTION|ENC|MASTER|DATA|FIELD)_KEY$/i;
/** Substrings of well-known placeholders; each six characters or more, so random strings never hit them. */
const PLACEHOLDERS = [
  "changeme",
  "change_me",
  "change-me",
  "replaceme",
  "replace_me",
  "placeholder",
  "example",
  "secret",
  "password",
  "dummy",
  "xxxxxx",
  "123456",
  "qwerty",
];
const LOCAL_HOSTS = new Set(["localhost", "0.0.0.0", "::1", "[::1]", "::", "[::]"]);

function isLocalHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, "");
  return LOCAL_HOSTS.has(host) || host.endsWith(".localhost") || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** URLs in a value: the value itself, or each item of a comma- or space-separated list. */
function urlsIn(raw: string): URL[] {
  const urls: URL[] = [];
  for (const item of raw.split(/[\s,]+/)) {
    if (!isUrlLike(item)) continue;
    try {
      urls.push(new URL(item));
    } catch {
      // Not a URL after all; the schema reports malformed URLs.
    }
  }
  return urls;
}

export function isHttpsVariable(name: string, settings: RuleSettings): boolean {
  return settings.httpsVariables.has(name) || HTTPS_NAME.test(name);
}

export function isEncryptionKeyVariable(name: string, settings: RuleSettings): boolean {
  return settings.encryptionKeyVariables.has(name) || ENCRYPTION_KEY_NAME.test(name);
}

/** Every rule a present value breaks. `weakAllowed` skips the secret-strength rule (dangerouslyAllowWeakSecret). */
export function checkRules(
  name: string,
  raw: string,
  secret: boolean,
  settings: RuleSettings,
  weakAllowed = false,
): RuleViolation[] {
  const out: RuleViolation[] = [];
  const value = raw.trim();
  if (/^(?:sk|rk)_live_/.test(value) && !settings.production) {
    out.push({
      rule: "stripe-live-key",
      expected: "no Stripe live key (sk_live_/rk_live_) outside production",
    });
  }
  if (!settings.production) return out;

  if (/^(?:sk|rk|pk)_test_/.test(value)) {
    out.push({
      rule: "stripe-test-key",
      expected: "a Stripe live key in production, not a test key (*_test_)",
    });
  }
  if (isEncryptionKeyVariable(name, settings)) {
    if (!decodeKey(value).ok) {
      out.push({
        rule: "encryption-key",
        expected: "exactly 32 bytes (64 hex digits or 43 base64url characters), not all zeros, in production",
      });
    }
  } else if (secret && !weakAllowed && !isUrlLike(value)) {
    const lower = value.toLowerCase();
    if (
      [...value].length < settings.minSecretLength ||
      entropyBits(value) < settings.minSecretEntropyBits ||
      PLACEHOLDERS.some((p) => lower.includes(p))
    ) {
      out.push({
        rule: "secret-strength",
        expected: `at least ${settings.minSecretLength} random characters (≥ ${settings.minSecretEntropyBits} bits, no placeholder) in production; try: openssl rand -base64 32`,
      });
    }
  }
  const urls = urlsIn(value);
  if (urls.some((url) => isLocalHost(url.hostname))) {
    out.push({ rule: "no-localhost", expected: "no localhost or loopback URL in production" });
  }
  if (isHttpsVariable(name, settings)) {
    const insecure = value
      .split(/[\s,]+/)
      .filter(Boolean)
      .some((item) => !/^https:\/\/[^/\s]/i.test(item));
    if (insecure) out.push({ rule: "https-origin", expected: "https:// origins only in production" });
  }
  return out;
}
