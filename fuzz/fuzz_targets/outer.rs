//! Fuzz target `outer`: see [`format_spec_fuzz::outer`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| format_spec_fuzz::outer(data));
