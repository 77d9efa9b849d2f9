//! The Rust verifier (strict, over a plain reader and over a seekable
//! cursor) and the generated Python verifier reach the same verdict on
//! every shared test vector: accept or reject, the same KIND, the same
//! offset, and the exception class the error catalogue names.

use generated_tests::agree::{compare, python_verdicts, rust_verdict};
use generated_tests::vectors::vectors;

#[test]
fn rust_and_python_agree_on_every_vector() {
    let set = vectors();
    let streams: Vec<&[u8]> = set.iter().map(|v| v.bytes.as_slice()).collect();
    let py = python_verdicts(&streams);
    let mut failures = Vec::new();
    let mut rejected = 0;
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
        // Both also match the vector's own expectation.
        if r.kind.as_deref() != v.expect {
            failures.push(format!(
                "{}: Rust says {}, the vector expects {:?}",
                v.name,
                r.short(),
                v.expect
            ));
        }
        if r.class.as_deref() != v.python_class {
            failures.push(format!(
                "{}: the catalogue names Python class {:?}, the vector {:?}",
                v.name, r.class, v.python_class
            ));
        }
        rejected += usize::from(!r.accepted());
    }
    assert!(
        set.len() >= 180 && rejected >= 140,
        "{rejected} of {}",
        set.len()
    );
    assert!(
        failures.is_empty(),
        "{} disagreements over {} vectors:\n{}",
        failures.len(),
        set.len(),
        failures.join("\n")
    );
}
