//! The v3 <-> v4 conversion: the identity v3 -> v4 -> v3 on synthetic PV
//! and HVM streams (both byte orders, checkpointed), strict verification
//! of every converted stream, the blob's content and the record placement,
//! conversion through real pipes, the two real Xen save files, and one
//! typed error (with its offset) per refusal.

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use format_spec::binrw::Endian;
use format_spec::body::Opaque;
use format_spec::convert::{convert, ConvertError, ConvertOptions, LossKind};
use format_spec::domain_context::{self as dc, DcEntry, DcHeader, SharedInfoRef};
use format_spec::hvm_context::{self as hvm, HvmHeader, HvmType};
use format_spec::libxc::{
    pv_vcpu_basic_size, DomainType, HvmParams, HvmParamsEntry, LibxcRecord as L, PageType,
    X86PvInfo, X86PvP2mFrames, X86PvVcpu, X86TscInfo, PAGE_SIZE,
};
use format_spec::outer::{FormatChoice, LibxcStop, Mode as OuterMode, OuterEvent, OuterReader};
use format_spec::stream::{
    verify, Mode, ReaderOptions, Record, StreamReader, StreamWriter, Verifier, VerifyOptions,
    WriterOptions,
};
use test_support::real_stream;

const XTAB: u64 = (PageType::Xtab as u64) << 60;

fn tsc(seg: u32) -> X86TscInfo {
    X86TscInfo {
        mode: 1,
        khz: 2_400_000 + seg,
        nsec: 0x1122_3344_5566_7788 + u64::from(seg),
        incarnation: 7 + seg,
        _res1: 0,
    }
}

/// A shared info page: patterned up to `size` octets, zero after.
fn shared_page(size: usize, seed: u8) -> Vec<u8> {
    let mut page = vec![0u8; PAGE_SIZE];
    for (i, b) in page[..size].iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(31).wrapping_add(seed) | 1;
    }
    page
}

fn pages(n: usize, seed: u8) -> Vec<u8> {
    (0..n * PAGE_SIZE)
        .map(|i| (i / 7) as u8 ^ seed)
        .collect::<Vec<_>>()
}

/// Memory of one segment: two pages with data and one XTAB entry.
fn write_memory<W: Write>(w: &mut StreamWriter<W>, seg: u64) {
    let base = seg * 16;
    w.write_page_data(&[base, (base + 1) | XTAB, base + 2], &pages(2, seg as u8))
        .unwrap();
}

/// A v3 PV stream in the canonical order (what Xen 4.17 writes):
/// X86_PV_INFO, STATIC_DATA_END, X86_PV_P2M_FRAMES, then per segment
/// PAGE_DATA, X86_TSC_INFO, SHARED_INFO, the vCPU records; `checkpoints`
/// CHECKPOINT records separate the segments.
fn pv_v3(endian: Endian, width: u8, checkpoints: u32) -> Vec<u8> {
    let opts = WriterOptions::new(DomainType::X86Pv)
        .version(3)
        .endian(endian)
        .xen_version(4, 17);
    let mut w = StreamWriter::new(Vec::new(), opts).unwrap();
    w.write(&L::X86PvInfo(X86PvInfo {
        guest_width: width,
        pt_levels: if width == 4 { 3 } else { 4 },
        _res: [0; 6],
    }))
    .unwrap();
    w.write(&L::StaticDataEnd).unwrap();
    w.write(&L::X86PvP2mFrames(X86PvP2mFrames {
        start_pfn: 0,
        end_pfn: 511,
        p2m_pfns: vec![0x40],
    }))
    .unwrap();
    let size = dc::shared_info_size(width == 4);
    for seg in 0..=checkpoints {
        write_memory(&mut w, u64::from(seg));
        w.write(&L::X86TscInfo(tsc(seg))).unwrap();
        w.write(&L::SharedInfo(Opaque(shared_page(size, seg as u8))))
            .unwrap();
        for code in [L::X86_PV_VCPU_BASIC, L::X86_PV_VCPU_EXTENDED] {
            let len = if code == L::X86_PV_VCPU_BASIC {
                pv_vcpu_basic_size(width).unwrap()
            } else {
                40
            };
            let v = X86PvVcpu {
                vcpu_id: 0,
                _res1: 0,
                context: vec![code as u8; len],
            };
            let rec = if code == L::X86_PV_VCPU_BASIC {
                L::X86PvVcpuBasic(v)
            } else {
                L::X86PvVcpuExtended(v)
            };
            w.write(&rec).unwrap();
        }
        if seg < checkpoints {
            w.checkpoint().unwrap();
        }
    }
    w.finish().unwrap()
}

fn hvm_params() -> L {
    L::HvmParams(HvmParams {
        count: 2,
        _res1: 0,
        param: vec![
            HvmParamsEntry { index: 2, value: 3 },
            HvmParamsEntry {
                index: 12,
                value: 0xfeff_f000,
            },
        ],
    })
}

/// A valid HVM_CONTEXT blob (strict verification checks it): HEADER (its
/// cpuid field carries `tag`, so that records can differ), `xsave` octets
/// of CPU_XSAVE state when not zero (its length is free above 600, which
/// gives bodies that need padding), and END.
fn hvm_ctx(endian: Endian, tag: u32, xsave: usize) -> Vec<u8> {
    let state = vec![tag as u8; xsave];
    let entries: Vec<(HvmType, u16, &[u8])> = if xsave == 0 {
        Vec::new()
    } else {
        vec![(HvmType::CpuXsave, 0, &state[..])]
    };
    hvm::write(&HvmHeader::new(tag, 1_000_000), &entries, endian).unwrap()
}

/// A v3 HVM stream in the order Xen 4.17 writes: STATIC_DATA_END, then
/// per segment PAGE_DATA, X86_TSC_INFO, HVM_CONTEXT, HVM_PARAMS.
fn hvm_v3(endian: Endian, checkpoints: u32) -> Vec<u8> {
    hvm_v3_split(endian, checkpoints).0
}

/// [`hvm_v3`] and the offsets just after each CHECKPOINT record.
fn hvm_v3_split(endian: Endian, checkpoints: u32) -> (Vec<u8>, Vec<usize>) {
    let opts = WriterOptions::new(DomainType::X86Hvm)
        .version(3)
        .endian(endian)
        .xen_version(4, 17);
    let mut w = StreamWriter::new(Vec::new(), opts).unwrap();
    let mut splits = Vec::new();
    w.write(&L::StaticDataEnd).unwrap();
    for seg in 0..=checkpoints {
        write_memory(&mut w, u64::from(seg));
        w.write(&L::X86TscInfo(tsc(seg))).unwrap();
        w.write(&L::HvmContext(Opaque(hvm_ctx(endian, 0x33 + seg, 0))))
            .unwrap();
        w.write(&hvm_params()).unwrap();
        if seg < checkpoints {
            splits.push(w.checkpoint().unwrap().end_offset() as usize);
        }
    }
    (w.finish().unwrap(), splits)
}

fn conv(input: &[u8], to: u32) -> Result<Vec<u8>, ConvertError> {
    let mut out = Vec::new();
    convert(input, &mut out, ConvertOptions::to(to))?;
    Ok(out)
}

/// The record types of a bare stream, in order.
fn codes(bytes: &[u8]) -> Vec<u32> {
    let mut r = StreamReader::new(bytes).unwrap();
    let mut v = Vec::new();
    while let Some(info) = r.next_header().unwrap() {
        v.push(info.rtype);
    }
    v
}

/// The DOMAIN_CONTEXT bodies of a bare stream.
fn blobs(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut r = StreamReader::new(bytes).unwrap();
    let mut v = Vec::new();
    while let Some((info, rec)) = r.next_record().unwrap() {
        if info.rtype == L::DOMAIN_CONTEXT {
            let Record::Known(L::DomainContext(Opaque(b))) = rec else {
                panic!("{rec:?}")
            };
            v.push(b);
        }
    }
    v
}

/// Strict verification with no warnings at all.
fn verify_clean(bytes: &[u8]) -> format_spec::stream::Report {
    let rep = verify(bytes, VerifyOptions::strict()).unwrap();
    assert!(rep.warnings.is_empty(), "{:?}", rep.warnings);
    rep
}

fn check_identity(v3: &[u8], domain: DomainType, endian: Endian, segments: u64) {
    let v4 = conv(v3, 4).unwrap();
    let rep = verify_clean(&v4);
    assert_eq!(rep.image_header.version, 4);
    assert_eq!(rep.segments, segments);
    assert_eq!(rep.records_by_type[&L::DOMAIN_CONTEXT], segments);
    assert!(!rep.records_by_type.contains_key(&L::SHARED_INFO));
    assert!(!rep.records_by_type.contains_key(&L::X86_TSC_INFO));
    assert_eq!(rep.data_pages, 2 * segments);

    // Placement: right after the deprecated records' place, before the
    // vCPU records (PV) or HVM_PARAMS then HVM_CONTEXT (HVM).
    let c = codes(&v4);
    let after: &[u32] = match domain {
        DomainType::X86Pv => &[L::X86_PV_VCPU_BASIC, L::X86_PV_VCPU_EXTENDED],
        DomainType::X86Hvm => &[L::HVM_PARAMS, L::HVM_CONTEXT],
    };
    let dcs: Vec<usize> = (0..c.len())
        .filter(|i| c[*i] == L::DOMAIN_CONTEXT)
        .collect();
    for i in &dcs {
        assert_eq!(c[i - 1], L::PAGE_DATA, "{c:?}");
        assert_eq!(&c[i + 1..i + 1 + after.len()], after, "{c:?}");
    }

    // The blobs hold the v3 content, in the stream's byte order.
    for (seg, blob) in blobs(&v4).iter().enumerate() {
        let items = dc::verify(blob, endian).unwrap();
        let kinds: Vec<_> = items.iter().map(|i| i.entry.kind()).collect();
        let want_si = domain == DomainType::X86Pv;
        assert_eq!(kinds.len(), if want_si { 4 } else { 3 }, "{kinds:?}");
        let DcEntry::Header(h) = items[0].entry else {
            panic!()
        };
        assert_eq!((h.xen_major, h.xen_minor), (4, 17));
        let t = items
            .iter()
            .find_map(|i| match i.entry {
                DcEntry::TscInfo(t) => Some(t),
                _ => None,
            })
            .unwrap();
        assert_eq!(dc::tsc_to_record(&t), tsc(seg as u32));
        if want_si {
            let DcEntry::SharedInfo(s) = items[1].entry else {
                panic!()
            };
            let page = shared_page(s.buffer.len(), seg as u8);
            assert_eq!(s.buffer, &page[..s.buffer.len()]);
        }
    }

    let back = conv(&v4, 3).unwrap();
    assert!(back == v3, "v3 -> v4 -> v3 changed the stream");
    verify(&back[..], VerifyOptions::strict()).unwrap();
}

#[test]
fn pv_identity_both_orders_checkpointed() {
    for endian in [Endian::Little, Endian::Big] {
        for checkpoints in [0, 2] {
            let v3 = pv_v3(endian, 8, checkpoints);
            check_identity(&v3, DomainType::X86Pv, endian, u64::from(checkpoints) + 1);
        }
    }
}

#[test]
fn hvm_identity_both_orders_checkpointed() {
    for endian in [Endian::Little, Endian::Big] {
        for checkpoints in [0, 3] {
            let v3 = hvm_v3(endian, checkpoints);
            check_identity(&v3, DomainType::X86Hvm, endian, u64::from(checkpoints) + 1);
        }
    }
}

#[test]
fn compat_flag_follows_guest_width() {
    for (width, compat, size) in [(4u8, true, 2344usize), (8, false, 3136)] {
        let v3 = pv_v3(Endian::Little, width, 0);
        let v4 = conv(&v3, 4).unwrap();
        let blob = &blobs(&v4)[0];
        let items = dc::verify(blob, Endian::Little).unwrap();
        let DcEntry::SharedInfo(s) = items[1].entry else {
            panic!()
        };
        assert_eq!(s.compat(), compat);
        assert_eq!(s.buffer.len(), size);
        assert!(conv(&v4, 3).unwrap() == v3, "the stream changed");
    }
}

/// A v4 stream in the spec's order with a blob as Xen's series writes it
/// converts to v3 and back to the same octets.
#[test]
fn v4_written_by_the_writer_round_trips() {
    for endian in [Endian::Little, Endian::Big] {
        let tsc_body = dc::tsc_from_record(&tsc(0));
        let si = shared_page(3136, 9);
        let mut blob = Vec::new();
        dc::write(
            &[
                DcEntry::Header(DcHeader::new(4, 17)),
                DcEntry::SharedInfo(SharedInfoRef {
                    flags: 0,
                    buffer: &si[..3136],
                }),
                DcEntry::TscInfo(tsc_body),
                DcEntry::End,
            ],
            endian,
            &mut blob,
        )
        .unwrap();
        assert_eq!(blob.len(), 3216);
        let opts = WriterOptions::new(DomainType::X86Hvm)
            .endian(endian)
            .xen_version(4, 17);
        let mut w = StreamWriter::new(Vec::new(), opts).unwrap();
        w.write(&L::StaticDataEnd).unwrap();
        write_memory(&mut w, 0);
        w.write(&L::DomainContext(Opaque(blob))).unwrap();
        w.write(&hvm_params()).unwrap();
        w.write(&L::HvmContext(Opaque(hvm_ctx(endian, 1, 0))))
            .unwrap();
        let v4 = w.finish().unwrap();

        let v3 = conv(&v4, 3).unwrap();
        // Xen's v3 order: TSC_INFO, SHARED_INFO, HVM_CONTEXT, HVM_PARAMS.
        assert_eq!(
            codes(&v3),
            [
                L::STATIC_DATA_END,
                L::PAGE_DATA,
                L::X86_TSC_INFO,
                L::SHARED_INFO,
                L::HVM_CONTEXT,
                L::HVM_PARAMS,
                L::END
            ]
        );
        let rep = verify(&v3[..], VerifyOptions::strict()).unwrap();
        assert_eq!(rep.image_header.version, 3);
        assert!(conv(&v3, 4).unwrap() == v4, "the stream changed");
    }
}

fn err(input: &[u8], opts: ConvertOptions) -> ConvertError {
    let mut out = Vec::new();
    convert(input, &mut out, opts).unwrap_err()
}

/// Offset of the first record of type `code` in a bare stream.
fn offset_of(bytes: &[u8], code: u32, nth: usize) -> (u64, u32) {
    let mut r = StreamReader::new(bytes).unwrap();
    let mut n = 0;
    while let Some(info) = r.next_header().unwrap() {
        if info.rtype == code {
            if n == nth {
                return (info.offset, info.length);
            }
            n += 1;
        }
    }
    panic!("no record 0x{code:x}")
}

#[test]
fn wrong_versions_and_targets_are_typed_errors() {
    let v3 = hvm_v3(Endian::Little, 0);
    let e = err(&v3, ConvertOptions::to(3));
    assert_eq!(e.kind(), "WrongVersion");
    assert_eq!(e.offset(), 12, "{e}");
    let e = err(&v3, ConvertOptions::to(5));
    assert_eq!(e.kind(), "BadTarget");
    // The versions are listed from TARGET_VERSIONS.
    assert_eq!(
        e.to_string(),
        "cannot convert to version 5: only versions 2, 3 and 4 are written"
    );

    let opts = WriterOptions::new(DomainType::X86Hvm).version(2);
    let mut w = StreamWriter::new(Vec::new(), opts).unwrap();
    write_memory(&mut w, 0);
    let v2 = w.finish().unwrap();
    // Version 2 is taken by both targets (tests/convert_v2.rs).
    for to in [3, 4] {
        let out = conv(&v2, to).unwrap();
        assert_eq!(verify_clean(&out).image_header.version, to);
    }
    let e = err(&v2, ConvertOptions::to(2));
    assert_eq!(e.kind(), "WrongVersion", "{e}");

    // Not a stream at all.
    let e = err(b"hello, world, not a stream", ConvertOptions::to(4));
    assert_eq!(e.kind(), "UnknownFormat", "{e}");
}

#[test]
fn v4_without_domain_context_is_refused() {
    let v4 = conv(&hvm_v3(Endian::Little, 0), 4).unwrap();
    let (off, len) = offset_of(&v4, L::DOMAIN_CONTEXT, 0);
    let mut cut = v4[..off as usize].to_vec();
    let rec_end = off as usize + 8 + (len as usize).div_ceil(8) * 8;
    cut.extend_from_slice(&v4[rec_end..]);
    let (end_at, _) = offset_of(&cut, L::END, 0);
    let e = err(&cut, ConvertOptions::to(3));
    assert_eq!(e.kind(), "MissingDomainContext", "{e}");
    assert_eq!(e.offset(), end_at);
}

#[test]
fn deprecated_records_in_v4_are_refused() {
    let mut blob = Vec::new();
    dc::write(
        &[DcEntry::Header(DcHeader::new(4, 17)), DcEntry::End],
        Endian::Little,
        &mut blob,
    )
    .unwrap();
    let mut w = StreamWriter::new(
        Vec::new(),
        WriterOptions::new(DomainType::X86Hvm).xen_version(4, 17),
    )
    .unwrap();
    w.write(&L::StaticDataEnd).unwrap();
    write_memory(&mut w, 0);
    let tsc_info = w.write(&L::X86TscInfo(tsc(0))).unwrap();
    w.write(&L::DomainContext(Opaque(blob))).unwrap();
    let v4 = w.finish().unwrap();
    let e = err(&v4, ConvertOptions::to(3));
    assert_eq!(e.kind(), "DeprecatedInV4", "{e}");
    let v_dc = format_spec::libxc::DOMAIN_CONTEXT_SINCE;
    assert!(
        e.to_string()
            .contains(&format!("in a version {v_dc} stream")),
        "{e}"
    );
    assert_eq!(e.offset(), tsc_info.offset);
}

/// A v4 HVM stream around one blob.
fn hvm_v4_with_blob(blob: Vec<u8>) -> (Vec<u8>, u64) {
    let mut w = StreamWriter::new(
        Vec::new(),
        WriterOptions::new(DomainType::X86Hvm).xen_version(4, 17),
    )
    .unwrap();
    w.write(&L::StaticDataEnd).unwrap();
    write_memory(&mut w, 0);
    let info = w.write(&L::DomainContext(Opaque(blob))).unwrap();
    (w.finish().unwrap(), info.body_offset())
}

#[test]
fn bad_blobs_are_refused_with_the_offset_of_the_octets() {
    let mut blob = Vec::new();
    dc::write(
        &[DcEntry::Header(DcHeader::new(4, 17)), DcEntry::End],
        Endian::Little,
        &mut blob,
    )
    .unwrap();
    blob[8] ^= 0xff; // the HEADER magic
    let (v4, body) = hvm_v4_with_blob(blob);
    let e = err(&v4, ConvertOptions::to(3));
    assert_eq!(e.kind(), "Blob", "{e}");
    assert_eq!(e.offset(), body + 8);
    assert!(e.to_string().contains("magic"), "{e}");
}

#[test]
fn blob_losses_need_the_lossy_option() {
    // TSC_INFO tail octets the record cannot carry.
    let mut t = dc::tsc_from_record(&tsc(0));
    t._pad = 0xdead;
    let mut blob = Vec::new();
    dc::write(
        &[
            DcEntry::Header(DcHeader::new(4, 17)),
            DcEntry::TscInfo(t),
            DcEntry::End,
        ],
        Endian::Little,
        &mut blob,
    )
    .unwrap();
    let (v4, body) = hvm_v4_with_blob(blob);
    let e = err(&v4, ConvertOptions::to(3));
    assert_eq!(e.kind(), "Lossy", "{e}");
    assert_eq!(e.offset(), body - 8);
    let ConvertError::Lossy(loss) = e else {
        panic!()
    };
    assert_eq!(loss.kind, LossKind::TscPad { value: 0xdead });

    let mut out = Vec::new();
    let rep = convert(&v4[..], &mut out, ConvertOptions::to(3).lossy(true)).unwrap();
    assert_eq!(rep.losses.len(), 1);
    assert_eq!(rep.losses[0].kind, LossKind::TscPad { value: 0xdead });
    verify(&out[..], VerifyOptions::strict()).unwrap();
    assert!(codes(&out).contains(&L::X86_TSC_INFO));

    // A compat flag on an HVM guest, which v3 cannot express; and a Xen
    // version that differs from the domain header's.
    let si = vec![1u8; 2344];
    let mut blob = Vec::new();
    dc::write(
        &[
            DcEntry::Header(DcHeader::new(4, 18)),
            DcEntry::SharedInfo(SharedInfoRef {
                flags: dc::DC_SHARED_INFO_COMPAT,
                buffer: &si,
            }),
            DcEntry::End,
        ],
        Endian::Little,
        &mut blob,
    )
    .unwrap();
    let (v4, _) = hvm_v4_with_blob(blob);
    let e = err(&v4, ConvertOptions::to(3));
    let ConvertError::Lossy(loss) = e else {
        panic!("{e}")
    };
    assert_eq!(
        loss.kind,
        LossKind::XenVersion {
            header: (4, 17),
            blob: (4, 18)
        }
    );
    let mut out = Vec::new();
    let rep = convert(&v4[..], &mut out, ConvertOptions::to(3).lossy(true)).unwrap();
    let kinds: Vec<_> = rep.losses.iter().map(|l| l.kind).collect();
    assert_eq!(kinds.len(), 2, "{kinds:?}");
    assert_eq!(
        kinds[1],
        LossKind::CompatFlag {
            blob: true,
            implied: false
        }
    );
    let v_no_dc = format_spec::libxc::DOMAIN_CONTEXT_SINCE - 1;
    assert!(kinds[1]
        .to_string()
        .contains(&format!("the version {v_no_dc} stream implies")));
}

/// A SHARED_INFO page with junk past the shared info size.
#[test]
fn shared_info_tail_is_a_loss() {
    let v3 = pv_v3(Endian::Big, 8, 0);
    let (si_at, _) = offset_of(&v3, L::SHARED_INFO, 0);
    let mut bad = v3.clone();
    let junk = si_at as usize + 8 + 4000;
    bad[junk] = 0x77;
    let e = err(&bad, ConvertOptions::to(4));
    assert_eq!(e.kind(), "Lossy", "{e}");
    assert_eq!(e.offset(), junk as u64);
    let ConvertError::Lossy(loss) = &e else {
        panic!()
    };
    assert_eq!(
        loss.kind,
        LossKind::SharedInfoTail {
            page_offset: 4000,
            kept: 3136
        }
    );

    let mut v4 = Vec::new();
    let rep = convert(&bad[..], &mut v4, ConvertOptions::to(4).lossy(true)).unwrap();
    assert_eq!(rep.losses.len(), 1);
    verify_clean(&v4);
    // Back to v3: the junk octet is gone, everything else is as before.
    assert!(conv(&v4, 3).unwrap() == v3, "the stream changed");
}

/// Hand-built v3 PV stream with the records in a given order after memory.
fn pv_v3_with_tail(tail: &[L]) -> Vec<u8> {
    let opts = WriterOptions::new(DomainType::X86Pv).version(3);
    let mut w = StreamWriter::new(Vec::new(), opts).unwrap();
    w.write(&L::X86PvInfo(X86PvInfo {
        guest_width: 8,
        pt_levels: 4,
        _res: [0; 6],
    }))
    .unwrap();
    w.write(&L::StaticDataEnd).unwrap();
    w.write(&L::X86PvP2mFrames(X86PvP2mFrames {
        start_pfn: 0,
        end_pfn: 511,
        p2m_pfns: vec![1],
    }))
    .unwrap();
    write_memory(&mut w, 0);
    for r in tail {
        w.write(r).unwrap();
    }
    w.finish().unwrap()
}

fn vcpu() -> L {
    L::X86PvVcpuBasic(X86PvVcpu {
        vcpu_id: 0,
        _res1: 0,
        context: vec![5; pv_vcpu_basic_size(8).unwrap()],
    })
}

#[test]
fn unfoldable_and_duplicate_records_are_refused() {
    let si = L::SharedInfo(Opaque(shared_page(3136, 0)));
    let late = pv_v3_with_tail(&[vcpu(), si.clone()]);
    let (si_at, _) = offset_of(&late, L::SHARED_INFO, 0);
    let e = err(&late, ConvertOptions::to(4));
    assert_eq!(e.kind(), "Unfoldable", "{e}");
    assert_eq!(e.offset(), si_at);
    assert!(e.to_string().contains("X86_PV_VCPU_BASIC"), "{e}");

    let twice = pv_v3_with_tail(&[L::X86TscInfo(tsc(0)), L::X86TscInfo(tsc(1)), vcpu()]);
    let (second, _) = offset_of(&twice, L::X86_TSC_INFO, 1);
    let e = err(&twice, ConvertOptions::to(4));
    assert_eq!(e.kind(), "Duplicate", "{e}");
    assert_eq!(e.offset(), second);

    // Neither record: the segment still gets a (HEADER, END) blob, and the
    // stream comes back unchanged.
    let none = pv_v3_with_tail(&[vcpu()]);
    let v4 = conv(&none, 4).unwrap();
    verify_clean(&v4);
    let b = blobs(&v4);
    assert_eq!(dc::verify(&b[0], Endian::Little).unwrap().len(), 2);
    assert!(conv(&v4, 3).unwrap() == none, "the stream changed");

    // Deprecated records before other records are still folded, and the
    // other records keep their order.
    let spread = pv_v3_with_tail(&[si, L::Verify, L::X86TscInfo(tsc(0)), vcpu()]);
    let v4 = conv(&spread, 4).unwrap();
    verify_clean(&v4);
    let c = codes(&v4);
    let tail = &c[c.len() - 4..];
    assert_eq!(
        tail,
        [L::VERIFY, L::DOMAIN_CONTEXT, L::X86_PV_VCPU_BASIC, L::END]
    );
}

#[test]
fn truncated_input_is_a_stream_error_with_its_offset() {
    let v3 = pv_v3(Endian::Little, 8, 1);
    let cut = &v3[..v3.len() - 100];
    let e = err(cut, ConvertOptions::to(4));
    assert_eq!(e.kind(), "Truncated", "{e}");
    assert_eq!(e.offset(), cut.len() as u64);
}

/// A scratch file in the temporary directory, removed when dropped (also
/// when the test fails).
struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn tmp(name: &str) -> Scratch {
    let name = format!("convert-test-{}-{name}", std::process::id());
    Scratch(std::env::temp_dir().join(name))
}

/// Input from a `cat` child's stdout, output into another `cat` child's
/// stdin that writes a file.
fn convert_through_pipes(input: &Path, output: &Path, to: u32) {
    let mut src = Command::new("cat")
        .arg(input)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn cat");
    let mut sink = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(File::create(output).unwrap())
        .spawn()
        .expect("spawn cat");
    {
        let from = src.stdout.take().unwrap();
        let to_pipe = sink.stdin.take().unwrap();
        convert(from, to_pipe, ConvertOptions::to(to)).unwrap();
    }
    assert!(src.wait().unwrap().success());
    assert!(sink.wait().unwrap().success());
}

#[test]
fn conversion_through_real_pipes() {
    let v3 = hvm_v3(Endian::Big, 1);
    let a = tmp("pipe-v3");
    let b = tmp("pipe-v4");
    let c = tmp("pipe-back");
    std::fs::write(&a, &v3).unwrap();
    convert_through_pipes(&a, &b, 4);
    let v4 = std::fs::read(&b).unwrap();
    verify_clean(&v4);
    assert_eq!(v4, conv(&v3, 4).unwrap());
    convert_through_pipes(&b, &c, 3);
    assert!(std::fs::read(&c).unwrap() == v3, "the stream changed");
}

/// Verifies a whole save file strictly (outer layers and the libxc
/// stream); returns the libxc report.
fn verify_save_file(path: &Path) -> format_spec::stream::Report {
    let input = BufReader::with_capacity(1 << 20, File::open(path).unwrap());
    let mut outer = OuterReader::open(input, FormatChoice::Auto, OuterMode::Strict).unwrap();
    let mut report = None;
    while let Some(ev) = outer.next().unwrap() {
        if let OuterEvent::Libxc(h) = ev {
            let o = VerifyOptions {
                bare: false,
                base_offset: h.offset,
                ..VerifyOptions::strict()
            };
            let mut r = StreamReader::with_options(outer.inner(), o.reader_options()).unwrap();
            let mut v = Verifier::new(&r, o);
            v.run(&mut r).unwrap();
            report = Some(v.into_report());
            outer.libxc_finished(LibxcStop::End).unwrap();
        }
    }
    report.expect("a libxc stream")
}

/// Walks the PAGE_DATA records of the libxc streams of two save files in
/// step and asserts identical pfns and contents; returns the page count.
fn same_page_data(a: &Path, b: &Path) -> u64 {
    fn open(p: &Path) -> StreamReader<BufReader<File>> {
        let mut f = BufReader::with_capacity(1 << 20, File::open(p).unwrap());
        let mut head = vec![0u8; 64 << 10];
        let n = f.get_mut().read(&mut head).unwrap();
        let mut needle = vec![0xffu8; 8];
        needle.extend_from_slice(b"XENF");
        let at = head[..n].windows(12).position(|w| w == needle).unwrap();
        let mut f = File::open(p).unwrap();
        std::io::copy(&mut (&mut f).take(at as u64), &mut std::io::sink()).unwrap();
        StreamReader::with_options(
            BufReader::with_capacity(1 << 20, f),
            ReaderOptions {
                mode: Mode::Strict,
                base_offset: at as u64,
            },
        )
        .unwrap()
    }
    let mut ra = open(a);
    let mut rb = open(b);
    let mut pa = vec![0u8; PAGE_SIZE];
    let mut pb = vec![0u8; PAGE_SIZE];
    let mut pages = 0;
    loop {
        let next_pd = |r: &mut StreamReader<BufReader<File>>| loop {
            match r.next_header().unwrap() {
                Some(i) if i.rtype == L::PAGE_DATA => return true,
                Some(_) => {}
                None => return false,
            }
        };
        let (ha, hb) = (next_pd(&mut ra), next_pd(&mut rb));
        assert_eq!(ha, hb);
        if !ha {
            return pages;
        }
        let mut ba = ra.page_batch().unwrap();
        let mut bb = rb.page_batch().unwrap();
        assert_eq!(ba.pfns(), bb.pfns());
        for _ in 0..ba.data_pages() {
            ba.read_pages(&mut pa).unwrap();
            bb.read_pages(&mut pb).unwrap();
            assert!(pa == pb);
            pages += 1;
        }
    }
}

fn files_equal(a: &Path, b: &Path) -> Option<u64> {
    let mut fa = BufReader::new(File::open(a).unwrap());
    let mut fb = BufReader::new(File::open(b).unwrap());
    let (mut ba, mut bb) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    let mut off = 0u64;
    loop {
        let na = fa.read(&mut ba).unwrap();
        let nb = fb.read_exact(&mut bb[..na]).map(|_| na);
        let Ok(nb) = nb else { return Some(off) };
        if let Some(i) = (0..na).find(|i| ba[*i] != bb[*i]) {
            return Some(off + i as u64);
        }
        if na == 0 {
            // Both must end here.
            return (fb.read(&mut bb[..1]).unwrap() != 0).then_some(off);
        }
        off += nb as u64;
    }
}

fn real_file_round_trip(name: &str, domain: DomainType) {
    let orig = real_stream(name);
    let v4 = tmp(&format!("{name}.v4"));
    let back = tmp(&format!("{name}.v3"));
    let rep = convert(
        BufReader::new(File::open(&orig).unwrap()),
        File::create(&v4).unwrap(),
        ConvertOptions::to(4),
    )
    .unwrap();
    assert_eq!(rep.format, format_spec::outer::Format::Xl);
    assert_eq!((rep.from, rep.to, rep.domain), (3, 4, domain));
    assert!(rep.losses.is_empty());

    let r4 = verify_save_file(&v4);
    assert_eq!(r4.image_header.version, 4);
    assert_eq!(r4.records_by_type[&L::DOMAIN_CONTEXT], 1);
    assert!(!r4.records_by_type.contains_key(&L::SHARED_INFO));
    assert!(!r4.records_by_type.contains_key(&L::X86_TSC_INFO));
    assert!(r4.warnings.is_empty(), "{:?}", r4.warnings);
    // The shadow verifier saw exactly what the file holds.
    assert_eq!(rep.output, r4);
    assert_eq!(same_page_data(&orig, &v4), rep.data_pages);

    // The blob: HEADER with Xen 4.17, SHARED_INFO (PV only, 64-bit), TSC.
    let bytes = std::fs::read(&v4).unwrap();
    let start = r4.start_offset as usize;
    let lib = &bytes[start..r4.end_offset as usize];
    let blob = &blobs(lib)[0];
    let items = dc::verify(blob, Endian::Little).unwrap();
    let DcEntry::Header(h) = items[0].entry else {
        panic!()
    };
    assert_eq!((h.xen_major, h.xen_minor), (4, 17));
    let si: Vec<_> = items
        .iter()
        .filter_map(|i| match i.entry {
            DcEntry::SharedInfo(s) => Some(s),
            _ => None,
        })
        .collect();
    match domain {
        DomainType::X86Pv => {
            assert_eq!(si.len(), 1);
            assert!(!si[0].compat());
            assert_eq!(si[0].buffer.len(), 3136);
        }
        DomainType::X86Hvm => assert!(si.is_empty()),
    }
    assert!(items.iter().any(|i| matches!(i.entry, DcEntry::TscInfo(_))));
    // The outer layers are unchanged: same octets before the libxc stream
    // and after it.
    let orig_bytes = std::fs::read(&orig).unwrap();
    assert_eq!(bytes[..start], orig_bytes[..start]);
    let tail = bytes.len() - r4.end_offset as usize;
    assert_eq!(
        bytes[bytes.len() - tail..],
        orig_bytes[orig_bytes.len() - tail..]
    );
    drop(bytes);
    drop(orig_bytes);

    let rep3 = convert(
        BufReader::new(File::open(&v4).unwrap()),
        File::create(&back).unwrap(),
        ConvertOptions::to(3),
    )
    .unwrap();
    assert!(rep3.losses.is_empty());
    let r3 = verify_save_file(&back);
    assert_eq!(r3.image_header.version, 3);
    assert_eq!(rep3.output, r3);
    // Xen 4.17 wrote these in the order the conversion writes: they come
    // back octet for octet.
    assert_eq!(files_equal(&orig, &back), None, "{name} differs");
}

#[test]
fn real_pv_file_to_v4_and_back() {
    real_file_round_trip("pv64-1vcpu-96M.xl", DomainType::X86Pv);
}

#[test]
fn real_hvm_file_to_v4_and_back() {
    real_file_round_trip("hvm-1vcpu-128M.xl", DomainType::X86Hvm);
}

#[test]
fn real_hvm_file_from_a_pipe() {
    let orig = real_stream("hvm-1vcpu-128M.xl");
    let out = tmp("hvm-pipe.v4");
    convert_through_pipes(&orig, &out, 4);
    let r = verify_save_file(&out);
    assert_eq!(r.image_header.version, 4);
    assert_eq!(r.records_by_type[&L::DOMAIN_CONTEXT], 1);
}

/// An HVM v3 stream with two HVM_PARAMS after HVM_CONTEXT: version 3 only
/// warns, version 4 refuses, and the conversion refuses to write it.
#[test]
fn rules_broken_by_the_input_are_caught_on_the_output() {
    let opts = WriterOptions::new(DomainType::X86Hvm).version(3);
    let mut w = StreamWriter::new(Vec::new(), opts).unwrap();
    w.write(&L::StaticDataEnd).unwrap();
    write_memory(&mut w, 0);
    w.write(&L::HvmContext(Opaque(hvm_ctx(Endian::Little, 1, 0))))
        .unwrap();
    w.write(&hvm_params()).unwrap();
    let second = w.write(&hvm_params()).unwrap();
    let v3 = w.finish().unwrap();
    assert!(!verify(&v3[..], VerifyOptions::strict())
        .unwrap()
        .warnings
        .is_empty());
    let e = err(&v3, ConvertOptions::to(4));
    assert_eq!(e.kind(), "InvalidOutput", "{e}");
    assert_eq!(e.offset(), second.offset);
    let ConvertError::InvalidOutput { source, .. } = e else {
        panic!()
    };
    assert_eq!(source.kind().as_str(), "OutOfOrder");

    // Lenient mode does not enforce the order rules.
    let mut out = Vec::new();
    let rep = convert(&v3[..], &mut out, ConvertOptions::to(4).mode(Mode::Lenient)).unwrap();
    assert!(rep.output.complete);
    assert!(verify(&out[..], VerifyOptions::strict()).is_err());
}

#[test]
fn the_report_counts_and_carries_the_output_verdict() {
    let v3 = pv_v3(Endian::Little, 8, 2);
    let mut v4 = Vec::new();
    let rep = convert(&v3[..], &mut v4, ConvertOptions::to(4)).unwrap();
    let direct = verify_clean(&v4);
    assert_eq!(rep.output, direct);
    assert_eq!(rep.format, format_spec::outer::Format::Libxc);
    assert_eq!(rep.bytes_in, v3.len() as u64);
    assert_eq!(rep.bytes_out, v4.len() as u64);
    assert_eq!(rep.segments, 3);
    assert_eq!(rep.data_pages, 6);
    assert_eq!(rep.records_out, direct.records);
    // Each segment: TSC_INFO and SHARED_INFO in, one DOMAIN_CONTEXT out.
    assert_eq!(rep.records_in, rep.records_out + 3);
}

/// An xl save file around a checkpointed libxc stream: after each libxc
/// CHECKPOINT come libxl EMULATOR_CONTEXT, CHECKPOINT_STATE and
/// CHECKPOINT_END, then the next part of the libxc stream.
fn checkpointed_xl(endian: Endian, checkpoints: u32, xl: bool) -> Vec<u8> {
    use format_spec::libxl::{CheckpointStateId, EmulatorId};
    use format_spec::outer::OuterWriter;
    use format_spec::xl::XlPreamble;
    let (libxc, splits) = hvm_v3_split(endian, checkpoints);
    let pre = XlPreamble::with_json_config(endian, "{\"name\": \"cp\"}");
    let mut w = if xl {
        OuterWriter::xl(Vec::new(), &pre).unwrap()
    } else {
        OuterWriter::libxl(Vec::new(), endian).unwrap()
    };
    let mut from = 0;
    w.libxc_context().unwrap();
    for (i, at) in splits.iter().enumerate() {
        w.inner().extend_from_slice(&libxc[from..*at]);
        from = *at;
        w.emulator_context(EmulatorId::QemuUpstream, 0, &[i as u8; 13])
            .unwrap();
        // Xen's COLO layout: CHECKPOINT_END, then CHECKPOINT_STATE.
        w.checkpoint_end().unwrap();
        w.checkpoint_state(CheckpointStateId::New).unwrap();
    }
    w.inner().extend_from_slice(&libxc[from..]);
    w.finish().unwrap()
}

/// Reads a libxc stream nested in a save file through the outer reader.
struct Nested<R>(OuterReader<R>);

impl<R: Read> Read for Nested<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.inner().read(buf)
    }
}

/// Verifies a (possibly checkpointed) save file strictly, libxc and outer
/// layers; returns the libxc report and the libxl records seen.
fn verify_checkpointed(
    file: &[u8],
) -> (
    format_spec::stream::Report,
    Vec<format_spec::libxl::LibxlRecord>,
) {
    let mut outer = OuterReader::open(file, FormatChoice::Auto, OuterMode::Strict).unwrap();
    let mut records = Vec::new();
    let h = loop {
        match outer.next().unwrap().unwrap() {
            OuterEvent::Libxc(h) => break h,
            OuterEvent::Record(r) => records.push(r.record),
            e => panic!("{e:?}"),
        }
    };
    let o = VerifyOptions {
        bare: false,
        base_offset: h.offset,
        ..VerifyOptions::strict()
    };
    let mut r = StreamReader::with_options(Nested(outer), o.reader_options()).unwrap();
    let mut v = Verifier::new(&r, o);
    loop {
        let info = v.step(&mut r).unwrap().unwrap();
        if info.rtype == L::CHECKPOINT || info.rtype == L::END {
            let outer = &mut r.get_mut().0;
            let stop = if info.rtype == L::END {
                LibxcStop::End
            } else {
                LibxcStop::Checkpoint
            };
            outer.libxc_finished(stop).unwrap();
            while let Some(ev) = outer.next().unwrap() {
                match ev {
                    OuterEvent::Libxc(_) => break,
                    OuterEvent::Record(rec) => records.push(rec.record),
                    OuterEvent::End(Some(rec)) => records.push(rec.record),
                    e => panic!("{e:?}"),
                }
            }
            if info.rtype == L::END {
                return (v.into_report(), records);
            }
        }
    }
}

#[test]
fn checkpointed_save_file_keeps_its_libxl_records() {
    for (endian, xl) in [
        (Endian::Little, true),
        (Endian::Big, true),
        (Endian::Little, false),
        (Endian::Big, false),
    ] {
        let v3 = checkpointed_xl(endian, 2, xl);
        let (r3, outer3) = verify_checkpointed(&v3);
        assert_eq!(r3.segments, 3);
        let mut v4 = Vec::new();
        let rep = convert(&v3[..], &mut v4, ConvertOptions::to(4)).unwrap();
        let format = if xl {
            format_spec::outer::Format::Xl
        } else {
            format_spec::outer::Format::Libxl
        };
        assert_eq!(rep.format, format);
        let (r4, outer4) = verify_checkpointed(&v4);
        assert!(r4.warnings.is_empty(), "{:?}", r4.warnings);
        assert_eq!(rep.output, r4);
        assert_eq!(r4.records_by_type[&L::DOMAIN_CONTEXT], 3);
        assert!(!r4.records_by_type.contains_key(&L::X86_TSC_INFO));
        // Per checkpoint EMULATOR_CONTEXT and CHECKPOINT_STATE (LIBXC_CONTEXT
        // and CHECKPOINT_END come as handovers), then the libxl END.
        assert_eq!(outer4.len(), 2 * 2 + 1, "{outer3:?} / {outer4:?}");
        assert_eq!(outer3, outer4);
        // The xl header (if any) and libxl header are the same octets.
        let start = r4.start_offset as usize;
        assert_eq!(v4[..start], v3[..start]);
        assert!(conv(&v4, 3).unwrap() == v3, "the stream changed");
    }
}

/// Non-zero padding: refused when read strictly, zeroed when read
/// leniently (and the result verifies strictly).
#[test]
fn lenient_input_gets_zero_padding() {
    let opts = WriterOptions::new(DomainType::X86Hvm).version(3);
    let mut w = StreamWriter::new(Vec::new(), opts).unwrap();
    w.write(&L::StaticDataEnd).unwrap();
    write_memory(&mut w, 0);
    w.write(&L::X86TscInfo(tsc(0))).unwrap();
    // 40 octets of HEADER and END plus an 8 + 605-octet entry: 653, padded.
    let blob = hvm_ctx(Endian::Little, 4, 605);
    assert_ne!(blob.len() % 8, 0);
    let ctx = w.write(&L::HvmContext(Opaque(blob.clone()))).unwrap();
    w.write(&hvm_params()).unwrap();
    let v3 = w.finish().unwrap();
    let pad_at = ctx.body_offset() as usize + blob.len();
    let mut bad = v3.clone();
    bad[pad_at] = 0xee;
    let e = err(&bad, ConvertOptions::to(4));
    assert_eq!(e.kind(), "PaddingNonZero", "{e}");
    assert_eq!(e.offset(), pad_at as u64);

    let mut v4 = Vec::new();
    convert(&bad[..], &mut v4, ConvertOptions::to(4).mode(Mode::Lenient)).unwrap();
    verify_clean(&v4);
    assert!(conv(&v4, 3).unwrap() == v3);
}

/// Unknown optional records are copied as they are, in place.
#[test]
fn unknown_optional_records_pass_through() {
    let opts = WriterOptions::new(DomainType::X86Hvm).version(3);
    let mut w = StreamWriter::new(Vec::new(), opts).unwrap();
    w.write(&L::StaticDataEnd).unwrap();
    w.write_optional(0x8000_0123, b"optional body").unwrap();
    write_memory(&mut w, 0);
    w.write(&L::X86TscInfo(tsc(0))).unwrap();
    w.write(&L::HvmContext(Opaque(hvm_ctx(Endian::Little, 2, 0))))
        .unwrap();
    w.write_optional(0x8000_0456, &[]).unwrap();
    w.write(&hvm_params()).unwrap();
    let v3 = w.finish().unwrap();
    let mut v4 = Vec::new();
    let rep = convert(&v3[..], &mut v4, ConvertOptions::to(4)).unwrap();
    assert_eq!(rep.output.unknown_optional, 2);
    assert_eq!(
        codes(&v4),
        [
            L::STATIC_DATA_END,
            0x8000_0123,
            L::PAGE_DATA,
            0x8000_0456,
            L::DOMAIN_CONTEXT,
            L::HVM_PARAMS,
            L::HVM_CONTEXT,
            L::END
        ]
    );
    verify(&v4[..], VerifyOptions::strict()).unwrap();
    // The optional record between HVM_CONTEXT and HVM_PARAMS moved ahead of
    // both, so this input is not in the canonical order: what comes back
    // is the canonical form, which is stable from then on.
    let back = conv(&v4, 3).unwrap();
    assert!(back != v3);
    assert_eq!(
        codes(&back)[3..],
        [
            0x8000_0456,
            L::X86_TSC_INFO,
            L::HVM_CONTEXT,
            L::HVM_PARAMS,
            L::END
        ]
    );
    assert!(conv(&conv(&back, 4).unwrap(), 3).unwrap() == back);
}

/// A held HVM_PARAMS with no HVM_CONTEXT after it goes out before END.
#[test]
fn held_record_without_partner_goes_out_before_end() {
    let mut blob = Vec::new();
    dc::write(
        &[DcEntry::Header(DcHeader::new(4, 17)), DcEntry::End],
        Endian::Big,
        &mut blob,
    )
    .unwrap();
    let opts = WriterOptions::new(DomainType::X86Hvm)
        .endian(Endian::Big)
        .xen_version(4, 17);
    let mut w = StreamWriter::new(Vec::new(), opts).unwrap();
    w.write(&L::StaticDataEnd).unwrap();
    write_memory(&mut w, 0);
    w.write(&L::DomainContext(Opaque(blob))).unwrap();
    w.write(&hvm_params()).unwrap();
    w.write(&L::Verify).unwrap();
    let v4 = w.finish().unwrap();
    let v3 = conv(&v4, 3).unwrap();
    assert_eq!(
        codes(&v3),
        [
            L::STATIC_DATA_END,
            L::PAGE_DATA,
            L::VERIFY,
            L::HVM_PARAMS,
            L::END
        ]
    );
    verify_clean(&v3);
    let again = conv(&v3, 4).unwrap();
    verify_clean(&again);
    assert_eq!(
        codes(&again),
        [
            L::STATIC_DATA_END,
            L::PAGE_DATA,
            L::VERIFY,
            L::DOMAIN_CONTEXT,
            L::HVM_PARAMS,
            L::END
        ]
    );
}

mod property {
    use super::*;
    use proptest::prelude::*;

    /// What one segment holds besides its memory.
    #[derive(Debug, Clone)]
    struct Seg {
        pages: usize,
        tsc: bool,
        shared: bool,
        /// HVM: HVM_PARAMS present (HVM_CONTEXT always is).
        params: bool,
    }

    fn build(pv: bool, big: bool, width: u8, segs: &[Seg], optional: bool) -> Vec<u8> {
        let domain = if pv {
            DomainType::X86Pv
        } else {
            DomainType::X86Hvm
        };
        let endian = if big { Endian::Big } else { Endian::Little };
        let opts = WriterOptions::new(domain)
            .version(3)
            .endian(endian)
            .xen_version(4, 19);
        let mut w = StreamWriter::new(Vec::new(), opts).unwrap();
        if pv {
            w.write(&L::X86PvInfo(X86PvInfo {
                guest_width: width,
                pt_levels: if width == 4 { 3 } else { 4 },
                _res: [0; 6],
            }))
            .unwrap();
        }
        w.write(&L::StaticDataEnd).unwrap();
        if optional {
            w.write_optional(0x8000_0777, &[9; 5]).unwrap();
        }
        if pv {
            w.write(&L::X86PvP2mFrames(X86PvP2mFrames {
                start_pfn: 0,
                end_pfn: 511,
                p2m_pfns: vec![3],
            }))
            .unwrap();
        }
        let size = if pv {
            dc::shared_info_size(width == 4)
        } else {
            3136
        };
        for (i, s) in segs.iter().enumerate() {
            let pfns: Vec<u64> = (0..s.pages as u64).map(|p| p + 100 * i as u64).collect();
            w.write_page_data(&pfns, &pages(s.pages, i as u8)).unwrap();
            if s.tsc {
                w.write(&L::X86TscInfo(tsc(i as u32))).unwrap();
            }
            if s.shared {
                w.write(&L::SharedInfo(Opaque(shared_page(size, i as u8))))
                    .unwrap();
            }
            if pv {
                w.write(&L::X86PvVcpuBasic(X86PvVcpu {
                    vcpu_id: 0,
                    _res1: 0,
                    context: vec![5; pv_vcpu_basic_size(width).unwrap()],
                }))
                .unwrap();
            } else {
                w.write(&L::HvmContext(Opaque(hvm_ctx(endian, i as u32, 600 + i))))
                    .unwrap();
                if s.params {
                    w.write(&hvm_params()).unwrap();
                }
            }
            if i + 1 < segs.len() {
                w.checkpoint().unwrap();
            }
        }
        w.finish().unwrap()
    }

    fn seg() -> impl Strategy<Value = Seg> {
        (1usize..4, any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
            |(pages, tsc, shared, params)| Seg {
                pages,
                tsc,
                shared,
                params,
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Damaged streams (octets changed, the stream cut short) never
        /// panic or hang: they convert, or fail with an error whose offset
        /// lies within the input.
        #[test]
        fn damaged_streams_give_errors_not_panics(
            pv in any::<bool>(),
            to4 in any::<bool>(),
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
            cut in any::<prop::sample::Index>(),
            do_cut in any::<bool>(),
        ) {
            let segs = [Seg { pages: 2, tsc: true, shared: pv, params: true }];
            let mut bytes = build(pv, false, 8, &segs, true);
            if !to4 {
                bytes = conv(&bytes, 4).unwrap();
            }
            for (at, x) in &flips {
                let i = at.index(bytes.len());
                bytes[i] ^= x;
            }
            if do_cut {
                bytes.truncate(cut.index(bytes.len()));
            }
            let mut out = Vec::new();
            let to = if to4 { 4 } else { 3 };
            for lossy in [false, true] {
                out.clear();
                if let Err(e) = convert(&bytes[..], &mut out, ConvertOptions::to(to).lossy(lossy)) {
                    prop_assert!(e.offset() <= bytes.len() as u64, "{e}");
                    prop_assert!(!e.to_string().is_empty());
                }
            }
        }

        /// Every canonical v3 stream comes back octet for octet, and its
        /// v4 form verifies strictly with one DOMAIN_CONTEXT per segment.
        #[test]
        fn canonical_v3_round_trips(
            pv in any::<bool>(),
            big in any::<bool>(),
            compat in any::<bool>(),
            optional in any::<bool>(),
            segs in proptest::collection::vec(seg(), 1..4),
        ) {
            let width = if compat { 4 } else { 8 };
            let v3 = build(pv, big, width, &segs, optional);
            let v4 = conv(&v3, 4).unwrap();
            let rep = verify(&v4[..], VerifyOptions::strict()).unwrap();
            let skipped = rep.warnings.iter().filter(|w| {
                matches!(w, format_spec::stream::Warning::SkippedOptional { .. })
            }).count();
            prop_assert_eq!(skipped, rep.warnings.len());
            prop_assert_eq!(rep.records_by_type[&L::DOMAIN_CONTEXT], segs.len() as u64);
            prop_assert!(!rep.records_by_type.contains_key(&L::SHARED_INFO));
            prop_assert!(!rep.records_by_type.contains_key(&L::X86_TSC_INFO));
            let back = conv(&v4, 3).unwrap();
            prop_assert!(back == v3, "v3 -> v4 -> v3 changed the stream");
        }
    }
}

#[test]
fn octets_after_the_end_are_refused_or_left_behind() {
    let v3 = hvm_v3(Endian::Little, 0);
    let mut more = v3.clone();
    more.extend_from_slice(&[0xab; 3]);
    let e = err(&more, ConvertOptions::to(4));
    assert_eq!(e.kind(), "TrailingData", "{e}");
    assert_eq!(e.offset(), v3.len() as u64);

    let mut v4 = Vec::new();
    let rep = convert(
        &more[..],
        &mut v4,
        ConvertOptions::to(4).mode(Mode::Lenient),
    )
    .unwrap();
    assert_eq!(rep.bytes_in, v3.len() as u64);
    assert!(v4 == conv(&v3, 4).unwrap());
}

/// A bare checkpointed stream cut inside a segment, converted leniently:
/// the conversion stops with `FailedOver`, and the output up to
/// `report.bytes_out` is what converting the input cut at the last
/// checkpoint gives, a stream that verifies in both modes. Strictly, the
/// cut is the reader's error.
#[test]
fn a_lenient_conversion_fails_over_to_the_last_checkpoint() {
    let v3 = pv_v3(Endian::Little, 8, 2);
    // Just after each CHECKPOINT record.
    let mut r = StreamReader::with_options(&v3[..], Default::default()).unwrap();
    let mut cps = Vec::new();
    while let Some(info) = r.next_header().unwrap() {
        r.skip_record().unwrap();
        if info.rtype == L::CHECKPOINT {
            cps.push(info.end_offset() as usize);
        }
    }
    assert_eq!(cps.len(), 2);
    let cut = &v3[..cps[1] + 20];
    let opts = ConvertOptions::to(4).mode(Mode::Lenient);
    let mut out = Vec::new();
    let Err(ConvertError::FailedOver { failover, report }) = convert(cut, &mut out, opts) else {
        panic!("no failover");
    };
    assert_eq!(failover.dropped_segment, 2, "{failover}");
    let mut want = Vec::new();
    let boundary = convert(&v3[..cps[1]], &mut want, opts).unwrap();
    out.truncate(report.bytes_out as usize);
    assert_eq!(out, want);
    assert_eq!(report.records_out, boundary.records_out);
    assert_eq!(report.output, boundary.output);
    assert!(report.output.failover.as_ref().unwrap().at_boundary());
    for v in [VerifyOptions::strict(), VerifyOptions::lenient()] {
        verify(&out[..], v).unwrap();
    }
    let e = convert(cut, &mut Vec::new(), ConvertOptions::to(4)).unwrap_err();
    assert_eq!(e.kind(), "Truncated", "{e}");
}
