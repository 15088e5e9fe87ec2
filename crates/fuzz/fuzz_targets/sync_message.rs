//! `kreisnetz_fuzz_targets::sync_message` under libFuzzer.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kreisnetz_fuzz_targets::sync_message(data));
