/**
 * How a value is described in a report: what kind of value came, never a secret's content.
 */

const MAX_SHOWN = 60;

/** Estimated entropy in bits: length × Shannon entropy of the value's own character distribution. */
export function entropyBits(value: string): number {
  const chars = [...value];
  if (chars.length === 0) return 0;
  const counts = new Map<string, number>();
  for (const c of chars) counts.set(c, (counts.get(c) ?? 0) + 1);
  let perChar = 0;
  for (const n of counts.values()) {
    const p = n / chars.length;
    perChar -= p * Math.log2(p);
  }
  return perChar * chars.length;
}

const URL_LIKE = /^[a-z][a-z0-9+.-]*:\/\//i;
const CREDENTIAL_PREFIX = /^(?:sk|rk|pk)_(?:live|test)_|^whsec_|^gh[pousr]_|^xox[abpr]-|^AKIA[0-9A-Z]{12}/;

/** True when the value has the shape of a URL (`scheme://…`). */
export function isUrlLike(value: string): boolean {
  return URL_LIKE.test(value);
}

/**
 * True when a value in a variable not declared secret still looks like a credential: a known token
 * prefix, a URL with a password, or a long, space-free, high-entropy string.
 */
export function looksLikeCredential(value: string): boolean {
  if (CREDENTIAL_PREFIX.test(value)) return true;
  if (isUrlLike(value)) return /^[a-z][a-z0-9+.-]*:\/\/[^/@\s]*:[^/@\s]*@/i.test(value);
  return value.length >= 24 && !/\s/.test(value) && entropyBits(value) / [...value].length >= 4;
}

/** Escapes control characters so a value or message cannot break a terminal or a log line. */
export function printable(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    const code = c.charCodeAt(0);
    return code === 10
      ? "\\n"
      : code === 13
        ? "\\r"
        : code === 9
          ? "\\t"
          : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

/** Whether a value may be shown in a report. */
export function hidden(value: string, secret: boolean): boolean {
  return secret || looksLikeCredential(value);
}

/** What kind of value came: `missing`, `empty`, a hidden description, or the quoted value itself. */
export function describeReceived(raw: string | undefined, secret: boolean): string {
  if (raw === undefined) return "missing";
  if (raw === "") return "empty";
  const length = [...raw].length;
  if (secret) return `a ${length}-character value (hidden)`;
  if (looksLikeCredential(raw)) return `a ${length}-character value (hidden: looks like a credential)`;
  const shown = length > MAX_SHOWN ? `${[...raw].slice(0, MAX_SHOWN).join("")}…` : raw;
  return printable(JSON.stringify(shown));
}

/**
 * Removes a hidden value from a validator's message: some libraries quote the received input
 * (valibot: `Invalid email: Received "…"`). Short values are only removed where quoted.
 */
export function scrub(message: string, raw: string | undefined, secret: boolean): string {
  if (raw === undefined || raw === "" || !hidden(raw, secret)) return printable(message);
  let out = message.split(JSON.stringify(raw)).join('"[redacted]"');
  if (raw.length >= 4) out = out.split(raw).join("[redacted]");
  return printable(out);
}
