//! Offerings and contacts, the fields they have, and their rules.
use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use time::Date;
use time::format_description::well_known::Rfc3339;

use crate::validation::{Lines, Violations, is_invisible};
use crate::{
    Category, DistrictId, LanguageCode, LanguageLevel, OfferingFormat, OfferingStatus,
    ProviderKind, RecordId, TargetGroup,
};

/// Milliseconds since the Unix epoch, UTC.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Now, by the system clock.
    pub fn now() -> Self {
        let now = time::OffsetDateTime::now_utc();
        Timestamp((now.unix_timestamp_nanos() / 1_000_000) as i64)
    }

    /// RFC 3339, e.g. `2027-02-01T08:30:00.000Z`.
    pub fn to_rfc3339(self) -> String {
        time::OffsetDateTime::from_unix_timestamp_nanos(self.0 as i128 * 1_000_000)
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok())
            .unwrap_or_else(|| self.0.to_string())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let t = time::OffsetDateTime::parse(&s, &Rfc3339).map_err(serde::de::Error::custom)?;
        Ok(Timestamp((t.unix_timestamp_nanos() / 1_000_000) as i64))
    }
}

const DATE_FORMAT: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

/// The years a date may have: four digits, no sign. Offerings are planned in this millennium;
/// the bound keeps out signed years (`-0001`, `+2027`), year 0 and typos with five digits.
pub const YEARS: std::ops::RangeInclusive<i32> = 1000..=9999;

/// Parses an ISO 8601 calendar date in the form `YYYY-MM-DD`, with a year in [`YEARS`].
pub fn parse_date(s: &str) -> Result<Date, String> {
    let t = s.trim();
    let digits_at = |range: std::ops::Range<usize>| {
        t.get(range)
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
    };
    let shaped = t.len() == 10 && digits_at(0..4) && digits_at(5..7) && digits_at(8..10);
    match Date::parse(t, DATE_FORMAT) {
        Ok(d) if shaped && YEARS.contains(&d.year()) => Ok(d),
        Ok(_) if shaped => Err(format!(
            "{} has a year before {}: a date is YYYY-MM-DD with a year from {} to {}",
            crate::quote(s),
            YEARS.start(),
            YEARS.start(),
            YEARS.end()
        )),
        _ => Err(format!(
            "{} is not a date in the form YYYY-MM-DD (a year from {} to {})",
            crate::quote(s),
            YEARS.start(),
            YEARS.end()
        )),
    }
}

/// Reads a date a node sent back or stored: `YYYY-MM-DD` in any year, because older versions
/// accepted years outside [`YEARS`] (a client must still be able to show such a record). Input
/// from clients goes through [`parse_date`].
pub fn parse_stored_date(s: &str) -> Result<Date, String> {
    Date::parse(s.trim(), DATE_FORMAT)
        .map_err(|_| format!("{} is not a date in the form YYYY-MM-DD", crate::quote(s)))
}

/// Formats a date as `YYYY-MM-DD`.
pub fn format_date(d: Date) -> String {
    d.format(DATE_FORMAT).unwrap_or_default()
}

mod date_serde {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::Date;

    pub fn serialize<S: Serializer>(d: &Option<Date>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&super::format_date(*d)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Date>, D::Error> {
        let s = Option::<String>::deserialize(d)?;
        s.map(|s| super::parse_date(&s).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// A point on the map (WGS 84).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Coordinates {
    pub latitude: f64,
    pub longitude: f64,
}

/// An integration offering. Field names are the API's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Offering {
    pub id: RecordId,
    pub district_id: DistrictId,
    pub title: String,
    pub description: String,
    pub category: Category,
    pub target_groups: BTreeSet<TargetGroup>,
    pub provider: String,
    pub provider_kind: Option<ProviderKind>,
    pub municipality: String,
    pub address: String,
    pub postal_code: String,
    pub coordinates: Option<Coordinates>,
    pub languages: BTreeSet<LanguageCode>,
    #[serde(with = "date_serde")]
    pub start_date: Option<Date>,
    #[serde(with = "date_serde")]
    pub end_date: Option<Date>,
    pub schedule: String,
    pub places_total: Option<u32>,
    pub places_free: Option<u32>,
    pub cost: String,
    pub url: String,
    pub contact_ids: BTreeSet<RecordId>,
    pub status: OfferingStatus,
    /// CEFR level (A1-C2); only for language and integration courses. The four fields below
    /// tell apart offerings that look alike but serve different needs (see the overlaps report);
    /// all are optional, and `#[serde(default)]` reads JSON written before they existed.
    #[serde(default)]
    pub language_level: Option<LanguageLevel>,
    /// In person, online or hybrid.
    #[serde(default)]
    pub format: Option<OfferingFormat>,
    /// Whether childcare is offered alongside (unknown when `None`).
    #[serde(default)]
    pub childcare: Option<bool>,
    /// Whether the place is barrier-free (unknown when `None`).
    #[serde(default)]
    pub barrier_free: Option<bool>,
    pub create_time: Timestamp,
    pub update_time: Timestamp,
}

macro_rules! fields {
    ($(#[$doc:meta])* $name:ident for $record:ident { $($variant:ident => $field:ident,)+ }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant,)+ }

        impl $name {
            /// Every field a client may set.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The API (and document) name of the field.
            pub fn name(self) -> &'static str {
                match self { $($name::$variant => stringify!($field),)+ }
            }

            /// The field with this API name.
            pub fn from_name(name: &str) -> Option<Self> {
                match name { $(stringify!($field) => Some($name::$variant),)+ _ => None }
            }

            /// Copies this field's value from `from` into `to`.
            pub fn copy(self, from: &$record, to: &mut $record) {
                match self { $($name::$variant => to.$field = from.$field.clone(),)+ }
            }
        }
    };
}

fields!(
    /// The fields of an offering that a client sets (everything but IDs and timestamps).
    OfferingField for Offering {
        Title => title,
        Description => description,
        Category => category,
        TargetGroups => target_groups,
        Provider => provider,
        ProviderKind => provider_kind,
        Municipality => municipality,
        Address => address,
        PostalCode => postal_code,
        Coordinates => coordinates,
        Languages => languages,
        StartDate => start_date,
        EndDate => end_date,
        Schedule => schedule,
        PlacesTotal => places_total,
        PlacesFree => places_free,
        Cost => cost,
        Url => url,
        ContactIds => contact_ids,
        Status => status,
        LanguageLevel => language_level,
        Format => format,
        Childcare => childcare,
        BarrierFree => barrier_free,
    }
);

/// A person to call at an organisation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    pub id: RecordId,
    pub district_id: DistrictId,
    pub display_name: String,
    pub organisation: String,
    pub role: String,
    pub responsibility: String,
    pub email: String,
    pub phone: String,
    pub languages: BTreeSet<LanguageCode>,
    pub create_time: Timestamp,
    pub update_time: Timestamp,
}

fields!(
    /// The fields of a contact that a client sets.
    ContactField for Contact {
        DisplayName => display_name,
        Organisation => organisation,
        Role => role,
        Responsibility => responsibility,
        Email => email,
        Phone => phone,
        Languages => languages,
    }
);

/// Most contacts an offering may reference.
pub const MAX_CONTACTS_PER_OFFERING: usize = 20;

impl Offering {
    /// Checks every rule; returns all that are broken.
    pub fn validate(&self) -> Result<(), Violations> {
        let mut v = Violations::default();
        v.text("title", &self.title, true, 200, Lines::One);
        v.text("description", &self.description, false, 5000, Lines::Many);
        v.text("provider", &self.provider, true, 200, Lines::One);
        v.text("municipality", &self.municipality, true, 100, Lines::One);
        v.text("address", &self.address, false, 300, Lines::One);
        v.text("schedule", &self.schedule, false, 500, Lines::Many);
        v.text("cost", &self.cost, false, 200, Lines::One);
        if self.target_groups.is_empty() {
            v.push("target_groups", "at least one target group is required");
        }
        let five_digits =
            self.postal_code.len() == 5 && self.postal_code.bytes().all(|b| b.is_ascii_digit());
        if !self.postal_code.is_empty() && !five_digits {
            v.push("postal_code", "a postal code is five digits");
        }
        if let Some(c) = self.coordinates {
            if !(c.latitude.is_finite() && (-90.0..=90.0).contains(&c.latitude)) {
                v.push(
                    "coordinates.latitude",
                    "latitude must be between -90 and 90",
                );
            }
            if !(c.longitude.is_finite() && (-180.0..=180.0).contains(&c.longitude)) {
                v.push(
                    "coordinates.longitude",
                    "longitude must be between -180 and 180",
                );
            }
        }
        if let (Some(start), Some(end)) = (self.start_date, self.end_date)
            && end < start
        {
            v.push(
                "end_date",
                format!(
                    "ends {} before it starts {}",
                    format_date(end),
                    format_date(start)
                ),
            );
        }
        if let Some(free) = self.places_free {
            match self.places_total {
                Some(total) if free > total => v.push(
                    "places_free",
                    format!("{free} free places is more than the {total} places in total"),
                ),
                None => v.push("places_total", "is required when places_free is set"),
                _ => {}
            }
        }
        if !self.url.is_empty() {
            check_url(&mut v, "url", &self.url);
        }
        if let Some(level) = self.language_level
            && !self.category.has_language_level()
        {
            v.push(
                "language_level",
                format!(
                    "only language and integration courses have a language level; \
                     clear {level} or change the category {}",
                    self.category
                ),
            );
        }
        if self.contact_ids.len() > MAX_CONTACTS_PER_OFFERING {
            v.push(
                "contact_ids",
                format!("at most {MAX_CONTACTS_PER_OFFERING} contacts per offering"),
            );
        }
        v.into_result()
    }

    /// A lower-case haystack for free-text search.
    pub fn matches_query(&self, needle_lower: &str) -> bool {
        [
            &self.title,
            &self.description,
            &self.provider,
            &self.municipality,
        ]
        .iter()
        .any(|s| s.to_lowercase().contains(needle_lower))
    }
}

impl Contact {
    /// Checks every rule; returns all that are broken.
    pub fn validate(&self) -> Result<(), Violations> {
        let mut v = Violations::default();
        v.text("display_name", &self.display_name, true, 200, Lines::One);
        v.text("organisation", &self.organisation, true, 200, Lines::One);
        v.text("role", &self.role, false, 200, Lines::One);
        v.text(
            "responsibility",
            &self.responsibility,
            false,
            500,
            Lines::Many,
        );
        if self.email.trim().is_empty() && self.phone.trim().is_empty() {
            v.push(
                "email",
                "a contact needs an email address or a phone number",
            );
        }
        if !self.email.is_empty() && !is_email(&self.email) {
            v.push(
                "email",
                format!("{} is not an email address", crate::quote(&self.email)),
            );
        }
        if !self.phone.is_empty() && !is_phone(&self.phone) {
            v.push(
                "phone",
                "a phone number has 5 to 20 digits and may contain + ( ) / - and spaces",
            );
        }
        v.into_result()
    }

    pub fn matches_query(&self, needle_lower: &str) -> bool {
        [
            &self.display_name,
            &self.organisation,
            &self.role,
            &self.responsibility,
        ]
        .iter()
        .any(|s| s.to_lowercase().contains(needle_lower))
    }
}

fn is_email(s: &str) -> bool {
    if s.len() > 254 || s.chars().any(|c| c.is_control() || is_invisible(c)) {
        return false;
    }
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
}

fn is_phone(s: &str) -> bool {
    let digits = s.chars().filter(|c| c.is_ascii_digit()).count();
    (5..=20).contains(&digits)
        && s.chars()
            .all(|c| c.is_ascii_digit() || "+()/- ".contains(c))
        && s.chars().filter(|c| *c == '+').count() <= 1
}

fn check_url(v: &mut Violations, field: &str, url: &str) {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let ok = match rest {
        Some(rest) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            !host.is_empty()
                && url.len() <= 2000
                && !url.chars().any(|c| c.is_control() || is_invisible(c))
        }
        None => false,
    };
    if !ok {
        v.push(
            field,
            format!("{} is not an http(s) URL", crate::quote(url)),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn district() -> DistrictId {
        DistrictId::from_public_key(b"Landkreis Vechta")
    }

    fn offering() -> Offering {
        Offering {
            id: RecordId::new_random(),
            district_id: district(),
            title: "Berufssprachkurs B2 Pflege".into(),
            description: "Deutsch für die Pflege".into(),
            category: Category::LanguageCourse,
            target_groups: [TargetGroup::Refugees, TargetGroup::Women].into(),
            provider: "BBS Vechta".into(),
            provider_kind: Some(ProviderKind::School),
            municipality: "Vechta".into(),
            address: "Schulstraße 1".into(),
            postal_code: "49377".into(),
            coordinates: Some(Coordinates {
                latitude: 52.73,
                longitude: 8.28,
            }),
            languages: ["de".parse().unwrap()].into(),
            start_date: Some(parse_date("2027-02-01").unwrap()),
            end_date: Some(parse_date("2027-07-31").unwrap()),
            schedule: "Mo-Fr 8:30-12:30".into(),
            places_total: Some(16),
            places_free: Some(5),
            cost: "kostenlos".into(),
            url: "https://bbs.example.org/kurse".into(),
            contact_ids: BTreeSet::new(),
            status: OfferingStatus::Planned,
            language_level: Some(LanguageLevel::B2),
            format: Some(OfferingFormat::InPerson),
            childcare: Some(false),
            barrier_free: Some(true),
            create_time: Timestamp(0),
            update_time: Timestamp(0),
        }
    }

    fn contact() -> Contact {
        Contact {
            id: RecordId::new_random(),
            district_id: district(),
            display_name: "Mara Beispiel".into(),
            organisation: "Jobcenter Vechta".into(),
            role: "Integrationscoach".into(),
            responsibility: String::new(),
            email: "mara.beispiel@example.org".into(),
            phone: String::new(),
            languages: BTreeSet::new(),
            create_time: Timestamp(0),
            update_time: Timestamp(0),
        }
    }

    fn violations_of(o: &Offering) -> Violations {
        o.validate().unwrap_err()
    }

    #[test]
    fn a_complete_offering_is_valid() {
        offering().validate().unwrap();
        contact().validate().unwrap();
    }

    #[test]
    fn title_provider_municipality_are_required() {
        let mut o = offering();
        o.title = "  ".into();
        o.provider.clear();
        o.municipality.clear();
        let v = violations_of(&o);
        assert!(
            v.has("title") && v.has("provider") && v.has("municipality"),
            "{v}"
        );
        assert_eq!(v.0.len(), 3);
    }

    #[test]
    fn texts_have_length_limits() {
        let mut o = offering();
        o.title = "x".repeat(201);
        o.description = "x".repeat(5001);
        let v = violations_of(&o);
        assert!(v.has("title") && v.has("description"), "{v}");
        o.title = "ä".repeat(200); // characters, not bytes
        o.description.clear();
        o.validate().unwrap();
    }

    #[test]
    fn control_characters_are_refused() {
        let mut o = offering();
        o.title = "Kurs\u{0}".into();
        assert!(violations_of(&o).has("title"));
    }

    #[test]
    fn every_free_text_field_refuses_spoofing_characters() {
        for spoof in [
            "Kurs\u{202E}gnuhcstuD",
            "\u{200B}\u{200B}",
            "Kurs\u{1b}[31m",
        ] {
            let mut o = offering();
            o.title = spoof.into();
            o.description = spoof.into();
            o.provider = spoof.into();
            o.municipality = spoof.into();
            o.address = spoof.into();
            o.schedule = spoof.into();
            o.cost = spoof.into();
            o.url = format!("https://example.org/{spoof}");
            let v = violations_of(&o);
            for field in [
                "title",
                "description",
                "provider",
                "municipality",
                "address",
                "schedule",
                "cost",
                "url",
            ] {
                assert!(v.has(field), "{field} with {spoof:?}: {v}");
            }
            let mut c = contact();
            c.display_name = spoof.into();
            c.organisation = spoof.into();
            c.role = spoof.into();
            c.responsibility = spoof.into();
            c.email = format!("mara{spoof}@example.org");
            let v = c.validate().unwrap_err();
            for field in [
                "display_name",
                "organisation",
                "role",
                "responsibility",
                "email",
            ] {
                assert!(v.has(field), "{field} with {spoof:?}: {v}");
            }
        }
        // Line breaks: in descriptions, not in titles.
        let mut o = offering();
        o.description = "Deutsch für die Pflege.\nMit Praktikum.".into();
        o.validate().unwrap();
        o.title = "Kurs\nB2".into();
        assert!(violations_of(&o).has("title"));
    }

    #[test]
    fn end_before_start_is_refused() {
        let mut o = offering();
        o.end_date = Some(parse_date("2027-01-31").unwrap());
        let v = violations_of(&o);
        assert!(v.has("end_date"), "{v}");
        o.end_date = o.start_date;
        o.validate().unwrap();
    }

    #[test]
    fn free_places_never_exceed_total() {
        let mut o = offering();
        o.places_free = Some(17);
        assert!(violations_of(&o).has("places_free"));
        o.places_total = None;
        assert!(violations_of(&o).has("places_total"));
        o.places_free = None;
        o.validate().unwrap();
    }

    #[test]
    fn target_groups_are_required() {
        let mut o = offering();
        o.target_groups.clear();
        assert!(violations_of(&o).has("target_groups"));
    }

    #[test]
    fn postal_codes_are_five_digits() {
        let mut o = offering();
        for bad in ["4937", "493777", "4937a"] {
            o.postal_code = bad.into();
            assert!(violations_of(&o).has("postal_code"), "{bad}");
        }
        o.postal_code.clear();
        o.validate().unwrap();
    }

    #[test]
    fn coordinates_are_on_earth() {
        let mut o = offering();
        o.coordinates = Some(Coordinates {
            latitude: 91.0,
            longitude: f64::NAN,
        });
        let v = violations_of(&o);
        assert!(
            v.has("coordinates.latitude") && v.has("coordinates.longitude"),
            "{v}"
        );
    }

    #[test]
    fn urls_are_http() {
        let mut o = offering();
        for bad in [
            "ftp://x.example.org",
            "bbs.example.org",
            "https://",
            "https://a b",
        ] {
            o.url = bad.into();
            assert!(violations_of(&o).has("url"), "{bad}");
        }
    }

    #[test]
    fn only_language_and_integration_courses_have_a_language_level() {
        let mut o = offering();
        o.validate().unwrap();
        o.category = Category::IntegrationCourse;
        o.validate().unwrap();
        o.category = Category::JobCounselling;
        let v = violations_of(&o);
        assert!(v.has("language_level"), "{v}");
        assert_eq!(v.0.len(), 1);
        o.language_level = None;
        o.validate().unwrap();
    }

    #[test]
    fn the_need_fields_are_optional_and_read_from_old_json() {
        let mut o = offering();
        o.language_level = None;
        o.format = None;
        o.childcare = None;
        o.barrier_free = None;
        o.validate().unwrap();
        let mut json = serde_json::to_value(&o).unwrap();
        for k in ["language_level", "format", "childcare", "barrier_free"] {
            assert!(json.as_object_mut().unwrap().remove(k).is_some(), "{k}");
        }
        let back: Offering = serde_json::from_value(json).unwrap();
        assert_eq!(back, o);
    }

    #[test]
    fn too_many_contacts_are_refused() {
        let mut o = offering();
        o.contact_ids = (0..21).map(|_| RecordId::new_random()).collect();
        assert!(violations_of(&o).has("contact_ids"));
    }

    #[test]
    fn contacts_need_a_way_to_reach_them() {
        let mut c = contact();
        c.email.clear();
        assert!(c.validate().unwrap_err().has("email"));
        c.phone = "+49 4441 123-456".into();
        c.validate().unwrap();
    }

    #[test]
    fn contact_email_and_phone_are_checked() {
        let mut c = contact();
        for bad in [
            "mara",
            "mara@",
            "@example.org",
            "mara@example",
            "ma ra@example.org",
            "a@b@example.org",
        ] {
            c.email = bad.into();
            assert!(c.validate().unwrap_err().has("email"), "{bad}");
        }
        c.email = "mara@example.org".into();
        for bad in ["12", "call me", "++49 123456", "0441/abc"] {
            c.phone = bad.into();
            assert!(c.validate().unwrap_err().has("phone"), "{bad}");
        }
    }

    #[test]
    fn contact_name_and_organisation_are_required() {
        let mut c = contact();
        c.display_name.clear();
        c.organisation.clear();
        let v = c.validate().unwrap_err();
        assert!(v.has("display_name") && v.has("organisation"));
    }

    #[test]
    fn field_names_round_trip() {
        for f in OfferingField::ALL {
            assert_eq!(OfferingField::from_name(f.name()), Some(*f));
        }
        for f in ContactField::ALL {
            assert_eq!(ContactField::from_name(f.name()), Some(*f));
        }
        assert_eq!(OfferingField::from_name("id"), None);
    }

    #[test]
    fn copying_a_field_changes_only_that_field() {
        let a = offering();
        let mut b = offering();
        b.title = "Anders".into();
        b.places_free = Some(1);
        let mut c = a.clone();
        OfferingField::Title.copy(&b, &mut c);
        assert_eq!(c.title, "Anders");
        assert_eq!(c.places_free, a.places_free);
    }

    #[test]
    fn json_uses_api_names_and_readable_values() {
        let o = offering();
        let json = serde_json::to_value(&o).unwrap();
        assert_eq!(json["category"], "language_course");
        assert_eq!(json["start_date"], "2027-02-01");
        assert_eq!(json["target_groups"][0], "refugees");
        assert_eq!(json["language_level"], "b2");
        assert_eq!(json["format"], "in_person");
        assert_eq!(json["childcare"], false);
        assert_eq!(json["barrier_free"], true);
        let back: Offering = serde_json::from_value(json).unwrap();
        assert_eq!(back, o);
    }

    #[test]
    fn dates_parse_strictly() {
        assert!(parse_date("2027-02-30").is_err());
        assert!(parse_date("01.02.2027").is_err());
        for bad in [
            "-0001-01-01",
            "0000-01-01",
            "0999-12-31",
            "+2027-01-01",
            "+002027-01-01",
            "12027-01-01",
            "2027-1-01",
        ] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
        assert!(parse_date("1000-01-01").is_ok() && parse_date("9999-12-31").is_ok());
        assert!(parse_date(&"9".repeat(100_000)).unwrap_err().len() < 200);
        assert_eq!(format_date(parse_date("2027-02-01").unwrap()), "2027-02-01");
    }
}
