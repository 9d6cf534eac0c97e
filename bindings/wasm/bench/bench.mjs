// Encrypt and decrypt of 1 KiB through the binding in Node.js against the
// same calls made natively, and session setup in both (examples/native_bench.rs, the same library
// build: pure-Rust backend), and the size of the .wasm, raw and gzipped.
// Medians of ROUNDS rounds of BATCH operations each, after two warm-up
// rounds. Run after build.sh: node bench/bench.mjs  (writes
// target/artifacts/wasm-bench.json at the repository root)
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

import { init, Account, Conversation, Session } from "../index.js";

const SIZE = 1024;
const BATCH = 500;
const ROUNDS = 15;
const here = (p) => fileURLToPath(new URL(p, import.meta.url));

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

await init();
const alice = new Account();
const bob = new Account();
const a = Session.start(alice, bob.identityKey, bob.bundle());
const { session: b } = bob.accept(alice.identityKey, a.encrypt(new Uint8Array([1])));
a.decrypt(b.encrypt(new Uint8Array([2])));
const plaintext = new Uint8Array(SIZE).fill(0x5a);

const enc = [];
const dec = [];
for (let r = 0; r < ROUNDS + 2; r++) {
  let t = performance.now();
  const wires = [];
  for (let i = 0; i < BATCH; i++) wires.push(a.encrypt(plaintext));
  enc.push(((performance.now() - t) * 1000) / BATCH);
  t = performance.now();
  for (const w of wires) {
    if (b.decrypt(w).length !== SIZE) throw new Error("wrong plaintext length");
  }
  dec.push(((performance.now() - t) * 1000) / BATCH);
}
// Session setup as the demo page times it (demo/app.js, benchSetup).
const setup = [];
for (let i = 0; i < 25; i++) {
  const x = new Account();
  const y = new Account();
  const [opk] = y.generateOneTimePrekeys(1);
  const bundle = y.bundle(opk);
  const t = performance.now();
  const toY = Conversation.start(x, y.identityKey, bundle);
  const first = toY.encrypt(new TextEncoder().encode("hello"));
  const toX = new Conversation(x.identityKey);
  toX.decrypt(y, first);
  setup.push(performance.now() - t);
  for (const o of [x, y, toX, toY]) o.free();
}
const wasm = { encrypt_us: median(enc.slice(2)), decrypt_us: median(dec.slice(2)), setup_ms: median(setup) };

const native = JSON.parse(
  execFileSync("cargo", ["run", "-q", "--profile", "native", "--locked", "--example", "native_bench"], {
    cwd: here(".."),
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  }),
);

const bytes = readFileSync(here("../pkg/sova_wasm_bg.wasm"));
const result = {
  date: new Date().toISOString().slice(0, 10),
  machine: `${cpus()[0]?.model ?? "unknown"} (${cpus().length} cores), Node.js ${process.version}`,
  size: SIZE,
  wasm,
  native,
  ratio: {
    encrypt: wasm.encrypt_us / native.encrypt_us,
    decrypt: wasm.decrypt_us / native.decrypt_us,
    setup: wasm.setup_ms / native.setup_ms,
  },
  load_average: loadavg().map((x) => Number(x.toFixed(2))),
  wasm_bytes: bytes.length,
  wasm_gzip_bytes: gzipSync(bytes, { level: 9 }).length,
};
console.log(JSON.stringify(result, null, 2));
mkdirSync(here("../../../target/artifacts"), { recursive: true });
writeFileSync(here("../../../target/artifacts/wasm-bench.json"), JSON.stringify(result, null, 2) + "\n");
