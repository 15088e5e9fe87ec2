//! `kreisnetz_fuzz_targets::sync_state` under libFuzzer.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kreisnetz_fuzz_targets::sync_state(data));
