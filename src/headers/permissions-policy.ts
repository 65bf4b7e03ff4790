import { configError } from "../core/options.js";
import { checkOrigin } from "../core/origin.js";

/**
 * Permissions-Policy: which powerful browser features the page (and frames it embeds) may use.
 * An allowlist is `[]` (nobody), `["self"]`, `["*"]`, or origins (`"https://maps.example"`), optionally
 * with `"self"` / `"src"`.
 */
export type PermissionsPolicy = Readonly<Record<string, readonly string[] | null>>;

/**
 * The default: every sensor, device and tracking feature off for everyone; fullscreen and passkey
 * sign-in (`publickey-credentials-get`) kept for the site itself. Only features current browsers
 * recognise are listed (checked in chromium by the browser suite), so the header causes no console warnings.
 */
export const DEFAULT_PERMISSIONS_POLICY: Readonly<Record<string, readonly string[]>> = Object.freeze({
  accelerometer: [],
  autoplay: [],
  "browsing-topics": [],
  camera: [],
  "display-capture": [],
  "encrypted-media": [],
  fullscreen: ["self"],
  geolocation: [],
  gyroscope: [],
  hid: [],
  "idle-detection": [],
  "local-fonts": [],
  magnetometer: [],
  microphone: [],
  midi: [],
  payment: [],
  "picture-in-picture": [],
  "publickey-credentials-get": ["self"],
  "screen-wake-lock": [],
  serial: [],
  usb: [],
  "window-management": [],
  "xr-spatial-tracking": [],
});

const WHERE = "secureHeaders.permissionsPolicy";
const FEATURE = /^[a-z][a-z0-9-]*$/;

function allowlist(feature: string, list: unknown): string {
  if (!Array.isArray(list)) throw configError(WHERE, `"${feature}" must be an array (use [] to disable it)`);
  if (list.includes("*")) {
    if (list.length > 1) throw configError(WHERE, `"${feature}": "*" cannot be combined with other entries`);
    return "*";
  }
  const items = list.map((entry: unknown) => {
    if (entry === "self" || entry === "src") return entry;
    if (typeof entry !== "string") throw configError(WHERE, `"${feature}" entries must be strings`);
    const check = checkOrigin(entry);
    if (!check.ok) {
      throw configError(
        WHERE,
        `"${feature}" entry "${entry}" is not "self", "src", "*" or an origin: ${check.reason}`,
      );
    }
    return `"${check.origin}"`;
  });
  return `(${items.join(" ")})`;
}

/** Serializes the default merged with `overrides` (`null` drops a feature) as a structured-field dictionary. */
export function compilePermissionsPolicy(overrides: PermissionsPolicy): string {
  if (typeof overrides !== "object" || overrides === null || Array.isArray(overrides)) {
    throw configError(WHERE, "expected an object of feature → allowlist");
  }
  const merged = new Map<string, readonly string[]>(Object.entries(DEFAULT_PERMISSIONS_POLICY));
  for (const [feature, list] of Object.entries(overrides)) {
    if (!FEATURE.test(feature)) throw configError(WHERE, `"${feature}" is not a feature name (kebab-case)`);
    if (list === null) merged.delete(feature);
    else merged.set(feature, list);
  }
  if (merged.size === 0) throw configError(WHERE, "the policy is empty; disable the header instead");
  return [...merged].map(([feature, list]) => `${feature}=${allowlist(feature, list)}`).join(", ");
}
