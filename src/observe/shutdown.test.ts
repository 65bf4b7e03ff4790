import { type ChildProcess, spawn } from "node:child_process";
import { Agent, createServer, request as httpRequest, type IncomingMessage, type Server } from "node:http";
import { type AddressInfo, connect } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { isBulwarkError } from "../core/errors.js";
import { silentLogger } from "../core/logger.js";
import { health } from "./health.js";
import { type GracefulShutdownOptions, gracefulShutdown } from "./shutdown.js";

interface Reply {
  status: number;
  headers: IncomingMessage["headers"];
  body: string;
}

function get(port: number, path: string, agent: Agent | false = false): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port, path, agent }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => {
        body += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

/** Resolves with "connected" or the error code of a fresh TCP connection attempt. */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve("connected");
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? "error"));
  });
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("gracefulShutdown (in process)", () => {
  let server: Server;
  let port: number;
  let release: () => void = () => {};
  let gate: Promise<void> = Promise.resolve();

  async function start(options: GracefulShutdownOptions = {}) {
    gate = new Promise<void>((resolve) => (release = resolve));
    const probes = options.health as ReturnType<typeof health> | undefined;
    server = createServer((req, res) => {
      if (req.url === "/readyz" && probes !== undefined) {
        void probes.respond("ready").then((o) => {
          res.statusCode = o.status;
          res.end(o.body);
        });
      } else if (req.url === "/slow") void gate.then(() => res.end("slow done"));
      else if (req.url === "/never") return;
      else res.end("fast");
    });
    const exits: number[] = [];
    const controller = gracefulShutdown(server, {
      signals: [],
      logger: silentLogger,
      exit: (code) => exits.push(code),
      ...options,
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
    return { controller, exits };
  }

  afterEach(async () => {
    release();
    server.closeAllConnections();
    if (server.listening) await new Promise((resolve) => server.close(resolve));
  });

  it("fails readiness, stops accepting, lets the in-flight request finish with Connection: close, then runs hooks in reverse", async () => {
    const order: string[] = [];
    const probes = health();
    const { controller, exits } = await start({
      health: probes,
      hooks: [
        () => void order.push("first-opened"),
        { name: "second", run: async () => void order.push("second-opened") },
      ],
    });
    const slow = get(port, "/slow", new Agent({ keepAlive: true }));
    while (controller.inFlight === 0) await tick();
    expect(controller.state).toBe("running");

    const done = controller.shutdown("test");
    expect(controller.state).toBe("draining");
    expect(probes.shuttingDown).toBe(true);
    await tick();
    expect(await tryConnect(port)).toBe("ECONNREFUSED");
    expect(order).toEqual([]);

    release();
    const reply = await slow;
    expect(reply).toMatchObject({ status: 200, body: "slow done" });
    expect(reply.headers.connection).toBe("close");
    const result = await done;
    expect(result).toMatchObject({ code: 0, timedOut: false, failedHooks: [], reason: "test" });
    expect(order).toEqual(["second-opened", "first-opened"]);
    expect(controller.state).toBe("closed");
    expect(exits).toEqual([0]);
  });

  it("closes an idle keep-alive connection at once", async () => {
    const { controller } = await start();
    const agent = new Agent({ keepAlive: true });
    expect((await get(port, "/fast", agent)).body).toBe("fast");
    const sockets = Object.values(agent.freeSockets).flat();
    expect(sockets).toHaveLength(1);
    const closed = new Promise((resolve) => sockets[0]?.once("close", resolve));
    const result = await controller.shutdown();
    await closed;
    expect(result.code).toBe(0);
    agent.destroy();
  });

  it("keeps accepting during readinessDelayMs while /readyz answers 503", async () => {
    const probes = health();
    const { controller } = await start({ health: probes, readinessDelayMs: 500 });
    const done = controller.shutdown();
    const reply = await get(port, "/readyz");
    expect(reply.status).toBe(503);
    expect(JSON.parse(reply.body)).toMatchObject({ status: "fail", notes: ["shutting down"] });
    expect((await done).code).toBe(0);
    expect(await tryConnect(port)).toBe("ECONNREFUSED");
  });

  it("ends at the deadline with exit code 1 and destroys the remaining connections", async () => {
    const order: string[] = [];
    const { controller, exits } = await start({ deadlineMs: 100, hooks: [() => void order.push("hook")] });
    const stuck = get(port, "/never").catch((error: NodeJS.ErrnoException) => error.code);
    while (controller.inFlight === 0) await tick();
    const result = await controller.shutdown();
    expect(result).toMatchObject({ code: 1, timedOut: true });
    expect(result.durationMs).toBeGreaterThanOrEqual(90);
    expect(await stuck).toBe("ECONNRESET");
    expect(order).toEqual([]);
    expect(exits).toEqual([1]);
  });

  it("reports a failing hook with exit code 1 and still runs the others", async () => {
    const order: string[] = [];
    const { controller } = await start({
      hooks: [
        () => void order.push("a"),
        {
          name: "broken",
          run: async () => {
            throw new Error("pool end failed");
          },
        },
        () => void order.push("c"),
      ],
    });
    const result = await controller.shutdown();
    expect(result).toMatchObject({ code: 1, timedOut: false, failedHooks: ["broken"] });
    expect(order).toEqual(["c", "a"]);
  });

  it("returns the same promise when shutdown is called twice, and runs hooks added later first", async () => {
    const order: string[] = [];
    const { controller } = await start({ hooks: [() => void order.push("early")] });
    controller.addHook({ name: "late", run: () => void order.push("late") });
    const a = controller.shutdown("one");
    const b = controller.shutdown("two");
    expect(a).toBe(b);
    expect((await a).reason).toBe("one");
    expect(order).toEqual(["late", "early"]);
  });

  it("starts on a signal, and a second signal forces exit code 1", async () => {
    const { controller, exits } = await start({ signals: ["SIGUSR2"], deadlineMs: 2_000 });
    const stuck = get(port, "/never").catch(() => "reset");
    while (controller.inFlight === 0) await tick();
    process.emit("SIGUSR2");
    expect(controller.state).toBe("draining");
    process.emit("SIGUSR2");
    expect(exits).toEqual([1]);
    expect(await stuck).toBe("reset");
    controller.dispose();
    expect(process.listenerCount("SIGUSR2")).toBe(0);
  });

  it.each([
    [{ deadlineMs: 0 }, /≥ 1/],
    [{ readinessDelayMs: 500, deadlineMs: 500 }, /must be below "deadlineMs"/],
    [{ hooks: [42] }, /hook 0 must be a function/],
    [{ hooks: "close" }, /must be an array/],
    [{ signals: ["TERM"] }, /signal names/],
    [{ health: {} }, /returned by health/],
    [{ exit: "yes" }, /boolean or a function/],
    [{ deadline: 5 }, /did you mean "deadlineMs"/],
  ])("refuses %j", (options, message) => {
    let caught: unknown;
    try {
      gracefulShutdown(createServer(), options as never);
    } catch (error) {
      caught = error;
    }
    expect(isBulwarkError(caught, "ERR_CONFIG_INVALID")).toBe(true);
    expect(String((caught as Error).message)).toMatch(message);
  });

  it("refuses something that is not a server", () => {
    expect(() => gracefulShutdown({} as never)).toThrow(/node:http or node:https server/);
  });
});

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");

describe("gracefulShutdown (real process: 50 slow requests, SIGTERM)", () => {
  let child: ChildProcess | undefined;
  afterEach(() => {
    if (child?.exitCode === null) child.kill("SIGKILL");
  });

  it("completes all 50 with 200, answers /readyz 503 first, then refuses connections, and exits 0 before the deadline", async () => {
    const deadlineMs = 8_000;
    const slowMs = 2_500;
    child = spawn(process.execPath, ["--import", "tsx", join(here, "shutdown.fixture.ts")], {
      cwd: root,
      env: { ...process.env, DEADLINE_MS: String(deadlineMs), READINESS_DELAY_MS: "500", NODE_ENV: "test" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const proc = child;
    const events: Array<Record<string, unknown>> = [];
    let buffered = "";
    const waiters: Array<() => void> = [];
    proc.stdout?.setEncoding("utf8");
    proc.stdout?.on("data", (chunk: string) => {
      buffered += chunk;
      let nl = buffered.indexOf("\n");
      while (nl !== -1) {
        events.push(JSON.parse(buffered.slice(0, nl)));
        buffered = buffered.slice(nl + 1);
        nl = buffered.indexOf("\n");
      }
      for (const w of waiters.splice(0)) w();
    });
    const exited = new Promise<{ code: number | null; atMs: number }>((resolve) =>
      proc.once("exit", (code) => resolve({ code, atMs: performance.now() })),
    );
    const until = async (predicate: () => boolean) => {
      while (!predicate()) await new Promise<void>((resolve) => waiters.push(resolve));
    };

    await until(() => events.some((e) => e.event === "listening"));
    const port = events.find((e) => e.event === "listening")?.port as number;
    expect((await get(port, "/readyz")).status).toBe(200);

    // An idle keep-alive connection that the server must close itself.
    const idleAgent = new Agent({ keepAlive: true });
    await get(port, "/fast", idleAgent);
    const idleSocket = Object.values(idleAgent.freeSockets).flat()[0];
    const idleClosed = new Promise<number>((resolve) =>
      idleSocket?.once("close", () => resolve(performance.now())),
    );

    // 50 slow requests, each on its own keep-alive connection.
    const agent = new Agent({ keepAlive: true, maxSockets: 100 });
    const slow = Array.from({ length: 50 }, () => get(port, `/slow?ms=${slowMs}`, agent));
    await until(() => events.filter((e) => e.event === "request").length === 50);

    const sigtermAt = performance.now();
    proc.kill("SIGTERM");
    // The signal is delivered asynchronously; poll once the server says the shutdown has begun.
    await until(() => events.some((e) => e.msg === "graceful shutdown started"));

    // Poll /readyz on fresh connections until the process is gone.
    const polls: string[] = [];
    let gone = false;
    void exited.then(() => {
      gone = true;
    });
    while (!gone) {
      try {
        polls.push(String((await get(port, "/readyz")).status));
      } catch (error) {
        polls.push((error as NodeJS.ErrnoException).code ?? "error");
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }

    const replies = await Promise.all(slow);
    const exit = await exited;
    agent.destroy();
    idleAgent.destroy();

    expect(replies).toHaveLength(50);
    for (const reply of replies) {
      expect(reply.status).toBe(200);
      expect(reply.body).toBe("done");
      expect(reply.headers.connection).toBe("close");
    }
    // Readiness failed first, then the listener closed; never a 200 after SIGTERM, never a 503 after refusal.
    expect(polls[0]).toBe("503");
    expect(polls).not.toContain("200");
    const firstRefused = polls.indexOf("ECONNREFUSED");
    expect(firstRefused).toBeGreaterThan(0);
    expect(polls.slice(firstRefused).every((p) => p === "ECONNREFUSED")).toBe(true);
    // The idle connection was closed long before the slow requests finished.
    expect((await idleClosed) - sigtermAt).toBeLessThan(slowMs - 500);
    // Hooks ran in reverse registration order, and the process exited 0 before the deadline.
    expect(events.filter((e) => e.event === "hook").map((e) => e.name)).toEqual(["redis", "pool"]);
    expect(exit.code).toBe(0);
    expect(events.find((e) => e.msg === "graceful shutdown finished")).toMatchObject({
      code: 0,
      timedOut: false,
    });
    expect(exit.atMs - sigtermAt).toBeLessThan(deadlineMs);
    expect(exit.atMs - sigtermAt).toBeGreaterThanOrEqual(slowMs - 1_000);
  });
});
