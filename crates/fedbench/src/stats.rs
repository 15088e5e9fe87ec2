//! Percentiles, process memory and the one-JSON-object-per-line output.
use std::time::Duration;

use serde_json::{Map, Value, json};

/// Latency samples in milliseconds.
#[derive(Default)]
pub struct Samples(Vec<f64>);

impl Samples {
    pub fn with_capacity(n: usize) -> Self {
        Samples(Vec::with_capacity(n))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn push(&mut self, d: Duration) {
        self.0.push(d.as_secs_f64() * 1e3);
    }

    /// Nearest-rank percentile (`p` in 0..=100) of the samples.
    pub fn percentile(&self, p: f64) -> f64 {
        if self.is_empty() {
            return f64::NAN;
        }
        let mut sorted = self.0.clone();
        sorted.sort_by(f64::total_cmp);
        let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
        sorted[rank.clamp(1, sorted.len()) - 1]
    }

    pub fn mean(&self) -> f64 {
        if self.is_empty() {
            return f64::NAN;
        }
        self.0.iter().sum::<f64>() / self.0.len() as f64
    }

    /// `p50_ms`, `p90_ms`, `p99_ms`, `max_ms`, `mean_ms`, `count` into `out`.
    pub fn summary(&self, out: &mut Map<String, Value>) {
        out.insert("count".into(), json!(self.0.len()));
        for (name, p) in [("p50_ms", 50.0), ("p90_ms", 90.0), ("p99_ms", 99.0)] {
            out.insert(name.into(), json!(round3(self.percentile(p))));
        }
        out.insert("max_ms".into(), json!(round3(self.percentile(100.0))));
        out.insert("mean_ms".into(), json!(round3(self.mean())));
    }
}

pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

pub fn ms(d: Duration) -> f64 {
    round3(d.as_secs_f64() * 1e3)
}

/// The process's peak resident set size (`VmHWM`) in MiB, if the kernel tells.
pub fn peak_rss_mib() -> Option<f64> {
    status_kib("VmHWM:").map(|kib| round3(kib as f64 / 1024.0))
}

/// The process's current resident set size (`VmRSS`) in MiB.
pub fn rss_mib() -> Option<f64> {
    status_kib("VmRSS:").map(|kib| round3(kib as f64 / 1024.0))
}

fn status_kib(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Resets the peak RSS to the current RSS (Linux: `5` into `/proc/self/clear_refs`), so that a
/// later [`peak_rss_mib`] covers only what happened since. Best effort.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// One result line on stdout.
/// `system` and `bench` come first; the other fields follow in key order.
pub fn emit(system: &str, bench: &str, mut fields: Map<String, Value>) {
    fields.remove("system");
    fields.remove("bench");
    let mut line = format!("{{\"system\":{},\"bench\":{}", json!(system), json!(bench));
    for (k, v) in &fields {
        line.push(',');
        line.push_str(&json!(k).to_string());
        line.push(':');
        line.push_str(&v.to_string());
    }
    line.push('}');
    println!("{line}");
}

/// A progress note for humans, on stderr.
pub fn note(text: impl AsRef<str>) {
    eprintln!("fedbench: {}", text.as_ref());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let mut s = Samples::default();
        for i in 1..=200 {
            s.push(Duration::from_millis(i));
        }
        assert_eq!(s.percentile(50.0), 100.0);
        assert_eq!(s.percentile(99.0), 198.0);
        assert_eq!(s.percentile(100.0), 200.0);
        assert_eq!(s.percentile(0.0), 1.0);
    }
}
