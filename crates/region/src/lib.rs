//! Seeing the region: German-aware search, coordinator filters and reports over a node's read
//! view — the questions the federation's data is for ("which language courses for women with
//! free places exist?", "where do districts duplicate each other?", "which groups lack
//! offerings where?", "which entries has nobody updated for months?").
//!
//! # Design
//! A pure crate: no IO, no clock, no node. Everything is a function of what the caller
//! hands in — the read view's offerings (`&Offering`), contacts, district names and an
//! `as_of` date — so it is tested without a node, and the node and the CLI only call it. It
//! depends on `kreisnetz-model` and on libraries, nothing else of kreisnetz.
//!
//! - [`text`]: German normalisation (folding ä → ae and ß → ss, Snowball German stemming,
//!   a curated synonym list and cheap compound splitting from [`lexicon`]). One analyzer for
//!   search and for the overlap report's text similarity.
//! - [`search`]: a [`SearchIndex`] over title, description, provider, place and schedule:
//!   all words in any order, prefix match for the word being typed, BM25 ranking, snippets.
//!   Built from the read view at start, then kept in step with the change feed
//!   (`upsert`/`remove`, `commit` per batch).
//! - [`filter`]: [`Filter`] (`matches(&Offering)`, the one definition of the coordinator
//!   filters) and [`SortOrder`]; [`collation`]: German sort order.
//! - Reports: [`overlaps()`] (with blocking, see [`overlaps`](mod@overlaps)), [`gaps()`],
//!   [`stale()`], [`coverage()`], each returning a serde type whose JSON is the API's shape,
//!   and [`csv`] for spreadsheets (German Excel conventions available).
//! - [`places`]: municipality centres of the Weser-Ems region and distances.
//!
//! # Why these libraries
//! - **tantivy** for search: an inverted index with BM25, term-dictionary automata for prefix
//!   queries and pluggable tokenizers, in RAM; a hand-written index would have to rebuild
//!   the same, and a linear scan of 100,000 offerings with analysis per query does not meet
//!   10 ms. The German analysis is our own tokenizer (tantivy's stemmer does not fold
//!   umlauts to their written-out forms, and knows no synonyms or compounds); it uses the same
//!   Snowball German stemmer as tantivy (`frostem`).
//! - **ICU4X `icu_collator`** for sorting: the CLDR German collation, with data compiled into
//!   the binary (no ICU system library, no data files), and sort keys so that large lists
//!   sort by bytes.
//!
//! # Integrated, and not yet
//! The node calls it: its `search` module builds a [`SearchIndex`] from the read view at start
//! and keeps it in step with the change feed (for `ListOfferings` with a query, the
//! coordinator filters or an order), and `ReportService` runs the reports over a copy of the
//! read view and answers their JSON. The CLI (`kreisnetzctl report …`) reads that JSON back
//! into this crate's types for tables and CSV. Not wired in yet: the storage of known-overlap
//! marks in the districts' documents (the node passes no marks, so `known` is always `null`).
pub mod collation;
pub mod csv;
pub mod filter;
pub mod lexicon;
pub mod overlaps;
pub mod places;
pub mod reports;
pub mod search;
pub mod text;

pub use collation::GermanCollator;
pub use csv::{CsvStyle, to_csv};
pub use filter::{DateWindow, Filter, SortOrder};
pub use overlaps::{KnownOverlap, Overlap, OverlapOptions, OverlapReport, Reason, overlaps};
pub use reports::{
    CoverageReport, Districts, GapOptions, GapReport, StaleOptions, StaleReason, StaleReport,
    coverage, gaps, stale,
};
pub use search::{Hit, Query, SearchIndex, SearchResult, Snippet};
pub use text::Analyzer;

#[cfg(test)]
mod testutil;
