//! Stable error codes (spec appendix B): every error of the public API has a
//! [`code`](crate::CryptoError::code), the name of its variant. Codes never
//! change meaning; ports and bindings (JavaScript, Python) use the same
//! strings. A wrapping variant (`Bundle`, `Malformed`, `FirstMessage`,
//! `Decrypt`, `Accept`, `Storage`, `State`, `Crypto`) carries the inner error,
//! whose own code gives the reason.

/// Implements `code()` for an error enum: the compiler checks that every
/// variant is listed (a match inside the defining crate must be exhaustive).
macro_rules! error_codes {
    ($ty:path { $($variant:ident),* $(,)? }) => {
        impl $ty {
            /// The error's stable code: the name of its variant, as listed in
            /// spec appendix B.
            pub fn code(&self) -> &'static str {
                match self {
                    $(Self::$variant { .. } => stringify!($variant),)*
                }
            }
        }

        /// Written as `{ "code": …, "message": … }` (feature `serde`).
        #[cfg(feature = "serde")]
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeStruct;
                let mut st = s.serialize_struct("Error", 2)?;
                st.serialize_field("code", self.code())?;
                st.serialize_field("message", &alloc::string::ToString::to_string(self))?;
                st.end()
            }
        }
    };
}

error_codes!(crate::CryptoError {
    AeadAuthentication,
    X25519LowOrder,
    InvalidSignature,
    InvalidKemPublicKey,
    KdfOutputTooLong,
    LabelTooLong,
    RandomnessUnavailable,
});

error_codes!(crate::ratchet::message::ParseError {
    Truncated,
    UnsupportedVersion,
    UnknownType,
    InvalidBodyLength,
    TrailingBytes,
});

error_codes!(crate::ratchet::StateError {
    BadMagic,
    UnsupportedVersion,
    Truncated,
    Invalid,
    TrailingBytes,
    Corrupted,
});

error_codes!(crate::ratchet::InitError {
    SessionAdTooLong,
    Crypto,
});

error_codes!(crate::ratchet::EncryptError {
    PlaintextTooLong,
    NoSendingChain,
    ChainExhausted,
    LowOrderRatchetKey,
    NoHeadroom,
    Randomness,
    Crypto,
});

error_codes!(crate::ratchet::DecryptError {
    Malformed,
    WrongMessageType,
    HeaderAuthentication,
    Authentication,
    DuplicateOrExpired,
    TooManySkipped,
    BeyondChainEnd,
    InvalidPadding,
    LowOrderRatchetKey,
    Crypto,
});

error_codes!(crate::storage::StorageError {
    BadMagic,
    UnsupportedVersion,
    WrongKind,
    Truncated,
    Authentication,
    Randomness,
});

error_codes!(crate::session::BundleError {
    Truncated,
    UnsupportedVersion,
    WrongType,
    InvalidFlag,
    InvalidKemKind,
    TrailingBytes,
    InvalidIdentitySignature,
    InvalidSignedPrekeySignature,
    InvalidKemPrekeySignature,
});

error_codes!(crate::session::InitialMessageError {
    Truncated,
    UnsupportedVersion,
    WrongType,
    InvalidFlag,
    InvalidKemKind,
    RatchetMessageTooLong,
    TrailingBytes,
});

error_codes!(crate::session::AccountError {
    UnknownPrekey,
    TooManyPrekeys,
    PrekeyIdsExhausted,
    Randomness,
    Crypto,
});

error_codes!(crate::session::StartError {
    Bundle,
    UnexpectedPeer,
    InvalidKemPrekey,
    LowOrderKey,
    Randomness,
    Crypto,
});

error_codes!(crate::session::AcceptError {
    Malformed,
    UnexpectedPeer,
    HeaderModeRefused,
    InvalidIdentitySignature,
    UnknownPrekey,
    OneTimePrekeyUnknownOrUsed,
    Replay,
    ReplayStoreFull,
    LowOrderKey,
    FirstMessage,
    Crypto,
});

error_codes!(crate::session::EncryptError {
    PlaintextTooLong,
    NoSendingChain,
    ChainExhausted,
    LowOrderRatchetKey,
    Randomness,
    Crypto,
});

error_codes!(crate::session::DecryptError {
    Malformed,
    MalformedInitialMessage,
    WrongMessageType,
    HeaderAuthentication,
    Authentication,
    DuplicateOrExpired,
    TooManySkipped,
    BeyondChainEnd,
    InvalidPadding,
    LowOrderRatchetKey,
    NotThisSession,
    InitialMessageMismatch,
    Crypto,
});

error_codes!(crate::session::ConversationError {
    Decrypt,
    Accept,
    OtherPeer,
    DuplicateSession,
});

error_codes!(crate::session::PersistError { Storage, State });

error_codes!(crate::session::UploadError {
    Truncated,
    UnsupportedVersion,
    WrongType,
    InvalidFlag,
    TooManyEntries,
    InvalidKind,
    DuplicateId,
    TrailingBytes,
    InvalidIdentitySignature,
    InvalidSignedPrekeySignature,
    InvalidKemPrekeySignature,
});

error_codes!(crate::session::AssembleError {
    NoLongTermPart,
    UnknownPrekey,
});

error_codes!(crate::safety::SafetyError {
    Length,
    UnknownVersion,
    OwnCode,
    Mismatch,
});

error_codes!(crate::devices::ParseError {
    BadMagic,
    UnsupportedVersion,
    Truncated,
    DeviceCount,
    InvalidFlags,
    TrailingBytes,
});

error_codes!(crate::devices::ListError {
    Malformed,
    WrongUser,
    InvalidSignature,
    Inconsistent,
    Rollback,
    Equivocation,
    StaleDeviceList,
    Crypto,
});

error_codes!(crate::devices::LinkError {
    Malformed,
    InvalidIdentitySignature,
    AlreadyListed,
    TooManyDevices,
    DeviceIdsExhausted,
    DataTooLong,
    LowOrderKey,
    Authentication,
    List,
    NotListed,
    WrongUserKey,
    Randomness,
    Crypto,
});

error_codes!(crate::devices::FanoutError {
    Malformed,
    UnknownUser,
    NotForUs,
    List,
    UnknownDevice,
    UnlistedDevice,
    MissingDevice,
    NoSession,
    PlaintextTooLong,
    BodyMismatch,
    Pairwise,
    Encrypt,
    Randomness,
    Crypto,
    Start,
});

error_codes!(crate::groups::ParseError {
    BadMagic,
    UnsupportedVersion,
    Truncated,
    InvalidKind,
    InvalidRole,
    MemberCount,
    RosterOrder,
    TrailingBytes,
    BodyLength,
});

error_codes!(crate::groups::GroupError {
    Malformed,
    WrongGroup,
    StaleEpoch,
    EpochAhead,
    Fork,
    NotMember,
    UnknownDevice,
    InvalidSignature,
    NotAuthorised,
    AlreadyMember,
    NoSuchMember,
    RoleUnchanged,
    TooManyMembers,
    LastAdmin,
    WrongSession,
    NotInRoster,
    WelcomeMismatch,
    StaleChain,
    TooManyChains,
    UnknownChain,
    DuplicateOrExpired,
    BeyondChainEnd,
    Authentication,
    InvalidPadding,
    NoChain,
    ChainExhausted,
    PlaintextTooLong,
    Removed,
    Randomness,
    Crypto,
});
