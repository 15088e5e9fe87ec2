//! `kreisnetzctl` against a real node, as a coordinator would use it.
use crate::harness::*;

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(o: std::process::Output) -> String {
    assert!(
        o.status.success(),
        "kreisnetzctl failed ({}): {}{}",
        o.status,
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

fn json(o: std::process::Output) -> serde_json::Value {
    let text = ok(o);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[tokio::test]
async fn a_coordinator_manages_offerings_and_contacts() {
    let node = TestNode::start("Landkreis Vechta");
    let contact = json(node.ctl(&[
        "--json",
        "contact",
        "add",
        "--name",
        "Mara Beispiel",
        "--organisation",
        "Jobcenter Vechta",
        "--role",
        "Integrationscoach",
        "--email",
        "mara.beispiel@jobcenter.example.org",
        "--language",
        "de,ar",
    ]));
    let contact_id = contact["id"].as_str().unwrap().to_string();
    assert_eq!(contact["languages"], serde_json::json!(["ar", "de"]));

    let created = json(node.ctl(&[
        "--json",
        "offering",
        "add",
        "--title",
        "Berufssprachkurs B2 Pflege",
        "--category",
        "language_course",
        "--target-group",
        "refugees",
        "--target-group",
        "women",
        "--provider",
        "BBS Vechta",
        "--municipality",
        "Vechta",
        "--language",
        "de",
        "--start",
        "2027-02-01",
        "--end",
        "2027-07-31",
        "--places",
        "16",
        "--free-places",
        "5",
        "--contact",
        &contact_id,
    ]));
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["category"], "language_course");
    assert_eq!(created["places_free"], 5);
    assert!(created["name"].as_str().unwrap().ends_with(&id));

    // The human table names it; the JSON list has the API's fields.
    let table = ok(node.ctl(&["offering", "list", "--category", "language_course"]));
    assert!(table.contains("Berufssprachkurs B2 Pflege"), "{table}");
    let listed = json(node.ctl(&["--json", "offering", "list", "--target-group", "women"]));
    assert_eq!(listed["total_size"], 1);
    assert_eq!(listed["offerings"][0]["id"], id.as_str());
    let none = json(node.ctl(&["--json", "offering", "list", "--category", "housing"]));
    assert_eq!(none["total_size"], 0);

    let updated = json(node.ctl(&[
        "--json",
        "offering",
        "update",
        &id,
        "--free-places",
        "0",
        "--status",
        "active",
    ]));
    assert_eq!(updated["places_free"], 0);
    assert_eq!(updated["status"], "active");
    assert_eq!(updated["title"], "Berufssprachkurs B2 Pflege");
    let got = json(node.ctl(&["--json", "offering", "get", &id]));
    assert_eq!(got, updated);

    // The contact is still referenced: refused with exit code 6 and the reason.
    let refused = node.ctl(&["contact", "delete", &contact_id]);
    assert_eq!(refused.status.code(), Some(6), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("referenced"),
        "{}",
        stderr(&refused)
    );

    ok(node.ctl(&["offering", "delete", &id]));
    ok(node.ctl(&["contact", "delete", &contact_id]));
    let missing = node.ctl(&["offering", "get", &id]);
    assert_eq!(missing.status.code(), Some(5), "{}", stderr(&missing));

    let status = json(node.ctl(&["--json", "status"]));
    assert_eq!(status["district_name"], "Landkreis Vechta");
    assert!(status["district_id"].as_str().unwrap().starts_with("D-"));
    assert!(status["node_id"].as_str().unwrap().starts_with("N-"));
    assert_eq!(
        status["feed_sequence"], 5,
        "two creates, an update, two deletes; the refused delete is not a change"
    );
}

#[tokio::test]
async fn the_fields_that_tell_needs_apart_are_set_shown_and_cleared() {
    let node = TestNode::start("Landkreis Cloppenburg");
    let created = json(node.ctl(&[
        "--json",
        "offering",
        "add",
        "--title",
        "Deutschkurs für Frauen mit Kinderbetreuung",
        "--category",
        "language_course",
        "--target-group",
        "women",
        "--provider",
        "VHS Cloppenburg",
        "--municipality",
        "Cloppenburg",
        "--language-level",
        "A2",
        "--format",
        "in_person",
        "--childcare",
        "yes",
        "--barrier-free",
        "no",
    ]));
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["language_level"], "a2");
    assert_eq!(created["format"], "in_person");
    assert_eq!(created["childcare"], true);
    assert_eq!(created["barrier_free"], false);

    let shown = ok(node.ctl(&["offering", "get", &id]));
    for line in ["a2", "in_person", "yes", "no"] {
        assert!(shown.contains(line), "{line} missing in:\n{shown}");
    }
    let table = ok(node.ctl(&["offering", "list"]));
    assert!(table.contains("LEVEL") && table.contains("A2"), "{table}");

    // A level belongs to language and integration courses only: refused field by field.
    let refused = node.ctl(&["offering", "update", &id, "--category", "job_counselling"]);
    assert_eq!(refused.status.code(), Some(4), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("offering.language_level"),
        "{}",
        stderr(&refused)
    );

    let updated = json(node.ctl(&[
        "--json",
        "offering",
        "update",
        &id,
        "--format",
        "hybrid",
        "--clear",
        "language_level",
        "--clear",
        "childcare",
        "--category",
        "womens_support",
    ]));
    assert_eq!(updated["language_level"], serde_json::Value::Null);
    assert_eq!(updated["format"], "hybrid");
    assert_eq!(updated["childcare"], serde_json::Value::Null);
    assert_eq!(updated["barrier_free"], false, "not in the update: kept");

    let bad = node.ctl(&["offering", "update", &id, "--barrier-free", "maybe"]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
}

#[tokio::test]
async fn bad_input_gets_a_clear_message_and_a_non_zero_exit() {
    let node = TestNode::start("Landkreis Vechta");
    // Refused by the node, every field listed.
    let o = node.ctl(&[
        "offering",
        "add",
        "--title",
        "",
        "--category",
        "language_course",
        "--target-group",
        "refugees",
    ]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let err = stderr(&o);
    for field in [
        "offering.title",
        "offering.provider",
        "offering.municipality",
    ] {
        assert!(err.contains(field), "{field} missing in: {err}");
    }
    // Refused by the CLI before any call, naming the flag.
    let o = node.ctl(&["offering", "add", "--title", "x", "--category", "cooking"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--category"), "{}", stderr(&o));
    let o = node.ctl(&["offering", "add", "--title", "x", "--start", "1.2.2027"]);
    assert_eq!(o.status.code(), Some(2));
    // Nothing was stored.
    let listed = json(node.ctl(&["--json", "offering", "list"]));
    assert_eq!(listed["total_size"], 0);
    // An unreachable node.
    let dead = std::process::Command::new(CTL_BIN)
        .args(["--node", "http://127.0.0.1:9", "--timeout", "2", "status"])
        .output()
        .unwrap();
    assert_eq!(dead.status.code(), Some(3), "{}", stderr(&dead));
    assert!(stderr(&dead).contains("127.0.0.1:9"), "{}", stderr(&dead));
}

#[tokio::test]
async fn sample_data_loads_once_and_the_feed_shows_it() {
    let node = TestNode::start("Landkreis Cloppenburg");
    let first = ok(node.ctl(&["sample", "load"]));
    assert!(first.contains("offerings"), "{first}");
    let listed = json(node.ctl(&["--json", "offering", "list", "--all"]));
    let n = listed["offerings"].as_array().unwrap().len();
    assert!(n >= 20, "only {n} sample offerings");
    // Loading again changes nothing.
    ok(node.ctl(&["sample", "load"]));
    let again = json(node.ctl(&["--json", "offering", "list", "--all"]));
    assert_eq!(again["offerings"].as_array().unwrap().len(), n);
    // Every record created is in the feed, one JSON object per line.
    let feed = ok(node.ctl(&["--json", "watch", "--once"]));
    let events: Vec<serde_json::Value> = feed
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let contacts = json(node.ctl(&["--json", "contact", "list", "--all"]))["contacts"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(events.len(), n + contacts);
    assert_eq!(events[0]["sequence"], 1);
    let resumed = ok(node.ctl(&[
        "--json",
        "watch",
        "--once",
        "--after",
        &(n + contacts - 2).to_string(),
    ]));
    assert_eq!(resumed.lines().count(), 2);
}
