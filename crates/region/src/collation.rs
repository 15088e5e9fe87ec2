//! German sort order for titles and names (ICU4X's collator with the `de` locale): `Ä` sorts
//! with `A`, `ß` with `ss`, case only breaks ties, so `Ärztliche Beratung` comes before
//! `Zahnarzt`. A byte-wise sort would put every umlaut after `z`.
use std::cmp::Ordering;

use icu_collator::options::CollatorOptions;
use icu_collator::{Collator, CollatorBorrowed};
use icu_locale_core::locale;

/// Compares and makes sort keys with German collation. Built from data compiled into the
/// binary: no files, no network.
pub struct GermanCollator {
    collator: CollatorBorrowed<'static>,
}

impl Default for GermanCollator {
    fn default() -> Self {
        Self::new()
    }
}

impl GermanCollator {
    pub fn new() -> Self {
        let collator = Collator::try_new(locale!("de").into(), CollatorOptions::default())
            .expect("the German collation data is compiled into icu_collator");
        GermanCollator { collator }
    }

    pub fn compare(&self, a: &str, b: &str) -> Ordering {
        self.collator.compare(a, b)
    }

    /// A byte string whose byte-wise order is the collation order: computed once per record,
    /// it makes sorting many records as cheap as sorting bytes.
    pub fn sort_key(&self, s: &str) -> Vec<u8> {
        let mut key = Vec::with_capacity(s.len() * 2);
        let Ok(()) = self.collator.write_sort_key_to(s, &mut key);
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn umlauts_sort_with_their_base_letter() {
        let c = GermanCollator::new();
        let mut titles = vec![
            "Zahnarztbesuch begleiten",
            "Ärztliche Sprechstunde",
            "Arbeitsmarktberatung",
            "Übersetzungshilfe",
            "Uhrmacher-Werkstatt",
            "Öffnungszeiten",
            "ohne Anmeldung",
        ];
        titles.sort_by(|a, b| c.compare(a, b));
        assert_eq!(
            titles,
            [
                "Arbeitsmarktberatung",
                "Ärztliche Sprechstunde",
                "Öffnungszeiten",
                "ohne Anmeldung",
                "Übersetzungshilfe",
                "Uhrmacher-Werkstatt",
                "Zahnarztbesuch begleiten",
            ]
        );
        let mut by_key = titles.clone();
        by_key.reverse();
        by_key.sort_by_key(|t| c.sort_key(t));
        assert_eq!(by_key, titles, "sort keys give the same order");
    }
}
