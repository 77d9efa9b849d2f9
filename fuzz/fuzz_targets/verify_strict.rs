//! Fuzz target `verify_strict`: see [`format_spec_fuzz::verify_strict`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| format_spec_fuzz::verify_strict(data));
