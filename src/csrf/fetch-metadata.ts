import { requestOrigin } from "../core/origin.js";
import type { RequestView } from "../core/request.js";

/**
 * Layer 1 of CSRF protection: Fetch Metadata, as Go 1.25's `http.CrossOriginProtection`, with one
 * deliberate difference: without `Sec-Fetch-Site`, the `Origin` header is compared with the request's
 * full origin (scheme, host and port), not with the `Host` header alone, so an `http://` page cannot
 * post to the `https://` site of the same host.
 *
 * The caller handles safe methods and exempt paths; this only answers "is this unsafe request
 * same-origin or from a trusted origin?".
 */
export interface OriginPolicy {
  /** Origins allowed to make cross-origin unsafe requests, compared exactly. */
  readonly trusted: ReadonlySet<string>;
  /** This application's own origins; when empty, derived from the connection scheme and `Host`. */
  readonly publicOrigins: ReadonlySet<string>;
}

/** True when the request passes the Fetch Metadata / Origin check. */
export function originAllowed(view: RequestView, policy: OriginPolicy): boolean {
  const site = view.header("sec-fetch-site");
  if (site === "same-origin" || site === "none") return true;
  const origin = view.header("origin");
  if (site !== undefined && site !== "") {
    // cross-site, same-site or anything unknown: only an explicitly trusted origin passes.
    return origin !== undefined && policy.trusted.has(origin);
  }
  // No Fetch Metadata: an old browser or a non-browser client.
  if (origin === undefined || origin === "") return true;
  if (policy.trusted.has(origin)) return true;
  if (policy.publicOrigins.size > 0) return policy.publicOrigins.has(origin);
  return origin === requestOrigin(view.protocol, view.header("host"));
}
