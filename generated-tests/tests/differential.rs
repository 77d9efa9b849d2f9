//! The differential test: thousands of corrupt variants of the valid base
//! streams, made by the deterministic mutator, go through the Rust
//! verifier (over a plain reader and over a seekable cursor) and the
//! generated Python verifier, which must agree on each: accept or reject,
//! KIND, offset and the Python exception class. Any disagreement found by
//! this test was fixed and kept as a named regression vector in
//! `vectors.rs`.

use std::collections::BTreeMap;
use std::time::Instant;

use generated_tests::agree::{compare, python_verdicts, rust_verdict};
use generated_tests::mutate::{variants, Rng};

/// The seed of the run. `DIFFERENTIAL_SEED=N` explores another one (the
/// default is what CI runs).
const SEED: u64 = 0x5eed_2026_0008;

/// Random variants per base stream (plus the truncations);
/// `DIFFERENTIAL_PER_BASE=N` changes it.
const PER_BASE: usize = 250;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn mutator_is_deterministic() {
    let a = variants(7, 5);
    let b = variants(7, 5);
    assert_eq!(a.len(), b.len());
    assert!(a
        .iter()
        .zip(&b)
        .all(|(x, y)| x.name == y.name && x.bytes == y.bytes));
    let c = variants(8, 5);
    assert!(a.iter().zip(&c).any(|(x, y)| x.bytes != y.bytes));
    let mut r = Rng::new(1);
    let first: Vec<u64> = (0..4).map(|_| r.next_u64()).collect();
    let mut r = Rng::new(1);
    assert_eq!(first, (0..4).map(|_| r.next_u64()).collect::<Vec<_>>());
}

#[test]
fn rust_and_python_agree_on_mutated_streams() {
    let start = Instant::now();
    let seed = env_or("DIFFERENTIAL_SEED", SEED);
    let per_base = env_or("DIFFERENTIAL_PER_BASE", PER_BASE as u64) as usize;
    let set = variants(seed, per_base);
    let streams: Vec<&[u8]> = set.iter().map(|v| v.bytes.as_slice()).collect();
    let py = python_verdicts(&streams);
    let py_time = start.elapsed();

    let mut failures = Vec::new();
    let mut by_kind: BTreeMap<String, usize> = BTreeMap::new();
    let mut rejected = 0usize;
    for (v, p) in set.iter().zip(&py) {
        let r = match rust_verdict(&v.bytes) {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{}: {e}", v.name));
                continue;
            }
        };
        if let Err(e) = compare(&r, p) {
            failures.push(format!("{}: {e}", v.name));
        }
        if let Some(k) = &r.kind {
            rejected += 1;
            *by_kind.entry(k.clone()).or_default() += 1;
        }
    }
    println!(
        "seed {seed:#x}: {} variants, {rejected} rejected, {} disagreements ({:.1?} total, Python batch {:.1?})",
        set.len(),
        failures.len(),
        start.elapsed(),
        py_time
    );
    for (k, n) in &by_kind {
        println!("  {k}: {n}");
    }
    if per_base >= PER_BASE {
        assert!(set.len() >= 5000, "only {} variants", set.len());
    }
    // The mutator mostly breaks streams, and reaches most rules.
    assert!(
        rejected * 10 >= set.len() * 8,
        "{rejected} of {} rejected",
        set.len()
    );
    assert!(
        by_kind.len() >= 20,
        "only {} kinds reached: {by_kind:?}",
        by_kind.len()
    );
    let shown: Vec<&String> = failures.iter().take(40).collect();
    assert!(
        failures.is_empty(),
        "{} of {} variants disagree (first {}):\n{}",
        failures.len(),
        set.len(),
        shown.len(),
        shown
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}
