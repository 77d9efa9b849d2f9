//! The DOMAIN_CONTEXT blob: golden blobs built by hand from the layout
//! tables of `domain-context.md`, round trips, the v3 <-> blob building
//! blocks, one invalid blob per rule, and robustness on arbitrary input.

mod blob_bytes;
mod walker;

use format_spec::binrw::Endian;
use format_spec::body::RecordBody;
use format_spec::domain_context::{
    self as dc, DcEntry, DcErrorKind, DcHeader, DcTscInfo, DcType, SharedInfoRef, V3Parts,
};
use format_spec::layout::{SpecEnum, Wire};
use format_spec::libxc::{LibxcRecord, X86PvInfo, X86TscInfo};
use proptest::prelude::*;

use blob_bytes::Bytes;

const ORDERS: [Endian; 2] = [Endian::Little, Endian::Big];

/// Entry builders of this blob (the assembler is in `blob_bytes`).
impl Bytes {
    /// HEADER entry per the table: length 16, 12-octet body, 4 zero octets.
    fn header(&mut self, major: u16, minor: u16) -> &mut Self {
        self.desc(1, 0, 16)
            .u32(0x5341_5645)
            .u16(major)
            .u16(minor)
            .u32(1)
            .zeros(4)
    }

    /// The END entry.
    fn end(&mut self) -> &mut Self {
        self.desc(0, 0, 0)
    }
}

/// A recognisable buffer of `n` octets.
fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) | 1)
        .collect()
}

/// The example of domain-context.md: a 64-bit x86 domain. HEADER at 0
/// (length 16), SHARED_INFO at 24 (length 3144), TSC_INFO at 3176 (length
/// 24), END at 3208; 3216 octets. The TSC tail is non-zero, as Xen left it.
fn golden_64(endian: Endian) -> Vec<u8> {
    let mut b = Bytes::new(endian);
    b.header(4, 17);
    assert_eq!(b.out.len(), 24);
    b.desc(2, 0, 3144).u32(0).u32(3136).raw(&pattern(3136, 5));
    assert_eq!(b.out.len(), 3176);
    b.desc(3, 0, 24)
        .u32(1) // mode
        .u32(7) // incarnation
        .u64(0x0123_4567_89ab_cdef) // elapsed_nsec
        .u32(2_445_405) // khz
        .u32(0xdead_beef); // tail, not cleared by Xen
    assert_eq!(b.out.len(), 3208);
    b.end();
    assert_eq!(b.out.len(), 3216);
    b.out
}

#[test]
fn layouts_match_the_tables() {
    assert_eq!(dc::DcDescriptor::LAYOUT.size, 8);
    assert_eq!(DcHeader::LAYOUT.size, 12);
    assert_eq!(dc::DcSharedInfo::LAYOUT.size, 8);
    assert_eq!(DcTscInfo::LAYOUT.size, 24);
    let names = |l: &format_spec::layout::StructLayout| {
        l.fields
            .iter()
            .map(|f| (f.name, f.offset))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(&dc::DcDescriptor::LAYOUT),
        [("typecode", 0), ("instance", 2), ("length", 4)]
    );
    assert_eq!(
        names(&DcHeader::LAYOUT),
        [
            ("magic", 0),
            ("xen_major", 4),
            ("xen_minor", 6),
            ("version", 8)
        ]
    );
    assert_eq!(
        names(&dc::DcSharedInfo::LAYOUT),
        [("flags", 0), ("buffer_size", 4), ("buffer", 8)]
    );
    assert_eq!(
        names(&DcTscInfo::LAYOUT),
        [
            ("mode", 0),
            ("incarnation", 4),
            ("elapsed_nsec", 8),
            ("khz", 16),
            ("_pad", 20)
        ]
    );
    // The tail of TSC_INFO is ignored, not reserved.
    assert!(!DcTscInfo::LAYOUT.field("_pad").unwrap().is_reserved());
    assert_eq!(dc::DC_MAGIC, 0x5341_5645);
    assert_eq!(dc::DC_VERSION, 1);
    assert_eq!(dc::DC_ALIGN, 8);
    assert_eq!(dc::DC_SHARED_INFO_COMPAT, 1);
    let codes: Vec<(u64, &str)> = DcType::LAYOUT
        .variants
        .iter()
        .map(|v| (v.value, v.c_name.unwrap()))
        .collect();
    assert_eq!(
        codes,
        [
            (0, "XC_SR_DC_TYPE_END"),
            (1, "XC_SR_DC_TYPE_HEADER"),
            (2, "XC_SR_DC_TYPE_SHARED_INFO"),
            (3, "XC_SR_DC_TYPE_TSC_INFO")
        ]
    );
    // Every constant has a C or a Python name.
    for c in dc::DOMAIN_CONTEXT_CONSTANTS {
        assert!(c.c_name.is_some() || c.py_name.is_some(), "{}", c.rust_name);
    }
}

#[test]
fn golden_64_parses_verifies_and_is_rewritten_byte_for_byte() {
    for endian in ORDERS {
        let blob = golden_64(endian);
        let items = dc::verify(&blob, endian).expect("golden blob verifies");
        let where_: Vec<(usize, DcType, u32)> = items
            .iter()
            .map(|i| (i.offset, i.entry.kind(), i.length))
            .collect();
        assert_eq!(
            where_,
            [
                (0, DcType::Header, 16),
                (24, DcType::SharedInfo, 3144),
                (3176, DcType::TscInfo, 24),
                (3208, DcType::End, 0)
            ]
        );
        assert_eq!(items[0].entry, DcEntry::Header(DcHeader::new(4, 17)));
        match items[1].entry {
            DcEntry::SharedInfo(s) => {
                assert!(!s.compat());
                assert_eq!(s.buffer, &pattern(3136, 5)[..]);
            }
            other => panic!("expected SHARED_INFO, got {other:?}"),
        }
        assert_eq!(
            items[2].entry,
            DcEntry::TscInfo(DcTscInfo {
                mode: 1,
                incarnation: 7,
                elapsed_nsec: 0x0123_4567_89ab_cdef,
                khz: 2_445_405,
                _pad: 0xdead_beef,
            })
        );
        let entries: Vec<DcEntry> = items.iter().map(|i| i.entry).collect();
        let mut out = Vec::new();
        dc::write(&entries, endian, &mut out).unwrap();
        assert_eq!(out, blob, "{endian:?}");
    }
}

#[test]
fn golden_magic_octets_follow_the_byte_order() {
    assert_eq!(&golden_64(Endian::Little)[8..12], &[0x45, 0x56, 0x41, 0x53]);
    assert_eq!(&golden_64(Endian::Big)[8..12], b"SAVE");
}

#[test]
fn golden_compat_and_padded_shared_info() {
    for endian in ORDERS {
        // Compat: 2344 octets, a multiple of 8, so length 2352 and no padding.
        let mut b = Bytes::new(endian);
        b.header(4, 14)
            .desc(2, 0, 2352)
            .u32(1)
            .u32(2344)
            .raw(&pattern(2344, 9))
            .end();
        let blob = b.out;
        let items = dc::verify(&blob, endian).unwrap();
        let DcEntry::SharedInfo(s) = items[1].entry else {
            panic!("not SHARED_INFO")
        };
        assert!(s.compat());
        assert_eq!(s.buffer.len(), 2344);
        let mut out = Vec::new();
        dc::write(
            &items.iter().map(|i| i.entry).collect::<Vec<_>>(),
            endian,
            &mut out,
        )
        .unwrap();
        assert_eq!(out, blob);

        // A 5-octet buffer: 8 + 5 = 13, padded with 3 zeros to length 16.
        let mut b = Bytes::new(endian);
        b.header(4, 14)
            .desc(2, 0, 16)
            .u32(0)
            .u32(5)
            .raw(&[1, 2, 3, 4, 5])
            .zeros(3)
            .end();
        let blob = b.out;
        let mut out = Vec::new();
        dc::write(
            &[
                DcEntry::Header(DcHeader::new(4, 14)),
                DcEntry::SharedInfo(SharedInfoRef {
                    flags: 0,
                    buffer: &[1, 2, 3, 4, 5],
                }),
                DcEntry::End,
            ],
            endian,
            &mut out,
        )
        .unwrap();
        assert_eq!(out, blob);
        assert_eq!(dc::verify(&blob, endian).unwrap().len(), 3);
    }
}

/// A page for a v3 SHARED_INFO record: content in the first `keep` octets,
/// zeros after.
fn page(keep: usize, seed: u8) -> Vec<u8> {
    let mut p = pattern(keep, seed);
    p.resize(4096, 0);
    p
}

#[test]
fn v3_to_blob_to_v3_is_the_identity() {
    for endian in ORDERS {
        for compat in [false, true] {
            let keep = if compat { 2344 } else { 3136 };
            let parts = V3Parts {
                xen_major: 4,
                xen_minor: 17,
                shared_info: Some(page(keep, 3)),
                compat,
                tsc_info: Some(X86TscInfo {
                    mode: 2,
                    khz: 1_999_000,
                    nsec: 987_654_321,
                    incarnation: 4,
                    _res1: 0,
                }),
            };
            let blob = dc::blob_from_v3(&parts, endian).unwrap().exact().unwrap();
            // HEADER 8+16, SHARED_INFO 8+8+keep (keep is a multiple of 8),
            // TSC_INFO 8+24, END 8.
            assert_eq!(blob.len(), 24 + 16 + keep + 32 + 8);
            dc::verify(&blob, endian).unwrap();
            // The blob's TSC_INFO has the reordered fields.
            let items = dc::parse(&blob, endian).unwrap();
            assert_eq!(
                items[2].entry,
                DcEntry::TscInfo(DcTscInfo {
                    mode: 2,
                    incarnation: 4,
                    elapsed_nsec: 987_654_321,
                    khz: 1_999_000,
                    _pad: 0
                })
            );
            let back = dc::v3_from_blob(&blob, endian).unwrap().exact().unwrap();
            assert_eq!(back, parts, "{endian:?} compat={compat}");
        }
    }
}

#[test]
fn v3_without_shared_info_gives_header_tsc_end() {
    let parts = V3Parts {
        xen_major: 4,
        xen_minor: 17,
        shared_info: None,
        compat: false,
        tsc_info: Some(X86TscInfo {
            mode: 0,
            khz: 1,
            nsec: 2,
            incarnation: 3,
            _res1: 0,
        }),
    };
    let blob = dc::blob_from_v3(&parts, Endian::Little)
        .unwrap()
        .exact()
        .unwrap();
    let kinds: Vec<DcType> = dc::verify(&blob, Endian::Little)
        .unwrap()
        .iter()
        .map(|i| i.entry.kind())
        .collect();
    assert_eq!(kinds, [DcType::Header, DcType::TscInfo, DcType::End]);
    assert_eq!(
        dc::v3_from_blob(&blob, Endian::Little)
            .unwrap()
            .exact()
            .unwrap(),
        parts
    );
}

#[test]
fn conversions_report_what_they_drop() {
    // A non-zero octet past the 64-bit shared-info size.
    let mut p = page(3136, 1);
    p[4000] = 0x7f;
    let parts = V3Parts {
        xen_major: 4,
        xen_minor: 17,
        shared_info: Some(p),
        compat: false,
        tsc_info: Some(X86TscInfo {
            mode: 0,
            khz: 1,
            nsec: 2,
            incarnation: 3,
            _res1: 9,
        }),
    };
    let conv = dc::blob_from_v3(&parts, Endian::Little).unwrap();
    assert_eq!(conv.losses.page_tail, Some(4000));
    assert_eq!(conv.losses.tsc_res1, 9);
    assert!(matches!(conv.clone().exact(), Err(dc::V3Error::Lossy(_))));
    // The blob itself is still valid; only the dropped octets are gone.
    dc::verify(&conv.value, Endian::Little).unwrap();

    // A compat page keeps 2344 octets: a non-zero octet at 2344 is dropped.
    let mut p = page(2344, 1);
    p[2344] = 1;
    let parts = V3Parts {
        shared_info: Some(p),
        compat: true,
        tsc_info: None,
        ..parts
    };
    assert_eq!(
        dc::blob_from_v3(&parts, Endian::Big)
            .unwrap()
            .losses
            .page_tail,
        Some(2344)
    );

    // Blob -> v3: the TSC tail has no place in the record.
    let golden = golden_64(Endian::Little);
    let conv = dc::v3_from_blob(&golden, Endian::Little).unwrap();
    assert_eq!(conv.losses.tsc_pad, 0xdead_beef);
    assert_eq!(conv.value.shared_info.as_ref().unwrap().len(), 4096);
    assert!(conv.value.shared_info.as_ref().unwrap()[3136..]
        .iter()
        .all(|b| *b == 0));
    assert!(conv.exact().is_err());

    // A SHARED_INFO body that is not one page.
    let bad = V3Parts {
        shared_info: Some(vec![0; 4095]),
        ..parts
    };
    assert_eq!(
        dc::blob_from_v3(&bad, Endian::Little).unwrap_err(),
        dc::V3Error::PageSize { len: 4095 }
    );
}

#[test]
fn v3_from_blob_refuses_shared_info_larger_than_a_page() {
    let buf = vec![0u8; 4097];
    let mut blob = Vec::new();
    dc::write(
        &[
            DcEntry::Header(DcHeader::new(4, 17)),
            DcEntry::SharedInfo(SharedInfoRef {
                flags: 0,
                buffer: &buf,
            }),
            DcEntry::End,
        ],
        Endian::Little,
        &mut blob,
    )
    .unwrap();
    assert_eq!(
        dc::v3_from_blob(&blob, Endian::Little).unwrap_err(),
        dc::V3Error::BufferTooLarge { buffer_size: 4097 }
    );
}

/// The real 64-bit PV save file: its SHARED_INFO and X86_TSC_INFO records
/// become a blob laid out like the example of domain-context.md, and come
/// back as the very same record bodies.
#[test]
fn real_pv_records_round_trip_through_a_blob() {
    let path = test_support::real_stream("pv64-1vcpu-96M.xl");
    let keep = [
        LibxcRecord::X86_PV_INFO,
        LibxcRecord::SHARED_INFO,
        LibxcRecord::X86_TSC_INFO,
    ];
    let w = walker::walk(&path, &keep);
    // A v3 stream: each of the records v4 folds into the blob, once.
    for t in [LibxcRecord::SHARED_INFO, LibxcRecord::X86_TSC_INFO] {
        assert_eq!(w.types.iter().filter(|x| **x == t).count(), 1);
    }
    let body = |t: u32| {
        w.records
            .iter()
            .find(|(typ, _)| *typ == t)
            .map(|(_, b)| b.clone())
            .unwrap_or_else(|| panic!("record 0x{t:x} missing"))
    };
    let pv = X86PvInfo::read_body(&body(LibxcRecord::X86_PV_INFO), w.endian).unwrap();
    let tsc_body = body(LibxcRecord::X86_TSC_INFO);
    let tsc = X86TscInfo::read_body(&tsc_body, w.endian).unwrap();
    let shinfo = body(LibxcRecord::SHARED_INFO);
    assert_eq!(shinfo.len(), 4096);
    let parts = V3Parts {
        xen_major: 4,
        xen_minor: 17,
        shared_info: Some(shinfo.clone()),
        compat: pv.guest_width == 4,
        tsc_info: Some(tsc),
    };
    let blob = dc::blob_from_v3(&parts, w.endian)
        .unwrap()
        .exact()
        .expect("Xen leaves the page beyond the shared info zero");
    let layout: Vec<(usize, u32)> = dc::verify(&blob, w.endian)
        .unwrap()
        .iter()
        .map(|i| (i.offset, i.length))
        .collect();
    assert_eq!(layout, [(0, 16), (24, 3144), (3176, 24), (3208, 0)]);
    assert_eq!(blob.len(), 3216);

    let back = dc::v3_from_blob(&blob, w.endian).unwrap().exact().unwrap();
    assert_eq!(back.shared_info.as_deref(), Some(&shinfo[..]));
    let mut tsc_again = Vec::new();
    back.tsc_info
        .unwrap()
        .write_body(&mut tsc_again, w.endian)
        .unwrap();
    assert_eq!(tsc_again, tsc_body);
}

// ---- one invalid blob per rule ------------------------------------------

fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// The error from the lenient parser.
fn parse_err(blob: &[u8]) -> (DcErrorKind, usize, usize) {
    let e = dc::parse(blob, Endian::Little).unwrap_err();
    // The strict verifier reports the same thing.
    assert_eq!(dc::verify(blob, Endian::Little).unwrap_err(), e);
    (e.kind, e.offset, e.entry)
}

/// A blob the lenient parser accepts and the verifier rejects.
fn strict_err(blob: &[u8]) -> (DcErrorKind, usize, usize) {
    dc::parse(blob, Endian::Little).expect("lenient parse accepts it");
    let e = dc::verify(blob, Endian::Little).unwrap_err();
    (e.kind, e.offset, e.entry)
}

#[test]
fn invalid_truncated_descriptor() {
    let g = golden_64(Endian::Little);
    assert_eq!(
        parse_err(&g[..3212]),
        (DcErrorKind::TruncatedDescriptor { available: 4 }, 3208, 3)
    );
}

#[test]
fn invalid_missing_end() {
    let g = golden_64(Endian::Little);
    assert_eq!(parse_err(&g[..3208]), (DcErrorKind::MissingEnd, 3208, 3));
    assert_eq!(parse_err(&[]), (DcErrorKind::MissingEnd, 0, 0));
}

#[test]
fn invalid_length_past_the_end() {
    let mut g = golden_64(Endian::Little);
    put32(&mut g, 24 + 4, 10_000);
    assert_eq!(
        parse_err(&g),
        (
            DcErrorKind::Overrun {
                length: 10_000,
                available: 3216 - 32
            },
            24,
            1
        )
    );
}

#[test]
fn invalid_unknown_typecode() {
    let mut g = golden_64(Endian::Little);
    put16(&mut g, 3176, 4);
    assert_eq!(
        parse_err(&g),
        (DcErrorKind::UnknownType { typecode: 4 }, 3176, 2)
    );
}

#[test]
fn invalid_header_not_first() {
    let mut g = golden_64(Endian::Little);
    put16(&mut g, 0, 3);
    assert_eq!(
        parse_err(&g),
        (DcErrorKind::HeaderNotFirst { typecode: 3 }, 0, 0)
    );
}

#[test]
fn invalid_second_header() {
    let mut g = golden_64(Endian::Little);
    put16(&mut g, 3176, 1);
    assert_eq!(parse_err(&g), (DcErrorKind::DuplicateHeader, 3176, 2));
}

#[test]
fn invalid_magic() {
    let mut g = golden_64(Endian::Little);
    g[8..12].copy_from_slice(b"SAVE"); // big-endian octets in a little-endian blob
    assert_eq!(
        parse_err(&g),
        (DcErrorKind::BadMagic { found: 0x4556_4153 }, 8, 0)
    );
}

#[test]
fn invalid_version() {
    let mut g = golden_64(Endian::Little);
    put32(&mut g, 16, 2);
    assert_eq!(parse_err(&g), (DcErrorKind::BadVersion { found: 2 }, 16, 0));
}

#[test]
fn invalid_instance() {
    let mut g = golden_64(Endian::Little);
    put16(&mut g, 24 + 2, 1);
    assert_eq!(
        parse_err(&g),
        (
            DcErrorKind::BadInstance {
                typ: DcType::SharedInfo,
                instance: 1
            },
            26,
            1
        )
    );
}

#[test]
fn invalid_body_too_short() {
    let mut b = Bytes::new(Endian::Little);
    b.header(4, 17).desc(3, 0, 16).zeros(16).end();
    assert_eq!(
        parse_err(&b.out),
        (
            DcErrorKind::BodyTooShort {
                typ: DcType::TscInfo,
                length: 16,
                min: 24
            },
            24,
            1
        )
    );
}

#[test]
fn invalid_buffer_size_beyond_the_entry() {
    let mut g = golden_64(Endian::Little);
    put32(&mut g, 24 + 8 + 4, 3137);
    assert_eq!(
        parse_err(&g),
        (
            DcErrorKind::BufferOverrun {
                buffer_size: 3137,
                space: 3136
            },
            36,
            1
        )
    );
}

#[test]
fn invalid_length_not_a_multiple_of_8() {
    // HEADER without its padding: length 12, END right after at 20.
    let mut b = Bytes::new(Endian::Little);
    b.desc(1, 0, 12)
        .u32(0x5341_5645)
        .u16(4)
        .u16(17)
        .u32(1)
        .end();
    assert_eq!(
        strict_err(&b.out),
        (DcErrorKind::Misaligned { length: 12 }, 4, 0)
    );
}

#[test]
fn invalid_padding_not_zero() {
    let mut g = golden_64(Endian::Little);
    g[21] = 0x5a; // inside HEADER's 4 padding octets (20..24)
    assert_eq!(
        strict_err(&g),
        (DcErrorKind::PaddingNonZero { value: 0x5a }, 21, 0)
    );
    // SHARED_INFO padding too: 5-octet buffer, padding at 24+8+8+5 = 45.
    let mut b = Bytes::new(Endian::Little);
    b.header(4, 17)
        .desc(2, 0, 16)
        .u32(0)
        .u32(5)
        .raw(&[9; 5])
        .raw(&[0, 0, 1])
        .end();
    assert_eq!(
        strict_err(&b.out),
        (DcErrorKind::PaddingNonZero { value: 1 }, 47, 1)
    );
}

#[test]
fn invalid_buffer_size_disagrees_with_length() {
    // buffer_size 3128 leaves 8 zero octets of padding in a 3144 entry.
    let mut g = golden_64(Endian::Little);
    put32(&mut g, 36, 3128);
    g[24 + 8 + 8 + 3128..3176].fill(0);
    assert_eq!(
        strict_err(&g),
        (
            DcErrorKind::LengthMismatch {
                typ: DcType::SharedInfo,
                length: 3144,
                expected: 3136
            },
            36,
            1
        )
    );
}

#[test]
fn invalid_header_with_spare_padding() {
    let mut b = Bytes::new(Endian::Little);
    b.desc(1, 0, 24)
        .u32(0x5341_5645)
        .u16(4)
        .u16(17)
        .u32(1)
        .zeros(12)
        .end();
    assert_eq!(
        strict_err(&b.out),
        (
            DcErrorKind::LengthMismatch {
                typ: DcType::Header,
                length: 24,
                expected: 16
            },
            4,
            0
        )
    );
}

#[test]
fn invalid_end_with_a_body() {
    let mut g = golden_64(Endian::Little);
    put32(&mut g, 3212, 8);
    g.extend_from_slice(&[0; 8]);
    assert_eq!(
        strict_err(&g),
        (
            DcErrorKind::LengthMismatch {
                typ: DcType::End,
                length: 8,
                expected: 0
            },
            3212,
            3
        )
    );
}

#[test]
fn invalid_reserved_flags() {
    let mut g = golden_64(Endian::Little);
    put32(&mut g, 32, 0x3);
    assert_eq!(
        strict_err(&g),
        (DcErrorKind::ReservedFlags { flags: 3 }, 32, 1)
    );
}

#[test]
fn invalid_duplicate_entry() {
    let tsc = DcTscInfo {
        mode: 0,
        incarnation: 0,
        elapsed_nsec: 0,
        khz: 0,
        _pad: 0,
    };
    let mut blob = Vec::new();
    dc::write(
        &[
            DcEntry::Header(DcHeader::new(4, 17)),
            DcEntry::TscInfo(tsc),
            DcEntry::TscInfo(tsc),
            DcEntry::End,
        ],
        Endian::Little,
        &mut blob,
    )
    .unwrap();
    assert_eq!(
        strict_err(&blob),
        (
            DcErrorKind::Duplicate {
                typ: DcType::TscInfo
            },
            56,
            2
        )
    );
}

#[test]
fn data_after_end_is_not_read_and_not_an_error() {
    let mut g = golden_64(Endian::Little);
    assert_eq!(
        dc::after_end(&dc::parse(&g, Endian::Little).unwrap(), g.len()),
        None
    );
    g.extend_from_slice(&[0; 8]);
    // END terminates the blob: the parser and the verifier stop there
    // (a loader never reads what follows), and say what is left.
    assert_eq!(dc::parse(&g, Endian::Little).unwrap().len(), 4);
    let items = dc::verify(&g, Endian::Little).unwrap();
    assert_eq!(dc::after_end(&items, g.len()), Some((3216, 8)));
}

#[test]
fn the_tsc_tail_is_not_checked() {
    // golden_64 has 0xdeadbeef there and verifies; so does zero.
    let mut g = golden_64(Endian::Little);
    dc::verify(&g, Endian::Little).unwrap();
    g[3176 + 8 + 20..3208].fill(0);
    dc::verify(&g, Endian::Little).unwrap();
}

#[test]
fn errors_read_like_sentences() {
    let mut g = golden_64(Endian::Little);
    put16(&mut g, 3176, 4);
    let e = dc::parse(&g, Endian::Little).unwrap_err();
    assert_eq!(
        e.to_string(),
        "domain context entry 2, offset 3176: unknown type code 4"
    );
}

// ---- properties ---------------------------------------------------------

fn endian_strategy() -> impl Strategy<Value = Endian> {
    prop_oneof![Just(Endian::Little), Just(Endian::Big)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// No input makes the parser, the verifier or the converter panic.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256),
                                   endian in endian_strategy()) {
        let _ = dc::parse(&bytes, endian);
        let _ = dc::verify(&bytes, endian);
        let _ = dc::v3_from_blob(&bytes, endian);
        for item in dc::entries(&bytes, endian).take(64) {
            let _ = item;
        }
    }

    /// Damaging a valid blob anywhere never panics, and whatever still
    /// verifies is written back byte for byte.
    #[test]
    fn mutated_golden_blobs(at in 0usize..3216, value in any::<u8>(), cut in 0usize..3300,
                            endian in endian_strategy()) {
        let mut g = golden_64(endian);
        g[at] = value;
        g.truncate(cut);
        let _ = dc::parse(&g, endian);
        if let Ok(items) = dc::verify(&g, endian) {
            let entries: Vec<DcEntry> = items.iter().map(|i| i.entry).collect();
            let mut out = Vec::new();
            dc::write(&entries, endian, &mut out).unwrap();
            prop_assert_eq!(out, g);
        }
    }

    /// Write then parse gives back the entries; the blob verifies.
    #[test]
    fn write_then_parse(major in any::<u16>(), minor in any::<u16>(), compat in any::<bool>(),
                        buffer in proptest::collection::vec(any::<u8>(), 0..64),
                        with_si in any::<bool>(), with_tsc in any::<bool>(),
                        t in any::<(u32, u32, u64, u32, u32)>(), endian in endian_strategy()) {
        let mut list = vec![DcEntry::Header(DcHeader::new(major, minor))];
        if with_si {
            list.push(DcEntry::SharedInfo(SharedInfoRef {
                flags: u32::from(compat), buffer: &buffer }));
        }
        if with_tsc {
            list.push(DcEntry::TscInfo(DcTscInfo {
                mode: t.0, incarnation: t.1, elapsed_nsec: t.2, khz: t.3, _pad: t.4 }));
        }
        list.push(DcEntry::End);
        let mut blob = Vec::new();
        dc::write(&list, endian, &mut blob).unwrap();
        prop_assert_eq!(blob.len() % 8, 0);
        let items = dc::verify(&blob, endian).unwrap();
        let back: Vec<DcEntry> = items.iter().map(|i| i.entry).collect();
        prop_assert_eq!(back, list);
    }
}
