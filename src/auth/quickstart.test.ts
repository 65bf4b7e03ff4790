import { describe, expect, it } from "vitest";
import { memoryLogger } from "../core/logger.js";
import type { RequestView } from "../core/request.js";
import { viewFromParts } from "../core/request.js";
import {
  accessTokens,
  bearerGuard,
  generateAccessTokenKey,
  type LoginThrottle,
  loginProblem,
  memoryAuthStore,
  passwordHasher,
  passwordLogin,
  refreshTokens,
  sessionCookie,
} from "./index.js";

// docs/auth.md's quickstart, with a memory store, an in-memory user table and a throttle stand-in
// (loginGuard lives in bulwark/ratelimit).
const hasher = passwordHasher({
  memoryCostKiB: 1024,
  timeCost: 1,
  dangerouslyAllowWeakParameters: true,
  logger: memoryLogger(),
});
const table = new Map<string, { id: string; passwordHash: string }>();
const users = {
  findByEmail: async (email: string) => table.get(email),
  setPasswordHash: async (id: string, hash: string) => {
    for (const u of table.values()) if (u.id === id) u.passwordHash = hash;
  },
};
const allowAll: LoginThrottle = {
  check: async () => ({ allowed: true, retryAfterMs: 0 }),
  recordFailure: async () => {},
  recordSuccess: async () => {},
};

const store = memoryAuthStore();
const login = passwordLogin({
  findAccount: (email) => users.findByEmail(email),
  hasher,
  throttle: allowAll,
  onRehash: (user, hash) => users.setPasswordHash(user.id, hash),
});
const sessions = refreshTokens({ store });
const tokens = accessTokens({
  keys: [await generateAccessTokenKey("EdDSA", "2026-01")],
  issuer: "https://school.example",
  audience: "school-api",
});
const refreshCookie = sessionCookie({ name: "__Host-refresh", maxAgeSeconds: 14 * 86_400 });

const json = (status: number, body: unknown, headers: Array<[string, string]> = []) => ({
  status,
  headers: [["content-type", "application/json"], ["cache-control", "no-store"], ...headers] as Array<
    [string, string]
  >,
  body: body === undefined ? "" : JSON.stringify(body),
});

async function postLogin(view: RequestView, body: { email: string; password: string }, ip: string) {
  const r = await login({ identifier: body.email, password: body.password, ip });
  if (!r.ok) return loginProblem(r);
  const s = await sessions.issue(r.account.id, { userAgent: view.header("user-agent"), ip });
  return json(200, { accessToken: await tokens.sign(r.account.id) }, [
    ["set-cookie", refreshCookie.serialize(s.token)],
  ]);
}

async function postRefresh(view: RequestView, ip: string) {
  const next = await sessions.rotate(refreshCookie.read(view) ?? "", { ip });
  if (!next.ok) return json(401, { code: next.code }, [["set-cookie", refreshCookie.clear()]]);
  return json(200, { accessToken: await tokens.sign(next.accountId) }, [
    ["set-cookie", refreshCookie.serialize(next.token)],
  ]);
}

async function postLogout(view: RequestView) {
  const token = refreshCookie.read(view);
  if (token !== undefined) await sessions.revoke(token);
  return json(200, { ok: true }, [["set-cookie", refreshCookie.clear()]]);
}

const requireUser = bearerGuard(tokens);

/** The cookie pair a browser would send back from a Set-Cookie header. */
function cookieFrom(headers: ReadonlyArray<readonly [string, string]>): string {
  const set = headers.find(([name]) => name === "set-cookie")?.[1] ?? "";
  return set.split(";")[0] as string;
}

describe("docs/auth.md quickstart", () => {
  it("logs in, calls the API, refreshes, detects a replayed cookie and logs out", async () => {
    table.set("parent@example.com", {
      id: "parent-1",
      passwordHash: "$2a$06$If6bvum7DFjUnE9p2uDeDu0YHzrHM6tf.iqN8.yx.jNN1ILEf7h0i", // legacy bcrypt of "abc"
    });
    const ip = "198.51.100.4";
    const view = (cookie?: string, authorization?: string) =>
      viewFromParts({ headers: { cookie, authorization, "user-agent": "Quickstart/1.0" } });

    const bad = await postLogin(view(), { email: "nobody@example.com", password: "x" }, ip);
    expect(bad.status).toBe(401);

    const ok = await postLogin(view(), { email: "parent@example.com", password: "abc" }, ip);
    expect(ok.status).toBe(200);
    expect(table.get("parent@example.com")?.passwordHash).toMatch(/^\$argon2id\$/); // rehashed
    const first = cookieFrom(ok.headers);
    expect(first).toMatch(/^__Host-refresh=[A-Za-z0-9_-]{43}$/);
    const { accessToken } = JSON.parse(String(ok.body));
    const api = await requireUser(view(undefined, `Bearer ${accessToken}`));
    expect(api).toMatchObject({ action: "continue", locals: { auth: { subject: "parent-1" } } });

    const refreshed = await postRefresh(view(first), ip);
    expect(refreshed.status).toBe(200);
    const second = cookieFrom(refreshed.headers);
    expect(second).not.toBe(first);
    expect((await sessions.listSessions("parent-1")).map((s) => s.userAgent)).toEqual(["Quickstart/1.0"]);

    // A replay of the first cookie (stolen, or a second tab) revokes the session.
    expect((await postRefresh(view(first), ip)).status).toBe(401);
    expect((await postRefresh(view(second), ip)).status).toBe(401);

    const again = cookieFrom(
      (await postLogin(view(), { email: "parent@example.com", password: "abc" }, ip)).headers,
    );
    const out = await postLogout(view(again));
    expect(cookieFrom(out.headers)).toBe("__Host-refresh=");
    expect((await postRefresh(view(again), ip)).status).toBe(401);
  });
});
