// The sova-wasm package: the Sova library compiled to WebAssembly.
// Call `await init()` once before anything else.
import initWasm from "./pkg/sova_wasm.js";

export * from "./pkg/sova_wasm.js";
export { SovaError } from "./errors.js";

let ready;

/**
 * Loads the WebAssembly module, once. In a browser it is fetched next to
 * this file; in Node.js it is read from disk. `input` (optional) is what
 * wasm-bindgen's initialiser takes: a URL, a Response, bytes or a
 * WebAssembly.Module.
 */
export function init(input) {
  ready ??= load(input);
  return ready;
}

async function load(input) {
  if (input === undefined && typeof process === "object" && process.versions?.node) {
    const { readFile } = await import("node:fs/promises");
    input = await readFile(new URL("./pkg/sova_wasm_bg.wasm", import.meta.url));
  }
  await initWasm(input === undefined ? undefined : { module_or_path: input });
}

export default init;
