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

fn entry() -> impl Strategy<Value = u64> {
    use format_spec::layout::SpecEnum;
    let types: Vec<u64> = format_spec::libxc::PageType::LAYOUT
        .variants
        .iter()
        .map(|v| v.value)
        .collect();
    (proptest::sample::select(types), 0u64..(1 << 52)).prop_map(|(t, pfn)| t << 60 | pfn)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Write then read gives the records back, in both byte orders, and
    /// the strict verifier accepts what the writer wrote.
    #[test]
    fn write_then_read_round_trips(
        big in any::<bool>(),
        entries in proptest::collection::vec(entry(), 1..40),
        pics in proptest::collection::vec(any::<[u8; 8]>(), 0..4),
        params in proptest::collection::vec((any::<u64>(), any::<u64>()), 0..10),
        optional in proptest::collection::vec(any::<u8>(), 0..20),
    ) {
        use format_spec::binrw::Endian;
        use format_spec::libxc::*;
        use format_spec::stream::{Record, StreamReader};
        let endian = if big { Endian::Big } else { Endian::Little };
        let n = PageData::pages_with_data(&entries).unwrap();
        // A valid HVM context blob (strict verification checks it): HEADER,
        // up to four PIC entries of random state, END.
        let ctx = {
            use format_spec::hvm_context::{self as hvm, HvmHeader, HvmType};
            let list: Vec<(HvmType, u16, &[u8])> = pics
                .iter()
                .enumerate()
                .map(|(i, p)| (HvmType::Pic, i as u16, &p[..]))
                .collect();
            hvm::write(&HvmHeader::new(0x60fb1, 1_000_000), &list, endian).unwrap()
        };
        let pages: Vec<u8> = (0..n * PAGE_SIZE).map(|i| (i / PAGE_SIZE) as u8).collect();
        let recs = vec![
            LibxcRecord::StaticDataEnd,
            LibxcRecord::PageData(PageData {
                header: PageDataHeader { count: entries.len() as u32, _res1: 0, pfn: entries.clone() },
                pages,
            }),
            LibxcRecord::HvmParams(HvmParams {
                count: params.len() as u32,
                _res1: 0,
                param: params.iter().map(|(index, value)| HvmParamsEntry { index: *index, value: *value }).collect(),
            }),
            LibxcRecord::HvmContext(format_spec::body::Opaque(ctx)),
        ];
        let mut w = StreamWriter::new(Vec::new(), WriterOptions::new(DomainType::X86Hvm).version(3).endian(endian)).unwrap();
        for r in &recs {
            w.write(r).unwrap();
        }
        w.write_optional(0x8000_0777, &optional).unwrap();
        let bytes = w.finish().unwrap();
        prop_assert_eq!(bytes.len() % 8, 0);
        let rep = verify(&bytes[..], VerifyOptions::strict()).unwrap();
        prop_assert_eq!(rep.data_pages, n as u64);
        let mut r = StreamReader::new(&bytes[..]).unwrap();
        let mut back = Vec::new();
        while let Some((_, rec)) = r.next_record().unwrap() {
            back.push(rec);
        }
        let mut want: Vec<Record> = recs.into_iter().map(Record::Known).collect();
        want.push(Record::Unknown { rtype: 0x8000_0777, body: optional });
        want.push(Record::Known(LibxcRecord::End));
        prop_assert_eq!(back, want);
    }
}
