//! Compile-time diagnostics of the derives, with trybuild.
//!
//! Each `tests/ui/<derive>_*.rs` file makes one mistake (or, for
//! `wire_several_errors_at_once`, several) and its `.stderr` holds the
//! expected messages and spans. `pass_*.rs` files must compile and run.
//! Regenerate the `.stderr` files with `TRYBUILD=overwrite` and read them.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/wire_*.rs");
    t.compile_fail("tests/ui/spec_enum_*.rs");
    t.compile_fail("tests/ui/records_*.rs");
    t.pass("tests/ui/pass_*.rs");
}
