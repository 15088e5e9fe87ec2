//! Full-text search over offerings with tantivy, kept in step with the change feed.
//!
//! The index lives in RAM (`Index::create_in_ram`) and is built from the read view at start;
//! after that every created, changed or deleted offering is applied with [`SearchIndex::upsert`]
//! / [`SearchIndex::remove`], and [`SearchIndex::commit`] makes a batch of them visible (one
//! commit per batch of feed events, like the node's group commit).
//!
//! What a query means:
//! - every word must match (in any order, in any of title, description, provider, place —
//!   municipality, address, postal code — and schedule), after German normalisation
//!   ([`crate::text`]); stop words are ignored;
//! - the last word also matches as a prefix while it is being typed (no space after it, at
//!   least three letters);
//! - hits are ranked by BM25 with field weights (title 3, provider and place 1.5,
//!   description 1, schedule 0.5);
//! - the [`Filter`] is applied to the matches and the order is one of [`SortOrder`];
//! - every hit on the returned page carries a [`Snippet`] showing why it matched.
//!
//! The index stores no text: tantivy holds the postings, this struct the offerings (shared
//! `Arc`s), their title sort keys and a copy of the fields the filter looks at.
//!
//! How it stays fast over 100,000 offerings (see BENCHMARKS.md):
//! - the filter's sets (category, target group, status, district) are raw terms in the index
//!   and go into the tantivy query as zero-score clauses, so tantivy visits only what they keep;
//! - with relevance order, a committed index and a filter of only those sets, the page is
//!   tantivy's top-k (block-max pruning) and the total a count without scoring;
//! - otherwise every match is collected and checked against [`FilterMeta`](crate::filter)
//!   copies next to each entry (no pointer into the offering), and sorted on inline keys
//!   (the sort value and the first 8 bytes of the title's collation key) far enough to cut
//!   out the page.
use std::collections::HashMap;
use std::sync::Arc;

use kreisnetz_model::{Offering, RecordId};
use serde::Serialize;
use tantivy::collector::{Collector, SegmentCollector, TopDocs};
use tantivy::columnar::Column;
use tantivy::query::{
    BooleanQuery, BoostQuery, ConstScoreQuery, FuzzyTermQuery, Occur, Query as TantivyQuery,
    TermQuery,
};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::{
    DocId, Index, IndexReader, IndexWriter, ReloadPolicy, Score, SegmentReader, TantivyDocument,
    Term as TantivyTerm,
};

use crate::collation::GermanCollator;
use crate::filter::{Filter, FilterMeta, SortOrder};
use crate::text::{Analyzer, GermanTokenizer, TOKENIZER_NAME, TermKind, fold, words};

/// A search that went wrong inside tantivy (out of memory, a broken invariant); never caused
/// by what a user typed.
#[derive(Debug, thiserror::Error)]
#[error("search index: {0}")]
pub struct SearchError(#[from] tantivy::TantivyError);

/// What to look for.
#[derive(Clone, Debug, Default)]
pub struct Query {
    /// Free text; empty: every offering the filter keeps.
    pub text: String,
    pub filter: Filter,
    pub sort: SortOrder,
    pub offset: usize,
    /// Hits to return (0: 50).
    pub limit: usize,
}

/// One page of results.
#[derive(Clone, Debug)]
pub struct SearchResult {
    /// How many offerings match in all.
    pub total: usize,
    pub hits: Vec<Hit>,
}

/// One offering found.
#[derive(Clone, Debug)]
pub struct Hit {
    pub offering: Arc<Offering>,
    /// BM25 score (only with a text query).
    pub score: Option<f32>,
    /// Why it matched (only with a text query).
    pub snippet: Option<Snippet>,
}

/// A piece of one field with the matched words marked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Snippet {
    /// The API name of the field (`title`, `description`, `provider`, `municipality`,
    /// `address`, `schedule`).
    pub field: &'static str,
    pub fragment: String,
    /// Byte ranges of the matched words in `fragment`.
    pub highlights: Vec<(usize, usize)>,
}

impl Snippet {
    /// The fragment with every match wrapped in `open` … `close` (e.g. `**`, or `<b>`/`</b>`
    /// after escaping).
    pub fn marked(&self, open: &str, close: &str) -> String {
        let mut out = String::new();
        let mut at = 0;
        for &(from, to) in &self.highlights {
            out.push_str(&self.fragment[at..from]);
            out.push_str(open);
            out.push_str(&self.fragment[from..to]);
            out.push_str(close);
            at = to;
        }
        out.push_str(&self.fragment[at..]);
        out
    }
}

struct Fields {
    id: Field,
    /// Raw terms for the filter's sets: `c:<category>`, `t:<target group>`, `s:<status>`,
    /// `d:<district>`.
    filters: Field,
    slot: Field,
    title: Field,
    description: Field,
    provider: Field,
    place: Field,
    schedule: Field,
}

/// Field weights for ranking (see the module doc).
const WEIGHTS: [(usize, f32); 5] = [(0, 3.0), (1, 1.0), (2, 1.5), (3, 1.5), (4, 0.5)];

impl Fields {
    fn text(&self) -> [Field; 5] {
        [
            self.title,
            self.description,
            self.provider,
            self.place,
            self.schedule,
        ]
    }
}

struct Entry {
    offering: Arc<Offering>,
    meta: FilterMeta,
    title_key: Vec<u8>,
    /// The first eight bytes of `title_key`, so most comparisons need no pointer.
    title_prefix: u64,
}

/// A match, with what sorting needs inline (sorting 100,000 of them must not chase pointers).
struct Candidate {
    /// The sort order's value as an ascending number (see [`primary_key`]).
    primary: u64,
    title: u64,
    slot: u32,
    score: f32,
}

/// The value a sort order sorts by, as a number in ascending order: descending score,
/// ascending start date (none last), descending update time; 0 for title order.
fn primary_key(sort: SortOrder, m: &FilterMeta, score: f32) -> u64 {
    match sort {
        SortOrder::Relevance => u64::from(u32::MAX - score.max(0.0).to_bits()),
        SortOrder::Title => 0,
        SortOrder::StartDate => m.window.from.map_or(u64::MAX, |d| {
            (i64::from(d.to_julian_day()) + (1 << 40)) as u64
        }),
        SortOrder::LastUpdate => !((m.update_time.0 as u64) ^ (1 << 63)),
    }
}

fn prefix_u64(key: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = key.len().min(8);
    b[..n].copy_from_slice(&key[..n]);
    u64::from_be_bytes(b)
}

/// The search index of one node's read view.
pub struct SearchIndex {
    analyzer: Analyzer,
    collator: GermanCollator,
    fields: Fields,
    writer: IndexWriter<TantivyDocument>,
    reader: IndexReader,
    /// Offerings by slot (a number stored with each tantivy document); `None` once removed.
    entries: Vec<Option<Entry>>,
    slots: HashMap<RecordId, u32>,
    /// Changes since the last commit (tantivy does not see them yet).
    dirty: bool,
}

/// tantivy's smallest indexing memory budget per thread.
const WRITER_MEMORY: usize = 15_000_000;

impl SearchIndex {
    /// An empty index.
    pub fn new() -> Result<Self, SearchError> {
        let mut schema = Schema::builder();
        let text = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(TOKENIZER_NAME)
                .set_index_option(IndexRecordOption::WithFreqs),
        );
        let fields = Fields {
            id: schema.add_text_field("id", STRING),
            filters: schema.add_text_field("filters", STRING),
            slot: schema.add_u64_field("slot", FAST | INDEXED),
            title: schema.add_text_field("title", text.clone()),
            description: schema.add_text_field("description", text.clone()),
            provider: schema.add_text_field("provider", text.clone()),
            place: schema.add_text_field("place", text.clone()),
            schedule: schema.add_text_field("schedule", text),
        };
        let index = Index::create_in_ram(schema.build());
        let analyzer = Analyzer::german();
        index
            .tokenizers()
            .register(TOKENIZER_NAME, GermanTokenizer::new(analyzer.clone()));
        let writer = index.writer_with_num_threads(1, WRITER_MEMORY)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(SearchIndex {
            analyzer,
            collator: GermanCollator::new(),
            fields,
            writer,
            reader,
            entries: Vec::new(),
            slots: HashMap::new(),
            dirty: false,
        })
    }

    /// An index of these offerings, committed.
    pub fn build<'a>(
        offerings: impl IntoIterator<Item = &'a Offering>,
    ) -> Result<Self, SearchError> {
        let mut index = Self::new()?;
        for o in offerings {
            index.upsert(Arc::new(o.clone()))?;
        }
        index.commit()?;
        Ok(index)
    }

    /// Number of offerings held (including changes not committed yet).
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Adds an offering or replaces the one with its ID; visible to text queries after
    /// [`commit`](Self::commit).
    pub fn upsert(&mut self, o: Arc<Offering>) -> Result<(), SearchError> {
        let id_term = TantivyTerm::from_field_text(self.fields.id, &o.id.to_string());
        let slot = match self.slots.get(&o.id) {
            Some(&slot) => {
                self.writer.delete_term(id_term);
                slot
            }
            None => {
                let slot = self.entries.len() as u32;
                self.entries.push(None);
                self.slots.insert(o.id, slot);
                slot
            }
        };
        let f = &self.fields;
        let mut doc = TantivyDocument::default();
        doc.add_text(f.id, o.id.to_string());
        doc.add_u64(f.slot, u64::from(slot));
        for key in offering_terms(&o) {
            doc.add_text(f.filters, key);
        }
        doc.add_text(f.title, &o.title);
        doc.add_text(f.description, &o.description);
        doc.add_text(f.provider, &o.provider);
        doc.add_text(
            f.place,
            format!("{} {} {}", o.municipality, o.address, o.postal_code),
        );
        doc.add_text(f.schedule, &o.schedule);
        self.writer.add_document(doc)?;
        self.dirty = true;
        let title_key = self.collator.sort_key(&o.title);
        self.entries[slot as usize] = Some(Entry {
            meta: FilterMeta::of(&o),
            offering: o,
            title_prefix: prefix_u64(&title_key),
            title_key,
        });
        Ok(())
    }

    /// Removes an offering (no-op for an unknown ID); takes effect at once for results.
    pub fn remove(&mut self, id: &RecordId) {
        if let Some(slot) = self.slots.remove(id) {
            self.writer.delete_term(TantivyTerm::from_field_text(
                self.fields.id,
                &id.to_string(),
            ));
            self.entries[slot as usize] = None;
            self.dirty = true;
        }
    }

    /// Makes every change since the last commit visible to text queries.
    pub fn commit(&mut self) -> Result<(), SearchError> {
        self.writer.commit()?;
        self.reader.reload()?;
        self.dirty = false;
        Ok(())
    }

    /// Runs a query.
    pub fn search(&self, q: &Query) -> Result<SearchResult, SearchError> {
        let limit = if q.limit == 0 { 50 } else { q.limit };
        let parsed = self.parse(&q.text);
        let sort = match (q.sort, &parsed) {
            (SortOrder::Relevance, None) => SortOrder::Title,
            (s, _) => s,
        };
        let filter = q.filter.compile();
        let candidate = |slot: u32, score: f32| -> Option<Candidate> {
            let e = self.entry(slot)?;
            if !filter.matches(&e.meta, || q.filter.matches(&e.offering)) {
                return None;
            }
            Some(Candidate {
                primary: primary_key(sort, &e.meta, score),
                title: e.title_prefix,
                slot,
                score,
            })
        };
        let found: Vec<Candidate> = match &parsed {
            None => (0..self.entries.len() as u32)
                .filter_map(|slot| candidate(slot, 0.0))
                .collect(),
            // The common case (relevance, no filter beyond its sets, index committed): tantivy's top-k with
            // block-max pruning, and a count without scoring; matching 90 % of 100,000 offerings
            // ("Strasse") this is several times faster than scoring and collecting all.
            Some(words) if sort == SortOrder::Relevance && only_sets(&q.filter) && !self.dirty => {
                let query = self.tantivy_query(words, &q.filter);
                let searcher = self.reader.searcher();
                let total = query.count(&searcher)?;
                // A few more than the page, so that ties at its end are ordered by title.
                let top = TopDocs::with_limit(q.offset + limit + 8).order_by_score();
                let mut page = Vec::new();
                for (score, addr) in searcher.search(&query, &top)? {
                    let slots = searcher
                        .segment_reader(addr.segment_ord)
                        .fast_fields()
                        .u64("slot")?;
                    if let Some(c) = slots
                        .first(addr.doc_id)
                        .and_then(|s| candidate(s as u32, score))
                    {
                        page.push(c);
                    }
                }
                return Ok(self.page(page, total, q.offset, limit, &parsed));
            }
            Some(words) => {
                let query = self.tantivy_query(words, &q.filter);
                let searcher = self.reader.searcher();
                let scoring = sort == SortOrder::Relevance;
                let slots = searcher.search(&query, &SlotCollector { scoring })?;
                let mut seen = vec![false; self.entries.len()];
                slots
                    .into_iter()
                    .filter_map(|(slot, score)| {
                        // An offering updated since the last commit may match twice.
                        let first = !std::mem::replace(seen.get_mut(slot as usize)?, true);
                        first.then(|| candidate(slot, score)).flatten()
                    })
                    .collect()
            }
        };
        let total = found.len();
        Ok(self.page(found, total, q.offset, limit, &parsed))
    }

    /// Sorts the candidates far enough to cut out one page, and makes the hits.
    fn page(
        &self,
        mut found: Vec<Candidate>,
        total: usize,
        offset: usize,
        limit: usize,
        parsed: &Option<Vec<QueryWord>>,
    ) -> SearchResult {
        let cmp = |a: &Candidate, b: &Candidate| {
            (a.primary, a.title)
                .cmp(&(b.primary, b.title))
                .then_with(|| self.tie_break(a.slot, b.slot))
        };
        let end = (offset + limit).min(found.len());
        if end < found.len() && end > 0 {
            found.select_nth_unstable_by(end - 1, cmp);
            found.truncate(end);
        }
        found.sort_unstable_by(cmp);
        let hits = found
            .into_iter()
            .skip(offset)
            .take(limit)
            .filter_map(|c| {
                let e = self.entry(c.slot)?;
                Some(Hit {
                    offering: e.offering.clone(),
                    score: parsed.as_ref().map(|_| c.score),
                    snippet: parsed.as_ref().and_then(|w| self.snippet(&e.offering, w)),
                })
            })
            .collect();
        SearchResult { total, hits }
    }

    fn entry(&self, slot: u32) -> Option<&Entry> {
        self.entries.get(slot as usize).and_then(Option::as_ref)
    }

    /// Order of two candidates equal in their sort value and title prefix: whole title, then
    /// ID.
    fn tie_break(&self, a: u32, b: u32) -> std::cmp::Ordering {
        match (self.entry(a), self.entry(b)) {
            (Some(ea), Some(eb)) => ea
                .title_key
                .cmp(&eb.title_key)
                .then_with(|| ea.offering.id.cmp(&eb.offering.id)),
            _ => a.cmp(&b),
        }
    }

    /// The query's words: for each, the term it must match, and for an unfinished last word
    /// the folded prefix too. `None` without any word that is not a stop word.
    fn parse(&self, text: &str) -> Option<Vec<QueryWord>> {
        let all: Vec<_> = words(text).collect();
        let open_end = all.last().is_some_and(|w| w.to == text.len());
        let n = all.len();
        let parsed: Vec<QueryWord> = all
            .into_iter()
            .enumerate()
            .filter_map(|(i, w)| {
                let folded = fold(w.text);
                // Shorter prefixes would expand to a large part of the term dictionary.
                let prefix = (i + 1 == n && open_end && folded.chars().count() >= MIN_PREFIX)
                    .then(|| folded.clone());
                match self.analyzer.term_of_word(w.text) {
                    Some(term) => Some(QueryWord { term, prefix }),
                    // A stop word being typed may be the start of another word ("die" of
                    // "Dienst"): it counts as a prefix only.
                    None => prefix.map(|p| QueryWord {
                        term: String::new(),
                        prefix: Some(p),
                    }),
                }
            })
            .collect();
        (!parsed.is_empty()).then_some(parsed)
    }

    fn tantivy_query(&self, words: &[QueryWord], filter: &Filter) -> BooleanQuery {
        let fields = self.fields.text();
        let mut must: Vec<(Occur, Box<dyn TantivyQuery>)> = words
            .iter()
            .map(|w| {
                let mut should: Vec<(Occur, Box<dyn TantivyQuery>)> = Vec::new();
                for (i, weight) in WEIGHTS {
                    let field = fields[i];
                    if !w.term.is_empty() {
                        let tq = TermQuery::new(
                            TantivyTerm::from_field_text(field, &w.term),
                            IndexRecordOption::WithFreqs,
                        );
                        should.push((
                            Occur::Should,
                            Box::new(BoostQuery::new(Box::new(tq), weight)),
                        ));
                    }
                    if let Some(p) = &w.prefix {
                        let pq = FuzzyTermQuery::new_prefix(
                            TantivyTerm::from_field_text(field, p),
                            0,
                            false,
                        );
                        // A prefix match scores like a weak exact match.
                        should.push((
                            Occur::Should,
                            Box::new(BoostQuery::new(Box::new(pq), weight * 0.5)),
                        ));
                    }
                }
                (
                    Occur::Must,
                    Box::new(BooleanQuery::new(should)) as Box<dyn TantivyQuery>,
                )
            })
            .collect();
        // The filter's sets go into the query (scoring nothing), so tantivy only visits
        // offerings they keep; the rest of the filter is checked on the candidates.
        for keys in filter_terms(filter) {
            let any: Vec<(Occur, Box<dyn TantivyQuery>)> = keys
                .into_iter()
                .map(|k| {
                    let tq = TermQuery::new(
                        TantivyTerm::from_field_text(self.fields.filters, &k),
                        IndexRecordOption::Basic,
                    );
                    (Occur::Should, Box::new(tq) as Box<dyn TantivyQuery>)
                })
                .collect();
            let clause = ConstScoreQuery::new(Box::new(BooleanQuery::new(any)), 0.0);
            must.push((Occur::Must, Box::new(clause)));
        }
        BooleanQuery::new(must)
    }

    /// The first field (in ranking order) with a matched word, cut to about 160 characters
    /// around the first match.
    fn snippet(&self, o: &Offering, words: &[QueryWord]) -> Option<Snippet> {
        let fields: [(&'static str, &str); 6] = [
            ("title", &o.title),
            ("description", &o.description),
            ("provider", &o.provider),
            ("municipality", &o.municipality),
            ("address", &o.address),
            ("schedule", &o.schedule),
        ];
        for (name, text) in fields {
            let mut ranges: Vec<(usize, usize)> = self
                .analyzer
                .analyze(text)
                .into_iter()
                .filter(|t| {
                    words.iter().any(|w| {
                        (!w.term.is_empty() && t.text == w.term)
                            || w.prefix.as_ref().is_some_and(|p| {
                                t.kind != TermKind::Part && t.text.starts_with(p.as_str())
                            })
                    })
                })
                .map(|t| (t.from, t.to))
                .collect();
            if ranges.is_empty() {
                continue;
            }
            ranges.dedup();
            let (from, to) = window(text, ranges[0].0, 160);
            let highlights = ranges
                .into_iter()
                .filter(|&(a, b)| a >= from && b <= to)
                .map(|(a, b)| (a - from, b - from))
                .collect();
            return Some(Snippet {
                field: name,
                fragment: text[from..to].to_string(),
                highlights,
            });
        }
        None
    }
}

/// A range of about `max` bytes of `text` around `at`, on character boundaries, starting a
/// little before `at`.
fn window(text: &str, at: usize, max: usize) -> (usize, usize) {
    if text.len() <= max {
        return (0, text.len());
    }
    let mut from = at.saturating_sub(max / 4);
    while !text.is_char_boundary(from) {
        from -= 1;
    }
    // Start at a word.
    if from > 0
        && let Some(space) = text[from..at].find(' ')
    {
        from += space + 1;
    }
    let mut to = (from + max).min(text.len());
    while !text.is_char_boundary(to) {
        to -= 1;
    }
    (from, to)
}

/// The filter terms an offering is indexed with.
fn offering_terms(o: &Offering) -> Vec<String> {
    let mut v = vec![
        format!("c:{}", o.category.key()),
        format!("s:{}", o.status.key()),
        format!("d:{}", o.district_id),
    ];
    v.extend(o.target_groups.iter().map(|t| format!("t:{}", t.key())));
    v
}

/// For each set of the filter that is not empty, the terms of which an offering needs one
/// (an offering for `all` serves every target group).
fn filter_terms(f: &Filter) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    if !f.categories.is_empty() {
        out.push(
            f.categories
                .iter()
                .map(|c| format!("c:{}", c.key()))
                .collect(),
        );
    }
    if !f.statuses.is_empty() {
        out.push(
            f.statuses
                .iter()
                .map(|s| format!("s:{}", s.key()))
                .collect(),
        );
    }
    if !f.districts.is_empty() {
        out.push(f.districts.iter().map(|d| format!("d:{d}")).collect());
    }
    if !f.target_groups.is_empty() {
        let mut t: Vec<String> = f
            .target_groups
            .iter()
            .map(|t| format!("t:{}", t.key()))
            .collect();
        t.push(format!("t:{}", kreisnetz_model::TargetGroup::All.key()));
        out.push(t);
    }
    out
}

/// Whether the filter uses only its sets (which the tantivy query applies in full).
fn only_sets(f: &Filter) -> bool {
    !f.has_free_places
        && f.runs_during.is_none()
        && f.updated_before.is_none()
        && f.updated_after.is_none()
        && f.municipality.is_none()
        && f.language.is_none()
}

/// The shortest unfinished last word that also matches as a prefix.
const MIN_PREFIX: usize = 3;

struct QueryWord {
    /// The analyzed term (empty for a stop word being typed).
    term: String,
    /// The folded word, for the unfinished last word.
    prefix: Option<String>,
}

/// Collects (slot, score) of every matching document.
struct SlotCollector {
    scoring: bool,
}

struct SlotSegmentCollector {
    slots: Column<u64>,
    out: Vec<(u32, f32)>,
}

impl Collector for SlotCollector {
    type Fruit = Vec<(u32, f32)>;
    type Child = SlotSegmentCollector;

    fn for_segment(
        &self,
        _ord: u32,
        segment: &SegmentReader,
    ) -> tantivy::Result<SlotSegmentCollector> {
        Ok(SlotSegmentCollector {
            slots: segment.fast_fields().u64("slot")?,
            out: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        self.scoring
    }

    fn merge_fruits(&self, fruits: Vec<Vec<(u32, f32)>>) -> tantivy::Result<Vec<(u32, f32)>> {
        Ok(fruits.into_iter().flatten().collect())
    }
}

impl SegmentCollector for SlotSegmentCollector {
    type Fruit = Vec<(u32, f32)>;

    fn collect(&mut self, doc: DocId, score: Score) {
        if let Some(slot) = self.slots.first(doc) {
            self.out.push((slot as u32, score));
        }
    }

    fn harvest(self) -> Vec<(u32, f32)> {
        self.out
    }
}
