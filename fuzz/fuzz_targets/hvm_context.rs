//! Fuzz target `hvm_context`: see [`format_spec_fuzz::hvm_context`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| format_spec_fuzz::hvm_context(data));
