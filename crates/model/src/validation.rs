//! Field-by-field validation errors.
use std::fmt;

use serde::Serialize;

/// One rule broken by one field. `field` is the API's field path (e.g. `places_free`,
/// `languages[2]`), so a client can show the message next to the input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

impl FieldViolation {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        FieldViolation {
            field: field.into(),
            description: description.into(),
        }
    }
}

/// Most characters of an input value quoted in an error message; longer values are cut with `…`.
pub const MAX_QUOTED_CHARS: usize = 64;

/// Most violations reported for one request ([`Violations::bounded`]): a client that sends
/// 10,000 bad values learns about the first ones and how many more there are, not megabytes.
pub const MAX_REPORTED_VIOLATIONS: usize = 20;

/// Most characters of one violation's field path or description in a report.
const MAX_DESCRIPTION_CHARS: usize = 300;

/// An input value for an error message: in double quotes, with control, bidi and other
/// invisible characters escaped (so an error message cannot reorder or hide text), and cut
/// after [`MAX_QUOTED_CHARS`] characters with `…`.
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len().min(MAX_QUOTED_CHARS * 4) + 4);
    out.push('"');
    for (i, c) in value.chars().enumerate() {
        if i == MAX_QUOTED_CHARS {
            out.push('…');
            break;
        }
        out.extend(c.escape_debug());
    }
    out.push('"');
    out
}

/// `text` cut after `max` characters with `…`.
fn truncated(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// Bidi embedding, override and isolate controls (U+202A–U+202E, U+2066–U+2069): they reorder
/// how the text around them is shown, so a title could pose as another in a table. The plain
/// direction marks (U+200E, U+200F, U+061C) stay allowed: Arabic and Persian text needs them.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Characters that take no room on screen: zero-width spaces and joiners, word joiners and
/// invisible operators, the BOM, the soft hyphen, the Mongolian vowel separator, direction
/// marks. Allowed inside text (Persian needs the zero-width non-joiner), but a value made only
/// of these (and white space) is empty to a reader.
pub fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || is_bidi_control(c)
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{061C}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{17B4}'
                | '\u{17B5}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2060}'..='\u{2064}'
                | '\u{3164}'
                | '\u{FEFF}'
                | '\u{FFA0}'
        )
}

/// Whether a text field may hold line breaks (a description) or is one line (a title, a name).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lines {
    One,
    Many,
}

/// Every rule an input breaks. Never empty when returned as an error.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Violations(pub Vec<FieldViolation>);

impl Violations {
    pub fn push(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation::new(field, description));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(())` when nothing was broken.
    pub fn into_result(self) -> Result<(), Violations> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }

    /// Whether a violation names this field.
    pub fn has(&self, field: &str) -> bool {
        self.0.iter().any(|v| v.field == field)
    }

    /// The rules of every free-text field: required or not, at most `max_chars` characters,
    /// no control characters (line breaks only in [`Lines::Many`] fields), no bidi overrides, and
    /// not made only of invisible characters. Also for free text outside offerings and contacts
    /// (the name of a trusted district).
    pub fn text(
        &mut self,
        field: &str,
        value: &str,
        required: bool,
        max_chars: usize,
        lines: Lines,
    ) {
        let blank = value.chars().all(is_invisible);
        if blank && !value.is_empty() && !value.trim().is_empty() {
            self.push(
                field,
                "holds only invisible characters (zero-width spaces, joiners, ...)",
            );
            return;
        }
        if required && blank {
            self.push(field, "is required");
            return;
        }
        let n = value.chars().count();
        if n > max_chars {
            self.push(
                field,
                format!("is {n} characters long; at most {max_chars} are allowed"),
            );
        }
        let allowed_control = |c: char| lines == Lines::Many && matches!(c, '\n' | '\r' | '\t');
        if value.chars().any(|c| c.is_control() && !allowed_control(c)) {
            self.push(
                field,
                match lines {
                    Lines::One => "contains control characters (line breaks and tabs included)",
                    Lines::Many => "contains control characters other than line breaks and tabs",
                },
            );
        }
        if value.chars().any(is_bidi_control) {
            self.push(
                field,
                "contains bidi override characters (U+202A–U+202E, U+2066–U+2069), which reorder \
                 how text is shown",
            );
        }
    }

    /// This list as a client gets it: at most [`MAX_REPORTED_VIOLATIONS`] violations, the
    /// last of them saying how many more there were, each field path and description cut to a
    /// few hundred characters. Every error that reaches a client goes through this, so its
    /// size is bounded whatever the input.
    pub fn bounded(&self) -> Violations {
        let mut out: Vec<FieldViolation> = self
            .0
            .iter()
            .take(MAX_REPORTED_VIOLATIONS)
            .map(|v| FieldViolation {
                field: truncated(&v.field, MAX_DESCRIPTION_CHARS),
                description: truncated(&v.description, MAX_DESCRIPTION_CHARS),
            })
            .collect();
        let more = self.0.len().saturating_sub(MAX_REPORTED_VIOLATIONS);
        if more > 0 {
            let fields: std::collections::BTreeSet<&str> = self.0[MAX_REPORTED_VIOLATIONS..]
                .iter()
                .map(|v| v.field.split(['[', '.']).next().unwrap_or(""))
                .take(5)
                .collect();
            out.push(FieldViolation::new(
                truncated(&fields.into_iter().collect::<Vec<_>>().join(","), 100),
                format!("… and {more} more problems like these, not listed"),
            ));
        }
        Violations(out)
    }
}

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", v.field, v.description)?;
        }
        Ok(())
    }
}

impl std::error::Error for Violations {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_values_are_short_and_escaped() {
        assert_eq!(quote("de"), "\"de\"");
        let long = quote(&"x".repeat(1_000_000));
        assert_eq!(long.chars().count(), MAX_QUOTED_CHARS + 3);
        assert!(long.ends_with("…\""));
        assert_eq!(quote("a\u{202E}b\n"), "\"a\\u{202e}b\\n\"");
    }

    #[test]
    fn a_report_has_at_most_twenty_violations_and_says_how_many_more() {
        let mut v = Violations::default();
        for i in 0..10_000 {
            v.push(format!("languages[{i}]"), "x".repeat(1000));
        }
        let b = v.bounded();
        assert_eq!(b.0.len(), MAX_REPORTED_VIOLATIONS + 1);
        assert!(b.0.iter().all(|v| v.description.chars().count() <= 301));
        let last = b.0.last().unwrap();
        assert_eq!(last.field, "languages");
        assert!(
            last.description.contains("9980 more"),
            "{}",
            last.description
        );
        let mut few = Violations::default();
        few.push("title", "is required");
        assert_eq!(few.bounded(), few);
    }

    #[test]
    fn text_refuses_controls_bidi_overrides_and_invisible_only_values() {
        let check = |value: &str, lines: Lines| {
            let mut v = Violations::default();
            v.text("title", value, true, 200, lines);
            v
        };
        assert!(check("Kurs B2", Lines::One).is_empty());
        assert!(check("Deutsch\nfür die Pflege", Lines::Many).is_empty());
        assert!(
            check("فارسی\u{200C}زبان", Lines::One).is_empty(),
            "ZWNJ inside text"
        );
        for bad in [
            "Kurs\u{0}",
            "Kurs\nB2",
            "Kurs\tB2",
            "\u{202E}2B sruK",
            "Kurs \u{2067}x\u{2069}",
            "\u{200B}",
            "\u{200B}\u{200D}\u{FEFF}",
            " ",
        ] {
            assert!(!check(bad, Lines::One).is_empty(), "{bad:?}");
        }
        assert!(!check("a\u{7}b", Lines::Many).is_empty());
        assert!(!check("a\u{202D}b", Lines::Many).is_empty());
        let mut optional = Violations::default();
        optional.text("cost", "\u{200B}", false, 200, Lines::One);
        assert!(optional.has("cost"));
    }
}
