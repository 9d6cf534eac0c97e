// The package's API in Node.js: sessions, conversations, persistence,
// refusals as SovaErrors with the library's codes, safety numbers and
// several devices per person. Run: node --test test/ (after build.sh).
import { test } from "node:test";
import assert from "node:assert/strict";

import {
  init,
  Account,
  Session,
  Conversation,
  PrekeyUpload,
  SafetyNumber,
  SovaError,
  UserKey,
  KnownUser,
  PeerDevices,
  LinkRequest,
  approveLink,
  splitFanout,
  parseDeviceMessage,
  userIdentity,
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
  assert.ok(err instanceof Error);
  assert.equal(err.name, "SovaError");
  assert.equal(err.code, code, `codes: ${err.codes}`);
  assert.equal(err.reason, reason, `codes: ${err.codes}`);
  assert.equal(err.codes[0], code);
  assert.ok(err.message.length > 0);
  return err;
}

/** Alice and Bob with a conversation each, after one message each way. */
function pair(mode) {
  const alice = new Account();
  const bob = new Account();
  const [opk] = bob.generateOneTimePrekeys(1);
  const bundle = bob.bundle(opk);
  const toBob = Conversation.start(alice, bob.identityKey, bundle, mode);
  const toAlice = new Conversation(alice.identityKey);
  const first = toBob.encrypt(enc("hi Bob"));
  const got = toAlice.decrypt(bob, first);
  assert.equal(dec(got.plaintext), "hi Bob");
  assert.equal(got.accountChanged, true);
  const reply = toAlice.encrypt(enc("hi Alice"));
  assert.equal(dec(toBob.decrypt(alice, reply).plaintext), "hi Alice");
  return { alice, bob, toBob, toAlice };
}

test("a conversation round trip, both header modes, with message info", () => {
  for (const mode of ["encrypted", "plain", undefined]) {
    const { alice, bob, toBob, toAlice } = pair(mode);
    assert.deepEqual(toBob.activeSessionId, toAlice.activeSessionId);
    assert.equal(toBob.sessionCount, 1);
    assert.deepEqual(toAlice.peer, alice.identityKey);

    // Three messages; the third arrives before the second.
    const m = [1, 2, 3].map((i) => toBob.encrypt(enc(`message ${i}`)));
    const r0 = toAlice.decrypt(bob, m[0]);
    assert.equal(r0.info.newChain, true);
    assert.equal(r0.info.number, 0);
    assert.equal(r0.info.chain.length, 32);
    const r2 = toAlice.decrypt(bob, m[2]);
    assert.equal(r2.info.number, 2);
    assert.equal(r2.info.gap, 1);
    assert.equal(r2.info.late, false);
    const r1 = toAlice.decrypt(bob, m[1]);
    assert.equal(dec(r1.plaintext), "message 2");
    assert.equal(r1.info.late, true);
    assert.deepEqual(r1.info.chain, r0.info.chain);
    assert.equal(r1.accountChanged, false);
  }
});

test("sessions: start and accept with the expected peer, decryptWithInfo", () => {
  const alice = new Account();
  const bob = new Account();
  const bundle = bob.bundle();
  const a = Session.start(alice, bob.identityKey, bundle);
  assert.equal(a.weInitiated, true);
  assert.equal(a.isPending, true);
  const m0 = a.encrypt(enc("first"));
  const m1 = a.encrypt(enc("second"));
  const { session: b, plaintext } = bob.accept(alice.identityKey, m1);
  assert.ok(b instanceof Session);
  assert.equal(dec(plaintext), "second");
  assert.deepEqual(b.sessionId, a.sessionId);
  assert.deepEqual(b.peerIdentityKey, alice.identityKey);
  const { plaintext: p0, info } = b.decryptWithInfo(m0);
  assert.equal(dec(p0), "first");
  assert.equal(info.late, true);
  assert.equal(info.number, 0);
  const reply = b.encrypt(enc("back"));
  assert.equal(dec(a.decrypt(reply)), "back");
  assert.equal(a.isPending, false);
  assert.equal(a.isConfirmed, true);
  // A first contact, explicitly unverified.
  const carol = new Account();
  const c = Session.startUnverified(carol, bob.bundle(), "plain");
  const { session: fromCarol } = bob.acceptUnverified(c.encrypt(enc("hello")));
  assert.deepEqual(fromCarol.peerIdentityKey, carol.identityKey);
});

test("a tampered message is refused with its code and changes nothing", () => {
  // Where a flipped bit lands decides the code (spec §6.2, §6.3, §5.6.3):
  // the body and its tag (the last byte) fail the body's tag
  // (`Authentication`); in encrypted-header mode, a byte of the encrypted
  // header (offset 20) is opened by no header key (`HeaderAuthentication`);
  // in plain mode a changed ratchet key (offset 10) looks like a new chain
  // whose keys do not open the body (`Authentication`).
  const cases = {
    encrypted: [[-1, "Authentication"], [20, "HeaderAuthentication"]],
    plain: [[-1, "Authentication"], [10, "Authentication"]],
  };
  for (const [mode, flips] of Object.entries(cases)) {
    const { bob, toBob, toAlice } = pair(mode);
    const wire = toBob.encrypt(enc("genuine"));
    const before = toAlice.toBytes();
    for (const [at, reason] of flips) {
      const bad = wire.slice();
      bad[at < 0 ? bad.length + at : at] ^= 0x01;
      const err = refused(() => toAlice.decrypt(bob, bad), "Decrypt", reason);
      assert.deepEqual(err.codes, ["Decrypt", reason]);
    }
    // The refusals changed nothing: same state, and the genuine message decrypts.
    assert.deepEqual(toAlice.toBytes(), before);
    assert.equal(dec(toAlice.decrypt(bob, wire).plaintext), "genuine");
    // Now it is a duplicate.
    refused(() => toAlice.decrypt(bob, wire), "Decrypt", "DuplicateOrExpired");
    // Garbage is malformed, not a crash.
    const e = refused(() => toAlice.decrypt(bob, new Uint8Array([1])), "Decrypt", "Truncated");
    assert.deepEqual(e.codes, ["Decrypt", "Malformed", "Truncated"]);
  }
});

test("an impostor is refused", () => {
  const alice = new Account();
  const bob = new Account();
  const mallory = new Account();
  // A server hands Alice Mallory's bundle for Bob.
  refused(() => Session.start(alice, bob.identityKey, mallory.bundle()), "UnexpectedPeer");
  refused(() => Conversation.start(alice, bob.identityKey, mallory.bundle()), "UnexpectedPeer");
  // Mallory writes to Bob, who expects Alice.
  const fromMallory = Session.start(mallory, bob.identityKey, bob.bundle()).encrypt(enc("I am Alice"));
  refused(() => bob.accept(alice.identityKey, fromMallory), "UnexpectedPeer");
  const toAlice = new Conversation(alice.identityKey);
  refused(() => toAlice.decrypt(bob, fromMallory), "OtherPeer");
  assert.equal(toAlice.sessionCount, 0);
  // A bundle with a broken signature.
  const bundle = bob.bundle();
  bundle[bundle.length - 1] ^= 1;
  refused(() => Session.start(alice, bob.identityKey, bundle), "Bundle", "InvalidKemPrekeySignature");
});

test("persistence: plain and sealed encodings restore every state", () => {
  const { alice, bob, toBob, toAlice } = pair();
  const key = crypto.getRandomValues(new Uint8Array(32));

  const bob2 = Account.fromSealedBytes(bob.toSealedBytes(key), key);
  assert.deepEqual(bob2.identityKey, bob.identityKey);
  assert.equal(bob2.generation, bob.generation);
  assert.equal(typeof bob2.generation, "bigint");
  const alice2 = Account.fromBytes(alice.toBytes());
  assert.deepEqual(alice2.identityKey, alice.identityKey);

  const toAlice2 = Conversation.fromSealedBytes(toAlice.toSealedBytes(key), key);
  const toBob2 = Conversation.fromBytes(toBob.toBytes());
  const wire = toBob2.encrypt(enc("after restore"));
  assert.equal(dec(toAlice2.decrypt(bob2, wire).plaintext), "after restore");
  assert.equal(dec(toBob2.decrypt(alice2, toAlice2.encrypt(enc("ok"))).plaintext), "ok");

  // A session too.
  const s = Session.start(alice, bob.identityKey, bob.bundle());
  const s2 = Session.fromSealedBytes(s.toSealedBytes(key), key);
  assert.deepEqual(s2.sessionId, s.sessionId);
  assert.deepEqual(Session.fromBytes(s.toBytes()).sessionId, s.sessionId);

  // Wrong key, wrong kind, corrupted bytes: typed errors.
  const other = new Uint8Array(32).fill(7);
  refused(() => Account.fromSealedBytes(bob.toSealedBytes(key), other), "Storage", "Authentication");
  refused(() => Session.fromSealedBytes(bob.toSealedBytes(key), key), "Storage", "WrongKind");
  refused(() => Account.fromBytes(new Uint8Array([1, 2, 3])), "BadMagic");
  // A plain state ends with a SHA-256 check of the rest (spec §8.1).
  const bytes = toAlice.toBytes();
  refused(() => Conversation.fromBytes(bytes.subarray(0, bytes.length - 1)), "Corrupted");
  const flipped = bytes.slice();
  flipped[bytes.length >> 1] ^= 1;
  refused(() => Conversation.fromBytes(flipped), "Corrupted");
  // A sealing key of the wrong size is a RangeError, before any work.
  assert.throws(() => bob.toSealedBytes(new Uint8Array(31)), RangeError);
  assert.throws(() => new Conversation(new Uint8Array(63)), RangeError);
});

test("prekeys: upload checked by the server, bundles from it", () => {
  const alice = new Account();
  const bob = new Account();
  const opks = bob.generateOneTimePrekeys(2);
  const kems = bob.generateKemOneTimePrekeys(1);
  assert.equal(bob.hasUnpublishedPrekeys, true);
  const uploadBytes = bob.unpublishedPrekeys();
  const upload = new PrekeyUpload(uploadBytes);
  assert.deepEqual(upload.identityKey, bob.identityKey);
  assert.deepEqual([...upload.oneTimePrekeyIds()], [...opks]);
  assert.deepEqual([...upload.kemOneTimePrekeyIds()], [...kems]);
  assert.ok(bob.markPrekeysAsPublished(uploadBytes) > 0);
  assert.equal(bob.hasUnpublishedPrekeys, false);
  const bundle = upload.bundle(opks[1], kems[0]);
  const toBob = Conversation.start(alice, bob.identityKey, bundle);
  const got = new Conversation(alice.identityKey).decrypt(bob, toBob.encrypt(enc("via server")));
  assert.equal(dec(got.plaintext), "via server");
  // The one-time prekey is gone: the same initial message again is refused.
  assert.deepEqual([...bob.oneTimePrekeyIds()], [opks[0]]);
  refused(() => upload.bundle(99), "UnknownPrekey");
  refused(() => bob.bundle(99), "UnknownPrekey");
  const tampered = uploadBytes.slice();
  tampered[tampered.length - 1] ^= 1;
  assert.throws(() => new PrekeyUpload(tampered), SovaError);
});

test("safety numbers agree on both sides; a device refuses its own QR code", () => {
  const { alice, bob } = pair();
  const a = new SafetyNumber(alice.identityKey, bob.identityKey);
  const b = new SafetyNumber(bob.identityKey, alice.identityKey);
  assert.equal(a.digits, b.digits);
  assert.match(a.digits, /^[0-9]{60}$/);
  assert.equal(a.display().replace(/\s/g, ""), a.digits);
  a.verifyScanned(b.qrPayload);
  refused(() => a.verifyScanned(a.qrPayload), "OwnCode");
  const c = new SafetyNumber(alice.identityKey, new Account().identityKey);
  refused(() => b.verifyScanned(c.qrPayload), "Mismatch");
  refused(() => a.verifyScanned(new Uint8Array(3)), "Length");
});

test("devices: lists, fan-out to a person and to one's own devices, linking", () => {
  // Alice: one device. Bob: a phone, then a laptop linked to it.
  const aliceDev = new Account();
  const bobPhone = new Account();
  const aliceUk = UserKey.generate();
  const bobUk = UserKey.generate();
  const aliceList = aliceUk.signList(1n, [{ deviceId: 1, identity: aliceDev.identityKey, admin: true }]);
  const bobList1 = bobUk.signList(1n, [{ deviceId: 1, identity: bobPhone.identityKey, admin: true }]);
  const bobPhoneSelf = new KnownUser(bobUk.publicKey, bobList1);
  assert.equal(bobPhoneSelf.epoch, 1n);

  // Linking Bob's laptop: offer → approval on the phone → finish.
  const bobLaptop = new Account();
  const request = new LinkRequest(bobLaptop);
  const approval = approveLink(bobUk, bobPhoneSelf, request.offer, false, enc("contacts"));
  const linked = request.finish(approval.response);
  assert.equal(linked.code, approval.code);
  assert.match(linked.code, /^[0-9]{6}$/);
  assert.equal(linked.deviceId, approval.deviceId);
  assert.equal(linked.userKey, undefined);
  assert.equal(dec(linked.data), "contacts");
  assert.ok(linked.user instanceof KnownUser);
  const change = bobPhoneSelf.update(approval.list);
  assert.deepEqual(change, { changed: true, added: [approval.deviceId], removed: [] });
  assert.equal(bobPhoneSelf.update(approval.list).changed, false);
  refused(() => bobPhoneSelf.update(bobList1), "Rollback");
  const bobList = approval.list;
  // A tampered response is refused.
  const bad = approval.response.slice();
  bad[bad.length - 1] ^= 1;
  refused(() => request.finish(bad), "Authentication");

  // Alice's device: her own user (device 1) and Bob.
  const aliceSelf = PeerDevices.own(new KnownUser(aliceUk.publicKey, aliceList), 1);
  const aliceToBob = new PeerDevices(new KnownUser(bobUk.publicKey, bobList));
  assert.deepEqual([...aliceToBob.needsBundle()], [1, approval.deviceId]);
  refused(() => PeerDevices.send(aliceSelf, aliceToBob, enc("too early")), "NoSession");
  aliceToBob.start(aliceDev, 1, bobPhone.bundle());
  // A server's ghost: another account's bundle for the laptop's id.
  refused(() => aliceToBob.start(aliceDev, approval.deviceId, new Account().bundle()), "Start", "UnexpectedPeer");
  aliceToBob.start(aliceDev, approval.deviceId, bobLaptop.bundle());
  const wire = PeerDevices.send(aliceSelf, aliceToBob, enc("hi Bob's devices"));

  const parts = splitFanout(wire);
  assert.deepEqual(parts.map((p) => [p.audience, p.deviceId]), [["recipient", 1], ["recipient", approval.deviceId]]);
  const aliceKnown = new KnownUser(aliceUk.publicKey, aliceList);
  for (const [part, account, self] of [
    [parts[0], bobPhone, bobPhoneSelf],
    [parts[1], bobLaptop, linked.user],
  ]) {
    const h = parseDeviceMessage(part.message);
    assert.deepEqual(h.senderUser, aliceUk.publicKey);
    assert.equal(h.senderDevice, 1);
    assert.deepEqual(h.recipientUser, bobUk.publicKey);
    const fromAlice = new PeerDevices(aliceKnown);
    // Tampered in flight: the pairwise initial message's body fails its tag.
    const tampered = part.message.slice();
    tampered[tampered.length - 1] ^= 1;
    const err = refused(() => fromAlice.receive(self, account, tampered), "Pairwise", "Authentication");
    assert.deepEqual(err.codes, ["Pairwise", "Accept", "FirstMessage", "Authentication"]);
    assert.deepEqual([...fromAlice.conversationIds()], []);
    const got = fromAlice.receive(self, account, part.message);
    assert.equal(dec(got.plaintext), "hi Bob's devices");
    assert.equal(got.senderDevice, 1);
    assert.equal(got.recipientListCurrent, true);
    assert.equal(got.accountChanged, true);
    assert.deepEqual([...fromAlice.conversationIds()], [1]);
    // Persisting a device's conversation and putting it back.
    const key = new Uint8Array(32).fill(3);
    const sealed = fromAlice.conversationToSealedBytes(1, key);
    const again = new PeerDevices(aliceKnown);
    again.insert(1, Conversation.fromSealedBytes(sealed, key));
    assert.deepEqual([...again.conversationIds()], [1]);
    // The same device message again is refused.
    assert.throws(() => fromAlice.receive(self, account, part.message), SovaError);
  }
  // Persistence of the device state.
  const key = new Uint8Array(32).fill(9);
  const uk2 = UserKey.fromSealedBytes(bobUk.toSealedBytes(key), key);
  assert.deepEqual(uk2.publicKey, bobUk.publicKey);
  assert.deepEqual(UserKey.fromBytes(bobUk.toBytes()).userIdentity, bobUk.userIdentity);
  assert.deepEqual(userIdentity(bobUk.publicKey), bobUk.userIdentity);
  const known2 = KnownUser.fromSealedBytes(bobPhoneSelf.toSealedBytes(key), key);
  assert.deepEqual(known2.listHash, bobPhoneSelf.listHash);
  assert.deepEqual(KnownUser.fromBytes(bobPhoneSelf.toBytes()).list, bobPhoneSelf.list);
  assert.deepEqual(
    known2.devices().map((d) => d.deviceId),
    [1, approval.deviceId],
  );
  // A list signed by another user key.
  refused(() => new KnownUser(aliceUk.publicKey, bobList), "WrongUser");
});

test("randomness comes from crypto.getRandomValues; its failure is an error", () => {
  const original = crypto.getRandomValues;
  let calls = 0;
  crypto.getRandomValues = function (array) {
    calls += 1;
    return original.call(crypto, array);
  };
  try {
    new Account();
  } finally {
    crypto.getRandomValues = original;
  }
  assert.ok(calls > 0, "the account's keys were drawn from crypto.getRandomValues");

  const bob = new Account();
  const alice = new Account();
  crypto.getRandomValues = () => {
    throw new Error("no entropy");
  };
  try {
    refused(() => new Account(), "Randomness");
    refused(() => Session.start(alice, bob.identityKey, bob.bundle()), "Randomness");
  } finally {
    crypto.getRandomValues = original;
  }
  // Nothing broke: the module still works.
  assert.ok(Session.start(alice, bob.identityKey, bob.bundle()) instanceof Session);
});

test("misuse throws ordinary errors, never traps the module", () => {
  const a = new Account();
  const uk = UserKey.generate();
  const list = uk.signList(1n, [{ deviceId: 1, identity: a.identityKey, admin: true }]);
  const own = PeerDevices.own(new KnownUser(uk.publicKey, list), 1);
  // The same object as two mutable arguments: refused by the glue.
  assert.throws(() => PeerDevices.send(own, own, enc("x")), /recursive use of an object/);
  // A freed object.
  const k = new KnownUser(uk.publicKey, list);
  k.free();
  assert.throws(() => k.epoch, /null pointer/);
  // Malformed device entries and lists.
  assert.throws(() => uk.signList(1n, [{ deviceId: -1, identity: a.identityKey }]), RangeError);
  assert.throws(() => uk.signList(1n, [{ deviceId: 1, identity: new Uint8Array(5) }]), RangeError);
  refused(() => uk.signList(1n, [
    { deviceId: 1, identity: a.identityKey },
    { deviceId: 1, identity: a.identityKey },
  ]), "Inconsistent");
  refused(() => PeerDevices.own(new KnownUser(uk.publicKey, list), 2), "UnknownDevice");
  // The module still works.
  assert.equal(new SafetyNumber(a.identityKey, a.identityKey).digits.length, 60);
});
