//! Fuzz target `verify_lenient`: see [`format_spec_fuzz::verify_lenient`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| format_spec_fuzz::verify_lenient(data));
