//! Version 2 and the converter: synthetic v2 PV and HVM streams (both
//! byte orders, checkpointed, bare and inside libxl/xl wrapping)
//! converted to 3 and 4 and back to 2. The v3 output must equal a v3
//! stream written independently with STATIC_DATA_END at the place a v3
//! receiver infers it; the v4 output must equal what the v3 -> v4 path
//! makes of that stream; both verify strictly and keep the page data;
//! `--to 2` gives back the v2 octets and refuses (or drops when lossy)
//! the CPU policy records. Refusals keep their offsets.

use std::io::Write;

use format_spec::binrw::Endian;
use format_spec::body::Opaque;
use format_spec::convert::{convert, ConvertError, ConvertOptions};
use format_spec::domain_context as dc;
use format_spec::hvm_context::{self as hvm, HvmHeader};
use format_spec::libxc::{
    pv_vcpu_basic_size, v2_static_data_end_at, DomainType, HvmParams, HvmParamsEntry,
    LibxcRecord as L, PageType, X86PvInfo, X86PvP2mFrames, X86PvVcpu, X86TscInfo, PAGE_SIZE,
};
use format_spec::outer::OuterWriter;
use format_spec::stream::{verify, Mode, StreamReader, StreamWriter, VerifyOptions, WriterOptions};

const XTAB: u64 = (PageType::Xtab as u64) << 60;

fn tsc(seg: u32) -> X86TscInfo {
    X86TscInfo {
        mode: 1,
        khz: 1_800_000 + seg,
        nsec: 0x0102_0304_0506_0708 + u64::from(seg),
        incarnation: 3 + seg,
        _res1: 0,
    }
}

/// Page contents that differ per segment and per page.
fn pages(n: usize, seed: u8) -> Vec<u8> {
    (0..n * PAGE_SIZE)
        .map(|i| ((i / 5) as u8).wrapping_add(seed.wrapping_mul(17)))
        .collect()
}

/// Segment `seg`'s memory: two pages with data around one XTAB entry.
fn write_memory<W: Write>(w: &mut StreamWriter<W>, seg: u64) {
    let base = seg * 32;
    w.write_page_data(&[base, (base + 1) | XTAB, base + 2], &pages(2, seg as u8))
        .unwrap();
}

/// The writer for a stream of `version`.
fn writer(domain: DomainType, version: u32, endian: Endian) -> StreamWriter<Vec<u8>> {
    let opts = WriterOptions::new(domain)
        .version(version)
        .endian(endian)
        .xen_version(4, 11);
    StreamWriter::new(Vec::new(), opts).unwrap()
}

/// A PV stream the way Xen's saver lays it out: X86_PV_INFO,
/// X86_PV_P2M_FRAMES, then per segment PAGE_DATA, X86_TSC_INFO,
/// SHARED_INFO and the vCPU records. With `sde` (version 3) an explicit
/// STATIC_DATA_END goes right before X86_PV_P2M_FRAMES. Returns the
/// stream and the offsets just after each CHECKPOINT.
fn pv(version: u32, endian: Endian, checkpoints: u32, sde: bool) -> (Vec<u8>, Vec<usize>) {
    let mut w = writer(DomainType::X86Pv, version, endian);
    let mut splits = Vec::new();
    w.write(&L::X86PvInfo(X86PvInfo {
        guest_width: 8,
        pt_levels: 4,
        _res: [0; 6],
    }))
    .unwrap();
    if sde {
        w.write(&L::StaticDataEnd).unwrap();
    }
    w.write(&L::X86PvP2mFrames(X86PvP2mFrames {
        start_pfn: 0,
        end_pfn: 1023,
        p2m_pfns: vec![0x80, 0x81],
    }))
    .unwrap();
    for seg in 0..=checkpoints {
        write_memory(&mut w, u64::from(seg));
        w.write(&L::X86TscInfo(tsc(seg))).unwrap();
        let mut page = vec![0u8; PAGE_SIZE];
        page[..dc::shared_info_size(false)].fill(0x30 + seg as u8);
        w.write(&L::SharedInfo(Opaque(page))).unwrap();
        w.write(&L::X86PvVcpuBasic(X86PvVcpu {
            vcpu_id: 0,
            _res1: 0,
            context: vec![seg as u8 | 0x80; pv_vcpu_basic_size(8).unwrap()],
        }))
        .unwrap();
        if seg < checkpoints {
            splits.push(w.checkpoint().unwrap().end_offset() as usize);
        }
    }
    (w.finish().unwrap(), splits)
}

/// An HVM stream the way Xen's saver lays it out: per segment PAGE_DATA,
/// X86_TSC_INFO, HVM_CONTEXT, HVM_PARAMS; with `sde` an explicit
/// STATIC_DATA_END right before the first PAGE_DATA.
fn hvm(version: u32, endian: Endian, checkpoints: u32, sde: bool) -> (Vec<u8>, Vec<usize>) {
    let mut w = writer(DomainType::X86Hvm, version, endian);
    let mut splits = Vec::new();
    if sde {
        w.write(&L::StaticDataEnd).unwrap();
    }
    for seg in 0..=checkpoints {
        write_memory(&mut w, u64::from(seg));
        w.write(&L::X86TscInfo(tsc(seg))).unwrap();
        let ctx = hvm::write(&HvmHeader::new(0x60 + seg, 1_000_000), &[], endian).unwrap();
        w.write(&L::HvmContext(Opaque(ctx))).unwrap();
        w.write(&L::HvmParams(HvmParams {
            count: 1,
            _res1: 0,
            param: vec![HvmParamsEntry {
                index: 2,
                value: 0x1000 + u64::from(seg),
            }],
        }))
        .unwrap();
        if seg < checkpoints {
            splits.push(w.checkpoint().unwrap().end_offset() as usize);
        }
    }
    (w.finish().unwrap(), splits)
}

fn build(domain: DomainType, version: u32, endian: Endian, cps: u32) -> (Vec<u8>, Vec<usize>) {
    match domain {
        DomainType::X86Pv => pv(version, endian, cps, version >= 3),
        DomainType::X86Hvm => hvm(version, endian, cps, version >= 3),
    }
}

fn conv(input: &[u8], to: u32) -> Result<Vec<u8>, ConvertError> {
    let mut out = Vec::new();
    convert(input, &mut out, ConvertOptions::to(to))?;
    Ok(out)
}

/// Record types of a bare stream, in order.
fn codes(bytes: &[u8]) -> Vec<u32> {
    let mut r = StreamReader::new(bytes).unwrap();
    let mut c = Vec::new();
    while let Some(info) = r.next_header().unwrap() {
        c.push(info.rtype);
    }
    c
}

/// Every PAGE_DATA record's pfn entries and page contents, in order.
fn page_contents(bytes: &[u8]) -> Vec<(Vec<u64>, Vec<u8>)> {
    let mut r = StreamReader::new(bytes).unwrap();
    let mut all = Vec::new();
    while let Some(info) = r.next_header().unwrap() {
        if info.rtype == L::PAGE_DATA {
            let mut batch = r.page_batch().unwrap();
            let pfns = batch.pfns().to_vec();
            let mut data = vec![0u8; batch.data_pages() * PAGE_SIZE];
            batch.read_pages(&mut data).unwrap();
            all.push((pfns, data));
        }
    }
    all
}

fn check(domain: DomainType, endian: Endian, checkpoints: u32) {
    let (v2, _) = build(domain, 2, endian, checkpoints);
    let (want_v3, _) = build(domain, 3, endian, checkpoints);
    // The input is a valid version 2 stream.
    let rep2 = verify(&v2[..], VerifyOptions::strict()).unwrap();
    assert_eq!(rep2.image_header.version, 2);

    let mut v3 = Vec::new();
    let report = convert(&v2[..], &mut v3, ConvertOptions::to(3)).unwrap();
    assert_eq!((report.from, report.to), (2, 3));
    assert_eq!(report.records_out, report.records_in + 1);
    assert_eq!(report.bytes_out, report.bytes_in + 8);
    assert!(v3 == want_v3, "v2 -> v3 differs from the v3 stream");
    let rep3 = verify(&v3[..], VerifyOptions::strict()).unwrap();
    assert_eq!(rep3.image_header.version, 3);
    assert_eq!(rep3.segments, u64::from(checkpoints) + 1);
    assert_eq!(rep3.records_by_type[&L::STATIC_DATA_END], 1);
    assert_eq!(report.output, rep3);

    // STATIC_DATA_END sits right before the first record a v3 receiver
    // infers it at, and everything else keeps its order.
    let c2 = codes(&v2);
    let c3 = codes(&v3);
    let at = c2
        .iter()
        .position(|c| *c == v2_static_data_end_at(domain))
        .unwrap();
    assert_eq!(c3[at], L::STATIC_DATA_END, "{c3:?}");
    let mut without = c3.clone();
    without.remove(at);
    assert_eq!(without, c2);
    assert_eq!(page_contents(&v3), page_contents(&v2));
    let pd = page_contents(&v2);
    assert_eq!(pd.len(), checkpoints as usize + 1);
    assert!(pd.iter().all(|(_, data)| data.len() == 2 * PAGE_SIZE));

    // To 4: the same as converting the v3 stream.
    let v4 = conv(&v2, 4).unwrap();
    let rep4 = verify(&v4[..], VerifyOptions::strict()).unwrap();
    assert!(rep4.warnings.is_empty(), "{:?}", rep4.warnings);
    assert_eq!(rep4.image_header.version, 4);
    assert_eq!(rep4.records_by_type[&L::STATIC_DATA_END], 1);
    assert_eq!(
        rep4.records_by_type[&L::DOMAIN_CONTEXT],
        u64::from(checkpoints) + 1
    );
    assert!(
        v4 == conv(&want_v3, 4).unwrap(),
        "v2 -> v4 differs from v3 -> v4"
    );
    assert_eq!(codes(&v4)[at], L::STATIC_DATA_END);
    assert_eq!(page_contents(&v4), page_contents(&v2));
    // And back down to 3 is the v3 stream, to 2 the v2 stream.
    assert!(conv(&v4, 3).unwrap() == want_v3, "v2 -> v4 -> v3 changed");
    assert!(conv(&v3, 2).unwrap() == v2, "v2 -> v3 -> v2 changed");
    let mut back = Vec::new();
    let report = convert(&v4[..], &mut back, ConvertOptions::to(2)).unwrap();
    assert!(back == v2, "v2 -> v4 -> v2 changed");
    assert_eq!((report.from, report.to), (4, 2));
    assert!(report.losses.is_empty());
    assert_eq!(report.output.image_header.version, 2);
}

#[test]
fn v2_pv_to_3_and_4_both_orders_checkpointed() {
    for endian in [Endian::Little, Endian::Big] {
        for cps in [0, 2] {
            check(DomainType::X86Pv, endian, cps);
        }
    }
}

#[test]
fn v2_hvm_to_3_and_4_both_orders_checkpointed() {
    for endian in [Endian::Little, Endian::Big] {
        for cps in [0, 2] {
            check(DomainType::X86Hvm, endian, cps);
        }
    }
}

/// A libxl (or xl) file around a checkpointed libxc stream, with libxl
/// records after each checkpoint.
/// Emulator records only for an HVM guest: libxl refuses them for a PV one.
fn wrap(libxc: &[u8], splits: &[usize], endian: Endian, xl: bool, domain: DomainType) -> Vec<u8> {
    use format_spec::libxl::{CheckpointStateId, EmulatorId};
    use format_spec::xl::XlPreamble;
    let pre = XlPreamble::with_json_config(endian, "{\"name\": \"v2\"}");
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
        if domain == DomainType::X86Hvm {
            w.emulator_context(EmulatorId::QemuUpstream, 0, &[i as u8; 5])
                .unwrap();
        }
        // Xen's COLO layout: CHECKPOINT_END, then CHECKPOINT_STATE.
        w.checkpoint_end().unwrap();
        w.checkpoint_state(CheckpointStateId::New).unwrap();
    }
    w.inner().extend_from_slice(&libxc[from..]);
    w.finish().unwrap()
}

#[test]
fn wrapped_checkpointed_v2_keeps_its_outer_layers() {
    for (endian, xl) in [(Endian::Little, true), (Endian::Big, false)] {
        for domain in [DomainType::X86Hvm, DomainType::X86Pv] {
            let (v2, s2) = build(domain, 2, endian, 2);
            let (v3, s3) = build(domain, 3, endian, 2);
            let file2 = wrap(&v2, &s2, endian, xl, domain);
            let file3 = wrap(&v3, &s3, endian, xl, domain);
            let out = conv(&file2, 3).unwrap();
            assert!(
                out == file3,
                "wrapped v2 -> v3 differs ({domain:?}, xl {xl})"
            );
            let out4 = conv(&file2, 4).unwrap();
            assert!(out4 == conv(&file3, 4).unwrap(), "wrapped v2 -> v4 differs");
            assert!(
                conv(&out4, 2).unwrap() == file2,
                "wrapped v2 -> v4 -> v2 differs"
            );
        }
    }
}

#[test]
fn v2_through_a_pipe() {
    use std::process::{Command, Stdio};
    let (v2, _) = hvm(2, Endian::Big, 1, false);
    let path = std::env::temp_dir().join(format!("convert-v2-{}.bin", std::process::id()));
    std::fs::write(&path, &v2).unwrap();
    let mut src = Command::new("cat")
        .arg(&path)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn cat");
    let mut out = Vec::new();
    convert(src.stdout.take().unwrap(), &mut out, ConvertOptions::to(4)).unwrap();
    assert!(src.wait().unwrap().success());
    let _ = std::fs::remove_file(&path);
    assert!(out == conv(&v2, 4).unwrap());
}

fn err(input: &[u8], opts: ConvertOptions) -> ConvertError {
    let mut out = Vec::new();
    convert(input, &mut out, opts).unwrap_err()
}

#[test]
fn errors_keep_their_offsets() {
    let (v2, _) = pv(2, Endian::Little, 1, false);
    // Cut inside the last record: the offset is where the input ended.
    let cut = &v2[..v2.len() - 20];
    for to in [3, 4] {
        let e = err(cut, ConvertOptions::to(to));
        assert_eq!(e.kind(), "Truncated", "{e}");
        assert_eq!(e.offset(), cut.len() as u64, "{e}");
    }

    // Version 2 asked to become version 2: the version field's offset.
    let e = err(&v2, ConvertOptions::to(2));
    assert_eq!(e.kind(), "WrongVersion");
    assert_eq!(e.offset(), 12, "{e}");
    assert!(e.to_string().contains("version 3 or 4"), "{e}");
    let e = err(&v2, ConvertOptions::to(1));
    assert_eq!(e.kind(), "BadTarget");

    // A v3 stream asked to become v3: the version field's offset.
    let (v3, _) = pv(3, Endian::Little, 0, true);
    let e = err(&v3, ConvertOptions::to(3));
    assert_eq!(e.kind(), "WrongVersion");
    assert_eq!(e.offset(), 12, "{e}");
    assert!(e.to_string().contains("version 2 or 4"), "{e}");

    // An HVM v2 stream without PAGE_DATA has nowhere to put
    // STATIC_DATA_END: its first dynamic record (HVM_CONTEXT) would come
    // before it in the output. The error names that record's input
    // offset.
    let mut w = writer(DomainType::X86Hvm, 2, Endian::Little);
    let ctx = hvm::write(&HvmHeader::new(1, 1_000_000), &[], Endian::Little).unwrap();
    w.write(&L::HvmContext(Opaque(ctx))).unwrap();
    w.write(&L::X86TscInfo(tsc(0))).unwrap();
    let nopages = w.finish().unwrap();
    let mut r = StreamReader::new(&nopages[..]).unwrap();
    let first = r.next_header().unwrap().unwrap();
    assert_eq!(first.rtype, L::HVM_CONTEXT);
    let ctx_at = first.offset;
    let e = err(&nopages, ConvertOptions::to(3));
    assert_eq!(e.kind(), "InvalidOutput", "{e}");
    assert_eq!(e.offset(), ctx_at, "{e}");
}

#[test]
fn lenient_v2_conversion_also_inserts_static_data_end() {
    let (v2, _) = hvm(2, Endian::Little, 0, false);
    let mut out = Vec::new();
    convert(&v2[..], &mut out, ConvertOptions::to(3).mode(Mode::Lenient)).unwrap();
    let (want, _) = hvm(3, Endian::Little, 0, true);
    assert!(out == want);
}

/// A v3 PV stream with a CPUID and an MSR policy before STATIC_DATA_END,
/// as Xen 4.14 and later write them.
fn pv_v3_with_policies(endian: Endian) -> Vec<u8> {
    use format_spec::libxc::{X86CpuidPolicy, X86MsrPolicy, XenCpuidLeaf, XenMsrEntry};
    let mut w = writer(DomainType::X86Pv, 3, endian);
    w.write(&L::X86PvInfo(X86PvInfo {
        guest_width: 8,
        pt_levels: 4,
        _res: [0; 6],
    }))
    .unwrap();
    w.write(&L::X86CpuidPolicy(X86CpuidPolicy {
        leaves: vec![XenCpuidLeaf {
            leaf: 0,
            subleaf: u32::MAX,
            a: 0xd,
            b: 1,
            c: 2,
            d: 3,
        }],
    }))
    .unwrap();
    w.write(&L::X86MsrPolicy(X86MsrPolicy {
        entries: vec![XenMsrEntry {
            idx: 0xce,
            flags: 0,
            val: 0,
        }],
    }))
    .unwrap();
    w.write(&L::StaticDataEnd).unwrap();
    w.write(&L::X86PvP2mFrames(X86PvP2mFrames {
        start_pfn: 0,
        end_pfn: 1023,
        p2m_pfns: vec![0x80, 0x81],
    }))
    .unwrap();
    write_memory(&mut w, 0);
    w.write(&L::X86PvVcpuBasic(X86PvVcpu {
        vcpu_id: 0,
        _res1: 0,
        context: vec![0x80; pv_vcpu_basic_size(8).unwrap()],
    }))
    .unwrap();
    w.finish().unwrap()
}

#[test]
fn cpu_policies_are_a_loss_when_writing_version_2() {
    use format_spec::convert::LossKind;
    for endian in [Endian::Little, Endian::Big] {
        let v3 = pv_v3_with_policies(endian);
        let mut r = StreamReader::new(&v3[..]).unwrap();
        let mut at = Vec::new();
        while let Some(info) = r.next_header().unwrap() {
            if info.rtype == L::X86_CPUID_POLICY || info.rtype == L::X86_MSR_POLICY {
                at.push(info.offset);
            }
        }
        let e = err(&v3, ConvertOptions::to(2));
        let ConvertError::Lossy(loss) = &e else {
            panic!("{e}")
        };
        assert_eq!(loss.at.offset, at[0], "{e}");
        assert_eq!(
            loss.kind,
            LossKind::NewerRecord {
                rtype: L::X86_CPUID_POLICY,
                since: 3
            }
        );
        assert!(e.to_string().contains("X86_CPUID_POLICY"), "{e}");
        // The version it cannot go to is the description's last without
        // STATIC_DATA_END.
        let v_no_sde = format_spec::libxc::STATIC_DATA_END_SINCE - 1;
        assert!(
            e.to_string()
                .contains(&format!("which version {v_no_sde} cannot")),
            "{e}"
        );

        let mut v2 = Vec::new();
        let rep = convert(&v3[..], &mut v2, ConvertOptions::to(2).lossy(true)).unwrap();
        let offsets: Vec<u64> = rep.losses.iter().map(|l| l.at.offset).collect();
        assert_eq!(offsets, at);
        let got = verify(&v2[..], VerifyOptions::strict()).unwrap();
        assert_eq!(got.image_header.version, 2);
        let c = codes(&v2);
        assert_eq!(
            c,
            [
                L::X86_PV_INFO,
                L::X86_PV_P2M_FRAMES,
                L::PAGE_DATA,
                L::X86_PV_VCPU_BASIC,
                L::END
            ]
        );
        assert_eq!(page_contents(&v2), page_contents(&v3));
        assert_eq!(rep.records_in, rep.records_out + 3);
    }
}
