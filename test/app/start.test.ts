import { type ChildProcess, spawn } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";

/**
 * `npm start` as a user runs it: a child process on embedded defaults, no server needed. It prints
 * its URL and the admin logins, serves the SPA and the API, and shuts down cleanly on SIGTERM.
 */
describe("npm start", () => {
  let child: ChildProcess | undefined;
  afterAll(() => {
    if (child && child.exitCode === null) child.kill("SIGKILL");
  });

  it("starts on embedded defaults, prints the URL and admin login, serves pages and API, and stops on SIGTERM", async () => {
    child = spawn(process.execPath, ["--import", "tsx", "app/server.ts"], {
      env: {
        ...process.env,
        PORT: "0",
        NODE_ENV: "development",
        DATABASE_URL: "",
        REDIS_URL: "",
        SMTP_URL: "",
        STRIPE_SECRET_KEY: "",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout!.on("data", (c) => {
      out += String(c);
    });
    child.stderr!.on("data", () => {});
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no URL printed:\n${out}`)), 60_000);
      child!.stdout!.on("data", () => {
        const m = /Music school running at (http:\/\/\S+)/.exec(out);
        if (m && out.includes("Database:")) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      child!.once("exit", (code) => reject(new Error(`exited ${code}:\n${out}`)));
    });
    expect(out).toMatch(/admin login: admin@riverside\.test \/ \S+/);
    expect(out).toContain("Stripe: local simulator");
    const page = await fetch(`${url}/book/riverside`);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<script nonce="[^"]+" type="module"/);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    expect(((await (await fetch(`${url}/api/schools`)).json()) as unknown[]).length).toBe(2);
    const exit = new Promise<number | null>((resolve) => child!.once("exit", (code) => resolve(code)));
    child.kill("SIGTERM");
    expect(await exit).toBe(0);
  }, 90_000);
});
