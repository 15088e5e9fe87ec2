//! German normalisation: the one analyzer that search (through tantivy) and the overlap
//! report's text similarity both use, so "the same word" means the same thing everywhere.
//!
//! A text goes through these steps, word by word:
//! 1. **split** at everything that is not a letter or digit (`Deutsch-Treff` is two words);
//! 2. **fold**: lower case, German umlauts to their written-out forms (ä → ae, ö → oe,
//!    ü → ue, ß → ss) and other accents dropped (é → e), so `Geflüchtete` and `Gefluechtete`,
//!    `Straße` and `Strasse` become the same word;
//! 3. **stop words** (`für`, `und`, ...) are dropped;
//! 4. **stem** with the Snowball German stemmer, twice so that singular and plural meet
//!    (`Sprachkurse` and `Sprachkurs` → `sprachkur`);
//! 5. **synonyms**: a stem in a synonym group becomes the group's stem (`Kita`,
//!    `Kindertagesstätte` and `Kinderbetreuung` all become one term);
//! 6. **compound parts**: a word that starts or ends with a known part also yields the part
//!    (`Berufssprachkurs` → also `Sprachkurs` and `Kurs`), at the same position.
//!
//! See [`crate::lexicon`] for the word lists.
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

use crate::lexicon::{COMPOUND_PARTS, STOP_WORDS, SYNONYM_GROUPS};

/// Lower-cases and folds one string with German conventions (ä → ae, ß → ss, é → e, ...).
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        fold_char(c, &mut out);
    }
    out
}

fn fold_char(c: char, out: &mut String) {
    match c {
        'ä' | 'Ä' | 'æ' | 'Æ' => out.push_str("ae"),
        'ö' | 'Ö' | 'œ' | 'Œ' => out.push_str("oe"),
        'ü' | 'Ü' => out.push_str("ue"),
        'ß' | 'ẞ' => out.push_str("ss"),
        'à' | 'á' | 'â' | 'ã' | 'å' | 'ā' | 'ă' | 'ą' | 'À' | 'Á' | 'Â' | 'Ã' | 'Å' => {
            out.push('a')
        }
        'ç' | 'ć' | 'č' | 'Ç' | 'Ć' | 'Č' => out.push('c'),
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ę' | 'ě' | 'È' | 'É' | 'Ê' | 'Ë' => out.push('e'),
        'ì' | 'í' | 'î' | 'ï' | 'ı' | 'Ì' | 'Í' | 'Î' | 'Ï' | 'İ' => out.push('i'),
        'ñ' | 'ń' | 'ň' | 'Ñ' => out.push('n'),
        'ò' | 'ó' | 'ô' | 'õ' | 'ø' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ø' => out.push('o'),
        'ù' | 'ú' | 'û' | 'ů' | 'Ù' | 'Ú' | 'Û' => out.push('u'),
        'ý' | 'ÿ' | 'Ý' => out.push('y'),
        'š' | 'ś' | 'ş' | 'Š' | 'Ś' | 'Ş' => out.push('s'),
        'ž' | 'ź' | 'ż' | 'Ž' | 'Ź' | 'Ż' => out.push('z'),
        'ł' | 'Ł' => out.push('l'),
        'ğ' | 'Ğ' => out.push('g'),
        'ř' | 'Ř' => out.push('r'),
        _ => out.extend(c.to_lowercase()),
    }
}

/// One word of a text as found in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Word<'a> {
    /// Byte range in the text.
    pub from: usize,
    pub to: usize,
    pub text: &'a str,
}

/// The words of a text: maximal runs of letters and digits.
pub fn words(text: &str) -> impl Iterator<Item = Word<'_>> {
    let mut rest = text.char_indices().peekable();
    std::iter::from_fn(move || {
        let (from, _) = loop {
            let (i, c) = rest.next()?;
            if c.is_alphanumeric() {
                break (i, c);
            }
        };
        let mut to = text.len();
        while let Some(&(i, c)) = rest.peek() {
            if !c.is_alphanumeric() {
                to = i;
                break;
            }
            rest.next();
        }
        Some(Word {
            from,
            to,
            text: &text[from..to],
        })
    })
}

/// What an analyzed term stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TermKind {
    /// The word itself: its stem, or its synonym group's stem.
    Word,
    /// The word's own stem where a synonym group replaced it (kept so that typing
    /// `Sprachk` still finds `Sprachkurs`, whose term is `deutschkur`).
    Stem,
    /// A known part of a compound word.
    Part,
}

/// One analyzed term: a stem (after synonyms) with where its word is in the text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Term {
    pub text: String,
    pub kind: TermKind,
    /// Byte range of the word in the original text.
    pub from: usize,
    pub to: usize,
    /// Index of the word (stop words count), shared by a word's compound parts.
    pub position: usize,
}

/// The German analyzer; cheap to clone (the tables are shared).
#[derive(Clone)]
pub struct Analyzer {
    tables: Arc<Tables>,
}

struct Tables {
    stemmer: frostem::Stemmer,
    stop: std::collections::HashSet<String>,
    /// Stem → the stem of its synonym group's first word.
    synonyms: HashMap<String, String>,
    /// (folded part, its term after synonyms, its stem) for compound splitting.
    parts: Vec<(String, String, String)>,
    /// Word as written → its terms.
    cache: Mutex<HashMap<String, WordTerms>>,
}

/// The terms of one word, shared between cache and callers.
type WordTerms = Arc<[(String, TermKind)]>;

/// Words cached before the cache starts over (a few MB).
const WORD_CACHE_MAX: usize = 50_000;

impl Default for Analyzer {
    fn default() -> Self {
        Self::german()
    }
}

impl Analyzer {
    /// The analyzer with the crate's word lists (built once per process).
    pub fn german() -> Self {
        static TABLES: OnceLock<Arc<Tables>> = OnceLock::new();
        let tables = TABLES.get_or_init(|| Arc::new(Tables::build())).clone();
        Analyzer { tables }
    }

    /// Whether a folded word is a stop word.
    pub fn is_stop_word(&self, folded: &str) -> bool {
        self.tables.stop.contains(folded)
    }

    /// The term of a single word without compound parts (what a query word is looked up as).
    /// `None` for a stop word.
    pub fn term_of_word(&self, word: &str) -> Option<String> {
        let folded = fold(word);
        if self.is_stop_word(&folded) {
            return None;
        }
        Some(self.tables.canonical(&folded))
    }

    /// Every term of a text, in order; compound parts follow their word.
    pub fn analyze(&self, text: &str) -> Vec<Term> {
        let mut out = Vec::new();
        self.analyze_into(text, &mut out);
        out
    }

    fn analyze_into(&self, text: &str, out: &mut Vec<Term>) {
        for (position, w) in words(text).enumerate() {
            for (term, kind) in self.word_terms(w.text).iter() {
                out.push(Term {
                    text: term.clone(),
                    kind: *kind,
                    from: w.from,
                    to: w.to,
                    position,
                });
            }
        }
    }

    /// The terms of one word (empty for a stop word). Words repeat a lot (a region's offerings
    /// share a vocabulary of a few thousand words), so results are cached.
    fn word_terms(&self, word: &str) -> WordTerms {
        let t = &*self.tables;
        if let Ok(cache) = t.cache.lock()
            && let Some(hit) = cache.get(word)
        {
            return hit.clone();
        }
        let folded = fold(word);
        let mut terms: Vec<(String, TermKind)> = Vec::new();
        if !t.stop.contains(&folded) {
            let stem = t.stem(&folded);
            let main = t.synonym(&stem);
            terms.push((main.clone(), TermKind::Word));
            if stem != main {
                terms.push((stem.clone(), TermKind::Stem));
            }
            for (_, canonical, part_stem) in &t.parts {
                // A word starting with a part's stem (Sprach|kurs, Pflege|kurs), or whose stem
                // ends with it (Berufssprach|kurs).
                let prefix = part_stem.len() >= 4
                    && folded.len() >= part_stem.len() + 3
                    && folded.starts_with(part_stem.as_str());
                let suffix =
                    stem.len() >= part_stem.len() + 3 && stem.ends_with(part_stem.as_str());
                if (prefix || suffix) && !terms.iter().any(|(x, _)| x == canonical) {
                    terms.push((canonical.clone(), TermKind::Part));
                }
            }
        }
        let terms: WordTerms = terms.into();
        if let Ok(mut cache) = t.cache.lock() {
            if cache.len() >= WORD_CACHE_MAX {
                cache.clear();
            }
            cache.insert(word.to_string(), terms.clone());
        }
        terms
    }

    /// The distinct terms of a text (words and compound parts), sorted, for set similarity.
    pub fn term_set(&self, text: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .analyze(text)
            .into_iter()
            .filter(|t| t.kind != TermKind::Stem)
            .map(|t| t.text)
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}

impl Tables {
    fn build() -> Tables {
        let stemmer = frostem::Stemmer::new(frostem::Algorithm::German);
        let mut tables = Tables {
            stemmer,
            stop: STOP_WORDS.iter().map(|w| fold(w)).collect(),
            synonyms: HashMap::new(),
            parts: Vec::new(),
            cache: Mutex::new(HashMap::new()),
        };
        for group in SYNONYM_GROUPS {
            let name = tables.stem(&fold(group[0]));
            for w in group.iter() {
                let stem = tables.stem(&fold(w));
                tables.synonyms.insert(stem, name.clone());
            }
        }
        tables.parts = COMPOUND_PARTS
            .iter()
            .map(|p| {
                let folded = fold(p);
                let part_stem = tables.stem(&folded);
                (folded, tables.synonym(&part_stem), part_stem)
            })
            .filter(|(folded, _, _)| folded.len() >= 4)
            .collect();
        tables
    }

    /// Snowball German, applied twice: one pass removes one suffix, so `Kurse` → `kurs` but
    /// `Kurs` → `kur`; the second pass makes singular and plural meet.
    fn stem(&self, folded: &str) -> String {
        let once = self.stemmer.stem(folded);
        self.stemmer.stem(&once).into_owned()
    }

    fn synonym(&self, stem: &str) -> String {
        self.synonyms
            .get(stem)
            .cloned()
            .unwrap_or_else(|| stem.to_string())
    }

    fn canonical(&self, folded: &str) -> String {
        self.synonym(&self.stem(folded))
    }
}

/// The analyzer as a tantivy tokenizer (registered as [`TOKENIZER_NAME`]).
#[derive(Clone, Default)]
pub struct GermanTokenizer {
    analyzer: Analyzer,
}

/// The name the search index registers [`GermanTokenizer`] under.
pub const TOKENIZER_NAME: &str = "kreisnetz_de";

impl GermanTokenizer {
    pub fn new(analyzer: Analyzer) -> Self {
        GermanTokenizer { analyzer }
    }
}

/// The tokens of one text, produced up front.
pub struct GermanTokenStream {
    tokens: Vec<Token>,
    next: usize,
}

impl Tokenizer for GermanTokenizer {
    type TokenStream<'a> = GermanTokenStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> GermanTokenStream {
        let tokens = self
            .analyzer
            .analyze(text)
            .into_iter()
            .map(|t| Token {
                offset_from: t.from,
                offset_to: t.to,
                position: t.position,
                text: t.text,
                position_length: 1,
            })
            .collect();
        GermanTokenStream { tokens, next: 0 }
    }
}

impl TokenStream for GermanTokenStream {
    fn advance(&mut self) -> bool {
        self.next += 1;
        self.next <= self.tokens.len()
    }

    fn token(&self) -> &Token {
        &self.tokens[self.next - 1]
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next - 1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(s: &str) -> Vec<String> {
        Analyzer::german().term_set(s)
    }

    fn same(a: &str, b: &str) {
        let an = Analyzer::german();
        assert_eq!(an.term_of_word(a), an.term_of_word(b), "{a} vs {b}");
    }

    #[test]
    fn umlauts_and_sharp_s_fold_to_their_written_out_forms() {
        assert_eq!(fold("Geflüchtete"), "gefluechtete");
        assert_eq!(fold("Straße"), "strasse");
        assert_eq!(fold("ÄRZTLICHE Öffnung"), "aerztliche oeffnung");
        assert_eq!(fold("Café"), "cafe");
        same("Geflüchtete", "Gefluechtete");
        same("Straße", "Strasse");
        same("Bürgerhaus", "Buergerhaus");
    }

    #[test]
    fn stemming_joins_singular_and_plural() {
        same("Sprachkurse", "Sprachkurs");
        same("Frauen", "Frau");
        same("Kurse", "Kurs");
        same("Beratungen", "Beratung");
    }

    #[test]
    fn synonyms_become_one_term() {
        same("Kita", "Kindertagesstätte");
        same("Kinderbetreuung", "Kindertagesstätte");
        same("Deutschkurs", "Sprachkurs");
        same("Flüchtlinge", "Geflüchtete");
        same("Asylsuchende", "Gefluechtete");
        let an = Analyzer::german();
        assert_ne!(an.term_of_word("Kita"), an.term_of_word("Sprachkurs"));
    }

    #[test]
    fn compounds_yield_their_known_parts() {
        let t = terms("Berufssprachkurs");
        let an = Analyzer::german();
        for part in ["Sprachkurs", "Kurs", "Berufssprachkurs"] {
            let want = an.term_of_word(part).unwrap();
            assert!(t.contains(&want), "{part} ({want}) not in {t:?}");
        }
        let t = terms("Pflegekurs");
        assert!(t.contains(&an.term_of_word("Pflege").unwrap()), "{t:?}");
        // Too short a rest is no compound: "Kurse" is not "Kurs" + "e".
        assert_eq!(terms("Kurse"), vec![an.term_of_word("Kurs").unwrap()]);
    }

    #[test]
    fn stop_words_and_punctuation_are_dropped_offsets_kept() {
        let an = Analyzer::german();
        let text = "Kurs für Frauen, Mo–Fr";
        let t = an.analyze(text);
        let words: Vec<&str> = t.iter().map(|t| &text[t.from..t.to]).collect();
        assert_eq!(words, ["Kurs", "Frauen", "Mo", "Fr"]);
        assert_eq!(t[1].position, 2, "the stop word keeps its position");
    }

    #[test]
    fn words_split_at_anything_not_a_letter_or_digit() {
        let w: Vec<&str> = words("B2-Kurs (Pflege)/Straße 5").map(|w| w.text).collect();
        assert_eq!(w, ["B2", "Kurs", "Pflege", "Straße", "5"]);
    }
}
