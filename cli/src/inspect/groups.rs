//! Groups (spec §12): membership operations, welcomes, chain offers, group
//! messages and group states.

use sova::groups::{ChainOffer, Group, GroupMessage, Operation, ParseError, Welcome};

use super::states::{state_check, state_violation};
use super::{report, stop_offset, truncation_detail, Report, Violation, Walk};
use crate::hex;

type Inspector = fn(&[u8]) -> Report;

/// Longest magic first: `"SOVA-1 group"` is a prefix of the others.
pub(super) const MAGICS: &[(&[u8], Inspector)] = &[
    (b"SOVA-1 group welcome", inspect_welcome),
    (b"SOVA-1 group chain", inspect_chain_offer),
    (b"SOVA-1 group op", inspect_operation),
    (b"SOVA-1 group", inspect_group_state),
];

fn role(w: &mut Walk<'_>) -> Option<()> {
    let r = w.uint("role", 1, "")?;
    w.annotate(match r {
        0 => "member",
        1 => "admin",
        _ => "INVALID role (0 member, 1 admin)",
    });
    Some(())
}

/// §12.2.
fn roster_layout(w: &mut Walk<'_>, name: &str) -> Option<()> {
    w.group(
        name,
        "Roster (§12.2): user keys strictly increasing",
        |w| {
            let n = w.uint("count", 2, "1 ..= 1000 members")?;
            for i in 0..n {
                w.group(&format!("member[{i}]"), "", |w| {
                    w.take("user", 32, "UK_pub")?;
                    role(w)
                })?;
            }
            Some(())
        },
    )
}

/// §12.3.
fn operation_layout(w: &mut Walk<'_>) -> Option<()> {
    w.ascii("magic", 15, "")?;
    w.uint("version", 1, "")?;
    w.take("group_id", 32, "")?;
    w.uint("epoch", 8, "")?;
    w.take(
        "prev",
        32,
        "StateHash of the epoch before (zero at epoch 0)",
    )?;
    w.take("signer_user", 32, "")?;
    w.uint("signer_device", 4, "")?;
    let kind = w.uint("kind", 1, "")?;
    match kind {
        0 => {
            w.annotate("create");
            roster_layout(w, "first roster")?;
        }
        1 | 3 => {
            w.annotate(if kind == 1 { "add" } else { "change-role" });
            w.take("user", 32, "")?;
            role(w)?;
        }
        2 => {
            w.annotate("remove");
            w.take("user", 32, "")?;
        }
        _ => {
            w.annotate("INVALID kind (0 create, 1 add, 2 remove, 3 change-role)");
            return w.halt();
        }
    }
    w.take(
        "signature",
        64,
        "LabeledSign(IK_sig of the signer device, \"group operation\", …)",
    )?;
    Some(())
}

fn parse_violation(section: &'static str, e: &ParseError, w: &Walk<'_>) -> Violation {
    let rule = match e {
        ParseError::Truncated(_) => format!(
            "the encoding MUST be complete [Malformed(Truncated)]{}",
            truncation_detail(w)
        ),
        _ => format!("the encoding of {section} [Malformed({})]", e.code()),
    };
    Violation {
        section,
        rule,
        error: format!("Malformed({})", e.code()),
        message: e.to_string(),
        offset: stop_offset(w),
    }
}

fn finish(
    object: &'static str,
    title: &str,
    section: &'static str,
    bytes: &[u8],
    w: &Walk<'_>,
) -> Report {
    report(object, title.into(), section, bytes.len(), w.fields.clone())
}

pub(super) fn inspect_operation(bytes: &[u8]) -> Report {
    let mut w = Walk::new(bytes, 0);
    let _ = operation_layout(&mut w);
    w.trailing();
    let mut r = finish(
        "group_operation",
        "group membership operation",
        "§12.3",
        bytes,
        &w,
    );
    match Operation::parse(bytes) {
        Ok(op) => r.notes.push(format!(
            "well formed (check 1) at epoch {}; the signature, the signer's membership and role \
             are checked against the group and the signer's device list (checks 2–8)",
            op.epoch
        )),
        Err(e) => r.violation = Some(parse_violation("§12.3", &e, &w)),
    }
    r
}

pub(super) fn inspect_welcome(bytes: &[u8]) -> Report {
    let mut w = Walk::new(bytes, 0);
    let _ = (|| {
        w.ascii("magic", 20, "")?;
        w.uint("version", 1, "")?;
        let len = w.uint("len", 4, "length of the operation")? as usize;
        w.nested("Operation", len, "§12.3", |w| {
            let _ = operation_layout(w);
        })?;
        roster_layout(&mut w, "roster after it")?;
        let len = w.uint(
            "len",
            4,
            "length of the previous operation (0 for a create)",
        )? as usize;
        if len > 0 {
            w.nested("PrevOperation", len, "§12.3", |w| {
                let _ = operation_layout(w);
            })?;
        }
        Some(())
    })();
    w.trailing();
    let mut r = finish("group_welcome", "group welcome", "§12.3", bytes, &w);
    match Welcome::parse(bytes) {
        Ok(wl) => r.notes.push(format!(
            "well formed; {} member(s) at epoch {}",
            wl.members().len(),
            wl.operation.epoch
        )),
        Err(e) => r.violation = Some(parse_violation("§12.3", &e, &w)),
    }
    r
}

pub(super) fn inspect_chain_offer(bytes: &[u8]) -> Report {
    let mut w = Walk::new(bytes, 0);
    let _ = (|| {
        w.ascii("magic", 18, "")?;
        w.uint("version", 1, "")?;
        w.take("group_id", 32, "")?;
        w.uint("epoch", 8, "")?;
        w.take("state_hash", 32, "")?;
        w.take("owner_user", 32, "")?;
        w.uint("owner_device", 4, "")?;
        w.uint("generation", 4, "")?;
        w.take("signing_public", 32, "SPK: the chain's Ed25519 key")?;
        w.take(
            "binding",
            64,
            "LabeledSign(IK_sig of the owner device, \"group chain binding\", …)",
        )?;
        w.uint("index", 4, "the next message the chain sends")?;
        w.take("chain_key", 32, "SECRET")?;
        Some(())
    })();
    w.trailing();
    let mut r = finish(
        "group_chain_offer",
        "group chain offer (SECRET: a chain key; travels only inside fan-out messages)",
        "§12.5",
        bytes,
        &w,
    );
    match ChainOffer::parse(bytes) {
        Ok(o) => r.notes.push(format!(
            "well formed; generation {} of device {} at epoch {}",
            o.generation, o.owner_device, o.epoch
        )),
        Err(e) => r.violation = Some(parse_violation("§12.5", &e, &w)),
    }
    r
}

pub(super) fn inspect_group_message(bytes: &[u8]) -> Report {
    let mut w = Walk::new(bytes, 0);
    let _ = (|| {
        w.uint("version", 1, "")?;
        w.uint("type", 1, "0x30: group message")?;
        w.take("group_id", 32, "")?;
        w.uint("epoch", 8, "")?;
        w.take("state_hash", 32, "")?;
        w.take("sender_user", 32, "")?;
        w.uint("sender_device", 4, "")?;
        w.uint("generation", 4, "")?;
        w.uint("index", 4, "")?;
        let len = w.uint("len", 4, "ciphertext length (≥ 16)")? as usize;
        w.take(
            "ciphertext",
            len,
            "ChaCha20-Poly1305(K, n, AD = header, Pad(P))",
        )?;
        w.take(
            "signature",
            64,
            "LabeledSign(the chain's key, \"group message\", …)",
        )?;
        Some(())
    })();
    w.trailing();
    let mut r = finish("group_message", "group message", "§12.6", bytes, &w);
    match GroupMessage::parse(bytes) {
        Ok(m) => r.notes.push(format!(
            "well formed (check 1): message {} of chain generation {} of device {}, epoch {}",
            m.index, m.generation, m.sender_device, m.epoch
        )),
        Err(e) => r.violation = Some(parse_violation("§12.6", &e, &w)),
    }
    r
}

fn operation_field(w: &mut Walk<'_>, name: &str) -> Option<()> {
    let len = w.uint("len", 4, "length of the operation")? as usize;
    w.nested(name, len, "§12.3", |w| {
        let _ = operation_layout(w);
    })
}

pub(super) fn inspect_group_state(bytes: &[u8]) -> Report {
    let mut w = Walk::new(bytes, 0);
    let _ = (|| {
        w.ascii("magic", 12, "")?;
        w.uint("version", 1, "")?;
        w.take("group_id", 32, "")?;
        w.take("own_user", 32, "")?;
        w.uint("own_device", 4, "")?;
        w.uint("epoch", 8, "")?;
        w.take("state_hash", 32, "")?;
        roster_layout(&mut w, "roster")?;
        operation_field(&mut w, "last operation")?;
        w.opt("previous epoch", "state hash, roster and operation", |w| {
            w.take("prev", 32, "")?;
            roster_layout(w, "roster")?;
            operation_field(w, "operation")
        })?;
        w.uint("next_generation", 4, "")?;
        w.opt("own chain", "SECRET", |w| {
            w.uint("generation", 4, "")?;
            w.uint("index", 4, "")?;
            w.take("chain_key", 32, "SECRET")?;
            w.take("signing_seed", 32, "SECRET")?;
            Some(())
        })?;
        let n = w.uint("chains", 2, "received chains")?;
        for i in 0..n {
            w.group(&format!("chain[{i}]"), "", |w| {
                w.take("user", 32, "")?;
                w.uint("device", 4, "")?;
                w.uint("generation", 4, "")?;
                w.uint("next_index", 4, "")?;
                w.take("chain_key", 32, "SECRET")?;
                w.take("signing_public", 32, "")?;
                Some(())
            })?;
        }
        let m = w.uint("skipped", 2, "stored message keys, oldest first")?;
        for i in 0..m {
            w.group(&format!("key[{i}]"), "", |w| {
                w.take("user", 32, "")?;
                w.uint("device", 4, "")?;
                w.uint("generation", 4, "")?;
                w.uint("index", 4, "")?;
                w.take("message_key", 32, "SECRET")?;
                Some(())
            })?;
        }
        state_check(&mut w)
    })();
    let mut r = finish(
        "group_state",
        "group state (SECRET: chain and message keys)",
        "§12.8",
        bytes,
        &w,
    );
    match Group::from_bytes(bytes) {
        Ok(g) => r.notes.push(format!(
            "valid; epoch {}, {} member(s), state hash {}",
            g.epoch(),
            g.members().len(),
            hex(g.state_hash())
        )),
        Err(e) => {
            r.violation = Some(state_violation(
                &e,
                "§12.8",
                "\"SOVA-1 group\"",
                &r.fields,
                &w,
            ))
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::super::inspect;
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;
    use sova::devices::{DeviceEntry, KnownUser, UserKey};
    use sova::groups::{Group, Member, Role};
    use sova::session::Account;

    #[test]
    fn group_objects_are_recognised_and_tile() {
        let mut rng = ChaCha20Rng::from_seed([3; 32]);
        let acct = Account::new(&mut rng).unwrap();
        let uk = UserKey::generate(&mut rng).unwrap();
        let e = DeviceEntry {
            device_id: 1,
            identity: acct.identity_key(),
            admin: true,
        };
        let known =
            vec![KnownUser::new(uk.public(), uk.sign_list(1, &[e]).unwrap().to_bytes()).unwrap()];
        let me = Member {
            user: *uk.public(),
            role: Role::Admin,
        };
        let (mut g, create) =
            Group::create(&mut rng, &acct, *uk.public(), 1, &[me], &known).unwrap();
        let welcome = g.welcome(&create).unwrap();
        let offer = g.start_chain(&mut rng, &acct).unwrap();
        let msg = g.encrypt(b"hello").unwrap();
        let state = g.to_bytes();
        for (bytes, object) in [
            (&create, "group_operation"),
            (&welcome, "group_welcome"),
            (&offer, "group_chain_offer"),
            (&msg, "group_message"),
            (&state, "group_state"),
        ] {
            let r = inspect(bytes);
            assert_eq!(r.object, object);
            assert!(r.violation.is_none(), "{object}: {:?}", r.violation);
            let covered: usize = r.fields.iter().map(|f| f.len).sum();
            assert_eq!(covered, bytes.len(), "{object} tiles");
            let cut = inspect(&bytes[..bytes.len() - 1]);
            assert!(cut.violation.is_some(), "{object} truncated");
        }
    }
}
