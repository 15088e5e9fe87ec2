//! Seeing the region end to end: three linked districts write their offerings through the API;
//! a coordinator on one node asks through `kreisnetzctl` for the reports (overlaps, gaps,
//! stale, coverage) over all three, in table, `--json` and `--csv` form.
use kreisnetz_proto::v1;
use serde_json::Value;

use crate::federation::link;
use crate::harness::*;

const VECHTA: &str = "Landkreis Vechta";
const CLOPPENBURG: &str = "Landkreis Cloppenburg";
const OLDENBURG: &str = "Landkreis Oldenburg";

fn offering(
    title: &str,
    description: &str,
    category: v1::Category,
    groups: &[v1::TargetGroup],
    municipality: &str,
    dates: (&str, &str),
    free: u32,
) -> v1::Offering {
    v1::Offering {
        title: title.into(),
        description: description.into(),
        category: category as i32,
        target_groups: groups.iter().map(|&g| g as i32).collect(),
        provider: format!("Bildungswerk {municipality}"),
        provider_kind: v1::ProviderKind::Association as i32,
        municipality: municipality.into(),
        languages: vec!["de".into()],
        start_date: dates.0.into(),
        end_date: dates.1.into(),
        places_total: Some(12),
        places_free: Some(free),
        status: v1::OfferingStatus::Active as i32,
        ..Default::default()
    }
}

async fn create(node: &TestNode, o: v1::Offering) -> v1::Offering {
    node.offerings()
        .await
        .create_offering(v1::CreateOfferingRequest {
            offering: Some(o),
            offering_id: String::new(),
        })
        .await
        .expect("create")
        .into_inner()
}

/// Runs kreisnetzctl and returns stdout; panics with stderr unless it exits 0.
fn ctl_ok(node: &TestNode, args: &[&str]) -> String {
    let out = node.ctl(args);
    assert!(
        out.status.success(),
        "kreisnetzctl {args:?} exited {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

fn ctl_json(node: &TestNode, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    serde_json::from_str(&ctl_ok(node, &all)).expect("JSON output")
}

/// Three districts in a line (Cloppenburg – Vechta – Oldenburg) with a few offerings each:
/// a near-duplicate language course for women in Vechta and Emstek (Cloppenburg), an unrelated
/// counselling offer, and in Landkreis Oldenburg an application training that ended months ago
/// but is still marked active. Returns the nodes once Vechta lists all of them.
async fn region() -> (TestNode, TestNode, TestNode) {
    let vechta = TestNode::start(VECHTA);
    let cloppenburg = TestNode::start(CLOPPENBURG);
    let oldenburg = TestNode::start(OLDENBURG);
    link(&cloppenburg, &vechta).await;
    link(&oldenburg, &vechta).await;
    use v1::Category::*;
    use v1::TargetGroup::*;
    let spring = ("2027-02-01", "2027-07-31");
    create(
        &vechta,
        offering(
            "Sprachkurs B1 für Frauen mit Kinderbetreuung",
            "Deutschkurs für Frauen, Kinderbetreuung während des Unterrichts",
            LanguageCourse,
            &[Women, Refugees],
            "Vechta",
            spring,
            4,
        ),
    )
    .await;
    create(
        &vechta,
        offering(
            "Migrationsberatung für Erwachsene",
            "Beratung zu Aufenthalt, Wohnung und Arbeit an der Straße zum Bahnhof",
            MigrationCounselling,
            &[Migrants],
            "Vechta",
            ("", ""),
            0,
        ),
    )
    .await;
    create(
        &cloppenburg,
        offering(
            "Sprachkurs B1 für Frauen, mit Kinderbetreuung",
            "Deutschkurs für Frauen mit Kinderbetreuung während des Unterrichts",
            LanguageCourse,
            &[Women],
            "Emstek",
            spring,
            0,
        ),
    )
    .await;
    create(
        &oldenburg,
        offering(
            "Bewerbungstraining für junge Geflüchtete",
            "Lebenslauf, Anschreiben und Vorstellungsgespräch üben",
            JobCounselling,
            &[Youth, Refugees],
            "Wildeshausen",
            ("2026-01-12", "2026-06-30"),
            2,
        ),
    )
    .await;
    eventually(
        "Vechta lists the offerings of all three districts",
        || async { list_all(&vechta).await.len() == 4 },
    )
    .await;
    (vechta, cloppenburg, oldenburg)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinators_see_overlaps_gaps_stale_entries_and_coverage_of_three_districts() {
    let (vechta, _cloppenburg, _oldenburg) = region().await;

    // Overlaps: the two language courses for women, across the district border, with reasons.
    let json = ctl_json(&vechta, &["report", "overlaps"]);
    let groups = json["overlaps"].as_array().expect("overlaps array");
    assert_eq!(groups.len(), 1, "{json:#}");
    let group = &groups[0];
    assert_eq!(group["offerings"].as_array().unwrap().len(), 2);
    assert!(
        group["offerings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n.as_str().unwrap().contains("/offerings/")),
        "{group:#}"
    );
    let score = group["score"].as_f64().unwrap();
    assert!((0.5..=1.0).contains(&score), "{group:#}");
    let codes: Vec<&str> = group["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"similar_title"), "{codes:?}");
    assert!(codes.contains(&"same_category"), "{codes:?}");
    let nearby = group["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == "nearby")
        .expect("a nearby reason");
    let km = nearby["km"].as_f64().unwrap();
    assert!((5.0..30.0).contains(&km), "Vechta–Emstek: {km} km");
    assert!(group["known"].is_null());
    assert!(!group["explanation"].as_str().unwrap().is_empty());

    let table = ctl_ok(&vechta, &["report", "overlaps"]);
    assert!(table.contains("SCORE"), "{table}");
    assert!(
        table.contains(CLOPPENBURG) && table.contains(VECHTA),
        "{table}"
    );
    assert!(table.contains("1 overlap groups"), "{table}");
    // Thresholds: at a score above the pair's, and within a few km, nothing is left.
    let strict = ctl_json(&vechta, &["report", "overlaps", "--max-km", "5"]);
    assert_eq!(
        strict["overlaps"].as_array().unwrap().len(),
        0,
        "{strict:#}"
    );
    let other = ctl_json(
        &vechta,
        &["report", "overlaps", "--category", "job_counselling"],
    );
    assert_eq!(other["overlaps"].as_array().unwrap().len(), 0, "{other:#}");

    let csv = ctl_ok(&vechta, &["report", "overlaps", "--csv"]);
    assert!(
        csv.starts_with('\u{feff}'),
        "German Excel CSV starts with a BOM"
    );
    let mut lines = csv.trim_start_matches('\u{feff}').lines();
    assert_eq!(
        lines.next().unwrap(),
        "offerings;titles;districts;score;reasons;explanation;known"
    );
    let row = lines.next().expect("one row");
    assert!(
        row.contains("Sprachkurs B1") && row.contains(CLOPPENBURG),
        "{row}"
    );
    assert!(row.contains(";0,"), "decimal comma in the score: {row}");
    assert!(csv.contains("\r\n"));

    // Gaps: language courses for women exist in Vechta (free places) and Cloppenburg (full),
    // none in Landkreis Oldenburg.
    let json = ctl_json(
        &vechta,
        &[
            "report",
            "gaps",
            "--category",
            "language_course",
            "--target-group",
            "women",
        ],
    );
    let gaps = json["gaps"].as_array().unwrap();
    let gap_of = |name: &str| gaps.iter().find(|g| g["district_name"] == name);
    assert!(gap_of(VECHTA).is_none(), "{json:#}");
    let full = gap_of(CLOPPENBURG).expect("Cloppenburg: no free places");
    assert_eq!(full["offerings"], 1);
    assert_eq!(full["places_free"], 0);
    let none = gap_of(OLDENBURG).expect("Oldenburg: no offering");
    assert_eq!(none["offerings"], 0);
    assert_eq!(none["category"], "language_course");
    assert_eq!(none["target_group"], "women");
    assert!(none["district_id"].as_str().unwrap().starts_with("D-"));
    let table = ctl_ok(
        &vechta,
        &[
            "report",
            "gaps",
            "--category",
            "language_course",
            "--target-group",
            "women",
        ],
    );
    assert!(
        table.contains(OLDENBURG) && table.contains("no offering"),
        "{table}"
    );
    assert!(table.contains("no free places"), "{table}");
    assert!(table.contains("2 gaps of 3 cells"), "{table}");
    let csv = ctl_ok(
        &vechta,
        &["report", "gaps", "--category", "language_course", "--csv"],
    );
    assert!(csv.starts_with('\u{feff}') && csv.contains(';'));
    assert!(csv.contains(OLDENBURG));

    // Stale: the training that ended in June 2026 but is still active; nothing has a contact.
    // Evaluated as of tomorrow, then half a year later (clients never set update times).
    let today = time::OffsetDateTime::now_utc().date();
    let day = |d: time::Date| kreisnetz_model::format_date(d);
    let tomorrow = day(today + time::Duration::days(1));
    let half_a_year = day(today + time::Duration::days(180));
    let json = ctl_json(&vechta, &["report", "stale", "--as-of", &tomorrow]);
    let stale = json["stale"].as_array().unwrap();
    let ended = stale
        .iter()
        .find(|e| e["title"] == "Bewerbungstraining für junge Geflüchtete")
        .expect("the ended training is stale");
    assert_eq!(ended["district_name"], OLDENBURG);
    let reasons: Vec<&str> = ended["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(reasons.contains(&"ended_but_current"), "{reasons:?}");
    assert!(reasons.contains(&"no_contact"), "{reasons:?}");
    assert!(
        !reasons.contains(&"not_updated"),
        "written today: {reasons:?}"
    );
    // As if it were half a year later, with 60 days: everything is out of date.
    let later = ctl_json(
        &vechta,
        &[
            "report",
            "stale",
            "--as-of",
            &half_a_year,
            "--older-than",
            "60d",
        ],
    );
    assert_eq!(later["older_than_days"], 60);
    let later = later["stale"].as_array().unwrap();
    assert_eq!(later.len(), 4);
    assert!(later.iter().all(|e| {
        e["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "not_updated")
    }));
    let table = ctl_ok(&vechta, &["report", "stale", "--as-of", &tomorrow]);
    assert!(table.contains("ended but still current"), "{table}");
    assert!(
        table.contains(OLDENBURG) && table.contains("Bildungswerk Wildeshausen"),
        "{table}"
    );
    let csv = ctl_ok(&vechta, &["report", "stale", "--as-of", &tomorrow, "--csv"]);
    assert!(csv.starts_with('\u{feff}'));
    assert!(csv.contains("ended_but_current no_contact"), "{csv}");

    // Coverage: every district with its current offerings.
    let json = ctl_json(&vechta, &["report", "coverage", "--as-of", &tomorrow]);
    let districts = json["districts"].as_array().unwrap();
    assert_eq!(districts.len(), 3, "{json:#}");
    let of = |name: &str| {
        districts
            .iter()
            .find(|d| d["district_name"] == name)
            .unwrap()
    };
    assert_eq!(of(VECHTA)["offerings"], 2);
    assert_eq!(of(VECHTA)["places_free"], 4);
    assert_eq!(of(VECHTA)["by_category"]["language_course"], 1);
    assert_eq!(of(CLOPPENBURG)["offerings"], 1);
    assert_eq!(of(OLDENBURG)["updated_last_90_days"], 1.0);
    let table = ctl_ok(&vechta, &["report", "coverage"]);
    assert!(
        table.contains("UPDATED 90D") && table.contains("100%"),
        "{table}"
    );
    let csv = ctl_ok(&vechta, &["report", "coverage", "--csv"]);
    assert!(csv.starts_with('\u{feff}') && csv.contains(VECHTA));

    // Usage errors are caught before any call.
    let out = vechta.ctl(&["report", "stale", "--older-than", "soon"]);
    assert_eq!(out.status.code(), Some(2));
    let out = vechta.ctl(&["report", "overlaps", "--json", "--csv"]);
    assert_eq!(out.status.code(), Some(2));
}

/// Titles of `offering list ARGS --json`, in the order printed.
fn titles(node: &TestNode, args: &[&str]) -> Vec<String> {
    let mut all = vec!["offering", "list"];
    all.extend_from_slice(args);
    let json = ctl_json(node, &all);
    json["offerings"]
        .as_array()
        .expect("offerings")
        .iter()
        .map(|o| o["title"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinators_search_in_german_and_filter_the_offerings_of_three_districts() {
    let (mut vechta, cloppenburg, oldenburg) = region().await;
    use v1::Category::*;
    use v1::TargetGroup::*;
    create(
        &oldenburg,
        offering(
            "Ärztliche Sprechstunde für Geflüchtete",
            "Offene Sprechstunde mit Dolmetscherin",
            Health,
            &[Refugees],
            "Wildeshausen",
            ("", ""),
            3,
        ),
    )
    .await;
    // The index follows the feed; the list waits for it to reach the feed head, so once the
    // replica has arrived, a search sees it.
    eventually("Vechta lists the fifth offering", || async {
        list_all(&vechta).await.len() == 5
    })
    .await;

    // German search: plurals (stemming), word order, umlauts and ß written out.
    let found = titles(&vechta, &["--query", "Sprachkurse"]);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(
        found.iter().all(|t| t.starts_with("Sprachkurs B1")),
        "{found:?}"
    );
    assert_eq!(titles(&vechta, &["--query", "Frauen Sprachkurs"]).len(), 2);
    let found = titles(&vechta, &["--query", "Gefluechtete"]);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found.contains(&"Bewerbungstraining für junge Geflüchtete".to_string()));
    assert_eq!(
        titles(&vechta, &["--query", "Strasse"]),
        ["Migrationsberatung für Erwachsene"],
        "the description says Straße"
    );
    let json = ctl_json(&vechta, &["offering", "list", "--query", "Sprachkurse"]);
    let matches = json["matches"].as_array().expect("matches with a query");
    assert_eq!(matches.len(), 2);
    assert!(matches[0]["score"].as_f64().unwrap() > 0.0);
    assert!(
        matches[0]["fragment"]
            .as_str()
            .unwrap()
            .contains("Sprachkurs"),
        "{matches:?}"
    );
    let table = ctl_ok(&vechta, &["offering", "list", "--query", "sprachkurse"]);
    assert!(
        table.contains("Sprachkurs B1") && table.contains("2 of 2 offerings"),
        "{table}"
    );

    // Filters: OR within a field, AND across fields.
    assert_eq!(
        titles(&vechta, &["--free-places", "--category", "language_course"]),
        ["Sprachkurs B1 für Frauen mit Kinderbetreuung"],
        "the Emstek course is full"
    );
    assert_eq!(
        titles(
            &vechta,
            &[
                "--category",
                "language_course",
                "--category",
                "job_counselling"
            ]
        )
        .len(),
        3
    );
    let mut groups = titles(&vechta, &["--target-group", "youth,migrants"]);
    groups.sort();
    assert_eq!(
        groups,
        [
            "Bewerbungstraining für junge Geflüchtete",
            "Migrationsberatung für Erwachsene"
        ]
    );
    assert_eq!(titles(&vechta, &["--status", "active,planned"]).len(), 5);
    assert!(titles(&vechta, &["--status", "ended", "--query", "kurs"]).is_empty());
    let vechta_id = vechta.status().await.district_id;
    let cloppenburg_id = cloppenburg.status().await.district_id;
    assert_eq!(
        titles(
            &vechta,
            &["--district", &vechta_id, "--district", &cloppenburg_id]
        )
        .len(),
        3
    );
    // March 2027: the two spring courses and the two offerings without dates, not the
    // training that ended in June 2026.
    let march = titles(
        &vechta,
        &["--runs-from", "2027-03-01", "--runs-to", "2027-03-31"],
    );
    assert_eq!(march.len(), 4, "{march:?}");
    assert!(!march.iter().any(|t| t.starts_with("Bewerbungstraining")));
    let today = kreisnetz_model::format_date(time::OffsetDateTime::now_utc().date());
    assert_eq!(titles(&vechta, &["--updated-after", &today]).len(), 5);
    assert!(titles(&vechta, &["--updated-before", &today]).is_empty());

    // Orders: German collation puts Ä with A; start date puts undated offerings last.
    let by_title = titles(&vechta, &["--sort", "title", "--status", "active"]);
    assert_eq!(
        by_title[0], "Ärztliche Sprechstunde für Geflüchtete",
        "{by_title:?}"
    );
    assert_eq!(by_title[1], "Bewerbungstraining für junge Geflüchtete");
    let by_start = titles(&vechta, &["--sort", "start", "--status", "active"]);
    assert_eq!(
        by_start[0], "Bewerbungstraining für junge Geflüchtete",
        "{by_start:?}"
    );

    // Pages of a search: the token continues the same query, and only that.
    let first = ctl_json(
        &vechta,
        &[
            "offering",
            "list",
            "--query",
            "Sprachkurs",
            "--page-size",
            "1",
        ],
    );
    assert_eq!(first["total_size"], 2);
    let token = first["next_page_token"].as_str().unwrap().to_string();
    assert!(!token.is_empty());
    let second = ctl_json(
        &vechta,
        &[
            "offering",
            "list",
            "--query",
            "Sprachkurs",
            "--page-size",
            "1",
            "--page-token",
            &token,
        ],
    );
    assert_eq!(second["next_page_token"], "");
    assert_ne!(
        first["offerings"][0]["name"], second["offerings"][0]["name"],
        "two pages, two offerings"
    );
    let other = vechta.ctl(&[
        "offering",
        "list",
        "--query",
        "Frauen",
        "--page-token",
        &token,
    ]);
    assert_eq!(
        other.status.code(),
        Some(4),
        "a token of another query is refused"
    );

    // The index follows the feed: an own update is found at once (the list waits for the
    // index to reach the feed head), a replicated delete once it has arrived.
    let counselling = list_all(&vechta)
        .await
        .into_iter()
        .find(|o| o.title.starts_with("Migrationsberatung"))
        .unwrap();
    ctl_ok(
        &vechta,
        &[
            "offering",
            "update",
            &counselling.name,
            "--title",
            "Migrationsberatung für Familien",
        ],
    );
    assert_eq!(
        titles(&vechta, &["--query", "Familien"]),
        ["Migrationsberatung für Familien"]
    );
    assert!(titles(&vechta, &["--query", "Erwachsene"]).is_empty());
    let sprechstunde = list_all(&oldenburg)
        .await
        .into_iter()
        .find(|o| o.title.starts_with("Ärztliche"))
        .unwrap();
    ctl_ok(&oldenburg, &["offering", "delete", &sprechstunde.name]);
    eventually("the delete reaches Vechta's index", || async {
        titles(&vechta, &["--query", "Sprechstunde"]).is_empty()
    })
    .await;

    // After a restart the index is built again from the stored documents.
    vechta.stop().await;
    vechta.restart();
    assert_eq!(
        titles(&vechta, &["--query", "Gefluechtete"]),
        ["Bewerbungstraining für junge Geflüchtete"]
    );
    assert!(
        vechta.log().contains("built the search index"),
        "the start logs the index build"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_report_and_search_options_are_invalid_arguments_naming_the_field() {
    let node = TestNode::start(VECHTA);
    let mut reports = v1::report_service_client::ReportServiceClient::new(node.authed().await);
    let err = reports
        .get_overlaps(v1::GetOverlapsRequest {
            min_score: 2.0,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["min_score"]);
    let err = reports
        .get_overlaps(v1::GetOverlapsRequest {
            max_km: -1.0,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["max_km"]);
    let err = reports
        .get_stale(v1::GetStaleRequest {
            as_of: "2027-13-01".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["as_of"]);
    let err = reports
        .get_gaps(v1::GetGapsRequest {
            categories: vec![v1::Category::Health as i32, 99],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["categories[1]"]);
    // An empty node still answers every report (coverage lists the own district).
    let coverage = reports
        .get_coverage(v1::GetCoverageRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(coverage.count, 1);
    let json: Value = serde_json::from_str(&coverage.json).unwrap();
    assert_eq!(json["districts"][0]["district_name"], VECHTA);

    let mut offerings = node.offerings().await;
    let list = |r: v1::ListOfferingsRequest| {
        let mut c = offerings.clone();
        async move { c.list_offerings(r).await.unwrap_err() }
    };
    let err = list(v1::ListOfferingsRequest {
        runs_from: "2027-03-01".into(),
        runs_to: "2027-02-01".into(),
        ..Default::default()
    })
    .await;
    assert_eq!(violated_fields(&err), ["runs_to"]);
    let err = list(v1::ListOfferingsRequest {
        order_by: 99,
        ..Default::default()
    })
    .await;
    assert_eq!(violated_fields(&err), ["order_by"]);
    let err = list(v1::ListOfferingsRequest {
        district_ids: vec!["Vechta".into()],
        ..Default::default()
    })
    .await;
    assert_eq!(violated_fields(&err), ["district_ids[0]"]);
    let ok = offerings
        .list_offerings(v1::ListOfferingsRequest {
            query: "Sprachkurs".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ok.total_size, 0);
}
