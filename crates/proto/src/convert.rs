//! Between wire messages and the domain model.
//!
//! Parsing a wire message checks everything that can be checked without the stored data (enum
//! values, UUIDs, dates, language codes) and reports every problem as a field violation named by
//! its API field path; the domain's own `validate` then checks the rules between fields. The
//! node and the CLI both use this module, so a value means the same thing on both sides.
use std::collections::BTreeSet;
use std::str::FromStr;

use kreisnetz_model::{
    Category, Contact, Coordinates, DistrictId, LanguageCode, LanguageLevel, Offering,
    OfferingFormat, OfferingStatus, ProviderKind, RecordId, RecordKind, TargetGroup, Timestamp,
    Violations, format_date, parse_date, resource_name,
};
use prost::Message;
use sha2::{Digest, Sha256};

use crate::v1;

/// A wire timestamp from milliseconds since the epoch.
pub fn timestamp(t: Timestamp) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.0.div_euclid(1000),
        nanos: (t.0.rem_euclid(1000) * 1_000_000) as i32,
    }
}

/// Milliseconds since the epoch from a wire timestamp (zero when absent).
pub fn from_timestamp(t: Option<&prost_types::Timestamp>) -> Timestamp {
    t.map(|t| Timestamp(t.seconds * 1000 + i64::from(t.nanos) / 1_000_000))
        .unwrap_or_default()
}

fn etag_of(msg: &impl Message) -> String {
    let digest = Sha256::digest(msg.encode_to_vec());
    data_encoding::HEXLOWER.encode(&digest[..8])
}

/// The wire form of an offering, with its resource name and etag.
pub fn offering_to_proto(o: &Offering) -> v1::Offering {
    let mut p = v1::Offering {
        name: resource_name(&o.district_id, RecordKind::Offering, &o.id),
        id: o.id.to_string(),
        district_id: o.district_id.to_string(),
        title: o.title.clone(),
        description: o.description.clone(),
        category: o.category.number(),
        target_groups: o.target_groups.iter().map(|t| t.number()).collect(),
        provider: o.provider.clone(),
        provider_kind: o.provider_kind.map(|k| k.number()).unwrap_or(0),
        municipality: o.municipality.clone(),
        address: o.address.clone(),
        postal_code: o.postal_code.clone(),
        coordinates: o.coordinates.map(|c| v1::Coordinates {
            latitude: c.latitude,
            longitude: c.longitude,
        }),
        languages: o.languages.iter().map(|l| l.to_string()).collect(),
        start_date: o.start_date.map(format_date).unwrap_or_default(),
        end_date: o.end_date.map(format_date).unwrap_or_default(),
        schedule: o.schedule.clone(),
        places_total: o.places_total,
        places_free: o.places_free,
        cost: o.cost.clone(),
        url: o.url.clone(),
        contact_ids: o.contact_ids.iter().map(|c| c.to_string()).collect(),
        status: o.status.number(),
        create_time: Some(timestamp(o.create_time)),
        update_time: Some(timestamp(o.update_time)),
        etag: String::new(),
        language_level: o.language_level.map_or(0, |l| l.number()),
        format: o.format.map_or(0, |f| f.number()),
        childcare: o.childcare,
        barrier_free: o.barrier_free,
    };
    p.etag = etag_of(&p);
    p
}

/// The wire form of a contact, with its resource name and etag.
pub fn contact_to_proto(c: &Contact) -> v1::Contact {
    let mut p = v1::Contact {
        name: resource_name(&c.district_id, RecordKind::Contact, &c.id),
        id: c.id.to_string(),
        district_id: c.district_id.to_string(),
        display_name: c.display_name.clone(),
        organisation: c.organisation.clone(),
        role: c.role.clone(),
        responsibility: c.responsibility.clone(),
        email: c.email.clone(),
        phone: c.phone.clone(),
        languages: c.languages.iter().map(|l| l.to_string()).collect(),
        create_time: Some(timestamp(c.create_time)),
        update_time: Some(timestamp(c.update_time)),
        etag: String::new(),
    };
    p.etag = etag_of(&p);
    p
}

/// Collects parse problems while a message is read.
struct Parser {
    violations: Violations,
    /// Reading what a node sent back (a client such as the CLI): stored values are taken as
    /// they are, even where a request with them would now be refused (a year outside
    /// 1000-9999, the nil UUID: older versions accepted them, and replicas carry them).
    from_server: bool,
}

impl Parser {
    fn vocab<T>(
        &mut self,
        field: &str,
        n: i32,
        from: fn(i32) -> Option<T>,
        expected: fn() -> String,
    ) -> Option<T> {
        if n == 0 {
            return None;
        }
        let t = from(n);
        if t.is_none() {
            self.violations.push(
                field,
                format!("unknown value {n}; expected one of: {}", expected()),
            );
        }
        t
    }

    fn set<T: Ord + FromStr>(&mut self, field: &str, items: &[String]) -> BTreeSet<T>
    where
        T::Err: std::fmt::Display,
    {
        let mut out = BTreeSet::new();
        for (i, item) in items.iter().enumerate() {
            match item.parse::<T>() {
                Ok(t) => {
                    out.insert(t);
                }
                Err(e) => self.violations.push(format!("{field}[{i}]"), e.to_string()),
            }
        }
        out
    }

    fn date(&mut self, field: &str, s: &str) -> Option<time::Date> {
        if s.trim().is_empty() {
            return None;
        }
        let parsed = if self.from_server {
            kreisnetz_model::parse_stored_date(s)
        } else {
            parse_date(s)
        };
        match parsed {
            Ok(d) => Some(d),
            Err(e) => {
                self.violations.push(field, e);
                None
            }
        }
    }
}

/// Reads an offering from the wire for `district`/`id`. Output-only fields in the message are
/// ignored; the timestamps are `now`. Returns every parse problem and every broken rule.
pub fn offering_from_proto(
    p: &v1::Offering,
    district: DistrictId,
    id: RecordId,
    now: Timestamp,
) -> Result<Offering, Violations> {
    let (o, parse_problems) = parse_offering_partially(p, district, id, now);
    all_problems(parse_problems, o.validate()).map(|()| o)
}

/// Parse problems and broken rules together, so a client learns everything wrong in one round
/// (a field with a parse problem is not reported again by the rules).
fn all_problems(mut parsed: Violations, rules: Result<(), Violations>) -> Result<(), Violations> {
    if let Err(rules) = rules {
        for v in rules.0 {
            let root = v.field.split(['[', '.']).next().unwrap_or("");
            let already = parsed
                .0
                .iter()
                .any(|p| p.field.split(['[', '.']).next() == Some(root));
            if !already {
                parsed.0.push(v);
            }
        }
    }
    parsed.into_result()
}

/// Like [`offering_from_proto`] without the rules between fields.
pub fn parse_offering(
    p: &v1::Offering,
    district: DistrictId,
    id: RecordId,
    now: Timestamp,
) -> Result<Offering, Violations> {
    let (o, v) = parse_offering_partially(p, district, id, now);
    v.into_result().map(|()| o)
}

/// Reads what can be read and returns it with the parse problems, for a field-mask update: only
/// the problems of fields in the mask matter there, and the merged result is validated as a whole.
pub fn parse_offering_partially(
    p: &v1::Offering,
    district: DistrictId,
    id: RecordId,
    now: Timestamp,
) -> (Offering, Violations) {
    read_offering(p, district, id, now, false)
}

fn read_offering(
    p: &v1::Offering,
    district: DistrictId,
    id: RecordId,
    now: Timestamp,
    from_server: bool,
) -> (Offering, Violations) {
    let mut ps = Parser {
        violations: Violations::default(),
        from_server,
    };
    let category = ps.vocab(
        "category",
        p.category,
        Category::from_number,
        Category::expected,
    );
    if p.category == 0 {
        ps.violations.push(
            "category",
            format!("is required; one of: {}", Category::expected()),
        );
    }
    let mut target_groups = BTreeSet::new();
    for (i, n) in p.target_groups.iter().enumerate() {
        if let Some(t) = ps.vocab(
            &format!("target_groups[{i}]"),
            *n,
            TargetGroup::from_number,
            TargetGroup::expected,
        ) {
            target_groups.insert(t);
        } else if *n == 0 {
            ps.violations.push(
                format!("target_groups[{i}]"),
                "unspecified is not a target group",
            );
        }
    }
    let provider_kind = ps.vocab(
        "provider_kind",
        p.provider_kind,
        ProviderKind::from_number,
        ProviderKind::expected,
    );
    let status = ps
        .vocab(
            "status",
            p.status,
            OfferingStatus::from_number,
            OfferingStatus::expected,
        )
        .unwrap_or(OfferingStatus::Active);
    let language_level = ps.vocab(
        "language_level",
        p.language_level,
        LanguageLevel::from_number,
        LanguageLevel::expected,
    );
    let format = ps.vocab(
        "format",
        p.format,
        OfferingFormat::from_number,
        OfferingFormat::expected,
    );
    let languages = ps.set::<LanguageCode>("languages", &p.languages);
    let contact_ids: BTreeSet<RecordIdParse> = if from_server {
        ps.set::<StoredRecordId>("contact_ids", &p.contact_ids)
            .into_iter()
            .map(|s| RecordIdParse(s.0))
            .collect()
    } else {
        ps.set::<RecordIdParse>("contact_ids", &p.contact_ids)
    };
    let start_date = ps.date("start_date", &p.start_date);
    let end_date = ps.date("end_date", &p.end_date);
    let o = Offering {
        id,
        district_id: district,
        title: p.title.trim().to_string(),
        description: p.description.trim().to_string(),
        category: category.unwrap_or(Category::Other),
        target_groups,
        provider: p.provider.trim().to_string(),
        provider_kind,
        municipality: p.municipality.trim().to_string(),
        address: p.address.trim().to_string(),
        postal_code: p.postal_code.trim().to_string(),
        coordinates: p.coordinates.map(|c| Coordinates {
            latitude: c.latitude,
            longitude: c.longitude,
        }),
        languages,
        start_date,
        end_date,
        schedule: p.schedule.trim().to_string(),
        places_total: p.places_total,
        places_free: p.places_free,
        cost: p.cost.trim().to_string(),
        url: p.url.trim().to_string(),
        contact_ids: contact_ids.into_iter().map(|c| c.0).collect(),
        status,
        language_level,
        format,
        childcare: p.childcare,
        barrier_free: p.barrier_free,
        create_time: now,
        update_time: now,
    };
    (o, ps.violations)
}

/// A record ID as a node sent it back (the nil UUID included).
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct StoredRecordId(RecordId);

impl FromStr for StoredRecordId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        s.trim()
            .parse()
            .map(StoredRecordId)
            .map_err(|_| format!("{} is not a UUID", kreisnetz_model::quote(s)))
    }
}

/// A UUID whose parse error reads well in a field violation.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct RecordIdParse(RecordId);

impl FromStr for RecordIdParse {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        RecordId::parse_given(s).map(RecordIdParse)
    }
}

/// Reads a contact from the wire for `district`/`id`, checking every rule.
pub fn contact_from_proto(
    p: &v1::Contact,
    district: DistrictId,
    id: RecordId,
    now: Timestamp,
) -> Result<Contact, Violations> {
    let (c, parse_problems) = parse_contact_partially(p, district, id, now);
    all_problems(parse_problems, c.validate()).map(|()| c)
}

/// Like [`contact_from_proto`] without the rules between fields.
pub fn parse_contact(
    p: &v1::Contact,
    district: DistrictId,
    id: RecordId,
    now: Timestamp,
) -> Result<Contact, Violations> {
    let (c, v) = parse_contact_partially(p, district, id, now);
    v.into_result().map(|()| c)
}

/// See [`parse_offering_partially`].
pub fn parse_contact_partially(
    p: &v1::Contact,
    district: DistrictId,
    id: RecordId,
    now: Timestamp,
) -> (Contact, Violations) {
    let mut ps = Parser {
        violations: Violations::default(),
        from_server: false,
    };
    let languages = ps.set::<LanguageCode>("languages", &p.languages);
    let c = Contact {
        id,
        district_id: district,
        display_name: p.display_name.trim().to_string(),
        organisation: p.organisation.trim().to_string(),
        role: p.role.trim().to_string(),
        responsibility: p.responsibility.trim().to_string(),
        email: p.email.trim().to_string(),
        phone: p.phone.trim().to_string(),
        languages,
        create_time: now,
        update_time: now,
    };
    (c, ps.violations)
}

/// Reads a record the node sent back (for clients such as the CLI): IDs and timestamps are taken
/// from the message.
pub fn offering_from_server(p: &v1::Offering) -> Result<Offering, Violations> {
    let (district, id) = ids_from_server(&p.district_id, &p.id)?;
    let (mut o, problems) = read_offering(
        p,
        district,
        id,
        from_timestamp(p.create_time.as_ref()),
        true,
    );
    problems.into_result()?;
    o.update_time = from_timestamp(p.update_time.as_ref());
    Ok(o)
}

/// Reads a contact the node sent back.
pub fn contact_from_server(p: &v1::Contact) -> Result<Contact, Violations> {
    let (district, id) = ids_from_server(&p.district_id, &p.id)?;
    let mut c = parse_contact(p, district, id, from_timestamp(p.create_time.as_ref()))?;
    c.update_time = from_timestamp(p.update_time.as_ref());
    Ok(c)
}

fn ids_from_server(district: &str, id: &str) -> Result<(DistrictId, RecordId), Violations> {
    let mut v = Violations::default();
    let d = district
        .parse::<DistrictId>()
        .map_err(|e| v.push("district_id", e.to_string()))
        .ok();
    let i = id
        .parse::<RecordId>()
        .map_err(|_| v.push("id", "not a UUID"))
        .ok();
    match (d, i) {
        (Some(d), Some(i)) => Ok((d, i)),
        _ => Err(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_node_sends_back_is_read_even_where_a_request_would_be_refused() {
        let mut stored = offering_to_proto(
            &offering_from_proto(&wire(), district(), RecordId::new_random(), Timestamp(0))
                .unwrap(),
        );
        // Accepted by older versions, so a replica may carry them.
        stored.start_date = "0999-01-01".into();
        stored.contact_ids = vec!["00000000-0000-0000-0000-000000000000".into()];
        let read = offering_from_server(&stored).unwrap();
        assert_eq!(read.start_date.unwrap().year(), 999);
        assert_eq!(read.contact_ids.len(), 1);
        // A request with the same values is refused.
        let v =
            parse_offering(&stored, district(), RecordId::new_random(), Timestamp(0)).unwrap_err();
        assert!(v.has("start_date") && v.has("contact_ids[0]"), "{v}");
    }

    fn district() -> DistrictId {
        DistrictId::from_public_key(b"Stadt Delmenhorst")
    }

    fn wire() -> v1::Offering {
        v1::Offering {
            title: "Integrationskurs mit Kinderbetreuung".into(),
            category: v1::Category::IntegrationCourse as i32,
            target_groups: vec![
                v1::TargetGroup::Refugees as i32,
                v1::TargetGroup::Families as i32,
            ],
            provider: "VHS Delmenhorst".into(),
            municipality: "Delmenhorst".into(),
            languages: vec!["de".into(), "ar".into()],
            start_date: "2027-03-01".into(),
            end_date: "2027-09-30".into(),
            places_total: Some(20),
            places_free: Some(3),
            language_level: v1::LanguageLevel::A2 as i32,
            format: v1::OfferingFormat::Hybrid as i32,
            childcare: Some(true),
            barrier_free: Some(false),
            ..Default::default()
        }
    }

    #[test]
    fn the_need_fields_convert_both_ways() {
        let o =
            offering_from_proto(&wire(), district(), RecordId::new_random(), Timestamp(0)).unwrap();
        assert_eq!(o.language_level, Some(LanguageLevel::A2));
        assert_eq!(o.format, Some(OfferingFormat::Hybrid));
        assert_eq!((o.childcare, o.barrier_free), (Some(true), Some(false)));
        let p = offering_to_proto(&o);
        assert_eq!(p.language_level, v1::LanguageLevel::A2 as i32);
        assert_eq!(p.format, v1::OfferingFormat::Hybrid as i32);
        assert_eq!((p.childcare, p.barrier_free), (Some(true), Some(false)));

        // Unset on the wire is unset in the model; an unknown number is a field violation.
        let mut bare = wire();
        bare.language_level = 0;
        bare.format = 0;
        bare.childcare = None;
        bare.barrier_free = None;
        let o =
            offering_from_proto(&bare, district(), RecordId::new_random(), Timestamp(0)).unwrap();
        assert_eq!(
            (o.language_level, o.format, o.childcare),
            (None, None, None)
        );
        bare.language_level = 9;
        bare.format = 7;
        let v = offering_from_proto(&bare, district(), RecordId::new_random(), Timestamp(0))
            .unwrap_err();
        assert!(v.has("language_level") && v.has("format"), "{v}");
    }

    #[test]
    fn a_level_on_a_counselling_offering_is_refused() {
        let mut p = wire();
        p.category = v1::Category::JobCounselling as i32;
        let v =
            offering_from_proto(&p, district(), RecordId::new_random(), Timestamp(0)).unwrap_err();
        assert!(v.has("language_level"), "{v}");
    }

    #[test]
    fn wire_round_trip_keeps_every_field() {
        let o = offering_from_proto(
            &wire(),
            district(),
            RecordId::new_random(),
            Timestamp(5_000),
        )
        .unwrap();
        let p = offering_to_proto(&o);
        assert!(p.name.starts_with("districts/D-"));
        assert_eq!(offering_from_server(&p).unwrap(), o);
        assert_eq!(p.etag.len(), 16);
    }

    #[test]
    fn etag_changes_with_content() {
        let mut o =
            offering_from_proto(&wire(), district(), RecordId::new_random(), Timestamp(0)).unwrap();
        let before = offering_to_proto(&o).etag;
        o.places_free = Some(2);
        assert_ne!(offering_to_proto(&o).etag, before);
    }

    #[test]
    fn every_parse_problem_is_reported_with_its_field() {
        let mut p = wire();
        p.category = 99;
        p.target_groups = vec![1, 42];
        p.languages = vec!["de".into(), "klingon".into()];
        p.start_date = "1.3.2027".into();
        p.contact_ids = vec!["nope".into()];
        let v =
            offering_from_proto(&p, district(), RecordId::new_random(), Timestamp(0)).unwrap_err();
        for field in [
            "category",
            "target_groups[1]",
            "languages[1]",
            "start_date",
            "contact_ids[0]",
        ] {
            assert!(v.has(field), "{field} missing in {v}");
        }
    }

    #[test]
    fn rules_between_fields_are_checked_after_parsing() {
        let mut p = wire();
        p.places_free = Some(21);
        p.title.clear();
        p.category = 0;
        let v =
            offering_from_proto(&p, district(), RecordId::new_random(), Timestamp(0)).unwrap_err();
        // parse problems and broken rules come back together, in one round
        assert!(
            v.has("category") && v.has("places_free") && v.has("title"),
            "{v}"
        );
        assert_eq!(v.0.iter().filter(|f| f.field == "category").count(), 1);
    }

    #[test]
    fn timestamps_convert_both_ways() {
        for ms in [0, 1, 999, 1_700_000_000_123, -1] {
            assert_eq!(
                from_timestamp(Some(&timestamp(Timestamp(ms)))),
                Timestamp(ms)
            );
        }
    }
}
