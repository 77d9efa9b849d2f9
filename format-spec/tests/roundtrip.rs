//! Round trips of every libxc header and record body in both byte orders,
//! as properties: writing then reading gives the value back, reading then
//! writing gives the bytes back. Also the field constraints (`check()`):
//! which field a violation names, at which offset, with which rule.

use std::io::Cursor;

use format_spec::binrw::{BinRead, BinWrite, Endian};
use format_spec::body::Opaque;
use format_spec::layout::{LengthRule, SpecEnum, Violation, ViolationRule, Wire};
use format_spec::libxc::*;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::strategy::ValueTree;

// ---------------------------------------------------------------------------
// Strategies

fn arb_endian() -> impl Strategy<Value = Endian> {
    prop_oneof![Just(Endian::Little), Just(Endian::Big)]
}

/// A page whose contents are a cheap function of a seed (4 KiB of random
/// octets per case would slow the properties down for no gain).
fn page(seed: u8) -> Vec<u8> {
    (0..PAGE_SIZE)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn arb_page_type() -> impl Strategy<Value = PageType> {
    let all: Vec<PageType> = PageType::LAYOUT
        .variants
        .iter()
        .map(|v| PageType::from_value(v.value).expect("table value"))
        .collect();
    proptest::sample::select(all)
}

/// A pfn entry with a valid type; other bits (reserved ones included) random.
fn arb_pfn_entry() -> impl Strategy<Value = u64> {
    (arb_page_type(), any::<u64>())
        .prop_map(|(t, bits)| (t.value() << PAGE_DATA_TYPE_SHIFT) | (bits & !PAGE_DATA_TYPE_MASK))
}

fn arb_page_data() -> impl Strategy<Value = PageData> {
    (vec(arb_pfn_entry(), 1..5), any::<u32>(), any::<u8>()).prop_map(|(pfn, res, seed)| {
        let with_data = PageData::pages_with_data(&pfn).expect("valid types");
        let pages = (0..with_data)
            .flat_map(|i| page(seed.wrapping_add(i as u8)))
            .collect();
        PageData {
            header: PageDataHeader {
                count: pfn.len() as u32,
                _res1: res,
                pfn,
            },
            pages,
        }
    })
}

fn arb_vcpu() -> impl Strategy<Value = X86PvVcpu> {
    (any::<u32>(), any::<u32>(), vec(any::<u8>(), 0..64)).prop_map(|(vcpu_id, _res1, context)| {
        X86PvVcpu {
            vcpu_id,
            _res1,
            context,
        }
    })
}

fn arb_blob() -> impl Strategy<Value = Opaque> {
    vec(any::<u8>(), 1..64).prop_map(Opaque)
}

fn arb_cpuid_leaf() -> impl Strategy<Value = XenCpuidLeaf> {
    any::<[u32; 6]>().prop_map(|[leaf, subleaf, a, b, c, d]| XenCpuidLeaf {
        leaf,
        subleaf,
        a,
        b,
        c,
        d,
    })
}

fn arb_msr() -> impl Strategy<Value = XenMsrEntry> {
    (any::<u32>(), any::<u32>(), any::<u64>()).prop_map(|(idx, flags, val)| XenMsrEntry {
        idx,
        flags,
        val,
    })
}

/// Any record of the libxc layer, with consistent counts and lengths.
fn arb_record() -> impl Strategy<Value = LibxcRecord> {
    prop_oneof![
        Just(LibxcRecord::End),
        arb_page_data().prop_map(LibxcRecord::PageData),
        (any::<u8>(), any::<u8>(), any::<[u8; 6]>()).prop_map(|(w, l, r)| {
            LibxcRecord::X86PvInfo(X86PvInfo {
                guest_width: w,
                pt_levels: l,
                _res: r,
            })
        }),
        (any::<u32>(), any::<u32>(), vec(any::<u64>(), 0..8)).prop_map(|(s, e, p)| {
            LibxcRecord::X86PvP2mFrames(X86PvP2mFrames {
                start_pfn: s,
                end_pfn: e,
                p2m_pfns: p,
            })
        }),
        arb_vcpu().prop_map(LibxcRecord::X86PvVcpuBasic),
        arb_vcpu().prop_map(LibxcRecord::X86PvVcpuExtended),
        arb_vcpu().prop_map(LibxcRecord::X86PvVcpuXsave),
        any::<u8>().prop_map(|s| LibxcRecord::SharedInfo(Opaque(page(s)))),
        any::<(u32, u32, u64, u32, u32)>().prop_map(|(mode, khz, nsec, incarnation, _res1)| {
            LibxcRecord::X86TscInfo(X86TscInfo {
                mode,
                khz,
                nsec,
                incarnation,
                _res1,
            })
        }),
        arb_blob().prop_map(LibxcRecord::HvmContext),
        (any::<u32>(), vec(any::<(u64, u64)>(), 0..6)).prop_map(|(res, ps)| {
            LibxcRecord::HvmParams(HvmParams {
                count: ps.len() as u32,
                _res1: res,
                param: ps
                    .into_iter()
                    .map(|(index, value)| HvmParamsEntry { index, value })
                    .collect(),
            })
        }),
        arb_blob().prop_map(LibxcRecord::Toolstack),
        arb_vcpu().prop_map(LibxcRecord::X86PvVcpuMsrs),
        Just(LibxcRecord::Verify),
        Just(LibxcRecord::Checkpoint),
        vec(any::<u64>(), 0..8).prop_map(|pfn| {
            LibxcRecord::CheckpointDirtyPfnList(CheckpointDirtyPfnList { pfn })
        }),
        Just(LibxcRecord::StaticDataEnd),
        vec(arb_cpuid_leaf(), 0..5)
            .prop_map(|leaves| LibxcRecord::X86CpuidPolicy(X86CpuidPolicy { leaves })),
        vec(arb_msr(), 0..5)
            .prop_map(|entries| LibxcRecord::X86MsrPolicy(X86MsrPolicy { entries })),
        arb_blob().prop_map(LibxcRecord::DomainContext),
    ]
}

/// An integer in the stream's byte order.
fn enc32(v: u32, e: Endian) -> [u8; 4] {
    match e {
        Endian::Little => v.to_le_bytes(),
        Endian::Big => v.to_be_bytes(),
    }
}

fn enc64(v: u64, e: Endian) -> [u8; 8] {
    match e {
        Endian::Little => v.to_le_bytes(),
        Endian::Big => v.to_be_bytes(),
    }
}

fn random_bytes(n: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), n..=n)
}

/// Valid body bytes built without the code under test: a record code, a
/// byte order and the body. Counts are encoded by hand in that order.
fn arb_body_bytes() -> impl Strategy<Value = (u32, Endian, Vec<u8>)> {
    let by_code = |code: u32| -> BoxedStrategy<Vec<u8>> {
        let rec = LibxcRecord::LAYOUT.by_code(code).expect("code in table");
        match (code, rec.length) {
            // PAGE_DATA and HVM_PARAMS carry counts; built with the order.
            (0x01, _) | (0x0a, _) => unreachable!("built below"),
            (_, LengthRule::Exact(n)) => random_bytes(n).boxed(),
            (_, LengthRule::Rest { fixed, element }) => (0usize..6)
                .prop_flat_map(move |k| random_bytes(fixed + k * element))
                .boxed(),
            (_, LengthRule::NonEmpty) => vec(any::<u8>(), 1..64).boxed(),
            (_, other) => panic!("no byte generator for {other:?}"),
        }
    };
    let simple: Vec<u32> = LibxcRecord::LAYOUT
        .records
        .iter()
        .map(|r| r.code)
        .filter(|c| *c != LibxcRecord::PAGE_DATA && *c != LibxcRecord::HVM_PARAMS)
        .collect();
    let simple = (proptest::sample::select(simple), arb_endian())
        .prop_flat_map(move |(code, e)| by_code(code).prop_map(move |b| (code, e, b)));
    let hvm_params =
        (arb_endian(), any::<u32>(), vec(any::<[u8; 16]>(), 0..6)).prop_map(|(e, res, entries)| {
            let mut b = Vec::new();
            b.extend(enc32(entries.len() as u32, e));
            b.extend(enc32(res, e));
            for x in entries {
                b.extend(x);
            }
            (LibxcRecord::HVM_PARAMS, e, b)
        });
    let page_data = (
        arb_endian(),
        any::<u32>(),
        vec(arb_pfn_entry(), 1..5),
        any::<u8>(),
    )
        .prop_map(|(e, res, pfns, seed)| {
            let mut b = Vec::new();
            b.extend(enc32(pfns.len() as u32, e));
            b.extend(enc32(res, e));
            for p in &pfns {
                b.extend(enc64(*p, e));
            }
            // One page per entry whose type (top nibble) is not BROKEN,
            // XALLOC or XTAB (0xd, 0xe, 0xf).
            for (i, p) in pfns.iter().enumerate() {
                if p >> 60 < 0xd {
                    b.extend(page(seed.wrapping_add(i as u8)));
                }
            }
            (LibxcRecord::PAGE_DATA, e, b)
        });
    prop_oneof![6 => simple, 1 => hvm_params, 1 => page_data]
}

// ---------------------------------------------------------------------------
// Properties

fn binrw_roundtrip<T>(value: &T, endian: Endian) -> (Vec<u8>, T)
where
    T: for<'a> BinRead<Args<'a> = ()> + for<'a> BinWrite<Args<'a> = ()>,
{
    let mut out = Cursor::new(Vec::new());
    value.write_options(&mut out, endian, ()).expect("writes");
    let bytes = out.into_inner();
    let back = T::read_options(&mut Cursor::new(&bytes), endian, ()).expect("reads back");
    (bytes, back)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn image_header_roundtrips_and_ignores_the_stream_order(
        marker in any::<u64>(), id in any::<u32>(), version in any::<u32>(),
        options in any::<u16>(), res1 in any::<u16>(), res2 in any::<u32>(),
    ) {
        let h = ImageHeader { marker, id, version, options, _res1: res1, _res2: res2 };
        let (le, back_le) = binrw_roundtrip(&h, Endian::Little);
        let (be, back_be) = binrw_roundtrip(&h, Endian::Big);
        prop_assert_eq!(back_le, h);
        prop_assert_eq!(back_be, h);
        prop_assert_eq!(&le, &be, "always big-endian");
        prop_assert_eq!(&le[..8], &marker.to_be_bytes()[..]);
        prop_assert_eq!(&le[16..18], &options.to_be_bytes()[..]);
    }

    #[test]
    fn domain_header_roundtrips(
        e in arb_endian(), ty in any::<u32>(), shift in any::<u16>(),
        res in any::<u16>(), major in any::<u32>(), minor in any::<u32>(),
    ) {
        let h = DomainHeader { r#type: ty, page_shift: shift, _res1: res, xen_major: major, xen_minor: minor };
        let (bytes, back) = binrw_roundtrip(&h, e);
        prop_assert_eq!(back, h);
        prop_assert_eq!(bytes.len(), 16);
        prop_assert_eq!(&bytes[..4], &enc32(ty, e)[..]);
        prop_assert_eq!(&bytes[12..], &enc32(minor, e)[..]);
    }

    #[test]
    fn record_header_roundtrips(e in arb_endian(), ty in any::<u32>(), len in any::<u32>()) {
        let h = RecordHeader { r#type: ty, length: len };
        let (bytes, back) = binrw_roundtrip(&h, e);
        prop_assert_eq!(back, h);
        prop_assert_eq!(bytes, [enc32(ty, e), enc32(len, e)].concat());
    }

    #[test]
    fn write_then_read_gives_the_value(rec in arb_record(), e in arb_endian()) {
        let mut body = Vec::new();
        rec.write_body(&mut body, e).expect("writes");
        let layout = rec.layout();
        // The written length obeys the record's rule.
        match layout.length {
            LengthRule::Exact(n) => prop_assert_eq!(body.len(), n),
            LengthRule::Rest { fixed, element } => {
                prop_assert!(body.len() >= fixed);
                prop_assert_eq!((body.len() - fixed) % element, 0);
            }
            LengthRule::Counted { fixed, element, .. } => {
                prop_assert!(body.len() >= fixed);
                prop_assert_eq!((body.len() - fixed) % element, 0);
            }
            LengthRule::NonEmpty => prop_assert!(!body.is_empty()),
            LengthRule::PageData => prop_assert!(body.len() >= 16),
        }
        let back = LibxcRecord::parse_body(rec.code(), &body, e).expect("reads back");
        prop_assert_eq!(back, Some(rec));
    }

    #[test]
    fn read_then_write_gives_the_bytes((code, e, bytes) in arb_body_bytes()) {
        let rec = LibxcRecord::parse_body(code, &bytes, e)
            .expect("valid bytes parse")
            .expect("known code");
        prop_assert_eq!(rec.code(), code);
        let mut out = Vec::new();
        rec.write_body(&mut out, e).expect("writes");
        prop_assert_eq!(out, bytes);
    }

    #[test]
    fn the_other_byte_order_reads_swapped_integers(
        mode in any::<u32>(), khz in any::<u32>(), nsec in any::<u64>(),
        inc in any::<u32>(), res in any::<u32>(),
    ) {
        // Writing in one order and reading in the other swaps every field
        // in place: the body is a fixed sequence of integers.
        let v = X86TscInfo { mode, khz, nsec, incarnation: inc, _res1: res };
        let mut body = Vec::new();
        LibxcRecord::X86TscInfo(v).write_body(&mut body, Endian::Little).unwrap();
        let back = LibxcRecord::parse_body(LibxcRecord::X86_TSC_INFO, &body, Endian::Big).unwrap();
        let swapped = X86TscInfo {
            mode: mode.swap_bytes(), khz: khz.swap_bytes(), nsec: nsec.swap_bytes(),
            incarnation: inc.swap_bytes(), _res1: res.swap_bytes(),
        };
        prop_assert_eq!(back, Some(LibxcRecord::X86TscInfo(swapped)));
    }
}

#[test]
fn every_record_type_roundtrips_in_both_orders() {
    // One fixed sample per record type (the properties above pick types at
    // random; this makes sure none is left out).
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    for r in LibxcRecord::LAYOUT.records {
        let mut found = 0;
        for _ in 0..2000 {
            let rec = arb_record().new_tree(&mut runner).unwrap().current();
            if rec.code() != r.code {
                continue;
            }
            for e in [Endian::Little, Endian::Big] {
                let mut body = Vec::new();
                rec.write_body(&mut body, e).unwrap();
                let back = LibxcRecord::parse_body(r.code, &body, e).unwrap();
                assert_eq!(back.as_ref(), Some(&rec), "{} {e:?}", r.spec_name);
            }
            found += 1;
            if found == 3 {
                break;
            }
        }
        assert_eq!(found, 3, "the strategy never produced {}", r.spec_name);
    }
}

// ---------------------------------------------------------------------------
// Field constraints. Offsets below are read off the spec's diagrams.

fn violation(
    structure: &'static str,
    field: &'static str,
    offset: usize,
    value: u64,
    rule: ViolationRule,
) -> Violation {
    Violation {
        structure,
        field,
        offset,
        value,
        rule,
    }
}

fn good_ihdr() -> ImageHeader {
    ImageHeader::new(4, Endian::Little)
}

#[test]
fn image_header_constraints() {
    use ViolationRule::*;
    assert_eq!(good_ihdr().check(), Ok(()));
    assert_eq!(ImageHeader::new(2, Endian::Big).check(), Ok(()));
    let cases: Vec<(ImageHeader, Violation)> = vec![
        (
            ImageHeader {
                marker: 0xffff_ffff_ffff_fffe,
                ..good_ihdr()
            },
            violation(
                "ImageHeader",
                "marker",
                0,
                0xffff_ffff_ffff_fffe,
                WrongValue,
            ),
        ),
        (
            ImageHeader {
                id: 0x5845_4e47,
                ..good_ihdr()
            },
            violation("ImageHeader", "id", 8, 0x5845_4e47, WrongValue),
        ),
        (
            ImageHeader {
                version: 5,
                ..good_ihdr()
            },
            violation("ImageHeader", "version", 12, 5, NotAllowed),
        ),
        (
            ImageHeader {
                version: 1,
                ..good_ihdr()
            },
            violation("ImageHeader", "version", 12, 1, NotAllowed),
        ),
        // Bit 0 is the endianness; bit 1 and up are reserved. The value
        // reported is the reserved bits only.
        (
            ImageHeader {
                options: 0x0003,
                ..good_ihdr()
            },
            violation("ImageHeader", "options", 16, 0x0002, ReservedNonZero),
        ),
        (
            ImageHeader {
                options: 0x8000,
                ..good_ihdr()
            },
            violation("ImageHeader", "options", 16, 0x8000, ReservedNonZero),
        ),
        (
            ImageHeader {
                _res1: 1,
                ..good_ihdr()
            },
            violation("ImageHeader", "_res1", 18, 1, ReservedNonZero),
        ),
        (
            ImageHeader {
                _res2: 0x100,
                ..good_ihdr()
            },
            violation("ImageHeader", "_res2", 20, 0x100, ReservedNonZero),
        ),
        // Two bad fields: the first one (by offset) is named.
        (
            ImageHeader {
                version: 9,
                _res2: 1,
                ..good_ihdr()
            },
            violation("ImageHeader", "version", 12, 9, NotAllowed),
        ),
    ];
    for (h, v) in cases {
        assert_eq!(h.check(), Err(v), "{h:?}");
    }
}

#[test]
fn domain_header_constraints() {
    use ViolationRule::*;
    let good = DomainHeader {
        r#type: 1,
        page_shift: 12,
        _res1: 0,
        xen_major: 4,
        xen_minor: 17,
    };
    assert_eq!(good.check(), Ok(()));
    assert_eq!(DomainHeader { r#type: 2, ..good }.check(), Ok(()));
    for (h, v) in [
        (
            DomainHeader { r#type: 0, ..good },
            violation("DomainHeader", "type", 0, 0, NotAllowed),
        ),
        (
            DomainHeader { r#type: 3, ..good },
            violation("DomainHeader", "type", 0, 3, NotAllowed),
        ),
        (
            DomainHeader {
                page_shift: 13,
                ..good
            },
            violation("DomainHeader", "page_shift", 4, 13, NotAllowed),
        ),
        (
            DomainHeader {
                _res1: 0x8000,
                ..good
            },
            violation("DomainHeader", "_res1", 6, 0x8000, ReservedNonZero),
        ),
    ] {
        assert_eq!(h.check(), Err(v), "{h:?}");
    }
}

#[test]
fn record_body_constraints() {
    use ViolationRule::*;
    let rec = |r: LibxcRecord| r.check();
    // PV info: guest width, page-table levels, reserved array (the value
    // reported is the first non-zero octet; the offset is the field's).
    let info = X86PvInfo {
        guest_width: 8,
        pt_levels: 4,
        _res: [0; 6],
    };
    assert_eq!(rec(LibxcRecord::X86PvInfo(info)), Ok(()));
    assert_eq!(
        rec(LibxcRecord::X86PvInfo(X86PvInfo {
            guest_width: 4,
            pt_levels: 3,
            ..info
        })),
        Ok(())
    );
    assert_eq!(
        rec(LibxcRecord::X86PvInfo(X86PvInfo {
            guest_width: 2,
            ..info
        })),
        Err(violation("X86PvInfo", "guest_width", 0, 2, NotAllowed))
    );
    assert_eq!(
        rec(LibxcRecord::X86PvInfo(X86PvInfo {
            pt_levels: 2,
            ..info
        })),
        Err(violation("X86PvInfo", "pt_levels", 1, 2, NotAllowed))
    );
    assert_eq!(
        rec(LibxcRecord::X86PvInfo(X86PvInfo {
            _res: [0, 0, 7, 9, 0, 0],
            ..info
        })),
        Err(violation("X86PvInfo", "_res", 2, 7, ReservedNonZero))
    );
    // vCPU records: reserved word at 4.
    let v = X86PvVcpu {
        vcpu_id: 3,
        _res1: 0,
        context: vec![1, 2, 3],
    };
    assert_eq!(rec(LibxcRecord::X86PvVcpuBasic(v.clone())), Ok(()));
    assert_eq!(
        rec(LibxcRecord::X86PvVcpuXsave(X86PvVcpu { _res1: 5, ..v })),
        Err(violation("X86PvVcpu", "_res1", 4, 5, ReservedNonZero))
    );
    // TSC info: reserved word at 20.
    let tsc = X86TscInfo {
        mode: 1,
        khz: 2,
        nsec: 3,
        incarnation: 4,
        _res1: 0,
    };
    assert_eq!(rec(LibxcRecord::X86TscInfo(tsc)), Ok(()));
    assert_eq!(
        rec(LibxcRecord::X86TscInfo(X86TscInfo {
            _res1: 0xdead,
            ..tsc
        })),
        Err(violation(
            "X86TscInfo",
            "_res1",
            20,
            0xdead,
            ReservedNonZero
        ))
    );
    // HVM params: reserved word at 4.
    assert_eq!(
        rec(LibxcRecord::HvmParams(HvmParams {
            count: 0,
            _res1: 1,
            param: vec![]
        })),
        Err(violation("HvmParams", "_res1", 4, 1, ReservedNonZero))
    );
    // PAGE_DATA: reserved word at 4, then reserved bits 59-52 of a pfn.
    let pd = PageData {
        header: PageDataHeader {
            count: 1,
            _res1: 0,
            pfn: vec![0xf000_0000_0000_0001],
        },
        pages: vec![],
    };
    assert_eq!(rec(LibxcRecord::PageData(pd.clone())), Ok(()));
    let mut bad = pd.clone();
    bad.header._res1 = 2;
    assert_eq!(
        rec(LibxcRecord::PageData(bad)),
        Err(violation("PageDataHeader", "_res1", 4, 2, ReservedNonZero))
    );
    let mut bad = pd;
    bad.header.pfn = vec![0xf000_0000_0000_0001, 0xf010_0000_0000_0002];
    bad.header.count = 2;
    assert_eq!(
        rec(LibxcRecord::PageData(bad)),
        Err(violation(
            "PageDataHeader",
            "pfn",
            8,
            0x0010_0000_0000_0000,
            ReservedNonZero
        ))
    );
    // MSR policy: each entry's flags (offset 4 within xen_msr_entry_t).
    let good = XenMsrEntry {
        idx: 1,
        flags: 0,
        val: 2,
    };
    assert_eq!(
        rec(LibxcRecord::X86MsrPolicy(X86MsrPolicy {
            entries: vec![good, good]
        })),
        Ok(())
    );
    assert_eq!(
        rec(LibxcRecord::X86MsrPolicy(X86MsrPolicy {
            entries: vec![
                good,
                XenMsrEntry {
                    flags: 0x10,
                    ..good
                }
            ]
        })),
        Err(violation("XenMsrEntry", "flags", 4, 0x10, ReservedNonZero))
    );
    // Records without constrained fields always pass.
    for r in [
        LibxcRecord::End,
        LibxcRecord::HvmContext(Opaque(vec![1])),
        LibxcRecord::X86CpuidPolicy(X86CpuidPolicy {
            leaves: vec![XenCpuidLeaf {
                leaf: u32::MAX,
                subleaf: u32::MAX,
                a: 1,
                b: 2,
                c: 3,
                d: 4,
            }],
        }),
    ] {
        assert_eq!(r.check(), Ok(()));
    }
}

proptest! {
    #[test]
    fn any_non_zero_reserved_value_is_reported(v in 1u32..) {
        let tsc = X86TscInfo { mode: 0, khz: 0, nsec: 0, incarnation: 0, _res1: v };
        prop_assert_eq!(
            tsc.check(),
            Err(violation("X86TscInfo", "_res1", 20, u64::from(v), ViolationRule::ReservedNonZero))
        );
        let h = ImageHeader { _res2: v, ..good_ihdr() };
        prop_assert_eq!(
            h.check(),
            Err(violation("ImageHeader", "_res2", 20, u64::from(v), ViolationRule::ReservedNonZero))
        );
    }

    #[test]
    fn options_reserved_bits_are_reported_without_the_endian_bit(o in any::<u16>()) {
        let h = ImageHeader { options: o, ..good_ihdr() };
        if o & 0xfffe == 0 {
            prop_assert_eq!(h.check(), Ok(()));
        } else {
            prop_assert_eq!(
                h.check(),
                Err(violation("ImageHeader", "options", 16, u64::from(o & 0xfffe), ViolationRule::ReservedNonZero))
            );
        }
    }

    #[test]
    fn valid_records_with_zero_reserved_fields_pass(rec in arb_record()) {
        // Clear every reserved field and force allowed values; then check()
        // must accept the record.
        let fixed = match rec {
            LibxcRecord::PageData(mut p) => {
                p.header._res1 = 0;
                for e in &mut p.header.pfn {
                    *e &= !PAGE_DATA_PFN_RESERVED_MASK;
                }
                LibxcRecord::PageData(p)
            }
            LibxcRecord::X86PvInfo(mut i) => {
                i.guest_width = if i.guest_width % 2 == 0 { 8 } else { 4 };
                i.pt_levels = if i.pt_levels % 2 == 0 { 4 } else { 3 };
                i._res = [0; 6];
                LibxcRecord::X86PvInfo(i)
            }
            LibxcRecord::X86PvVcpuBasic(mut v) => { v._res1 = 0; LibxcRecord::X86PvVcpuBasic(v) }
            LibxcRecord::X86PvVcpuExtended(mut v) => { v._res1 = 0; LibxcRecord::X86PvVcpuExtended(v) }
            LibxcRecord::X86PvVcpuXsave(mut v) => { v._res1 = 0; LibxcRecord::X86PvVcpuXsave(v) }
            LibxcRecord::X86PvVcpuMsrs(mut v) => { v._res1 = 0; LibxcRecord::X86PvVcpuMsrs(v) }
            LibxcRecord::X86TscInfo(mut t) => { t._res1 = 0; LibxcRecord::X86TscInfo(t) }
            LibxcRecord::HvmParams(mut h) => { h._res1 = 0; LibxcRecord::HvmParams(h) }
            LibxcRecord::X86MsrPolicy(mut m) => {
                for e in &mut m.entries { e.flags = 0; }
                LibxcRecord::X86MsrPolicy(m)
            }
            other => other,
        };
        prop_assert_eq!(fixed.check(), Ok(()));
    }
}
