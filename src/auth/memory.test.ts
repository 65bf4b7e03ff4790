import { memoryAuthStore } from "./memory.js";
import { describeAuthStoreContract } from "./store-contract.js";

describeAuthStoreContract("memory", async () => ({ store: memoryAuthStore(), close: async () => {} }));
