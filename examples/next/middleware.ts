// Quickstart: bulwark guards in Next.js middleware (middleware.ts; proxy.ts since Next.js 16).
import { CONTINUE, type ContinueOutcome, type Guard, problem } from "bulwark";
import { middleware } from "bulwark/next";

// Outcomes are built once; guards only choose between them.
const BASELINE: ContinueOutcome = {
  action: "continue",
  headers: [["x-content-type-options", "nosniff"]],
  locals: { greeting: "hello" }, // forwarded to routes as the `x-bulwark-greeting` request header
};
const READ_ONLY = problem(403, "ERR_READ_ONLY", "Forbidden");

/** Every matched response gets the baseline headers (Next.js adds them to pages, 404s and errors). */
const baseline: Guard = () => BASELINE;
/** Writes under /admin are refused before any route runs. */
const readOnlyAdmin: Guard = (request) =>
  request.path.startsWith("/admin") && request.method !== "GET" && request.method !== "HEAD"
    ? READ_ONLY
    : CONTINUE;

export default middleware(baseline, readOnlyAdmin);

export const config = { matcher: ["/((?!_next/static|_next/image|favicon.ico).*)"] };
