//! Sessions per device (spec §11.7): one conversation per listed device of a
//! person, bound to the listed identity, kept in step with the accepted list.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use rand_core::TryCryptoRng;

use super::fanout::{self, Audience, DeviceMessage, FanoutReceived, Target};
use super::{DeviceEntry, FanoutError, KnownUser, ListChange, ListError};
use crate::ratchet::HeaderMode;
use crate::session::{Account, Conversation};

/// One person's devices as this device talks to them (spec §11.7): the
/// person's accepted list ([`KnownUser`]) and one [`Conversation`] per
/// listed device, keyed by device id and bound to the listed `IdentityKey`.
///
/// For this device's own user ([`PeerDevices::own`]) the peers are the
/// user's *other* devices: this device is never one of its own peers.
///
/// The invariant, kept by every method: a conversation is held only for a
/// device the accepted list names, and its peer is the listed identity.
/// Accepting a list ([`update`](Self::update)) deletes the conversations of
/// removed devices and of ids whose identity changed, so a device that is
/// removed and later listed again starts afresh.
///
/// ```
/// use sova::devices::{fanout, DeviceEntry, KnownUser, PeerDevices, UserKey};
/// use sova::ratchet::HeaderMode;
/// use sova::session::Account;
///
/// let mut rng = sova::OsRng;
/// let (alice_uk, bob_uk) = (UserKey::generate(&mut rng)?, UserKey::generate(&mut rng)?);
/// let (alice_phone, mut bob_phone) = (Account::new(&mut rng)?, Account::new(&mut rng)?);
/// let entry = |a: &Account| DeviceEntry { device_id: 1, identity: a.identity_key(), admin: true };
/// let alice_list = alice_uk.sign_list(1, &[entry(&alice_phone)])?;
/// let bob_list = bob_uk.sign_list(1, &[entry(&bob_phone)])?;
///
/// // Alice's phone (device 1): its own user, and Bob.
/// let mut alice_self = PeerDevices::own(KnownUser::from_list(alice_list.clone()), 1)?;
/// let mut alice_to_bob = PeerDevices::new(KnownUser::new(bob_uk.public(), bob_list.to_bytes())?);
/// // Which devices need a bundle before the first message: Bob's phone.
/// assert_eq!(alice_to_bob.needs_bundle(), vec![1]);
/// let bundle = bob_phone.bundle(None, None)?.to_bytes();
/// alice_to_bob.start(&alice_phone, 1, &bundle, HeaderMode::Encrypted, &mut rng)?;
/// let wire = PeerDevices::send(&mut alice_self, &mut alice_to_bob, b"hi Bob", &mut rng)?;
///
/// // Bob's phone: its conversation with Alice's phone is made on arrival.
/// let bob_self = KnownUser::from_list(bob_list);
/// let mut bob_to_alice = PeerDevices::new(KnownUser::from_list(alice_list));
/// let (_, _, part) = fanout::split(&wire)?.remove(0);
/// let got = bob_to_alice.receive(&bob_self, &mut bob_phone, &fanout::DeviceMessage::parse(&part)?)?;
/// assert_eq!(got.plaintext, b"hi Bob");
/// assert!(bob_to_alice.conversation(1).is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct PeerDevices {
    user: KnownUser,
    this_device: Option<u32>,
    conversations: BTreeMap<u32, Conversation>,
}

impl PeerDevices {
    /// Another person, with no conversation yet.
    pub fn new(user: KnownUser) -> Self {
        Self {
            user,
            this_device: None,
            conversations: BTreeMap::new(),
        }
    }

    /// This device's own user, whose other devices are the peers;
    /// `this_device` is this device's id in the list.
    ///
    /// # Errors
    /// [`FanoutError::UnknownDevice`] when the list does not name
    /// `this_device`.
    pub fn own(user: KnownUser, this_device: u32) -> Result<Self, FanoutError> {
        if user.list().device(this_device).is_none() {
            return Err(FanoutError::UnknownDevice);
        }
        Ok(Self {
            user,
            this_device: Some(this_device),
            conversations: BTreeMap::new(),
        })
    }

    /// The person and the accepted list.
    pub fn user(&self) -> &KnownUser {
        &self.user
    }

    /// This device's id, when these are its own user's devices.
    pub fn this_device(&self) -> Option<u32> {
        self.this_device
    }

    /// Whether the accepted list still names this device (always `true`
    /// for another person). `false`: an admin device removed this device;
    /// it can no longer send ([`FanoutError::UnknownDevice`]).
    pub fn is_listed(&self) -> bool {
        self.this_device
            .is_none_or(|id| self.user.list().device(id).is_some())
    }

    /// The listed devices that are peers: every device of the list, but
    /// this device itself.
    pub fn devices(&self) -> impl Iterator<Item = &DeviceEntry> {
        let this = self.this_device;
        self.user
            .list()
            .entries()
            .iter()
            .filter(move |e| Some(e.device_id) != this)
    }

    /// Ids of the listed peer devices without a session to send on: fetch
    /// each one's bundle and [`start`](Self::start) a session before
    /// sending (spec §11.7).
    pub fn needs_bundle(&self) -> Vec<u32> {
        self.devices()
            .filter(|e| {
                self.conversations
                    .get(&e.device_id)
                    .is_none_or(|c| c.active_session().is_none())
            })
            .map(|e| e.device_id)
            .collect()
    }

    /// The conversation with a listed device, if one exists.
    pub fn conversation(&self, device_id: u32) -> Option<&Conversation> {
        self.conversations.get(&device_id)
    }

    /// The conversations held, by device id.
    pub fn conversations(&self) -> impl Iterator<Item = (u32, &Conversation)> {
        self.conversations.iter().map(|(id, c)| (*id, c))
    }

    /// The listed identity of a peer device.
    fn listed(&self, device_id: u32) -> Result<&DeviceEntry, FanoutError> {
        self.user
            .list()
            .device(device_id)
            .filter(|_| Some(device_id) != self.this_device)
            .ok_or(FanoutError::UnlistedDevice(device_id))
    }

    /// Offers a list of the person (spec §11.4) and, when it is accepted,
    /// deletes the conversations of the devices it removed and of the ids
    /// whose identity changed (spec §11.7). Nothing changes on error.
    ///
    /// # Errors
    /// As [`KnownUser::update`].
    pub fn update(&mut self, list: &[u8]) -> Result<ListChange, ListError> {
        let change = self.user.update(list)?;
        let user = &self.user;
        // Keep exactly the conversations bound to a listed identity; this
        // covers `removed` (gone, or another identity under the same id).
        self.conversations.retain(|id, c| {
            user.list()
                .device(*id)
                .is_some_and(|e| e.identity == *c.peer())
        });
        Ok(change)
    }

    /// Starts a session with a listed device from its bundle, with the
    /// listed identity as the expected peer (spec §11.7, §7.4); it is added
    /// to the device's conversation (made if there is none).
    ///
    /// # Errors
    /// [`FanoutError::UnlistedDevice`] for a device the list does not name
    /// (or this device itself), [`FanoutError::Start`] when the bundle is
    /// refused (one of another identity: `UnexpectedPeer`). Nothing changes
    /// on error.
    pub fn start<R: TryCryptoRng + ?Sized>(
        &mut self,
        account: &Account,
        device_id: u32,
        bundle: &[u8],
        mode: HeaderMode,
        rng: &mut R,
    ) -> Result<&mut Conversation, FanoutError> {
        let identity = self.listed(device_id)?.identity;
        match self.conversations.entry(device_id) {
            alloc::collections::btree_map::Entry::Occupied(o) => {
                let c = o.into_mut();
                c.start_session(account, rng, bundle, mode)
                    .map_err(FanoutError::Start)?;
                Ok(c)
            }
            alloc::collections::btree_map::Entry::Vacant(v) => {
                let c = Conversation::start(account, rng, &identity, bundle, mode)
                    .map_err(FanoutError::Start)?;
                Ok(v.insert(c))
            }
        }
    }

    /// Puts back a conversation (restored from storage, say) for a listed
    /// device; it replaces the one held.
    ///
    /// # Errors
    /// [`FanoutError::UnlistedDevice`] when the device is not listed, or
    /// the conversation's peer is not the listed identity. Nothing changes
    /// on error.
    pub fn insert(
        &mut self,
        device_id: u32,
        conversation: Conversation,
    ) -> Result<(), FanoutError> {
        if *conversation.peer() != self.listed(device_id)?.identity {
            return Err(FanoutError::UnlistedDevice(device_id));
        }
        self.conversations.insert(device_id, conversation);
        Ok(())
    }

    /// The person and the [`fanout::Target`]s of a send to every listed
    /// peer device, in list order: [`Audience::OwnDevice`] for this
    /// device's own user, [`Audience::Recipient`] otherwise. For a
    /// recipient and this device's own other devices together, see
    /// [`send`](Self::send).
    ///
    /// # Errors
    /// [`FanoutError::NoSession`] naming the first device without a session
    /// ([`needs_bundle`](Self::needs_bundle) names them all).
    pub fn targets(&mut self) -> Result<(&KnownUser, Vec<Target<'_>>), FanoutError> {
        if let Some(id) = self.needs_bundle().first() {
            return Err(FanoutError::NoSession(*id));
        }
        let audience = if self.this_device.is_some() {
            Audience::OwnDevice
        } else {
            Audience::Recipient
        };
        let this = self.this_device;
        let user = &self.user;
        let targets = self
            .conversations
            .iter_mut()
            .filter(|(id, _)| Some(**id) != this)
            .map(|(id, conversation)| Target {
                audience,
                device_id: *id,
                conversation,
            })
            .collect();
        Ok((user, targets))
    }

    /// Sends `plaintext` from this device (`own`, made with
    /// [`PeerDevices::own`]) to every listed device of `recipient` and to
    /// its own user's other devices (spec §11.6): the fan-out message for
    /// the server.
    ///
    /// # Errors
    /// [`FanoutError::UnknownDevice`] when `own` is not this device's own
    /// user or no longer lists it; [`FanoutError::NoSession`] for a device
    /// of either without a session (see [`needs_bundle`](Self::needs_bundle));
    /// then as [`fanout::encrypt`].
    pub fn send<R: TryCryptoRng + ?Sized>(
        own: &mut PeerDevices,
        recipient: &mut PeerDevices,
        plaintext: &[u8],
        rng: &mut R,
    ) -> Result<Vec<u8>, FanoutError> {
        let this = own.this_device.ok_or(FanoutError::UnknownDevice)?;
        if !own.is_listed() {
            return Err(FanoutError::UnknownDevice);
        }
        let (recipient_user, mut targets) = recipient.targets()?;
        let (own_user, own_targets) = own.targets()?;
        targets.extend(own_targets);
        fanout::encrypt(own_user, this, recipient_user, &mut targets, plaintext, rng)
    }

    /// Receives a device message from a device of this person (spec
    /// §11.6), on the conversation with the sending device; a listed device
    /// without one gets one, bound to its listed identity, when its message
    /// is accepted. `own` is this device's user as it knows it. Nothing
    /// changes on error.
    ///
    /// For a message from another device of this device's own user, use
    /// [`receive_own`](Self::receive_own).
    ///
    /// # Errors
    /// As [`fanout::receive`]; [`FanoutError::UnknownDevice`] for a device
    /// the accepted list does not name, or this device itself.
    pub fn receive(
        &mut self,
        own: &KnownUser,
        account: &mut Account,
        message: &DeviceMessage<'_>,
    ) -> Result<FanoutReceived, FanoutError> {
        receive(
            &self.user,
            self.this_device,
            &mut self.conversations,
            own,
            account,
            message,
        )
    }

    /// [`receive`](Self::receive) for a message from another device of
    /// this device's own user (made with [`PeerDevices::own`]).
    ///
    /// # Errors
    /// As [`receive`](Self::receive); [`FanoutError::NotForUs`] when these
    /// are not this device's own user's devices.
    pub fn receive_own(
        &mut self,
        account: &mut Account,
        message: &DeviceMessage<'_>,
    ) -> Result<FanoutReceived, FanoutError> {
        if self.this_device.is_none() {
            return Err(FanoutError::NotForUs);
        }
        receive(
            &self.user,
            self.this_device,
            &mut self.conversations,
            &self.user,
            account,
            message,
        )
    }
}

fn receive(
    sender: &KnownUser,
    this_device: Option<u32>,
    conversations: &mut BTreeMap<u32, Conversation>,
    own: &KnownUser,
    account: &mut Account,
    message: &DeviceMessage<'_>,
) -> Result<FanoutReceived, FanoutError> {
    let id = message.header.sender_device;
    let Some(listed) = sender.list().device(id).filter(|_| Some(id) != this_device) else {
        // Not a listed peer. Checks 2 and 3 still come first (spec §11.6),
        // so run them on a conversation bound to no identity: check 4 then
        // refuses the device, before any decryption.
        let mut unbound = Conversation::new([0; 64]);
        return fanout::receive(own, sender, &mut unbound, account, message)
            .and(Err(FanoutError::UnknownDevice));
    };
    if let Some(c) = conversations.get_mut(&id) {
        return fanout::receive(own, sender, c, account, message);
    }
    // A first message: the conversation is kept only if it is accepted.
    let mut c = Conversation::new(listed.identity);
    let got = fanout::receive(own, sender, &mut c, account, message)?;
    conversations.insert(id, c);
    Ok(got)
}
