//! Coordinator filters and sort orders, as pure values: [`Filter::matches`] is the one
//! definition of which offerings a filter keeps, used by the search index and by anyone
//! filtering a read view directly.
//!
//! Within a field the values are alternatives (OR), across fields all must hold (AND); an
//! empty set means "any".
use std::collections::BTreeSet;

use kreisnetz_model::{
    Category, DistrictId, LanguageCode, Offering, OfferingStatus, TargetGroup, Timestamp,
};
use serde::{Deserialize, Serialize};
use time::Date;

use crate::places::municipality_key;

/// Which offerings to keep.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Filter {
    pub categories: BTreeSet<Category>,
    /// Offerings for any of these groups. An offering for `all` serves every group, so it
    /// matches any target group asked for.
    pub target_groups: BTreeSet<TargetGroup>,
    pub statuses: BTreeSet<OfferingStatus>,
    pub districts: BTreeSet<DistrictId>,
    /// Only offerings with at least one free place (unknown free places do not count).
    pub has_free_places: bool,
    /// Only offerings that run at some time in this window (see [`DateWindow`]).
    pub runs_during: Option<DateWindow>,
    /// Only offerings last updated before this time (exclusive).
    pub updated_before: Option<Timestamp>,
    /// Only offerings last updated at or after this time.
    pub updated_after: Option<Timestamp>,
    /// Only this municipality (compared folded, without qualifiers: `Oldenburg (Oldb)` is
    /// `Oldenburg`).
    pub municipality: Option<String>,
    /// Only offerings held in this language.
    pub language: Option<LanguageCode>,
}

/// A window of days, both ends inclusive, either open. An offering without a start date has
/// run since forever, one without an end date runs on: offerings without dates ("ongoing")
/// overlap every window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateWindow {
    pub from: Option<Date>,
    pub to: Option<Date>,
}

impl DateWindow {
    pub fn of(o: &Offering) -> DateWindow {
        DateWindow {
            from: o.start_date,
            to: o.end_date,
        }
    }

    /// Whether two windows share at least one day.
    pub fn overlaps(&self, other: &DateWindow) -> bool {
        let starts_before_other_ends = match (self.from, other.to) {
            (Some(f), Some(t)) => f <= t,
            _ => true,
        };
        let other_starts_before_this_ends = match (other.from, self.to) {
            (Some(f), Some(t)) => f <= t,
            _ => true,
        };
        starts_before_other_ends && other_starts_before_this_ends
    }
}

impl Filter {
    /// Whether this filter keeps the offering.
    pub fn matches(&self, o: &Offering) -> bool {
        (self.categories.is_empty() || self.categories.contains(&o.category))
            && (self.target_groups.is_empty()
                || o.target_groups.contains(&TargetGroup::All)
                || o.target_groups
                    .iter()
                    .any(|t| self.target_groups.contains(t)))
            && (self.statuses.is_empty() || self.statuses.contains(&o.status))
            && (self.districts.is_empty() || self.districts.contains(&o.district_id))
            && (!self.has_free_places || o.places_free.is_some_and(|n| n > 0))
            && self
                .runs_during
                .is_none_or(|w| w.overlaps(&DateWindow::of(o)))
            && self.updated_before.is_none_or(|t| o.update_time < t)
            && self.updated_after.is_none_or(|t| o.update_time >= t)
            && self
                .municipality
                .as_ref()
                .is_none_or(|m| municipality_key(m) == municipality_key(&o.municipality))
            && self.language.is_none_or(|l| o.languages.contains(&l))
    }

    /// Whether the filter keeps everything.
    pub fn is_empty(&self) -> bool {
        *self == Filter::default()
    }
}

/// What the filters look at, copied out of an offering: checking 100,000 of these in one
/// array is several times faster than following 100,000 pointers into offerings and their
/// sets. [`Compiled::matches`] must agree with [`Filter::matches`] (tested below).
#[derive(Clone, Copy, Debug)]
pub(crate) struct FilterMeta {
    pub(crate) category: Category,
    /// Bit per target group number; `all` as its own bit.
    pub(crate) targets: u16,
    pub(crate) status: OfferingStatus,
    pub(crate) district: DistrictId,
    pub(crate) places_free: Option<u32>,
    pub(crate) window: DateWindow,
    pub(crate) update_time: Timestamp,
}

impl FilterMeta {
    pub(crate) fn of(o: &Offering) -> Self {
        FilterMeta {
            category: o.category,
            targets: target_mask(o.target_groups.iter()),
            status: o.status,
            district: o.district_id,
            places_free: o.places_free,
            window: DateWindow::of(o),
            update_time: o.update_time,
        }
    }
}

fn target_mask<'a>(groups: impl Iterator<Item = &'a TargetGroup>) -> u16 {
    groups.fold(0, |m, t| m | 1 << (t.number() & 15))
}

/// A filter prepared for checking many offerings.
pub(crate) struct Compiled<'a> {
    filter: &'a Filter,
    targets: u16,
    /// The filter uses a field [`FilterMeta`] does not hold (municipality, language).
    needs_offering: bool,
}

impl Filter {
    pub(crate) fn compile(&self) -> Compiled<'_> {
        Compiled {
            filter: self,
            targets: target_mask(self.target_groups.iter()),
            needs_offering: self.municipality.is_some() || self.language.is_some(),
        }
    }
}

impl Compiled<'_> {
    /// [`Filter::matches`] on the copied fields; the offering is read only when the filter
    /// needs a field that was not copied.
    pub(crate) fn matches(&self, m: &FilterMeta, offering: impl FnOnce() -> bool) -> bool {
        let f = self.filter;
        let all = 1 << TargetGroup::All.number();
        (f.categories.is_empty() || f.categories.contains(&m.category))
            && (f.target_groups.is_empty() || m.targets & (self.targets | all) != 0)
            && (f.statuses.is_empty() || f.statuses.contains(&m.status))
            && (f.districts.is_empty() || f.districts.contains(&m.district))
            && (!f.has_free_places || m.places_free.is_some_and(|n| n > 0))
            && f.runs_during.is_none_or(|w| w.overlaps(&m.window))
            && f.updated_before.is_none_or(|t| m.update_time < t)
            && f.updated_after.is_none_or(|t| m.update_time >= t)
            && (!self.needs_offering || offering())
    }
}

/// How a result list is ordered. Ties are broken by title (German collation), then ID, so a
/// page boundary is stable for the same data.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortOrder {
    /// Best match first; without a text query the same as `Title`.
    #[default]
    Relevance,
    /// Title, A to Z in German order (Ä with A).
    Title,
    /// Earliest start first; offerings without a start date last.
    StartDate,
    /// Most recently updated first.
    LastUpdate,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::offering;
    use kreisnetz_model::parse_date;

    fn d(s: &str) -> Option<Date> {
        Some(parse_date(s).unwrap())
    }

    #[test]
    fn values_of_one_field_are_alternatives_fields_must_all_hold() {
        let mut o = offering("Deutschkurs", Category::LanguageCourse, "Vechta");
        o.target_groups = [TargetGroup::Women].into();
        let mut f = Filter {
            categories: [Category::LanguageCourse, Category::IntegrationCourse].into(),
            target_groups: [TargetGroup::Women, TargetGroup::Youth].into(),
            ..Filter::default()
        };
        assert!(f.matches(&o));
        f.statuses = [OfferingStatus::Ended].into();
        assert!(!f.matches(&o));
        f.statuses.clear();
        f.target_groups = [TargetGroup::Youth].into();
        assert!(!f.matches(&o));
        o.target_groups.insert(TargetGroup::All);
        assert!(f.matches(&o), "an offering for all serves youth too");
    }

    #[test]
    fn free_places_must_be_known_and_positive() {
        let mut o = offering("Kurs", Category::LanguageCourse, "Vechta");
        let f = Filter {
            has_free_places: true,
            ..Filter::default()
        };
        o.places_total = Some(10);
        o.places_free = None;
        assert!(!f.matches(&o));
        o.places_free = Some(0);
        assert!(!f.matches(&o));
        o.places_free = Some(1);
        assert!(f.matches(&o));
    }

    #[test]
    fn date_windows_overlap_with_open_ends() {
        let w = |a: &str, b: &str| DateWindow {
            from: if a.is_empty() { None } else { d(a) },
            to: if b.is_empty() { None } else { d(b) },
        };
        assert!(w("2027-01-01", "2027-03-31").overlaps(&w("2027-03-31", "2027-05-01")));
        assert!(!w("2027-01-01", "2027-03-30").overlaps(&w("2027-03-31", "2027-05-01")));
        assert!(w("", "").overlaps(&w("2027-03-31", "2027-05-01")));
        assert!(w("2026-01-01", "").overlaps(&w("", "2026-01-01")));
        assert!(!w("2026-01-02", "").overlaps(&w("", "2026-01-01")));
    }

    #[test]
    fn the_compiled_filter_agrees_with_matches() {
        use kreisnetz_model::LanguageCode;
        let groups = [TargetGroup::Women, TargetGroup::Youth, TargetGroup::All];
        let mut offerings = Vec::new();
        for i in 0..64u32 {
            let mut o = offering("Kurs", Category::ALL[(i % 4) as usize], "Vechta");
            o.target_groups = [groups[(i % 3) as usize]].into();
            o.status = OfferingStatus::ALL[(i % 4) as usize];
            o.places_total = Some(5);
            o.places_free = Some(i % 2);
            o.start_date = d(["2027-01-01", "2027-06-01"][(i % 2) as usize]);
            o.update_time = Timestamp(i64::from(i));
            if i % 5 == 0 {
                o.district_id = crate::testutil::district("Stadt Oldenburg");
                o.municipality = "Oldenburg".into();
                o.languages = ["ar".parse::<LanguageCode>().unwrap()].into();
            }
            offerings.push(o);
        }
        let filters = [
            Filter::default(),
            Filter {
                categories: [Category::ALL[1], Category::ALL[2]].into(),
                target_groups: [TargetGroup::Youth].into(),
                ..Filter::default()
            },
            Filter {
                statuses: [OfferingStatus::Active].into(),
                has_free_places: true,
                districts: [crate::testutil::district("Stadt Oldenburg")].into(),
                ..Filter::default()
            },
            Filter {
                runs_during: Some(DateWindow {
                    from: d("2027-03-01"),
                    to: d("2027-04-01"),
                }),
                updated_before: Some(Timestamp(40)),
                updated_after: Some(Timestamp(3)),
                ..Filter::default()
            },
            Filter {
                municipality: Some("oldenburg".into()),
                language: Some("ar".parse().unwrap()),
                ..Filter::default()
            },
        ];
        for f in &filters {
            let c = f.compile();
            for o in &offerings {
                let m = FilterMeta::of(o);
                assert_eq!(c.matches(&m, || f.matches(o)), f.matches(o), "{f:?} {o:?}");
            }
        }
    }

    #[test]
    fn update_times_and_municipality() {
        let mut o = offering("Kurs", Category::LanguageCourse, "Oldenburg (Oldb)");
        o.update_time = Timestamp(1000);
        let f = Filter {
            updated_before: Some(Timestamp(1000)),
            ..Filter::default()
        };
        assert!(!f.matches(&o));
        let f = Filter {
            updated_after: Some(Timestamp(1000)),
            municipality: Some("oldenburg".into()),
            ..Filter::default()
        };
        assert!(f.matches(&o));
    }
}
