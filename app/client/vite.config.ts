import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

/**
 * The SPA's build. `bulwark/csrf/client` resolves to the library's TypeScript source (the package's
 * own dist is not built in a fresh clone); in an application it is the installed package.
 */
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  plugins: [react()],
  resolve: {
    alias: {
      "bulwark/csrf/client": fileURLToPath(new URL("../../src/csrf/client/index.ts", import.meta.url)),
    },
  },
  build: {
    outDir: fileURLToPath(new URL("./dist", import.meta.url)),
    emptyOutDir: true,
    sourcemap: false,
    target: "es2022",
    reportCompressedSize: false,
  },
  logLevel: "warn",
});
