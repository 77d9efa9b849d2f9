//! Valid streams of every shape, written with the writer: they verify in
//! strict mode and read back as the records written (write-then-read round
//! trip, both byte orders). Also what the writer refuses.

use format_spec::binrw::Endian;
use format_spec::body::Opaque;
use format_spec::libxc::*;
use format_spec::stream::{
    verify, ErrorKind, Record, StreamReader, StreamWriter, VerifyOptions, WriterOptions,
};

#[derive(Clone, Debug)]
enum Item {
    Rec(LibxcRecord),
    Optional(u32, Vec<u8>),
}

fn page_data(first: u64, n: u64, xtab_every: u64) -> LibxcRecord {
    let mut pfn = Vec::new();
    let mut pages = Vec::new();
    for i in 0..n {
        if xtab_every != 0 && i % xtab_every == 0 {
            pfn.push((PageType::Xtab as u64) << 60 | (first + i));
        } else {
            let ty = if i % 5 == 1 {
                PageType::L1tab
            } else {
                PageType::Notab
            };
            pfn.push((ty as u64) << 60 | (first + i));
            // Even octets: the page-table entries are not present (a
            // present one would have to name a pfn within the P2M).
            pages.extend(std::iter::repeat_n((first + i) as u8 & !1, PAGE_SIZE));
        }
    }
    LibxcRecord::PageData(PageData {
        header: PageDataHeader {
            count: n as u32,
            _res1: 0,
            pfn,
        },
        pages,
    })
}

fn vcpu(id: u32, ctx: usize) -> X86PvVcpu {
    X86PvVcpu {
        vcpu_id: id,
        _res1: 0,
        context: (0..ctx).map(|i| i as u8).collect(),
    }
}

fn tsc() -> LibxcRecord {
    LibxcRecord::X86TscInfo(X86TscInfo {
        mode: 1,
        khz: 2_400_000,
        nsec: 123_456_789,
        incarnation: 3,
        _res1: 0,
    })
}

fn policies() -> Vec<Item> {
    vec![
        Item::Rec(LibxcRecord::X86CpuidPolicy(X86CpuidPolicy {
            leaves: vec![XenCpuidLeaf {
                leaf: 0,
                subleaf: u32::MAX,
                a: 0xd,
                b: 1,
                c: 2,
                d: 3,
            }],
        })),
        Item::Rec(LibxcRecord::X86MsrPolicy(X86MsrPolicy {
            entries: vec![XenMsrEntry {
                idx: 0xce,
                flags: 0,
                val: 7,
            }],
        })),
    ]
}

/// One segment of guest state; `first` says whether it is the first.
fn segment(domain: DomainType, version: u32, first: bool, seg: u64, endian: Endian) -> Vec<Item> {
    let mut v = Vec::new();
    let r = Item::Rec;
    match domain {
        DomainType::X86Pv => {
            if first {
                v.push(r(LibxcRecord::X86PvInfo(X86PvInfo {
                    guest_width: 8,
                    pt_levels: 4,
                    _res: [0; 6],
                })));
                if version >= 3 {
                    v.extend(policies());
                    v.push(r(LibxcRecord::StaticDataEnd));
                }
                v.push(r(LibxcRecord::X86PvP2mFrames(X86PvP2mFrames {
                    start_pfn: 0,
                    end_pfn: 1023,
                    p2m_pfns: vec![0x100, 0x101],
                })));
            }
            v.push(r(page_data(seg * 64, 40, 0)));
            v.push(r(page_data(seg * 64 + 40, 3, 2)));
            if version < 4 {
                v.push(r(tsc()));
                v.push(r(LibxcRecord::SharedInfo(Opaque(vec![0x11; 4096]))));
            }
            v.push(r(LibxcRecord::X86PvVcpuBasic(vcpu(
                0,
                format_spec::libxc::pv_vcpu_basic_size(8).unwrap(),
            ))));
            v.push(r(LibxcRecord::X86PvVcpuExtended(vcpu(0, 13))));
            v.push(r(LibxcRecord::X86PvVcpuXsave(vcpu(0, 0))));
            v.push(r(LibxcRecord::X86PvVcpuMsrs(vcpu(0, 16))));
        }
        DomainType::X86Hvm => {
            if first && version >= 3 {
                v.extend(policies());
                v.push(r(LibxcRecord::StaticDataEnd));
            }
            v.push(r(page_data(seg * 100, 50, 7)));
            v.push(r(LibxcRecord::HvmParams(HvmParams {
                count: 2,
                _res1: 0,
                param: vec![
                    HvmParamsEntry { index: 1, value: 2 },
                    HvmParamsEntry {
                        index: 3,
                        value: u64::MAX,
                    },
                ],
            })));
            if version < 4 {
                v.push(r(tsc()));
            }
            // A valid blob (strict verification checks it): HEADER, one
            // vCPU's CPU and LAPIC, both PICs, END.
            use format_spec::hvm_context::{self as hvm, HvmHeader, HvmType};
            let blob = hvm::write(
                &HvmHeader::new(0x60fb1, 2_000_000 + seg as u32),
                &[
                    (HvmType::Cpu, 0, &[0x42; 1032]),
                    (HvmType::Pic, 0, &[1; 8]),
                    (HvmType::Pic, 1, &[2; 8]),
                    (HvmType::Lapic, 0, &[3; 24]),
                ],
                endian,
            )
            .unwrap();
            v.push(r(LibxcRecord::HvmContext(Opaque(blob))));
        }
    }
    if version >= 4 {
        // A valid blob (strict verification checks it), one per segment.
        let mut blob = Vec::new();
        format_spec::domain_context::write(
            &[
                format_spec::domain_context::DcEntry::Header(
                    format_spec::domain_context::DcHeader::new(4, seg as u16),
                ),
                format_spec::domain_context::DcEntry::End,
            ],
            endian,
            &mut blob,
        )
        .unwrap();
        v.push(r(LibxcRecord::DomainContext(Opaque(blob))));
    }
    v
}

fn shape(
    domain: DomainType,
    version: u32,
    checkpoints: u64,
    optional: bool,
    endian: Endian,
) -> Vec<Item> {
    let mut items = Vec::new();
    for seg in 0..=checkpoints {
        let mut s = segment(domain, version, seg == 0, seg, endian);
        if optional {
            s.insert(
                1,
                Item::Optional(0x8000_0100 + seg as u32, vec![seg as u8; 5]),
            );
        }
        items.extend(s);
        if seg < checkpoints {
            items.push(Item::Rec(LibxcRecord::Checkpoint));
        }
    }
    items
}

fn write(domain: DomainType, version: u32, endian: Endian, items: &[Item]) -> Vec<u8> {
    let opts = WriterOptions::new(domain)
        .version(version)
        .endian(endian)
        .xen_version(4, 17);
    let mut w = StreamWriter::new(Vec::new(), opts).unwrap();
    for it in items {
        match it {
            Item::Rec(r) => w.write(r).unwrap_or_else(|e| panic!("{e}")),
            Item::Optional(t, b) => w.write_optional(*t, b).unwrap(),
        };
    }
    w.finish().unwrap()
}

#[test]
fn every_shape_verifies_and_round_trips() {
    let mut shapes = 0;
    for domain in [DomainType::X86Pv, DomainType::X86Hvm] {
        for version in [2, 3, 4] {
            for endian in [Endian::Little, Endian::Big] {
                for (checkpoints, optional) in [(0, false), (2, false), (0, true), (1, true)] {
                    let items = shape(domain, version, checkpoints, optional, endian);
                    let bytes = write(domain, version, endian, &items);
                    let what =
                        format!("{domain:?} v{version} {endian:?} cp={checkpoints} opt={optional}");
                    let rep = verify(&bytes[..], VerifyOptions::strict())
                        .unwrap_or_else(|e| panic!("{what}: {e}"));
                    assert_eq!(rep.records, items.len() as u64 + 1, "{what}");
                    assert_eq!(rep.segments, checkpoints + 1, "{what}");
                    assert_eq!(
                        rep.unknown_optional,
                        if optional { checkpoints + 1 } else { 0 }
                    );
                    assert_eq!(rep.bytes(), bytes.len() as u64);
                    assert_eq!(rep.image_header.endian(), endian);

                    // Read back: the same records, in order.
                    let mut r = StreamReader::new(&bytes[..]).unwrap();
                    assert_eq!(r.version(), version);
                    assert_eq!(r.domain_type(), domain);
                    let mut back = Vec::new();
                    while let Some((_, rec)) = r.next_record().unwrap() {
                        back.push(rec);
                    }
                    assert_eq!(back.pop(), Some(Record::Known(LibxcRecord::End)));
                    assert_eq!(back.len(), items.len(), "{what}");
                    for (b, it) in back.iter().zip(&items) {
                        match (b, it) {
                            (Record::Known(a), Item::Rec(e)) => assert_eq!(a, e, "{what}"),
                            (Record::Unknown { rtype, body }, Item::Optional(t, e)) => {
                                assert_eq!((rtype, body), (t, e))
                            }
                            _ => panic!("{what}: {b:?} vs {it:?}"),
                        }
                    }
                    assert_eq!(r.position(), bytes.len() as u64);
                    shapes += 1;
                }
            }
        }
    }
    assert_eq!(shapes, 48);
}

#[test]
fn big_and_little_endian_differ_only_in_byte_order() {
    let items = shape(DomainType::X86Hvm, 3, 0, false, Endian::Little);
    let le = write(DomainType::X86Hvm, 3, Endian::Little, &items);
    let be = write(DomainType::X86Hvm, 3, Endian::Big, &items);
    assert_eq!(le.len(), be.len());
    assert_ne!(le, be);
    // The image header is big-endian in both, apart from the endian bit.
    assert_eq!(le[..17], be[..17]);
    assert_eq!((le[17], be[17]), (0, 1));
}

#[test]
fn v2_infers_static_data_end() {
    // No STATIC_DATA_END record in v2 (it would be too new) and no error.
    for domain in [DomainType::X86Pv, DomainType::X86Hvm] {
        let items = shape(domain, 2, 1, false, Endian::Little);
        assert!(!items
            .iter()
            .any(|i| matches!(i, Item::Rec(LibxcRecord::StaticDataEnd))));
        let bytes = write(domain, 2, Endian::Little, &items);
        verify(&bytes[..], VerifyOptions::strict()).unwrap();
    }
}

fn kind_of(r: Result<impl std::fmt::Debug, format_spec::stream::StreamError>) -> ErrorKind {
    r.expect_err("the writer must refuse").kind()
}

#[test]
fn writer_refuses_what_the_verifier_would() {
    let new = |domain, version| {
        StreamWriter::new(Vec::new(), WriterOptions::new(domain).version(version)).unwrap()
    };
    let mut w = new(DomainType::X86Hvm, 3);
    // Too new, obsolete, back channel.
    assert_eq!(
        kind_of(w.write(&LibxcRecord::DomainContext(Opaque(vec![1])))),
        ErrorKind::RecordTooNew
    );
    assert_eq!(
        kind_of(w.write(&LibxcRecord::Toolstack(Opaque(vec![1])))),
        ErrorKind::DeprecatedRecord
    );
    assert_eq!(
        kind_of(w.write(&LibxcRecord::CheckpointDirtyPfnList(
            CheckpointDirtyPfnList { pfn: vec![1] }
        ))),
        ErrorKind::BackChannelRecord
    );
    // Memory before STATIC_DATA_END.
    assert_eq!(
        kind_of(w.write_page_data(&[1], &[0; PAGE_SIZE])),
        ErrorKind::MissingStaticDataEnd
    );
    w.write(&LibxcRecord::StaticDataEnd).unwrap();
    assert_eq!(
        kind_of(w.write(&LibxcRecord::StaticDataEnd)),
        ErrorKind::DuplicateStaticDataEnd
    );
    // Pages that do not match the pfns; empty and invalid pfn lists.
    assert_eq!(
        kind_of(w.write_page_data(&[1, 2], &[0; PAGE_SIZE])),
        ErrorKind::BadLength
    );
    let xtab = (PageType::Xtab as u64) << 60;
    assert_eq!(
        kind_of(w.write_page_data(&[1 | xtab], &[0; PAGE_SIZE])),
        ErrorKind::BadLength
    );
    assert_eq!(
        kind_of(w.write_page_data(&[], &[])),
        ErrorKind::BadPageCount
    );
    assert_eq!(
        kind_of(w.write_page_data(&[5 << 60], &[])),
        ErrorKind::BadPageType
    );
    assert_eq!(
        kind_of(w.write_page_data(&[1 << 53], &[0; PAGE_SIZE])),
        ErrorKind::ReservedNonZero
    );
    // Entry by entry, its type and then its reserved bits: the first
    // entry that breaks either is reported, at its own offset.
    let first_entry = w.position() + 16;
    for (pfns, kind, entry) in [
        ([1 << 53, 5 << 60], ErrorKind::ReservedNonZero, 0),
        ([5 << 60, 1 << 53], ErrorKind::BadPageType, 0),
        ([1, (5 << 60) | (1 << 53)], ErrorKind::BadPageType, 1),
        ([1, 1 << 53], ErrorKind::ReservedNonZero, 1),
    ] {
        let e = w
            .write_page_data(&pfns, &[0; PAGE_SIZE])
            .expect_err("the writer must refuse");
        assert_eq!(
            (e.kind(), e.offset()),
            (kind, first_entry + 8 * entry),
            "{pfns:x?}: {e}"
        );
    }
    // A count that disagrees with the array; reserved fields; bad values.
    let mut pd = page_data(0, 2, 0);
    if let LibxcRecord::PageData(p) = &mut pd {
        p.header.count = 3;
    }
    assert_eq!(kind_of(w.write(&pd)), ErrorKind::BadPageCount);
    assert_eq!(
        kind_of(w.write(&LibxcRecord::HvmParams(HvmParams {
            count: 2,
            _res1: 0,
            param: vec![HvmParamsEntry { index: 1, value: 1 }],
        }))),
        ErrorKind::BadLength
    );
    assert_eq!(
        kind_of(w.write(&LibxcRecord::X86TscInfo(X86TscInfo {
            mode: 0,
            khz: 0,
            nsec: 0,
            incarnation: 0,
            _res1: 1
        }))),
        ErrorKind::ReservedNonZero
    );
    assert_eq!(
        kind_of(w.write(&LibxcRecord::SharedInfo(Opaque(vec![0; 10])))),
        ErrorKind::BadLength
    );
    assert_eq!(
        kind_of(w.write(&LibxcRecord::HvmContext(Opaque(vec![])))),
        ErrorKind::BadLength
    );
    // PV records in an HVM stream; END through write(); known types as optional.
    assert_eq!(
        kind_of(w.write(&LibxcRecord::X86PvInfo(X86PvInfo {
            guest_width: 8,
            pt_levels: 4,
            _res: [0; 6]
        }))),
        ErrorKind::WrongGuestType
    );
    assert_eq!(kind_of(w.write(&LibxcRecord::End)), ErrorKind::Misuse);
    assert_eq!(
        kind_of(w.write_optional(LibxcRecord::HVM_CONTEXT, &[1])),
        ErrorKind::Misuse
    );
    assert_eq!(kind_of(w.write_optional(0x1234, &[1])), ErrorKind::Misuse);
    // Refused records leave no trace: the stream is still valid.
    w.write_page_data(&[1, 2 | xtab], &[3; PAGE_SIZE]).unwrap();
    let bytes = w.finish().unwrap();
    let rep = verify(&bytes[..], VerifyOptions::strict()).unwrap();
    assert_eq!(rep.records, 3);

    // PV order; bad values.
    let mut w = new(DomainType::X86Pv, 3);
    assert_eq!(
        kind_of(w.write(&LibxcRecord::X86PvInfo(X86PvInfo {
            guest_width: 2,
            pt_levels: 4,
            _res: [0; 6]
        }))),
        ErrorKind::BadValue
    );
    w.write(&LibxcRecord::StaticDataEnd).unwrap();
    assert_eq!(
        kind_of(w.write(&LibxcRecord::X86PvP2mFrames(X86PvP2mFrames {
            start_pfn: 0,
            end_pfn: 0,
            p2m_pfns: vec![1]
        }))),
        ErrorKind::OutOfOrder
    );
    // A v4 stream cannot end without DOMAIN_CONTEXT.
    let w = new(DomainType::X86Hvm, 4);
    assert_eq!(kind_of(w.finish()), ErrorKind::MissingStaticDataEnd);
    let mut w = new(DomainType::X86Hvm, 4);
    w.write(&LibxcRecord::StaticDataEnd).unwrap();
    assert_eq!(kind_of(w.finish()), ErrorKind::MissingDomainContext);
    // Unsupported versions.
    assert_eq!(
        kind_of(StreamWriter::new(
            Vec::new(),
            WriterOptions::new(DomainType::X86Hvm).version(5)
        )),
        ErrorKind::UnsupportedVersion
    );
}

#[test]
fn writer_pads_every_record_to_eight_octets() {
    let mut w = StreamWriter::new(
        Vec::new(),
        WriterOptions::new(DomainType::X86Hvm).version(3),
    )
    .unwrap();
    w.write(&LibxcRecord::StaticDataEnd).unwrap();
    let info = w
        .write(&LibxcRecord::HvmContext(Opaque(vec![9; 13])))
        .unwrap();
    assert_eq!(info.length, 13);
    assert_eq!(info.padding(), 3);
    assert_eq!(w.position(), info.end_offset());
    let bytes = w.finish().unwrap();
    let body = info.body_offset() as usize;
    assert_eq!(&bytes[body..body + 13], &[9; 13]);
    assert_eq!(&bytes[body + 13..body + 16], &[0; 3]);
    assert_eq!(bytes.len() as u64, info.end_offset() + 8);
}
