use std::collections::{BTreeSet, HashSet};

use kreisnetz_model::{Category, DistrictId, RecordId, Timestamp};

use super::*;
use crate::region::{LOCALS, centre_of};

fn id_of(d: &RegionDistrict) -> DistrictId {
    DistrictId::from_public_key(d.name.as_bytes())
}

/// 2026-11-25T12:00:00Z.
const NOW: Timestamp = Timestamp(1_795_608_000_000);

fn sample(d: &RegionDistrict, seed: u64) -> SampleSet {
    district_sample(d, id_of(d), seed, NOW)
}

#[test]
fn the_region_has_nine_districts_with_distinct_keys_and_official_ags() {
    assert_eq!(WESER_EMS.len(), 9);
    let keys: HashSet<_> = WESER_EMS.iter().map(|d| d.key).collect();
    let ags: HashSet<_> = WESER_EMS.iter().map(|d| d.ags).collect();
    assert_eq!(keys.len(), 9);
    assert_eq!(ags.len(), 9);
    for d in WESER_EMS {
        assert!(
            d.ags.len() == 5 && d.ags.bytes().all(|b| b.is_ascii_digit()),
            "{}",
            d.ags
        );
        assert!(
            d.ags.starts_with("034"),
            "{} is in Lower Saxony, Weser-Ems",
            d.name
        );
        assert!(
            d.key.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
            "{}",
            d.key
        );
        assert_eq!(
            d.municipalities.first(),
            Some(&d.seat),
            "{}: seat first",
            d.name
        );
    }
    assert_eq!(WESER_EMS.iter().filter(|d| d.is_city()).count(), 3);
    assert_eq!(find_district("vechta").unwrap().ags, "03460");
}

#[test]
fn municipalities_have_postal_codes_centres_and_organisations() {
    let mut all_postal = HashSet::new();
    for d in WESER_EMS {
        if d.is_city() {
            assert_eq!(d.municipalities.len(), 1, "{}", d.name);
        } else {
            assert_eq!(d.municipalities.len(), d.postal_codes.len(), "{}", d.name);
        }
        for m in d.municipalities {
            assert!(centre_of(m).is_some(), "{m} has no centre");
            assert!(!d.postal_codes_of(m).is_empty(), "{m}");
        }
        for p in d.postal_codes {
            assert!(p.len() == 5 && p.bytes().all(|b| b.is_ascii_digit()), "{p}");
            assert!(all_postal.insert(*p), "{p} twice");
        }
        let local = LOCALS
            .iter()
            .find(|l| l.key == d.key)
            .expect("organisations for every district");
        let (office_town, _, office_postal) = local.office;
        assert!(
            d.postal_codes_of(office_town).contains(&office_postal),
            "{}",
            d.name
        );
        for (_, town) in local.bbs {
            assert!(d.municipalities.contains(town), "{town} in {}", d.name);
        }
    }
    assert_eq!(LOCALS.len(), 9);
}

#[test]
fn find_district_accepts_keys_names_and_bare_names() {
    for spelling in [
        "vechta",
        "Vechta",
        "Landkreis Vechta",
        "LANDKREIS VECHTA",
        "  vechta ",
        "LK Vechta",
    ] {
        assert_eq!(
            find_district(spelling).map(|d| d.key),
            Some("vechta"),
            "{spelling}"
        );
    }
    for spelling in [
        "oldenburg-stadt",
        "Oldenburg Stadt",
        "Stadt Oldenburg (Oldb)",
        "Oldenburg (Oldb)",
        "oldenburg (oldb)",
        "Stadt Oldenburg",
    ] {
        assert_eq!(
            find_district(spelling).map(|d| d.key),
            Some("oldenburg-stadt"),
            "{spelling}"
        );
    }
    for spelling in [
        "oldenburg-land",
        "Landkreis Oldenburg",
        "Oldenburg",
        "Kreis Oldenburg",
    ] {
        assert_eq!(
            find_district(spelling).map(|d| d.key),
            Some("oldenburg-land"),
            "{spelling}"
        );
    }
    assert_eq!(
        find_district("Stadt Delmenhorst").map(|d| d.key),
        Some("delmenhorst")
    );
    assert_eq!(
        find_district("wilhelmshaven").map(|d| d.key),
        Some("wilhelmshaven")
    );
    assert_eq!(
        find_district("Wesermarsch").map(|d| d.key),
        Some("wesermarsch")
    );
    for d in WESER_EMS {
        assert_eq!(find_district(d.key), Some(d));
        assert_eq!(find_district(d.name), Some(d));
        assert_eq!(find_district(d.bare_name()), Some(d));
    }
    for unknown in [
        "",
        "  ",
        "Emsland",
        "Bremen",
        "Stadt Vechta",
        "Landkreis Delmenhorst",
    ] {
        assert_eq!(find_district(unknown), None, "{unknown}");
    }
}

#[test]
fn every_sample_record_is_valid_and_belongs_to_its_district() {
    for d in WESER_EMS {
        let set = sample(d, 7);
        let district_id = id_of(d);
        assert_eq!(set.contacts.len(), 12, "{}", d.name);
        assert!(
            (28..=36).contains(&set.offerings.len()),
            "{}: {}",
            d.name,
            set.offerings.len()
        );
        for c in &set.contacts {
            c.validate()
                .unwrap_or_else(|v| panic!("{}: contact {}: {v}", d.name, c.display_name));
            assert_eq!(c.district_id, district_id);
            assert!(c.create_time <= c.update_time && c.update_time <= NOW);
        }
        for o in &set.offerings {
            o.validate()
                .unwrap_or_else(|v| panic!("{}: offering {}: {v}", d.name, o.title));
            assert_eq!(o.district_id, district_id);
            assert!(o.create_time <= o.update_time && o.update_time <= NOW);
            assert!(
                d.municipalities.contains(&o.municipality.as_str()),
                "{}: {}",
                d.name,
                o.municipality
            );
            assert!(
                o.postal_code.is_empty()
                    || d.postal_codes_of(&o.municipality)
                        .contains(&o.postal_code.as_str()),
                "{}: {} {}",
                d.name,
                o.postal_code,
                o.municipality
            );
            assert!(o.coordinates.is_some(), "{}", o.title);
            assert!(o.start_date.is_some(), "{}", o.title);
            assert!(
                !o.languages.is_empty() && o.provider_kind.is_some(),
                "{}",
                o.title
            );
            assert!(
                o.url.starts_with("https://") && o.url.contains(".example.org/"),
                "{}",
                o.url
            );
        }
        let titles: HashSet<_> = set.offerings.iter().map(|o| &o.title).collect();
        assert_eq!(
            titles.len(),
            set.offerings.len(),
            "{}: titles repeat",
            d.name
        );
    }
}

#[test]
fn nearly_every_category_occurs_in_every_district() {
    for d in WESER_EMS {
        let set = sample(d, 1);
        let seen: BTreeSet<Category> = set.offerings.iter().map(|o| o.category).collect();
        assert!(
            seen.len() >= Category::ALL.len() - 1,
            "{}: {seen:?}",
            d.name
        );
    }
}

#[test]
fn offerings_reference_one_or_two_contacts_of_their_set() {
    for d in WESER_EMS {
        let set = sample(d, 3);
        let contacts: HashSet<RecordId> = set.contacts.iter().map(|c| c.id).collect();
        assert_eq!(contacts.len(), set.contacts.len());
        let mut referenced = HashSet::new();
        for o in &set.offerings {
            assert!(o.contact_ids.len() <= 2, "{}", o.title);
            for id in &o.contact_ids {
                assert!(
                    contacts.contains(id),
                    "{}: {} refers to a stranger",
                    d.name,
                    o.title
                );
                referenced.insert(*id);
            }
        }
        assert_eq!(
            referenced, contacts,
            "{}: every contact is somebody's contact",
            d.name
        );
    }
}

#[test]
fn people_are_invented_and_reachable_only_in_fiction() {
    let mut names = HashSet::new();
    for d in WESER_EMS {
        for seed in [0, 1, 99] {
            let set = sample(d, seed);
            let in_set: HashSet<_> = set.contacts.iter().map(|c| &c.display_name).collect();
            assert_eq!(
                in_set.len(),
                set.contacts.len(),
                "names repeat within a set"
            );
            for c in &set.contacts {
                names.insert(c.display_name.clone());
                assert!(
                    c.email.ends_with("example.org") && is_example_email(&c.email),
                    "{}",
                    c.email
                );
                assert!(c.email.is_ascii(), "{}", c.email);
                assert!(
                    c.phone.is_empty() || is_fictional_phone_number(&c.phone),
                    "{}",
                    c.phone
                );
                assert!(!c.languages.is_empty());
            }
        }
    }
    assert!(names.len() > 50, "names vary: {}", names.len());
    let phones: Vec<String> = WESER_EMS
        .iter()
        .flat_map(|d| sample(d, 5).contacts)
        .map(|c| c.phone)
        .collect();
    assert!(
        phones.iter().filter(|p| !p.is_empty()).count() > phones.len() / 2,
        "most contacts have a phone"
    );
}

#[test]
fn district_specifics_from_the_position_paper_appear() {
    let titles = |key: &str| -> Vec<String> {
        sample(find_district(key).unwrap(), 0)
            .offerings
            .into_iter()
            .map(|o| o.title)
            .collect()
    };
    assert!(
        titles("vechta")
            .iter()
            .any(|t| t.contains("Koordinierungsstab"))
    );
    assert!(
        titles("cloppenburg")
            .iter()
            .any(|t| t.contains("Arbeitsgruppe Geflüchtete"))
    );
    assert!(
        titles("cloppenburg")
            .iter()
            .any(|t| t.contains("geflüchtete Frauen"))
    );
    assert!(
        titles("oldenburg-stadt")
            .iter()
            .any(|t| t.contains("Oldenburger Netzwerk"))
    );
    let vechta = sample(find_district("vechta").unwrap(), 0);
    assert!(
        vechta
            .offerings
            .iter()
            .any(|o| o.provider == "pro:connect e.V.")
    );
    assert!(
        vechta
            .offerings
            .iter()
            .any(|o| o.provider == "Oldenburgische IHK")
    );
    assert!(vechta.offerings.iter().any(|o| o.title.contains("SPRINT")));
}

#[test]
fn the_same_seed_gives_the_same_data_and_another_seed_other_ids() {
    let d = find_district("friesland").unwrap();
    assert_eq!(sample(d, 42), sample(d, 42));
    let a = sample(d, 42);
    let b = sample(d, 43);
    let ids = |s: &SampleSet| -> HashSet<RecordId> {
        s.offerings
            .iter()
            .map(|o| o.id)
            .chain(s.contacts.iter().map(|c| c.id))
            .collect()
    };
    assert_eq!(ids(&a).len(), a.offerings.len() + a.contacts.len());
    assert!(ids(&a).is_disjoint(&ids(&b)));
    assert_ne!(a.contacts[0].display_name, b.contacts[0].display_name);

    // Same seed in two districts: no shared IDs either.
    let other = sample(find_district("vechta").unwrap(), 42);
    assert!(ids(&a).is_disjoint(&ids(&other)));

    let g = |seed| generated_offerings(d, id_of(d), 50, seed, NOW);
    assert_eq!(g(1), g(1));
    let ga: HashSet<RecordId> = g(1).iter().map(|o| o.id).collect();
    let gb: HashSet<RecordId> = g(2).iter().map(|o| o.id).collect();
    assert!(ga.is_disjoint(&gb));
}

#[test]
fn statuses_follow_the_dates() {
    use kreisnetz_model::OfferingStatus as S;
    let d = find_district("ammerland").unwrap();
    let before = district_sample(d, id_of(d), 3, Timestamp(1_735_689_600_000)); // 2025-01-01
    assert!(before.offerings.iter().all(|o| o.status == S::Planned));
    let after = district_sample(d, id_of(d), 3, Timestamp(1_893_456_000_000)); // 2030-01-01
    assert!(after.offerings.iter().any(|o| o.status == S::Ended));
    assert!(
        after
            .offerings
            .iter()
            .filter(|o| o.status == S::Ended)
            .all(|o| o.places_free == Some(0) || o.places_free.is_none())
    );
    let mut seen = HashSet::new();
    for d in WESER_EMS {
        seen.extend(sample(d, 11).offerings.iter().map(|o| o.status));
    }
    assert!(
        seen.contains(&S::Active) && seen.contains(&S::Planned) && seen.contains(&S::Paused),
        "{seen:?}"
    );
}

#[test]
fn generated_offerings_are_many_distinct_and_valid() {
    for d in WESER_EMS {
        let district_id = id_of(d);
        let offerings = generated_offerings(d, district_id, 1000, 9, NOW);
        assert_eq!(offerings.len(), 1000);
        let ids: HashSet<_> = offerings.iter().map(|o| o.id).collect();
        let titles: HashSet<_> = offerings.iter().map(|o| &o.title).collect();
        let descriptions: HashSet<_> = offerings.iter().map(|o| &o.description).collect();
        assert_eq!(ids.len(), 1000);
        assert_eq!(titles.len(), 1000);
        assert!(descriptions.len() > 500, "{}", descriptions.len());
        let mut chars = 0;
        for o in &offerings {
            o.validate().unwrap_or_else(|v| panic!("{}: {v}", o.title));
            assert!(o.contact_ids.is_empty());
            assert_eq!(o.district_id, district_id);
            assert!(d.municipalities.contains(&o.municipality.as_str()));
            chars += o.description.chars().count();
        }
        let mean = chars / offerings.len();
        assert!(
            (150..=260).contains(&mean),
            "mean description length {mean}"
        );
    }
    assert!(generated_offerings(&WESER_EMS[0], id_of(&WESER_EMS[0]), 0, 1, NOW).is_empty());
}

#[test]
fn a_district_outside_the_region_still_gets_valid_data() {
    let d = RegionDistrict {
        key: "leer",
        name: "Landkreis Leer",
        ags: "03457",
        seat: "Leer (Ostfriesland)",
        municipalities: &["Leer (Ostfriesland)", "Moormerland"],
        postal_codes: &["26789", "26802"],
    };
    let set = district_sample(&d, id_of(&d), 1, NOW);
    for o in &set.offerings {
        o.validate().unwrap();
        assert!(d.municipalities.contains(&o.municipality.as_str()));
    }
    for c in &set.contacts {
        c.validate().unwrap();
    }
    for o in generated_offerings(&d, id_of(&d), 100, 1, NOW) {
        o.validate().unwrap();
    }
}

#[test]
fn some_offerings_have_no_contact_and_some_courses_were_never_closed() {
    use kreisnetz_model::OfferingStatus as S;
    let today = crate::common::date_of(NOW);
    let (mut uncontacted, mut lapsed) = (0, 0);
    for d in WESER_EMS {
        let set = sample(d, 1);
        uncontacted += set
            .offerings
            .iter()
            .filter(|o| o.contact_ids.is_empty())
            .count();
        lapsed += set
            .offerings
            .iter()
            .filter(|o| o.status == S::Active && o.end_date.is_some_and(|e| e < today))
            .count();
    }
    assert!((5..=15).contains(&uncontacted), "{uncontacted}");
    assert!((5..=15).contains(&lapsed), "{lapsed}");
}

#[test]
fn updates_are_spread_over_months_and_some_districts_keep_up_better() {
    const DAY: i64 = 86_400_000;
    let share_recent = |key: &str| {
        let set = sample(find_district(key).unwrap(), 1);
        let recent = set
            .offerings
            .iter()
            .filter(|o| o.update_time.0 >= NOW.0 - 90 * DAY)
            .count();
        recent as f64 / set.offerings.len() as f64
    };
    assert!(share_recent("vechta") > share_recent("wilhelmshaven") + 0.3);
    let set = sample(find_district("friesland").unwrap(), 1);
    let ages: BTreeSet<i64> = set
        .offerings
        .iter()
        .map(|o| (NOW.0 - o.update_time.0) / (30 * DAY))
        .collect();
    assert!(ages.len() >= 6, "months since the last update: {ages:?}");
}

#[test]
fn the_need_fields_are_set_where_they_make_sense() {
    use kreisnetz_model::{LanguageLevel, OfferingFormat};
    for d in WESER_EMS {
        for o in sample(d, 1).offerings {
            assert_eq!(
                o.language_level.is_some(),
                o.category.has_language_level(),
                "{}",
                o.title
            );
            assert!(o.format.is_some(), "{}", o.title);
            if o.title.contains("Kinderbetreuung") {
                assert_eq!(o.childcare, Some(true), "{}", o.title);
            }
            if o.title.contains("B2") && o.category.has_language_level() {
                assert_eq!(o.language_level, Some(LanguageLevel::B2), "{}", o.title);
            }
            if o.provider == "Oldenburgische IHK" && o.category != Category::Other {
                assert_eq!(o.format, Some(OfferingFormat::Hybrid), "{}", o.title);
            }
        }
    }
    let all: Vec<_> = WESER_EMS
        .iter()
        .flat_map(|d| sample(d, 1).offerings)
        .collect();
    assert!(all.iter().any(|o| o.barrier_free == Some(true)));
    assert!(all.iter().any(|o| o.barrier_free == Some(false)));
    assert!(all.iter().any(|o| o.childcare == Some(false)));
    for format in OfferingFormat::ALL {
        assert!(all.iter().any(|o| o.format == Some(*format)), "{format}");
    }
}

#[test]
fn districts_word_the_same_services_differently() {
    let titles: Vec<BTreeSet<String>> = WESER_EMS
        .iter()
        .map(|d| {
            sample(d, 1)
                .offerings
                .into_iter()
                .map(|o| o.title)
                .collect()
        })
        .collect();
    let all: BTreeSet<&String> = titles.iter().flatten().collect();
    let total: usize = titles.iter().map(|t| t.len()).sum();
    assert!(
        all.len() * 2 > total,
        "{} distinct of {total} titles",
        all.len()
    );
    // Delmenhorst and Landkreis Oldenburg are neighbours: they word their MBE differently.
    let mbe = |key: &str| {
        sample(find_district(key).unwrap(), 1)
            .offerings
            .into_iter()
            .find(|o| o.category == Category::MigrationCounselling)
            .unwrap()
            .title
    };
    assert_ne!(mbe("delmenhorst"), mbe("oldenburg-land"));
}
