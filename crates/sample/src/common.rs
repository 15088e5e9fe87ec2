//! What the hand-made sample and the generated offerings share: seeded randomness, IDs, dates,
//! places.
use kreisnetz_model::{Coordinates, DistrictId, OfferingStatus, RecordId, Timestamp};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use time::{Date, Duration, Month, OffsetDateTime, Weekday};

use crate::RegionDistrict;
use crate::region::centre_of;

/// A random generator for one purpose (`stream`), determined by the seed, the district and its
/// ID, so that two districts built from the same seed do not share record IDs.
pub(crate) fn rng_for(
    district: &RegionDistrict,
    district_id: &DistrictId,
    seed: u64,
    stream: &str,
) -> StdRng {
    // FNV-1a: stable across platforms and Rust versions, unlike `DefaultHasher`.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        // A separator, so that ("ab", "c") and ("a", "bc") differ.
        h ^= 0xff;
        h = h.wrapping_mul(0x0100_0000_01b3);
    };
    eat(&seed.to_le_bytes());
    eat(district.key.as_bytes());
    eat(district_id.as_bytes());
    eat(stream.as_bytes());
    StdRng::seed_from_u64(h)
}

/// A version-4 UUID made of the generator's bytes.
pub(crate) fn record_id(rng: &mut impl Rng) -> RecordId {
    let mut bytes = [0u8; 16];
    rng.fill(&mut bytes);
    RecordId(uuid::Builder::from_random_bytes(bytes).into_uuid())
}

/// The UTC calendar date of a timestamp.
pub(crate) fn date_of(now: Timestamp) -> Date {
    OffsetDateTime::from_unix_timestamp(now.0.div_euclid(1000))
        .map(|t| t.date())
        .unwrap_or(OffsetDateTime::UNIX_EPOCH.date())
}

pub(crate) fn date(year: i32, month: u8, day: u8) -> Date {
    let month = Month::try_from(month).expect("a month of the year");
    Date::from_calendar_date(year, month, day).expect("a date of the calendar")
}

/// A Monday between `from` and `to` (both inclusive, roughly).
pub(crate) fn random_monday(rng: &mut impl Rng, from: Date, to: Date) -> Date {
    let days = (to - from).whole_days().max(0);
    let mut d = from + Duration::days(rng.gen_range(0..=days));
    while d.weekday() != Weekday::Monday {
        d = d.next_day().expect("a date after 2026");
    }
    d
}

/// A course of `weeks` weeks: starts on a Monday in 2026 or 2027, ends on a Friday.
pub(crate) fn course_dates(rng: &mut impl Rng, weeks: i64) -> (Date, Date) {
    let start = random_monday(rng, date(2026, 1, 5), date(2027, 9, 20));
    (start, start + Duration::days(weeks * 7 - 3))
}

/// Where an offering stands on `today`, judged by its dates.
pub(crate) fn status_on(today: Date, start: Option<Date>, end: Option<Date>) -> OfferingStatus {
    match (start, end) {
        (Some(s), _) if today < s => OfferingStatus::Planned,
        (_, Some(e)) if today > e => OfferingStatus::Ended,
        _ => OfferingStatus::Active,
    }
}

/// A point a few hundred metres around the centre of a municipality, if it is in the region.
pub(crate) fn coordinates_near(rng: &mut impl Rng, municipality: &str) -> Option<Coordinates> {
    let (lat, lon) = centre_of(municipality)?;
    let round = |x: f64| (x * 100_000.0).round() / 100_000.0;
    Some(Coordinates {
        latitude: round(lat + rng.gen_range(-0.008..0.008)),
        longitude: round(lon + rng.gen_range(-0.012..0.012)),
    })
}

/// Street names that every town of the region has.
const STREETS: &[&str] = &[
    "Bahnhofstraße",
    "Hauptstraße",
    "Kirchstraße",
    "Schulstraße",
    "Lange Straße",
    "Mühlenstraße",
    "Gartenstraße",
    "Lindenstraße",
    "Poststraße",
    "Marktstraße",
    "Am Markt",
    "Oldenburger Straße",
    "Bremer Straße",
    "Wilhelmstraße",
    "Parkstraße",
    "Am Rathaus",
];

/// An address in a municipality of the district: municipality, street and number, postal code.
#[derive(Clone, Debug)]
pub(crate) struct Place {
    pub municipality: &'static str,
    pub address: String,
    pub postal_code: &'static str,
}

impl Place {
    /// A made-up street address in `municipality`.
    pub(crate) fn street_in(
        rng: &mut impl Rng,
        district: &RegionDistrict,
        municipality: &'static str,
    ) -> Place {
        let street = STREETS[rng.gen_range(0..STREETS.len())];
        let number = rng.gen_range(1..=90);
        Place {
            municipality,
            address: format!("{street} {number}"),
            postal_code: postal_code_in(rng, district, municipality),
        }
    }

    /// Somewhere in the district: the seat a little more often than the other municipalities.
    pub(crate) fn anywhere(rng: &mut impl Rng, district: &RegionDistrict) -> Place {
        let m = any_municipality(rng, district);
        Place::street_in(rng, district, m)
    }
}

pub(crate) fn any_municipality(rng: &mut impl Rng, district: &RegionDistrict) -> &'static str {
    if district.municipalities.is_empty() || rng.gen_bool(0.35) {
        district.seat
    } else {
        district.municipalities[rng.gen_range(0..district.municipalities.len())]
    }
}

pub(crate) fn postal_code_in(
    rng: &mut impl Rng,
    district: &RegionDistrict,
    municipality: &str,
) -> &'static str {
    let codes = district.postal_codes_of(municipality);
    if codes.is_empty() {
        ""
    } else {
        codes[rng.gen_range(0..codes.len())]
    }
}

/// Languages counsellors in the region offer besides German: the languages of the people who
/// came in the last years.
pub(crate) const COUNSELLING_LANGUAGES: &[&str] = &[
    "en", "ar", "fa", "uk", "ru", "tr", "ku", "ti", "so", "ps", "pl", "ro", "bg", "fr",
];

/// German and `extra` languages chosen at random.
pub(crate) fn german_and(rng: &mut impl Rng, extra: usize) -> Vec<&'static str> {
    let mut langs = vec!["de"];
    langs.extend(
        rand::seq::index::sample(rng, COUNSELLING_LANGUAGES.len(), extra)
            .iter()
            .map(|i| COUNSELLING_LANGUAGES[i]),
    );
    langs
}
