// End-to-end: the demo page in headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core), served from 127.0.0.1 by demo/serve.mjs.
// Alice and Bob chat both ways, a message tampered with in flight is
// refused with its error code, both safety numbers agree; a screenshot is
// saved (its path is printed) and session setup is timed in the page.
// Run after build.sh: node --test e2e/browser.test.mjs
// CHROMIUM overrides the browser's path; SOVA_ARTIFACTS the output folder.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

import { serve } from "../demo/serve.mjs";

const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const artifacts = process.env.SOVA_ARTIFACTS ?? fileURLToPath(new URL("../../../target/artifacts/", import.meta.url));
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

let server, url, profile, context, page;
const problems = [];

before(async () => {
  ({ server, url } = await serve(0));
  profile = await mkdtemp(join(tmpdir(), "sova-chromium-"));
  context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: ARGS,
    viewport: { width: 1500, height: 1000 },
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => m.type() === "error" && problems.push(`console error: ${m.text()}`));
  page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()}`));
  page.on("response", (r) => r.status() >= 400 && problems.push(`HTTP ${r.status()}: ${r.url()}`));
  await page.goto(url);
  await page.waitForSelector('#status[data-state="ready"], #status[data-state="error"]', { timeout: 60_000 });
  assert.equal(await page.textContent("#status"), "ready");
});

after(async () => {
  await context?.close();
  server?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
});

/** Sends `text` from `who`, then delivers (optionally after tampering) the packet. */
async function exchange(who, text, { tamper = false } = {}) {
  await page.fill(`#${who}-input`, text);
  await page.click(`#${who}-send`);
  const packet = page.locator("#wire .packet").last();
  await packet.locator(".route").waitFor();
  const hex = await packet.locator("code").textContent();
  assert.match(hex, /^[0-9a-f]+$/, "the wire shows the bytes in hex");
  assert.ok(!hex.includes(Buffer.from(text).toString("hex")), "the plaintext is not on the wire");
  if (tamper) {
    await packet.locator(".tamper").click();
    assert.equal(await packet.locator("mark").count(), 1, "the flipped byte is marked");
  }
  await packet.locator(".deliver").click();
  return packet;
}

test("messages arrive decrypted on both sides, with their ratchet steps", async () => {
  await exchange("alice", "Hello Bob, this is Alice.");
  const atBob = page.locator("#bob-log .msg.received").last();
  assert.equal(await atBob.evaluate((li) => li.firstChild.textContent), "Hello Bob, this is Alice.");
  assert.match(await atBob.locator(".step").textContent(), /message #0 · new chain/);

  await exchange("bob", "Hi Alice! Bob here.");
  const atAlice = page.locator("#alice-log .msg.received").last();
  assert.equal(await atAlice.evaluate((li) => li.firstChild.textContent), "Hi Alice! Bob here.");
  assert.match(await atAlice.locator(".step").textContent(), /message #0 · new chain/);

  await exchange("alice", "Second message.");
  assert.match(await page.locator("#bob-log .msg.received .step").last().textContent(), /message #0 · new chain/);
  await exchange("alice", "Third message.");
  assert.match(await page.locator("#bob-log .msg.received .step").last().textContent(), /message #1/);
});

test("a message tampered with in flight is refused with its error code", async () => {
  const packet = await exchange("alice", "Transfer 100 to Carol", { tamper: true });
  const refusal = page.locator("#bob-log .msg.refused").last();
  assert.equal(await refusal.getAttribute("data-code"), "Decrypt");
  assert.equal(await refusal.getAttribute("data-reason"), "Authentication");
  assert.match(await refusal.textContent(), /refused: Decrypt \(Authentication\)/);
  assert.equal(await packet.getAttribute("data-state"), "refused");
  const texts = await page.locator("#bob-log .msg.received").evaluateAll((els) => els.map((e) => e.firstChild.textContent));
  assert.ok(!texts.includes("Transfer 100 to Carol"));

  // The refusal changed nothing: the next message arrives, one missing before it.
  await exchange("alice", "After the tampered one.");
  const next = page.locator("#bob-log .msg.received").last();
  assert.equal(await next.evaluate((li) => li.firstChild.textContent), "After the tampered one.");
  assert.match(await next.locator(".step").textContent(), /1 missing before it/);
});

test("both sides show the same safety number", async () => {
  const a = await page.getAttribute("#alice-safety", "data-digits");
  const b = await page.getAttribute("#bob-safety", "data-digits");
  assert.match(a, /^[0-9]{60}$/);
  assert.equal(a, b);
  assert.equal(await page.locator(".safety.match").count(), 2);
});

test("screenshot and session setup time", async () => {
  await mkdir(artifacts, { recursive: true });
  const shot = join(artifacts, "wasm-demo.png");
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`screenshot: ${shot}`);

  const bench = await page.evaluate(() => window.sovaDemo.benchSetup(25));
  const version = context.browser()?.version() ?? (await page.evaluate(() => navigator.userAgent));
  const result = { browser: version, ...bench, metrics: await page.evaluate(() => window.sovaDemo.metrics) };
  await writeFile(join(artifacts, "wasm-browser-setup.json"), JSON.stringify(result, null, 2) + "\n");
  console.log(`session setup in Chromium (median of ${bench.n}): start ${bench.startMs.toFixed(2)} ms, ` +
    `accept ${bench.acceptMs.toFixed(2)} ms, total ${bench.setupMs.toFixed(2)} ms`);
  assert.ok(bench.setupMs > 0);
  assert.deepEqual(problems, []);
});
