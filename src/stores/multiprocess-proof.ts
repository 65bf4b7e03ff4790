import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";

/**
 * Forks the multi-process proof workers (`multiprocess-worker.ts`), one OS process each, and runs
 * phases in which every worker fires its checks at once on one shared key.
 */
export interface ProofWorkers {
  /** All workers fire `checksPerWorker` concurrent checks on `key`; returns the totals. */
  phase(
    store: "redis" | "postgres",
    key: string,
    checksPerWorker: number,
    skewed: boolean,
  ): Promise<{ allowed: number; failed: number }>;
  close(): Promise<void>;
}

const WORKER = fileURLToPath(new URL("./multiprocess-worker.ts", import.meta.url));

type Reply = { type: "ready" } | { type: "done"; allowed: number; failed: number };

function next(child: ChildProcess): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: Reply) => {
      child.off("exit", onExit);
      resolve(m);
    };
    const onExit = (code: number | null) => {
      child.off("message", onMessage);
      reject(new Error(`proof worker exited with ${code}`));
    };
    child.once("message", onMessage);
    child.once("exit", onExit);
  });
}

export async function forkProofWorkers(
  namespaces: { redisPrefix?: string; postgresSchema?: string },
  skewsMs: readonly number[],
): Promise<ProofWorkers> {
  const children = skewsMs.map((skewMs) =>
    fork(WORKER, [JSON.stringify({ ...namespaces, skewMs })], {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    }),
  );
  await Promise.all(children.map(next));
  return {
    async phase(store, key, checksPerWorker, skewed) {
      const replies = children.map(next);
      for (const c of children) c.send({ type: "go", store, key, checks: checksPerWorker, skewed });
      const done = await Promise.all(replies);
      let allowed = 0;
      let failed = 0;
      for (const d of done) {
        if (d.type !== "done") throw new Error("unexpected worker reply");
        allowed += d.allowed;
        failed += d.failed;
      }
      return { allowed, failed };
    },
    async close() {
      await Promise.all(
        children.map(
          (c) =>
            new Promise<void>((resolve) => {
              if (c.exitCode !== null) return resolve();
              c.once("exit", () => resolve());
              c.send({ type: "exit" });
              setTimeout(() => c.kill(), 5_000).unref();
            }),
        ),
      );
    },
  };
}
