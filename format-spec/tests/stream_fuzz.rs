//! Property tests: mutated and random streams never panic, and errors
//! point inside the input.

use format_spec::libxc::{DomainType, LibxcRecord};
use format_spec::stream::{verify, StreamWriter, VerifyOptions, WriterOptions};
use proptest::prelude::*;

fn valid() -> Vec<u8> {
    let mut w = StreamWriter::new(
        Vec::new(),
        WriterOptions::new(DomainType::X86Hvm).version(4),
    )
    .unwrap();
    w.write(&LibxcRecord::StaticDataEnd).unwrap();
    w.write_page_data(&[1, 0xf000_0000_0000_0002, 3], &[5u8; 2 * 4096])
        .unwrap();
    w.write(&LibxcRecord::HvmParams(format_spec::libxc::HvmParams {
        count: 1,
        _res1: 0,
        param: vec![format_spec::libxc::HvmParamsEntry { index: 1, value: 1 }],
    }))
    .unwrap();
    w.write(&LibxcRecord::DomainContext(format_spec::body::Opaque(
        vec![1; 9],
    )))
    .unwrap();
    w.finish().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Any mutation of a valid stream gives a verdict (never a panic), and
    /// an error's offset lies within the input (or at its end).
    #[test]
    fn mutations_never_panic(pos in 0usize..8300, val in any::<u8>(), cut in 0usize..8400) {
        let mut b = valid();
        let p = pos % b.len();
        b[p] = val;
        b.truncate(cut.max(1).min(b.len()));
        for opts in [VerifyOptions::strict(), VerifyOptions::lenient()] {
            if let Err(e) = verify(&b[..], opts) {
                prop_assert!(e.offset() <= b.len() as u64, "{e}");
                prop_assert!(!e.to_string().is_empty());
            }
        }
    }

    /// Random octets after a valid image header.
    #[test]
    fn random_records_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut b = valid()[..40].to_vec();
        b.extend_from_slice(&tail);
        let _ = verify(&b[..], VerifyOptions::strict());
        let _ = verify(&b[..], VerifyOptions::lenient());
    }
}
