// The README's JavaScript example runs as written: the package README's
// first `js` block, which the repository README repeats word for word,
// is run as a module of its own (importing the package by its name).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const here = (p) => fileURLToPath(new URL(p, import.meta.url));

async function jsBlock(path) {
  const text = await readFile(here(path), "utf8");
  const m = text.match(/```js\n([\s\S]*?)```/);
  assert.ok(m, `${path} has a js code block`);
  return m[1];
}

test("the README example runs as written", async () => {
  const example = await jsBlock("../README.md");
  assert.equal(await jsBlock("../../../README.md"), example, "the repository README shows the same example");
  assert.match(example, /from "sova-wasm"/);
  // Inside the package, so that "sova-wasm" resolves to it (self-reference).
  await mkdir(here("../target"), { recursive: true });
  const file = here("../target/readme-example.mjs");
  await writeFile(file, example);
  const { stdout } = await promisify(execFile)(process.execPath, [file]);
  const lines = stdout.trim().split("\n");
  assert.equal(lines.length, 3, stdout);
  assert.equal(lines[0], "hi Bob 0");
  assert.match(lines[1], /^([0-9]{5} ){11}[0-9]{5}$/);
  assert.equal(lines[2], "true Decrypt Authentication");
});
