//! `kreisnetz_fuzz_targets::api_request` under libFuzzer.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kreisnetz_fuzz_targets::api_request(data));
