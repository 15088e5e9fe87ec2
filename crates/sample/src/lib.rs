//! Realistic sample data from the Weser-Ems region, for the demo, the tests and the benchmarks.
//!
//! kreisnetz was asked for by the region of the Oldenburgische IHK: six Landkreise (Ammerland,
//! Cloppenburg, Friesland, Oldenburg, Vechta, Wesermarsch) and three kreisfreie Städte
//! (Oldenburg (Oldb), Delmenhorst, Wilhelmshaven). This crate knows those nine
//! [`WESER_EMS`] districts with their real municipalities and postal codes, and fills a district
//! with offerings and contacts that look like the ones its coordinators would enter:
//!
//! - [`district_sample`]: about thirty offerings across (nearly) every [`Category`](kreisnetz_model::Category)
//!   (Integrationskurse, Berufssprachkurse, Migrationsberatung MBE, Jugendmigrationsdienst,
//!   Jobcenter, IHK-Anerkennungsberatung, SPRINT classes at the BBS, pro:connect e.V. mentoring,
//!   projects for women, volunteer initiatives, childcare, …) and twelve contacts they refer to;
//! - [`generated_offerings`]: any number of plausible offerings for benchmarks.
//!
//! Everything is deterministic: the same district, district ID, seed and `now` give the same
//! records, IDs included.
//!
//! # The rule: real organisations and places, invented people
//!
//! Organisations and places are real, taken from the IHK's 2019 position paper on integration in
//! Weser-Ems and from the region (Jobcenter, BBS, Volkshochschulen, welfare organisations,
//! Oldenburgische IHK, Handwerkskammer Oldenburg, pro:connect e.V., …). Which of them runs which
//! sample offering, the dates, street addresses and place counts are illustrative.
//!
//! People are invented and must stay so:
//! - names are combined from lists of first names and made-up surnames, never real persons;
//! - phone numbers come only from the blocks the Bundesnetzagentur keeps free for fiction
//!   ([`FICTIONAL_PHONE_BLOCKS`]: 030 23125 000–999, 069 90009 000–999, 040 66969 000–999);
//! - e-mail addresses are only at example.org or its subdomains, and so are web addresses.
//!
//! [`is_fictional_phone_number`] and [`is_example_email`] check that rule, for tests elsewhere.

mod common;
mod district;
mod generated;
mod people;
mod profile;
mod region;

use kreisnetz_model::{Contact, DistrictId, Offering, Timestamp};

pub use people::{FICTIONAL_PHONE_BLOCKS, is_example_email, is_fictional_phone_number};
pub use region::{RegionDistrict, WESER_EMS, find_district};

/// The sample records of one district.
#[derive(Clone, Debug, PartialEq)]
pub struct SampleSet {
    pub offerings: Vec<Offering>,
    pub contacts: Vec<Contact>,
}

/// A realistic, hand-made-looking set for one district: twelve contacts and about thirty
/// offerings across all categories, with German titles and descriptions, the district's real
/// provider organisations and municipalities, dates in 2026 and 2027, places and languages.
///
/// Like a real district's data, it is uneven (see the README, "Sample data"): each district
/// words the services every district has in its own way and adds its own; some lack what
/// their neighbours have (planted gaps); a few offerings duplicate one in the district or
/// across the border (planted overlaps); records were last updated between a day and about
/// fourteen months before `now`, some districts keeping up better than others; a few courses
/// ended weeks before `now` and are still `active`; a few offerings have no contact. Language
/// and integration courses have a language level; every offering a format, and childcare and
/// barrier-free access where the district knows them.
///
/// Every other offering references one or two of the set's contacts, and every contact is
/// referenced. Every record has `district_id` and an ID derived from `seed` (and the
/// district). Statuses follow the dates as seen on `now`'s date (planned before the start,
/// ended after the end, otherwise active, a few volunteer offerings paused), except for the
/// courses nobody closed. A node stamps records with its own clock when they are created
/// through the API, so loaded samples keep the content but not the sample's times.
pub fn district_sample(
    district: &RegionDistrict,
    district_id: DistrictId,
    seed: u64,
    now: Timestamp,
) -> SampleSet {
    district::district_sample(district, district_id, seed, now)
}

/// For benchmarks: `n` distinct valid offerings of the district with varied descriptions of about
/// 200 characters, deterministic from the seed, without contact IDs.
pub fn generated_offerings(
    district: &RegionDistrict,
    district_id: DistrictId,
    n: usize,
    seed: u64,
    now: Timestamp,
) -> Vec<Offering> {
    generated::generated_offerings(district, district_id, n, seed, now)
}

#[cfg(test)]
mod tests;
