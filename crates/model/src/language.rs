//! ISO 639-1 language codes.
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The two-letter codes of ISO 639-1.
const ISO_639_1: &str = "aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy \
da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id ie ig ii ik io is \
it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd \
ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv \
sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu";

/// A language, as its ISO 639-1 code (`de`, `ar`, `uk`, ...). Always lower case.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LanguageCode([u8; 2]);

impl LanguageCode {
    /// The code as a string slice.
    pub fn as_str(&self) -> &str {
        // Only ever built from ASCII letters.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl FromStr for LanguageCode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let lower = s.trim().to_ascii_lowercase();
        if lower.len() == 2 && ISO_639_1.split(' ').any(|c| c == lower) {
            let b = lower.as_bytes();
            Ok(LanguageCode([b[0], b[1]]))
        } else {
            Err(format!(
                "{} is not an ISO 639-1 language code (e.g. de, en, ar, uk)",
                crate::quote(s)
            ))
        }
    }
}

impl fmt::Display for LanguageCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for LanguageCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LanguageCode({})", self.as_str())
    }
}

impl Serialize for LanguageCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for LanguageCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_iso_codes_in_any_case() {
        for c in ["de", "EN", "ar", "uk", "fa", "ti", "ku", " ps "] {
            assert!(c.parse::<LanguageCode>().is_ok(), "{c}");
        }
        assert_eq!("DE".parse::<LanguageCode>().unwrap().as_str(), "de");
    }

    #[test]
    fn rejects_everything_else() {
        for c in ["", "d", "deu", "xx", "german", "d1", "zz"] {
            assert!(c.parse::<LanguageCode>().is_err(), "{c}");
        }
    }
}
