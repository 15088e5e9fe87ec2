//! Identifiers: who a district or node is, and which record is which.
//!
//! District and node IDs are SHA-256 fingerprints of public keys, written in base32 in groups of
//! four so that two operators can compare them on the phone (like Syncthing's device IDs). A
//! short prefix says what kind of ID it is: `D-` for a district, `N-` for a node. Parsing is
//! lenient (any case, dashes and spaces optional); display is canonical.
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A SHA-256 fingerprint.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// The fingerprint of some public key bytes.
    pub fn of(bytes: &[u8]) -> Self {
        Fingerprint(Sha256::digest(bytes).into())
    }

    fn format(&self, prefix: char) -> String {
        let b32 = data_encoding::BASE32_NOPAD.encode(&self.0);
        let mut out = String::with_capacity(2 + b32.len() + b32.len() / 4);
        out.push(prefix);
        for (i, c) in b32.chars().enumerate() {
            if i % 4 == 0 {
                out.push('-');
            }
            out.push(c);
        }
        out
    }

    fn parse(s: &str, prefix: char, what: &'static str) -> Result<Self, IdError> {
        let cleaned: String = s
            .chars()
            .filter(|c| *c != '-' && !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let rest = cleaned
            .strip_prefix(prefix)
            .ok_or(IdError::Prefix { what, prefix })?;
        let bytes = data_encoding::BASE32_NOPAD
            .decode(rest.as_bytes())
            .map_err(|_| IdError::Encoding { what })?;
        let arr: [u8; 32] = bytes.try_into().map_err(|_| IdError::Encoding { what })?;
        Ok(Fingerprint(arr))
    }
}

/// Why a string is not an ID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("a {what} ID starts with \"{prefix}-\"")]
    Prefix { what: &'static str, prefix: char },
    #[error("a {what} ID is 52 base32 characters (A-Z, 2-7) after its prefix")]
    Encoding { what: &'static str },
}

macro_rules! fingerprint_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub Fingerprint);

        impl $name {
            /// The ID of the holder of this public key.
            pub fn from_public_key(public_key: &[u8]) -> Self {
                $name(Fingerprint::of(public_key))
            }
            /// The raw fingerprint.
            pub fn as_bytes(&self) -> &[u8; 32] {
                &self.0 .0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0.format($prefix))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Fingerprint::parse(s, $prefix, $what).map($name)
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

fingerprint_id!(
    /// A district (a member of the federation): the fingerprint of its Ed25519 signing key.
    /// It is also the ID of the district's document.
    DistrictId,
    'D',
    "district"
);
fingerprint_id!(
    /// A node: the fingerprint of its TLS public key.
    NodeId,
    'N',
    "node"
);

/// The UUID of an offering or contact, unique within its district.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
pub struct RecordId(pub uuid::Uuid);

impl RecordId {
    /// A new random ID.
    pub fn new_random() -> Self {
        RecordId(uuid::Uuid::new_v4())
    }

    /// Parses an ID a client gives (a hyphenated UUID): like [`FromStr`], but the nil UUID
    /// (all zeros), which no generator produces and which is a typical placeholder, is refused.
    /// The error quotes at most the beginning of the input.
    pub fn parse_given(s: &str) -> Result<RecordId, String> {
        match s.trim().parse::<RecordId>() {
            Ok(id) if id.0.is_nil() => Err(format!(
                "{} is the nil UUID; give a random UUID or leave it empty",
                crate::quote(s)
            )),
            Ok(id) => Ok(id),
            Err(_) => Err(format!("{} is not a UUID", crate::quote(s))),
        }
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl FromStr for RecordId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        uuid::Uuid::parse_str(s).map(RecordId)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn district_id_round_trips_and_parses_leniently() {
        let id = DistrictId::from_public_key(b"some public key");
        let shown = id.to_string();
        assert!(shown.starts_with("D-"));
        assert_eq!(shown.len(), 2 + 52 + 12);
        assert_eq!(shown.parse::<DistrictId>().unwrap(), id);
        let sloppy = shown.to_lowercase().replace('-', " ");
        assert_eq!(sloppy.parse::<DistrictId>().unwrap(), id);
    }

    #[test]
    fn given_record_ids_are_uuids_but_not_nil() {
        let id = RecordId::new_random();
        assert_eq!(RecordId::parse_given(&id.to_string()), Ok(id));
        let nil = RecordId::parse_given("00000000-0000-0000-0000-000000000000").unwrap_err();
        assert!(nil.contains("nil UUID"), "{nil}");
        let long = RecordId::parse_given(&"x".repeat(10_000)).unwrap_err();
        assert!(long.len() < 200, "{long}");
    }

    #[test]
    fn node_and_district_ids_are_not_interchangeable() {
        let id = NodeId::from_public_key(b"k");
        assert_eq!(
            id.to_string().parse::<DistrictId>(),
            Err(IdError::Prefix {
                what: "district",
                prefix: 'D'
            })
        );
        assert!("D-ABCD".parse::<DistrictId>().is_err());
    }
}
