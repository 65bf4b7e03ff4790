/**
 * `node --import tsx --import ./test/examples/resolve-bulwark.mjs examples/express.ts`
 * Lets the examples import `bulwark/<subpath>` exactly as an application would, resolved to the
 * TypeScript sources instead of the (possibly unbuilt) dist/ files named in package.json "exports".
 */
import { register } from "node:module";

register("./resolve-bulwark-hooks.mjs", import.meta.url);
