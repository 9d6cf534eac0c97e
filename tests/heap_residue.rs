//! No key is left in freed heap memory (spec §9.6).
//!
//! A recording global allocator never reuses a block: every block freed while
//! recording stays mapped, with the bytes it held when it was freed, and its
//! address and length are remembered. Each scenario then learns the keys the
//! library held (through the `hazmat` traces, the account encoding, or by
//! recomputing a DH value), drops everything, and scans every freed block for
//! every known 32-byte key. Any hit fails the test with a count.
//!
//! The test's own copies of keys live in buffers allocated before recording
//! starts and never grown or freed while recording, and the secret encodings it
//! asks for are wiped before they are dropped, so every hit is the library's.
//!
//! Runs without the test harness (one thread, nothing else allocating).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use sova::ratchet::{HeaderMode, Ratchet, Trace, MAX_RECEIVING_CHAINS, MAX_STORED_KEYS};
use sova::session::{Account, Conversation, Session};
use sova::{CryptoProvider, DefaultProvider, Secret};
use zeroize::Zeroize;

/// The most freed blocks recorded; more fails the test (raise it if needed).
const MAX_FREED: usize = 1 << 20;

/// Never reuses a block while recording: `dealloc` remembers it instead.
/// `realloc` is the trait's default (allocate, copy, `dealloc`), so a block
/// that grows is recorded too.
struct Recorder;

static RECORDING: AtomicBool = AtomicBool::new(false);
static FREED_COUNT: AtomicUsize = AtomicUsize::new(0);
static FREED_PTR: [AtomicUsize; MAX_FREED] = [const { AtomicUsize::new(0) }; MAX_FREED];
static FREED_LEN: [AtomicUsize; MAX_FREED] = [const { AtomicUsize::new(0) }; MAX_FREED];

unsafe impl GlobalAlloc for Recorder {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if RECORDING.load(Ordering::SeqCst) {
            let i = FREED_COUNT.fetch_add(1, Ordering::SeqCst);
            if i < MAX_FREED {
                FREED_PTR[i].store(ptr as usize, Ordering::SeqCst);
                FREED_LEN[i].store(layout.size(), Ordering::SeqCst);
            }
            // Leaked on purpose: the block is never handed out again.
        } else {
            unsafe { System.dealloc(ptr, layout) }
        }
    }
}

#[global_allocator]
static ALLOCATOR: Recorder = Recorder;

/// Keys the test knows, in a buffer that never grows (so it never frees a copy).
struct Known {
    keys: Vec<[u8; 32]>,
}

impl Known {
    fn new() -> Self {
        Self {
            keys: Vec::with_capacity(200_000),
        }
    }

    fn add(&mut self, key: &Secret<32>) {
        assert!(
            self.keys.len() < self.keys.capacity(),
            "known-key buffer full"
        );
        self.keys.push(*key.expose());
    }

    fn add_opt(&mut self, key: &Option<Secret<32>>) {
        if let Some(k) = key {
            self.add(k);
        }
    }

    /// Every key of a trace.
    fn add_trace(&mut self, t: &Trace) {
        for k in [
            &t.ratchet_private,
            &t.dh_output,
            &t.root_key,
            &t.next_header_key,
            &t.header_key,
            &t.chain_key,
            &t.next_chain_key,
            &t.message_key,
            &t.aead_key,
        ] {
            self.add_opt(k);
        }
        for (_, k) in &t.skipped_keys {
            self.add(k);
        }
    }
}

impl Drop for Known {
    fn drop(&mut self) {
        self.keys.zeroize();
    }
}

fn start_recording() {
    FREED_COUNT.store(0, Ordering::SeqCst);
    RECORDING.store(true, Ordering::SeqCst);
}

/// Stops recording; scans every block freed since [`start_recording`] for each
/// known key. Returns (distinct keys found, freed blocks holding any).
fn scan(known: &Known) -> (usize, usize) {
    RECORDING.store(false, Ordering::SeqCst);
    let count = FREED_COUNT.load(Ordering::SeqCst);
    assert!(count <= MAX_FREED, "more than {MAX_FREED} blocks freed");
    // Keys by their first 8 bytes, sorted, and a 16-bit filter on the first two.
    let mut index: Vec<(u64, usize)> = known
        .keys
        .iter()
        .enumerate()
        .filter(|(_, k)| **k != [0u8; 32])
        .map(|(i, k)| (u64::from_le_bytes(k[..8].try_into().unwrap()), i))
        .collect();
    index.sort_unstable();
    let mut filter = vec![false; 1 << 16];
    for k in &known.keys {
        filter[usize::from(u16::from_le_bytes([k[0], k[1]]))] = true;
    }
    let mut found = vec![false; known.keys.len()];
    let mut blocks = 0;
    for i in 0..count {
        let ptr = FREED_PTR[i].load(Ordering::SeqCst) as *const u8;
        let len = FREED_LEN[i].load(Ordering::SeqCst);
        if len < 32 {
            continue;
        }
        // SAFETY: the block was never returned to the system allocator.
        let block = unsafe { std::slice::from_raw_parts(ptr, len) };
        let mut hit = false;
        for at in 0..=len - 32 {
            if !filter[usize::from(u16::from_le_bytes([block[at], block[at + 1]]))] {
                continue;
            }
            let head = u64::from_le_bytes(block[at..at + 8].try_into().unwrap());
            let first = index.partition_point(|(h, _)| *h < head);
            for &(h, k) in &index[first..] {
                if h != head {
                    break;
                }
                if block[at..at + 32] == known.keys[k] {
                    found[k] = true;
                    hit = true;
                }
            }
        }
        blocks += usize::from(hit);
    }
    // Distinct key values (a key may have been recorded twice).
    let mut distinct: Vec<[u8; 32]> = known
        .keys
        .iter()
        .zip(&found)
        .filter(|(_, f)| **f)
        .map(|(k, _)| *k)
        .collect();
    distinct.sort_unstable();
    distinct.dedup();
    let n = distinct.len();
    distinct.zeroize();
    (n, blocks)
}

fn distinct(keys: &[[u8; 32]]) -> usize {
    let mut v = keys.to_vec();
    v.sort_unstable();
    v.dedup();
    let n = v.len();
    v.zeroize();
    n
}

/// Stores every decrypted message's trace keys.
fn decrypt(p: &DefaultProvider, r: &mut Ratchet, msg: &[u8], known: &mut Known) {
    let (_, t) = r.decrypt_traced(p, msg).unwrap();
    known.add_trace(&t);
}

fn encrypt(
    p: &DefaultProvider,
    rng: &mut ChaCha20Rng,
    r: &mut Ratchet,
    known: &mut Known,
) -> Vec<u8> {
    let (m, t) = r.encrypt_traced(p, rng, b"heap residue").unwrap();
    known.add_trace(&t);
    m
}

/// A ratchet session with many skipped keys: stored, used out of order (from
/// the front, the middle and the back), evicted, chains pushed out, dropped.
fn ratchet_scenario(mode: HeaderMode, known: &mut Known) -> (usize, usize) {
    let p = DefaultProvider::default();
    let mut rng = ChaCha20Rng::from_seed([3; 32]);
    let sk = Secret::from_bytes([0x42; 32]);
    let bob_priv = Secret::from_bytes([0x24; 32]);
    let bob_pub = p.x25519_public_key(&bob_priv);
    known.add(&sk);
    known.add(&bob_priv);
    let mut msgs: Vec<Vec<u8>> = Vec::with_capacity(20_000);
    let mut held: Vec<usize> = Vec::with_capacity(20_000);

    start_recording();
    {
        let mut a = Ratchet::initiator(&sk, bob_pub, b"ad", mode).unwrap();
        let mut b = Ratchet::responder(&sk, bob_priv, b"ad", mode).unwrap();
        // Rounds: Alice sends a chain, Bob receives only some of it (the rest
        // is skipped and stored), then answers so that Alice starts a new chain.
        for round in 0..(MAX_RECEIVING_CHAINS + 3) {
            let first = msgs.len();
            let len = if round == 1 { 700 } else { 350 };
            for _ in 0..len {
                msgs.push(encrypt(&p, &mut rng, &mut a, known));
            }
            // Deliver in an order that grows the stored keys one skip at a
            // time, then uses keys from the front, middle and back.
            let mut i = first + 2;
            while i < first + len {
                decrypt(&p, &mut b, &msgs[i], known);
                i += 7;
            }
            let delivered = |j: usize| j - first >= 2 && (j - first - 2).is_multiple_of(7);
            let special = [first, first + len / 2, first + len - 3, first + 1];
            for j in special {
                if !delivered(j) {
                    decrypt(&p, &mut b, &msgs[j], known);
                }
            }
            held.extend(
                (first..first + len)
                    .filter(|&j| (j - first) % 2 == 1 && !delivered(j) && !special.contains(&j)),
            );
            let reply = encrypt(&p, &mut rng, &mut b, known);
            decrypt(&p, &mut a, &reply, known);
        }
        // Late messages of chains still kept (others were evicted or pushed out).
        assert!(b.stored_keys() <= MAX_STORED_KEYS);
        for &j in held.iter().rev() {
            if let Ok((_, t)) = b.decrypt_traced(&p, &msgs[j]) {
                known.add_trace(&t);
            }
        }
        drop(a);
        drop(b);
    }
    let r = scan(known);
    drop(msgs);
    drop(held);
    r
}

/// An account whose one-time prekeys are generated in several batches (the
/// lists grow), consumed by `accept` in a scattered order, then dropped; and
/// the handshake's `DH1` on both sides.
fn account_scenario(known: &mut Known) -> (usize, usize, usize) {
    let p = DefaultProvider::default();
    let mut rng = ChaCha20Rng::from_seed([5; 32]);
    let mut bundles: Vec<Vec<u8>> = Vec::with_capacity(64);
    let mut sessions: Vec<Session> = Vec::with_capacity(64);
    let first_dh1;

    start_recording();
    {
        let alice = Account::new(&mut rng).unwrap();
        let mut bob = Account::new(&mut rng).unwrap();
        let mut opks = Vec::with_capacity(64);
        let mut kems = Vec::with_capacity(64);
        for batch in [1usize, 2, 3, 4] {
            opks.extend(bob.generate_one_time_prekeys(&mut rng, batch).unwrap());
            kems.extend(bob.generate_kem_one_time_prekeys(&mut rng, batch).unwrap());
        }
        // The prekeys' secrets, from the account encoding (spec §8.4).
        let mut enc = bob.to_bytes();
        let mut a_enc = alice.to_bytes();
        // magic (14), version, generation (8), IK_sig.seed, IK_dh.priv,
        // next_prekey_id, the long-term published flag, then the signed
        // prekey (id, private) and its replay records (none yet), the
        // optional previous signed prekey. One-time prekeys end with their
        // published flag.
        let alice_dh = Secret::<32>::try_from_slice(&a_enc[55..87]).unwrap();
        let spk_pub = p.x25519_public_key(&Secret::<32>::try_from_slice(&enc[96..128]).unwrap());
        first_dh1 = known.keys.len();
        known.add(&p.x25519(&alice_dh, &spk_pub).unwrap());
        assert_eq!(enc[128..130], [0, 0], "no replay records yet");
        assert_eq!(enc[130], 0, "no previous signed prekey");
        let opk_start = 133;
        let n = usize::from(u16::from_be_bytes([enc[131], enc[132]]));
        assert_eq!(n, opks.len());
        for i in 0..n {
            let at = opk_start + i * 37 + 4;
            known.add(&Secret::try_from_slice(&enc[at..at + 32]).unwrap());
        }
        // KEM seeds (first 32 bytes of each 64-byte seed).
        let kem_start = opk_start + n * 37;
        let mut at = kem_start + 4;
        known.add(&Secret::try_from_slice(&enc[at..at + 32]).unwrap());
        at += 64;
        assert_eq!(enc[at], 0);
        let m = usize::from(u16::from_be_bytes([enc[at + 1], enc[at + 2]]));
        assert_eq!(m, kems.len());
        for i in 0..m {
            let s = at + 3 + i * 69 + 4;
            known.add(&Secret::try_from_slice(&enc[s..s + 32]).unwrap());
        }
        enc.zeroize();
        a_enc.zeroize();
        // Consume in a scattered order: the middle, the front, the back.
        let order = [4usize, 0, 9, 2, 7, 1, 8, 3, 6, 5];
        for &i in &order {
            bundles.push(bob.bundle(Some(opks[i]), Some(kems[i])).unwrap().to_bytes());
        }
        for bundle in &bundles {
            let mut a =
                Session::start_unverified(&alice, &mut rng, bundle, HeaderMode::Plain).unwrap();
            let m1 = a.encrypt(&mut rng, b"hello").unwrap();
            let (b, _) = bob.accept_unverified(&m1).unwrap();
            sessions.push(a);
            sessions.push(b);
        }
        sessions.clear();
        drop(alice_dh);
        drop(bob);
        drop(alice);
    }
    let (found, blocks) = scan(known);
    // DH1 alone: in how many freed blocks?
    let mut only = Known::new();
    only.keys.push(known.keys[first_dh1]);
    let (_, dh1_blocks) = scan(&only);
    drop(bundles);
    (found, blocks, dh1_blocks)
}

/// Every session's root key.
fn add_roots(c: &Conversation, known: &mut Known) {
    for s in c.sessions() {
        known.add(s.ratchet().root_key());
    }
}

/// Simultaneous initiation (spec §7.7): each conversation grows to two
/// sessions and converges on one (the other is kept); then new sessions
/// fill one conversation, which removes its oldest inactive ones; then all
/// is dropped.
fn conversation_scenario(known: &mut Known) -> (usize, usize) {
    let mut rng = ChaCha20Rng::from_seed([9; 32]);
    let mut alice = Account::new(&mut rng).unwrap();
    let mut bob = Account::new(&mut rng).unwrap();
    let mut msgs: Vec<Vec<u8>> = Vec::with_capacity(64);

    start_recording();
    {
        let to_bob = bob.bundle(None, None).unwrap().to_bytes();
        let to_alice = alice.bundle(None, None).unwrap().to_bytes();
        let sa = Session::start_unverified(&alice, &mut rng, &to_bob, HeaderMode::Plain).unwrap();
        let sb = Session::start_unverified(&bob, &mut rng, &to_alice, HeaderMode::Plain).unwrap();
        let mut ca = conversation_of(sa);
        let mut cb = conversation_of(sb);
        for _ in 0..6 {
            let m = ca.encrypt(&mut rng, b"from alice").unwrap();
            let n = cb.encrypt(&mut rng, b"from bob").unwrap();
            cb.decrypt(&mut bob, &m).unwrap();
            ca.decrypt(&mut alice, &n).unwrap();
            add_roots(&ca, known);
            add_roots(&cb, known);
            msgs.push(m);
            msgs.push(n);
        }
        // The losing session is kept for messages in flight (spec §7.7).
        assert_eq!(ca.sessions().len(), 2);
        assert_eq!(cb.sessions().len(), 2);
        // Alice starts over four times: Bob's conversation fills up and
        // removes its oldest inactive sessions (from the middle of its list).
        for _ in 0..4 {
            let mut s =
                Session::start_unverified(&alice, &mut rng, &to_bob, HeaderMode::Plain).unwrap();
            let m = s.encrypt(&mut rng, b"again").unwrap();
            cb.decrypt(&mut bob, &m).unwrap();
            add_roots(&cb, known);
            msgs.push(m);
        }
        assert_eq!(
            cb.sessions().len(),
            sova::session::MAX_CONVERSATION_SESSIONS
        );
        drop(ca);
        drop(cb);
        drop(alice);
        drop(bob);
    }
    let r = scan(known);
    drop(msgs);
    r
}

/// The user key (spec §11.2, §11.9): persisted plain and sealed, restored,
/// used to sign, and handed to a device linked as an admin (spec §11.5).
fn user_key_scenario(known: &mut Known) -> (usize, usize) {
    use sova::devices::{approve_link, DeviceEntry, KnownUser, LinkRequest, UserKey};
    let mut rng = ChaCha20Rng::from_seed([11; 32]);
    let admin = Account::new(&mut rng).unwrap();
    let new_device = Account::new(&mut rng).unwrap();
    let storage = Secret::from_bytes([0x42; 32]);

    start_recording();
    {
        let uk = UserKey::generate(&mut rng).unwrap();
        known.add(uk.seed());
        let mut plain = uk.to_bytes();
        let restored = UserKey::from_bytes(&plain).unwrap();
        plain.zeroize();
        let sealed = restored.to_sealed_bytes(&mut rng, &storage).unwrap();
        let opened = UserKey::from_sealed_bytes(&sealed, &storage).unwrap();
        let list = opened
            .sign_list(
                1,
                &[DeviceEntry {
                    device_id: 1,
                    identity: admin.identity_key(),
                    admin: true,
                }],
            )
            .unwrap();
        let own = KnownUser::from_list(list);
        let request = LinkRequest::new(&new_device, &mut rng).unwrap();
        let approval =
            approve_link(&opened, &own, request.offer(), true, b"data", &mut rng).unwrap();
        let linked = request.finish(&approval.response).unwrap();
        assert!(linked.user_key.is_some());
        drop(linked);
        drop(approval);
        drop(request);
        drop(own);
        drop(sealed);
        drop(opened);
        drop(restored);
        drop(uk);
    }
    scan(known)
}

/// A group (spec §12): a sender chain started, handed over, 40 messages sent
/// and read out of order (keys stored and used), the reader's state
/// persisted plain and sealed and restored, then a membership change that
/// deletes every chain. Known: the chain key and signing seed (from a
/// generator whose output the test reproduces) and every chain and message
/// key of the chain, computed by the test.
fn group_scenario(known: &mut Known) -> (usize, usize) {
    use rand_chacha::rand_core::Rng;
    use sova::devices::{DeviceEntry, FanoutReceived, KnownUser, UserKey};
    use sova::groups::{Group, Member, Role};
    use sova::kdf::labeled_mac;
    use sova::labels;
    const N: usize = 40;
    let p = DefaultProvider::default();
    let mut rng = ChaCha20Rng::from_seed([12; 32]);
    let accounts: Vec<Account> = (0..3).map(|_| Account::new(&mut rng).unwrap()).collect();
    let users: Vec<KnownUser> = accounts
        .iter()
        .map(|a| {
            let uk = UserKey::generate(&mut rng).unwrap();
            let e = DeviceEntry {
                device_id: 1,
                identity: a.identity_key(),
                admin: true,
            };
            KnownUser::new(uk.public(), uk.sign_list(1, &[e]).unwrap().to_bytes()).unwrap()
        })
        .collect();
    let uks: Vec<[u8; 32]> = users.iter().map(|k| *k.user_key()).collect();
    let roster: Vec<Member> = uks[..2]
        .iter()
        .enumerate()
        .map(|(i, u)| Member {
            user: *u,
            role: if i == 0 { Role::Admin } else { Role::Member },
        })
        .collect();
    let (mut alice, create) =
        Group::create(&mut rng, &accounts[0], uks[0], 1, &roster, &users).unwrap();
    let w = alice.welcome(&create).unwrap();
    // Welcome and chain offer as the fan-out layer hands them over from
    // Alice's device (the pairwise messages are not what this scenario
    // records).
    let from_alice = |plaintext: &[u8]| FanoutReceived::hazmat_new(plaintext.to_vec(), uks[0], 1);
    let mut bob = Group::join(uks[1], 1, &from_alice(&w), &users).unwrap();
    let carol = Member {
        user: uks[2],
        role: Role::Member,
    };
    let mut probe = rng.clone();
    let mut ck = Secret::<32>::from_bytes([0; 32]);
    let mut seed = Secret::<32>::from_bytes([0; 32]);
    probe.fill_bytes(ck.expose_mut());
    probe.fill_bytes(seed.expose_mut());
    known.add(&seed);
    let spk = p.ed25519_public_key(&seed);
    for _ in 0..=N {
        known.add(&ck);
        known.add(&labeled_mac(&p, ck.expose(), labels::GROUP_MESSAGE_KEY, &[]).unwrap());
        ck = labeled_mac(&p, ck.expose(), labels::GROUP_CHAIN, &[]).unwrap();
    }
    let storage = Secret::from_bytes([0x43; 32]);
    let mut msgs: Vec<Vec<u8>> = Vec::with_capacity(N);

    start_recording();
    {
        let mut offer = alice.start_chain(&mut rng, &accounts[0]).unwrap();
        let mut received = from_alice(&offer);
        bob.accept_chain(&received, &users).unwrap();
        received.plaintext.zeroize();
        // The keys the test reproduced are the library's.
        assert!(offer[offer.len() - 32..] == known.keys[1]);
        let spk_at = 18 + 1 + 32 + 8 + 32 + 32 + 4 + 4;
        assert!(offer[spk_at..spk_at + 32] == spk);
        offer.zeroize();
        for i in 0..N {
            msgs.push(alice.encrypt(&[i as u8; 100]).unwrap());
        }
        // Last first: every earlier key is stored, then used.
        for i in (0..N).rev() {
            if i == N / 2 {
                let mut plain = bob.to_bytes();
                bob = Group::from_bytes(&plain).unwrap();
                plain.zeroize();
                let sealed = bob.to_sealed_bytes(&mut rng, &storage).unwrap();
                bob = Group::from_sealed_bytes(&sealed, &storage).unwrap();
            }
            let mut got = bob.decrypt(&msgs[i], &users).unwrap();
            got.plaintext.zeroize();
        }
        let add = alice.add(&accounts[0], carol, &users).unwrap();
        bob.apply(&add, &users).unwrap();
        drop(alice);
        drop(bob);
    }
    let r = scan(known);
    drop(msgs);
    r
}

fn main() {
    let mut failures = Vec::with_capacity(8);
    {
        let mut known = Known::new();
        let (found, blocks) = user_key_scenario(&mut known);
        println!("user key: {found} of 1 known seed in {blocks} freed blocks");
        if found != 0 {
            failures.push(format!("user key: the seed left in {blocks} freed blocks"));
        }
    }
    for mode in [HeaderMode::Plain, HeaderMode::Encrypted] {
        let mut known = Known::new();
        let (found, blocks) = ratchet_scenario(mode, &mut known);
        let total = distinct(&known.keys);
        println!("ratchet ({mode:?}): {found} of {total} known keys in {blocks} freed blocks");
        if found != 0 {
            failures.push(format!(
                "ratchet {mode:?}: {found} of {total} keys left in {blocks} freed blocks"
            ));
        }
    }
    {
        let mut known = Known::new();
        let (found, blocks, dh1) = account_scenario(&mut known);
        let total = distinct(&known.keys);
        println!(
            "account and handshake: {found} of {total} known keys in {blocks} freed blocks (DH1 in {dh1} of them)"
        );
        if found != 0 {
            failures.push(format!(
                "account: {found} of {total} keys left in {blocks} freed blocks"
            ));
        }
    }
    {
        let mut known = Known::new();
        let (found, blocks) = conversation_scenario(&mut known);
        let total = distinct(&known.keys);
        println!("conversation: {found} of {total} known root keys in {blocks} freed blocks");
        if found != 0 {
            failures.push(format!(
                "conversation: {found} of {total} keys left in {blocks} freed blocks"
            ));
        }
    }
    {
        let mut known = Known::new();
        let (found, blocks) = group_scenario(&mut known);
        let total = distinct(&known.keys);
        println!("group: {found} of {total} known keys in {blocks} freed blocks");
        if found != 0 {
            failures.push(format!(
                "group: {found} of {total} keys left in {blocks} freed blocks"
            ));
        }
    }
    if failures.is_empty() {
        println!("heap residue: no known key in any freed block");
    } else {
        for f in &failures {
            eprintln!("FAILED: {f}");
        }
        std::process::exit(1);
    }
}

/// A conversation holding `session`, bound to its peer.
fn conversation_of(session: Session) -> Conversation {
    let mut c = Conversation::new(session.peer_identity().identity_key());
    c.add(session).unwrap();
    c
}
