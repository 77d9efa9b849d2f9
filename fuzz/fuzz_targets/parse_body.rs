//! Fuzz target `parse_body`: see [`format_spec_fuzz::parse_body`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| format_spec_fuzz::parse_body(data));
