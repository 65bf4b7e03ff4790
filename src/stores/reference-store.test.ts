import { systemClock } from "../core/clock.js";
import { referenceStore } from "./reference-store.js";
import { describeRateLimitStoreContract } from "./store-contract.js";

// The contract's cases hold on the oracle itself (the differential test compares it with itself).
describeRateLimitStoreContract("reference", ({ clock }) => referenceStore(clock ?? systemClock), {
  runs: 20,
});
