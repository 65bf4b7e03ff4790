import sanitize from "sanitize-html";
import { checkKeys, configError } from "../core/options.js";

/**
 * HTML sanitising through an allowlist, with the `sanitize-html` library. Use it on HTML you will
 * render as HTML (a rich-text bio, a lesson description). For everything else, escape on output
 * instead; bulwark deliberately has no global "xss-clean" middleware that mangles every request.
 */

/** Tags kept by default: text formatting, lists, quotes, code, links. No images, media, forms or styles. */
export const DEFAULT_ALLOWED_TAGS: readonly string[] = [
  "p",
  "br",
  "b",
  "strong",
  "i",
  "em",
  "u",
  "s",
  "ul",
  "ol",
  "li",
  "blockquote",
  "code",
  "pre",
  "h2",
  "h3",
  "h4",
  "a",
];

export interface HtmlSanitizerOptions {
  /** Tags to keep; everything else is dropped (its text kept, except inside script/style). Default `DEFAULT_ALLOWED_TAGS`. */
  allowedTags?: readonly string[];
  /** Attributes to keep per tag. Default `{ a: ["href", "title"] }`. */
  allowedAttributes?: Readonly<Record<string, readonly string[]>>;
  /** URL schemes allowed in `href`/`src`. Default `["https", "http", "mailto"]` (no `javascript:`, no `data:`). */
  allowedSchemes?: readonly string[];
  /** `rel` added to every link, so user links pass no referrer, no opener and no ranking. Default `"noopener noreferrer nofollow"`; `false` adds none. */
  linkRel?: string | false;
}

const KNOWN = ["allowedTags", "allowedAttributes", "allowedSchemes", "linkRel"] as const;
const DANGEROUS = new Set([
  "script",
  "style",
  "iframe",
  "object",
  "embed",
  "svg",
  "math",
  "form",
  "textarea",
  "xmp",
]);

function names(where: string, key: string, value: unknown, fallback: readonly string[]): string[] {
  if (value === undefined) return [...fallback];
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string" || !/^[a-z][a-z0-9-]*$/i.test(v))) {
    throw configError(where, `"${key}" must be an array of names`);
  }
  return value.map((v: string) => v.toLowerCase());
}

/** Creates a sanitiser with a fixed allowlist (resolved once). */
export function htmlSanitizer(options: HtmlSanitizerOptions = {}): (dirty: string) => string {
  const where = "htmlSanitizer";
  const o = checkKeys(where, options, KNOWN);
  const allowedTags = names(where, "allowedTags", o.allowedTags, DEFAULT_ALLOWED_TAGS);
  for (const tag of allowedTags) {
    if (DANGEROUS.has(tag))
      throw configError(where, `"${tag}" cannot be allowed: it can run or smuggle code`);
  }
  const attributes = (o.allowedAttributes ?? { a: ["href", "title"] }) as Record<string, unknown>;
  if (typeof attributes !== "object" || attributes === null) {
    throw configError(where, `"allowedAttributes" must be an object of tag → attribute names`);
  }
  const allowedAttributes: Record<string, string[]> = {};
  for (const [tag, attrs] of Object.entries(attributes)) {
    const list = names(where, `allowedAttributes.${tag}`, attrs, []);
    for (const attr of list) {
      if (attr.startsWith("on") || attr === "style" || attr === "srcdoc") {
        throw configError(where, `attribute "${attr}" cannot be allowed`);
      }
    }
    allowedAttributes[tag.toLowerCase()] = list;
  }
  const allowedSchemes = names(where, "allowedSchemes", o.allowedSchemes, ["https", "http", "mailto"]);
  for (const scheme of allowedSchemes) {
    if (scheme === "javascript" || scheme === "data" || scheme === "vbscript") {
      throw configError(where, `scheme "${scheme}" cannot be allowed`);
    }
  }
  const linkRel = o.linkRel ?? "noopener noreferrer nofollow";
  if (linkRel !== false && (typeof linkRel !== "string" || linkRel.length === 0)) {
    throw configError(where, `"linkRel" must be a non-empty string or false`);
  }

  const config: sanitize.IOptions = {
    allowedTags,
    allowedAttributes,
    allowedSchemes,
    allowedSchemesByTag: {},
    allowProtocolRelative: false,
    disallowedTagsMode: "discard",
    parseStyleAttributes: false,
    ...(linkRel === false
      ? {}
      : { transformTags: { a: sanitize.simpleTransform("a", { rel: linkRel as string }, true) } }),
  };
  if (linkRel !== false) {
    const forA = config.allowedAttributes as Record<string, string[]>;
    forA.a = [...new Set([...(forA.a ?? []), "rel"])];
  }
  return (dirty) => (typeof dirty === "string" ? sanitize(dirty, config) : "");
}

let defaultSanitizer: ((dirty: string) => string) | undefined;

/** Sanitises HTML with the default allowlist (see `htmlSanitizer`). */
export function sanitizeHtml(dirty: string): string {
  defaultSanitizer ??= htmlSanitizer();
  return defaultSanitizer(dirty);
}
