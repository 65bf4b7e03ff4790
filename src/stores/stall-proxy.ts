import { connect, createServer, type Server, type Socket } from "node:net";

/**
 * A loopback TCP proxy for store tests: `stall()` stops forwarding in both directions (a server
 * that hangs without closing connections), `resume()` forwards again. Lets a test make the real
 * Redis or PostgreSQL unresponsive for its own clients only, never for anyone else.
 */
export interface StallProxy {
  readonly port: number;
  stall(): void;
  resume(): void;
  close(): Promise<void>;
}

export async function stallProxy(targetPort: number, targetHost = "127.0.0.1"): Promise<StallProxy> {
  const sockets = new Set<Socket>();
  const held: Array<() => void> = [];
  let stalled = false;
  const forward = (from: Socket, to: Socket) => {
    from.on("data", (chunk: Buffer) => {
      if (stalled) held.push(() => to.write(chunk));
      else to.write(chunk);
    });
  };
  const server: Server = createServer((downstream) => {
    const upstream = connect(targetPort, targetHost);
    for (const s of [downstream, upstream]) {
      sockets.add(s);
      s.on("close", () => {
        sockets.delete(s);
        downstream.destroy();
        upstream.destroy();
      });
      s.on("error", () => {
        downstream.destroy();
        upstream.destroy();
      });
    }
    forward(downstream, upstream);
    forward(upstream, downstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("proxy has no port");
  return {
    port: address.port,
    stall() {
      stalled = true;
    },
    resume() {
      stalled = false;
      for (const send of held.splice(0)) send();
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A port on which nothing listens (bound, then closed). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}
