//! CSV for spreadsheets. [`CsvStyle::GermanExcel`] is what a German Excel opens with a double
//! click: UTF-8 with a byte-order mark (else umlauts break), `;` as separator (`,` is the
//! decimal comma), CRLF line ends. Fields with a separator, quote, line break or surrounding
//! space are quoted, quotes doubled (RFC 4180).
//!
//! Not done: guarding against formula injection (a cell starting with `=`, `+`, `-`, `@`); the
//! data comes from the region's own districts, and changing cells would change the data.

use crate::overlaps::OverlapReport;
use crate::reports::{CoverageReport, GapKind, GapReport, StaleReport};

/// Which CSV dialect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CsvStyle {
    /// RFC 4180: `,`, LF, no BOM.
    Standard,
    /// UTF-8 BOM, `;`, CRLF.
    GermanExcel,
}

impl CsvStyle {
    fn separator(self) -> char {
        match self {
            CsvStyle::Standard => ',',
            CsvStyle::GermanExcel => ';',
        }
    }

    fn line_end(self) -> &'static str {
        match self {
            CsvStyle::Standard => "\n",
            CsvStyle::GermanExcel => "\r\n",
        }
    }
}

/// A whole CSV document: the header row, then every row.
pub fn to_csv<R, F>(header: &[&str], rows: R, style: CsvStyle) -> String
where
    R: IntoIterator<Item = Vec<F>>,
    F: AsRef<str>,
{
    let mut out = String::new();
    if style == CsvStyle::GermanExcel {
        out.push('\u{feff}');
    }
    write_row(&mut out, header.iter().copied(), style);
    for row in rows {
        write_row(&mut out, row.iter().map(AsRef::as_ref), style);
    }
    out
}

fn write_row<'a>(out: &mut String, fields: impl Iterator<Item = &'a str>, style: CsvStyle) {
    let sep = style.separator();
    for (i, f) in fields.enumerate() {
        if i > 0 {
            out.push(sep);
        }
        let quote = f.contains([sep, '"', '\n', '\r'])
            || f.starts_with(char::is_whitespace)
            || f.ends_with(char::is_whitespace);
        if quote {
            out.push('"');
            out.push_str(&f.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(f);
        }
    }
    out.push_str(style.line_end());
}

/// A number for a German spreadsheet: decimal comma (`0,87`).
pub fn german_decimal(x: f64, places: usize) -> String {
    format!("{x:.places$}").replace('.', ",")
}

impl OverlapReport {
    /// One row per group: offerings, titles and districts joined with ` | `, the score (decimal
    /// comma for German Excel), reason codes, explanation, and the known-overlap note.
    pub fn to_csv(&self, style: CsvStyle) -> String {
        let num = |x: f64| match style {
            CsvStyle::GermanExcel => german_decimal(x, 2),
            CsvStyle::Standard => format!("{x:.2}"),
        };
        let rows = self.overlaps.iter().map(|o| {
            let codes: Vec<String> = o
                .reasons
                .iter()
                .filter_map(|r| {
                    serde_json::to_value(r)
                        .ok()
                        .and_then(|v| v["code"].as_str().map(str::to_string))
                })
                .collect();
            vec![
                o.offerings.join(" | "),
                o.titles.join(" | "),
                o.district_names.join(" | "),
                num(o.score),
                codes.join(" "),
                o.explanation.clone(),
                o.known.as_ref().map(|k| k.note.clone()).unwrap_or_default(),
            ]
        });
        to_csv(
            &[
                "offerings",
                "titles",
                "districts",
                "score",
                "reasons",
                "explanation",
                "known",
            ],
            rows,
            style,
        )
    }
}

impl GapReport {
    /// The gap cells, one row each.
    pub fn to_csv(&self, style: CsvStyle) -> String {
        let rows = self.gaps.iter().map(|g| {
            vec![
                g.district_id.clone(),
                g.district_name.clone(),
                g.category.key().to_string(),
                g.target_group.key().to_string(),
                g.offerings.to_string(),
                g.places_free.to_string(),
                g.gap.map(|k| gap_code(k).to_string()).unwrap_or_default(),
            ]
        });
        to_csv(
            &[
                "district_id",
                "district_name",
                "category",
                "target_group",
                "offerings",
                "places_free",
                "gap",
            ],
            rows,
            style,
        )
    }
}

fn gap_code(k: GapKind) -> &'static str {
    match k {
        GapKind::NoOffering => "no_offering",
        GapKind::NoFreePlaces => "no_free_places",
    }
}

impl StaleReport {
    /// One row per stale offering, reason codes separated by spaces.
    pub fn to_csv(&self, style: CsvStyle) -> String {
        let rows = self.stale.iter().map(|e| {
            let reasons: Vec<String> = e
                .reasons
                .iter()
                .filter_map(|r| serde_json::to_value(r).ok()?.as_str().map(str::to_string))
                .collect();
            vec![
                e.name.clone(),
                e.district_name.clone(),
                e.provider.clone(),
                e.title.clone(),
                reasons.join(" "),
                e.days_since_update.to_string(),
                e.end_date.clone().unwrap_or_default(),
            ]
        });
        to_csv(
            &[
                "name",
                "district_name",
                "provider",
                "title",
                "reasons",
                "days_since_update",
                "end_date",
            ],
            rows,
            style,
        )
    }
}

impl CoverageReport {
    /// One row per district and category with current offerings, plus a total row per
    /// district (`category` empty) with free places and the share updated in 90 days.
    pub fn to_csv(&self, style: CsvStyle) -> String {
        let num = |x: f64| match style {
            CsvStyle::GermanExcel => german_decimal(x, 3),
            CsvStyle::Standard => format!("{x:.3}"),
        };
        let mut rows = Vec::new();
        for d in &self.districts {
            rows.push(vec![
                d.district_id.clone(),
                d.district_name.clone(),
                String::new(),
                d.offerings.to_string(),
                d.places_free.to_string(),
                num(d.updated_last_90_days),
            ]);
            for (c, n) in &d.by_category {
                rows.push(vec![
                    d.district_id.clone(),
                    d.district_name.clone(),
                    c.key().to_string(),
                    n.to_string(),
                    String::new(),
                    String::new(),
                ]);
            }
        }
        to_csv(
            &[
                "district_id",
                "district_name",
                "category",
                "offerings",
                "places_free",
                "updated_last_90_days",
            ],
            rows,
            style,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn german_excel_has_bom_semicolons_crlf_and_quotes() {
        let csv = to_csv(
            &["Titel", "Ort"],
            [
                vec!["Sprachkurs; B1", "Vechta"],
                vec!["Das \"Café\"", "Oldenburg\n(Oldb)"],
                vec!["Ärztliche Beratung", " Lohne"],
            ],
            CsvStyle::GermanExcel,
        );
        assert_eq!(
            csv,
            "\u{feff}Titel;Ort\r\n\"Sprachkurs; B1\";Vechta\r\n\"Das \"\"Café\"\"\";\"Oldenburg\n(Oldb)\"\r\nÄrztliche Beratung;\" Lohne\"\r\n"
        );
        assert!(csv.as_bytes().starts_with(&[0xEF, 0xBB, 0xBF]));
    }

    #[test]
    fn standard_csv_uses_commas() {
        let csv = to_csv(&["a", "b"], [vec!["1,5", "x"]], CsvStyle::Standard);
        assert_eq!(csv, "a,b\n\"1,5\",x\n");
        assert_eq!(german_decimal(0.875, 2), "0,88");
    }
}
