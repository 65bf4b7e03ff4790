import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Running } from "../../app/start.js";
import { signStripeWebhook } from "../../src/webhooks/index.js";
import { DATABASE_URL, postgresAvailability, REDIS_URL, redisAvailability } from "../servers.js";
import { Browserless, bookingBody, journey, json, startTestApp, stopTestApp } from "./harness.js";

/**
 * The app on real servers: PostgreSQL through DATABASE_URL (its own schema) and Redis through
 * REDIS_URL (its own key prefix) — the whole registration, the booking limit shared through Redis,
 * duplicate and forged webhooks.
 */
const postgres = await postgresAvailability();
const redis = await redisAvailability();

describe.runIf(postgres.available && redis.available)("the app on PostgreSQL and Redis", () => {
  const tag = Math.random().toString(36).slice(2, 8);
  const schema = `t_app_servers_${tag}`;
  let app: Running | undefined;
  let ip = 10;
  let j: ReturnType<typeof journey>;

  async function admin(sql: string) {
    const c = new pg.Client({ connectionString: DATABASE_URL });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  }

  beforeAll(async () => {
    postgres.assertUnderCi();
    redis.assertUnderCi();
    await admin(`create schema ${schema}`);
    const url = new URL(DATABASE_URL);
    url.searchParams.set("options", `-c search_path=${schema}`);
    app = await startTestApp({
      vars: { DATABASE_URL: url.toString(), REDIS_URL },
      redisPrefix: `bulwark-test:app-servers:${tag}:`,
    });
    j = journey(app, () => `127.0.8.${ip++}`);
  });

  afterAll(async () => {
    await stopTestApp(app);
    await admin(`drop schema if exists ${schema} cascade`);
    const { Redis } = await import("ioredis");
    const r = new Redis(REDIS_URL);
    const keys = await r.keys(`bulwark-test:app-servers:${tag}:*`);
    if (keys.length > 0) await r.del(...keys);
    await r.quit();
  });

  it("runs on PostgreSQL and Redis", () => {
    expect(app!.database.kind).toBe("postgres");
  });

  it("registers a family end to end, exactly once, and ignores duplicate and forged webhooks", async () => {
    const email = "servers.family@example.com";
    const { event, bookingId } = await j.paid(email);
    const db = app!.database.db;
    const families = () =>
      db.selectFrom("families").select("id").where("meet_and_greet_id", "=", bookingId).execute();
    expect(await families()).toHaveLength(1);
    expect(await app!.simulator!.redeliver(event.id)).toBe(200);
    const body = JSON.stringify({ ...event, id: "evt_forged_servers" });
    const forged = await fetch(`${app!.url}/webhooks/stripe`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(await signStripeWebhook({ body, secrets: "whsec_forgedforgedforged" })),
      },
      body,
    });
    expect(forged.status).toBe(400);
    expect(await families()).toHaveLength(1);
    const parent = await db
      .selectFrom("users")
      .select(["role", "must_change_password"])
      .where("email", "=", email)
      .executeTakeFirstOrThrow();
    expect(parent).toEqual({ role: "parent", must_change_password: true });
  });

  it("counts bookings per address in Redis: the 6th is 429", async () => {
    const c = new Browserless(app!.url, "127.0.9.1");
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++)
      statuses.push((await c.post("/api/schools/riverside/meet-and-greets", bookingBody())).status);
    expect(statuses).toEqual([202, 202, 202, 202, 202, 429]);
  });

  it("keeps one school's admin out of another school's data", async () => {
    const hillside = await j.adminOf("hillside");
    const families = await json<unknown[]>(await hillside.get("/api/admin/families"));
    expect(families).toEqual([]);
  });
});
