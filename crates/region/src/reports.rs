//! The gaps, stale and coverage reports, and district names for all reports. Pure functions
//! of the read view (offerings, contacts, district names) and an `as_of` date: the same input
//! always gives the same report, in a stable order.
use std::collections::{BTreeMap, BTreeSet, HashSet};

use kreisnetz_model::{
    Category, Contact, DistrictId, Offering, OfferingStatus, RecordId, RecordKind, TargetGroup,
    Timestamp, format_date, resource_name,
};
use serde::{Deserialize, Serialize};
use time::Date;

use crate::collation::GermanCollator;

/// District names by ID (from the trusted list and the documents' metadata). A district
/// without a name is shown by its ID.
#[derive(Clone, Debug, Default)]
pub struct Districts {
    names: BTreeMap<DistrictId, String>,
}

impl Districts {
    pub fn new(names: impl IntoIterator<Item = (DistrictId, String)>) -> Self {
        Districts {
            names: names.into_iter().collect(),
        }
    }

    pub fn name(&self, id: &DistrictId) -> String {
        self.names
            .get(id)
            .cloned()
            .unwrap_or_else(|| id.to_string())
    }

    /// Every known district, in German order of name.
    pub fn ids_by_name(&self) -> Vec<DistrictId> {
        let c = GermanCollator::new();
        let mut ids: Vec<(Vec<u8>, DistrictId)> = self
            .names
            .iter()
            .map(|(id, name)| (c.sort_key(name), *id))
            .collect();
        ids.sort();
        ids.into_iter().map(|(_, id)| id).collect()
    }
}

/// Whether an offering serves now or soon: planned or active (not paused, not ended).
fn is_current(o: &Offering) -> bool {
    matches!(o.status, OfferingStatus::Active | OfferingStatus::Planned)
}

/// Milliseconds at the start (00:00 UTC) of a day.
pub fn start_of_day(d: Date) -> Timestamp {
    Timestamp(d.midnight().assume_utc().unix_timestamp() * 1000)
}

const DAY_MS: i64 = 86_400_000;

// ---------------------------------------------------------------------------------------
// Gaps

/// Which part of the matrix to report (empty: all categories / all target groups).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GapOptions {
    pub categories: BTreeSet<Category>,
    pub target_groups: BTreeSet<TargetGroup>,
}

/// Why a cell is a gap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GapKind {
    /// No current offering at all.
    NoOffering,
    /// Current offerings, but every one reports zero free places.
    NoFreePlaces,
}

/// One cell of the matrix category × target group × district.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GapCell {
    pub district_id: String,
    pub district_name: String,
    pub category: Category,
    pub target_group: TargetGroup,
    /// Current (planned or active) offerings of this category for this group; an offering
    /// for `all` counts for every group.
    pub offerings: usize,
    /// Free places summed over the offerings that report them.
    pub places_free: u64,
    /// `null` when the cell is no gap.
    pub gap: Option<GapKind>,
}

/// `{"gaps": [...], "matrix": [...]}`: the gap cells, and every cell.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GapReport {
    pub gaps: Vec<GapCell>,
    pub matrix: Vec<GapCell>,
}

/// The matrix over every district in `districts` (also those without any offering), in
/// district-name, category, target-group order. The target group `all` is not a row of its
/// own: it counts for every group.
pub fn gaps<'a>(
    offerings: impl IntoIterator<Item = &'a Offering>,
    districts: &Districts,
    options: &GapOptions,
) -> GapReport {
    let categories: Vec<Category> = Category::ALL
        .iter()
        .copied()
        .filter(|c| options.categories.is_empty() || options.categories.contains(c))
        .collect();
    let groups: Vec<TargetGroup> = TargetGroup::ALL
        .iter()
        .copied()
        .filter(|t| *t != TargetGroup::All)
        .filter(|t| options.target_groups.is_empty() || options.target_groups.contains(t))
        .collect();
    // (district, category, group) → (offerings, free places, any with free or unknown places)
    let mut counts: BTreeMap<(DistrictId, Category, TargetGroup), (usize, u64, bool)> =
        BTreeMap::new();
    let mut ids: BTreeSet<DistrictId> = BTreeSet::new();
    for o in offerings.into_iter().filter(|o| is_current(o)) {
        ids.insert(o.district_id);
        let all = o.target_groups.contains(&TargetGroup::All);
        for &g in &groups {
            if all || o.target_groups.contains(&g) {
                let c = counts.entry((o.district_id, o.category, g)).or_default();
                c.0 += 1;
                c.1 += u64::from(o.places_free.unwrap_or(0));
                c.2 |= o.places_free != Some(0);
            }
        }
    }
    let mut order = districts.ids_by_name();
    let unnamed: Vec<DistrictId> = ids.into_iter().filter(|id| !order.contains(id)).collect();
    order.extend(unnamed);
    let mut matrix = Vec::new();
    for d in order {
        for &category in &categories {
            for &target_group in &groups {
                let (n, free, some_open) = counts
                    .get(&(d, category, target_group))
                    .copied()
                    .unwrap_or_default();
                let gap = if n == 0 {
                    Some(GapKind::NoOffering)
                } else if !some_open {
                    Some(GapKind::NoFreePlaces)
                } else {
                    None
                };
                matrix.push(GapCell {
                    district_id: d.to_string(),
                    district_name: districts.name(&d),
                    category,
                    target_group,
                    offerings: n,
                    places_free: free,
                    gap,
                });
            }
        }
    }
    GapReport {
        gaps: matrix.iter().filter(|c| c.gap.is_some()).cloned().collect(),
        matrix,
    }
}

// ---------------------------------------------------------------------------------------
// Stale

/// Options of the stale report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaleOptions {
    /// Evaluate as if today were this day.
    pub as_of: Date,
    /// Not updated for more than this many days is stale (default 90).
    pub older_than_days: u32,
}

impl StaleOptions {
    pub fn new(as_of: Date) -> Self {
        StaleOptions {
            as_of,
            older_than_days: 90,
        }
    }
}

/// Why an entry is stale (`"not_updated"`, `"ended_but_current"`, `"no_contact"` in JSON).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StaleReason {
    /// Last updated more than `older_than_days` before `as_of`.
    NotUpdated,
    /// The end date has passed but the status is still `active` or `planned`.
    EndedButCurrent,
    /// No contact, or none of its contacts exists.
    NoContact,
}

/// One stale offering.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaleEntry {
    pub name: String,
    pub district_id: String,
    pub district_name: String,
    pub provider: String,
    pub title: String,
    pub reasons: Vec<StaleReason>,
    /// Days between the last update and `as_of`.
    pub days_since_update: i64,
    pub end_date: Option<String>,
}

/// `{"stale": [...]}`, grouped by district (German order of name), then provider, then title.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaleReport {
    pub as_of: String,
    pub older_than_days: u32,
    pub stale: Vec<StaleEntry>,
}

/// Offerings that need a look; ended offerings (`status: ended`) are never stale.
pub fn stale<'a>(
    offerings: impl IntoIterator<Item = &'a Offering>,
    contacts: impl IntoIterator<Item = &'a Contact>,
    districts: &Districts,
    options: &StaleOptions,
) -> StaleReport {
    let existing: HashSet<(DistrictId, RecordId)> = contacts
        .into_iter()
        .map(|c| (c.district_id, c.id))
        .collect();
    let today = start_of_day(options.as_of);
    let limit = Timestamp(today.0 - i64::from(options.older_than_days) * DAY_MS);
    let collator = GermanCollator::new();
    // (sort keys of district name, provider, title; entry)
    type Keyed = (Vec<u8>, Vec<u8>, Vec<u8>, StaleEntry);
    let mut entries: Vec<Keyed> = Vec::new();
    for o in offerings {
        if o.status == OfferingStatus::Ended {
            continue;
        }
        let mut reasons = Vec::new();
        if o.update_time < limit {
            reasons.push(StaleReason::NotUpdated);
        }
        if is_current(o) && o.end_date.is_some_and(|end| end < options.as_of) {
            reasons.push(StaleReason::EndedButCurrent);
        }
        if !o
            .contact_ids
            .iter()
            .any(|c| existing.contains(&(o.district_id, *c)))
        {
            reasons.push(StaleReason::NoContact);
        }
        if reasons.is_empty() {
            continue;
        }
        let district_name = districts.name(&o.district_id);
        let entry = StaleEntry {
            name: resource_name(&o.district_id, RecordKind::Offering, &o.id),
            district_id: o.district_id.to_string(),
            district_name: district_name.clone(),
            provider: o.provider.clone(),
            title: o.title.clone(),
            reasons,
            days_since_update: (today.0 - o.update_time.0).div_euclid(DAY_MS),
            end_date: o.end_date.map(format_date),
        };
        entries.push((
            collator.sort_key(&district_name),
            collator.sort_key(&o.provider),
            collator.sort_key(&o.title),
            entry,
        ));
    }
    entries.sort_by(|a, b| (&a.0, &a.1, &a.2, &a.3.name).cmp(&(&b.0, &b.1, &b.2, &b.3.name)));
    StaleReport {
        as_of: format_date(options.as_of),
        older_than_days: options.older_than_days,
        stale: entries.into_iter().map(|e| e.3).collect(),
    }
}

// ---------------------------------------------------------------------------------------
// Coverage

/// One district's coverage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DistrictCoverage {
    pub district_id: String,
    pub district_name: String,
    /// Current (planned or active) offerings.
    pub offerings: usize,
    /// Current offerings by category (categories without any are left out).
    pub by_category: BTreeMap<Category, usize>,
    /// Free places summed over current offerings that report them.
    pub places_free: u64,
    /// Share (0 to 1) of the district's offerings (any status) updated in the last 90 days
    /// before `as_of`; 0 without offerings.
    pub updated_last_90_days: f64,
}

/// `{"as_of": "...", "districts": [...]}` in German order of district name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CoverageReport {
    pub as_of: String,
    pub districts: Vec<DistrictCoverage>,
}

pub fn coverage<'a>(
    offerings: impl IntoIterator<Item = &'a Offering>,
    districts: &Districts,
    as_of: Date,
) -> CoverageReport {
    let since = Timestamp(start_of_day(as_of).0 - 90 * DAY_MS);
    let mut per: BTreeMap<DistrictId, (DistrictCoverage, usize, usize)> = BTreeMap::new();
    let blank = |d: &DistrictId| {
        (
            DistrictCoverage {
                district_id: d.to_string(),
                district_name: districts.name(d),
                offerings: 0,
                by_category: BTreeMap::new(),
                places_free: 0,
                updated_last_90_days: 0.0,
            },
            0,
            0,
        )
    };
    for d in districts.ids_by_name() {
        per.insert(d, blank(&d));
    }
    for o in offerings {
        let (c, all, recent) = per
            .entry(o.district_id)
            .or_insert_with(|| blank(&o.district_id));
        *all += 1;
        if o.update_time >= since {
            *recent += 1;
        }
        if is_current(o) {
            c.offerings += 1;
            *c.by_category.entry(o.category).or_default() += 1;
            c.places_free += u64::from(o.places_free.unwrap_or(0));
        }
    }
    let collator = GermanCollator::new();
    let mut out: Vec<DistrictCoverage> = per
        .into_values()
        .map(|(mut c, all, recent)| {
            if all > 0 {
                c.updated_last_90_days = ((recent as f64 / all as f64) * 1000.0).round() / 1000.0;
            }
            c
        })
        .collect();
    out.sort_by_key(|c| (collator.sort_key(&c.district_name), c.district_id.clone()));
    CoverageReport {
        as_of: format_date(as_of),
        districts: out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{district, offering};
    use kreisnetz_model::parse_date;

    fn day(s: &str) -> Date {
        parse_date(s).unwrap()
    }

    fn names() -> Districts {
        Districts::new([
            (district("Landkreis Vechta"), "Landkreis Vechta".to_string()),
            (district("Stadt Oldenburg"), "Stadt Oldenburg".to_string()),
        ])
    }

    fn contact(o: &Offering) -> Contact {
        Contact {
            id: RecordId::new_random(),
            district_id: o.district_id,
            display_name: "Beratungsteam".into(),
            organisation: o.provider.clone(),
            role: String::new(),
            responsibility: String::new(),
            email: "team@example.org".into(),
            phone: String::new(),
            languages: BTreeSet::new(),
            create_time: Timestamp(0),
            update_time: Timestamp(0),
        }
    }

    /// A fresh, current offering with an existing contact: stale for no reason.
    fn fresh(as_of: Date) -> (Offering, Contact) {
        let mut o = offering("Sprachkurs", Category::LanguageCourse, "Vechta");
        o.update_time = Timestamp(start_of_day(as_of).0 - 10 * DAY_MS);
        let c = contact(&o);
        o.contact_ids.insert(c.id);
        (o, c)
    }

    fn reasons(o: &Offering, c: &[Contact], options: &StaleOptions) -> Vec<StaleReason> {
        let r = stale([o], c, &names(), options);
        r.stale
            .first()
            .map(|e| e.reasons.clone())
            .unwrap_or_default()
    }

    #[test]
    fn stale_not_updated_within_n_days() {
        let as_of = day("2027-06-01");
        let (mut o, c) = fresh(as_of);
        let options = StaleOptions::new(as_of);
        assert_eq!(reasons(&o, std::slice::from_ref(&c), &options), []);
        o.update_time = Timestamp(start_of_day(as_of).0 - 91 * DAY_MS);
        assert_eq!(
            reasons(&o, std::slice::from_ref(&c), &options),
            [StaleReason::NotUpdated]
        );
        let lenient = StaleOptions {
            older_than_days: 120,
            ..options
        };
        assert_eq!(reasons(&o, std::slice::from_ref(&c), &lenient), []);
        let r = stale([&o], [&c], &names(), &options);
        assert_eq!(r.stale[0].days_since_update, 91);
    }

    #[test]
    fn stale_ended_but_still_active_or_planned() {
        let as_of = day("2027-06-01");
        let (mut o, c) = fresh(as_of);
        let options = StaleOptions::new(as_of);
        o.end_date = Some(day("2027-05-31"));
        assert_eq!(
            reasons(&o, std::slice::from_ref(&c), &options),
            [StaleReason::EndedButCurrent]
        );
        o.status = OfferingStatus::Paused;
        assert_eq!(reasons(&o, std::slice::from_ref(&c), &options), []);
        o.status = OfferingStatus::Planned;
        o.end_date = Some(as_of);
        assert_eq!(
            reasons(&o, std::slice::from_ref(&c), &options),
            [],
            "ends today: not yet"
        );
        o.status = OfferingStatus::Ended;
        o.end_date = Some(day("2020-01-01"));
        assert_eq!(
            reasons(&o, &[], &options),
            [],
            "ended offerings are never stale"
        );
    }

    #[test]
    fn stale_without_a_contact_that_exists() {
        let as_of = day("2027-06-01");
        let (mut o, c) = fresh(as_of);
        let options = StaleOptions::new(as_of);
        assert_eq!(reasons(&o, &[], &options), [StaleReason::NoContact]);
        o.contact_ids.clear();
        assert_eq!(
            reasons(&o, std::slice::from_ref(&c), &options),
            [StaleReason::NoContact]
        );
    }

    #[test]
    fn stale_is_grouped_by_district_then_provider() {
        let as_of = day("2027-06-01");
        let mut list = Vec::new();
        for (d, provider, title) in [
            ("Stadt Oldenburg", "VHS", "B"),
            ("Landkreis Vechta", "Caritas", "Z"),
            ("Landkreis Vechta", "AWO", "Y"),
            ("Stadt Oldenburg", "AWO", "A"),
        ] {
            let mut o = offering(title, Category::Health, "Vechta");
            o.district_id = district(d);
            o.provider = provider.into();
            list.push(o);
        }
        let r = stale(&list, [], &names(), &StaleOptions::new(as_of));
        let order: Vec<(&str, &str)> = r
            .stale
            .iter()
            .map(|e| (e.district_name.as_str(), e.provider.as_str()))
            .collect();
        assert_eq!(
            order,
            [
                ("Landkreis Vechta", "AWO"),
                ("Landkreis Vechta", "Caritas"),
                ("Stadt Oldenburg", "AWO"),
                ("Stadt Oldenburg", "VHS")
            ]
        );
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["stale"][0]["reasons"][0], "not_updated");
    }

    #[test]
    fn gaps_count_offerings_and_free_places_per_cell() {
        let mut a = offering("Deutsch für Frauen", Category::LanguageCourse, "Vechta");
        a.target_groups = [TargetGroup::Women].into();
        a.places_total = Some(10);
        a.places_free = Some(0);
        let mut b = offering(
            "Offene Sprechstunde",
            Category::MigrationCounselling,
            "Vechta",
        );
        b.target_groups = [TargetGroup::All].into();
        let options = GapOptions {
            categories: [Category::LanguageCourse, Category::MigrationCounselling].into(),
            target_groups: [TargetGroup::Women, TargetGroup::Youth].into(),
        };
        let r = gaps([&a, &b], &names(), &options);
        assert_eq!(
            r.matrix.len(),
            2 * 2 * 2,
            "two districts, two categories, two groups"
        );
        let cell = |d: &str, c: Category, t: TargetGroup| {
            r.matrix
                .iter()
                .find(|x| x.district_name == d && x.category == c && x.target_group == t)
                .unwrap()
                .clone()
        };
        let women = cell(
            "Landkreis Vechta",
            Category::LanguageCourse,
            TargetGroup::Women,
        );
        assert_eq!(
            (women.offerings, women.places_free, women.gap),
            (1, 0, Some(GapKind::NoFreePlaces))
        );
        let youth = cell(
            "Landkreis Vechta",
            Category::LanguageCourse,
            TargetGroup::Youth,
        );
        assert_eq!(youth.gap, Some(GapKind::NoOffering));
        let all = cell(
            "Landkreis Vechta",
            Category::MigrationCounselling,
            TargetGroup::Youth,
        );
        assert_eq!(
            (all.offerings, all.gap),
            (1, None),
            "for all: counts for youth"
        );
        let oldenburg = cell(
            "Stadt Oldenburg",
            Category::MigrationCounselling,
            TargetGroup::Women,
        );
        assert_eq!(oldenburg.gap, Some(GapKind::NoOffering));
        assert_eq!(r.gaps.len(), 6);
    }

    #[test]
    fn coverage_per_district() {
        let as_of = day("2027-06-01");
        let mut a = offering("Kurs", Category::LanguageCourse, "Vechta");
        a.update_time = Timestamp(start_of_day(as_of).0 - 5 * DAY_MS);
        a.places_total = Some(10);
        a.places_free = Some(4);
        let mut b = offering("Alt", Category::Health, "Vechta");
        b.status = OfferingStatus::Ended;
        let r = coverage([&a, &b], &names(), as_of);
        assert_eq!(r.districts.len(), 2);
        let v = &r.districts[0];
        assert_eq!(v.district_name, "Landkreis Vechta");
        assert_eq!(v.offerings, 1);
        assert_eq!(v.by_category.get(&Category::LanguageCourse), Some(&1));
        assert_eq!(v.places_free, 4);
        assert_eq!(v.updated_last_90_days, 0.5);
        assert_eq!(r.districts[1].offerings, 0);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["districts"][0]["by_category"]["language_course"], 1);
    }

    #[test]
    fn json_shapes_are_the_documented_ones_and_csv_is_available() {
        use crate::csv::CsvStyle;
        let as_of = day("2027-06-01");
        let (o, _) = fresh(as_of);
        let stale_r = stale([&o], [], &names(), &StaleOptions::new(as_of));
        let v = serde_json::to_value(&stale_r).unwrap();
        let e = &v["stale"][0];
        for key in ["name", "district_name", "reasons"] {
            assert!(!e[key].is_null(), "stale entry has {key}: {e}");
        }
        assert!(e["name"].as_str().unwrap().starts_with("districts/D-"));
        let gaps_r = gaps([&o], &names(), &GapOptions::default());
        let g = &serde_json::to_value(&gaps_r).unwrap()["gaps"][0];
        for key in [
            "district_id",
            "district_name",
            "category",
            "target_group",
            "offerings",
            "places_free",
        ] {
            assert!(!g[key].is_null(), "gap has {key}: {g}");
        }
        let csv = stale_r.to_csv(CsvStyle::GermanExcel);
        assert!(csv.starts_with("\u{feff}name;district_name;provider;title;reasons"));
        assert!(csv.contains(";no_contact;"), "{csv}");
        assert!(
            gaps_r
                .to_csv(CsvStyle::Standard)
                .starts_with("district_id,")
        );
        let cov = coverage([&o], &names(), as_of).to_csv(CsvStyle::GermanExcel);
        assert!(cov.contains("1,000"), "decimal comma: {cov}");
    }
}
