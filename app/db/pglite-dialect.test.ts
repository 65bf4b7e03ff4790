import { PGlite } from "@electric-sql/pglite";
import { type Generated, Kysely, sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PGliteDialect } from "./pglite-dialect.js";

interface Db {
  counter: { id: number; value: number };
  item: { id: Generated<number>; name: string };
}

describe("PGliteDialect", () => {
  let pglite: PGlite;
  let db: Kysely<Db>;

  beforeAll(async () => {
    pglite = new PGlite();
    db = new Kysely<Db>({ dialect: new PGliteDialect({ pglite }) });
    await sql`create table counter (id int primary key, value int not null)`.execute(db);
    await sql`create table item (id serial primary key, name text not null unique)`.execute(db);
    await db.insertInto("counter").values({ id: 1, value: 0 }).execute();
  });

  afterAll(async () => {
    await db.destroy();
    await pglite.close();
  });

  it("runs parameterised inserts, selects and updates with affected-row counts", async () => {
    const inserted = await db
      .insertInto("item")
      .values([{ name: "violin" }, { name: "cello" }])
      .returning(["id", "name"])
      .execute();
    expect(inserted.map((r) => r.name)).toEqual(["violin", "cello"]);
    const found = await db.selectFrom("item").select("name").where("name", "=", "cello").executeTakeFirst();
    expect(found).toEqual({ name: "cello" });
    const updated = await db
      .updateTable("item")
      .set({ name: "viola" })
      .where("name", "=", "violin")
      .executeTakeFirst();
    expect(updated.numUpdatedRows).toBe(1n);
    const deleted = await db.deleteFrom("item").where("name", "=", "nothing").executeTakeFirst();
    expect(deleted.numDeletedRows).toBe(0n);
  });

  it("commits a transaction", async () => {
    await db.transaction().execute(async (trx) => {
      await trx.insertInto("item").values({ name: "flute" }).execute();
    });
    expect(await db.selectFrom("item").select("name").where("name", "=", "flute").executeTakeFirst()).toEqual(
      {
        name: "flute",
      },
    );
  });

  it("rolls a transaction back when its callback throws, and stays usable", async () => {
    await expect(
      db.transaction().execute(async (trx) => {
        await trx.insertInto("item").values({ name: "oboe" }).execute();
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect(await db.selectFrom("item").select("name").where("name", "=", "oboe").executeTakeFirst()).toBe(
      undefined,
    );
    expect((await sql<{ one: number }>`select 1 as one`.execute(db)).rows).toEqual([{ one: 1 }]);
  });

  it("rolls back when a statement fails inside the transaction", async () => {
    await expect(
      db.transaction().execute(async (trx) => {
        await trx.insertInto("item").values({ name: "harp" }).execute();
        await trx.insertInto("item").values({ name: "harp" }).execute(); // unique violation
      }),
    ).rejects.toThrow(/duplicate key/);
    expect(await db.selectFrom("item").select("name").where("name", "=", "harp").executeTakeFirst()).toBe(
      undefined,
    );
  });

  it("serialises concurrent read-modify-write transactions: no lost update", async () => {
    const bump = () =>
      db.transaction().execute(async (trx) => {
        const row = await trx
          .selectFrom("counter")
          .select("value")
          .where("id", "=", 1)
          .executeTakeFirstOrThrow();
        await new Promise((resolve) => setImmediate(resolve));
        await trx
          .updateTable("counter")
          .set({ value: row.value + 1 })
          .where("id", "=", 1)
          .execute();
      });
    await Promise.all(Array.from({ length: 20 }, bump));
    const row = await db.selectFrom("counter").select("value").where("id", "=", 1).executeTakeFirstOrThrow();
    expect(row.value).toBe(20);
  });

  it("makes a plain query wait for an open transaction and see its committed result", async () => {
    const order: string[] = [];
    let reached!: () => void;
    const inside = new Promise<void>((resolve) => {
      reached = resolve;
    });
    const tx = db.transaction().execute(async (trx) => {
      await trx.insertInto("item").values({ name: "tuba" }).execute();
      reached();
      await new Promise((resolve) => setTimeout(resolve, 20));
      order.push("commit");
    });
    await inside;
    const read = db
      .selectFrom("item")
      .select("name")
      .where("name", "=", "tuba")
      .executeTakeFirst()
      .then((r) => {
        order.push("read");
        return r;
      });
    await tx;
    expect(await read).toEqual({ name: "tuba" });
    expect(order).toEqual(["commit", "read"]);
  });

  it("applies the isolation level and access mode", async () => {
    const level = await db
      .transaction()
      .setIsolationLevel("serializable")
      .setAccessMode("read only")
      .execute(async (trx) => {
        const iso = await sql<{ transaction_isolation: string }>`show transaction_isolation`.execute(trx);
        const ro = await sql<{ transaction_read_only: string }>`show transaction_read_only`.execute(trx);
        return [iso.rows[0]?.transaction_isolation, ro.rows[0]?.transaction_read_only];
      });
    expect(level).toEqual(["serializable", "on"]);
  });

  it("reports a refused write in a read-only transaction and rolls back cleanly", async () => {
    await expect(
      db
        .transaction()
        .setAccessMode("read only")
        .execute(async (trx) => {
          await trx.insertInto("item").values({ name: "nope" }).execute();
        }),
    ).rejects.toThrow(/read-only transaction/);
    expect((await sql<{ one: number }>`select 1 as one`.execute(db)).rows).toEqual([{ one: 1 }]);
  });

  it("surfaces a commit refused because the transaction was aborted", async () => {
    await expect(
      db.transaction().execute(async (trx) => {
        await trx
          .insertInto("item")
          .values({ name: "piano" })
          .execute()
          .catch(() => undefined);
        await sql`select 1/0`.execute(trx).catch(() => undefined);
      }),
    ).rejects.toThrow();
    expect(await db.selectFrom("item").select("name").where("name", "=", "piano").executeTakeFirst()).toBe(
      undefined,
    );
  });

  it("supports savepoints in controlled transactions", async () => {
    const trx = await db.startTransaction().execute();
    await trx.insertInto("item").values({ name: "piano" }).execute();
    const sp = await trx.savepoint("before_drums").execute();
    await sp.insertInto("item").values({ name: "drums" }).execute();
    await sp.rollbackToSavepoint("before_drums").execute();
    await trx.commit().execute();
    const names = await db
      .selectFrom("item")
      .select("name")
      .where("name", "in", ["piano", "drums"])
      .execute();
    expect(names).toEqual([{ name: "piano" }]);
  });

  it("enforces row-level security for a non-superuser role set inside a transaction", async () => {
    await sql`create role dialect_test_app nologin`.execute(db);
    await sql`create table owned (school text not null, v int)`.execute(db);
    await sql`alter table owned enable row level security`.execute(db);
    await sql`alter table owned force row level security`.execute(db);
    await sql`create policy owned_school on owned using (school = nullif(current_setting('app.school', true), ''))`.execute(
      db,
    );
    await sql`grant select on owned to dialect_test_app`.execute(db);
    await sql`insert into owned values ('a', 1), ('b', 2)`.execute(db);
    const rows = await db.transaction().execute(async (trx) => {
      await sql`set local role dialect_test_app`.execute(trx);
      await sql`select set_config('app.school', 'a', true)`.execute(trx);
      return (await sql<{ v: number }>`select v from owned`.execute(trx)).rows;
    });
    expect(rows).toEqual([{ v: 1 }]);
    const none = await db.transaction().execute(async (trx) => {
      await sql`set local role dialect_test_app`.execute(trx);
      return (await sql<{ v: number }>`select v from owned`.execute(trx)).rows;
    });
    expect(none).toEqual([]);
  });
});
