import autocannon from "autocannon";
import { env } from "../app/env.js";
import { startApp } from "../app/start.js";

/**
 * `npm run load`: the reference app under 200 concurrent clients on loopback, bounded in time.
 * Scenarios: Meet & Greet booking from one address (5 admitted per hour, the rest must be 429) and
 * from many addresses behind a trusted proxy (all admitted: the real write path); login with a wrong
 * password from one address (locked after 5: 429) and with the right password from many addresses
 * (Argon2id per request; bulwark/auth's hasher bound answers the excess 503 + Retry-After instead of
 * queueing it). Fails when any answer is other than the intended ones, or on errors and timeouts. `--quick` runs 2 s per scenario, default 8 s; `--json` prints the figures as JSON.
 */

const QUICK = process.argv.includes("--quick");
const JSON_OUT = process.argv.includes("--json");
const DURATION_S = QUICK ? 2 : 8;
const CONNECTIONS = 200;
const PASSWORD = "load test office passphrase";

const config = env.load({ NODE_ENV: "test", PORT: "0", HOST: "127.0.0.1", TRUST_PROXY: "1" });
const running = await startApp(config, { client: false, adminPassword: PASSWORD });
const url = running.url;

// One anonymous CSRF session, as a browser tab would have: cookie + token.
const tokenResponse = await fetch(`${url}/csrf-token`);
const cookie = tokenResponse.headers
  .getSetCookie()
  .map((c) => c.split(";")[0])
  .join("; ");
const { token } = (await tokenResponse.json()) as { token: string };
const baseHeaders = { "content-type": "application/json", cookie, "x-csrf-token": token, origin: url };

let n = 0;
const booking = () =>
  JSON.stringify({
    studentName: `Load Student ${++n}`,
    instrument: "piano",
    contacts: {
      primary: { name: "Load Parent", email: `load${n}@example.com`, phone: "+33 6 12 34 56 78" },
      secondary: { name: "Other Parent", phone: "+33 6 98 76 54 32" },
      emergency: { name: "Neighbour", phone: "+33 1 23 45 67 89" },
    },
    notes: "",
  });
const randomIp = () => `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;

interface Scenario {
  name: string;
  path: string;
  /** Status codes the scenario intends; anything else is a failure. */
  expected: number[];
  body: () => string;
  forwardedFor: () => string;
}

const scenarios: Scenario[] = [
  {
    name: "booking, one client address",
    path: "/api/schools/riverside/meet-and-greets",
    expected: [202, 429],
    body: booking,
    forwardedFor: () => "203.0.113.7",
  },
  {
    name: "booking, a new address per request",
    path: "/api/schools/riverside/meet-and-greets",
    expected: [202],
    body: booking,
    forwardedFor: () => randomIp(),
  },
  {
    name: "login, wrong password, one address",
    path: "/api/auth/login",
    expected: [401, 429, 503],
    body: () => JSON.stringify({ email: "admin@riverside.test", password: "not the password" }),
    forwardedFor: () => "203.0.113.8",
  },
  {
    name: "login, right password, a new address per request",
    path: "/api/auth/login",
    expected: [200, 503],
    body: () => JSON.stringify({ email: "admin@hillside.test", password: PASSWORD }),
    forwardedFor: () => randomIp(),
  },
];

interface Figures {
  scenario: string;
  requests: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  statuses: Record<string, number>;
  errors: number;
  timeouts: number;
  unexpected: number;
}

const results: Figures[] = [];
for (const s of scenarios) {
  const result = await autocannon({
    url: `${url}${s.path}`,
    connections: CONNECTIONS,
    duration: DURATION_S,
    timeout: 10,
    method: "POST",
    headers: baseHeaders,
    requests: [
      {
        setupRequest: (req) => ({
          ...req,
          body: s.body(),
          headers: { ...baseHeaders, "x-forwarded-for": s.forwardedFor() },
        }),
      },
    ],
  });
  const statuses: Record<string, number> = {};
  for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) statuses[code] = stat?.count ?? 0;
  const unexpected = Object.entries(statuses)
    .filter(([code]) => !s.expected.includes(Number(code)))
    .reduce((sum, [, count]) => sum + count, 0);
  results.push({
    scenario: s.name,
    requests: result.requests.total,
    perSecond: Math.round(result.requests.average),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    statuses,
    errors: result.errors,
    timeouts: result.timeouts,
    unexpected,
  });
}

for (const hook of running.hooks) await hook.run();

if (JSON_OUT) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
else {
  const lines = [
    `Reference app under load: ${CONNECTIONS} connections, ${DURATION_S} s per scenario, loopback (Node ${process.version})`,
    "",
    "| scenario | requests | req/s | p50 ms | p99 ms | answers | errors / timeouts |",
    "| --- | ---: | ---: | ---: | ---: | --- | ---: |",
    ...results.map(
      (r) =>
        `| ${r.scenario} | ${r.requests} | ${r.perSecond} | ${r.p50Ms} | ${r.p99Ms} | ${Object.entries(
          r.statuses,
        )
          .map(([c, k]) => `${k}× ${c}`)
          .join(", ")} | ${r.errors} / ${r.timeouts} |`,
    ),
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}
const failed = results.filter((r) => r.unexpected > 0 || r.errors > 0 || r.timeouts > 0);
if (failed.length > 0) {
  process.stderr.write(
    `unexpected answers, errors or timeouts in: ${failed.map((f) => f.scenario).join("; ")}\n`,
  );
  process.exit(1);
}
process.exit(0);
