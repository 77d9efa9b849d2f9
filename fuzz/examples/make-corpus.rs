//! Writes the seed corpus of every fuzz target, deterministically, into
//! `fuzz/corpus/<target>/` (or the folder given as the first argument).
//!
//! ```text
//! cargo run --manifest-path fuzz/Cargo.toml --example make-corpus
//! ```
//!
//! Seeds are small valid inputs made with the project's own writers
//! (StreamWriter, OuterWriter, the DOMAIN_CONTEXT writer), plus prefixes
//! of the real Xen 4.17 save files (64 KiB each; the blobs and record
//! bodies found in them). File names are `<what>`, so a rerun overwrites
//! the same files.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use format_spec::binrw::Endian;
use format_spec::body::Opaque;
use format_spec::domain_context::{self as dc, DcEntry, DcHeader, DcTscInfo, SharedInfoRef};
use format_spec::libxc::{
    DomainType, HvmParams, HvmParamsEntry, LibxcRecord, X86TscInfo, REC_TYPE_OPTIONAL,
};
use format_spec::libxl::{CheckpointStateId, EmulatorId, LibxlRecord};
use format_spec::outer::{FormatChoice, Mode, OuterEvent, OuterReader, OuterWriter};
use format_spec::stream::{ReaderOptions, Record, StreamReader, StreamWriter, WriterOptions};
use format_spec::xl::XlPreamble;

/// How much of each real file goes into the corpus.
const PREFIX: usize = 64 << 10;

type Corpus = BTreeMap<&'static str, BTreeMap<String, Vec<u8>>>;

fn add(c: &mut Corpus, target: &'static str, name: impl Into<String>, bytes: Vec<u8>) {
    c.entry(target).or_default().insert(name.into(), bytes);
}

/// A DOMAIN_CONTEXT blob as Xen's series writes it, with a shared info
/// buffer of `si` octets.
fn dc_blob(endian: Endian, si: usize, tsc: bool) -> Vec<u8> {
    let shared: Vec<u8> = (0..si).map(|i| (i * 7) as u8).collect();
    let mut entries = vec![
        DcEntry::Header(DcHeader::new(4, 17)),
        DcEntry::SharedInfo(SharedInfoRef {
            flags: u32::from(si < 3000),
            buffer: &shared,
        }),
    ];
    if tsc {
        entries.push(DcEntry::TscInfo(DcTscInfo {
            mode: 1,
            incarnation: 2,
            elapsed_nsec: 3,
            khz: 2_000_000,
            _pad: 0,
        }));
    }
    entries.push(DcEntry::End);
    let mut out = Vec::new();
    dc::write(&entries, endian, &mut out).unwrap();
    out
}

/// A small HVM stream of `version` in `endian`; `cp` adds checkpoints.
fn hvm_stream(version: u32, endian: Endian, cp: bool, hvm_ctx: &[u8]) -> Vec<u8> {
    let opts = WriterOptions::new(DomainType::X86Hvm)
        .version(version)
        .endian(endian);
    let mut w = StreamWriter::new(Vec::new(), opts).unwrap();
    if version >= 3 {
        w.write(&LibxcRecord::StaticDataEnd).unwrap();
    }
    let pfns = [0x10, 0x11, 0xf000_0000_0000_0012, 0x13];
    let data: Vec<u8> = (0..3 * 4096).map(|i| (i / 4096 + 1) as u8).collect();
    w.write_page_data(&pfns, &data).unwrap();
    w.write_optional(REC_TYPE_OPTIONAL | 0x4242, b"optional, skipped")
        .unwrap();
    if version < 4 {
        w.write(&LibxcRecord::X86TscInfo(X86TscInfo {
            mode: 0,
            khz: 1_000_000,
            nsec: 5,
            incarnation: 1,
            _res1: 0,
        }))
        .unwrap();
    }
    w.write(&LibxcRecord::HvmParams(HvmParams {
        count: 2,
        _res1: 0,
        param: vec![
            HvmParamsEntry { index: 2, value: 3 },
            HvmParamsEntry {
                index: 12,
                value: 0xfeff_f000,
            },
        ],
    }))
    .unwrap();
    w.write(&LibxcRecord::HvmContext(Opaque(hvm_ctx.to_vec())))
        .unwrap();
    if version >= 4 {
        w.write(&LibxcRecord::DomainContext(Opaque(dc_blob(
            endian, 40, true,
        ))))
        .unwrap();
    }
    if cp {
        w.checkpoint().unwrap();
        w.write_page_data(&[0x11], &[9u8; 4096]).unwrap();
        w.write(&LibxcRecord::HvmContext(Opaque(hvm_ctx.to_vec())))
            .unwrap();
        if version >= 4 {
            w.write(&LibxcRecord::DomainContext(Opaque(dc_blob(
                endian, 40, true,
            ))))
            .unwrap();
        }
        w.checkpoint().unwrap();
        w.write_page_data(&[0x12], &[8u8; 4096]).unwrap();
        if version >= 4 {
            w.write(&LibxcRecord::DomainContext(Opaque(dc_blob(
                endian, 16, false,
            ))))
            .unwrap();
        }
    }
    w.finish().unwrap()
}

/// The libxc stream inside a real file: from the octet after the
/// LIBXC_CONTEXT record.
fn libxc_start(file: &[u8]) -> usize {
    let mut r = OuterReader::open(file, FormatChoice::Auto, Mode::Lenient).unwrap();
    loop {
        match r.next().unwrap() {
            Some(OuterEvent::Libxc(h)) => return h.offset as usize,
            Some(_) => {}
            None => panic!("no libxc stream"),
        }
    }
}

/// Every record body of a libxc stream (pages dropped), with the libxc
/// table index of its type; unknown and oversized ones are left out.
fn bodies(stream: &[u8], max: usize) -> Vec<(u8, u32, Vec<u8>)> {
    let mut out = Vec::new();
    let Ok(mut r) = StreamReader::with_options(stream, ReaderOptions::default()) else {
        return out;
    };
    let endian = r.endian();
    let big = if endian == Endian::Big { 0x80 } else { 0 };
    while let Ok(Some(info)) = r.next_header() {
        let Some(i) = LibxcRecord::LAYOUT
            .records
            .iter()
            .position(|l| l.code == info.rtype)
        else {
            continue;
        };
        let body = if info.rtype == LibxcRecord::PAGE_DATA {
            // Keep the pfn array; at most one page of contents.
            match r.read_record() {
                Ok(Record::Known(rec)) => {
                    let mut b = Vec::new();
                    rec.write_body(&mut b, endian).unwrap();
                    b
                }
                _ => break,
            }
        } else {
            match r.read_body() {
                Ok(b) => b.to_vec(),
                Err(_) => break,
            }
        };
        if body.len() <= max {
            out.push((i as u8 | big, info.rtype, body));
        }
    }
    out
}

fn main() {
    let root = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus"));
    let mut c = Corpus::new();

    // The real files: 64 KiB prefixes for the outer target, the libxc
    // stream prefixes for the stream targets, the HVM context blob.
    let mut hvm_real = None;
    for name in test_support::REAL_STREAMS {
        let file = std::fs::read(test_support::real_stream(name)).unwrap();
        let short = name.trim_end_matches(".xl");
        add(
            &mut c,
            "outer",
            format!("real-{short}"),
            file[..PREFIX].to_vec(),
        );
        let at = libxc_start(&file);
        let libxc = &file[at..at + PREFIX];
        for t in ["record_reader", "verify_strict", "verify_lenient"] {
            add(&mut c, t, format!("real-{short}"), libxc.to_vec());
        }
        for (sel, code, body) in bodies(libxc, 8 << 10) {
            add(
                &mut c,
                "parse_body",
                format!("real-{short}-{code:02x}"),
                [&[sel][..], &body].concat(),
            );
        }
        // The HVM_CONTEXT record lies past the pages: find it in the whole
        // stream, skipping page contents.
        let mut r =
            StreamReader::seekable(Cursor::new(&file[at..]), ReaderOptions::default()).unwrap();
        while let Ok(Some(info)) = r.next_header() {
            if info.rtype == LibxcRecord::HVM_CONTEXT {
                let blob = r.read_body().unwrap().to_vec();
                add(&mut c, "hvm_context", format!("real-{short}"), blob.clone());
                let sel = LibxcRecord::LAYOUT
                    .records
                    .iter()
                    .position(|l| l.code == LibxcRecord::HVM_CONTEXT)
                    .unwrap() as u8;
                add(
                    &mut c,
                    "parse_body",
                    format!("real-{short}-09"),
                    [&[sel][..], &blob].concat(),
                );
                hvm_real = Some(blob);
            }
        }
    }
    let hvm_ctx = hvm_real.expect("the HVM file has an HVM_CONTEXT record");

    // Synthetic libxc streams: each version, both byte orders, with and
    // without checkpoints. The HVM context is the real blob (about 2 KiB)
    // in little-endian streams, a short one in big-endian ones.
    let mut streams = Vec::new();
    for version in [2, 3, 4] {
        for endian in [Endian::Little, Endian::Big] {
            for cp in [false, true] {
                let ctx: &[u8] = if endian == Endian::Little {
                    &hvm_ctx
                } else {
                    &[1, 2, 3]
                };
                let e = if endian == Endian::Little { "le" } else { "be" };
                let name = format!("hvm-v{version}-{e}{}", if cp { "-cp" } else { "" });
                streams.push((name, hvm_stream(version, endian, cp, ctx)));
            }
        }
    }
    for (name, s) in &streams {
        for t in ["record_reader", "verify_strict", "verify_lenient"] {
            add(&mut c, t, name.clone(), s.clone());
        }
        for (sel, code, body) in bodies(s, 8 << 10) {
            add(
                &mut c,
                "parse_body",
                format!("{name}-{code:02x}"),
                [&[sel][..], &body].concat(),
            );
        }
    }

    // libxl record bodies, by table index after the libxc table.
    let nx = LibxcRecord::LAYOUT.records.len() as u8;
    for (i, l) in LibxlRecord::LAYOUT.records.iter().enumerate() {
        let body: Vec<u8> = match l.code {
            0x02 => b"\x02\0\0\0\0\0\0\0physmap/1/start_addr\0f0000000\0".to_vec(),
            0x03 => b"\x02\0\0\0\0\0\0\0QEVM emulator state".to_vec(),
            0x05 => vec![1, 0, 0, 0],
            _ => Vec::new(),
        };
        add(
            &mut c,
            "parse_body",
            format!("libxl-{:02x}", l.code),
            [&[nx + i as u8][..], &body].concat(),
        );
    }

    // Whole save files made by OuterWriter around a libxc stream.
    let small = &streams[2].1; // v3 little-endian, no checkpoints
    for endian in [Endian::Little, Endian::Big] {
        let e = if endian == Endian::Little { "le" } else { "be" };
        let libxc = streams
            .iter()
            .find(|(n, _)| *n == format!("hvm-v3-{e}"))
            .map(|(_, s)| s.clone())
            .unwrap();
        let mut w = OuterWriter::xl(
            Vec::new(),
            &XlPreamble::with_json_config(endian, "{\"c\":1}"),
        )
        .unwrap();
        w.libxc_context().unwrap();
        w.inner().extend_from_slice(&libxc);
        w.emulator_xenstore_data(
            EmulatorId::QemuUpstream,
            0,
            &[("physmap/1/name", "vga.vram")],
        )
        .unwrap();
        w.emulator_context(EmulatorId::QemuUpstream, 0, b"QEVM state")
            .unwrap();
        w.raw_record(0x8000_0777, b"optional libxl record").unwrap();
        add(&mut c, "outer", format!("xl-{e}"), w.finish().unwrap());

        let mut w = OuterWriter::libxl(Vec::new(), endian).unwrap();
        w.libxc_context().unwrap();
        w.inner().extend_from_slice(&libxc);
        add(&mut c, "outer", format!("libxl-{e}"), w.finish().unwrap());
    }
    // A checkpointed libxl stream in Xen's COLO layout: each libxc part
    // ends in CHECKPOINT, then CHECKPOINT_END and one CHECKPOINT_STATE
    // (CHECKPOINT_NEW, the only state a primary sends forward) hand back
    // to libxc (libxl__stream_read_checkpoint_state reads it right after
    // the checkpoint's records, in libxl_stream_read.c).
    {
        let cp = streams
            .iter()
            .find(|(n, _)| n == "hvm-v3-le-cp")
            .map(|(_, s)| s.clone())
            .unwrap();
        // Split the checkpointed stream after each CHECKPOINT record.
        let mut r = StreamReader::with_options(&cp[..], ReaderOptions::default()).unwrap();
        let mut cuts = Vec::new();
        while let Ok(Some(info)) = r.next_header() {
            r.skip_record().unwrap();
            if info.rtype == LibxcRecord::CHECKPOINT {
                cuts.push(info.end_offset() as usize);
            }
        }
        let mut w = OuterWriter::libxl(Vec::new(), Endian::Little).unwrap();
        w.libxc_context().unwrap();
        let mut from = 0;
        for cut in &cuts {
            w.inner().extend_from_slice(&cp[from..*cut]);
            from = *cut;
            w.checkpoint_end().unwrap();
            w.checkpoint_state(CheckpointStateId::New).unwrap();
        }
        w.inner().extend_from_slice(&cp[from..]);
        add(&mut c, "outer", "libxl-checkpointed", w.finish().unwrap());
    }
    add(&mut c, "outer", "bare-libxc", small.clone());

    // DOMAIN_CONTEXT blobs: 64-bit and compat sizes, both byte orders.
    for endian in [Endian::Little, Endian::Big] {
        let e = if endian == Endian::Little { "le" } else { "be" };
        add(
            &mut c,
            "domain_context",
            format!("x86-64-{e}"),
            dc_blob(endian, 3136, true),
        );
        add(
            &mut c,
            "domain_context",
            format!("compat-{e}"),
            dc_blob(endian, 13, false),
        );
    }

    let mut total = 0;
    for (target, files) in &c {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in files {
            std::fs::write(dir.join(name), bytes).unwrap();
            total += bytes.len();
        }
        println!("{target}: {} files", files.len());
    }
    println!("{total} octets in all");
}
