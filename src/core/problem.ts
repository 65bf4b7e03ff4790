import type { HeaderList, RespondOutcome } from "./outcome.js";

/**
 * An RFC 9457 `application/problem+json` response. The body carries a stable `code` and a fixed
 * `title` per code, never request data or secrets, so rejections cannot be used as an oracle.
 */
export function problem(
  status: number,
  code: string,
  title: string,
  headers: HeaderList = [],
  extra: Readonly<Record<string, string | number>> = {},
): RespondOutcome {
  const body = JSON.stringify({ type: `https://bulwark.dev/errors/${code}`, title, status, code, ...extra });
  return {
    action: "respond",
    status,
    headers: [["content-type", "application/problem+json"], ["cache-control", "no-store"], ...headers],
    body,
  };
}
