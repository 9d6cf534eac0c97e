// Groups (spec §12) through the package: welcomes and chain offers travel
// only as fan-out messages over the pairwise sessions, operations and group
// messages through "the server" (plain byte arrays here). Run:
// node --test test/groups.test.mjs (after build.sh).
import { test } from "node:test";
import assert from "node:assert/strict";

import {
  init,
  Account,
  Directory,
  Group,
  KnownUser,
  PeerDevices,
  SovaError,
  UserKey,
  parseDeviceMessage,
  splitFanout,
} from "../index.js";

await init();

const enc = (s) => new TextEncoder().encode(s);
const dec = (b) => new TextDecoder().decode(b);

/** Runs `f`, which must throw a SovaError; returns it. */
function refused(f, code, reason = code) {
  let err;
  try {
    f();
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof SovaError, `expected a SovaError, got ${err}`);
  assert.equal(err.code, code, `codes: ${err.codes}`);
  assert.equal(err.reason, reason, `codes: ${err.codes}`);
  assert.equal(err.codes[0], code);
  return err;
}

/** People with one device each; every device knows every person's list. */
function world(names) {
  const people = names.map((name) => {
    const account = new Account();
    const uk = UserKey.generate();
    const list = uk.signList(1n, [{ deviceId: 1, identity: account.identityKey, admin: true }]);
    return { name, account, uk, user: uk.publicKey, list, group: undefined };
  });
  for (const p of people) {
    p.self = new KnownUser(p.uk.publicKey, p.list);
    p.own = PeerDevices.own(new KnownUser(p.uk.publicKey, p.list), 1);
    p.directory = new Directory();
    p.peers = new Map();
    for (const q of people) {
      const known = new KnownUser(q.uk.publicKey, q.list);
      assert.equal(p.directory.add(known).changed, true);
      if (q !== p) p.peers.set(q.name, new PeerDevices(known));
    }
  }
  return Object.fromEntries(people.map((p) => [p.name, p]));
}

/**
 * Carries `bytes` from `from` to `to` as a fan-out message over their
 * pairwise session (started from `to`'s bundle when there is none yet);
 * returns what `to` received: its `receipt` is what `Group.join` and
 * `acceptChain` take (the sender the pairwise session authenticated).
 */
function fanout(from, to, bytes) {
  const toThem = from.peers.get(to.name);
  if (toThem.needsBundle().length > 0) toThem.start(from.account, 1, to.account.bundle());
  const parts = splitFanout(PeerDevices.send(from.own, toThem, bytes));
  assert.deepEqual(parts.map((p) => [p.audience, p.deviceId]), [["recipient", 1]]);
  const got = to.peers.get(from.name).receive(to.self, to.account, parts[0].message);
  const header = parseDeviceMessage(parts[0].message);
  assert.deepEqual(got.senderUser, header.senderUser);
  assert.deepEqual(got.senderUser, from.user);
  assert.deepEqual(got.plaintext, bytes);
  return got;
}

/** `from` welcomes `to` to its group with `operation`, by fan-out. */
function welcome(from, to, operation) {
  const got = fanout(from, to, from.group.welcome(operation));
  to.group = Group.join(to.user, 1, got.receipt, to.directory);
}

/** `from` starts a fresh chain and hands it to the other members, by fan-out. */
function shareChain(from, members) {
  const offer = from.group.startChain(from.account);
  for (const to of members) {
    if (to === from) continue;
    const got = fanout(from, to, offer);
    to.group.acceptChain(got.receipt, to.directory);
  }
  assert.equal(from.group.needsChain, false);
}

/** `from` sends `text` to the group; each of `readers` reads it. */
function say(from, readers, text) {
  const wire = from.group.encrypt(enc(text));
  for (const to of readers) {
    const got = to.group.decrypt(wire, to.directory);
    assert.equal(dec(got.plaintext), text);
    assert.deepEqual(got.senderUser, from.user);
    assert.equal(got.senderDevice, 1);
  }
  return wire;
}

test("a group of three: welcomes and chains by fan-out, send and receive, add and remove", () => {
  const w = world(["alice", "bob", "carol", "dave"]);
  const { alice, bob, carol, dave } = w;
  const three = [alice, bob, carol];

  const created = Group.create(alice.account, alice.user, 1, [
    { user: alice.user, role: "admin" },
    { user: bob.user, role: "member" },
    { user: carol.user, role: "member" },
  ], alice.directory);
  alice.group = created.group;
  assert.ok(alice.group instanceof Group);
  assert.equal(alice.group.epoch, 0n);
  welcome(alice, bob, created.operation);
  welcome(alice, carol, created.operation);
  for (const p of three) {
    assert.deepEqual(p.group.groupId, alice.group.groupId);
    assert.deepEqual(p.group.stateHash, alice.group.stateHash);
    assert.equal(p.group.isMember, true);
    assert.equal(p.group.needsChain, true);
  }
  assert.equal(alice.group.members().length, 3);
  assert.equal(alice.group.members().find((m) => m.user.every((b, i) => b === alice.user[i])).role, "admin");
  assert.equal(bob.group.members().filter((m) => m.role === "member").length, 2);

  // No chain yet: nothing to send with.
  refused(() => bob.group.encrypt(enc("too early")), "NoChain");
  for (const p of three) shareChain(p, three);
  say(alice, [bob, carol], "hello group");
  say(bob, [alice, carol], "hi all");
  say(carol, [alice, bob], "hi from Carol");
  say(alice, [bob, carol], "second from Alice");

  // Only an admin may add: Bob is refused, and nothing changes.
  const bobBefore = bob.group.toBytes();
  refused(() => bob.group.add(bob.account, { user: dave.user, role: "member" }, bob.directory), "NotAuthorised");
  assert.deepEqual(bob.group.toBytes(), bobBefore);

  // Alice adds Dave: the others apply the operation from the log; Dave is welcomed.
  const addDave = alice.group.add(alice.account, { user: dave.user, role: "member" }, alice.directory);
  assert.equal(alice.group.epoch, 1n);
  assert.equal(alice.group.apply(addDave, alice.directory), "unchanged");
  assert.equal(bob.group.apply(addDave, bob.directory), "advanced");
  assert.equal(carol.group.apply(addDave, carol.directory), "advanced");
  refused(() => carol.group.apply(created.operation, carol.directory), "StaleEpoch");
  welcome(alice, dave, addDave);
  const four = [alice, bob, carol, dave];
  for (const p of four) {
    assert.equal(p.group.epoch, 1n);
    assert.deepEqual(p.group.stateHash, alice.group.stateHash);
    assert.equal(p.group.members().length, 4);
    // A new epoch: every chain is gone.
    assert.equal(p.group.needsChain, true);
  }
  for (const p of four) shareChain(p, four);
  say(dave, [alice, bob, carol], "hi, I'm Dave");
  say(carol, [alice, bob, dave], "welcome Dave");

  // Alice removes Carol; new chains go only to the remaining members.
  const removeCarol = alice.group.remove(alice.account, carol.user, alice.directory);
  for (const p of [bob, carol, dave]) assert.equal(p.group.apply(removeCarol, p.directory), "advanced");
  assert.equal(carol.group.isMember, false);
  for (const p of [alice, bob, dave]) assert.equal(p.group.isMember, true);
  assert.equal(alice.group.members().length, 3);
  const rest = [alice, bob, dave];
  for (const p of rest) shareChain(p, rest);
  const secret = say(alice, [bob, dave], "without Carol");
  // Carol cannot read it, nor send, nor start a chain.
  const carolBefore = carol.group.toBytes();
  refused(() => carol.group.decrypt(secret, carol.directory), "UnknownChain");
  refused(() => carol.group.encrypt(enc("still here?")), "Removed");
  refused(() => carol.group.startChain(carol.account), "Removed");
  assert.deepEqual(carol.group.toBytes(), carolBefore);
  say(bob, [alice, dave], "bye Carol");

  // Alice makes Bob an admin; Bob may then change the roster himself.
  const promoteBob = alice.group.changeRole(alice.account, { user: bob.user, role: "admin" }, alice.directory);
  for (const p of [bob, dave]) assert.equal(p.group.apply(promoteBob, p.directory), "advanced");
  const roleOf = (g, user) => g.members().find((m) => m.user.every((b, i) => b === user[i])).role;
  assert.equal(roleOf(dave.group, bob.user), "admin");
  refused(() => dave.group.remove(dave.account, bob.user, dave.directory), "NotAuthorised");
  const promoteDave = bob.group.changeRole(bob.account, { user: dave.user, role: "admin" }, bob.directory);
  for (const p of [alice, dave]) assert.equal(p.group.apply(promoteDave, p.directory), "advanced");
  assert.equal(roleOf(alice.group, dave.user), "admin");
  for (const p of rest) assert.deepEqual(p.group.stateHash, alice.group.stateHash);
});

test("a tampered group message is refused with its code and changes nothing", () => {
  const { alice, bob, carol } = world(["alice", "bob", "carol"]);
  const created = Group.create(alice.account, alice.user, 1, [
    { user: alice.user, role: "admin" },
    { user: bob.user, role: "member" },
  ], alice.directory);
  alice.group = created.group;
  welcome(alice, bob, created.operation);
  shareChain(alice, [alice, bob]);

  const wire = alice.group.encrypt(enc("pay Carol"));
  const before = bob.group.toBytes();
  for (const at of [wire.length - 1, wire.length - 70]) {
    const bad = wire.slice();
    bad[at] ^= 1;
    refused(() => bob.group.decrypt(bad, bob.directory), "InvalidSignature");
    assert.deepEqual(bob.group.toBytes(), before);
  }
  const truncated = wire.subarray(0, 10);
  const err = refused(() => bob.group.decrypt(truncated, bob.directory), "Malformed", "Truncated");
  assert.deepEqual(err.codes, ["Malformed", "Truncated"]);
  assert.deepEqual(bob.group.toBytes(), before);
  // The genuine message still reads, once.
  assert.equal(dec(bob.group.decrypt(wire, bob.directory).plaintext), "pay Carol");
  refused(() => bob.group.decrypt(wire, bob.directory), "DuplicateOrExpired");

  // Alice's chain offer relayed over Carol's pairwise session is refused.
  const offer = alice.group.startChain(alice.account);
  const relayed = fanout(carol, bob, offer);
  const held = bob.group.toBytes();
  refused(() => bob.group.acceptChain(relayed.receipt, bob.directory), "WrongSession");
  assert.deepEqual(bob.group.toBytes(), held);
  // Arguments of the wrong shape are RangeErrors, before any work.
  assert.throws(() => Group.create(alice.account, alice.user, 1, [{ user: bob.user, role: "owner" }], alice.directory), RangeError);
  assert.throws(() => alice.group.remove(alice.account, new Uint8Array(31), alice.directory), RangeError);
});

test("persistence: plain and sealed group state round trip", () => {
  const { alice, bob } = world(["alice", "bob"]);
  const created = Group.create(alice.account, alice.user, 1, [
    { user: alice.user, role: "admin" },
    { user: bob.user, role: "admin" },
  ], alice.directory);
  alice.group = created.group;
  welcome(alice, bob, created.operation);
  shareChain(alice, [alice, bob]);
  shareChain(bob, [alice, bob]);
  say(alice, [bob], "before saving");

  const key = new Uint8Array(32).fill(7);
  const sealed = bob.group.toSealedBytes(key);
  const plain = bob.group.toBytes();
  const restored = Group.fromSealedBytes(sealed, key);
  assert.deepEqual(restored.toBytes(), plain);
  assert.deepEqual(Group.fromBytes(plain).toBytes(), plain);
  assert.deepEqual(restored.stateHash, bob.group.stateHash);
  assert.equal(restored.epoch, bob.group.epoch);

  // The restored state reads the next message and sends on its chain.
  bob.group = restored;
  say(alice, [bob], "after restoring");
  say(bob, [alice], "reply from the restored state");
  const aliceCopy = Group.fromSealedBytes(alice.group.toSealedBytes(key), key);
  assert.deepEqual(aliceCopy.toBytes(), alice.group.toBytes());

  const other = new Uint8Array(32).fill(8);
  refused(() => Group.fromSealedBytes(sealed, other), "Storage", "Authentication");
  refused(() => Group.fromSealedBytes(alice.account.toSealedBytes(key), key), "Storage", "WrongKind");
  refused(() => Group.fromBytes(new Uint8Array([1, 2, 3])), "BadMagic");
  assert.throws(() => bob.group.toSealedBytes(new Uint8Array(31)), RangeError);
});

test("the directory holds copies of people and only moves their lists forward", () => {
  const account = new Account();
  const laptop = new Account();
  const uk = UserKey.generate();
  const entry = { deviceId: 1, identity: account.identityKey, admin: true };
  const list1 = uk.signList(1n, [entry]);
  const list2 = uk.signList(2n, [entry, { deviceId: 2, identity: laptop.identityKey, admin: false }]);
  const known = new KnownUser(uk.publicKey, list1);
  const dir = new Directory();
  assert.deepEqual(dir.add(known), { changed: true, added: [1], removed: [] });
  assert.equal(dir.size, 1);
  assert.equal(dir.add(known).changed, false);
  assert.deepEqual(dir.update(uk.publicKey, list2), { changed: true, added: [2], removed: [] });
  // A copy: the caller's KnownUser did not move, and offering its older list is a rollback.
  assert.equal(known.epoch, 1n);
  assert.equal(dir.get(uk.publicKey).epoch, 2n);
  refused(() => dir.add(known), "Rollback");
  refused(() => dir.update(uk.publicKey, list1), "Rollback");
  assert.equal(dir.get(uk.publicKey).epoch, 2n);
  assert.throws(() => dir.update(UserKey.generate().publicKey, list2), RangeError);
  assert.equal(dir.remove(uk.publicKey), true);
  assert.equal(dir.remove(uk.publicKey), false);
  assert.equal(dir.get(uk.publicKey), undefined);
  assert.equal(dir.size, 0);
});
