//! Cross-checks the shared vectors against the description itself, without
//! Python: every valid vector frames and parses with the derived body
//! readers and passes their constraint checks, and every vector expected
//! to fail on a record body fails there too.

use format_spec::binrw::Endian;
use format_spec::body::read_wire;
use format_spec::layout::Wire;
use format_spec::libxc::{DomainHeader, ImageHeader, LibxcRecord, RecordHeader, REC_ALIGN};
use generated_tests::vectors::vectors;

/// What the description's own parsers say about a vector.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// Every header and known body parsed and passed its checks; the
    /// stream ended with END and nothing after it.
    Clean,
    /// A body of a known record did not parse or broke a constraint.
    BodyRejected,
    /// Anything else (headers, framing, unknown types, trailing data).
    Other,
}

fn parse(bytes: &[u8]) -> Outcome {
    let Some(ih) = bytes.get(..ImageHeader::LAYOUT.size) else {
        return Outcome::Other;
    };
    let Ok(ihdr) = read_wire::<ImageHeader>(ih, Endian::Big) else {
        return Outcome::Other;
    };
    if ihdr.check().is_err() {
        return Outcome::Other;
    }
    let endian = ihdr.endian();
    let mut at = ImageHeader::LAYOUT.size;
    let Some(dh) = bytes.get(at..at + DomainHeader::LAYOUT.size) else {
        return Outcome::Other;
    };
    match read_wire::<DomainHeader>(dh, endian) {
        Ok(d) if d.check().is_ok() => {}
        _ => return Outcome::Other,
    }
    at += DomainHeader::LAYOUT.size;
    loop {
        let Some(rh) = bytes.get(at..at + RecordHeader::LAYOUT.size) else {
            return Outcome::Other;
        };
        let Ok(rh) = read_wire::<RecordHeader>(rh, endian) else {
            return Outcome::Other;
        };
        at += RecordHeader::LAYOUT.size;
        let len = rh.length as usize;
        let Some(body) = bytes.get(at..at + len) else {
            return Outcome::Other;
        };
        at += len.next_multiple_of(REC_ALIGN as usize);
        match LibxcRecord::parse_body(rh.r#type, body, endian) {
            Ok(Some(rec)) => {
                if rec.check().is_err() {
                    return Outcome::BodyRejected;
                }
            }
            Ok(None) => {}
            Err(_) => return Outcome::BodyRejected,
        }
        if rh.r#type == LibxcRecord::END {
            return if at == bytes.len() {
                Outcome::Clean
            } else {
                Outcome::Other
            };
        }
    }
}

#[test]
fn valid_vectors_parse_with_the_description() {
    let set = vectors();
    let valid: Vec<_> = set.iter().filter(|v| v.expect.is_none()).collect();
    assert!(valid.len() >= 30);
    for v in valid {
        assert_eq!(parse(&v.bytes), Outcome::Clean, "{}", v.name);
    }
}

#[test]
fn body_vectors_fail_in_the_description_too() {
    let set = vectors();
    let mut checked = 0;
    for v in &set {
        // Rules between fields (guest_width with pt_levels, start_pfn with
        // end_pfn) are rules of the verifier's rule table
        // (format_spec::stream::rules), not field constraints.
        let between_fields = ["pv-info-width-4-levels-4", "p2m-end-below-start"]
            .iter()
            .any(|n| v.name.starts_with(n));
        let body_kind = (matches!(v.expect, Some("BadValue" | "BadPageCount" | "BadPageType"))
            && !between_fields)
            || (v.python_class == Some("RecordError") && v.expect == Some("ReservedNonZero"));
        // BadLength vectors made by corrupting a length field misframe the
        // rest of the stream, so only the body-content ones are compared.
        if body_kind {
            assert_eq!(parse(&v.bytes), Outcome::BodyRejected, "{}", v.name);
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} body vectors");
}

#[test]
fn vectors_are_deterministic() {
    let a = vectors();
    let b = vectors();
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!((&x.name, &x.bytes, x.expect), (&y.name, &y.bytes, y.expect));
    }
}
