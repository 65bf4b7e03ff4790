import { PGlite } from "@electric-sql/pglite";
import { describeAuthStoreContract } from "../../auth/store-contract.js";
import { postgresAuthStore } from "./auth.js";

describeAuthStoreContract("PGlite", async () => {
  const db = new PGlite();
  const store = postgresAuthStore({ client: db });
  await store.migrate();
  return { store, close: () => db.close() };
});
