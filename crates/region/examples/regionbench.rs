//! Benchmark of the region crate: search and filtered lists over 100,000 offerings, index
//! build time and memory, the cost of incremental updates, and the overlaps report over
//! 5,000 / 10,000 / 20,000 offerings in the nine districts.
//!
//! ```sh
//! cargo run --release -p kreisnetz-region --example regionbench            # everything
//! cargo run --release -p kreisnetz-region --example regionbench -- --quick  # smaller sizes
//! ```
//!
//! Prints one JSON object per line. Offerings come from `kreisnetz_sample::generated_offerings`
//! (real municipalities and providers of each district, ~200-character descriptions),
//! spread evenly over the nine districts. Memory is measured with a counting allocator:
//! bytes live after building (and the peak while building) minus the bytes live before.
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use kreisnetz_model::{Category, DistrictId, Offering, TargetGroup, Timestamp};
use kreisnetz_region::{
    Districts, Filter, OverlapOptions, Query, SearchIndex, SortOrder, overlaps, places,
};
use kreisnetz_sample::{WESER_EMS, generated_offerings};
use serde_json::json;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        unsafe { System.dealloc(p, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, layout, new_size) };
        if !q.is_null() {
            if new_size >= layout.size() {
                let now = LIVE.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size
                    - layout.size();
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        q
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn mib(bytes: usize) -> f64 {
    (bytes as f64 / 1048576.0 * 10.0).round() / 10.0
}

/// `n` offerings spread over the nine districts.
fn region(n: usize, seed: u64) -> (Vec<Offering>, Districts) {
    let now = Timestamp(1_800_000_000_000);
    let mut all = Vec::with_capacity(n);
    let mut names = Vec::new();
    for (i, d) in WESER_EMS.iter().enumerate() {
        let id = DistrictId::from_public_key(d.name.as_bytes());
        names.push((id, d.name.to_string()));
        let share = n / WESER_EMS.len() + usize::from(i < n % WESER_EMS.len());
        all.extend(generated_offerings(d, id, share, seed, now));
    }
    (all, Districts::new(names))
}

fn percentile(sorted_ms: &[f64], p: f64) -> f64 {
    let i = ((sorted_ms.len() as f64 - 1.0) * p).round() as usize;
    (sorted_ms[i] * 1000.0).round() / 1000.0
}

fn stats(mut ms: Vec<f64>) -> serde_json::Value {
    ms.sort_by(f64::total_cmp);
    json!({
        "n": ms.len(),
        "p50_ms": percentile(&ms, 0.5),
        "p99_ms": percentile(&ms, 0.99),
        "max_ms": percentile(&ms, 1.0),
    })
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let search_n = if quick { 20_000 } else { 100_000 };

    // --- index build and memory, per 10,000 offerings
    let (offerings, _) = region(search_n, 1);
    let placed = offerings
        .iter()
        .filter(|o| places::location_of(o).is_some())
        .count();
    println!(
        "{}",
        json!({"bench": "data", "offerings": offerings.len(), "placed_share": placed as f64 / offerings.len() as f64})
    );
    let shared: Vec<Arc<Offering>> = offerings.iter().cloned().map(Arc::new).collect();
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let start = Instant::now();
    let mut index = SearchIndex::new().expect("index");
    for o in &shared {
        index.upsert(o.clone()).expect("upsert");
    }
    index.commit().expect("commit");
    let build = start.elapsed().as_secs_f64();
    let live = LIVE.load(Ordering::Relaxed) - before;
    let peak = PEAK.load(Ordering::Relaxed) - before;
    let per_10k = 10_000.0 / search_n as f64;
    println!(
        "{}",
        json!({
            "bench": "index_build",
            "offerings": search_n,
            "seconds": (build * 1000.0).round() / 1000.0,
            "seconds_per_10k": (build * per_10k * 1000.0).round() / 1000.0,
            "memory_mib": mib(live),
            "memory_mib_per_10k": mib((live as f64 * per_10k) as usize),
            "peak_mib_while_building": mib(peak),
            "note": "memory excludes the offerings themselves (shared Arcs of the read view)"
        })
    );

    // --- searches and filtered lists
    let texts = [
        "Sprachkurse",
        "Deutschkurs",
        "Kindertagesstätte",
        "Strasse",
        "Gefluechtete",
        "Frauen Sprachkurs",
        "Pflege B2",
        "Integrationsk",
        "Beratung Oldenburg",
        "Bewerbungstraining Jugendliche",
    ];
    let filters = [
        Filter::default(),
        Filter {
            categories: [Category::LanguageCourse, Category::IntegrationCourse].into(),
            target_groups: [TargetGroup::Refugees, TargetGroup::Women].into(),
            has_free_places: true,
            ..Filter::default()
        },
    ];
    let rounds = if quick { 5 } else { 20 };
    let mut search_ms = Vec::new();
    let mut totals = Vec::new();
    let mut per_query: Vec<Vec<f64>> = vec![Vec::new(); texts.len() * filters.len()];
    for round in 0..rounds {
        for text in texts {
            for (fi, filter) in filters.iter().enumerate() {
                let q = Query {
                    text: text.into(),
                    filter: filter.clone(),
                    sort: SortOrder::Relevance,
                    limit: 20,
                    ..Query::default()
                };
                let t = Instant::now();
                let r = index.search(&q).expect("search");
                let ms = t.elapsed().as_secs_f64() * 1000.0;
                search_ms.push(ms);
                if round == 0 {
                    totals.push(json!({"text": text, "filtered": fi == 1, "total": r.total}));
                }
                per_query[texts.iter().position(|t| *t == text).unwrap_or(0) * filters.len() + fi]
                    .push(ms);
            }
        }
    }
    for (k, t) in totals.iter_mut().enumerate() {
        t["latency"] = stats(per_query[k].clone());
    }
    println!(
        "{}",
        json!({"bench": "search", "offerings": search_n, "queries": texts.len() * filters.len(), "latency": stats(search_ms)})
    );
    for t in totals {
        println!("{}", json!({"bench": "search_query", "query": t}));
    }
    let mut list_ms = Vec::new();
    for _ in 0..rounds {
        for (filter, sort) in [
            (filters[1].clone(), SortOrder::Title),
            (filters[1].clone(), SortOrder::StartDate),
            (Filter::default(), SortOrder::LastUpdate),
            (
                Filter {
                    districts: [DistrictId::from_public_key(WESER_EMS[3].name.as_bytes())].into(),
                    ..Filter::default()
                },
                SortOrder::Title,
            ),
        ] {
            let q = Query {
                filter,
                sort,
                limit: 50,
                ..Query::default()
            };
            let t = Instant::now();
            index.search(&q).expect("list");
            list_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    println!(
        "{}",
        json!({"bench": "filtered_list", "offerings": search_n, "latency": stats(list_ms)})
    );
    // For comparison: only Filter::matches over the offerings, in one contiguous Vec.
    let mut scan_ms = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        let n = offerings.iter().filter(|o| filters[1].matches(o)).count();
        scan_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        std::hint::black_box(n);
    }
    println!(
        "{}",
        json!({"bench": "filter_scan_only", "offerings": search_n, "latency": stats(scan_ms)})
    );

    // --- incremental updates: one offering changed and committed at a time, and in batches
    let mut one_ms = Vec::new();
    for (i, o) in shared.iter().take(200).enumerate() {
        let mut changed = (**o).clone();
        changed.title = format!("{} (geändert {i})", changed.title);
        let t = Instant::now();
        index.upsert(Arc::new(changed)).expect("upsert");
        index.commit().expect("commit");
        one_ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let batch = 100;
    let t = Instant::now();
    for o in shared.iter().skip(200).take(batch) {
        let mut changed = (**o).clone();
        changed.places_free = Some(0);
        index.upsert(Arc::new(changed)).expect("upsert");
    }
    index.commit().expect("commit");
    let per_in_batch = t.elapsed().as_secs_f64() * 1000.0 / batch as f64;
    println!(
        "{}",
        json!({
            "bench": "incremental_update",
            "offerings": search_n,
            "single_upsert_and_commit": stats(one_ms),
            "per_upsert_in_batch_of_100_ms": (per_in_batch * 1000.0).round() / 1000.0,
        })
    );
    drop(index);

    // --- overlaps
    let sizes: &[usize] = if quick {
        &[2_000, 4_000]
    } else {
        &[5_000, 10_000, 20_000]
    };
    for &n in sizes {
        let (offerings, districts) = region(n, 7);
        let before = LIVE.load(Ordering::Relaxed);
        PEAK.store(before, Ordering::Relaxed);
        let t = Instant::now();
        let report = overlaps(&offerings, &districts, &[], &OverlapOptions::default());
        let secs = t.elapsed().as_secs_f64();
        let peak = PEAK.load(Ordering::Relaxed) - before;
        println!(
            "{}",
            json!({
                "bench": "overlaps",
                "offerings": n,
                "seconds": (secs * 1000.0).round() / 1000.0,
                "pairs_compared": report.pairs_compared,
                "pairs_compared_per_offering": report.pairs_compared as f64 / n as f64,
                "blocks_oversized": report.blocks_oversized,
                "overlaps": report.overlaps.len(),
                "peak_mib": mib(peak),
            })
        );
    }
}
