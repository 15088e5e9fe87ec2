//! The overlaps report: groups of offerings — in one district or across districts — that
//! plausibly serve the same need ("Doppelstrukturen"). Pairs are scored; pairs at or above
//! `min_score` form groups around a centre (each member scored at least `min_score` with the
//! centre, best pairs first), and each group is reported once with its best pair's score and
//! reasons.
//!
//! # What makes two offerings the same need
//! A pair is only considered when all of these hold (each one is a hard rule):
//! - **related categories**: the same category, or two of one family (language and
//!   integration courses; job counselling, apprenticeships and recognition of qualifications;
//!   migration counselling and legal advice; volunteer mentoring and social/leisure);
//! - **shared target groups** (an offering for `all` shares every group);
//! - **overlapping time**: their date windows share a day; missing dates are open ends, so
//!   two ongoing offerings overlap;
//! - **near each other**: at most `max_km` apart (own coordinates, else the municipality's
//!   centre from [`crate::places`]); offerings whose place is unknown are compared only within
//!   their own district;
//! - neither has ended (`status: ended`).
//!
//! Such a pair then gets a score in [0, 1]: 0.1 × category (same 1, related 0.6) + 0.1 ×
//! target groups (Jaccard; 0.7 when one is for `all`) + 0.1 × closeness (1 at 0 km, 0 at
//! `max_km`) + 0.7 × text similarity — the Dice coefficient of the German-normalised term sets
//! (see [`crate::text`]) of the titles, or the mean of title and description similarity when
//! both have a description (similar titles with unrelated descriptions are usually two
//! different offerings for the same people: "Nachhilfe für Jugendliche", "Fußball-AG für
//! Jugendliche"). Text weighs most: the hard rules already say "same kind, same people, same
//! time, same area"; whether it is the same offering is in the words. The sum is multiplied
//! by factors for the fields that tell needs apart: another language level ×0.5, online vs in
//! person ×0.8, childcare offered by one only ×0.85, barrier-free at one only ×0.95; the same
//! level adds 0.05. Pairs scoring at least `min_score` form the groups; each group carries
//! its best pair's reasons as data ([`Reason`]) and as an English sentence.
//!
//! The defaults (`min_score` 0.5, `max_km` 30) and the weights were chosen on the labelled set
//! in `testdata/overlaps.txt` (precision 1.000, recall 0.947 there; its test prints the
//! precision/recall curve over `min_score`). On a set written afterwards and not used for
//! tuning (`testdata/overlaps-holdout.txt`) they give precision 0.50 and recall 0.57: word
//! overlap does not bridge wordings the lexicon does not know, nor separate same-worded
//! offerings on different subjects. Treat the report as a list to check, not a verdict.
//!
//! # Blocking
//! Never all pairs. An offering goes into one block per term of its title (after German
//! normalisation, compound parts included), keyed by category family × a grid cell of
//! `max_km` × `max_km` × the term; only offerings in the same block or the block of the same
//! family and term in a neighbouring cell are compared (any two offerings within `max_km` are
//! in the same or neighbouring cells). Blocks larger than [`MAX_BLOCK`] are compared only
//! within a window of [`WINDOW`] after sorting by target groups, start date and place. So
//! every offering is compared with at most (title terms × 5 cells × `MAX_BLOCK`) others,
//! whatever the size of the region: the cost grows linearly with the number of offerings.
//! For the pairs that blocking lets through, the cheap rules (target groups, time, distance)
//! run before any text is compared, and reasons are built only for the pairs shown.
//!
//! What blocking misses, by design: two offerings whose titles share no term, or that share
//! only terms of oversized blocks and are not within a window of each other there (or are in
//! neighbouring cells). Without a shared title term a pair rarely reaches the default
//! `min_score` (the title is most of the text score). The time rule is checked per pair, not
//! blocked: open-ended ("ongoing") offerings would fall into every time bucket.
//!
//! # Known overlaps
//! A [`KnownOverlap`] marks offerings (two or more) as a known or intended overlap, with a
//! note and the district that marked it. A group whose offerings are all named by a mark is
//! still reported, after the new ones, with `known` set; a group with an offering the mark
//! does not name is news and reported as new. How marks are stored (in the marking district's own document, so they sync and are signed) is
//! not part of this crate: the caller passes the marks it holds.
use std::collections::HashMap;

use kreisnetz_model::{
    Category, Coordinates, DistrictId, LanguageLevel, Offering, OfferingFormat, OfferingStatus,
    RecordKind, TargetGroup, resource_name,
};
use serde::{Deserialize, Serialize};
use time::Date;

use crate::filter::DateWindow;
use crate::places::{distance_km, location_of, municipality_key};
use crate::reports::Districts;
use crate::text::Analyzer;

/// Thresholds of the overlaps report.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct OverlapOptions {
    /// Pairs scoring below this are not reported (default 0.5).
    pub min_score: f64,
    /// Offerings further apart than this are never the same need (default 30 km).
    pub max_km: f64,
}

impl Default for OverlapOptions {
    fn default() -> Self {
        OverlapOptions {
            min_score: 0.5,
            max_km: 30.0,
        }
    }
}

/// A district's mark on a pair of offerings: known or intended, not a duplicate to remove.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownOverlap {
    /// Resource names of the offerings (`districts/…/offerings/…`), two or more.
    pub offerings: Vec<String>,
    /// Why, e.g. "not a duplicate: different language levels".
    pub note: String,
    pub marked_by: DistrictId,
}

/// Why two offerings look like the same need: a code with its parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Reason {
    SameCategory {
        category: Category,
    },
    RelatedCategory {
        categories: [Category; 2],
    },
    SharedTargetGroups {
        target_groups: Vec<TargetGroup>,
    },
    /// Both run at a common time: the days they share (`null`: open end).
    OverlappingTime {
        from: Option<String>,
        to: Option<String>,
    },
    /// Neither has dates: both ongoing.
    BothOngoing,
    SameMunicipality {
        municipality: String,
    },
    Nearby {
        km: f64,
    },
    SimilarTitle {
        similarity: f64,
    },
    SimilarDescription {
        similarity: f64,
    },
    SameLevel {
        level: LanguageLevel,
    },
    DifferentLevel {
        levels: [LanguageLevel; 2],
    },
    SameFormat {
        format: OfferingFormat,
    },
    DifferentFormat {
        formats: [OfferingFormat; 2],
    },
    BothWithChildcare,
    ChildcareAtOneOnly,
    BothBarrierFree,
    BarrierFreeAtOneOnly,
}

/// One reported pair.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Overlap {
    /// Resource names of the group's offerings (two or more), in a stable order.
    pub offerings: Vec<String>,
    /// Titles and district names, in the order of `offerings`.
    pub titles: Vec<String>,
    pub district_names: Vec<String>,
    /// The best score of a pair in the group.
    pub score: f64,
    /// How many members joined the group's centre (1 for a pair).
    pub linked_pairs: usize,
    /// The reasons of the best-scoring pair.
    pub reasons: Vec<Reason>,
    /// The best pair's reasons as an English sentence (clients in other languages render
    /// `reasons`).
    pub explanation: String,
    /// The mark, if a district marked exactly these offerings (or more) as known.
    pub known: Option<KnownOverlap>,
}

/// The report: new overlaps by score (best first), then the known ones.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OverlapReport {
    pub overlaps: Vec<Overlap>,
    /// Pairs that passed blocking and were checked (for tests and benchmarks).
    pub pairs_compared: usize,
    /// Blocks (family × area × title term) of more than [`MAX_BLOCK`] offerings, compared
    /// only within a sorted window and not with neighbouring areas.
    pub blocks_oversized: usize,
}

/// Category families: categories in one family may serve the same need.
fn family(c: Category) -> u8 {
    use Category::*;
    match c {
        LanguageCourse | IntegrationCourse => 1,
        JobCounselling | Apprenticeship | QualificationRecognition => 2,
        MigrationCounselling | LegalAdvice => 3,
        VolunteerMentoring | SocialLeisure => 4,
        WomensSupport => 5,
        YouthSupport => 6,
        Childcare => 7,
        Health => 8,
        Housing => 9,
        Other => 10,
    }
}

/// What the comparison needs of one offering, computed once.
struct Prepared<'a> {
    o: &'a Offering,
    family: u8,
    /// Bit per target group; `all` sets every bit.
    targets: u16,
    loc: Option<Coordinates>,
    window: DateWindow,
    title: Vec<u32>,
    description: Vec<u32>,
}

fn target_bits(o: &Offering) -> u16 {
    if o.target_groups.contains(&TargetGroup::All) {
        return u16::MAX;
    }
    o.target_groups
        .iter()
        .fold(0, |bits, t| bits | 1 << t.number())
}

struct Interner {
    ids: HashMap<String, u32>,
}

impl Interner {
    fn set(&mut self, analyzer: &Analyzer, text: &str) -> Vec<u32> {
        let mut v: Vec<u32> = analyzer
            .term_set(text)
            .into_iter()
            .map(|t| {
                let n = self.ids.len() as u32;
                *self.ids.entry(t).or_insert(n)
            })
            .collect();
        v.sort_unstable();
        v
    }
}

/// Dice coefficient of two sorted sets: 2 |A ∩ B| / (|A| + |B|); 0 when both are empty.
fn dice(a: &[u32], b: &[u32]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let (mut i, mut j, mut common) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    2.0 * common as f64 / (a.len() + b.len()) as f64
}

/// Block key: family, then grid cell (or the district for offerings without a place).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Cell {
    Grid(i32, i32),
    Unplaced(usize),
}

/// Kilometres per degree at the region's latitude (~53° N); the grid only needs to be right
/// within the region.
const KM_PER_DEG_LAT: f64 = 111.2;
const KM_PER_DEG_LON: f64 = 66.9;

fn cell_of(p: &Prepared<'_>, max_km: f64, district_ix: usize) -> Cell {
    match p.loc {
        Some(c) => Cell::Grid(
            (c.latitude * KM_PER_DEG_LAT / max_km).floor() as i32,
            (c.longitude * KM_PER_DEG_LON / max_km).floor() as i32,
        ),
        None => Cell::Unplaced(district_ix),
    }
}

/// Blocks with more members than this are not compared all with all: a title word that more
/// than this many offerings of one family share in one area ("Integrationskurs" in Oldenburg)
/// says little about which of them are the same offering, and comparing them all is what makes
/// the cost quadratic. Such a block is sorted by target groups, start date and place, and each
/// member is compared with the next [`WINDOW`] (a "sorted neighbourhood").
pub const MAX_BLOCK: usize = 64;

/// How many following members of a sorted oversized block each member is compared with.
pub const WINDOW: usize = 16;

/// The pairs (by index) that blocking lets through to be compared, each once, `i < j`: pairs of
/// one category family in the same or neighbouring grid cells that share a title term (after
/// German normalisation, compound parts included) whose block is not too large.
fn candidate_pairs(prepared: &[Prepared<'_>], max_km: f64) -> (Vec<(usize, usize)>, usize) {
    let mut districts: HashMap<DistrictId, usize> = HashMap::new();
    let mut blocks: HashMap<(u8, Cell, u32), Vec<u32>> = HashMap::new();
    for (i, p) in prepared.iter().enumerate() {
        let n = districts.len();
        let d = *districts.entry(p.o.district_id).or_insert(n);
        let cell = cell_of(p, max_km, d);
        for &term in &p.title {
            blocks
                .entry((p.family, cell, term))
                .or_default()
                .push(i as u32);
        }
    }
    let mut pairs: Vec<u64> = Vec::new();
    let mut push = |i: u32, j: u32| {
        if i != j {
            pairs.push(u64::from(i.min(j)) << 32 | u64::from(i.max(j)));
        }
    };
    // Each neighbouring cell once: the cell itself and the half of its neighbours "after" it.
    const NEIGHBOURS: [(i32, i32); 4] = [(0, 1), (1, -1), (1, 0), (1, 1)];
    let mut oversized = 0;
    for (&(fam, cell, term), members) in &blocks {
        if members.len() > MAX_BLOCK {
            // Too many to compare all: sort by target groups, start date and place, and compare
            // each with the next WINDOW (sorted neighbourhood), so alike offerings that share
            // only a common term are still found when they are alike in these too.
            oversized += 1;
            let mut sorted = members.clone();
            sorted.sort_by_key(|&i| {
                let p = &prepared[i as usize];
                let start = p.window.from.map_or(i32::MIN, |d| d.to_julian_day());
                let lat = p.loc.map_or(0, |c| (c.latitude * 1e4) as i64);
                (p.targets, start, lat)
            });
            for (a, &i) in sorted.iter().enumerate() {
                for &j in sorted.iter().skip(a + 1).take(WINDOW) {
                    push(i, j);
                }
            }
            continue;
        }
        for (a, &i) in members.iter().enumerate() {
            for &j in &members[a + 1..] {
                push(i, j);
            }
        }
        if let Cell::Grid(x, y) = cell {
            for (dx, dy) in NEIGHBOURS {
                let Some(other) = blocks.get(&(fam, Cell::Grid(x + dx, y + dy), term)) else {
                    continue;
                };
                if other.len() > MAX_BLOCK {
                    continue;
                }
                for &i in members {
                    for &j in other {
                        push(i, j);
                    }
                }
            }
        }
    }
    pairs.sort_unstable();
    pairs.dedup();
    let pairs = pairs
        .into_iter()
        .map(|p| ((p >> 32) as usize, (p & 0xffff_ffff) as usize))
        .collect();
    (pairs, oversized)
}

/// Runs the overlaps report over the offerings of the read view.
pub fn overlaps<'a>(
    offerings: impl IntoIterator<Item = &'a Offering>,
    districts: &Districts,
    known: &[KnownOverlap],
    options: &OverlapOptions,
) -> OverlapReport {
    let analyzer = Analyzer::german();
    let mut interner = Interner {
        ids: HashMap::new(),
    };
    let prepared: Vec<Prepared<'a>> = offerings
        .into_iter()
        .filter(|o| o.status != OfferingStatus::Ended)
        .map(|o| Prepared {
            o,
            family: family(o.category),
            targets: target_bits(o),
            loc: location_of(o),
            window: DateWindow::of(o),
            title: interner.set(&analyzer, &o.title),
            description: interner.set(&analyzer, &o.description),
        })
        .collect();
    let (pairs, blocks_oversized) = candidate_pairs(&prepared, options.max_km);
    let pairs_compared = pairs.len();
    let linked: Vec<(usize, usize, f64)> = pairs
        .into_iter()
        .filter_map(|(i, j)| {
            let (score, _) = compare(&prepared[i], &prepared[j], options, false)?;
            (score >= options.min_score).then_some((i, j, score))
        })
        .collect();
    // Groups by centre clustering: pairs by falling score; a pair of two ungrouped offerings
    // starts a group (the first is its centre); an ungrouped offering paired with a centre
    // joins that centre's group; other pairs add nothing. Every member is then linked directly
    // to its centre, so groups do not chain A~B~C~… through the region (single-link grouping
    // put 20,000 generated offerings into 23 groups).
    let mut order: Vec<usize> = (0..linked.len()).collect();
    order.sort_by(|&x, &y| {
        linked[y]
            .2
            .total_cmp(&linked[x].2)
            .then_with(|| (linked[x].0, linked[x].1).cmp(&(linked[y].0, linked[y].1)))
    });
    #[derive(Clone, Copy, PartialEq)]
    enum Role {
        Free,
        Centre,
        Member,
    }
    let mut role = vec![Role::Free; prepared.len()];
    // centre → (members, index of the best pair in `linked`, pairs that joined)
    let mut groups: HashMap<usize, (Vec<usize>, usize, usize)> = HashMap::new();
    for k in order {
        let (i, j) = (linked[k].0, linked[k].1);
        let (centre, other) = match (role[i], role[j]) {
            (Role::Free, Role::Free) => (i, j),
            (Role::Centre, Role::Free) => (i, j),
            (Role::Free, Role::Centre) => (j, i),
            _ => continue,
        };
        role[centre] = Role::Centre;
        role[other] = Role::Member;
        let g = groups.entry(centre).or_insert_with(|| (vec![centre], k, 0));
        g.0.push(other);
        g.2 += 1;
    }
    let mut found: Vec<Overlap> = groups
        .into_values()
        .map(|(members, best, n)| {
            let (i, j, score) = linked[best];
            let reasons = compare(&prepared[i], &prepared[j], options, true)
                .map(|(_, r)| r)
                .unwrap_or_default();
            let offerings: Vec<&Offering> = members.iter().map(|&m| prepared[m].o).collect();
            group(
                offerings,
                (prepared[i].o, prepared[j].o),
                score,
                n,
                reasons,
                districts,
                known,
            )
        })
        .collect();
    found.sort_by(|a, b| {
        a.known
            .is_some()
            .cmp(&b.known.is_some())
            .then(b.score.total_cmp(&a.score))
            .then_with(|| a.offerings.cmp(&b.offerings))
    });
    OverlapReport {
        overlaps: found,
        pairs_compared,
        blocks_oversized,
    }
}

/// Compares two prepared offerings: `None` if a hard rule fails, else the score and reasons.
fn compare(
    a: &Prepared<'_>,
    b: &Prepared<'_>,
    options: &OverlapOptions,
    explain: bool,
) -> Option<(f64, Vec<Reason>)> {
    // Cheap rules first.
    let shared = a.targets & b.targets;
    if shared == 0 || a.family != b.family || !a.window.overlaps(&b.window) {
        return None;
    }
    let km = match (a.loc, b.loc) {
        (Some(x), Some(y)) => {
            let km = distance_km(x, y);
            if km > options.max_km {
                return None;
            }
            Some(km)
        }
        _ if a.o.district_id != b.o.district_id => return None,
        _ => None,
    };
    let (oa, ob) = (a.o, b.o);
    let mut reasons = Vec::new();
    // Reasons are made only when asked for (for each group's best pair): most compared pairs
    // need only their score.
    macro_rules! note {
        ($reason:expr) => {
            if explain {
                reasons.push($reason)
            }
        };
    }

    let category = if oa.category == ob.category {
        note!(Reason::SameCategory {
            category: oa.category,
        });
        1.0
    } else {
        note!(Reason::RelatedCategory {
            categories: [oa.category, ob.category],
        });
        0.6
    };

    let shared_groups = || -> Vec<TargetGroup> {
        if shared == u16::MAX {
            vec![TargetGroup::All]
        } else {
            TargetGroup::ALL
                .iter()
                .copied()
                .filter(|t| t.number() < 16 && shared & (1 << t.number()) != 0)
                .collect()
        }
    };
    let union = (a.targets | b.targets).count_ones().max(1) as f64;
    let targets = if shared == u16::MAX {
        1.0
    } else if a.targets == u16::MAX || b.targets == u16::MAX {
        0.7
    } else {
        shared.count_ones() as f64 / union
    };
    note!(Reason::SharedTargetGroups {
        target_groups: shared_groups(),
    });

    let from = max_date(a.window.from, b.window.from);
    let to = min_date(a.window.to, b.window.to);
    if a.window == DateWindow::default() && b.window == DateWindow::default() {
        note!(Reason::BothOngoing);
    } else {
        note!(Reason::OverlappingTime {
            from: from.map(kreisnetz_model::format_date),
            to: to.map(kreisnetz_model::format_date),
        });
    }

    let closeness = match km {
        Some(km) => {
            if municipality_key(&oa.municipality) == municipality_key(&ob.municipality) {
                note!(Reason::SameMunicipality {
                    municipality: oa.municipality.clone(),
                });
            } else {
                note!(Reason::Nearby {
                    km: (km * 10.0).round() / 10.0,
                });
            }
            1.0 - km / options.max_km
        }
        None => 0.5,
    };

    let title_sim = dice(&a.title, &b.title);
    let text = if a.description.is_empty() || b.description.is_empty() {
        title_sim
    } else {
        let desc_sim = dice(&a.description, &b.description);
        if desc_sim >= 0.2 {
            note!(Reason::SimilarDescription {
                similarity: round2(desc_sim),
            });
        }
        0.5 * title_sim + 0.5 * desc_sim
    };
    if title_sim > 0.0 {
        note!(Reason::SimilarTitle {
            similarity: round2(title_sim),
        });
    }

    let mut score = 0.1 * category + 0.1 * targets + 0.1 * closeness + 0.7 * text;
    match (oa.language_level, ob.language_level) {
        (Some(x), Some(y)) if x == y => {
            note!(Reason::SameLevel { level: x });
            score += 0.05;
        }
        (Some(x), Some(y)) => {
            note!(Reason::DifferentLevel { levels: [x, y] });
            score *= 0.5;
        }
        _ => {}
    }
    match (oa.format, ob.format) {
        (Some(x), Some(y)) if x == y => note!(Reason::SameFormat { format: x }),
        (Some(x), Some(y)) => {
            note!(Reason::DifferentFormat { formats: [x, y] });
            if x != OfferingFormat::Hybrid && y != OfferingFormat::Hybrid {
                score *= 0.8;
            }
        }
        _ => {}
    }
    match (oa.childcare, ob.childcare) {
        (Some(true), Some(true)) => note!(Reason::BothWithChildcare),
        (Some(x), Some(y)) if x != y => {
            note!(Reason::ChildcareAtOneOnly);
            score *= 0.85;
        }
        _ => {}
    }
    match (oa.barrier_free, ob.barrier_free) {
        (Some(true), Some(true)) => note!(Reason::BothBarrierFree),
        (Some(x), Some(y)) if x != y => {
            note!(Reason::BarrierFreeAtOneOnly);
            score *= 0.95;
        }
        _ => {}
    }
    Some((round2(score.clamp(0.0, 1.0)), reasons))
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn max_date(a: Option<Date>, b: Option<Date>) -> Option<Date> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

fn min_date(a: Option<Date>, b: Option<Date>) -> Option<Date> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

fn group(
    mut offerings: Vec<&Offering>,
    best: (&Offering, &Offering),
    score: f64,
    linked_pairs: usize,
    reasons: Vec<Reason>,
    districts: &Districts,
    known: &[KnownOverlap],
) -> Overlap {
    offerings.sort_by_key(|o| (o.district_id, o.id));
    offerings.dedup_by_key(|o| (o.district_id, o.id));
    let names: Vec<String> = offerings
        .iter()
        .map(|o| resource_name(&o.district_id, RecordKind::Offering, &o.id))
        .collect();
    let known = known
        .iter()
        .find(|k| names.iter().all(|n| k.offerings.contains(n)))
        .cloned();
    let mut explanation = explain(best.0, best.1, score, &reasons);
    if names.len() > 2 {
        explanation.push_str(&format!(
            "; a group of {} offerings, each alike with the first ({linked_pairs} pairs)",
            names.len()
        ));
    }
    Overlap {
        titles: offerings.iter().map(|o| o.title.clone()).collect(),
        district_names: offerings
            .iter()
            .map(|o| districts.name(&o.district_id))
            .collect(),
        offerings: names,
        score,
        linked_pairs,
        reasons,
        explanation,
        known,
    }
}

/// The reasons as an English sentence, e.g. "both language_course for women, Cloppenburg and
/// Emstek 7.3 km apart, overlapping 2027-02-01 to 2027-07-31, titles 0.80 similar".
pub fn explain(a: &Offering, b: &Offering, score: f64, reasons: &[Reason]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut groups = String::new();
    for r in reasons {
        if let Reason::SharedTargetGroups { target_groups } = r {
            let keys: Vec<&str> = target_groups.iter().map(|t| t.key()).collect();
            groups = format!(" for {}", keys.join(" and "));
        }
    }
    for r in reasons {
        let text = match r {
            Reason::SameCategory { category } => format!("both {category}{groups}"),
            Reason::RelatedCategory { categories } => {
                format!("{} and {}{groups}", categories[0], categories[1])
            }
            Reason::SharedTargetGroups { .. } => continue,
            Reason::OverlappingTime { from, to } => format!(
                "running at the same time ({} to {})",
                from.as_deref().unwrap_or("open"),
                to.as_deref().unwrap_or("open")
            ),
            Reason::BothOngoing => "both ongoing".into(),
            Reason::SameMunicipality { municipality } => format!("both in {municipality}"),
            Reason::Nearby { km } => {
                format!("{} and {} {km:.1} km apart", a.municipality, b.municipality)
            }
            Reason::SimilarTitle { similarity } => format!("titles {similarity:.2} similar"),
            Reason::SimilarDescription { similarity } => {
                format!("descriptions {similarity:.2} similar")
            }
            Reason::SameLevel { level } => format!("both level {}", level.key().to_uppercase()),
            Reason::DifferentLevel { levels } => format!(
                "but levels {} and {}",
                levels[0].key().to_uppercase(),
                levels[1].key().to_uppercase()
            ),
            Reason::SameFormat { format } => format!("both {format}"),
            Reason::DifferentFormat { formats } => {
                format!("but {} and {}", formats[0], formats[1])
            }
            Reason::BothWithChildcare => "both with childcare".into(),
            Reason::ChildcareAtOneOnly => "but childcare at one only".into(),
            Reason::BothBarrierFree => "both barrier-free".into(),
            Reason::BarrierFreeAtOneOnly => "but barrier-free at one only".into(),
        };
        parts.push(text);
    }
    format!("{} (score {score:.2})", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{district, offering};
    use kreisnetz_model::parse_date;

    fn report(list: &[&Offering]) -> OverlapReport {
        overlaps(
            list.iter().copied(),
            &Districts::default(),
            &[],
            &OverlapOptions::default(),
        )
    }

    fn reasons_of(a: &Offering, b: &Offering) -> Vec<Reason> {
        let r = overlaps(
            [a, b],
            &Districts::default(),
            &[],
            &OverlapOptions {
                min_score: 0.0,
                ..OverlapOptions::default()
            },
        );
        r.overlaps
            .first()
            .map(|o| o.reasons.clone())
            .unwrap_or_default()
    }

    fn pair() -> (Offering, Offering) {
        let mut a = offering(
            "Deutschkurs für Frauen",
            Category::LanguageCourse,
            "Cloppenburg",
        );
        a.description = "Sprachkurs A2 mit Kinderbetreuung".into();
        a.target_groups = [TargetGroup::Women, TargetGroup::Refugees].into();
        let mut b = offering("Sprachkurs für Frauen", Category::LanguageCourse, "Emstek");
        b.description = "Deutschkurs A2, Kinder werden betreut".into();
        b.target_groups = [TargetGroup::Women].into();
        b.district_id = district("Landkreis Cloppenburg");
        (a, b)
    }

    #[test]
    fn a_differently_worded_pair_nearby_is_found_with_its_reasons() {
        let (a, b) = pair();
        let r = report(&[&a, &b]);
        assert_eq!(r.overlaps.len(), 1, "{r:#?}");
        let o = &r.overlaps[0];
        assert!(o.score >= 0.5 && o.score <= 1.0);
        assert!(o.reasons.contains(&Reason::SameCategory {
            category: Category::LanguageCourse
        }));
        assert!(o.reasons.contains(&Reason::SharedTargetGroups {
            target_groups: vec![TargetGroup::Women]
        }));
        assert!(o.reasons.contains(&Reason::BothOngoing));
        assert!(
            o.reasons
                .iter()
                .any(|r| matches!(r, Reason::Nearby { km } if (5.0..10.0).contains(km)))
        );
        assert!(
            o.reasons
                .iter()
                .any(|r| matches!(r, Reason::SimilarTitle { similarity } if *similarity >= 0.5))
        );
        assert!(o.known.is_none());
        let json = serde_json::to_value(o).unwrap();
        assert_eq!(json["reasons"][0]["code"], "same_category");
        assert!(
            json["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["code"] == "nearby" && r["km"].is_number())
        );
        assert!(o.explanation.contains("km apart"), "{}", o.explanation);
        let whole = serde_json::to_value(&r).unwrap();
        let first = &whole["overlaps"][0];
        assert_eq!(first["offerings"].as_array().unwrap().len(), 2);
        assert!(first["score"].is_number() && first["explanation"].is_string());
        assert!(first["known"].is_null());
        let csv = r.to_csv(crate::csv::CsvStyle::GermanExcel);
        assert!(csv.contains("same_category"), "{csv}");
        assert!(csv.lines().count() == 2, "{csv}");
    }

    #[test]
    fn each_hard_rule_keeps_a_pair_apart() {
        let (a, b) = pair();
        let mut other_group = b.clone();
        other_group.target_groups = [TargetGroup::Youth].into();
        let mut far = b.clone();
        far.municipality = "Wilhelmshaven".into();
        let mut other_time = b.clone();
        other_time.start_date = Some(parse_date("2025-01-01").unwrap());
        other_time.end_date = Some(parse_date("2025-06-30").unwrap());
        let mut dated = a.clone();
        dated.start_date = Some(parse_date("2026-01-01").unwrap());
        let mut unrelated = b.clone();
        unrelated.category = Category::Housing;
        let mut ended = b.clone();
        ended.status = OfferingStatus::Ended;
        for (what, x, y) in [
            ("target group", &a, &other_group),
            ("distance", &a, &far),
            ("time", &dated, &other_time),
            ("category", &a, &unrelated),
            ("ended", &a, &ended),
        ] {
            assert!(report(&[x, y]).overlaps.is_empty(), "{what}");
        }
    }

    #[test]
    fn related_categories_time_and_the_need_fields_are_reasons() {
        let (mut a, mut b) = pair();
        b.category = Category::IntegrationCourse;
        a.start_date = Some(parse_date("2027-02-01").unwrap());
        a.end_date = Some(parse_date("2027-07-31").unwrap());
        b.start_date = Some(parse_date("2027-05-01").unwrap());
        a.language_level = Some(LanguageLevel::A2);
        b.language_level = Some(LanguageLevel::A2);
        a.format = Some(OfferingFormat::InPerson);
        b.format = Some(OfferingFormat::InPerson);
        a.childcare = Some(true);
        b.childcare = Some(true);
        a.barrier_free = Some(true);
        b.barrier_free = Some(true);
        let r = reasons_of(&a, &b);
        for want in [
            Reason::RelatedCategory {
                categories: [Category::LanguageCourse, Category::IntegrationCourse],
            },
            Reason::OverlappingTime {
                from: Some("2027-05-01".into()),
                to: Some("2027-07-31".into()),
            },
            Reason::SameLevel {
                level: LanguageLevel::A2,
            },
            Reason::SameFormat {
                format: OfferingFormat::InPerson,
            },
            Reason::BothWithChildcare,
            Reason::BothBarrierFree,
        ] {
            assert!(
                r.contains(&want)
                    || r.iter().any(|x| matches!(
                        (x, &want),
                        (
                            Reason::RelatedCategory { .. },
                            Reason::RelatedCategory { .. }
                        )
                    )),
                "{want:?} not in {r:?}"
            );
        }
        let same_place = {
            let mut c = a.clone();
            c.id = kreisnetz_model::RecordId::new_random();
            c
        };
        assert!(
            reasons_of(&a, &same_place).contains(&Reason::SameMunicipality {
                municipality: "Cloppenburg".into()
            })
        );
    }

    #[test]
    fn the_need_fields_lower_the_score_when_they_differ() {
        let (a, b) = pair();
        let score = |a: &Offering, b: &Offering| {
            overlaps(
                [a, b],
                &Districts::default(),
                &[],
                &OverlapOptions {
                    min_score: 0.0,
                    ..OverlapOptions::default()
                },
            )
            .overlaps[0]
                .score
        };
        let base = score(&a, &b);
        let (mut a2, mut b2) = (a.clone(), b.clone());
        a2.language_level = Some(LanguageLevel::A1);
        b2.language_level = Some(LanguageLevel::B2);
        assert!(score(&a2, &b2) < base * 0.6);
        assert!(
            reasons_of(&a2, &b2).contains(&Reason::DifferentLevel {
                levels: [LanguageLevel::A1, LanguageLevel::B2]
            }) || reasons_of(&a2, &b2).contains(&Reason::DifferentLevel {
                levels: [LanguageLevel::B2, LanguageLevel::A1]
            })
        );
        let (mut a3, mut b3) = (a.clone(), b.clone());
        a3.format = Some(OfferingFormat::Online);
        b3.format = Some(OfferingFormat::InPerson);
        a3.childcare = Some(true);
        b3.childcare = Some(false);
        a3.barrier_free = Some(true);
        b3.barrier_free = Some(false);
        assert!(score(&a3, &b3) < base);
        let r = reasons_of(&a3, &b3);
        assert!(
            r.iter()
                .any(|x| matches!(x, Reason::DifferentFormat { .. }))
        );
        assert!(
            r.contains(&Reason::ChildcareAtOneOnly) && r.contains(&Reason::BarrierFreeAtOneOnly)
        );
    }

    #[test]
    fn known_overlaps_are_listed_after_new_ones() {
        let (a, b) = pair();
        let (mut c, mut d) = pair();
        c.municipality = "Wilhelmshaven".into();
        d.municipality = "Wilhelmshaven".into();
        let name = |o: &Offering| resource_name(&o.district_id, RecordKind::Offering, &o.id);
        let mark = KnownOverlap {
            offerings: vec![name(&a), name(&b)],
            note: "not a duplicate: different language levels".into(),
            marked_by: a.district_id,
        };
        let r = overlaps(
            [&a, &b, &c, &d],
            &Districts::default(),
            std::slice::from_ref(&mark),
            &OverlapOptions::default(),
        );
        assert_eq!(r.overlaps.len(), 2);
        assert!(r.overlaps[0].known.is_none());
        assert_eq!(r.overlaps[1].known.as_ref(), Some(&mark));
    }

    #[test]
    fn blocking_compares_neighbours_and_skips_other_families_and_far_places() {
        let mk = |m: &str, c: Category| offering("Kurs", c, m);
        let list = [
            mk("Cloppenburg", Category::LanguageCourse),   // 0
            mk("Emstek", Category::IntegrationCourse),     // 1: same family, 7 km
            mk("Cloppenburg", Category::Housing),          // 2: other family
            mk("Wilhelmshaven", Category::LanguageCourse), // 3: 76 km
            mk("Vechta", Category::LanguageCourse),        // 4: ~21 km, a neighbouring cell
        ];
        let an = Analyzer::german();
        let mut interner = Interner {
            ids: HashMap::new(),
        };
        let prepared: Vec<Prepared<'_>> = list
            .iter()
            .map(|o| Prepared {
                o,
                family: family(o.category),
                targets: target_bits(o),
                loc: location_of(o),
                window: DateWindow::of(o),
                title: interner.set(&an, &o.title),
                description: Vec::new(),
            })
            .collect();
        let pairs: std::collections::BTreeSet<(usize, usize)> =
            candidate_pairs(&prepared, 30.0).0.into_iter().collect();
        for must in [(0, 1), (0, 4), (1, 4)] {
            assert!(pairs.contains(&must), "{must:?} in {pairs:?}");
        }
        for never in [(0, 2), (1, 2), (0, 3), (3, 4), (2, 3)] {
            assert!(!pairs.contains(&never), "{never:?} in {pairs:?}");
        }
        assert_eq!(
            pairs.len(),
            candidate_pairs(&prepared, 30.0).0.len(),
            "each pair once"
        );
    }

    #[test]
    fn an_oversized_block_is_compared_in_a_sorted_window_not_all_with_all() {
        let n = MAX_BLOCK * 3;
        let list: Vec<Offering> = (0..n)
            .map(|_| offering("Integrationskurs", Category::IntegrationCourse, "Vechta"))
            .collect();
        let r = report(&list.iter().collect::<Vec<_>>());
        assert!(r.blocks_oversized >= 1);
        assert!(
            r.pairs_compared <= n * WINDOW,
            "{} pairs for {n} offerings",
            r.pairs_compared
        );
        // All alike: every offering is in a group, each around a centre it was compared with.
        let grouped: usize = r.overlaps.iter().map(|o| o.offerings.len()).sum();
        assert_eq!(grouped, n);
        assert!(
            r.overlaps
                .iter()
                .all(|o| o.offerings.len() <= 2 * WINDOW + 1)
        );
    }
}
