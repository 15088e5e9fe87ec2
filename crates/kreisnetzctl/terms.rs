//! Flags whose values come from a fixed list: the model's vocabularies (`--category`, ...) and
//! the API's field names (`--clear`).
//!
//! [`TermParser`] shows the list in `--help` and parses with the model's own rules, so the CLI
//! accepts exactly what the model accepts and never keeps a copy of a vocabulary.
use std::ffi::OsStr;
use std::marker::PhantomData;

use clap::builder::{PossibleValue, TypedValueParser};
use kreisnetz_model::{
    Category, ContactField, OfferingField, OfferingStatus, ProviderKind, TargetGroup,
};

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

vocabulary_terms!(Category, TargetGroup, ProviderKind, OfferingStatus);

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
}
