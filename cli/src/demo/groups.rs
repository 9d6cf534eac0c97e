//! `sova demo --group`, the groups chapter (spec §12): four people on seven
//! devices share a group whose membership only they control.
//!
//! Alice (phone, laptop) creates the group with Bob (phone, laptop) and Carol
//! (phone, tablet). Welcomes and sender chains travel only as fan-out
//! messages over the pairwise sessions (§11.6); group messages go through
//! the server once for everyone. Mid-conversation Alice adds Dave (phone)
//! and removes Carol: each change starts a new epoch, every remaining device
//! starts a fresh chain handed only to the new membership, and Carol can no
//! longer read. Then the server tries to slip in a ghost member, replays old
//! objects and hands out a chain for a device no list names; every attempt
//! must be refused, or the demo fails.
//!
//! Everything is deterministic from `--seed`.

use std::collections::HashMap;
use std::io::Write;

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use sova::devices::fanout::{self, Audience, DeviceMessage, Target};
use sova::devices::{DeviceEntry, FanoutReceived, KnownUser, UserKey};
use sova::groups::{Group, GroupError, Member, OpKind, Operation, Role};
use sova::ratchet::HeaderMode;
use sova::session::{Account, Conversation};

use super::{check, lib_err, Options, INDENT};
use crate::{hex_short, Failure};

const PEOPLE: [&str; 4] = ["Alice", "Bob", "Carol", "Dave"];
const DEVICES: [(usize, &str); 7] = [
    (0, "phone"),
    (0, "laptop"),
    (1, "phone"),
    (1, "laptop"),
    (2, "phone"),
    (2, "tablet"),
    (3, "phone"),
];

struct Dev {
    user: usize,
    id: u32,
    kind: &'static str,
    account: Account,
    group: Option<Group>,
}

struct Demo {
    rng: ChaCha20Rng,
    keys: Vec<UserKey>,
    known: Vec<KnownUser>,
    devs: Vec<Dev>,
    convs: HashMap<(usize, usize), Conversation>,
    pairwise: usize,
}

impl Demo {
    fn name(&self, d: usize) -> String {
        format!("{}'s {}", PEOPLE[self.devs[d].user], self.devs[d].kind)
    }

    fn uk(&self, user: usize) -> [u8; 32] {
        *self.keys[user].public()
    }

    fn dev(&self, user: usize, id: u32) -> Option<usize> {
        self.devs.iter().position(|d| d.user == user && d.id == id)
    }

    fn group(&mut self, d: usize) -> Result<&mut Group, Failure> {
        self.devs[d]
            .group
            .as_mut()
            .ok_or_else(|| Failure::Check("a device without the group".into()))
    }

    /// One fan-out message from `from` to every device of `to` (for one's
    /// own user: a note to self, to one's other devices; to another person:
    /// recipient-only, spec §12.5); what each device received.
    fn fan(
        &mut self,
        from: usize,
        to: usize,
        payload: &[u8],
    ) -> Result<Vec<(usize, FanoutReceived)>, Failure> {
        let su = self.devs[from].user;
        let wanted: Vec<(Audience, usize)> = (0..self.devs.len())
            .filter_map(|i| {
                let d = &self.devs[i];
                if d.user == to && to != su {
                    Some((Audience::Recipient, i))
                } else if d.user == su && i != from && to == su {
                    Some((Audience::OwnDevice, i))
                } else {
                    None
                }
            })
            .collect();
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        for &(_, d) in &wanted {
            if self
                .convs
                .get(&(from, d))
                .is_none_or(|c| c.active_session().is_none())
            {
                let bundle = self.devs[d]
                    .account
                    .bundle(None, None)
                    .map_err(|e| lib_err("bundle")(&e))?
                    .to_bytes();
                let c = Conversation::start(
                    &self.devs[from].account,
                    &mut self.rng,
                    &self.devs[d].account.identity_key(),
                    &bundle,
                    HeaderMode::Encrypted,
                )
                .map_err(|e| lib_err("start a session")(&e))?;
                self.convs.insert((from, d), c);
            }
        }
        let mut taken = Vec::new();
        for &(a, d) in &wanted {
            let c = self
                .convs
                .remove(&(from, d))
                .ok_or_else(|| Failure::Check("no session".into()))?;
            taken.push((a, self.devs[d].id, d, c));
        }
        let wire = {
            let mut targets: Vec<Target<'_>> = taken
                .iter_mut()
                .map(|(a, id, _, c)| Target {
                    audience: *a,
                    device_id: *id,
                    conversation: c,
                })
                .collect();
            if to == su {
                fanout::encrypt(
                    &self.known[su],
                    self.devs[from].id,
                    &self.known[to],
                    &mut targets,
                    payload,
                    &mut self.rng,
                )
            } else {
                fanout::encrypt_to_recipient(
                    &self.known[su],
                    self.devs[from].id,
                    &self.known[to],
                    &mut targets,
                    payload,
                    &mut self.rng,
                )
            }
        };
        for (_, _, d, c) in taken {
            self.convs.insert((from, d), c);
        }
        let wire = wire.map_err(|e| lib_err("fan-out")(&e))?;
        let mut out = Vec::new();
        for (audience, id, m) in fanout::split(&wire).map_err(|e| lib_err("split")(&e))? {
            let user = if audience == Audience::Recipient {
                to
            } else {
                su
            };
            let d = self
                .dev(user, id)
                .ok_or_else(|| Failure::Check("an unknown device".into()))?;
            let msg = DeviceMessage::parse(&m).map_err(|e| lib_err("device message")(&e))?;
            let peer = self.devs[from].account.identity_key();
            let conv = self
                .convs
                .entry((d, from))
                .or_insert_with(|| Conversation::new(peer));
            let got = fanout::receive(
                &self.known[self.devs[d].user],
                &self.known[su],
                conv,
                &mut self.devs[d].account,
                &msg,
            )
            .map_err(|e| lib_err("fan-out receive")(&e))?;
            self.pairwise += 1;
            out.push((d, got));
        }
        Ok(out)
    }

    /// What device `to` received of a fan-out message from device `from`
    /// carrying `payload` (sent to every device of `to`'s user).
    fn carry(&mut self, from: usize, to: usize, payload: &[u8]) -> Result<FanoutReceived, Failure> {
        let user = self.devs[to].user;
        self.fan(from, user, payload)?
            .into_iter()
            .find(|(d, _)| *d == to)
            .map(|(_, got)| got)
            .ok_or_else(|| Failure::Check("the fan-out missed a device".into()))
    }

    /// Device `d` starts a chain and hands it to the current members'
    /// devices over fan-out.
    fn new_chain(&mut self, d: usize, out: &mut dyn Write) -> Result<(), Failure> {
        let dev = &mut self.devs[d];
        let account = &dev.account;
        let g = dev
            .group
            .as_mut()
            .ok_or_else(|| Failure::Check("no group".into()))?;
        let offer = g
            .start_chain(&mut self.rng, account)
            .map_err(|e| lib_err("start a chain")(&e))?;
        let members: Vec<[u8; 32]> = g.members().iter().map(|m| m.user).collect();
        let mut reached = Vec::new();
        for m in members {
            let u = self
                .keys
                .iter()
                .position(|k| *k.public() == m)
                .ok_or_else(|| Failure::Check("a member without a user key".into()))?;
            for (r, got) in self.fan(d, u, &offer)? {
                let known = self.known.clone();
                self.group(r)?
                    .accept_chain(&got, &known)
                    .map_err(|e| lib_err("accept a chain")(&e))?;
                reached.push(r);
            }
        }
        writeln!(
            out,
            "{INDENT}{} starts a chain; its offer ({} bytes) reaches {} device(s) by fan-out",
            self.name(d),
            offer.len(),
            reached.len()
        )?;
        Ok(())
    }

    fn say(&mut self, d: usize, text: &str, out: &mut dyn Write) -> Result<Vec<u8>, Failure> {
        let wire = self
            .group(d)?
            .encrypt(text.as_bytes())
            .map_err(|e| lib_err("group encrypt")(&e))?;
        let known = self.known.clone();
        let mut readers = 0;
        for r in 0..self.devs.len() {
            if r == d || !self.devs[r].group.as_ref().is_some_and(Group::is_member) {
                continue;
            }
            let got = self
                .group(r)?
                .decrypt(&wire, &known)
                .map_err(|e| lib_err("group decrypt")(&e))?;
            check(
                got.plaintext == text.as_bytes(),
                "a member read another text",
            )?;
            readers += 1;
        }
        writeln!(
            out,
            "{INDENT}{}: \"{text}\" — one {}-byte message, read by {readers} device(s)",
            self.name(d),
            wire.len()
        )?;
        Ok(wire)
    }

    fn apply_everywhere(&mut self, op: &[u8], except: usize) -> Result<(), Failure> {
        let known = self.known.clone();
        for (i, d) in self.devs.iter_mut().enumerate() {
            if i == except {
                continue;
            }
            if let Some(g) = d.group.as_mut() {
                g.apply(op, &known).map_err(|e| lib_err("apply")(&e))?;
            }
        }
        Ok(())
    }

    fn welcome(&mut self, from: usize, user: usize, op: &[u8]) -> Result<(), Failure> {
        let w = self
            .group(from)?
            .welcome(op)
            .map_err(|e| lib_err("welcome")(&e))?;
        for (d, got) in self.fan(from, user, &w)? {
            let me = self.uk(self.devs[d].user);
            let g = Group::join(me, self.devs[d].id, &got, &self.known)
                .map_err(|e| lib_err("join")(&e))?;
            self.devs[d].group = Some(g);
        }
        Ok(())
    }
}

fn refused(
    out: &mut dyn Write,
    what: &str,
    got: Result<impl Sized, GroupError>,
    want: GroupError,
) -> Result<(), Failure> {
    match got {
        Err(e) if e == want => {
            writeln!(out, "{INDENT}{what}: refused ({})", e.code())?;
            Ok(())
        }
        Err(e) => Err(Failure::Check(format!(
            "{what}: refused as {e:?}, expected {want:?}"
        ))),
        Ok(_) => Err(Failure::Check(format!("{what}: ACCEPTED"))),
    }
}

/// Runs the groups demo.
///
/// # Errors
/// [`Failure::Check`] when a self-check fails or a forgery is accepted.
pub fn run(opts: &Options, out: &mut dyn Write) -> Result<(), Failure> {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&opts.seed.to_be_bytes());
    seed[8] = 0x12;
    let mut rng = ChaCha20Rng::from_seed(seed);
    let mut keys = Vec::new();
    let mut known = Vec::new();
    let mut devs = Vec::new();
    writeln!(out, "Groups (§12): four people on seven devices")?;
    writeln!(out)?;
    writeln!(out, "1. People, devices and signed device lists (§11)")?;
    for (user, name) in PEOPLE.iter().enumerate() {
        let uk = UserKey::generate(&mut rng).map_err(|e| lib_err("user key")(&e))?;
        let mut entries = Vec::new();
        for &(_, kind) in DEVICES.iter().filter(|(u, _)| *u == user) {
            let account = Account::new(&mut rng).map_err(|e| lib_err("account")(&e))?;
            let id = entries.len() as u32 + 1;
            entries.push(DeviceEntry {
                device_id: id,
                identity: account.identity_key(),
                admin: id == 1,
            });
            devs.push(Dev {
                user,
                id,
                kind,
                account,
                group: None,
            });
        }
        let list = uk
            .sign_list(1, &entries)
            .map_err(|e| lib_err("device list")(&e))?;
        writeln!(
            out,
            "{INDENT}{name}: user key {}, {} device(s)",
            hex_short(uk.public(), 8),
            entries.len()
        )?;
        known.push(
            KnownUser::new(uk.public(), list.to_bytes()).map_err(|e| lib_err("known user")(&e))?,
        );
        keys.push(uk);
    }
    let mut demo = Demo {
        rng,
        keys,
        known,
        devs,
        convs: HashMap::new(),
        pairwise: 0,
    };
    let (a1, a2, b1, c1, d1) = (0, 1, 2, 4, 6);

    writeln!(out)?;
    writeln!(out, "2. Alice creates the group with Bob and Carol (§12.3)")?;
    let roster: Vec<Member> = [(0, Role::Admin), (1, Role::Member), (2, Role::Member)]
        .iter()
        .map(|&(u, role)| Member {
            user: demo.uk(u),
            role,
        })
        .collect();
    let mut rng = ChaCha20Rng::from_seed([opts.seed as u8; 32]);
    let (g, create) = Group::create(
        &mut rng,
        &demo.devs[a1].account,
        demo.uk(0),
        1,
        &roster,
        &demo.known,
    )
    .map_err(|e| lib_err("create")(&e))?;
    writeln!(
        out,
        "{INDENT}create operation: {} bytes, signed by Alice's phone; state hash {}",
        create.len(),
        hex_short(g.state_hash(), 8)
    )?;
    demo.devs[a1].group = Some(g);
    for u in 0..3 {
        demo.welcome(a1, u, &create)?;
    }
    writeln!(out, "{INDENT}welcomes reach Alice's laptop, Bob's and Carol's devices over their pairwise sessions")?;
    for d in [a1, a2, b1, 3, c1, 5] {
        demo.new_chain(d, out)?;
    }

    writeln!(out)?;
    writeln!(out, "3. Conversation at epoch 0 (§12.6)")?;
    demo.say(a1, "Welcome, everyone", out)?;
    demo.say(b1, "Hi!", out)?;
    let carols_last = demo.say(c1, "Glad to be here", out)?;

    writeln!(out)?;
    writeln!(
        out,
        "4. Alice adds Dave: epoch 1, fresh chains for everyone"
    )?;
    let known = demo.known.clone();
    let dave = Member {
        user: demo.uk(3),
        role: Role::Member,
    };
    let add = {
        let dev = &mut demo.devs[a1];
        let account = &dev.account;
        dev.group
            .as_mut()
            .ok_or_else(|| Failure::Check("no group".into()))?
            .add(account, dave, &known)
            .map_err(|e| lib_err("add")(&e))?
    };
    demo.apply_everywhere(&add, a1)?;
    demo.welcome(a1, 3, &add)?;
    for d in [a1, a2, b1, 3, c1, 5, d1] {
        demo.new_chain(d, out)?;
    }
    demo.say(d1, "Thanks for adding me", out)?;
    let before_removal = demo.say(c1, "See you all", out)?;

    writeln!(out)?;
    writeln!(
        out,
        "5. Alice removes Carol: epoch 2; chains go to Alice, Bob and Dave only"
    )?;
    let carol = demo.uk(2);
    let remove = {
        let dev = &mut demo.devs[a1];
        let account = &dev.account;
        dev.group
            .as_mut()
            .ok_or_else(|| Failure::Check("no group".into()))?
            .remove(account, &carol, &known)
            .map_err(|e| lib_err("remove")(&e))?
    };
    demo.apply_everywhere(&remove, a1)?;
    for d in [a1, a2, b1, 3, d1] {
        demo.new_chain(d, out)?;
    }
    let secret = demo.say(a1, "Carol has left", out)?;
    refused(
        out,
        "Carol's phone reads it",
        demo.group(c1)?.decrypt(&secret, &known),
        GroupError::UnknownChain,
    )?;
    refused(
        out,
        "Carol's tablet sends",
        demo.group(5)?.encrypt(b"still here?"),
        GroupError::Removed,
    )?;
    refused(
        out,
        "Carol's message of epoch 1 arrives late at Bob's",
        demo.group(b1)?.decrypt(&before_removal, &known),
        GroupError::StaleEpoch,
    )?;

    writeln!(out)?;
    writeln!(out, "6. The server turns hostile")?;
    let ghost_account = Account::new(&mut demo.rng).map_err(|e| lib_err("account")(&e))?;
    let (gid, epoch, hash) = {
        let g = demo.group(b1)?;
        (*g.group_id(), g.epoch(), *g.state_hash())
    };
    let ghost = Member {
        user: [0x66; 32],
        role: Role::Admin,
    };
    let forge = |dev: u32| {
        Operation::new_signed(
            &ghost_account,
            gid,
            epoch + 1,
            hash,
            demo.uk(0),
            dev,
            OpKind::Add(ghost),
        )
        .map(|o| o.to_bytes().to_vec())
        .map_err(|e| lib_err("forge")(&e))
    };
    let in_alices_name = forge(1)?;
    let from_a_ghost_device = forge(9)?;
    refused(
        out,
        "a ghost member added in Alice's name",
        demo.group(b1)?.apply(&in_alices_name, &known),
        GroupError::InvalidSignature,
    )?;
    refused(
        out,
        "the same, signed by a device Alice's list does not name",
        demo.group(b1)?.apply(&from_a_ghost_device, &known),
        GroupError::UnknownDevice,
    )?;
    refused(
        out,
        "the creation operation replayed",
        demo.group(b1)?.apply(&create, &known),
        GroupError::StaleEpoch,
    )?;
    refused(
        out,
        "an old message replayed",
        demo.group(b1)?.decrypt(&carols_last, &known),
        GroupError::StaleEpoch,
    )?;
    refused(
        out,
        "the newest message delivered twice",
        demo.group(b1)?.decrypt(&secret, &known),
        GroupError::DuplicateOrExpired,
    )?;
    let mut ghost_group = demo.group(a1)?.clone();
    let mut grng = ChaCha20Rng::from_seed([0x66; 32]);
    let ghost_offer = ghost_group
        .start_chain(&mut grng, &ghost_account)
        .map_err(|e| lib_err("ghost chain")(&e))?;
    // Carried over the pairwise session with Alice's phone (as if the
    // ghost held the phone's sessions), and over Dave's.
    let got = demo.carry(a1, b1, &ghost_offer)?;
    refused(
        out,
        "a chain for a ghost device claiming to be Alice's phone",
        demo.group(b1)?.accept_chain(&got, &known),
        GroupError::InvalidSignature,
    )?;
    let got = demo.carry(d1, b1, &ghost_offer)?;
    refused(
        out,
        "Alice's chain delivered over Dave's pairwise session",
        demo.group(b1)?.accept_chain(&got, &known),
        GroupError::WrongSession,
    )?;

    writeln!(out)?;
    writeln!(out, "Summary")?;
    let h = *demo.group(a1)?.state_hash();
    for d in [a2, b1, 3, d1] {
        check(
            *demo.group(d)?.state_hash() == h,
            "members agree on the state hash",
        )?;
    }
    writeln!(
        out,
        "{INDENT}every member device holds epoch {} with state hash {}; {} pairwise messages carried welcomes and chains; every forgery was refused",
        demo.group(a1)?.epoch(),
        hex_short(&h, 8),
        demo.pairwise
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_seeds_run_clean() {
        for seed in 0..3 {
            let mut out = Vec::new();
            let opts = Options {
                seed,
                trace: false,
                header_encryption: false,
                messages: 8,
                devices: false,
                group: true,
            };
            run(&opts, &mut out).unwrap();
            let s = String::from_utf8(out).unwrap();
            assert!(s.contains("every forgery was refused"), "{s}");
        }
    }
}
