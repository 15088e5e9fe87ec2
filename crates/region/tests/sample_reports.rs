//! The region's reports over the nine districts' sample data (`kreisnetz-sample`): what a
//! newcomer running `kreisnetz demo` sees must be worth reading. Each report finds what the
//! sample plants (see the README, "Sample data"): the overlaps its named pairs, gaps its
//! missing offerings, stale its forgotten courses and offerings without a contact, and the
//! districts' coverage differs.
use std::collections::BTreeSet;

use kreisnetz_model::{Category, DistrictId, Offering, OfferingStatus, TargetGroup, Timestamp};
use kreisnetz_region::reports::GapKind;
use kreisnetz_region::{
    Districts, GapOptions, OverlapOptions, StaleOptions, StaleReason, coverage, gaps, overlaps,
    stale,
};
use kreisnetz_sample::{SampleSet, WESER_EMS, district_sample, find_district};
use time::Date;

/// 2026-11-25T12:00:00Z, a Wednesday.
const NOW: Timestamp = Timestamp(1_795_608_000_000);

fn today() -> Date {
    time::OffsetDateTime::from_unix_timestamp(NOW.0 / 1000)
        .unwrap()
        .date()
}

/// A district's ID; `node` stands for the node's key, which differs from one run of
/// `kreisnetz demo` to the next (and the sample's random choices with it).
fn id_of(key: &str, node: u64) -> DistrictId {
    let name = find_district(key).unwrap().name;
    DistrictId::from_public_key(format!("{name} {node}").as_bytes())
}

struct Region {
    sets: Vec<(&'static str, SampleSet)>,
    districts: Districts,
}

impl Region {
    /// The nine districts' samples, as `kreisnetz demo` loads them (seed 1).
    fn load() -> Region {
        Region::with(1, 0)
    }

    fn with(seed: u64, node: u64) -> Region {
        let sets: Vec<(&'static str, SampleSet)> = WESER_EMS
            .iter()
            .map(|d| (d.key, district_sample(d, id_of(d.key, node), seed, NOW)))
            .collect();
        let districts = Districts::new(
            WESER_EMS
                .iter()
                .map(|d| (id_of(d.key, node), d.name.to_string())),
        );
        Region { sets, districts }
    }

    fn offerings(&self) -> impl Iterator<Item = &Offering> {
        self.sets.iter().flat_map(|(_, s)| &s.offerings)
    }

    fn contacts(&self) -> impl Iterator<Item = &kreisnetz_model::Contact> {
        self.sets.iter().flat_map(|(_, s)| &s.contacts)
    }

    fn offering(&self, key: &str, title: &str) -> &Offering {
        let (_, set) = self.sets.iter().find(|(k, _)| *k == key).unwrap();
        set.offerings
            .iter()
            .find(|o| o.title == title)
            .unwrap_or_else(|| panic!("{key} has no offering \"{title}\""))
    }
}

fn name(o: &Offering) -> String {
    kreisnetz_model::resource_name(&o.district_id, kreisnetz_model::RecordKind::Offering, &o.id)
}

/// The planted overlaps: (district, title) pairs that must be reported in one group.
const PLANTED: &[[(&str, &str); 2]] = &[
    // Within a district: Caritas and the district's project for women, both in Cloppenburg.
    [
        ("cloppenburg", "Deutschkurs für Frauen mit Kinderbetreuung"),
        (
            "cloppenburg",
            "Sprachkurs für geflüchtete Mütter – Kinder werden betreut",
        ),
    ],
    // Within a district: the Diakonie and volunteers, both in Nordenham.
    [
        ("wesermarsch", "Internationales Frauenfrühstück Nordenham"),
        ("wesermarsch", "Frauentreff international in Nordenham"),
    ],
    // Across borders.
    [
        ("oldenburg-stadt", "Bewerbungstraining für Geflüchtete"),
        (
            "oldenburg-land",
            "Bewerbungshilfe für Flüchtlinge in Wardenburg",
        ),
    ],
    [
        ("delmenhorst", "Deutschkurs am Abend für Berufstätige (B1)"),
        (
            "oldenburg-land",
            "Abendkurs Deutsch B1 für Beschäftigte in Ganderkesee",
        ),
    ],
    [
        ("wilhelmshaven", "Jobcoaching für Geflüchtete"),
        ("friesland", "Jobcoaching für Flüchtlinge in Schortens"),
    ],
    [
        (
            "vechta",
            "Ausbildungspaten: Ehrenamtliche begleiten junge Geflüchtete in Bakum",
        ),
        (
            "cloppenburg",
            "Ausbildungslotsen – Paten für junge Flüchtlinge in Emstek",
        ),
    ],
];

#[test]
fn overlaps_finds_the_planted_pairs_and_not_the_near_miss() {
    planted_pairs_are_found(&Region::load());
}

#[test]
fn the_planted_pairs_are_found_whatever_the_seed_and_node_keys() {
    for (seed, node) in [(2, 1), (7, 2), (42, 3), (1, 4)] {
        planted_pairs_are_found(&Region::with(seed, node));
    }
}

fn planted_pairs_are_found(r: &Region) {
    let report = overlaps(r.offerings(), &r.districts, &[], &OverlapOptions::default());
    for [(da, ta), (db, tb)] in PLANTED {
        let (a, b) = (name(r.offering(da, ta)), name(r.offering(db, tb)));
        let group = report
            .overlaps
            .iter()
            .find(|o| o.offerings.contains(&a) && o.offerings.contains(&b))
            .unwrap_or_else(|| panic!("\"{ta}\" ({da}) and \"{tb}\" ({db}) not reported together"));
        assert!(group.score >= 0.5, "{}", group.explanation);
        assert!(!group.reasons.is_empty() && !group.explanation.is_empty());
    }
    // Language courses for women in Oldenburg (A1) and Rastede (B1), 11 km apart: not the
    // same need.
    let a1 = name(r.offering(
        "oldenburg-stadt",
        "Deutschkurs für Frauen A1 mit Kinderbetreuung",
    ));
    let b1 = name(r.offering("ammerland", "Deutschkurs für Frauen B1"));
    assert!(
        !report
            .overlaps
            .iter()
            .any(|o| o.offerings.contains(&a1) && o.offerings.contains(&b1)),
        "different levels are not one need"
    );
    // Overlaps within one district and across districts both occur.
    let within =
        |o: &kreisnetz_region::Overlap| o.district_names.iter().collect::<BTreeSet<_>>().len() == 1;
    assert!(report.overlaps.iter().any(within));
    assert!(report.overlaps.iter().any(|o| !within(o)));
}

#[test]
fn gaps_shows_what_some_districts_lack() {
    for r in [Region::load(), Region::with(7, 2), Region::with(3, 5)] {
        let report = gaps(r.offerings(), &r.districts, &GapOptions::default());
        assert!(!report.gaps.is_empty() && report.gaps.len() < report.matrix.len());
        for (key, category, group) in [
            (
                "wesermarsch",
                Category::IntegrationCourse,
                TargetGroup::Youth,
            ),
            (
                "wilhelmshaven",
                Category::IntegrationCourse,
                TargetGroup::Women,
            ),
            ("friesland", Category::Childcare, TargetGroup::Women),
            ("ammerland", Category::Health, TargetGroup::Migrants),
        ] {
            let district = find_district(key).unwrap().name;
            let cells: Vec<_> = report
                .matrix
                .iter()
                .filter(|c| c.category == category && c.target_group == group)
                .collect();
            let here = cells.iter().find(|c| c.district_name == district).unwrap();
            assert_eq!(
                (here.offerings, here.gap),
                (0, Some(GapKind::NoOffering)),
                "{district}: {category} for {group}"
            );
            assert!(
                report.gaps.contains(here),
                "{district}: {category} for {group} is listed as a gap"
            );
            // A real gap: the other districts serve this group.
            let served = cells.iter().filter(|c| c.gap.is_none()).count();
            assert!(
                served >= 6,
                "{category} for {group}: only {served} districts"
            );
        }
    }
}

#[test]
fn stale_finds_forgotten_courses_entries_without_contact_and_old_entries() {
    for r in [Region::load(), Region::with(7, 2), Region::with(3, 5)] {
        let report = stale(
            r.offerings(),
            r.contacts(),
            &r.districts,
            &StaleOptions::new(today()),
        );
        let with = |reason: StaleReason| -> BTreeSet<&str> {
            report
                .stale
                .iter()
                .filter(|e| e.reasons.contains(&reason))
                .map(|e| e.district_name.as_str())
                .collect()
        };
        let ended = with(StaleReason::EndedButCurrent);
        let uncontacted = with(StaleReason::NoContact);
        let old = with(StaleReason::NotUpdated);
        assert!(ended.len() >= 5, "ended but active in {ended:?}");
        assert!(uncontacted.len() >= 5, "without contact in {uncontacted:?}");
        assert!(old.len() >= 7, "not updated in {old:?}");
        // Every forgotten course is one: its end date passed and it is still active.
        for e in &report.stale {
            if e.reasons.contains(&StaleReason::EndedButCurrent) {
                let o = r.offerings().find(|o| name(o) == e.name).unwrap();
                assert_eq!(o.status, OfferingStatus::Active);
                assert!(o.end_date.unwrap() < today(), "{}", e.title);
            }
        }
        // Not everything is stale: the report is a list to work through, not the whole region.
        let total = r
            .offerings()
            .filter(|o| o.status != OfferingStatus::Ended)
            .count();
        assert!(
            report.stale.len() < total / 2,
            "{} of {total}",
            report.stale.len()
        );
    }
}

#[test]
fn coverage_differs_between_districts() {
    for r in [Region::load(), Region::with(7, 2), Region::with(3, 5)] {
        let report = coverage(r.offerings(), &r.districts, today());
        assert_eq!(report.districts.len(), 9);
        let share = |key: &str| {
            let name = find_district(key).unwrap().name;
            report
                .districts
                .iter()
                .find(|d| d.district_name == name)
                .unwrap()
                .updated_last_90_days
        };
        // Vechta keeps its entries current; Wilhelmshaven has not looked at most for months.
        assert!(share("vechta") >= 0.7, "{}", share("vechta"));
        assert!(share("wilhelmshaven") <= 0.5, "{}", share("wilhelmshaven"));
        let counts: BTreeSet<usize> = report.districts.iter().map(|d| d.offerings).collect();
        let free: BTreeSet<u64> = report.districts.iter().map(|d| d.places_free).collect();
        assert!(counts.len() >= 4, "offerings per district: {counts:?}");
        assert!(free.len() >= 6, "free places per district: {free:?}");
        for d in &report.districts {
            assert!(d.offerings >= 20, "{}: {}", d.district_name, d.offerings);
            assert!(d.by_category.len() >= 10, "{}", d.district_name);
        }
    }
}

#[test]
fn the_sample_is_valid_and_the_same_for_the_same_seed() {
    let a = Region::load();
    let b = Region::load();
    for ((_, x), (_, y)) in a.sets.iter().zip(&b.sets) {
        assert_eq!(x, y);
    }
    for o in a.offerings() {
        o.validate().unwrap_or_else(|v| panic!("{}: {v}", o.title));
    }
    for c in a.contacts() {
        c.validate().unwrap();
    }
}
