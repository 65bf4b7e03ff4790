import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";

/**
 * Every example in examples/ runs as a real process, importing `bulwark/<adapter>` as an application
 * would (test/examples/resolve-bulwark.mjs maps those imports to the sources), and answers requests.
 */

const root = fileURLToPath(new URL("../", import.meta.url));
const NODE_ARGS = ["--import", "tsx", "--import", "./test/examples/resolve-bulwark.mjs"];
const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) child.kill();
});

function run(file: string, until: RegExp): Promise<{ match: RegExpMatchArray; child: ChildProcess }> {
  const child = spawn(process.execPath, [...NODE_ARGS, file], {
    cwd: root,
    env: { ...process.env, PORT: "0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const match = out.match(until);
      if (match) resolve({ match, child });
    });
    child.stderr!.on("data", (chunk: Buffer) => {
      err += chunk.toString();
    });
    child.on("exit", (code) => reject(new Error(`${file} exited with ${code}: ${err || out}`)));
  });
}

describe.each(["node", "express", "fastify", "hono"])("examples/%s.ts", (name) => {
  it("sends the secure headers everywhere and answers the 4th booking in a minute with 429", async () => {
    const { match } = await run(`examples/${name}.ts`, /listening on (http:\/\/127\.0\.0\.1:\d+)/);
    const url = match[1]!;
    for (let i = 1; i <= 3; i++) {
      const ok = await fetch(`${url}/bookings`, { method: "POST" });
      expect(ok.status).toBe(201);
      expect(await ok.json()).toEqual({ booked: true, nonce: "string" });
      expect(ok.headers.get("x-content-type-options")).toBe("nosniff");
      expect(ok.headers.get("strict-transport-security")).toBe("max-age=31536000; includeSubDomains");
      expect(ok.headers.get("ratelimit-policy")).toContain('"bookings";q=3;w=60');
      expect(ok.headers.get("ratelimit")).toContain(`r=${3 - i}`);
      if (name === "express") expect(ok.headers.get("x-powered-by")).toBeNull();
    }
    const denied = await fetch(`${url}/bookings`, { method: "POST" });
    expect(denied.status).toBe(429);
    expect(Number(denied.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(denied.headers.get("content-type")).toBe("application/problem+json");
    expect(denied.headers.get("x-content-type-options")).toBe("nosniff");
    expect(await denied.json()).toMatchObject({ status: 429, code: "ERR_RATELIMIT_EXCEEDED" });
    const missing = await fetch(`${url}/missing`);
    expect(missing.status).toBe(404);
    // Express's final handler replaces the CSP of its own 404 with the stricter `default-src 'none'`.
    expect(missing.headers.get("content-security-policy")).toMatch(/^default-src '(self|none)'/);
    expect(missing.headers.get("cross-origin-opener-policy")).toBe("same-origin");
    expect(missing.headers.get("ratelimit")).toBeNull();
  });
});

describe("examples/next", () => {
  it("the route handler and the middleware answer real NextRequests", async () => {
    const { match } = await run("test/examples/next-runner.ts", /^(\{.*\})$/m);
    const got = JSON.parse(match[1]!) as Record<string, Record<string, unknown>>;
    expect(got.get).toEqual({
      status: 200,
      nosniff: "nosniff",
      next: null,
      greeting: null,
      body: '{"message":"hello"}',
    });
    expect(got.post).toMatchObject({ status: 403, nosniff: "nosniff" });
    expect(JSON.parse(String(got.post!.body))).toMatchObject({ code: "ERR_READ_ONLY" });
    expect(got.pass).toEqual({ status: 200, nosniff: "nosniff", next: "1", greeting: "hello", body: null });
    expect(got.deny).toMatchObject({ status: 403, nosniff: "nosniff", next: null });
  });
});

describe("docs/adapters.md", () => {
  it("shows every example file verbatim as a code block", () => {
    const docs = readFileSync(`${root}docs/adapters.md`, "utf8");
    const blocks = [...docs.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
    for (const file of [
      "examples/node.ts",
      "examples/express.ts",
      "examples/fastify.ts",
      "examples/hono.ts",
      "examples/next/app/api/hello/route.ts",
      "examples/next/middleware.ts",
    ]) {
      expect(blocks, file).toContain(readFileSync(`${root}${file}`, "utf8"));
    }
  });
});
