// Quickstart: a Next.js App Router route handler wrapped with bulwark guards.
import { CONTINUE, type ContinueOutcome, type Guard, problem } from "bulwark";
import { bulwarkLocals, withGuards } from "bulwark/next";

// Outcomes are built once; guards only choose between them.
const BASELINE: ContinueOutcome = {
  action: "continue",
  headers: [["x-content-type-options", "nosniff"]],
  locals: { greeting: "hello" },
};
const READ_ONLY = problem(403, "ERR_READ_ONLY", "Forbidden");

/** The handler's response (or the 500 if it throws) gets the baseline headers. */
const baseline: Guard = () => BASELINE;
/** Writes are refused before the handler runs. */
const readOnly: Guard = (request) =>
  request.method !== "GET" && request.method !== "HEAD" ? READ_ONLY : CONTINUE;

export const GET = withGuards(
  async (request: Request) => Response.json({ message: bulwarkLocals(request).greeting }),
  baseline,
  readOnly,
);
export const POST = withGuards(async () => Response.json({ written: true }), baseline, readOnly);
