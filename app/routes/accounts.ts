import { type Request, type Response, Router } from "express";
import { protect } from "../../src/adapters/express/index.js";
import { loginProblem } from "../../src/auth/index.js";
import type { Guard } from "../../src/core/outcome.js";
import { jsonBody } from "../../src/hygiene/index.js";
import type { AppContext } from "../context.js";
import { problems } from "../http-problem.js";
import {
  changePassword,
  completePasswordReset,
  type IssuedSession,
  login,
  logout,
  refresh,
  type SessionUser,
} from "../services/accounts.js";
import {
  changePasswordInput,
  loginInput,
  parse,
  resetCompleteInput,
  resetRequestInput,
} from "../services/input.js";
import { bodyOf, cookieOf, requireUser, route, sendOutcome, userOf } from "./util.js";

function caller(req: Request, ip: string) {
  return { ip, userAgent: req.get("user-agent") };
}

function publicUser(user: SessionUser) {
  return {
    id: user.id,
    name: user.name,
    email: user.email,
    role: user.role,
    mustChangePassword: user.mustChangePassword,
    school: { slug: user.schoolSlug, name: user.schoolName },
  };
}

function setSession(ctx: AppContext, res: Response, session: IssuedSession): void {
  res.append("set-cookie", ctx.auth.accessCookie.serialize(session.accessToken));
  res.append("set-cookie", ctx.auth.refreshCookie.serialize(session.refreshToken));
  res.set("cache-control", "no-store");
}

function clearSession(ctx: AppContext, res: Response): void {
  res.append("set-cookie", ctx.auth.accessCookie.clear());
  res.append("set-cookie", ctx.auth.refreshCookie.clear());
  res.set("cache-control", "no-store");
}

/**
 * Login (bulwark/auth's passwordLogin with bulwark/ratelimit's loginGuard as throttle), refresh
 * rotation, logout, password change and reset. Every state-changing route is behind the global CSRF
 * guard.
 */
export function accountRoutes(
  ctx: AppContext,
  deps: { resetLimit: Guard; clientIp: (req: Request) => string },
): Router {
  const r = Router();
  const json = jsonBody({ maxBytes: 8 * 1024 });

  r.post(
    "/api/auth/login",
    protect(json),
    route(async (req, res) => {
      const input = parse(loginInput, bodyOf(res));
      const result = await login(ctx, input.email, input.password, caller(req, deps.clientIp(req)));
      // 401 / 429 (locked) / 503 (hasher busy): the same bytes whether or not the account exists.
      if (!result.ok) return sendOutcome(res, loginProblem(result));
      setSession(ctx, res, result.session);
      res.json({ user: publicUser(result.session.user) });
    }),
  );

  r.post(
    "/api/auth/refresh",
    route(async (req, res) => {
      const session = await refresh(
        ctx,
        cookieOf(req, ctx.auth.refreshCookie.name),
        caller(req, deps.clientIp(req)),
      );
      if (!session) {
        clearSession(ctx, res);
        throw problems.unauthenticated();
      }
      setSession(ctx, res, session);
      res.json({ user: publicUser(session.user) });
    }),
  );

  r.post(
    "/api/auth/logout",
    requireUser(ctx, { allowPasswordChange: true }),
    route(async (_req, res) => {
      await logout(ctx, userOf(res));
      clearSession(ctx, res);
      res.status(204).end();
    }),
  );

  r.get(
    "/api/auth/me",
    requireUser(ctx, { allowPasswordChange: true }),
    route(async (_req, res) => {
      res.set("cache-control", "no-store").json({ user: publicUser(userOf(res)) });
    }),
  );

  r.post(
    "/api/auth/change-password",
    requireUser(ctx, { allowPasswordChange: true }),
    protect(json),
    route(async (req, res) => {
      const input = parse(changePasswordInput, bodyOf(res));
      await changePassword(
        ctx,
        userOf(res),
        input.currentPassword,
        input.newPassword,
        caller(req, deps.clientIp(req)),
      );
      res.json({ user: publicUser({ ...userOf(res), mustChangePassword: false }) });
    }),
  );

  r.post(
    "/api/auth/password-reset",
    protect(deps.resetLimit, json),
    route(async (_req, res) => {
      const input = parse(resetRequestInput, bodyOf(res));
      // One fixed answer, sent before the account-dependent work runs (bulwark/auth enumerationSafe).
      sendOutcome(res, ctx.auth.passwordReset(input.email));
    }),
  );

  r.post(
    "/api/auth/password-reset/complete",
    protect(json),
    route(async (_req, res) => {
      const input = parse(resetCompleteInput, bodyOf(res));
      await completePasswordReset(ctx, input.school, input.token, input.newPassword);
      clearSession(ctx, res);
      res.json({ status: "changed" });
    }),
  );

  return r;
}
