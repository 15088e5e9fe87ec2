//! `kreisnetz_fuzz_targets::signed_heads` under libFuzzer.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kreisnetz_fuzz_targets::signed_heads(data));
