//! `kreisnetz_fuzz_targets::federation_frame` under libFuzzer.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kreisnetz_fuzz_targets::federation_frame(data));
