//! Output: results as JSON lines on stdout, notes for humans on stderr.
use std::io::Write;

use serde::Serialize;

/// Prints one result as a line of JSON on stdout (flushed, so a reader sees it at once).
pub fn emit(result: &impl Serialize) {
    let line = serde_json::to_string(result).expect("results serialise");
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// A progress note for a human, on stderr.
pub fn note(message: impl AsRef<str>) {
    eprintln!("[kreisnetz-bench] {}", message.as_ref());
}

/// Mebibytes, rounded to a tenth.
pub fn mib(bytes: u64) -> f64 {
    round(bytes as f64 / (1024.0 * 1024.0), 1)
}

/// `x` rounded to `decimals` places, so the JSON stays readable.
pub fn round(x: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (x * scale).round() / scale
}
