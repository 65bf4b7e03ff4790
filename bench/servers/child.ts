/**
 * Server-process side of the HTTP benchmarks: listens every server on 127.0.0.1 (ephemeral ports),
 * reports the ports to the parent, answers "mark" with the CPU time spent since the previous mark,
 * and exits on "stop" or when the parent goes away (so no server outlives a failed run).
 * Started with --cpu-prof when the parent asks; the profile is written on that clean exit.
 */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";

export type ServerMessage = { ports: Record<string, number> } | { cpuMicros: number } | { error: string };

/** Listens `servers` (name → node:http server) and serves the parent's requests until told to stop. */
export function serveForParent(servers: Record<string, Server>): void {
  const send = (message: ServerMessage) => process.send?.(message);
  if (process.send === undefined) throw new Error("bench server scripts run as a forked child");
  let last = process.cpuUsage();
  const stop = () => {
    for (const server of Object.values(servers)) server.closeAllConnections();
    process.exit(0);
  };
  process.on("disconnect", stop);
  process.on("message", (message) => {
    if (message === "stop") stop();
    if (message !== "mark") return;
    const now = process.cpuUsage();
    send({ cpuMicros: now.user - last.user + now.system - last.system });
    last = now;
  });
  const names = Object.keys(servers);
  const ports: Record<string, number> = {};
  let pending = names.length;
  for (const name of names) {
    const server = servers[name]!;
    server.keepAliveTimeout = 10_000;
    server.on("error", (error) => send({ error: `${name}: ${error.message}` }));
    server.listen(0, "127.0.0.1", () => {
      ports[name] = (server.address() as AddressInfo).port;
      if (--pending === 0) send({ ports });
    });
  }
}
