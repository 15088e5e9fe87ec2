//! Replays the committed corpus (`corpus/<target>/*`) through every target on stable, so every
//! input that ever crashed a target stays a regression test; and (ignored) writes the seeds.
use std::path::{Path, PathBuf};

use kreisnetz_fuzz_targets::{TARGETS, encode_steps, fixture};
use kreisnetz_node::federation::wire;
use kreisnetz_proto::{convert, v1};
use kreisnetz_sync::{Frame, signed};
use prost::Message as _;

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target)
}

#[test]
fn the_corpus_replays_without_a_crash() {
    for (target, run) in TARGETS {
        let dir = corpus_dir(target);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.expect("a directory entry").path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no seeds for {target}");
        for file in files {
            let data = std::fs::read(&file).expect("a corpus file");
            eprintln!("{target}: {}", file.display());
            run(&data);
        }
    }
}

/// Writes the seed corpus (valid inputs of every target) under `corpus/`:
/// `cargo test -p kreisnetz-fuzz-targets --test corpus -- --ignored write_seed_corpus`.
/// The seeds are deterministic; crashing inputs found by the fuzzer are added by hand
/// (`crash-<target>-<what>`), never by this.
#[test]
#[ignore = "writes the seed corpus; run by hand"]
fn write_seed_corpus() {
    let f = fixture();
    let mut seeds: Vec<(&str, String, Vec<u8>)> = Vec::new();

    // Federation frames: B's real frames, plus a record-only frame, a notice and a goodbye.
    for (i, frame) in std::iter::once(&f.b_hello).chain(&f.b_sync).enumerate() {
        let bytes = wire::to_proto(frame.clone()).encode_to_vec();
        seeds.push(("federation_frame", format!("seed-real-{i}"), bytes));
    }
    for (name, frame) in [
        (
            "signed",
            Frame::Signed {
                doc: f.b,
                signed: vec![f.b_record.clone()],
            },
        ),
        (
            "notice",
            Frame::Notice {
                doc: Some(f.a),
                reason: "refused".into(),
            },
        ),
        (
            "goodbye",
            Frame::Goodbye {
                reason: "bye".into(),
            },
        ),
    ] {
        let bytes = wire::to_proto(frame).encode_to_vec();
        seeds.push(("federation_frame", format!("seed-{name}"), bytes));
    }

    // Signed heads: one record, a list of it twice.
    seeds.push(("signed_heads", "seed-record".into(), f.b_record.to_bytes()));
    seeds.push((
        "signed_heads",
        "seed-list".into(),
        signed::encode_list(&[f.b_record.clone(), f.b_record.clone()]),
    ));

    // Sync messages: B's real first sync (with its record), and each message alone.
    let messages: Vec<&[u8]> = f
        .b_sync
        .iter()
        .filter_map(|frame| match frame {
            Frame::Sync { message, .. } => Some(message.as_slice()),
            _ => None,
        })
        .collect();
    let with_record: Vec<(u8, &[u8])> = messages.iter().map(|m| (4 | 8, *m)).collect();
    seeds.push((
        "sync_message",
        "seed-first-sync".into(),
        encode_steps(&with_record),
    ));
    for (i, m) in messages.iter().enumerate() {
        seeds.push((
            "sync_message",
            format!("seed-message-{i}"),
            encode_steps(&[(4, m)]),
        ));
    }
    let unsigned: Vec<(u8, &[u8])> = messages.iter().map(|m| (0, *m)).collect();
    seeds.push((
        "sync_message",
        "seed-unsigned".into(),
        encode_steps(&unsigned),
    ));

    // Sync states: what A persisted for B (per document).
    for (doc, state) in &f.a_states {
        let which = if *doc == f.a { "own" } else { "peer" };
        seeds.push(("sync_state", format!("seed-{which}"), state.clone()));
    }

    // API requests: real sample records, created and updated.
    let offering = convert::offering_to_proto(&f.offering);
    let contact = convert::contact_to_proto(&f.contact);
    let mask = |paths: &[&str]| prost_types::FieldMask {
        paths: paths.iter().map(|p| p.to_string()).collect(),
    };
    let api: Vec<(&str, u8, Vec<u8>)> = vec![
        (
            "create-offering",
            0,
            v1::CreateOfferingRequest {
                offering: Some(offering.clone()),
                offering_id: String::new(),
            }
            .encode_to_vec(),
        ),
        (
            "update-offering",
            1,
            v1::UpdateOfferingRequest {
                offering: Some(offering.clone()),
                update_mask: Some(mask(&["title", "places_free", "languages", "start_date"])),
            }
            .encode_to_vec(),
        ),
        (
            "create-contact",
            2,
            v1::CreateContactRequest {
                contact: Some(contact.clone()),
                contact_id: f.contact.id.to_string(),
            }
            .encode_to_vec(),
        ),
        (
            "update-contact",
            3,
            v1::UpdateContactRequest {
                contact: Some(contact.clone()),
                update_mask: Some(mask(&["email", "languages"])),
            }
            .encode_to_vec(),
        ),
        ("offering", 4, offering.encode_to_vec()),
        ("contact", 5, contact.encode_to_vec()),
    ];
    for (name, kind, bytes) in api {
        let mut data = vec![kind];
        data.extend(bytes);
        seeds.push(("api_request", format!("seed-{name}"), data));
    }

    for (target, name, bytes) in seeds {
        let dir = corpus_dir(target);
        std::fs::create_dir_all(&dir).expect("the corpus directory");
        std::fs::write(dir.join(name), bytes).expect("a seed written");
    }
}
