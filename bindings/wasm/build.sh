#!/usr/bin/env bash
# Builds the npm package's WebAssembly part into pkg/: the crate for
# wasm32-unknown-unknown (release profile tuned for size), then
# wasm-bindgen's JavaScript glue and TypeScript types for ES modules
# (browsers and Node.js). Needs the wasm32-unknown-unknown target and
# wasm-bindgen-cli at exactly the version of the wasm-bindgen crate in
# Cargo.lock (`cargo install wasm-bindgen-cli --version =X.Y.Z --locked`).
# Prints the .wasm size, raw and gzipped.
set -euo pipefail
cd "$(dirname "$0")"

want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3 }' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
if [ "$have" != "$want" ]; then
    echo "wasm-bindgen-cli $want is needed (found: ${have:-none}):" >&2
    echo "    cargo install wasm-bindgen-cli --version =$want --locked" >&2
    exit 1
fi

cargo build --release --locked --target wasm32-unknown-unknown
rm -rf pkg
wasm-bindgen --target web --out-dir pkg --out-name sova_wasm \
    --remove-name-section --remove-producers-section \
    target/wasm32-unknown-unknown/release/sova_wasm.wasm

raw=$(wc -c < pkg/sova_wasm_bg.wasm)
gz=$(gzip -9 -c pkg/sova_wasm_bg.wasm | wc -c)
echo "pkg/sova_wasm_bg.wasm: $raw bytes, $gz bytes gzipped ($((gz / 1024)) KiB)"
