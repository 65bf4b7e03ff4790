import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isConfigDefinition } from "../config/define.js";
import { appConfig } from "./fixtures/app-config.js";
import { importWithTsx } from "./load-module.js";
import { run } from "./run.js";

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const STRONG = "q7Vt2LxP9mWc4RzK8sNf3HjB6dYg1AeU";
const VALID_ENV = `# app
PORT=8080
DATABASE_URL=postgres://app@db.internal/app
SESSION_SECRET=${STRONG}
CORS_ORIGIN=https://app.example.com
`;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "bulwark-cli-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function cli(...argv: string[]) {
  let stdout = "";
  let stderr = "";
  const code = await run(argv, {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    cwd: dir,
  });
  return { code, stdout, stderr };
}

describe("bulwark dispatcher", () => {
  it("prints usage and exits 2 without a command, 0 with --help", async () => {
    const bare = await cli();
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain("Usage: bulwark <command>");
    expect(bare.stderr).toMatch(/ {2}env {2}write \.env\.example/);
    const help = await cli("--help");
    expect(help.code).toBe(0);
    expect(help.stdout).toBe(bare.stderr);
  });

  it("refuses an unknown command with a hint", async () => {
    const result = await cli("evn", "check");
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('bulwark: unknown command "evn" — did you mean "env"?');
    expect((await cli("__proto__")).code).toBe(2);
  });
});

describe("bulwark env", () => {
  it("prints its usage: exit 2 without a subcommand, 0 with --help, 2 for an unknown one", async () => {
    expect((await cli("env")).code).toBe(2);
    const help = await cli("env", "--help");
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("bulwark env check --schema <module>");
    expect((await cli("env", "check", "--help")).code).toBe(0);
    const unknown = await cli("env", "lint");
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe('bulwark env: unknown subcommand "env lint"\n');
  });

  it("refuses usage errors with exit 2 and one line, no stack", async () => {
    const cases: Array<[string[], string]> = [
      [["env", "check"], "--schema <module> is required"],
      [["env", "check", "--schema", "missing.ts"], "no such file: missing.ts"],
      [["env", "check", "--schema", fixture("app-config.ts"), "--bogus"], "Unknown option '--bogus'"],
      [["env", "example", "--schema", fixture("no-config.ts")], "exports no defineConfig(...) definition"],
      [
        ["env", "example", "--schema", fixture("two-configs.ts")],
        "several definitions (web, worker); choose one with --export",
      ],
      [
        ["env", "example", "--schema", fixture("app-config.ts"), "--export", "unrelated"],
        'export "unrelated"',
      ],
      [
        ["env", "example", "--schema", fixture("object-config.ts"), "--out", "-"],
        "does not expose its fields",
      ],
      [
        ["env", "check", "--schema", fixture("app-config.ts"), "--env-file", "nope.env"],
        "no such env file: nope.env",
      ],
    ];
    for (const [argv, message] of cases) {
      const result = await cli(...argv);
      expect(result.code, argv.join(" ")).toBe(2);
      expect(result.stderr).toContain(message);
      expect(result.stderr).not.toContain("    at ");
    }
  });

  describe("example", () => {
    it("writes .env.example in the working directory from the only definition of the module", async () => {
      const result = await cli("env", "example", "--schema", fixture("app-config.ts"));
      expect(result).toEqual({ code: 0, stdout: "wrote .env.example (5 variables)\n", stderr: "" });
      expect(readFileSync(join(dir, ".env.example"), "utf8")).toBe(appConfig.example());
      expect(appConfig.example()).toContain("# Signs session cookies.\n# (secret, required)");
    });

    it("prints to stdout with --out - and picks a definition with --export", async () => {
      const result = await cli(
        "env",
        "example",
        "--schema",
        fixture("two-configs.ts"),
        "--export",
        "worker",
        "--out",
        "-",
      );
      expect(result.code).toBe(0);
      expect(result.stdout).toContain("# (required)\nQUEUE_URL=\n");
      expect(result.stdout).not.toContain("PORT");
    });

    it("refuses to overwrite a file it did not write unless --force, and regenerates its own", async () => {
      writeFileSync(join(dir, ".env"), `SESSION_SECRET=${STRONG}\n`);
      const refused = await cli("env", "example", "--schema", fixture("app-config.ts"), "--out", ".env");
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain("refusing to overwrite .env");
      expect(readFileSync(join(dir, ".env"), "utf8")).toContain(STRONG);
      expect((await cli("env", "example", "--schema", fixture("app-config.ts"))).code).toBe(0);
      expect((await cli("env", "example", "--schema", fixture("app-config.ts"))).code).toBe(0);
      expect(
        (await cli("env", "example", "--schema", fixture("app-config.ts"), "--out", ".env", "--force")).code,
      ).toBe(0);
    });
  });

  describe("check", () => {
    it("accepts a valid .env (the default file) and says how many variables", async () => {
      writeFileSync(join(dir, ".env"), VALID_ENV);
      const result = await cli("env", "check", "--schema", fixture("app-config.ts"));
      expect(result).toEqual({
        code: 0,
        stdout: ".env: 5 variables valid (production rules off)\n",
        stderr: "",
      });
    });

    it("reports every problem as a table with exit 1 and never prints a secret", async () => {
      writeFileSync(
        join(dir, "prod.env"),
        "NODE_ENV=production\nPORT=eighty\nSESSION_SECRET=hunter2hunter2\nCORS_ORIGIN=http://localhost:3000\n",
      );
      const result = await cli(
        "env",
        "check",
        "--schema",
        fixture("app-config.ts"),
        "--env-file",
        "prod.env",
      );
      expect(result.code).toBe(1);
      expect(result.stdout).toBe("");
      expect(result.stderr).toContain(
        "Invalid environment: 6 problems (production rules on: NODE_ENV=production)",
      );
      for (const variable of ["PORT", "DATABASE_URL", "SESSION_SECRET", "CORS_ORIGIN"]) {
        expect(result.stderr).toContain(`  ${variable}`);
      }
      expect(result.stderr).toContain("a 14-character value (hidden)");
      expect(result.stderr).not.toContain("hunter2");
    });

    it("applies the production rules with --production", async () => {
      writeFileSync(
        join(dir, ".env"),
        VALID_ENV.replace("https://app.example.com", "http://app.example.com"),
      );
      expect((await cli("env", "check", "--schema", fixture("app-config.ts"))).code).toBe(0);
      const strict = await cli("env", "check", "--schema", fixture("app-config.ts"), "--production");
      expect(strict.code).toBe(1);
      expect(strict.stderr).toContain("https:// origins only in production");
    });

    it("prints dotenv warnings by line and fails on lines it could not read", async () => {
      writeFileSync(join(dir, ".env"), `${VALID_ENV}PORT=9090#comment\n`);
      const warned = await cli("env", "check", "--schema", fixture("app-config.ts"));
      expect(warned.code).toBe(0);
      expect(warned.stderr).toBe(
        [
          '.env:6: warning: the value of PORT is cut at "#" (the rest is a comment); quote it if "#" belongs to the value',
          ".env:6: warning: PORT is set again (first on line 2); this later value wins",
          "",
        ].join("\n"),
      );
      writeFileSync(join(dir, ".env"), `${VALID_ENV}this line is broken\n`);
      const broken = await cli("env", "check", "--schema", fixture("app-config.ts"));
      expect(broken.code).toBe(1);
      expect(broken.stderr).toContain(".env:6: error: expected NAME=value; the line was ignored");
      expect(broken.stderr).toContain(".env: valid for the schema, but 1 line was not understood");
    });
  });
});

describe("loading TypeScript schema modules", () => {
  it("loads a .ts module through tsx when Node cannot", async () => {
    const mod = await importWithTsx(pathToFileURL(fixture("app-config.ts")).href, dir);
    expect(isConfigDefinition(mod?.appConfig)).toBe(true);
  });

  it("runs as a process from the shebang entry point", () => {
    const entry = fileURLToPath(new URL("./index.ts", import.meta.url));
    expect(readFileSync(entry, "utf8").startsWith("#!/usr/bin/env node\n")).toBe(true);
    writeFileSync(join(dir, ".env"), "PORT=1\n");
    const result = spawnSync(
      process.execPath,
      [
        "--import",
        "tsx",
        entry,
        "env",
        "check",
        "--schema",
        fixture("app-config.ts"),
        "--env-file",
        join(dir, ".env"),
      ],
      { encoding: "utf8", timeout: 15_000 },
    );
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("Invalid environment: 3 problems");
  });
});
