// The demo: Alice and Bob, each with an account in this page, publish
// prekeys to a simulated server, establish a session and chat. Every
// message is shown as the server sees it (hex) and waits until it is
// delivered; a message can be tampered with on the way and is then refused
// with the library's error code.
import { init, Account, Conversation, PrekeyUpload, SafetyNumber, SovaError } from "../index.js";

const $ = (selector, root = document) => root.querySelector(selector);
const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const enc = (s) => new TextEncoder().encode(s);
const dec = (b) => new TextDecoder().decode(b);
const ms = (x) => `${x.toFixed(2)} ms`;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const describe = (e) =>
  e instanceof SovaError ? `${e.code}${e.codes.length > 1 ? ` (${e.codes.slice(1).join(" → ")})` : ""}` : String(e);

const metrics = {};
const status = $("#status");

/** The server: prekey uploads it checked, and the messages it carries. */
const server = {
  uploads: new Map(),
  packets: [],

  /** A party uploads its prekeys; the server checks the signatures. */
  publish(name, uploadBytes) {
    const upload = new PrekeyUpload(uploadBytes);
    this.uploads.set(name, {
      upload,
      opks: [...upload.oneTimePrekeyIds()],
      kems: [...upload.kemOneTimePrekeyIds()],
    });
    renderBundles();
  },

  /** A bundle of `name`, with one-time prekeys handed out once each. */
  bundle(name) {
    const entry = this.uploads.get(name);
    const bundle = entry.upload.bundle(entry.opks.shift(), entry.kems.shift());
    renderBundles();
    return bundle;
  },
};

function renderBundles() {
  $("#bundles").replaceChildren(
    ...[...server.uploads].map(([name, e]) => {
      const p = document.createElement("p");
      p.textContent = `${name}'s bundle: identity ${hex(e.upload.identityKey).slice(0, 16)}…, ` +
        `${e.opks.length} one-time X25519 and ${e.kems.length} one-time ML-KEM-768 prekeys left`;
      return p;
    }),
  );
}

function log(party, cls, text, step, attrs = {}) {
  const li = document.createElement("li");
  li.className = `msg ${cls}`;
  li.textContent = text;
  for (const [k, v] of Object.entries(attrs)) li.dataset[k] = v;
  if (step) {
    const s = document.createElement("span");
    s.className = "step";
    s.textContent = step;
    li.append(s);
  }
  const ol = $(`#${party.id}-log`);
  ol.append(li);
  ol.scrollTop = ol.scrollHeight;
}

function ratchetStep(info) {
  const parts = [`chain ${hex(info.chain).slice(0, 8)}…`, `message #${info.number}`];
  if (info.newChain) parts.push("new chain: DH ratchet step");
  if (info.late) parts.push("late");
  if (info.gap) parts.push(`${info.gap} missing before it`);
  return parts.join(" · ");
}

/** A party: its account, published prekeys, and its conversation with the other. */
function party(id, name) {
  const account = new Account();
  account.generateOneTimePrekeys(4);
  account.generateKemOneTimePrekeys(2);
  const upload = account.unpublishedPrekeys();
  server.publish(name, upload);
  account.markPrekeysAsPublished(upload);
  $(`#${id} .ik`).textContent = hex(account.identityKey).slice(0, 32) + "…";
  return { id, name, account, conversation: null, peer: null };
}

const t0 = performance.now();
await init();
metrics.init = performance.now() - t0;

const t1 = performance.now();
const alice = party("alice", "Alice");
const bob = party("bob", "Bob");
metrics.accounts = (performance.now() - t1) / 2;
alice.peer = bob;
bob.peer = alice;

// Each knows the other's identity key from a contact card, and expects it:
// Alice starts from Bob's bundle; Bob waits for Alice's first message.
const t2 = performance.now();
alice.conversation = Conversation.start(alice.account, bob.account.identityKey, server.bundle("Bob"));
metrics.start = performance.now() - t2;
bob.conversation = new Conversation(alice.account.identityKey);
log(alice, "info", "Session started from Bob's bundle (X25519 + ML-KEM-768).");
log(bob, "info", "Expecting Alice: her first message will set up the session.");

for (const p of [alice, bob]) {
  const sn = new SafetyNumber(p.account.identityKey, p.peer.account.identityKey);
  const dd = $(`#${p.id}-safety`);
  dd.textContent = sn.display();
  dd.dataset.digits = sn.digits;
}
if ($("#alice-safety").dataset.digits === $("#bob-safety").dataset.digits) {
  for (const dd of document.querySelectorAll(".safety")) dd.classList.add("match");
}

let nextPacket = 1;

function send(from, text) {
  let wire;
  try {
    wire = from.conversation.encrypt(enc(text));
  } catch (e) {
    log(from, "refused", `not sent: ${describe(e)}`, e.message, { code: e.code ?? "" });
    return;
  }
  const packet = { id: nextPacket++, from, to: from.peer, wire, tamperedAt: -1, state: "in flight" };
  server.packets.push(packet);
  log(from, "sent", text, `packet ${packet.id}: ${wire.length} bytes`);
  renderPacket(packet);
}

function deliver(packet) {
  const to = packet.to;
  try {
    const t = performance.now();
    const got = to.conversation.decrypt(to.account, packet.wire);
    const elapsed = performance.now() - t;
    if (got.accountChanged) {
      metrics.accept ??= elapsed;
      log(to, "info", `New session accepted from ${packet.from.name}'s initial message (a one-time prekey used).`);
    }
    packet.state = "delivered";
    log(to, "received", dec(got.plaintext), ratchetStep(got.info), { packet: packet.id });
  } catch (e) {
    packet.state = `refused: ${describe(e)}`;
    log(to, "refused", `packet ${packet.id} refused: ${describe(e)}`, e.message, {
      packet: packet.id,
      code: e.code ?? "",
      reason: e.reason ?? "",
    });
  }
  renderPacket(packet);
  renderMetrics();
}

function tamper(packet) {
  // Flip one bit inside the ciphertext, near the end (the body and its tag).
  const at = packet.wire.length - 20;
  packet.wire[at] ^= 0x01;
  packet.tamperedAt = at;
  packet.state = "tampered in flight";
  renderPacket(packet);
}

function renderPacket(packet) {
  let li = document.getElementById(`packet-${packet.id}`);
  if (!li) {
    li = document.createElement("li");
    li.id = `packet-${packet.id}`;
    li.className = "packet";
    li.innerHTML = `<header><span class="route"></span><span class="len"></span>
      <button class="deliver">Deliver</button><button class="tamper">Tamper</button>
      <span class="state"></span></header><code></code>`;
    $(".deliver", li).onclick = () => deliver(packet);
    $(".tamper", li).onclick = () => tamper(packet);
    $("#wire").append(li);
  }
  const done = packet.state === "delivered" || packet.state.startsWith("refused");
  li.dataset.state = done ? packet.state.split(":")[0] : "flight";
  $(".route", li).textContent = `#${packet.id} ${packet.from.name} → ${packet.to.name}`;
  $(".len", li).textContent = `${packet.wire.length} bytes`;
  $(".state", li).textContent = packet.state;
  $(".deliver", li).disabled = done;
  $(".tamper", li).disabled = done || packet.tamperedAt >= 0;
  const h = hex(packet.wire);
  const code = $("code", li);
  if (packet.tamperedAt >= 0) {
    const i = packet.tamperedAt * 2;
    const mark = document.createElement("mark");
    mark.textContent = h.slice(i, i + 2);
    code.replaceChildren(h.slice(0, i), mark, h.slice(i + 2));
  } else {
    code.textContent = h;
  }
}

function renderMetrics() {
  const rows = [
    ["load the module", metrics.init],
    ["new account + prekeys (each)", metrics.accounts],
    ["start a session from a bundle", metrics.start],
    ["accept the initial message", metrics.accept],
  ].filter(([, v]) => v !== undefined);
  $("#metrics").replaceChildren(
    ...rows.flatMap(([k, v]) => {
      const dt = document.createElement("dt");
      dt.textContent = k;
      const dd = document.createElement("dd");
      dd.textContent = ms(v);
      return [dt, dd];
    }),
  );
}

for (const form of document.querySelectorAll("form.compose")) {
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const from = form.dataset.party === "alice" ? alice : bob;
    const input = $("input", form);
    if (input.value) send(from, input.value);
    input.value = "";
  });
}

/**
 * Session setup measured `n` times: a fresh account pair, Alice's
 * Conversation.start from Bob's bundle plus her first message, Bob's
 * accept of it. Medians in milliseconds.
 */
function benchSetup(n) {
  const start = [];
  const accept = [];
  const setup = [];
  for (let i = 0; i < n; i++) {
    const a = new Account();
    const b = new Account();
    const [opk] = b.generateOneTimePrekeys(1);
    const bundle = b.bundle(opk);
    const t0 = performance.now();
    const toB = Conversation.start(a, b.identityKey, bundle);
    const first = toB.encrypt(enc("hello"));
    const t1 = performance.now();
    const toA = new Conversation(a.identityKey);
    const got = toA.decrypt(b, first);
    const t2 = performance.now();
    if (dec(got.plaintext) !== "hello") throw new Error("setup benchmark: wrong plaintext");
    start.push(t1 - t0);
    accept.push(t2 - t1);
    setup.push(t2 - t0);
    for (const o of [a, b, toA, toB]) o.free();
  }
  return { n, startMs: median(start), acceptMs: median(accept), setupMs: median(setup) };
}

window.sovaDemo = { metrics, benchSetup, server };
renderMetrics();
status.textContent = "ready";
status.dataset.state = "ready";
