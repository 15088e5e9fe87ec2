//! Memory regression tests: live heap bytes, counted by a global allocator (this file is its
//! own test binary), so the bounds do not depend on timing, the machine or the system allocator.
//!
//! - `edits_to_a_loaded_document_do_not_leak`: hexane 1.0.0-alpha.5 (automerge 0.12's column
//!   store) kept the whole capacity of a split slab, so each edit into a loaded document leaked
//!   a buffer the size of the rest of a column. Fixed by the patched copy in crates/vendor/hexane
//!   (see crates/vendor/README.md); this test fails if that patch is dropped while automerge
//!   still depends on an unfixed hexane.
//! - `mark_read_frees_the_patch_log`: `DistrictDocument::mark_read` must drop the patch log that
//!   the first sync of a district filled, not just clear it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};

use kreisnetz_document::DistrictDocument;
use kreisnetz_model::{
    Category, DistrictId, Offering, OfferingField, OfferingStatus, RecordId, Timestamp,
};

/// Counts the bytes currently allocated through the global allocator.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments; the counter is a side
// effect only.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size() as isize, Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size() as isize, Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        unsafe { System.dealloc(p, layout) };
        LIVE.fetch_sub(layout.size() as isize, Relaxed);
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, layout, new_size) };
        if !q.is_null() {
            LIVE.fetch_add(new_size as isize - layout.size() as isize, Relaxed);
        }
        q
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The counter is process-wide: the tests of this binary take turns.
static SERIAL: Mutex<()> = Mutex::new(());

const MIB: f64 = 1024.0 * 1024.0;

fn live_mib() -> f64 {
    LIVE.load(Relaxed) as f64 / MIB
}

fn district() -> DistrictId {
    DistrictId::from_public_key(b"Landkreis Ammerland")
}

/// Offering `i`, shaped like the sync simulation's (crates/sync/src/sim.rs): ~200 characters of
/// varied description, since identical records compress unrealistically well.
fn offering(i: u64) -> Offering {
    let id: RecordId = format!("00000000-0000-4000-8000-{i:012x}")
        .parse()
        .expect("a well-formed UUID");
    let mut x = i ^ 0x9e37_79b9_7f4a_7c15;
    let description = (0..200)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            match (x >> 33) % 32 {
                0..=5 => ' ',
                k => char::from(b'a' + (k as u8 - 6)),
            }
        })
        .collect();
    Offering {
        id,
        district_id: district(),
        title: format!("Sprachcafé {id}"),
        description,
        category: Category::LanguageCourse,
        target_groups: BTreeSet::new(),
        provider: "Freiwilligenagentur".into(),
        provider_kind: None,
        municipality: "Westerstede".into(),
        address: String::new(),
        postal_code: "26655".into(),
        coordinates: None,
        languages: BTreeSet::new(),
        start_date: None,
        end_date: None,
        schedule: "Di 15-17 Uhr".into(),
        places_total: None,
        places_free: None,
        cost: "kostenlos".into(),
        url: String::new(),
        contact_ids: BTreeSet::new(),
        status: OfferingStatus::Planned,
        language_level: None,
        format: None,
        childcare: None,
        barrier_free: None,
        create_time: Timestamp(i as i64),
        update_time: Timestamp(i as i64),
    }
}

const OFFERINGS: u64 = 2_000;

/// A district document holding `OFFERINGS` offerings, one change each (as the API writes them).
fn populated() -> (DistrictDocument, Vec<Offering>) {
    let mut doc = DistrictDocument::new(district()).unwrap();
    let offerings: Vec<Offering> = (0..OFFERINGS).map(offering).collect();
    for o in &offerings {
        doc.create_offering(o).unwrap();
        doc.commit("create", 0);
    }
    (doc, offerings)
}

#[test]
fn edits_to_a_loaded_document_do_not_leak() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (mut owner, mut offerings) = populated();
    // A loaded document has each column in one big slab: the layout the leak needed.
    let bytes = owner.save();
    drop(owner);
    let mut doc = DistrictDocument::load(district(), Some(&bytes), &[], &[]).unwrap();
    drop(bytes);

    let before = live_mib();
    for i in 0..50u64 {
        // Spread over the document, as real edits are.
        let o = &mut offerings[(i * 37 % OFFERINGS) as usize];
        o.title = format!("Sprachcafé am Nachmittag, Änderung {i:04}");
        o.update_time = Timestamp(OFFERINGS as i64 + i as i64);
        doc.update_offering(o, &[OfferingField::Title]).unwrap();
        doc.commit("update", 0);
    }
    let growth = live_mib() - before;
    eprintln!("50 edits of a loaded document: live heap {before:.2} MiB, +{growth:.3} MiB");

    // Measured (2,000 offerings, 50 title edits, debug build): +0.20 MiB with the patched hexane,
    // +34 MiB with hexane 1.0.0-alpha.5 as published. The bound sits 40x above the one and 4x
    // below the other.
    assert!(
        growth < 8.0,
        "50 single-field edits grew the live heap by {growth:.2} MiB: is crates/vendor/hexane's \
         `shrink_to_fit` patch still applied?"
    );
    assert_eq!(doc.offerings().len(), OFFERINGS as usize);
}

#[test]
fn mark_read_frees_the_patch_log() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (mut owner, _) = populated();

    // The target: a replica after its first sync whose patch log has been dropped. (Automerge
    // 0.12 logs every applied remote change, whether or not the log is active.)
    let start = live_mib();
    let mut control = DistrictDocument::new(district()).unwrap();
    control.automerge().merge(owner.automerge()).unwrap();
    control.automerge().reset_diff_cursor();
    let without_log = live_mib() - start;
    drop(control);

    // A replica that receives the whole district at once (its first sync), then, having read
    // the whole document, starts indexing only what comes next.
    let start = live_mib();
    let mut replica = DistrictDocument::new(district()).unwrap();
    replica.automerge().merge(owner.automerge()).unwrap();
    let with_log = live_mib() - start;
    replica.mark_read();
    let kept = live_mib() - start;
    eprintln!(
        "first sync: replica +{with_log:.2} MiB; after mark_read +{kept:.2} MiB; \
         without its patch log +{without_log:.2} MiB"
    );

    // Measured (2,000 offerings): +7.8 MiB after the sync, +2.0 MiB without the patch log;
    // after mark_read +2.0 MiB, or +7.0 MiB if it only clears the log (which keeps its capacity).
    assert!(
        kept < 1.5 * without_log + 0.5,
        "after mark_read the replica holds {kept:.2} MiB, without its patch log \
         {without_log:.2} MiB: is the patch log kept?"
    );
    assert_eq!(replica.offerings().len(), OFFERINGS as usize);
}
