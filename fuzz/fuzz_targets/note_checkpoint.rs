#![no_main]
//! Fuzz target (in progress).
libfuzzer_sys::fuzz_target!(|_data: &[u8]| {});
