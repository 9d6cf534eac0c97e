export * from "./pkg/sova_wasm.js";
export { SovaError } from "./errors.js";

/**
 * Loads the WebAssembly module, once (later calls return the same promise).
 * In a browser it is fetched next to the package; in Node.js read from disk.
 */
export function init(
  input?: RequestInfo | URL | Response | BufferSource | WebAssembly.Module,
): Promise<void>;
export default init;
