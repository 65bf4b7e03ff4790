import type { Response } from "express";

/**
 * An expected refusal from the app's own handlers, answered as RFC 9457 problem+json with a stable
 * code and a fixed title (like bulwark's refusals). Thrown by services, written by `sendProblem`.
 */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    readonly extra: Readonly<Record<string, unknown>> = {},
  ) {
    super(title);
  }
}

export function sendProblem(res: Response, problem: HttpProblem): void {
  res
    .status(problem.status)
    .set("content-type", "application/problem+json")
    .set("cache-control", "no-store")
    .send(
      Buffer.from(
        JSON.stringify({
          type: `https://bulwark.dev/errors/${problem.code}`,
          title: problem.title,
          status: problem.status,
          code: problem.code,
          ...problem.extra,
        }),
      ),
    );
}

export const problems = {
  invalidInput: (issues: readonly { path: string; message: string }[]) =>
    new HttpProblem(400, "ERR_APP_INVALID_INPUT", "The request is invalid", { issues }),
  tokenInvalid: () => new HttpProblem(400, "ERR_APP_TOKEN_INVALID", "This link is invalid or has expired"),
  notFound: () => new HttpProblem(404, "ERR_APP_NOT_FOUND", "Not found"),
  unauthenticated: () => new HttpProblem(401, "ERR_APP_UNAUTHENTICATED", "Sign in required"),
  forbidden: () => new HttpProblem(403, "ERR_APP_FORBIDDEN", "Not allowed"),
  passwordChangeRequired: () =>
    new HttpProblem(403, "ERR_APP_PASSWORD_CHANGE_REQUIRED", "Choose a new password first"),
  loginFailed: () => new HttpProblem(401, "ERR_APP_LOGIN_FAILED", "Wrong e-mail or password"),
  alreadyPaid: () => new HttpProblem(409, "ERR_APP_ALREADY_PAID", "This registration is already paid"),
  conflict: () =>
    new HttpProblem(409, "ERR_APP_STATE_CONFLICT", "This action does not apply in the current state"),
  paymentProvider: () =>
    new HttpProblem(502, "ERR_APP_PAYMENT_PROVIDER", "The payment provider is unavailable"),
};
