/**
 * The full browser-facing stack over HTTP on loopback: secure headers + CORS + CSRF + memory rate limit.
 * node:http + bulwark vs bare node:http, and Express + bulwark vs Express + helmet + cors + csrf-csrf +
 * express-rate-limit. The node:http servers and the Express servers run in two child processes
 * (bench/servers/http.ts, one framework per process); autocannon (16 connections) loads the servers of
 * a process alternately in rounds; medians of requests/s and server CPU per request.
 *
 * The traffic is a browser front-end on the allowed origin calling the API with credentials: each
 * connection repeats 4 × `GET /` (Origin, Accept: application/json, the session cookie,
 * Sec-Fetch-Site: cross-site) and 1 × `POST /` with a small JSON body and a valid `x-csrf-token`, so
 * 20 % of requests are unsafe and both stacks verify a token on them. Each stack's token and cookies
 * are fetched from its own token endpoint before loading, and checked: the POST passes with the token
 * and is refused without it.
 */
import { fileURLToPath } from "node:url";
import type autocannon from "autocannon";
import type { BenchRow, BenchSuite } from "./lib.js";
import { loadOptions, measureGroup, pairRows, type Servers } from "./servers/load.js";

const SUITE = "http";
const script = fileURLToPath(new URL("./servers/http.ts", import.meta.url));
/** Must match FRONT_END in bench/servers/http.ts. */
const FRONT_END = "https://app.example.com";
const POST_BODY = JSON.stringify({ day: "mon" });

interface Session {
  cookie: string;
  token: string;
}

/** Asks a server's token endpoint for a token, as the browser client does; keeps the cookies it sets. */
export async function session(base: string): Promise<Session> {
  const res = await fetch(`${base}/csrf-token`, {
    headers: { origin: FRONT_END, accept: "application/json" },
  });
  const body = (await res.json()) as { token?: string };
  const cookie = res.headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .join("; ");
  if (res.status !== 200 || typeof body.token !== "string" || cookie === "") {
    throw new Error(`${base}/csrf-token: expected 200 with a token and a cookie, got ${res.status}`);
  }
  return { cookie, token: body.token };
}

export function traffic(s: Session): autocannon.Request[] {
  const common = {
    origin: FRONT_END,
    cookie: s.cookie,
    "sec-fetch-site": "cross-site",
    "sec-fetch-mode": "cors",
  };
  const get: autocannon.Request = {
    method: "GET",
    path: "/",
    headers: { ...common, accept: "application/json" },
  };
  const post: autocannon.Request = {
    method: "POST",
    path: "/",
    headers: {
      ...common,
      accept: "application/json",
      "content-type": "application/json",
      "x-csrf-token": s.token,
    },
    body: POST_BODY,
  };
  return [get, get, get, get, post];
}

/** The token is really verified: the POST passes with it, is refused without it, and CORS answers. */
async function checkStack(base: string, requests: autocannon.Request[]): Promise<void> {
  const post = requests.at(-1)!;
  const headers = post.headers as Record<string, string>;
  const ok = await fetch(`${base}/`, { method: "POST", headers, body: POST_BODY });
  await ok.arrayBuffer();
  const { "x-csrf-token": _, ...withoutToken } = headers;
  const refused = await fetch(`${base}/`, { method: "POST", headers: withoutToken, body: POST_BODY });
  await refused.arrayBuffer();
  const allowOrigin = ok.headers.get("access-control-allow-origin");
  if (
    ok.status !== 200 ||
    refused.status !== 403 ||
    allowOrigin !== FRONT_END ||
    !ok.headers.has("ratelimit")
  ) {
    throw new Error(
      `${base}: expected POST 200 with CORS and RateLimit headers, 403 without token; got ${ok.status} (${allowOrigin}), ${refused.status}`,
    );
  }
}

async function run({ quick }: { quick: boolean }): Promise<BenchRow[]> {
  const options = loadOptions(quick);
  const requestsFor = async (servers: Servers, name: string) => {
    const base = `http://127.0.0.1:${servers.ports[name]}`;
    const r = traffic(await session(base));
    await checkStack(base, r);
    return r;
  };
  const node = await measureGroup(script, "node", options, async (servers) => {
    const nodeTraffic = await requestsFor(servers, "node-bulwark");
    return [
      { name: "bare node:http", server: "node-bare", requests: nodeTraffic },
      { name: "node:http + bulwark", server: "node-bulwark", requests: nodeTraffic },
      {
        name: "node:http + the same headers as constants",
        server: "node-fixed-headers",
        requests: nodeTraffic,
      },
    ];
  });
  const express = await measureGroup(script, "express", options, async (servers) => [
    {
      name: "Express + bulwark",
      server: "express-bulwark",
      requests: await requestsFor(servers, "express-bulwark"),
    },
    {
      name: "Express + helmet, cors, csrf-csrf, express-rate-limit",
      server: "express-anchors",
      requests: await requestsFor(servers, "express-anchors"),
    },
  ]);
  const m = { ...node, ...express };
  const pick = (name: string) => ({ name, m: m[name]! });
  return [
    ...pairRows(
      SUITE,
      "node:http, headers + CORS + CSRF + rate limit",
      pick("node:http + bulwark"),
      pick("bare node:http"),
      { min: 0.85, text: "≥ 0.85× bare node:http" },
    ),
    // Reference: how much of the gap is the response-header bytes alone, with no logic at all.
    ...pairRows(
      SUITE,
      "node:http, the stack's response headers only",
      pick("node:http + the same headers as constants"),
      pick("bare node:http"),
      undefined,
    ),
    ...pairRows(
      SUITE,
      "Express, headers + CORS + CSRF + rate limit",
      pick("Express + bulwark"),
      pick("Express + helmet, cors, csrf-csrf, express-rate-limit"),
      { min: 1.0, text: "≥ 1.0× the anchor stack" },
    ),
  ];
}

export const suite: BenchSuite = { name: SUITE, run };
