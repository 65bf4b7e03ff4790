/** What the browser client knows about the server's CSRF protocol. No Node imports. */

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS", "TRACE"]);

/** True for methods the server checks (everything but GET, HEAD, OPTIONS, TRACE). */
export function isUnsafeMethod(method: string | undefined): boolean {
  return !SAFE_METHODS.has((method ?? "GET").toUpperCase());
}

/** True when a problem+json body names a token rejection (`ERR_CSRF_TOKEN_MISSING` / `_INVALID`). */
export function isTokenRejectionBody(body: unknown): boolean {
  let parsed = body;
  if (typeof parsed === "string") {
    try {
      parsed = JSON.parse(parsed);
    } catch {
      return false;
    }
  }
  const code = (parsed as { code?: unknown } | null | undefined)?.code;
  return code === "ERR_CSRF_TOKEN_MISSING" || code === "ERR_CSRF_TOKEN_INVALID";
}

/** True when a fetch `Response` is the server refusing the CSRF token (403 problem+json). */
export async function isTokenRejection(response: Response): Promise<boolean> {
  if (response.status !== 403) return false;
  if (!(response.headers.get("content-type") ?? "").includes("problem+json")) return false;
  try {
    return isTokenRejectionBody(await response.clone().json());
  } catch {
    return false;
  }
}
