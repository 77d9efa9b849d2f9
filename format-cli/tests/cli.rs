//! Runs the built `xenstream` binary on streams written with the library's
//! `StreamWriter`, and checks exit codes, messages and output against what
//! was written.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use format_spec::binrw::Endian;
use format_spec::body::Opaque;
use format_spec::libxc::{
    DomainType, HvmParams, HvmParamsEntry, LibxcRecord, PageType, X86TscInfo, PAGE_DATA_TYPE_SHIFT,
    PAGE_SIZE,
};
use format_spec::libxl::{CheckpointStateId, EmulatorId, LibxlRecord};
use format_spec::outer::OuterWriter;
use format_spec::stream::{RecordInfo, StreamWriter, WriterOptions};
use format_spec::xl::XlPreamble;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_xenstream");

/// A written stream and what went into it.
struct Written {
    bytes: Vec<u8>,
    /// Every record the writer reported, END included.
    infos: Vec<RecordInfo>,
    /// The pfn entries of each PAGE_DATA record.
    batches: Vec<Vec<u64>>,
}

const XTAB: u64 = (PageType::Xtab as u64) << PAGE_DATA_TYPE_SHIFT;
const UNKNOWN_OPTIONAL: u32 = 0x8000_1234;

/// A version 3 HVM stream: three PAGE_DATA records in a row (some pages
/// without contents), TSC info, an unknown optional record, HVM context
/// and parameters.
fn hvm_stream() -> Written {
    let mut w = StreamWriter::new(
        Vec::new(),
        WriterOptions::new(DomainType::X86Hvm)
            .version(3)
            .xen_version(4, 17),
    )
    .unwrap();
    let mut infos = Vec::new();
    let mut batches = Vec::new();
    infos.push(w.write(&LibxcRecord::StaticDataEnd).unwrap());
    for b in 0..3u64 {
        let pfns: Vec<u64> = (0..8u64)
            .map(|i| {
                let pfn = 0x100 + b * 8 + i;
                if i % 4 == 3 {
                    pfn | XTAB
                } else {
                    pfn
                }
            })
            .collect();
        let with_data = pfns.iter().filter(|e| *e & XTAB != XTAB).count();
        let pages = vec![b as u8 + 1; with_data * PAGE_SIZE];
        infos.push(w.write_page_data(&pfns, &pages).unwrap());
        batches.push(pfns);
    }
    infos.push(
        w.write(&LibxcRecord::X86TscInfo(X86TscInfo {
            mode: 1,
            khz: 2_400_000,
            nsec: 123_456_789,
            incarnation: 7,
            _res1: 0,
        }))
        .unwrap(),
    );
    infos.push(w.write_optional(UNKNOWN_OPTIONAL, &[9; 5]).unwrap());
    infos.push(
        w.write(&LibxcRecord::HvmParams(HvmParams {
            count: 2,
            _res1: 0,
            param: vec![
                HvmParamsEntry {
                    index: 2,
                    value: 0xfeff_f000,
                },
                HvmParamsEntry {
                    index: 12,
                    value: 5,
                },
            ],
        }))
        .unwrap(),
    );
    infos.push(
        w.write(&LibxcRecord::HvmContext(Opaque(hvm_blob(Endian::Little))))
            .unwrap(),
    );
    let end_offset = w.position();
    let bytes = w.finish().unwrap();
    infos.push(RecordInfo {
        index: infos.len() as u64,
        offset: end_offset,
        rtype: LibxcRecord::END,
        length: 0,
    });
    Written {
        bytes,
        infos,
        batches,
    }
}

/// A valid HVM context blob: HEADER, CPU, two PICs, END.
fn hvm_blob(endian: Endian) -> Vec<u8> {
    use format_spec::hvm_context::{self as hvm, HvmHeader, HvmType};
    hvm::write(
        &HvmHeader::new(0x60fb1, 2_400_000),
        &[
            (HvmType::Cpu, 0, &[0x5a; 1032]),
            (HvmType::Pic, 0, &[1; 8]),
            (HvmType::Pic, 1, &[2; 8]),
        ],
        endian,
    )
    .unwrap()
}

/// Writes `bytes` to a fresh file under the test temp directory.
fn file_with(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

/// Runs `xenstream args` with `input` fed through a real pipe to stdin.
fn run_piped(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let data = input.to_vec();
    // Feed from another thread: the child may stop reading early.
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    out
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally")
}

fn json_lines(o: &Output) -> Vec<Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

/// The stream with the type nibble of pfn entry `i` of the first PAGE_DATA
/// set to 5 (a reserved, invalid type); returns it and the entry's offset.
fn with_bad_page_type(w: &Written, i: u64) -> (Vec<u8>, u64) {
    let pd = w.infos[1];
    assert_eq!(pd.rtype, LibxcRecord::PAGE_DATA);
    let at = pd.body_offset() + 8 + 8 * i;
    let mut bytes = w.bytes.clone();
    // Little-endian: the type nibble is the top of the last octet.
    let top = at as usize + 7;
    bytes[top] = (bytes[top] & 0x0f) | 0x50;
    (bytes, at)
}

#[test]
fn verify_accepts_a_valid_file_and_summarises_it() {
    let w = hvm_stream();
    let p = file_with("valid.bin", &w.bytes);
    for strict in [false, true] {
        let mut args = vec!["verify"];
        if strict {
            args.push("--strict");
        }
        args.push(p.to_str().unwrap());
        let o = run(&args);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        let out = stdout(&o);
        assert!(out.contains("valid"), "{out}");
        assert!(out.contains(&format!("{} records", w.infos.len())), "{out}");
        assert!(out.contains("18 data pages"), "{out}");
        assert!(out.contains(&format!("{} octets", w.bytes.len())), "{out}");
        // The unknown optional record is reported as skipped.
        let err = stderr(&o);
        assert!(err.contains("warning"), "{err}");
        assert!(err.contains("0x80001234"), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    // -q prints nothing on standard output.
    let o = run(&["verify", "-q", p.to_str().unwrap()]);
    assert_eq!(code(&o), 0);
    assert!(o.stdout.is_empty());
}

#[test]
fn verify_reports_an_invalid_file_with_its_offset_and_exits_1() {
    let w = hvm_stream();
    let (bad, at) = with_bad_page_type(&w, 2);
    let p = file_with("bad-page-type.bin", &bad);
    let o = run(&["verify", p.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("BadPageType"), "{err}");
    assert!(err.contains(&format!("offset {at} (0x{at:x})")), "{err}");
    assert!(err.contains("record 1 (PAGE_DATA"), "{err}");
    assert!(err.contains("pfn[2]"), "{err}");
    assert!(o.stdout.is_empty());
}

#[test]
fn verify_reports_truncation_where_the_input_ends() {
    let w = hvm_stream();
    // Cut in the middle of the second PAGE_DATA's page contents.
    let cut = w.infos[2].body_offset() + 8 + 8 * 8 + 100;
    let p = file_with("truncated.bin", &w.bytes[..cut as usize]);
    let o = run(&["verify", p.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("Truncated"), "{err}");
    assert!(err.contains(&format!("offset {cut} ")), "{err}");
    // Same verdict and offset through a pipe.
    let o = run_piped(&["verify", "-"], &w.bytes[..cut as usize]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains(&format!("offset {cut} ")));
}

#[test]
fn strict_mode_refuses_what_lenient_mode_accepts() {
    let w = hvm_stream();
    let mut bytes = w.bytes.clone();
    bytes.push(0);
    let p = file_with("trailing.bin", &bytes);
    let o = run(&["verify", p.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = run(&["verify", "--strict", p.to_str().unwrap()]);
    assert_eq!(code(&o), 1);
    let err = stderr(&o);
    assert!(err.contains("TrailingData"), "{err}");
    assert!(err.contains(&format!("offset {} ", w.bytes.len())), "{err}");
}

#[test]
fn verify_reads_a_real_pipe() {
    let w = hvm_stream();
    for args in [
        &["verify", "--strict", "-"][..],
        &["verify", "--strict"][..],
    ] {
        let o = run_piped(args, &w.bytes);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        assert!(
            stdout(&o).starts_with("-: valid (strict)"),
            "{}",
            stdout(&o)
        );
        assert!(stdout(&o).contains("18 data pages"));
    }
    let (bad, at) = with_bad_page_type(&w, 5);
    let o = run_piped(&["verify", "-"], &bad);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains(&format!("offset {at} ")),
        "{}",
        stderr(&o)
    );
}

#[test]
fn usage_and_io_errors_exit_2() {
    let o = run(&["verify", "/nonexistent/stream.bin"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("cannot open"), "{}", stderr(&o));
    let o = run(&["verify", "--no-such-flag"]);
    assert_eq!(code(&o), 2);
    let o = run(&["frobnicate"]);
    assert_eq!(code(&o), 2);
    let o = run(&["verify", env!("CARGO_TARGET_TMPDIR")]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("directory"), "{}", stderr(&o));
}

/// An xl save file around the libxc stream `w` (as [`hvm_stream`] writes
/// it), with an emulator context after it. Returns the file and the offset
/// of the libxc stream in it.
fn xl_file(w: &Written) -> (Vec<u8>, u64) {
    let pre = XlPreamble::with_json_config(Endian::Little, "{\"c_info\": {}}");
    let mut ow = OuterWriter::xl(Vec::new(), &pre).unwrap();
    let out = ow.libxc_context().unwrap();
    let base = out.len() as u64;
    out.extend_from_slice(&w.bytes);
    ow.emulator_context(EmulatorId::QemuUpstream, 0, b"QEVM-blob")
        .unwrap();
    (ow.finish().unwrap(), base)
}

#[test]
fn xl_save_files_are_verified_through_every_layer() {
    let w = hvm_stream();
    let (file, base) = xl_file(&w);
    let p = file_with("good.xl", &file);
    let o = run(&["verify", "--strict", p.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("xl file with 3 libxl records"), "{out}");
    assert!(out.contains("18 data pages"), "{out}");
    // The same through a pipe (detection must not need to seek back).
    let o = run_piped(&["verify", "--strict"], &file);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("xl file"));

    // A bad page type inside: reported at its absolute offset in the file.
    let (bad, at) = with_bad_page_type(&w, 1);
    let mut broken = file.clone();
    broken[base as usize..base as usize + bad.len()].copy_from_slice(&bad);
    let p = file_with("bad-page.xl", &broken);
    let o = run(&["verify", p.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let want = base + at;
    assert!(
        stderr(&o).contains(&format!("offset {want} ")),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("BadPageType"));

    // A broken xl header: the outer layer's rule and offset.
    let mut broken = file.clone();
    broken[32] ^= 0xff; // the byte-order marker follows the 32-octet magic
    let p = file_with("bad-header.xl", &broken);
    let o = run(&["verify", p.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("rule BadByteOrderMarker, offset 32 "),
        "{}",
        stderr(&o)
    );

    // Forcing --format libxc reads it as libxc, which it is not.
    let p = file_with("good2.xl", &file);
    let o = run(&["verify", "--format", "libxc", p.to_str().unwrap()]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("BadMarker"), "{}", stderr(&o));
}

#[test]
fn bare_libxl_streams_are_detected() {
    let w = hvm_stream();
    let mut ow = OuterWriter::libxl(Vec::new(), Endian::Little).unwrap();
    ow.libxc_context().unwrap().extend_from_slice(&w.bytes);
    let stream = ow.finish().unwrap();
    let o = run_piped(&["stats", "--json"], &stream);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let s = &json_lines(&o)[0];
    assert_eq!(s["format"], "libxl");
    assert_eq!(s["libxl_records"]["LIBXC_CONTEXT"], 1);
    assert_eq!(s["libxl_records"]["END"], 1);
    assert_eq!(s["data_pages"], 18);
}

#[test]
fn dump_json_of_an_xl_file_shows_every_layer_at_its_offset() {
    let w = hvm_stream();
    let (file, base) = xl_file(&w);
    let p = file_with("dump.xl", &file);
    let o = run(&["dump", "--json", p.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let lines = json_lines(&o);
    let kinds: Vec<&str> = lines.iter().map(|l| l["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "xl_header",
            "libxl_header",
            "libxl_record",
            "header",
            "record",
            "page_data_run",
            "record",
            "record",
            "record",
            "record",
            "record",
            "libxl_record",
            "libxl_record"
        ]
    );
    assert_eq!(lines[0]["mandatory_flags"], 3);
    assert_eq!(lines[2]["type"], "LIBXC_CONTEXT");
    assert_eq!(lines[2]["offset"].as_u64().unwrap() + 8, base);
    assert_eq!(lines[3]["offset"], base);
    // libxc offsets are absolute: the writer's offsets plus the base.
    assert_eq!(lines[4]["offset"], base + w.infos[0].offset);
    assert_eq!(lines[5]["offset"], base + w.infos[1].offset);
    let emu = &lines[11];
    assert_eq!(emu["type"], "EMULATOR_CONTEXT");
    assert_eq!(emu["offset"], base + w.bytes.len() as u64);
    assert_eq!(emu["fields"]["blob_bytes"], 9);
    assert_eq!(emu["fields"]["emulator"], "Qemu Upstream");
    assert_eq!(lines[12]["type"], "END");
    assert_eq!(lines[12]["offset"].as_u64().unwrap() + 8, file.len() as u64);
}

/// A checkpointed xl file and what the writers recorded.
struct Checkpointed {
    bytes: Vec<u8>,
    /// Every libxc record: (index, absolute offset, type).
    libxc: Vec<(u64, u64, u32)>,
    /// Every libxl record: (absolute offset, type).
    libxl: Vec<(u64, u32)>,
    /// Absolute offset of the first record of each segment after the first.
    resumes: Vec<u64>,
}

/// An xl file around a version 4 HVM stream of `segments` segments (each:
/// PAGE_DATA, HVM_PARAMS, HVM_CONTEXT, DOMAIN_CONTEXT), with emulator
/// records, CHECKPOINT_STATE and CHECKPOINT_END after each CHECKPOINT.
fn checkpointed_xl(segments: usize) -> Checkpointed {
    let pre = XlPreamble::with_json_config(Endian::Little, "{}");
    let mut ow = OuterWriter::xl(Vec::new(), &pre).unwrap();
    let mut libxl = vec![(ow.inner().len() as u64, LibxlRecord::LIBXC_CONTEXT)];
    ow.libxc_context().unwrap();
    let mut opts = WriterOptions::new(DomainType::X86Hvm).xen_version(4, 17);
    opts.base_offset = ow.inner().len() as u64;
    let mut sw = StreamWriter::new(std::mem::take(ow.inner()), opts).unwrap();
    let mut libxc = Vec::new();
    let mut resumes = Vec::new();
    // The writer is told about the libxl octets between segments
    // (resume_at), so its offsets are absolute in the file.
    let mut note = |info: RecordInfo| libxc.push((info.index, info.offset, info.rtype));
    note(sw.write(&LibxcRecord::StaticDataEnd).unwrap());
    let mut blob = Vec::new();
    format_spec::domain_context::write(
        &[
            format_spec::domain_context::DcEntry::Header(
                format_spec::domain_context::DcHeader::new(4, 17),
            ),
            format_spec::domain_context::DcEntry::End,
        ],
        Endian::Little,
        &mut blob,
    )
    .unwrap();
    for seg in 0..segments as u64 {
        let pfns = [0x10 * seg, 0x10 * seg + 1, (0x10 * seg + 2) | XTAB];
        note(
            sw.write_page_data(&pfns, &vec![seg as u8; 2 * PAGE_SIZE])
                .unwrap(),
        );
        let params = LibxcRecord::HvmParams(HvmParams {
            count: 1,
            _res1: 0,
            param: vec![HvmParamsEntry {
                index: 2,
                value: seg,
            }],
        });
        note(sw.write(&params).unwrap());
        note(
            sw.write(&LibxcRecord::HvmContext(Opaque(hvm_blob(Endian::Little))))
                .unwrap(),
        );
        note(
            sw.write(&LibxcRecord::DomainContext(Opaque(blob.clone())))
                .unwrap(),
        );
        if seg + 1 == segments as u64 {
            break;
        }
        note(sw.checkpoint().unwrap());
        let mut part = OuterWriter::libxl(Vec::new(), Endian::Little).unwrap();
        let hdr = part.inner().len();
        let here = sw.get_mut().len() as u64;
        let at = |part: &mut OuterWriter<Vec<u8>>| here + (part.inner().len() - hdr) as u64;
        libxl.push((at(&mut part), LibxlRecord::EMULATOR_XENSTORE_DATA));
        part.emulator_xenstore_data(EmulatorId::QemuUpstream, 0, &[("k", "v")])
            .unwrap();
        libxl.push((at(&mut part), LibxlRecord::EMULATOR_CONTEXT));
        part.emulator_context(EmulatorId::QemuUpstream, 0, &[seg as u8; 9])
            .unwrap();
        // Xen's COLO layout: CHECKPOINT_END, then CHECKPOINT_STATE, then
        // the next segment.
        libxl.push((at(&mut part), LibxlRecord::CHECKPOINT_END));
        part.checkpoint_end().unwrap();
        libxl.push((at(&mut part), LibxlRecord::CHECKPOINT_STATE));
        part.checkpoint_state(CheckpointStateId::New).unwrap();
        sw.get_mut().extend_from_slice(&part.inner()[hdr..]);
        let resume = sw.get_mut().len() as u64;
        sw.resume_at(resume).unwrap();
        resumes.push(resume);
    }
    let index = libxc.len() as u64;
    libxc.push((index, sw.position(), LibxcRecord::END));
    *ow.inner() = sw.finish().unwrap();
    libxl.push((ow.inner().len() as u64, LibxlRecord::END));
    Checkpointed {
        bytes: ow.finish().unwrap(),
        libxc,
        libxl,
        resumes,
    }
}

#[test]
fn checkpointed_xl_files_verify_from_a_file_and_a_pipe() {
    let c = checkpointed_xl(3);
    let path = file_with("checkpointed.xl", &c.bytes);
    let p = path.to_str().unwrap();
    for (o, libxl_records) in [
        (run(&["verify", "--strict", p]), 10),
        (run_piped(&["verify", "--strict", "-"], &c.bytes), 10),
        // Leniently, as libxl: nothing after the libxc END of a
        // checkpointed stream is read (libxl__xc_domain_restore_done).
        (run(&["verify", p]), 9),
    ] {
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        let out = stdout(&o);
        assert!(out.contains(&format!("{} records", c.libxc.len())), "{out}");
        assert!(out.contains("6 data pages"), "{out}");
        // The libxl records: LIBXC_CONTEXT, 4 per checkpoint, END.
        assert!(
            out.contains(&format!("xl file with {libxl_records} libxl records")),
            "{out}"
        );
    }
    let o = run(&["stats", "--json", p]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v = &json_lines(&o)[0];
    assert_eq!(v["segments"], 3);
    assert_eq!(v["records_by_type"]["CHECKPOINT"]["count"], 2);
    assert_eq!(v["libxl_records"]["CHECKPOINT_STATE"], 2);
    assert_eq!(v["libxl_records"]["CHECKPOINT_END"], 2);
    // The libxc stream's own octets: not the libxl records in between.
    let libxc_start = c.libxc[0].1 - 40;
    let libxc_end = c.libxc.last().unwrap().1 + 8;
    let span = libxc_end - libxc_start;
    let resumed_gap: u64 = c
        .resumes
        .iter()
        .zip(c.libxc.iter().filter(|r| r.2 == LibxcRecord::CHECKPOINT))
        .map(|(r, cp)| r - (cp.1 + 8))
        .sum();
    assert_eq!(v["bytes"], span - resumed_gap);
}

#[test]
fn dump_lists_every_segment_and_the_checkpoint_records_at_their_offsets() {
    let c = checkpointed_xl(3);
    for o in [
        run(&[
            "dump",
            "--json",
            file_with("checkpointed-dump.xl", &c.bytes)
                .to_str()
                .unwrap(),
        ]),
        run_piped(&["dump", "--json"], &c.bytes),
    ] {
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        let lines = json_lines(&o);
        let mut libxc = Vec::new();
        let mut libxl = Vec::new();
        let mut resumes = Vec::new();
        for l in &lines {
            let off = l["offset"].as_u64().unwrap();
            match l["kind"].as_str().unwrap() {
                "record" | "page_data_run" => {
                    let name = l["type"].as_str().unwrap();
                    let code = LibxcRecord::LAYOUT.by_name(name).unwrap().code;
                    libxc.push((l["index"].as_u64().unwrap(), off, code));
                }
                "libxl_record" => libxl.push((off, l["code"].as_u64().unwrap() as u32)),
                "resume" => resumes.push(off),
                _ => {}
            }
        }
        assert_eq!(libxc, c.libxc);
        // dump reads as a restore does: the libxl END after the libxc END
        // of a checkpointed stream is not read.
        assert_eq!(libxl, c.libxl[..c.libxl.len() - 1]);
        assert_eq!(resumes, c.resumes);
        // The CHECKPOINT_STATE lines carry their id.
        let states: Vec<_> = lines
            .iter()
            .filter(|l| l["type"] == "CHECKPOINT_STATE")
            .map(|l| l["fields"]["id"].as_u64().unwrap())
            .collect();
        assert_eq!(states, [CheckpointStateId::New as u64; 2]);
    }
    // Text: a line saying where the libxc stream resumes, per checkpoint.
    let o = run_piped(&["dump"], &c.bytes);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = stdout(&o);
    for r in &c.resumes {
        assert!(
            text.contains(&format!("libxc stream resumes @0x{r:x}")),
            "{text}"
        );
    }
    assert!(text.contains("CHECKPOINT_STATE length 4 id=0"), "{text}");
}

#[test]
fn an_error_in_the_second_segment_is_reported_at_its_offset() {
    let c = checkpointed_xl(3);
    // The first pfn entry of segment 2's PAGE_DATA gets page type 5.
    let pd = c
        .libxc
        .iter()
        .filter(|r| r.2 == LibxcRecord::PAGE_DATA)
        .nth(1)
        .unwrap();
    assert_eq!(pd.1, c.resumes[0]);
    let entry = pd.1 + 16;
    let mut bytes = c.bytes.clone();
    bytes[entry as usize + 7] |= 0x50;
    let path = file_with("checkpointed-bad.xl", &bytes);
    for o in [
        run(&["verify", "--strict", path.to_str().unwrap()]),
        run_piped(&["verify", "-"], &bytes),
    ] {
        assert_eq!(code(&o), 1, "{}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains(&format!("rule BadPageType, offset {entry} (0x{entry:x})")),
            "{err}"
        );
        assert!(
            err.contains(&format!("record {} (PAGE_DATA, header at {})", pd.0, pd.1)),
            "{err}"
        );
    }
}

#[test]
fn the_real_xl_save_files_verify_and_add_up() {
    // Facts from ../shared/real-streams/README.md.
    let hvm = test_support::real_stream("hvm-1vcpu-128M.xl");
    let o = run(&["verify", "--strict", hvm.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // Xen 4.17 writes HVM_PARAMS after HVM_CONTEXT: a warning in v3.
    assert!(
        stderr(&o).contains("HVM_PARAMS after the HVM_CONTEXT"),
        "{}",
        stderr(&o)
    );
    let o = run(&["stats", "--json", hvm.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let s = &json_lines(&o)[0];
    assert_eq!(s["format"], "xl");
    assert_eq!(s["version"], 3);
    assert_eq!(s["records_by_type"]["PAGE_DATA"]["count"], 1020);
    assert_eq!(s["pfn_entries"], 1_044_480);
    assert_eq!(s["data_pages"], 32_763);
    assert_eq!(s["pages_by_type"]["XTAB"], 1_044_480 - 32_763);
    assert_eq!(s["libxl_records"]["EMULATOR_CONTEXT"], 1);

    let pv = test_support::real_stream("pv64-1vcpu-96M.xl");
    let o = run(&["verify", "--strict", pv.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = run(&["dump", "--json", pv.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let lines = json_lines(&o);
    let run_ = lines.iter().find(|l| l["kind"] == "page_data_run").unwrap();
    assert_eq!(run_["records"], 24);
    assert_eq!(run_["data_pages"], 24_576);
    assert_eq!(run_["pfn_min"], 0);
    assert_eq!(run_["pfn_max"], 0x5fff);
    let p2m = lines
        .iter()
        .find(|l| l["type"] == "X86_PV_P2M_FRAMES")
        .unwrap();
    assert_eq!(p2m["fields"]["end_pfn"], 0x5fff);
    let last = lines.last().unwrap();
    assert_eq!(last["kind"], "libxl_record");
    assert_eq!(last["type"], "END");
    assert_eq!(
        last["offset"].as_u64().unwrap() + 8,
        std::fs::metadata(&pv).unwrap().len()
    );
}

#[test]
fn dump_json_matches_what_was_written() {
    let w = hvm_stream();
    let p = file_with("dump.bin", &w.bytes);
    let from_file = json_lines(&run(&["dump", "--json", p.to_str().unwrap()]));
    let o = run_piped(&["dump", "--json", "-"], &w.bytes);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(json_lines(&o), from_file, "pipe and file dumps differ");
    let lines = from_file;
    // header, SDE, one run for the three PAGE_DATA, TSC, unknown,
    // HVM_PARAMS, HVM_CONTEXT, END.
    assert_eq!(lines.len(), 8, "{lines:#?}");
    let h = &lines[0];
    assert_eq!(h["kind"], "header");
    assert_eq!(h["version"], 3);
    assert_eq!(h["xen_major"], 4);
    assert_eq!(h["xen_minor"], 17);
    assert_eq!(h["domain_type"], DomainType::X86Hvm as u32);

    let run_ = &lines[2];
    assert_eq!(run_["kind"], "page_data_run");
    assert_eq!(run_["records"], 3);
    assert_eq!(run_["index"], w.infos[1].index);
    assert_eq!(run_["last_index"], w.infos[3].index);
    assert_eq!(run_["offset"], w.infos[1].offset);
    assert_eq!(run_["end_offset"], w.infos[3].end_offset());
    let body: u64 = w.infos[1..4].iter().map(|i| u64::from(i.length)).sum();
    assert_eq!(run_["length"], body);
    let all: Vec<u64> = w.batches.concat();
    let pfn = |e: &u64| e & ((1 << 52) - 1);
    assert_eq!(run_["pfn_min"], all.iter().map(pfn).min().unwrap());
    assert_eq!(run_["pfn_max"], all.iter().map(pfn).max().unwrap());
    assert_eq!(run_["pfn_entries"], all.len());
    let xtab = all.iter().filter(|e| *e & XTAB == XTAB).count();
    assert_eq!(run_["data_pages"], all.len() - xtab);
    assert_eq!(run_["pages_by_type"]["XTAB"], xtab);
    assert_eq!(run_["pages_by_type"]["NOTAB"], all.len() - xtab);

    // Every other line is one record, at the offset the writer used.
    let records: Vec<&Value> = lines.iter().filter(|l| l["kind"] == "record").collect();
    let expected: Vec<&RecordInfo> = w
        .infos
        .iter()
        .filter(|i| i.rtype != LibxcRecord::PAGE_DATA)
        .collect();
    assert_eq!(records.len(), expected.len());
    for (l, i) in records.iter().zip(expected) {
        assert_eq!(l["index"], i.index);
        assert_eq!(l["offset"], i.offset);
        assert_eq!(l["code"], i.rtype);
        assert_eq!(l["length"], i.length);
    }
    let tsc = records
        .iter()
        .find(|l| l["type"] == "X86_TSC_INFO")
        .unwrap();
    assert_eq!(tsc["fields"]["khz"], 2_400_000);
    assert_eq!(tsc["fields"]["nsec"], 123_456_789);
    assert_eq!(tsc["fields"]["incarnation"], 7);
    let params = records.iter().find(|l| l["type"] == "HVM_PARAMS").unwrap();
    assert_eq!(params["fields"]["count"], 2);
    // In index order, named after Xen's HVM_PARAM_* macros.
    assert_eq!(
        params["fields"]["params"],
        serde_json::json!([
            {"index": 2, "name": "HVM_PARAM_STORE_EVTCHN", "value": 0xfeff_f000u64},
            {"index": 12, "name": "HVM_PARAM_IDENT_PT", "value": 5},
        ])
    );
    let unknown = records
        .iter()
        .find(|l| l["code"] == UNKNOWN_OPTIONAL)
        .unwrap();
    assert_eq!(unknown["known"], false);
    assert_eq!(unknown["fields"]["body_bytes"], 5);
    assert_eq!(records.last().unwrap()["type"], "END");
    // The HVM context blob's entries, where hvm_blob put them.
    let ctx = records.iter().find(|l| l["type"] == "HVM_CONTEXT").unwrap();
    let entries = ctx["entries"].as_array().unwrap();
    let got: Vec<(String, u64, u64, u64)> = entries
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_string(),
                e["instance"].as_u64().unwrap(),
                e["offset"].as_u64().unwrap(),
                e["length"].as_u64().unwrap(),
            )
        })
        .collect();
    let want: Vec<(String, u64, u64, u64)> = [
        ("HEADER", 0, 0, 24),
        ("CPU", 0, 32, 1032),
        ("PIC", 0, 1072, 8),
        ("PIC", 1, 1088, 8),
        ("END", 0, 1104, 0),
    ]
    .iter()
    .map(|(t, i, o, l)| (t.to_string(), *i, *o, *l))
    .collect();
    assert_eq!(got, want);
    let h = &entries[0]["fields"];
    assert_eq!(h["magic"], 0x5438_1286u32);
    assert_eq!(h["version"], 1);
    assert_eq!(h["cpuid"], 0x60fb1);
    assert_eq!(h["gtsc_khz"], 2_400_000);
    assert_eq!(h["changeset"], u64::MAX);
    assert!(ctx.get("entries_error").is_none());
}

/// A version 4 HVM stream whose DOMAIN_CONTEXT blob holds HEADER,
/// SHARED_INFO (compat, 6 octets of buffer), TSC_INFO and END, in byte
/// order `endian`, with `ctx` as the HVM context blob.
fn v4_stream(endian: Endian, ctx: Vec<u8>, dc_blob: Option<Vec<u8>>) -> Vec<u8> {
    use format_spec::domain_context::{self as dc, DcEntry, DcHeader, DcTscInfo, SharedInfoRef};
    let mut w = StreamWriter::new(
        Vec::new(),
        WriterOptions::new(DomainType::X86Hvm)
            .version(4)
            .endian(endian),
    )
    .unwrap();
    w.write(&LibxcRecord::StaticDataEnd).unwrap();
    w.write_page_data(&[0x10], &[7; PAGE_SIZE]).unwrap();
    w.write(&LibxcRecord::HvmContext(Opaque(ctx))).unwrap();
    let blob = dc_blob.unwrap_or_else(|| {
        let mut b = Vec::new();
        dc::write(
            &[
                DcEntry::Header(DcHeader::new(4, 19)),
                DcEntry::SharedInfo(SharedInfoRef {
                    flags: 1,
                    buffer: &[0xcc; 6],
                }),
                DcEntry::TscInfo(DcTscInfo {
                    mode: 2,
                    incarnation: 3,
                    elapsed_nsec: 44,
                    khz: 1_000_000,
                    _pad: 0,
                }),
                DcEntry::End,
            ],
            endian,
            &mut b,
        )
        .unwrap();
        b
    });
    w.write(&LibxcRecord::DomainContext(Opaque(blob))).unwrap();
    w.finish().unwrap()
}

#[test]
fn dump_shows_the_domain_context_entries() {
    for endian in [Endian::Little, Endian::Big] {
        let bytes = v4_stream(endian, hvm_blob(endian), None);
        let o = run_piped(&["verify", "--strict", "-"], &bytes);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        let o = run_piped(&["dump", "--json", "-"], &bytes);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        let lines = json_lines(&o);
        let rec = lines
            .iter()
            .find(|l| l["type"] == "DOMAIN_CONTEXT")
            .unwrap();
        let e = rec["entries"].as_array().unwrap();
        let types: Vec<&str> = e.iter().map(|x| x["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["HEADER", "SHARED_INFO", "TSC_INFO", "END"]);
        // Offsets and lengths as the blob layout has them: 8-octet
        // descriptors, bodies padded to 8 (HEADER 12 -> 16, SHARED_INFO
        // 8 + 6 -> 16, TSC_INFO 24).
        let at: Vec<(u64, u64)> = e
            .iter()
            .map(|x| (x["offset"].as_u64().unwrap(), x["length"].as_u64().unwrap()))
            .collect();
        assert_eq!(at, [(0, 16), (24, 16), (48, 24), (80, 0)]);
        assert_eq!(e[0]["fields"]["magic"], 0x5341_5645u32);
        assert_eq!(e[0]["fields"]["version"], 1);
        assert_eq!(e[0]["fields"]["xen_major"], 4);
        assert_eq!(e[0]["fields"]["xen_minor"], 19);
        assert_eq!(e[1]["fields"]["flags"], 1);
        assert_eq!(e[1]["fields"]["compat"], true);
        assert_eq!(e[1]["fields"]["buffer_size"], 6);
        let t = &e[2]["fields"];
        assert_eq!(
            (&t["mode"], &t["incarnation"], &t["elapsed_nsec"], &t["khz"]),
            (&2.into(), &3.into(), &44.into(), &1_000_000.into())
        );
        let o = run_piped(&["dump", "-"], &bytes);
        let out = stdout(&o);
        assert!(
            out.contains(
                "\n    [1] +0x18 SHARED_INFO instance 0 length 16 flags=0x1 compat=true buffer_size=6\n"
            ),
            "{out}"
        );
        assert!(
            out.contains("    [2] +0x30 TSC_INFO instance 0 length 24 mode=2 incarnation=3 elapsed_nsec=44 khz=1000000\n"),
            "{out}"
        );
    }
}

#[test]
fn dump_shows_a_broken_blob_with_its_error() {
    // An HVM context blob cut inside its CPU entry, and a DOMAIN_CONTEXT
    // blob with a bad magic: dump (lenient) shows what it could read and
    // the error; verify --strict refuses the stream.
    let mut ctx = hvm_blob(Endian::Little);
    ctx.truncate(100);
    let mut dcb = Vec::new();
    format_spec::domain_context::write(
        &[
            format_spec::domain_context::DcEntry::Header(
                format_spec::domain_context::DcHeader::new(4, 17),
            ),
            format_spec::domain_context::DcEntry::End,
        ],
        Endian::Little,
        &mut dcb,
    )
    .unwrap();
    dcb[8] ^= 0xff;
    let bytes = v4_stream(Endian::Little, ctx, Some(dcb));
    let o = run_piped(&["dump", "--json", "-"], &bytes);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let lines = json_lines(&o);
    let hvm = lines.iter().find(|l| l["type"] == "HVM_CONTEXT").unwrap();
    assert_eq!(hvm["entries"].as_array().unwrap().len(), 1, "{hvm}");
    assert_eq!(hvm["entries_error"]["rule"], "Overrun");
    assert_eq!(hvm["entries_error"]["offset"], 32);
    assert_eq!(hvm["entries_error"]["entry"], 1);
    let dc = lines
        .iter()
        .find(|l| l["type"] == "DOMAIN_CONTEXT")
        .unwrap();
    assert_eq!(dc["entries"].as_array().unwrap().len(), 0);
    assert_eq!(dc["entries_error"]["rule"], "BadMagic");
    assert_eq!(dc["entries_error"]["offset"], 8);
    let out = stdout(&run_piped(&["dump", "-"], &bytes));
    assert!(
        out.contains("\n    blob does not parse: entry 1, offset 0x20: "),
        "{out}"
    );
    let o = run_piped(&["verify", "--strict", "-"], &bytes);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("HvmContext"), "{}", stderr(&o));
}

#[test]
fn dump_shows_the_real_hvm_context() {
    // Xen 4.17's HVM context of one vCPU: the entry types of the real file
    // (../shared/real-streams), each descriptor right after the previous
    // body, the last one END at the end of the blob.
    let hvm = test_support::real_stream("hvm-1vcpu-128M.xl");
    let o = run(&["dump", "--json", hvm.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let lines = json_lines(&o);
    let rec = lines.iter().find(|l| l["type"] == "HVM_CONTEXT").unwrap();
    let e = rec["entries"].as_array().unwrap();
    let types: Vec<&str> = e.iter().map(|x| x["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "HEADER",
            "CPU",
            "PIC",
            "PIC",
            "IOAPIC",
            "LAPIC",
            "LAPIC_REGS",
            "PCI_IRQ",
            "ISA_IRQ",
            "PCI_LINK",
            "PIT",
            "RTC",
            "HPET",
            "PMTIMER",
            "MTRR",
            "VMCE_VCPU",
            "TSC_ADJUST",
            "END"
        ]
    );
    let mut next = 0;
    for x in e {
        assert_eq!(x["offset"].as_u64().unwrap(), next, "{x}");
        next += 8 + x["length"].as_u64().unwrap();
    }
    assert_eq!(next, rec["length"].as_u64().unwrap());
    assert_eq!(e[0]["fields"]["magic"], 0x5438_1286u32);
    assert_eq!(e[3]["instance"], 1);
}

#[test]
fn dump_text_has_one_line_per_record_and_run() {
    let w = hvm_stream();
    let p = file_with("dump-text.bin", &w.bytes);
    let o = run(&["dump", p.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    // Seven record lines and a run, plus the five HVM context entries
    // indented under their record.
    assert_eq!(lines.len(), 13, "{out}");
    assert!(lines[0].contains("v3"), "{out}");
    assert!(lines[0].contains("Xen 4.17"), "{out}");
    assert!(
        lines[2].starts_with(&format!("#1-#3 @0x{:x} PAGE_DATA x3", w.infos[1].offset)),
        "{out}"
    );
    assert!(lines[2].contains("pfns 0x100-0x117"), "{out}");
    assert!(lines[3].contains("X86_TSC_INFO") && lines[3].contains("khz=2400000"));
    assert!(lines[6].contains("HVM_CONTEXT"), "{out}");
    assert!(
        lines[7].starts_with("    [0] +0x0 HEADER instance 0 length 24 magic=0x54381286"),
        "{out}"
    );
    assert!(lines[8].starts_with("    [1] +0x20 CPU instance 0 length 1032"));
    assert!(lines[10].starts_with("    [3] +0x440 PIC instance 1 length 8"));
    assert!(lines[11].starts_with("    [4] +0x450 END instance 0 length 0"));
    assert!(lines[12].starts_with("#8 ") && lines[12].contains("END"));
}

#[test]
fn dump_prints_what_it_read_then_the_error() {
    let w = hvm_stream();
    let (bad, at) = with_bad_page_type(&w, 0);
    let p = file_with("dump-bad.bin", &bad);
    let o = run(&["dump", "--json", p.to_str().unwrap()]);
    assert_eq!(code(&o), 1);
    let lines = json_lines(&o);
    assert_eq!(lines.len(), 3, "header, STATIC_DATA_END and the error");
    assert_eq!(lines[1]["type"], "STATIC_DATA_END");
    assert_eq!(lines[2]["kind"], "error");
    assert_eq!(lines[2]["rule"], "BadPageType");
    assert_eq!(lines[2]["offset"], at);
    assert!(
        stderr(&o).contains(&format!("offset {at} ")),
        "{}",
        stderr(&o)
    );
}

#[test]
fn stats_json_counts_what_was_written() {
    let w = hvm_stream();
    let p = file_with("stats.bin", &w.bytes);
    for o in [
        run(&["stats", "--json", p.to_str().unwrap()]),
        run_piped(&["stats", "--json"], &w.bytes),
    ] {
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        let s = &json_lines(&o)[0];
        assert_eq!(s["bytes"], w.bytes.len());
        assert_eq!(s["records"], w.infos.len());
        assert_eq!(s["unknown_optional"], 1);
        assert_eq!(s["version"], 3);
        let all: Vec<u64> = w.batches.concat();
        let xtab = all.iter().filter(|e| *e & XTAB == XTAB).count();
        assert_eq!(s["pfn_entries"], all.len());
        assert_eq!(s["data_pages"], all.len() - xtab);
        assert_eq!(s["pages_by_type"]["XTAB"], xtab);
        assert_eq!(s["pages_by_type"]["NOTAB"], all.len() - xtab);
        let pd = &s["records_by_type"]["PAGE_DATA"];
        assert_eq!(pd["count"], 3);
        assert_eq!(pd["code"], LibxcRecord::PAGE_DATA);
        let body: u64 = w.infos[1..4].iter().map(|i| u64::from(i.length)).sum();
        assert_eq!(pd["bytes"], body);
        let ctx = &s["records_by_type"]["HVM_CONTEXT"];
        assert_eq!(ctx["count"], 1);
        assert_eq!(ctx["bytes"], hvm_blob(Endian::Little).len());
        assert_eq!(s["records_by_type"]["END"]["count"], 1);
    }
}

#[test]
fn stats_text_lists_pages_and_records() {
    let w = hvm_stream();
    let p = file_with("stats-text.bin", &w.bytes);
    let o = run(&["stats", p.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains(&format!("{} octets", w.bytes.len())), "{out}");
    assert!(out.contains("XTAB"), "{out}");
    assert!(out.contains("data pages: 18"), "{out}");
    let pd = out
        .lines()
        .find(|l| l.trim_start().starts_with("PAGE_DATA"))
        .unwrap();
    assert_eq!(pd.split_whitespace().nth(1), Some("3"), "{pd}");
}

#[test]
fn records_lists_every_record_type_of_the_description() {
    let o = run(&["records"]);
    assert_eq!(code(&o), 0);
    let out = stdout(&o);
    for r in LibxcRecord::LAYOUT.records {
        assert!(out.contains(r.spec_name), "{} missing", r.spec_name);
    }
}

#[test]
fn every_subcommand_has_help() {
    for cmd in ["verify", "dump", "stats", "records"] {
        let o = run(&[cmd, "--help"]);
        assert_eq!(code(&o), 0, "{cmd}");
        assert!(stdout(&o).contains("Usage: xenstream"), "{cmd}");
    }
    let o = run(&["verify", "--help"]);
    assert!(stdout(&o).contains("--strict"));
    // The help names the description's versions and page size.
    use format_spec::libxc::{DOMAIN_CONTEXT_SINCE, STATIC_DATA_END_SINCE};
    let (no_sde, dc) = (STATIC_DATA_END_SINCE - 1, DOMAIN_CONTEXT_SINCE);
    let choice = format!("{no_sde}, {} or {dc}", dc - 1);
    let vs = format_spec::libxc::SUPPORTED_VERSIONS.map(|v| v.to_string());
    let o = run(&["convert", "--help"]);
    assert!(stdout(&o).contains(&format!("The version to write ({choice})")));
    assert!(stdout(&o).contains(&format!("libxc stream version {choice}")));
    let o = run(&["--help"]);
    let range = format!("(versions {} to {})", vs[0], vs[vs.len() - 1]);
    assert!(stdout(&o).contains(&range), "{range}");
    let o = run(&["page", "--help"]);
    assert!(stdout(&o).contains(&format!("page's {PAGE_SIZE} octets")));
}

#[test]
fn no_progress_output_when_stderr_is_not_a_terminal() {
    // Big enough to take a while through a debug build, and no warnings:
    // standard error must stay empty.
    let mut w = StreamWriter::new(
        Vec::new(),
        WriterOptions::new(DomainType::X86Hvm).version(3),
    )
    .unwrap();
    w.write(&LibxcRecord::StaticDataEnd).unwrap();
    let pfns: Vec<u64> = (0..1024).collect();
    let pages = vec![0u8; 1024 * PAGE_SIZE];
    for _ in 0..16 {
        w.write_page_data(&pfns, &pages).unwrap();
    }
    let bytes = w.finish().unwrap();
    let o = run_piped(&["verify", "-q", "--strict"], &bytes);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(o.stderr.is_empty(), "{}", stderr(&o));
}

#[test]
fn dump_lists_the_xenstore_pairs_of_emulator_records() {
    let w = hvm_stream();
    let pre = XlPreamble::with_json_config(Endian::Little, "{\"c_info\": {}}");
    let mut ow = OuterWriter::xl(Vec::new(), &pre).unwrap();
    ow.libxc_context().unwrap().extend_from_slice(&w.bytes);
    let pairs = [
        ("physmap/1/start_addr", "f0000000"),
        ("physmap/1/size", "800000"),
    ];
    ow.emulator_xenstore_data(EmulatorId::QemuUpstream, 0, &pairs)
        .unwrap();
    let p = file_with("xenstore.xl", &ow.finish().unwrap());

    let o = run(&["dump", "--json", p.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let lines = json_lines(&o);
    let rec = lines
        .iter()
        .find(|l| l["type"] == "EMULATOR_XENSTORE_DATA")
        .expect("the xenstore record is dumped");
    for (k, v) in pairs {
        assert_eq!(rec["fields"]["xenstore"][k], v, "{rec}");
    }

    let o = run(&["dump", p.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("physmap/1/start_addr") && text.contains("f0000000"),
        "{text}"
    );
}
