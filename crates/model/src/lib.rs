//! The kreisnetz domain: districts, offerings and contacts, and the one place that knows their
//! rules.
//!
//! Nothing here does IO or knows about gRPC, Automerge or sled. The API layer parses wire
//! messages into these types, [`Offering::validate`] and [`Contact::validate`] decide whether
//! they may be stored, and the document layer stores them. Every rule a user can break is a
//! [`FieldViolation`] naming the field, so a client can show the error next to the input.

pub mod ids;
mod language;
mod record;
mod validation;
mod vocabulary;

pub use ids::{DistrictId, IdError, NodeId, RecordId};
pub use language::LanguageCode;
pub use record::{
    Contact, ContactField, Coordinates, Offering, OfferingField, Timestamp, format_date,
    parse_date, parse_stored_date,
};
pub use validation::{
    FieldViolation, Lines, MAX_QUOTED_CHARS, MAX_REPORTED_VIOLATIONS, Violations, is_invisible,
    quote,
};
pub use vocabulary::{
    Category, LanguageLevel, OfferingFormat, OfferingStatus, ProviderKind, TargetGroup, UnknownTerm,
};

/// The kinds of record a district document holds.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    Offering,
    Contact,
}

impl RecordKind {
    /// The collection name used in resource names and in the document (`offerings`, `contacts`).
    pub fn collection(self) -> &'static str {
        match self {
            RecordKind::Offering => "offerings",
            RecordKind::Contact => "contacts",
        }
    }
}

impl std::fmt::Display for RecordKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RecordKind::Offering => "offering",
            RecordKind::Contact => "contact",
        })
    }
}

/// The resource name of a record: `districts/{district}/{collection}/{id}`.
pub fn resource_name(district: &DistrictId, kind: RecordKind, id: &RecordId) -> String {
    format!("districts/{district}/{}/{id}", kind.collection())
}

/// Splits a resource name (or a bare UUID) into its district (if given) and record ID.
pub fn parse_resource_name(
    name: &str,
    kind: RecordKind,
) -> Result<(Option<DistrictId>, RecordId), String> {
    let name = name.trim();
    if name.parse::<RecordId>().is_ok() {
        return RecordId::parse_given(name).map(|id| (None, id));
    }
    let parts: Vec<&str> = name.split('/').collect();
    match parts.as_slice() {
        ["districts", district, collection, id] if *collection == kind.collection() => {
            let district = district
                .parse::<DistrictId>()
                .map_err(|e| format!("invalid district in resource name: {e}"))?;
            let id = RecordId::parse_given(id)
                .map_err(|e| format!("invalid {} ID in resource name: {e}", kind.collection()))?;
            Ok((Some(district), id))
        }
        _ => Err(format!(
            "{} is not `districts/{{district_id}}/{}/{{uuid}}` or a bare UUID",
            quote(name),
            kind.collection()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_names_round_trip() {
        let d = DistrictId::from_public_key(b"x");
        let id = RecordId::new_random();
        let name = resource_name(&d, RecordKind::Offering, &id);
        assert_eq!(
            parse_resource_name(&name, RecordKind::Offering),
            Ok((Some(d), id))
        );
        assert_eq!(
            parse_resource_name(&id.to_string(), RecordKind::Contact),
            Ok((None, id))
        );
        assert!(parse_resource_name(&name, RecordKind::Contact).is_err());
        assert!(parse_resource_name("offerings/123", RecordKind::Offering).is_err());
    }
}
