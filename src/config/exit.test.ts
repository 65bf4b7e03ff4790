import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { defineConfig } from "./define.js";
import { loadConfigOrExit } from "./exit.js";
import { formatProblems } from "./table.js";

const STRONG = "q7Vt2LxP9mWc4RzK8sNf3HjB6dYg1AeU";

class Exit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

function guarded(env: Record<string, string>, extra: { exitCode?: number } = {}) {
  let written = "";
  const definition = defineConfig({
    PORT: z.coerce.number().default(3000),
    SESSION_SECRET: z.string().min(32),
  });
  try {
    const config = loadConfigOrExit(definition, {
      env,
      write: (text) => {
        written += text;
      },
      exit: (code) => {
        throw new Exit(code);
      },
      ...extra,
    });
    return { config, written, code: undefined };
  } catch (error) {
    if (error instanceof Exit) return { config: undefined, written, code: error.code };
    throw error;
  }
}

describe("formatProblems", () => {
  it("prints one aligned row per problem with a header and a closing line", () => {
    const text = formatProblems(
      [
        {
          variable: "PORT",
          expected: "Invalid input: expected number, received NaN",
          received: '"abc"',
          rule: "schema",
        },
        {
          variable: "SESSION_SECRET",
          expected: "Too small",
          received: "a 5-character value (hidden)",
          rule: "schema",
        },
      ],
      false,
    );
    expect(text).toBe(
      [
        "Invalid environment: 2 problems",
        "",
        "  VARIABLE        EXPECTED                                      RECEIVED",
        "  ──────────────  ────────────────────────────────────────────  ────────",
        '  PORT            Invalid input: expected number, received NaN  "abc"',
        "  SESSION_SECRET  Too small                                     a 5-character value (hidden)",
        "",
        "Secret values are never shown. Fix the variables above, then start again.",
      ].join("\n"),
    );
  });

  it("wraps long expectations, says when production rules are on, and escapes control characters", () => {
    const text = formatProblems(
      [
        {
          variable: "SESSION\nSECRET",
          expected:
            "at least 32 random characters (≥ 96 bits, no placeholder) in production; try: openssl rand -base64 32",
          received: "a 5-character value (hidden)",
          rule: "secret-strength",
        },
      ],
      true,
    );
    expect(text.split("\n").slice(0, 6)).toEqual([
      "Invalid environment: 1 problem (production rules on: NODE_ENV=production)",
      "",
      "  VARIABLE         EXPECTED                                                      RECEIVED",
      "  ───────────────  ────────────────────────────────────────────────────────────  ────────",
      "  SESSION\\nSECRET  at least 32 random characters (≥ 96 bits, no placeholder) in  a 5-character value (hidden)",
      "                   production; try: openssl rand -base64 32",
    ]);
  });
});

describe("loadConfigOrExit", () => {
  it("returns the config when the environment is valid, writing nothing", () => {
    const { config, written, code } = guarded({ SESSION_SECRET: STRONG, PORT: "8080" });
    expect(code).toBeUndefined();
    expect(written).toBe("");
    expect(config?.PORT).toBe(8080);
  });

  it("prints the table and exits 78 when anything is wrong", () => {
    const { written, code } = guarded({ SESSION_SECRET: "abc", PORT: "x" });
    expect(code).toBe(78);
    expect(written).toContain("Invalid environment: 2 problems");
    expect(written).toContain("SESSION_SECRET");
    expect(written).toContain("a 3-character value (hidden)");
    expect(written.endsWith("start again.\n")).toBe(true);
  });

  it("uses a custom non-zero exit code and never exits 0 on failure", () => {
    expect(guarded({}, { exitCode: 1 }).code).toBe(1);
    expect(guarded({}, { exitCode: 0 }).code).toBe(78);
  });

  it("stops a real process before it serves, with the table on stderr", () => {
    const fixture = fileURLToPath(new URL("./fixtures/start-guard.ts", import.meta.url));
    const secret = "sk_test_abcdefghijklmnopqrstuvwxyz0123";
    const run = (env: Record<string, string>) =>
      spawnSync(process.execPath, ["--import", "tsx", fixture], {
        env: { PATH: process.env.PATH ?? "", ...env },
        encoding: "utf8",
        timeout: 15_000,
      });
    const bad = run({
      NODE_ENV: "production",
      DATABASE_URL: "postgres://localhost/app",
      SESSION_SECRET: secret,
      CORS_ORIGIN: "http://app.example.com",
    });
    expect(bad.status).toBe(78);
    expect(bad.stdout).toBe("");
    expect(bad.stderr).toContain(
      "Invalid environment: 3 problems (production rules on: NODE_ENV=production)",
    );
    for (const variable of ["DATABASE_URL", "SESSION_SECRET", "CORS_ORIGIN"])
      expect(bad.stderr).toContain(variable);
    expect(bad.stderr).not.toContain(secret);
    expect(bad.stderr).not.toContain("postgres://localhost");

    const good = run({
      DATABASE_URL: "postgres://db/app",
      SESSION_SECRET: STRONG,
      CORS_ORIGIN: "https://a.example",
    });
    expect(good.stderr).toBe("");
    expect(good.stdout).toBe("serving on 3000\n");
    expect(good.status).toBe(0);
  });
});
