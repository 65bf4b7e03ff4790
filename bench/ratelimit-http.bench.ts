/**
 * Rate limiting over HTTP on loopback: node:http + bulwark (`protect` + `rateLimitGuard`, memory store)
 * vs bare node:http, and Express + bulwark vs Express + express-rate-limit (same fixed window, same
 * draft-8 `RateLimit-Policy` / `RateLimit` headers). Each pair runs in its own child process
 * (bench/servers/ratelimit-http.ts, one framework per process); autocannon (16 connections, plain
 * `GET /`) loads the two alternately in rounds; medians of requests/s and of the server's CPU time per
 * request.
 */
import { fileURLToPath } from "node:url";
import type { BenchRow, BenchSuite } from "./lib.js";
import { loadOptions, measureGroup, pairRows, type Servers } from "./servers/load.js";

const SUITE = "ratelimit-http";
const script = fileURLToPath(new URL("./servers/ratelimit-http.ts", import.meta.url));

/** Every limited server must answer 200 with both draft-8 fields, or the comparison is meaningless. */
async function checkHeaders(servers: Servers, names: string[]): Promise<void> {
  for (const name of names) {
    const res = await fetch(`http://127.0.0.1:${servers.ports[name]}/`);
    await res.arrayBuffer();
    const policy = res.headers.get("ratelimit-policy");
    const state = res.headers.get("ratelimit");
    if (res.status !== 200 || !policy?.includes('"minute"') || !state?.includes('"minute"')) {
      throw new Error(
        `${name}: expected 200 with RateLimit-Policy and RateLimit, got ${res.status} ${policy} / ${state}`,
      );
    }
  }
}

async function run({ quick }: { quick: boolean }): Promise<BenchRow[]> {
  const get = [{ method: "GET" as const, path: "/" }];
  const options = loadOptions(quick);
  const node = await measureGroup(script, "node", options, async (servers) => {
    await checkHeaders(servers, ["node-bulwark"]);
    return [
      { name: "bare node:http", server: "node-bare", requests: get },
      { name: "node:http + bulwark", server: "node-bulwark", requests: get },
    ];
  });
  const express = await measureGroup(script, "express", options, async (servers) => {
    await checkHeaders(servers, ["express-bulwark", "express-erl"]);
    return [
      { name: "Express + bulwark", server: "express-bulwark", requests: get },
      { name: "Express + express-rate-limit", server: "express-erl", requests: get },
    ];
  });
  const m = { ...node, ...express };
  const pick = (name: string) => ({ name, m: m[name]! });
  return [
    ...pairRows(SUITE, "node:http, rate limit", pick("node:http + bulwark"), pick("bare node:http"), {
      min: 0.9,
      text: "≥ 0.90× bare node:http",
    }),
    ...pairRows(
      SUITE,
      "Express, rate limit",
      pick("Express + bulwark"),
      pick("Express + express-rate-limit"),
      {
        min: 1.0,
        text: "≥ 1.0× express-rate-limit",
      },
    ),
  ];
}

export const suite: BenchSuite = { name: SUITE, run };
