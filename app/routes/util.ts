import type { NextFunction, Request, RequestHandler, Response } from "express";
import { parseCookies } from "../../src/auth/index.js";
import { clientIpResolver } from "../../src/core/ip.js";
import type { RespondOutcome } from "../../src/core/outcome.js";
import type { RequestView } from "../../src/core/request.js";
import type { AppContext } from "../context.js";
import type { Role } from "../db/schema.js";
import { problems } from "../http-problem.js";
import { authenticate, type SessionUser } from "../services/accounts.js";

/** Wraps an async handler so rejections reach Express's error handler. */
export function route(handler: (req: Request, res: Response) => Promise<void>): RequestHandler {
  return (req, res, next) => {
    handler(req, res).catch(next);
  };
}

/** The JSON body bulwark's jsonBody() guard parsed for this request (prototype-pollution safe). */
export function bodyOf(res: Response): unknown {
  return res.locals.bulwark?.body;
}

/** Writes a guard-style outcome computed inside a handler (e.g. the login lockout response). */
export function sendOutcome(res: Response, outcome: RespondOutcome): void {
  res.status(outcome.status);
  for (const [name, value] of outcome.headers) res.append(name, value);
  res.send(outcome.body === undefined ? "" : Buffer.from(outcome.body));
}

/** Resolves the client IP the same way bulwark's rate-limit guard does. */
export function ipResolver(trustProxy: number): (req: Request) => string {
  const resolve = clientIpResolver({ trustProxy: trustProxy > 0 ? trustProxy : false });
  return (req) => {
    const view: RequestView = {
      method: req.method,
      url: req.originalUrl,
      path: req.path,
      header: (name) => {
        const v = req.headers[name];
        return Array.isArray(v) ? v.join(", ") : v;
      },
      remoteAddress: req.socket.remoteAddress,
      protocol: "http",
    };
    return resolve(view).key;
  };
}

declare module "express-serve-static-core" {
  interface Locals {
    user?: SessionUser;
  }
}

export interface RequireUserOptions {
  roles?: readonly Role[];
  /** Allow users who still have to change their temporary password (default false). */
  allowPasswordChange?: boolean;
}

/** Authenticates from the access cookie; 401 without a live session, 403 for other roles. */
export function requireUser(ctx: AppContext, options: RequireUserOptions = {}): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    authenticate(ctx, cookieOf(req, ctx.auth.accessCookie.name))
      .then((user) => {
        if (!user) throw problems.unauthenticated();
        if (user.mustChangePassword && !options.allowPasswordChange) throw problems.passwordChangeRequired();
        if (options.roles && !options.roles.includes(user.role)) throw problems.forbidden();
        res.locals.user = user;
        next();
      })
      .catch(next);
  };
}

export function cookieOf(req: Request, name: string): string | undefined {
  return parseCookies(req.headers.cookie ?? "").get(name);
}

export function userOf(res: Response): SessionUser {
  const user = res.locals.user;
  if (!user) throw problems.unauthenticated();
  return user;
}
