//! The workload both systems get: the same generated offerings.
//!
//! kreisnetz gets them whole, through its API (`kreisnetz_sample::generated_offerings`, about 20
//! fields each: title, description, category, target groups, provider, provider kind,
//! municipality, address, postal code, coordinates, languages, dates, schedule, places, cost,
//! URL, status, times). samod gets the shape: one document whose `offerings` map holds,
//! per offering (keyed by its UUID), a map of eight strings taken from the same offering.
use kreisnetz_model::{DistrictId, Offering, Timestamp};
use kreisnetz_sample::{RegionDistrict, WESER_EMS};

/// The seed of every generated set, so both systems get the same text.
pub const SEED: u64 = 2026;

/// The district whose offerings are generated (the first node's, for kreisnetz).
pub fn region(i: usize) -> &'static RegionDistrict {
    &WESER_EMS[i % WESER_EMS.len()]
}

/// `n` offerings of district `district_id` (region 0).
pub fn offerings(district_id: DistrictId, n: usize) -> Vec<Offering> {
    kreisnetz_sample::generated_offerings(
        region(0),
        district_id,
        n,
        SEED,
        Timestamp(1_780_000_000_000),
    )
}

/// The eight string fields of the record shape.
pub fn eight_fields(o: &Offering) -> [(&'static str, String); 8] {
    let host = o
        .url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or("example.org");
    [
        ("title", o.title.clone()),
        ("description", o.description.clone()),
        ("category", o.category.key().to_string()),
        ("district", region(0).name.to_string()),
        ("municipality", o.municipality.clone()),
        ("provider", o.provider.clone()),
        ("contact_email", format!("info@{host}")),
        ("updated_at", o.update_time.to_rfc3339()),
    ]
}

/// The new title of edit `i` (about 40 characters, like the generated ones).
pub fn edited_title(i: usize) -> String {
    format!("Sprachcafé am Nachmittag, Änderung {i:04}")
}

/// A district ID for the samod side (it has no node identity; the ID only seeds record IDs).
pub fn samod_district() -> DistrictId {
    DistrictId::from_public_key(&[42u8; 32])
}
