import { domainToASCII } from "node:url";

/**
 * Text and e-mail normalisation for values you store and compare (names, titles, addresses).
 * Apply it to the fields you choose, after validation; never to the whole request.
 */

export interface NormalizeTextOptions {
  /** Unicode normalisation form. NFKC also folds compatibility forms (full-width letters, ligatures). Default `"NFC"`. */
  form?: "NFC" | "NFKC";
  /** Keep line breaks (as `\n`) and tabs; when false they become spaces. Default `true`. */
  allowNewlines?: boolean;
  /** Collapse runs of spaces/tabs to one space (and, without newlines, everything to one line). Default `false`. */
  collapseWhitespace?: boolean;
  /** Trim surrounding whitespace. Default `true`. */
  trim?: boolean;
}

/** Lone surrogates, which cannot be encoded as UTF-8. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
/**
 * Control and invisible characters removed: C0 controls except tab and line feed, DEL, C1 controls,
 * bidirectional embeddings/overrides/isolates (the "Trojan Source" characters), zero-width space, word
 * joiner and BOM. Zero-width (non-)joiners stay: emoji sequences and several scripts need them.
 */
const CONTROL =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069\u200B\u2060\uFEFF]/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
const SPACE_OR_CONTROL = /[\s\u0000-\u001F\u007F]/;

/** Normalises user text: well-formed Unicode, NFC (or NFKC), no control or bidi-override characters, LF line ends, trimmed. */
export function normalizeText(value: string, options: NormalizeTextOptions = {}): string {
  const allowNewlines = options.allowNewlines ?? true;
  let out = value.replace(LONE_SURROGATE, "\uFFFD").replace(/\r\n?/g, "\n").replace(CONTROL, "");
  if (!allowNewlines) out = out.replace(/[\n\t]/g, " ");
  out = out.normalize(options.form ?? "NFC");
  if (options.collapseWhitespace === true) {
    out = out.replace(/[ \t]+/g, " ").replace(/ ?\n ?/g, "\n");
  }
  return options.trim === false ? out : out.trim();
}

export type EmailDecision =
  | { readonly ok: true; readonly email: string }
  | { readonly ok: false; readonly code: "ERR_EMAIL_INVALID" };

export interface NormalizeEmailOptions {
  /**
   * Lower-case the local part. RFC 5321 lets servers treat it as case-sensitive, but virtually none do,
   * and treating `Ann@x.org` and `ann@x.org` as two accounts is the bigger risk. Default `true`.
   */
  lowercaseLocalPart?: boolean;
}

const INVALID: EmailDecision = Object.freeze({ ok: false, code: "ERR_EMAIL_INVALID" });
/** RFC 5322 dot-atom characters, plus any Unicode letter, mark or number (RFC 6531 addresses). */
const LOCAL_ATOM = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~\p{L}\p{M}\p{N}-]+$/u;
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/**
 * Normalises an e-mail address for storage and comparison: trimmed, NFC, domain lower-cased and
 * converted to its ASCII (punycode) form, local part lower-cased by default. Refuses anything that is
 * not `dot-atom@domain` with a dotted, valid host name: quoted local parts, comments, IP literals,
 * control characters, more than 64/253/254 characters. Provider-specific rewriting (dropping dots or
 * `+tags` for Gmail) is never done: it changes which mailbox an address names.
 */
export function normalizeEmail(value: string, options: NormalizeEmailOptions = {}): EmailDecision {
  if (typeof value !== "string") return INVALID;
  const trimmed = value.trim().normalize("NFC");
  if (trimmed.length === 0 || trimmed.length > 320) return INVALID;
  const at = trimmed.lastIndexOf("@");
  if (at <= 0 || at === trimmed.length - 1) return INVALID;
  let local = trimmed.slice(0, at);
  const domainPart = trimmed.slice(at + 1);
  if (local.length > 64) return INVALID;
  const atoms = local.split(".");
  if (atoms.some((a) => a.length === 0 || !LOCAL_ATOM.test(a))) return INVALID;
  if (domainPart.startsWith("[") || SPACE_OR_CONTROL.test(domainPart)) return INVALID;
  const domain = domainToASCII(domainPart.toLowerCase());
  if (domain === "" || domain.length > 253) return INVALID;
  const labels = domain.split(".");
  if (labels.length < 2 || labels.some((l) => !LABEL.test(l))) return INVALID;
  if (/^[0-9]+$/.test(labels[labels.length - 1] as string)) return INVALID;
  if (options.lowercaseLocalPart !== false) local = local.toLowerCase();
  const email = `${local}@${domain}`;
  return email.length > 254 ? INVALID : { ok: true, email };
}
