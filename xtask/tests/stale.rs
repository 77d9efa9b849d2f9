//! Fails when a checked-in generated file differs from what the
//! description produces now.

#[test]
fn generated_files_are_current() {
    let stale = xtask::sync(&xtask::generated_dir(), &xtask::repo_outputs(), true).unwrap();
    assert!(
        stale.is_empty(),
        "stale generated files (run `cargo xtask codegen`): {stale:?}"
    );
}
