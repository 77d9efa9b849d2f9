//! The Rust verifier (strict, over a plain reader and over a seekable
//! cursor) and the generated Python verifier reach the same verdict on
//! every shared test vector: accept or reject, the same KIND, the same
//! offset, the same blob rule for blob errors, and the exception class the
//! error catalogue names.

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
        if let Some(rule) = v.detail {
            if r.detail != rule {
                failures.push(format!(
                    "{}: Rust names blob rule {:?}, the vector expects {rule:?}",
                    v.name, r.detail
                ));
            }
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

/// The catalogue's modes are what the Rust verifier does: a
/// "strict and lenient" error is found by the lenient verifier too (same
/// kind, same offset); a "strict only" one is not (the lenient verifier
/// accepts the stream or stops later on something else).
#[test]
fn catalogue_modes_match_the_lenient_verifier() {
    use format_spec::stream::{verify, ErrorKind, ErrorModes, VerifyOptions};
    let mut seen = std::collections::BTreeSet::new();
    for v in vectors() {
        let Some(kind) = v.expect.and_then(ErrorKind::from_name) else {
            continue;
        };
        let strict = verify(&v.bytes[..], VerifyOptions::strict()).expect_err(&v.name);
        let lenient = verify(&v.bytes[..], VerifyOptions::lenient());
        match kind.entry().modes {
            ErrorModes::Both => {
                let e = lenient.expect_err(&v.name);
                assert_eq!(e.kind(), kind, "{}", v.name);
                assert_eq!(e.offset(), strict.offset(), "{}", v.name);
            }
            ErrorModes::StrictOnly => {
                if let Err(e) = lenient {
                    assert_ne!(e.kind(), kind, "{}: lenient mode reports it", v.name);
                }
            }
            // Some rules of the kind hold in both modes, others in strict
            // mode only: where lenient mode reports the kind, it agrees.
            ErrorModes::ByRule => {
                if let Err(e) = lenient {
                    if e.kind() == kind {
                        assert_eq!(e.offset(), strict.offset(), "{}", v.name);
                    }
                }
            }
            ErrorModes::NotARule => panic!("{}: {kind} is not a format rule", v.name),
        }
        seen.insert(kind);
    }
    // UnexpectedCheckpoint needs the verifier told that the stream is not
    // checkpointed, which a bare vector cannot say.
    let rules = ErrorKind::ALL
        .iter()
        .filter(|k| k.entry().modes != ErrorModes::NotARule)
        .filter(|k| **k != ErrorKind::UnexpectedCheckpoint)
        .count();
    assert_eq!(seen.len(), rules, "some kinds have no vector: {seen:?}");
}

/// The generated Python raises exactly the KINDs of the catalogue: every
/// format rule's KIND appears in the package, and every KIND the verifier
/// passes to its error helpers is one of the catalogue's.
#[test]
fn python_raises_the_catalogue_kinds() {
    use format_spec::stream::{ErrorKind, ErrorModes};
    let dir = generated_tests::python::package_root().join("xen/migration");
    let libxc = std::fs::read_to_string(dir.join("libxc.py")).unwrap();
    let verify = std::fs::read_to_string(dir.join("verify.py")).unwrap();
    let all = format!("{libxc}\n{verify}");
    for &k in ErrorKind::ALL {
        let quoted = format!("\"{k}\"");
        let present = all.contains(&quoted);
        assert_eq!(
            present,
            k.entry().modes != ErrorModes::NotARule,
            "{k}: in the Python package: {present}"
        );
    }
    // The first argument of every helper call is a catalogue KIND.
    let mut calls = 0;
    for helper in ["self._stream_error(", "self._record_error("] {
        for (i, _) in libxc.match_indices(helper) {
            let rest = libxc[i + helper.len()..].trim_start();
            let Some(arg) = rest.strip_prefix('"') else {
                continue; // the helper's own definition
            };
            let kind = &arg[..arg.find('"').expect("closing quote")];
            assert!(
                ErrorKind::from_name(kind).is_some(),
                "Python raises {kind:?}, which the catalogue lacks"
            );
            calls += 1;
        }
    }
    assert!(calls >= 30, "only {calls} error calls found");
}

/// The shared vectors hold one broken HVM context blob for every rule of
/// the blob verifier (every `HvmErrorKind` variant), and each is rejected
/// for that rule by the Rust verifier (the agreement test above holds the
/// Python one to the same).
#[test]
fn one_hvm_blob_vector_per_rule() {
    use format_spec::hvm_context::{HvmErrorKind, HvmSize, HvmType};
    use generated_tests::vectors::HVM_BLOB_MUTATIONS;
    // Every variant, named through a value of it (a new variant fails to
    // compile here until it is listed, and then needs a vector).
    let all = [
        HvmErrorKind::TruncatedDescriptor { available: 0 },
        HvmErrorKind::Overrun {
            length: 0,
            available: 0,
        },
        HvmErrorKind::MissingEnd,
        HvmErrorKind::HeaderNotFirst { typecode: 0 },
        HvmErrorKind::DuplicateHeader,
        HvmErrorKind::BadMagic { found: 0 },
        HvmErrorKind::BadVersion { found: 0 },
        HvmErrorKind::UnknownType { typecode: 0 },
        HvmErrorKind::BadLength {
            typ: HvmType::End,
            length: 0,
            rule: HvmSize::AtLeast(0),
        },
        HvmErrorKind::MsrCount {
            count: 0,
            length: 0,
        },
        HvmErrorKind::TrailingData { extra: 0 },
    ];
    for k in &all {
        match k {
            HvmErrorKind::TruncatedDescriptor { .. }
            | HvmErrorKind::Overrun { .. }
            | HvmErrorKind::MissingEnd
            | HvmErrorKind::HeaderNotFirst { .. }
            | HvmErrorKind::DuplicateHeader
            | HvmErrorKind::BadMagic { .. }
            | HvmErrorKind::BadVersion { .. }
            | HvmErrorKind::UnknownType { .. }
            | HvmErrorKind::BadLength { .. }
            | HvmErrorKind::MsrCount { .. }
            | HvmErrorKind::TrailingData { .. } => {}
        }
        let name = format!("{k:?}");
        let name = name.split([' ', '{']).next().unwrap();
        assert!(
            HVM_BLOB_MUTATIONS.iter().any(|(_, rule, _)| *rule == name),
            "no broken blob for {name}"
        );
    }
    let set = vectors();
    let mut seen = 0;
    for v in set.iter().filter(|v| v.expect == Some("HvmContext")) {
        let r = rust_verdict(&v.bytes).unwrap();
        assert_eq!(Some(r.detail.as_str()), v.detail, "{}", v.name);
        seen += 1;
    }
    assert_eq!(seen, HVM_BLOB_MUTATIONS.len() * 2 * 2);
}
