//! Capability `prekey-rotation` (spec §7.2, §7.6): the previous signed
//! prekey is kept for one rotation, and dropped at the next.

use serde_json::json;
use sova::ratchet::HeaderMode;
use sova::session::{Account, Session};

use super::{field, hex_of, Runner};
use crate::hex;

/// The initial message sent, and the implementation's session handle or
/// the class it refused the message with.
pub(super) type Handshake = (Vec<u8>, Result<String, String>);

impl Runner<'_> {
    /// Starts a session from `bundle` and gives its initial message to the
    /// implementation's `account`.
    pub(super) fn handshake(
        &mut self,
        lib: &Account,
        account: &str,
        bundle: &[u8],
        mode: HeaderMode,
        label: &str,
    ) -> Result<Handshake, String> {
        let mut s = Session::start_unverified(lib, &mut self.crypto, bundle, mode)
            .map_err(|e| format!("this library rejects the implementation's bundle: {e}"))?;
        let pt = label.as_bytes().to_vec();
        let msg = s
            .encrypt(&mut self.crypto, &pt)
            .map_err(|e| format!("this library: {e}"))?;
        let r = match self
            .port
            .call(
                "session_accept",
                json!({ "account": account, "message": hex(&msg) }),
            )
            .map_err(|b| b.0)?
        {
            Ok(m) => {
                if hex_of(&m, "session_accept", "plaintext")? != pt {
                    return Err(format!("{label}: the plaintext differs"));
                }
                Ok(field(&m, "session_accept", "handle")?.to_owned())
            }
            Err(e) => Err(e.class),
        };
        Ok((msg, r))
    }

    pub(super) fn prekey_rotation(&mut self) -> Result<String, String> {
        let lib = Account::new(&mut self.crypto).map_err(|e| format!("this library: {e}"))?;
        let m = self.call_ok("account_new", json!({}))?;
        let account = field(&m, "account_new", "handle")?.to_owned();
        let bundle = |r: &mut Self| -> Result<Vec<u8>, String> {
            let m = r.call_ok(
                "bundle",
                json!({ "account": account, "one_time_prekey": false, "kem_one_time_prekey": false }),
            )?;
            hex_of(&m, "bundle", "bundle")
        };
        let rotate =
            |r: &mut Self| r.call_ok("rotate_signed_prekey", json!({ "account": account }));
        let old = bundle(self)?;
        rotate(self)?;
        let new = bundle(self)?;
        if new == old {
            return Err("the bundle is the same after a rotation".into());
        }
        let plain = HeaderMode::Plain;
        let (_, r) = self.handshake(&lib, &account, &old, plain, "previous signed prekey")?;
        if let Err(c) = r {
            return Err(format!(
                "an initial message for the previous signed prekey (one rotation ago) was refused with {c}"
            ));
        }
        rotate(self)?;
        let (_, r) = self.handshake(&lib, &account, &old, plain, "dropped signed prekey")?;
        match r {
            Ok(_) => {
                return Err(
                    "an initial message for a signed prekey dropped two rotations ago was accepted; expected UnknownPrekey".into(),
                )
            }
            Err(c) if c != "UnknownPrekey" => {
                return Err(format!(
                    "an initial message for a signed prekey dropped two rotations ago was refused with {c}; expected UnknownPrekey"
                ))
            }
            Err(_) => {}
        }
        let (_, r) = self.handshake(&lib, &account, &new, plain, "now previous signed prekey")?;
        if let Err(c) = r {
            return Err(format!(
                "an initial message for the signed prekey of one rotation ago was refused with {c}"
            ));
        }
        let _ = self.port.call("drop", json!({ "handle": account }));
        Ok("previous signed prekey accepted after one rotation, UnknownPrekey after two".into())
    }
}
