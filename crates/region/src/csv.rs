//! CSV for spreadsheets. [`CsvStyle::GermanExcel`] is what a German Excel opens with a double
//! click: UTF-8 with a byte-order mark (else umlauts break), `;` as separator (`,` is the
//! decimal comma), CRLF line ends. Fields with a separator, quote, line break or surrounding
//! space are quoted, quotes doubled (RFC 4180).
//!
//! Not done: guarding against formula injection (a cell starting with `=`, `+`, `-`, `@`); the
//! data comes from the region's own districts, and changing cells would change the data.

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
