//! The libxc part of the two real `xl save` files written by Xen 4.17:
//! strict verification (pipe-style and seekable), record and page counts
//! from the README beside them, the fixture text in guest RAM, the reader
//! stopping exactly at the libxc END, and a byte-identical rewrite.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom, Write};

use format_spec::libxc::{LibxcRecord as L, PageType, PAGE_SIZE, XEN_4_17_VERSION};
use format_spec::stream::{
    verify_seekable, Mode, ReaderOptions, Record, Report, StreamReader, StreamWriter, Verifier,
    VerifyOptions, Warning, WriterOptions,
};
use test_support::{real_stream, FIXTURE_LINE};

/// Offset of the libxc image header: eight 0xff octets then "XENF", in the
/// first 64 KiB.
fn libxc_start(path: &std::path::Path) -> u64 {
    let mut head = vec![0u8; 64 << 10];
    let mut f = File::open(path).unwrap();
    let n = f.read(&mut head).unwrap();
    let mut needle = vec![0xffu8; 8];
    needle.extend_from_slice(b"XENF");
    head[..n]
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("libxc image header in the first 64 KiB") as u64
}

fn open_at(path: &std::path::Path, start: u64) -> BufReader<File> {
    let mut f = File::open(path).unwrap();
    f.seek(SeekFrom::Start(start)).unwrap();
    BufReader::with_capacity(1 << 20, f)
}

fn opts(start: u64) -> VerifyOptions {
    VerifyOptions {
        bare: false,
        base_offset: start,
        ..VerifyOptions::strict()
    }
}

/// Verifies by reading everything (the pipe path), returns the report and
/// the input positioned right after the libxc END.
fn verify_reading(path: &std::path::Path) -> (Report, BufReader<File>, u64) {
    let start = libxc_start(path);
    let o = opts(start);
    let mut r = StreamReader::with_options(open_at(path, start), o.reader_options()).unwrap();
    let mut v = Verifier::new(&r, o);
    if let Err(e) = v.run(&mut r) {
        panic!("{}: {e}", path.display());
    }
    let end = r.position();
    (v.into_report(), r.into_inner(), end)
}

fn count(rep: &Report, code: u32) -> u64 {
    rep.records_by_type.get(&code).copied().unwrap_or(0)
}

fn next_libxl_header(input: &mut impl Read) -> (u32, u32) {
    let mut h = [0u8; 8];
    input.read_exact(&mut h).unwrap();
    (
        u32::from_le_bytes(h[0..4].try_into().unwrap()),
        u32::from_le_bytes(h[4..8].try_into().unwrap()),
    )
}

#[test]
fn pv_stream_verifies_with_the_documented_counts() {
    let path = real_stream("pv64-1vcpu-96M.xl");
    let (rep, mut rest, end) = verify_reading(&path);
    assert_eq!(rep.image_header.version, 3);
    assert_eq!(rep.image_header.version, XEN_4_17_VERSION);
    assert_eq!(rep.domain_header.r#type, 1);
    assert_eq!(rep.domain_header.xen_major, 4);
    assert_eq!(rep.domain_header.xen_minor, 17);
    for (code, n) in [
        (L::X86_PV_INFO, 1),
        (L::X86_CPUID_POLICY, 1),
        (L::X86_MSR_POLICY, 1),
        (L::STATIC_DATA_END, 1),
        (L::X86_PV_P2M_FRAMES, 1),
        (L::PAGE_DATA, 24),
        (L::X86_TSC_INFO, 1),
        (L::SHARED_INFO, 1),
        (L::X86_PV_VCPU_BASIC, 1),
        (L::X86_PV_VCPU_EXTENDED, 1),
        (L::END, 1),
    ] {
        assert_eq!(count(&rep, code), n, "records of type 0x{code:x}");
    }
    assert_eq!(rep.records, 34);
    assert_eq!(rep.bytes_by_type[&L::X86_CPUID_POLICY], 1224);
    assert_eq!(rep.bytes_by_type[&L::X86_MSR_POLICY], 32);
    assert_eq!(rep.pfn_entries, 24576);
    assert_eq!(rep.data_pages, 24576);
    assert!(rep.complete);
    assert_eq!(rep.segments, 1);
    // The next octets are the libxl END record: type 0, length 0.
    assert_eq!(
        next_libxl_header(&mut rest),
        (0, 0),
        "after libxc END at 0x{end:x}"
    );
    // The seekable path agrees.
    let start = libxc_start(&path);
    let seek = verify_seekable(open_at(&path, start), opts(start)).unwrap();
    assert_eq!(seek, rep);
}

#[test]
fn hvm_stream_verifies_with_the_documented_counts() {
    let path = real_stream("hvm-1vcpu-128M.xl");
    let (rep, mut rest, _) = verify_reading(&path);
    assert_eq!(rep.image_header.version, 3);
    assert_eq!(rep.image_header.version, XEN_4_17_VERSION);
    assert_eq!(rep.domain_header.r#type, 2);
    for (code, n) in [
        (L::X86_CPUID_POLICY, 1),
        (L::X86_MSR_POLICY, 1),
        (L::STATIC_DATA_END, 1),
        (L::PAGE_DATA, 1020),
        (L::X86_TSC_INFO, 1),
        (L::HVM_CONTEXT, 1),
        (L::HVM_PARAMS, 1),
        (L::END, 1),
    ] {
        assert_eq!(count(&rep, code), n, "records of type 0x{code:x}");
    }
    assert_eq!(rep.records, 1027);
    assert_eq!(rep.pfn_entries, 1_044_480);
    assert_eq!(rep.data_pages, 32_763);
    assert_eq!(
        rep.pages_by_type[PageType::Xtab as usize],
        1_044_480 - 32_763
    );
    // Xen 4.17 writes HVM_CONTEXT before HVM_PARAMS: a warning in v3.
    assert!(rep
        .warnings
        .iter()
        .any(|w| matches!(w, Warning::HvmParamsAfterContext { .. })));
    // Next comes the libxl EMULATOR_CONTEXT (type 3), then the libxl END.
    let (ty, len) = next_libxl_header(&mut rest);
    assert_eq!(ty, 3);
    let skip = (len as u64 + 7) & !7;
    std::io::copy(&mut (&mut rest).take(skip), &mut std::io::sink()).unwrap();
    assert_eq!(next_libxl_header(&mut rest), (0, 0));
    let start = libxc_start(&path);
    let seek = verify_seekable(open_at(&path, start), opts(start)).unwrap();
    assert_eq!(seek, rep);
}

/// Reads every page with contents into one caller buffer and counts the
/// pages holding the fixture line.
fn fixture_pages(path: &std::path::Path) -> (u64, u64) {
    let start = libxc_start(path);
    let ropts = ReaderOptions {
        mode: Mode::Strict,
        base_offset: start,
    };
    let mut r = StreamReader::with_options(open_at(path, start), ropts).unwrap();
    let mut page = vec![0u8; PAGE_SIZE];
    let (mut pages, mut hits) = (0u64, 0u64);
    while let Some(info) = r.next_header().unwrap() {
        if info.rtype != L::PAGE_DATA {
            continue;
        }
        let mut batch = r.page_batch().unwrap();
        while batch.pages_left() > 0 {
            batch.read_pages(&mut page).unwrap();
            pages += 1;
            let first = FIXTURE_LINE[0];
            let found = page
                .iter()
                .enumerate()
                .filter(|(_, b)| **b == first)
                .any(|(i, _)| page[i..].starts_with(FIXTURE_LINE));
            hits += u64::from(found);
        }
    }
    (pages, hits)
}

#[test]
fn guest_ram_holds_the_fixture_text() {
    // 4 MiB of the line: at least 1000 pages hold a whole copy of it.
    for name in test_support::REAL_STREAMS {
        let (pages, hits) = fixture_pages(&real_stream(name));
        assert!(pages > 20_000, "{name}: {pages} pages");
        assert!(
            hits >= 1000,
            "{name}: only {hits} pages hold the fixture line"
        );
    }
}

/// A writer sink that compares what it is given with a reference input.
struct Compare<R: Read> {
    reference: R,
    at: u64,
    buf: Vec<u8>,
}

impl<R: Read> Write for Compare<R> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.resize(data.len(), 0);
        self.reference.read_exact(&mut self.buf)?;
        if let Some(i) = self.buf.iter().zip(data).position(|(a, b)| a != b) {
            panic!(
                "rewritten stream differs at offset 0x{:x}",
                self.at + i as u64
            );
        }
        self.at += data.len() as u64;
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn real_streams_rewrite_to_identical_bytes() {
    for name in test_support::REAL_STREAMS {
        let path = real_stream(name);
        let start = libxc_start(&path);
        let mut r = StreamReader::with_options(
            open_at(&path, start),
            ReaderOptions {
                mode: Mode::Strict,
                base_offset: start,
            },
        )
        .unwrap();
        let d = *r.domain_header();
        let wopts = WriterOptions::new(r.domain_type())
            .version(r.version())
            .endian(r.endian())
            .xen_version(d.xen_major, d.xen_minor);
        let sink = Compare {
            reference: open_at(&path, start),
            at: start,
            buf: Vec::new(),
        };
        let mut w = StreamWriter::new(sink, wopts).unwrap();
        let mut records = 0;
        while let Some((info, rec)) = r.next_record().unwrap() {
            records += 1;
            match rec {
                Record::Known(L::End) => break,
                Record::Known(rec) => {
                    w.write(&rec).unwrap();
                }
                Record::Unknown { body, .. } => {
                    w.write_optional(info.rtype, &body).unwrap();
                }
            }
        }
        let sink = w.finish().unwrap();
        assert_eq!(sink.at, r.position(), "{name}: rewrite length");
        assert!(records > 30, "{name}");
    }
}
