//! Fuzz target `domain_context`: see [`format_spec_fuzz::domain_context`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| format_spec_fuzz::domain_context(data));
