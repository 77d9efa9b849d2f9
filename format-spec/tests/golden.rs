//! Golden bytes for every libxc header and record body.
//!
//! Each byte string below is typed by hand from the octet diagrams of
//! `libxc-migration-stream.pandoc` (one line per 8-octet row of the
//! diagram), never produced by the code under test. Field values are
//! distinct and non-zero (reserved fields included) so that two swapped
//! fields, a wrong width or a wrong byte order shows up as a mismatch.
//!
//! Every golden must parse to the expected typed value, and writing that
//! value must give the same bytes back.

use std::collections::BTreeSet;
use std::io::Cursor;

use format_spec::binrw::{BinRead, BinWrite, Endian};
use format_spec::body::{BodyError, Opaque};
use format_spec::layout::{FieldKind, Wire};
use format_spec::libxc::*;

// ---------------------------------------------------------------------------
// Helpers

/// Parses `bytes` as a wire struct with binrw, checks the value, writes it
/// back and checks the bytes.
fn wire_golden<T>(bytes: &[u8], endian: Endian, expected: &T)
where
    T: Wire
        + PartialEq
        + std::fmt::Debug
        + for<'a> BinRead<Args<'a> = ()>
        + for<'a> BinWrite<Args<'a> = ()>,
{
    assert_eq!(bytes.len(), T::LAYOUT.size, "golden size vs layout size");
    let mut cur = Cursor::new(bytes);
    let got = T::read_options(&mut cur, endian, ()).expect("golden parses");
    assert_eq!(&got, expected, "parsed value ({endian:?})");
    assert_eq!(
        cur.position() as usize,
        bytes.len(),
        "whole golden consumed"
    );
    let mut out = Cursor::new(Vec::new());
    expected
        .write_options(&mut out, endian, ())
        .expect("golden value writes");
    assert_eq!(out.into_inner(), bytes, "written bytes ({endian:?})");
}

/// A record body golden: type code, byte order, body bytes, typed value.
struct RecordGolden {
    code: u32,
    endian: Endian,
    bytes: Vec<u8>,
    value: LibxcRecord,
}

fn check_record(g: &RecordGolden) {
    let layout = LibxcRecord::LAYOUT
        .by_code(g.code)
        .unwrap_or_else(|| panic!("code 0x{:x} is in the record table", g.code));
    assert_eq!(
        g.value.code(),
        g.code,
        "{}: code() of the value",
        layout.spec_name
    );
    let parsed = LibxcRecord::parse_body(g.code, &g.bytes, g.endian)
        .unwrap_or_else(|e| panic!("{} ({:?}) parses: {e}", layout.spec_name, g.endian));
    assert_eq!(
        parsed.as_ref(),
        Some(&g.value),
        "{} ({:?}): parsed value",
        layout.spec_name,
        g.endian
    );
    let mut out = Vec::new();
    g.value
        .write_body(&mut out, g.endian)
        .unwrap_or_else(|e| panic!("{} writes: {e}", layout.spec_name));
    assert_eq!(
        out, g.bytes,
        "{} ({:?}): written bytes",
        layout.spec_name, g.endian
    );
}

/// Concatenates diagram rows.
fn rows(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// A recognisable page: every octet a function of its index and `seed`.
fn page(seed: u8) -> Vec<u8> {
    (0..4096u32)
        .map(|i| (i as u8).wrapping_mul(7).wrapping_add(seed))
        .collect()
}

// ---------------------------------------------------------------------------
// Headers

/// Image header as in the spec diagram; reserved fields non-zero so that a
/// swap with `options` is caught.
fn ihdr_value() -> ImageHeader {
    ImageHeader {
        marker: 0xffff_ffff_ffff_ffff,
        id: 0x5845_4e46,
        version: 3,
        options: 0x0001,
        _res1: 0x0203,
        _res2: 0x0405_0607,
    }
}

const IHDR_BYTES: [u8; 24] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // marker
    0x58, 0x45, 0x4e, 0x46, 0x00, 0x00, 0x00, 0x03, // id "XENF", version
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, // options, _res1, _res2
];

#[test]
fn image_header_is_big_endian_whatever_the_stream_order() {
    // The image header is big-endian even when the caller says little.
    wire_golden(&IHDR_BYTES, Endian::Big, &ihdr_value());
    wire_golden(&IHDR_BYTES, Endian::Little, &ihdr_value());
    assert_eq!(ihdr_value().endian(), Endian::Big);
}

#[test]
fn image_header_of_a_little_endian_v4_stream() {
    let bytes: [u8; 24] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // marker
        0x58, 0x45, 0x4e, 0x46, 0x00, 0x00, 0x00, 0x04, // "XENF", version 4
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // options 0 (LE)
    ];
    let value = ImageHeader::new(4, Endian::Little);
    wire_golden(&bytes, Endian::Little, &value);
    wire_golden(&bytes, Endian::Big, &value);
    assert_eq!(value.endian(), Endian::Little);
    assert_eq!(value.check(), Ok(()));
    // And a big-endian one differs only in the options bit.
    let be = ImageHeader::new(4, Endian::Big);
    let mut be_bytes = bytes;
    be_bytes[17] = 0x01;
    wire_golden(&be_bytes, Endian::Little, &be);
    assert_eq!(be.endian(), Endian::Big);
}

fn dhdr_value() -> DomainHeader {
    DomainHeader {
        r#type: 2,
        page_shift: 12,
        _res1: 0x0a0b,
        xen_major: 4,
        xen_minor: 17,
    }
}

#[test]
fn domain_header_little_endian() {
    let bytes: [u8; 16] = [
        0x02, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x0b, 0x0a, // type, page_shift, _res1
        0x04, 0x00, 0x00, 0x00, 0x11, 0x00, 0x00, 0x00, // xen_major, xen_minor
    ];
    wire_golden(&bytes, Endian::Little, &dhdr_value());
    assert_eq!(dhdr_value().domain_type(), Some(DomainType::X86Hvm));
}

#[test]
fn domain_header_big_endian() {
    let bytes: [u8; 16] = [
        0x00, 0x00, 0x00, 0x02, 0x00, 0x0c, 0x0a, 0x0b, // type, page_shift, _res1
        0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x11, // xen_major, xen_minor
    ];
    wire_golden(&bytes, Endian::Big, &dhdr_value());
}

#[test]
fn record_header_both_orders() {
    let value = RecordHeader {
        r#type: 0x0000_000a,
        length: 0x0000_0128,
    };
    let le: [u8; 8] = [0x0a, 0x00, 0x00, 0x00, 0x28, 0x01, 0x00, 0x00];
    let be: [u8; 8] = [0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x01, 0x28];
    wire_golden(&le, Endian::Little, &value);
    wire_golden(&be, Endian::Big, &value);
    // An optional record type keeps bit 31.
    let opt = RecordHeader {
        r#type: 0x8000_0013,
        length: 7,
    };
    let le: [u8; 8] = [0x13, 0x00, 0x00, 0x80, 0x07, 0x00, 0x00, 0x00];
    wire_golden(&le, Endian::Little, &opt);
}

// ---------------------------------------------------------------------------
// Record bodies, little-endian: one golden per record type 0x00-0x13.

fn pfn_entries() -> Vec<u64> {
    vec![
        0x0000_0000_0001_2345, // NOTAB, pfn 0x12345
        0xf000_0000_0000_0077, // XTAB, no data
        0x9000_000a_bcde_f012, // L1TAB pinned, pfn 0xabcdef012
    ]
}

fn page_data_value() -> LibxcRecord {
    LibxcRecord::PageData(PageData {
        header: PageDataHeader {
            count: 3,
            _res1: 0x1122_3344,
            pfn: pfn_entries(),
        },
        pages: [page(0x11), page(0x22)].concat(),
    })
}

fn vcpu(id: u32, res: u32, context: &[u8]) -> X86PvVcpu {
    X86PvVcpu {
        vcpu_id: id,
        _res1: res,
        context: context.to_vec(),
    }
}

fn tsc_value() -> LibxcRecord {
    LibxcRecord::X86TscInfo(X86TscInfo {
        mode: 1,
        khz: 2_400_000,
        nsec: 0x0102_0304_0506_0708,
        incarnation: 5,
        _res1: 0x99,
    })
}

fn hvm_params_value() -> LibxcRecord {
    LibxcRecord::HvmParams(HvmParams {
        count: 2,
        _res1: 0x77,
        param: vec![
            HvmParamsEntry {
                index: 0x0c,
                value: 0xfeed,
            },
            HvmParamsEntry {
                index: 0x21,
                value: 0x0000_0001_0000_0001,
            },
        ],
    })
}

fn cpuid_value() -> LibxcRecord {
    LibxcRecord::X86CpuidPolicy(X86CpuidPolicy {
        leaves: vec![
            XenCpuidLeaf {
                leaf: 0x0000_000d,
                subleaf: 1,
                a: 0x1f,
                b: 0x240,
                c: 0xa0b0_c0d0,
                d: 7,
            },
            XenCpuidLeaf {
                leaf: 0x8000_0001,
                subleaf: 0xffff_ffff,
                a: 1,
                b: 2,
                c: 3,
                d: 4,
            },
        ],
    })
}

fn msr_value() -> LibxcRecord {
    LibxcRecord::X86MsrPolicy(X86MsrPolicy {
        entries: vec![
            XenMsrEntry {
                idx: 0xce,
                flags: 0,
                val: 0x0000_0001_0000_0080,
            },
            XenMsrEntry {
                idx: 0x10a,
                flags: 5,
                val: 0x1234,
            },
        ],
    })
}

fn little_endian_goldens() -> Vec<RecordGolden> {
    let le = Endian::Little;
    let g = |code, bytes: Vec<u8>, value| RecordGolden {
        code,
        endian: le,
        bytes,
        value,
    };
    let shared_info = page(0x5a);
    let hvm_ctx: Vec<u8> = (1..=20).collect();
    let dom_ctx: Vec<u8> = b"domain context blob".to_vec();
    vec![
        // END: no fields.
        g(0x00, vec![], LibxcRecord::End),
        // PAGE_DATA: count, reserved, pfn[3], then 2 pages (XTAB has none).
        g(
            0x01,
            rows(&[
                &[0x03, 0x00, 0x00, 0x00, 0x44, 0x33, 0x22, 0x11],
                &[0x45, 0x23, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00],
                &[0x77, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0],
                &[0x12, 0xf0, 0xde, 0xbc, 0x0a, 0x00, 0x00, 0x90],
                &page(0x11),
                &page(0x22),
            ]),
            page_data_value(),
        ),
        // X86_PV_INFO: w, ptl, 6 reserved octets.
        g(
            0x02,
            vec![0x08, 0x04, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06],
            LibxcRecord::X86PvInfo(X86PvInfo {
                guest_width: 8,
                pt_levels: 4,
                _res: [1, 2, 3, 4, 5, 6],
            }),
        ),
        // X86_PV_P2M_FRAMES: start, end, then the frame pfns.
        g(
            0x03,
            rows(&[
                &[0x10, 0x00, 0x00, 0x00, 0x00, 0x20, 0x00, 0x00],
                &[0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11],
                &[0x99, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
            ]),
            LibxcRecord::X86PvP2mFrames(X86PvP2mFrames {
                start_pfn: 0x10,
                end_pfn: 0x2000,
                p2m_pfns: vec![0x1122_3344_5566_7788, 0x99],
            }),
        ),
        // X86_PV_VCPU_*: vcpu_id, reserved, context.
        g(
            0x04,
            vec![
                0x01, 0x00, 0x00, 0x00, 0x40, 0x30, 0x20, 0x10, 0xde, 0xad, 0xbe, 0xef, 0x01,
            ],
            LibxcRecord::X86PvVcpuBasic(vcpu(1, 0x1020_3040, &[0xde, 0xad, 0xbe, 0xef, 0x01])),
        ),
        g(
            0x05,
            vec![0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x55, 0x66],
            LibxcRecord::X86PvVcpuExtended(vcpu(2, 0, &[0x55, 0x66])),
        ),
        g(
            0x06,
            vec![
                0x03, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
                0x07, 0x08, 0x09,
            ],
            LibxcRecord::X86PvVcpuXsave(vcpu(0x103, 0x8000_0000, &[1, 2, 3, 4, 5, 6, 7, 8, 9])),
        ),
        // SHARED_INFO: exactly one page.
        g(
            0x07,
            shared_info.clone(),
            LibxcRecord::SharedInfo(Opaque(shared_info)),
        ),
        // X86_TSC_INFO: mode, khz / nsec / incarnation, reserved.
        g(
            0x08,
            rows(&[
                &[0x01, 0x00, 0x00, 0x00, 0x00, 0x9f, 0x24, 0x00],
                &[0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01],
                &[0x05, 0x00, 0x00, 0x00, 0x99, 0x00, 0x00, 0x00],
            ]),
            tsc_value(),
        ),
        // HVM_CONTEXT: opaque blob.
        g(
            0x09,
            hvm_ctx.clone(),
            LibxcRecord::HvmContext(Opaque(hvm_ctx)),
        ),
        // HVM_PARAMS: count, reserved, then (index, value) pairs.
        g(
            0x0a,
            rows(&[
                &[0x02, 0x00, 0x00, 0x00, 0x77, 0x00, 0x00, 0x00],
                &[0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
                &[0xed, 0xfe, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
                &[0x21, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
                &[0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00],
            ]),
            hvm_params_value(),
        ),
        // TOOLSTACK: opaque blob.
        g(
            0x0b,
            vec![0x42, 0x43],
            LibxcRecord::Toolstack(Opaque(vec![0x42, 0x43])),
        ),
        // X86_PV_VCPU_MSRS.
        g(
            0x0c,
            vec![
                0x04, 0x00, 0x00, 0x00, 0x0f, 0x00, 0x00, 0x00, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
                0x00, 0x11,
            ],
            LibxcRecord::X86PvVcpuMsrs(vcpu(
                4,
                0x0f,
                &[0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00, 0x11],
            )),
        ),
        // VERIFY, CHECKPOINT: no fields.
        g(0x0d, vec![], LibxcRecord::Verify),
        g(0x0e, vec![], LibxcRecord::Checkpoint),
        // CHECKPOINT_DIRTY_PFN_LIST: pfns only, count = length / 8.
        g(
            0x0f,
            rows(&[
                &[0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01],
                &[0x42, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
            ]),
            LibxcRecord::CheckpointDirtyPfnList(CheckpointDirtyPfnList {
                pfn: vec![0x0123_4567_89ab_cdef, 0x42],
            }),
        ),
        // STATIC_DATA_END: no fields.
        g(0x10, vec![], LibxcRecord::StaticDataEnd),
        // X86_CPUID_POLICY: xen_cpuid_leaf_t {leaf, subleaf, a, b, c, d}[].
        g(
            0x11,
            rows(&[
                &[0x0d, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00],
                &[0x1f, 0x00, 0x00, 0x00, 0x40, 0x02, 0x00, 0x00],
                &[0xd0, 0xc0, 0xb0, 0xa0, 0x07, 0x00, 0x00, 0x00],
                &[0x01, 0x00, 0x00, 0x80, 0xff, 0xff, 0xff, 0xff],
                &[0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00],
                &[0x03, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00],
            ]),
            cpuid_value(),
        ),
        // X86_MSR_POLICY: xen_msr_entry_t {idx, flags, val}[].
        g(
            0x12,
            rows(&[
                &[0xce, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
                &[0x80, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00],
                &[0x0a, 0x01, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00],
                &[0x34, 0x12, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
            ]),
            msr_value(),
        ),
        // DOMAIN_CONTEXT: opaque blob.
        g(
            0x13,
            dom_ctx.clone(),
            LibxcRecord::DomainContext(Opaque(dom_ctx)),
        ),
    ]
}

fn big_endian_goldens() -> Vec<RecordGolden> {
    let be = Endian::Big;
    let g = |code, bytes: Vec<u8>, value| RecordGolden {
        code,
        endian: be,
        bytes,
        value,
    };
    vec![
        g(
            0x01,
            rows(&[
                &[0x00, 0x00, 0x00, 0x03, 0x11, 0x22, 0x33, 0x44],
                &[0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x23, 0x45],
                &[0xf0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x77],
                &[0x90, 0x00, 0x00, 0x0a, 0xbc, 0xde, 0xf0, 0x12],
                &page(0x11),
                &page(0x22),
            ]),
            page_data_value(),
        ),
        g(
            0x04,
            vec![
                0x00, 0x00, 0x00, 0x01, 0x10, 0x20, 0x30, 0x40, 0xde, 0xad, 0xbe, 0xef, 0x01,
            ],
            LibxcRecord::X86PvVcpuBasic(vcpu(1, 0x1020_3040, &[0xde, 0xad, 0xbe, 0xef, 0x01])),
        ),
        g(
            0x08,
            rows(&[
                &[0x00, 0x00, 0x00, 0x01, 0x00, 0x24, 0x9f, 0x00],
                &[0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08],
                &[0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x99],
            ]),
            tsc_value(),
        ),
        g(
            0x0a,
            rows(&[
                &[0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x77],
                &[0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0c],
                &[0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xfe, 0xed],
                &[0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x21],
                &[0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01],
            ]),
            hvm_params_value(),
        ),
        g(
            0x11,
            rows(&[
                &[0x00, 0x00, 0x00, 0x0d, 0x00, 0x00, 0x00, 0x01],
                &[0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x02, 0x40],
                &[0xa0, 0xb0, 0xc0, 0xd0, 0x00, 0x00, 0x00, 0x07],
                &[0x80, 0x00, 0x00, 0x01, 0xff, 0xff, 0xff, 0xff],
                &[0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02],
                &[0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x04],
            ]),
            cpuid_value(),
        ),
        g(
            0x12,
            rows(&[
                &[0x00, 0x00, 0x00, 0xce, 0x00, 0x00, 0x00, 0x00],
                &[0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x80],
                &[0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x00, 0x05],
                &[0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x12, 0x34],
            ]),
            msr_value(),
        ),
        g(
            0x02,
            vec![0x04, 0x03, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01],
            LibxcRecord::X86PvInfo(X86PvInfo {
                guest_width: 4,
                pt_levels: 3,
                _res: [6, 5, 4, 3, 2, 1],
            }),
        ),
    ]
}

#[test]
fn every_record_type_little_endian() {
    for g in little_endian_goldens() {
        check_record(&g);
    }
}

#[test]
fn some_record_types_big_endian() {
    for g in big_endian_goldens() {
        check_record(&g);
    }
}

#[test]
fn goldens_cover_every_record_type_in_order() {
    let codes: Vec<u32> = little_endian_goldens().iter().map(|g| g.code).collect();
    let table: Vec<u32> = LibxcRecord::LAYOUT.records.iter().map(|r| r.code).collect();
    assert_eq!(codes, table, "one little-endian golden per record type");
    assert_eq!(codes, (0x00..=0x13).collect::<Vec<u32>>());
}

#[test]
fn goldens_cover_every_libxc_struct() {
    // Structs reached from a record golden: the body layout and the element
    // struct of its trailing array. The three headers have their own tests.
    let mut covered: BTreeSet<&str> = ["ImageHeader", "DomainHeader", "RecordHeader"]
        .into_iter()
        .collect();
    for g in little_endian_goldens() {
        let rec = LibxcRecord::LAYOUT.by_code(g.code).unwrap();
        if let Some(body) = rec.body {
            covered.insert(body.rust_name);
            for f in body.fields {
                if let FieldKind::TrailingStruct(s) = f.kind {
                    covered.insert(s.rust_name);
                }
            }
        }
    }
    let all: BTreeSet<&str> = LIBXC_STRUCTS.iter().map(|s| s.rust_name).collect();
    let missing: Vec<_> = all.difference(&covered).collect();
    assert!(missing.is_empty(), "structs without a golden: {missing:?}");
}

#[test]
fn record_goldens_differ_between_byte_orders() {
    // A byte-order bug that ignores `endian` would pass both lists if the
    // goldens were the same; make sure each big-endian golden fails to
    // parse to the same value as little-endian (except byte-only bodies).
    for g in big_endian_goldens() {
        let as_le = LibxcRecord::parse_body(g.code, &g.bytes, Endian::Little);
        if g.code == LibxcRecord::X86_PV_INFO {
            continue; // one-octet fields: byte order does not apply
        }
        assert_ne!(
            as_le.ok().flatten().as_ref(),
            Some(&g.value),
            "0x{:x}",
            g.code
        );
    }
}

// ---------------------------------------------------------------------------
// Negative goldens: each must fail with the exact error.

fn parse_err(code: u32, bytes: &[u8], endian: Endian) -> BodyError {
    match LibxcRecord::parse_body(code, bytes, endian) {
        Ok(v) => panic!("0x{code:x}: {bytes:02x?} parsed as {v:?}"),
        Err(e) => e,
    }
}

#[test]
fn body_too_short() {
    let tsc = &[0u8; 23];
    assert_eq!(
        parse_err(LibxcRecord::X86_TSC_INFO, tsc, Endian::Little),
        BodyError::TooShort { len: 23, min: 24 }
    );
    assert_eq!(
        parse_err(
            LibxcRecord::HVM_PARAMS,
            &[0x01, 0x00, 0x00, 0x00],
            Endian::Little
        ),
        BodyError::TooShort { len: 4, min: 8 }
    );
    assert_eq!(
        parse_err(
            LibxcRecord::PAGE_DATA,
            &[0x01, 0, 0, 0, 0, 0, 0],
            Endian::Little
        ),
        BodyError::TooShort { len: 7, min: 8 }
    );
    assert_eq!(
        parse_err(LibxcRecord::X86_PV_INFO, &[0x08, 0x04], Endian::Big),
        BodyError::TooShort { len: 2, min: 8 }
    );
    assert_eq!(
        parse_err(
            LibxcRecord::X86_PV_VCPU_BASIC,
            &[1, 0, 0, 0],
            Endian::Little
        ),
        BodyError::TooShort { len: 4, min: 8 }
    );
}

#[test]
fn trailing_bytes_after_a_fixed_body() {
    let mut tsc = vec![0u8; 25];
    tsc[0] = 1;
    assert_eq!(
        parse_err(LibxcRecord::X86_TSC_INFO, &tsc, Endian::Little),
        BodyError::TrailingBytes { extra: 1 }
    );
    assert_eq!(
        parse_err(
            LibxcRecord::X86_PV_INFO,
            &[8, 4, 0, 0, 0, 0, 0, 0, 0],
            Endian::Little
        ),
        BodyError::TrailingBytes { extra: 1 }
    );
}

#[test]
fn hvm_params_count_larger_than_the_body() {
    // count 3, one entry present.
    let body = rows(&[
        &[0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
        &[0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
        &[0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
    ]);
    assert_eq!(
        parse_err(LibxcRecord::HVM_PARAMS, &body, Endian::Little),
        BodyError::Count {
            structure: "HvmParams",
            field: "count",
            count: 3,
            available: 16,
            element: 16,
        }
    );
    // The same count big-endian, and a hostile count: an error, not an
    // attempt to allocate 4 G entries.
    let mut be = body.clone();
    be[..4].copy_from_slice(&[0xff, 0xff, 0xff, 0xff]);
    assert_eq!(
        parse_err(LibxcRecord::HVM_PARAMS, &be, Endian::Big),
        BodyError::Count {
            structure: "HvmParams",
            field: "count",
            count: 0xffff_ffff,
            available: 16,
            element: 16,
        }
    );
}

#[test]
fn hvm_params_count_smaller_than_the_body() {
    let body = rows(&[
        &[0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
        &[0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
        &[0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
        &[0x0d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
        &[0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
    ]);
    assert_eq!(
        parse_err(LibxcRecord::HVM_PARAMS, &body, Endian::Little),
        BodyError::Count {
            structure: "HvmParams",
            field: "count",
            count: 1,
            available: 32,
            element: 16,
        }
    );
}

#[test]
fn page_data_count_zero() {
    let body = [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00];
    assert_eq!(
        parse_err(LibxcRecord::PAGE_DATA, &body, Endian::Little),
        BodyError::Count {
            structure: "PageDataHeader",
            field: "count",
            count: 0,
            available: 0,
            element: 8,
        }
    );
}

#[test]
fn page_data_count_larger_than_the_body() {
    // count 2 but only one pfn entry (an XTAB, so no page either).
    let body = rows(&[
        &[0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00],
        &[0xf0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01],
    ]);
    assert_eq!(
        parse_err(LibxcRecord::PAGE_DATA, &body, Endian::Big),
        BodyError::Count {
            structure: "PageDataHeader",
            field: "count",
            count: 2,
            available: 8,
            element: 8,
        }
    );
}

#[test]
fn page_data_missing_or_extra_page_contents() {
    // One NOTAB pfn: one page must follow.
    let header = rows(&[
        &[0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
        &[0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
    ]);
    assert_eq!(
        parse_err(LibxcRecord::PAGE_DATA, &header, Endian::Little),
        BodyError::Length {
            len: 16,
            expected: 16 + 4096,
        }
    );
    let too_much = rows(&[&header, &page(1), &[0u8; 8]]);
    assert_eq!(
        parse_err(LibxcRecord::PAGE_DATA, &too_much, Endian::Little),
        BodyError::Length {
            len: 16 + 4096 + 8,
            expected: 16 + 4096,
        }
    );
    // One XTAB pfn: no page may follow.
    let xtab = rows(&[
        &[0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
        &[0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0],
        &page(2),
    ]);
    assert_eq!(
        parse_err(LibxcRecord::PAGE_DATA, &xtab, Endian::Little),
        BodyError::Length {
            len: 16 + 4096,
            expected: 16,
        }
    );
}

#[test]
fn page_data_invalid_page_type() {
    // Types 0x5-0x8 are reserved; 0x6 in the second entry.
    let body = rows(&[
        &[0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
        &[0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0],
        &[0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x60],
    ]);
    match parse_err(LibxcRecord::PAGE_DATA, &body, Endian::Little) {
        BodyError::Other(msg) => {
            assert!(msg.contains("pfn[1]"), "names the entry: {msg}");
            assert!(msg.contains("6000000000000002"), "shows the entry: {msg}");
        }
        other => panic!("expected an invalid page type, got {other:?}"),
    }
}

#[test]
fn ragged_trailing_arrays() {
    // CPUID policy: 25 octets is not a whole number of 24-octet leaves.
    assert_eq!(
        parse_err(LibxcRecord::X86_CPUID_POLICY, &[0x11; 25], Endian::Little),
        BodyError::Ragged {
            structure: "X86CpuidPolicy",
            field: "leaves",
            len: 25,
            element: 24,
        }
    );
    assert_eq!(
        parse_err(LibxcRecord::X86_CPUID_POLICY, &[0x11; 23], Endian::Big),
        BodyError::Ragged {
            structure: "X86CpuidPolicy",
            field: "leaves",
            len: 23,
            element: 24,
        }
    );
    // MSR policy: 16-octet entries.
    assert_eq!(
        parse_err(LibxcRecord::X86_MSR_POLICY, &[0x22; 20], Endian::Little),
        BodyError::Ragged {
            structure: "X86MsrPolicy",
            field: "entries",
            len: 20,
            element: 16,
        }
    );
    // P2M frames: 8-octet pfns after the 8-octet fixed part.
    assert_eq!(
        parse_err(LibxcRecord::X86_PV_P2M_FRAMES, &[0x33; 12], Endian::Little),
        BodyError::Ragged {
            structure: "X86PvP2mFrames",
            field: "p2m_pfns",
            len: 4,
            element: 8,
        }
    );
    // Dirty pfn list.
    assert_eq!(
        parse_err(
            LibxcRecord::CHECKPOINT_DIRTY_PFN_LIST,
            &[0x44; 9],
            Endian::Little
        ),
        BodyError::Ragged {
            structure: "CheckpointDirtyPfnList",
            field: "pfn",
            len: 9,
            element: 8,
        }
    );
}

#[test]
fn signalling_records_take_no_body() {
    for code in [
        LibxcRecord::END,
        LibxcRecord::VERIFY,
        LibxcRecord::CHECKPOINT,
        LibxcRecord::STATIC_DATA_END,
    ] {
        assert_eq!(
            parse_err(code, &[0u8; 8], Endian::Little),
            BodyError::Length {
                len: 8,
                expected: 0
            },
            "0x{code:x}"
        );
    }
    assert_eq!(
        parse_err(LibxcRecord::END, &[0xff], Endian::Big),
        BodyError::Length {
            len: 1,
            expected: 0
        }
    );
}

#[test]
fn opaque_records_keep_their_length_rules() {
    // SHARED_INFO is exactly one page.
    assert_eq!(
        parse_err(LibxcRecord::SHARED_INFO, &[0u8; 4095], Endian::Little),
        BodyError::Length {
            len: 4095,
            expected: 4096
        }
    );
    assert_eq!(
        parse_err(LibxcRecord::SHARED_INFO, &[0u8; 4104], Endian::Little),
        BodyError::Length {
            len: 4104,
            expected: 4096
        }
    );
    // The blobs must not be empty.
    for code in [
        LibxcRecord::HVM_CONTEXT,
        LibxcRecord::TOOLSTACK,
        LibxcRecord::DOMAIN_CONTEXT,
    ] {
        assert_eq!(
            parse_err(code, &[], Endian::Little),
            BodyError::Empty,
            "0x{code:x}"
        );
    }
}

#[test]
fn unknown_codes_are_not_records_of_this_layer() {
    for code in [0x14, 0x7fff_ffff, 0x8000_0000, 0x8000_0001] {
        assert_eq!(
            LibxcRecord::parse_body(code, &[1, 2, 3], Endian::Little),
            Ok(None),
            "0x{code:x}"
        );
    }
}

#[test]
fn writer_refuses_a_count_that_disagrees_with_the_array() {
    let bad = LibxcRecord::HvmParams(HvmParams {
        count: 2,
        _res1: 0,
        param: vec![HvmParamsEntry { index: 1, value: 2 }],
    });
    let mut out = Vec::new();
    match bad.write_body(&mut out, Endian::Little) {
        Err(BodyError::Other(msg)) => {
            assert!(msg.contains("HvmParams.count"), "{msg}");
            assert!(msg.contains("2") && msg.contains("1"), "{msg}");
        }
        other => panic!("expected a count error, got {other:?}"),
    }
}
