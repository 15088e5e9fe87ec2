//! Flags whose values come from a fixed list: the model's vocabularies (`--category`, ...) and
//! the API's field names (`--clear`) and token roles (`--role`).
//!
//! [`TermParser`] shows the list in `--help` and parses with the model's own rules, so the CLI
//! accepts exactly what the model accepts and never keeps a copy of a vocabulary.
use std::ffi::OsStr;
use std::marker::PhantomData;

use clap::builder::{PossibleValue, TypedValueParser};
use kreisnetz_model::{
    Category, ContactField, LanguageLevel, OfferingField, OfferingFormat, OfferingStatus,
    ProviderKind, TargetGroup,
};
use kreisnetz_proto::v1;

/// A value from a fixed list.
pub trait Term: Copy + Send + Sync + 'static {
    /// Every value, in the API's order.
    fn all() -> &'static [Self];
    /// The key shown in help and output.
    fn key(self) -> &'static str;
    /// Parses a command-line value; the error explains what is expected.
    fn parse(s: &str) -> Result<Self, String>;
}

macro_rules! vocabulary_terms {
    ($($t:ty),+) => {$(
        impl Term for $t {
            fn all() -> &'static [Self] {
                <$t>::ALL
            }
            fn key(self) -> &'static str {
                <$t>::key(self)
            }
            fn parse(s: &str) -> Result<Self, String> {
                s.parse::<$t>().map_err(|e| e.to_string())
            }
        }
    )+};
}

vocabulary_terms!(
    Category,
    TargetGroup,
    ProviderKind,
    OfferingStatus,
    LanguageLevel,
    OfferingFormat
);

/// The value of a yes/no flag such as `--childcare yes|no` (`true`/`false` work too).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum YesNo {
    Yes,
    No,
}

impl From<YesNo> for bool {
    fn from(v: YesNo) -> bool {
        v == YesNo::Yes
    }
}

impl Term for YesNo {
    fn all() -> &'static [Self] {
        &[YesNo::Yes, YesNo::No]
    }
    fn key(self) -> &'static str {
        match self {
            YesNo::Yes => "yes",
            YesNo::No => "no",
        }
    }
    fn parse(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "yes" | "true" => Ok(YesNo::Yes),
            "no" | "false" => Ok(YesNo::No),
            _ => Err(format!("\"{s}\" is neither yes nor no")),
        }
    }
}

macro_rules! field_terms {
    ($($t:ty),+) => {$(
        impl Term for $t {
            fn all() -> &'static [Self] {
                <$t>::ALL
            }
            fn key(self) -> &'static str {
                self.name()
            }
            fn parse(s: &str) -> Result<Self, String> {
                let wanted = s.trim().to_ascii_lowercase().replace('-', "_");
                <$t>::from_name(&wanted).ok_or_else(|| {
                    let names: Vec<&str> = Self::all().iter().map(|f| f.name()).collect();
                    format!("unknown field \"{s}\"; expected one of: {}", names.join(", "))
                })
            }
        }
    )+};
}

field_terms!(OfferingField, ContactField);

/// The role of an API token (`--role`); `ROLE_UNSPECIFIED` is not one a token can have.
impl Term for v1::Role {
    fn all() -> &'static [Self] {
        &[v1::Role::Reader, v1::Role::Editor, v1::Role::Admin]
    }
    fn key(self) -> &'static str {
        match self {
            v1::Role::Unspecified => "unspecified",
            v1::Role::Reader => "reader",
            v1::Role::Editor => "editor",
            v1::Role::Admin => "admin",
        }
    }
    fn parse(s: &str) -> Result<Self, String> {
        let wanted = s.trim().to_ascii_lowercase();
        let wanted = wanted.strip_prefix("role_").unwrap_or(&wanted);
        Self::all()
            .iter()
            .copied()
            .find(|r| r.key() == wanted)
            .ok_or_else(|| {
                let keys: Vec<&str> = Self::all().iter().map(|r| r.key()).collect();
                format!("unknown role \"{s}\"; expected one of: {}", keys.join(", "))
            })
    }
}

/// A clap value parser for a [`Term`].
#[derive(Clone, Copy)]
pub struct TermParser<T>(PhantomData<T>);

impl<T> TermParser<T> {
    pub fn new() -> Self {
        TermParser(PhantomData)
    }
}

impl<T> Default for TermParser<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Term> TypedValueParser for TermParser<T> {
    type Value = T;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<T, clap::Error> {
        // A plain `fn(&str) -> Result<T, E>` makes clap's usual message, naming the flag:
        // `invalid value 'x' for '--category <KEY>': unknown category "x"; expected one of: ...`
        let parse = |s: &str| T::parse(s);
        parse.parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(
            T::all().iter().map(|t| PossibleValue::new(t.key())),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_accept_dashes_and_list_the_fields() {
        assert_eq!(
            <OfferingField as Term>::parse("places-free"),
            Ok(OfferingField::PlacesFree)
        );
        let err = <ContactField as Term>::parse("title").unwrap_err();
        assert!(err.contains("display_name"), "{err}");
    }

    #[test]
    fn yes_and_no_parse() {
        assert_eq!(<YesNo as Term>::parse("Yes"), Ok(YesNo::Yes));
        assert_eq!(<YesNo as Term>::parse("false"), Ok(YesNo::No));
        assert!(<YesNo as Term>::parse("maybe").is_err());
        assert!(bool::from(YesNo::Yes));
    }

    #[test]
    fn roles_parse_in_any_case_and_list_the_roles() {
        for (s, role) in [
            ("reader", v1::Role::Reader),
            (" Editor ", v1::Role::Editor),
            ("ADMIN", v1::Role::Admin),
            ("role_admin", v1::Role::Admin),
        ] {
            assert_eq!(<v1::Role as Term>::parse(s), Ok(role), "{s}");
        }
        for bad in ["", "owner", "unspecified", "role_unspecified"] {
            let err = <v1::Role as Term>::parse(bad).unwrap_err();
            assert!(
                err.ends_with("expected one of: reader, editor, admin"),
                "{err}"
            );
        }
        assert_eq!(Term::key(v1::Role::Editor), "editor");
    }
}
