//! Fuzz target `record_reader`: see [`format_spec_fuzz::record_reader`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| format_spec_fuzz::record_reader(data));
