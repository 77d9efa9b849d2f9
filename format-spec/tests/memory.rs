//! Guest memory out of a stream: synthetic streams (pages sent twice,
//! dropped, re-sent; checkpointed; broken off) checked byte for byte
//! against a model written from the spec's rules, the ELF core parsed by
//! hand and by `readelf`, and the two real Xen save files.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Cursor, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::Command;

use format_spec::binrw::Endian;
use format_spec::body::Opaque;
use format_spec::libxc::{DomainType, LibxcRecord, PageType, PAGE_SIZE};
use format_spec::libxl::EmulatorId;
use format_spec::memory::{
    extract, extract_save_file, Checkpoint, ElfSink, ExtractOptions, ImageState, MemoryError,
    OnePage, PageSink, PageState, PfnSet, RawSink, Summary,
};
use format_spec::outer::{FormatChoice, OuterWriter};
use format_spec::stream::{ReaderOptions, StreamReader, StreamWriter, WriterOptions};
use format_spec::xl::XlPreamble;
use proptest::prelude::*;

const PS: u64 = PAGE_SIZE as u64;
// Page types by their numeric values in the spec's table.
const L1: u64 = 0x1 << 60;
const L2PIN: u64 = 0xa << 60;
const BROKEN: u64 = 0xd << 60;
const XALLOC: u64 = 0xe << 60;
const XTAB: u64 = 0xf << 60;

/// Contents of the `serial`-th page copy of a stream for `pfn`: unique per
/// copy, so a misplaced or stale page shows.
fn content(pfn: u64, serial: u64) -> Vec<u8> {
    let mut p = vec![(pfn as u8) ^ (serial as u8).wrapping_mul(37) | 1; PAGE_SIZE];
    p[..8].copy_from_slice(&pfn.to_le_bytes());
    p[8..16].copy_from_slice(&serial.to_le_bytes());
    p
}

/// Whether an entry's type carries contents: every type but BROKEN (0xd),
/// XALLOC (0xe) and XTAB (0xf).
fn has_data(e: u64) -> bool {
    (e >> 60) < 0xd
}

#[derive(Clone, Debug)]
enum Op {
    Pages(Vec<u64>),
    Checkpoint,
}

/// What the stream should leave, computed independently of the library.
#[derive(Default, Clone, Debug, PartialEq)]
struct Model {
    pages: BTreeMap<u64, Vec<u8>>,
    copies: u64,
    superseded: u64,
    dropped: u64,
    records: u64,
    by_type: [u64; 16],
}

impl Model {
    fn runs(&self) -> Vec<(u64, u64)> {
        let mut runs: Vec<(u64, u64)> = Vec::new();
        for &pfn in self.pages.keys() {
            match runs.last_mut() {
                Some((first, n)) if *first + *n == pfn => *n += 1,
                _ => runs.push((pfn, 1)),
            }
        }
        runs
    }

    fn check(&self, s: &Summary) {
        assert_eq!(s.pages, self.pages.len() as u64, "pages");
        assert_eq!(s.copies, self.copies, "copies");
        assert_eq!(s.superseded, self.superseded, "superseded");
        assert_eq!(s.dropped, self.dropped, "dropped");
        assert_eq!(s.records, self.records, "records");
        assert_eq!(s.by_type, self.by_type, "by_type");
        assert_eq!(s.ranges, self.runs(), "ranges");
    }
}

/// Applies `ops` up to the `stop`-th checkpoint (None: all).
fn model(ops: &[Op], stop: Option<u64>) -> Model {
    let mut m = Model::default();
    let mut serial = 0;
    let mut cps = 0;
    for op in ops {
        match op {
            Op::Checkpoint => {
                cps += 1;
                if Some(cps) == stop {
                    break;
                }
            }
            Op::Pages(entries) => {
                m.records += 1;
                for &e in entries {
                    let pfn = e & ((1 << 52) - 1);
                    m.by_type[(e >> 60) as usize] += 1;
                    if has_data(e) {
                        m.copies += 1;
                        if m.pages.insert(pfn, content(pfn, serial)).is_some() {
                            m.superseded += 1;
                        }
                        serial += 1;
                    } else if (e >> 60 == 0xf || e >> 60 == 0xd) && m.pages.remove(&pfn).is_some() {
                        m.dropped += 1;
                    }
                }
            }
        }
    }
    m
}

/// Writes `ops` as a version 3 HVM stream; `end`: with the END record.
fn stream(ops: &[Op], end: bool) -> Vec<u8> {
    stream_parts(ops, end).0
}

/// Like [`stream`], also returning the offsets just after each CHECKPOINT.
fn stream_parts(ops: &[Op], end: bool) -> (Vec<u8>, Vec<usize>) {
    let mut w = StreamWriter::new(
        Vec::new(),
        WriterOptions::new(DomainType::X86Hvm).version(3),
    )
    .unwrap();
    w.write(&LibxcRecord::StaticDataEnd).unwrap();
    let mut serial = 0;
    let mut splits = Vec::new();
    for op in ops {
        match op {
            Op::Checkpoint => {
                w.write(&LibxcRecord::HvmContext(Opaque(vec![1; 8])))
                    .unwrap();
                w.checkpoint().unwrap();
                splits.push(w.position() as usize);
            }
            Op::Pages(entries) => {
                let mut data = Vec::new();
                for &e in entries {
                    if has_data(e) {
                        data.extend(content(e & ((1 << 52) - 1), serial));
                        serial += 1;
                    }
                }
                w.write_page_data(entries, &data).unwrap();
            }
        }
    }
    let before_end = w.position() as usize;
    w.write(&LibxcRecord::HvmContext(Opaque(vec![1; 8])))
        .unwrap();
    let mut bytes = w.finish().unwrap();
    if !end {
        bytes.truncate(before_end);
    }
    (bytes, splits)
}

/// Wraps a libxc stream in an `xl save` file: xl header, libxl header,
/// LIBXC_CONTEXT, and after each CHECKPOINT an emulator record and
/// CHECKPOINT_END, as a checkpointed stream has them; libxl END last.
fn xl_file(libxc: &[u8], splits: &[usize]) -> Vec<u8> {
    let pre = XlPreamble::with_json_config(Endian::Little, "{\"c_info\": {}}");
    let mut w = OuterWriter::xl(Vec::new(), &pre).unwrap();
    w.libxc_context().unwrap();
    let mut start = 0;
    for &at in splits {
        w.inner().extend_from_slice(&libxc[start..at]);
        w.emulator_context(EmulatorId::QemuUpstream, 0, b"device model state")
            .unwrap();
        w.checkpoint_end().unwrap();
        start = at;
    }
    w.inner().extend_from_slice(&libxc[start..]);
    w.finish().unwrap()
}

fn run_file<S: PageSink>(
    file: &[u8],
    sink: S,
    cp: Checkpoint,
) -> Result<(S::Output, Summary), MemoryError> {
    let opts = ExtractOptions {
        checkpoint: cp,
        journal_dir: Some(tmp("")),
    };
    extract_save_file(file, FormatChoice::Auto, sink, &opts)
}

/// Pages sent twice, dropped (XTAB, BROKEN), left alone (XALLOC), re-sent
/// after a drop, page-table types, and runs broken by gaps and order.
fn resend_ops() -> Vec<Op> {
    vec![
        Op::Pages(vec![0, 1, 2, 3, 10, 11, 5, L1 | 6, 7]),
        Op::Pages(vec![1, 11, L2PIN | 12]),
        Op::Pages(vec![
            XTAB | 2,
            BROKEN | 3,
            XALLOC | 5,
            XALLOC | 20,
            XTAB | 40,
            13,
        ]),
        Op::Pages(vec![2, 1, XTAB | 12]),
    ]
}

fn run<S: PageSink>(
    bytes: &[u8],
    sink: S,
    cp: Checkpoint,
) -> Result<(S::Output, Summary), MemoryError> {
    let mut r = StreamReader::new(bytes).unwrap();
    let opts = ExtractOptions {
        checkpoint: cp,
        journal_dir: Some(tmp("")),
    };
    extract(&mut r, sink, &opts)
}

fn raw(bytes: &[u8], cp: Checkpoint) -> (Vec<u8>, Summary) {
    let (out, sum) = run(bytes, RawSink::new(Cursor::new(Vec::new())), cp).unwrap();
    (out.into_inner(), sum)
}

/// The raw image holds the model's pages at pfn * 4096 and zeros elsewhere.
fn check_raw(image: &[u8], m: &Model) {
    assert_eq!(image.len() % PAGE_SIZE, 0);
    let last = m.pages.keys().next_back().copied().unwrap_or(0);
    assert!(image.len() as u64 >= (last + 1) * PS);
    for (i, page) in image.chunks(PAGE_SIZE).enumerate() {
        match m.pages.get(&(i as u64)) {
            Some(want) => assert!(page == &want[..], "pfn {i}: wrong contents"),
            None => assert!(page.iter().all(|b| *b == 0), "pfn {i}: should be zeros"),
        }
    }
}

fn tmp(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("memory-tests");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn raw_image_holds_the_last_copy_of_every_pfn() {
    let ops = resend_ops();
    let m = model(&ops, None);
    // The model itself: pfn 1 is the copy of record 4, pfn 3 is gone.
    assert_eq!(m.pages[&1][8..16], 14u64.to_le_bytes());
    assert!(!m.pages.contains_key(&3) && !m.pages.contains_key(&12));
    assert!(m.pages.contains_key(&2) && m.pages.contains_key(&5));
    let (image, sum) = raw(&stream(&ops, true), Checkpoint::Last);
    check_raw(&image, &m);
    m.check(&sum);
    assert_eq!(sum.state, ImageState::End);
    assert_eq!((sum.superseded, sum.dropped), (3, 3));
    assert_eq!(sum.ranges, [(0, 3), (5, 3), (10, 2), (13, 1)]);
    // pfn 12 (dropped, highest page written) is zeros at the end.
    assert_eq!(image.len() as u64, 14 * PS);
}

/// A hand-written ELF64 reader: header fields and PT_LOAD entries.
struct Elf {
    phoff: u64,
    phnum: u64,
    loads: Vec<(u64, u64, u64, u64, u64)>, // offset, vaddr, paddr, filesz, memsz
}

fn le16(b: &[u8], at: u64) -> u64 {
    u16::from_le_bytes(b[at as usize..at as usize + 2].try_into().unwrap()) as u64
}
fn le32(b: &[u8], at: u64) -> u64 {
    u32::from_le_bytes(b[at as usize..at as usize + 4].try_into().unwrap()) as u64
}
fn le64(b: &[u8], at: u64) -> u64 {
    u64::from_le_bytes(b[at as usize..at as usize + 8].try_into().unwrap())
}

fn parse_elf(b: &[u8]) -> Elf {
    assert_eq!(&b[..4], b"\x7fELF");
    assert_eq!(b[4], 2, "ELFCLASS64");
    assert_eq!(b[5], 1, "ELFDATA2LSB");
    assert_eq!(b[6], 1, "EV_CURRENT");
    assert_eq!(le16(b, 16), 4, "ET_CORE");
    assert_eq!(le16(b, 18), 62, "EM_X86_64");
    assert_eq!(le32(b, 20), 1, "e_version");
    assert_eq!(le16(b, 52), 64, "e_ehsize");
    assert_eq!(le16(b, 54), 56, "e_phentsize");
    let phoff = le64(b, 32);
    let mut phnum = le16(b, 56);
    if phnum == 0xffff {
        let shoff = le64(b, 40);
        assert_eq!(le16(b, 58), 64, "e_shentsize");
        assert_eq!(le16(b, 60), 1, "e_shnum");
        assert_eq!(le32(b, shoff + 4), 0, "SHT_NULL");
        phnum = le32(b, shoff + 44);
    } else {
        assert_eq!(le64(b, 40), 0, "no section headers");
    }
    let mut loads = Vec::new();
    for i in 0..phnum {
        let p = phoff + i * 56;
        assert_eq!(le32(b, p), 1, "PT_LOAD");
        assert_eq!(le64(b, p + 48), PS, "p_align");
        loads.push((
            le64(b, p + 8),
            le64(b, p + 16),
            le64(b, p + 24),
            le64(b, p + 32),
            le64(b, p + 40),
        ));
    }
    Elf {
        phoff,
        phnum,
        loads,
    }
}

/// Every PT_LOAD maps exactly the model's runs, with the pages at p_offset.
fn check_elf(b: &[u8], m: &Model) {
    let elf = parse_elf(b);
    assert_eq!(elf.phnum, m.runs().len() as u64);
    assert!(elf.phoff.is_multiple_of(8) && elf.phoff >= 4096);
    let mut covered = 0;
    for ((off, vaddr, paddr, filesz, memsz), (first, n)) in elf.loads.iter().zip(m.runs()) {
        assert_eq!(*paddr, first * PS, "p_paddr");
        assert_eq!(vaddr, paddr, "p_vaddr");
        assert_eq!((*filesz, *memsz), (n * PS, n * PS));
        assert_eq!(off % PS, 0);
        assert!(off + filesz <= elf.phoff, "segment overlaps the headers");
        for k in 0..n {
            let at = (off + k * PS) as usize;
            assert!(
                b[at..at + PAGE_SIZE] == m.pages[&(first + k)][..],
                "pfn {}: wrong contents",
                first + k
            );
            covered += 1;
        }
    }
    assert_eq!(covered, m.pages.len());
}

#[test]
fn elf_core_maps_every_present_page() {
    let ops = resend_ops();
    let m = model(&ops, None);
    let (out, sum) = run(
        &stream(&ops, true),
        ElfSink::new(Cursor::new(Vec::new())),
        Checkpoint::Last,
    )
    .unwrap();
    m.check(&sum);
    check_elf(&out.into_inner(), &m);
}

/// `readelf -l -W` output: (offset, vaddr, paddr, filesz, memsz) per LOAD.
fn readelf_loads(path: &Path) -> Vec<(u64, u64, u64, u64, u64)> {
    let out = Command::new("readelf")
        .args(["-l", "-W"])
        .arg(path)
        .output()
        .expect("run readelf (binutils)");
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && err.trim().is_empty(),
        "readelf: {err}"
    );
    assert!(text.contains("Elf file type is CORE"), "{text}");
    text.lines()
        .filter(|l| l.trim_start().starts_with("LOAD"))
        .map(|l| {
            let f: Vec<u64> = l
                .split_whitespace()
                .skip(1)
                .take(5)
                .map(|x| u64::from_str_radix(x.trim_start_matches("0x"), 16).unwrap())
                .collect();
            (f[0], f[1], f[2], f[3], f[4])
        })
        .collect()
}

fn extract_file<S: PageSink>(input: &[u8], make: impl FnOnce(File) -> S, path: &Path) -> Summary {
    let f = File::create(path).unwrap();
    run(input, make(f), Checkpoint::Last).unwrap().1
}

#[test]
fn readelf_lists_the_expected_load_segments() {
    let ops = resend_ops();
    let m = model(&ops, None);
    let path = tmp("resend.core");
    extract_file(&stream(&ops, true), ElfSink::new, &path);
    let loads = readelf_loads(&path);
    let want: Vec<_> = m
        .runs()
        .iter()
        .map(|&(first, n)| (4096 + first * PS, first * PS, first * PS, n * PS, n * PS))
        .collect();
    assert_eq!(loads, want);
    check_elf(&std::fs::read(&path).unwrap(), &m);
}

#[test]
fn gdb_reads_physical_memory_from_the_core() {
    // .ci/run installs gdb; a machine without it fails here rather than
    // passing without the check.
    assert!(
        Command::new("gdb").arg("--version").output().is_ok(),
        "gdb is not installed (the package is gdb)"
    );
    let ops = resend_ops();
    let m = model(&ops, None);
    let path = tmp("gdb.core");
    extract_file(&stream(&ops, true), ElfSink::new, &path);
    // The first 8 octets of each page are its pfn (see `content`).
    let out = Command::new("gdb")
        .args(["-nx", "-batch", "-ex"])
        .arg(format!("core-file {}", path.display()))
        .args(["-ex", "x/1gx 0xd000", "-ex", "x/1gx 0x1008"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("0xd000:\t0x000000000000000d"),
        "gdb said: {text}"
    );
    let serial = u64::from_le_bytes(m.pages[&1][8..16].try_into().unwrap());
    assert!(
        text.contains(&format!("0x1008:\t{serial:#018x}")),
        "gdb said: {text}"
    );
}

#[test]
fn a_file_sink_gives_the_same_bytes_as_a_memory_sink() {
    let bytes = stream(&resend_ops(), true);
    for elf in [false, true] {
        let path = tmp(if elf { "same.core" } else { "same.raw" });
        let mem = if elf {
            extract_file(&bytes, ElfSink::new, &path);
            run(
                &bytes,
                ElfSink::new(Cursor::new(Vec::new())),
                Checkpoint::Last,
            )
            .unwrap()
            .0
            .into_inner()
        } else {
            extract_file(&bytes, RawSink::new, &path);
            raw(&bytes, Checkpoint::Last).0
        };
        assert_eq!(std::fs::read(&path).unwrap(), mem);
    }
}

#[test]
fn raw_file_leaves_holes_for_pages_never_sent() {
    // pfn 0 and pfn 4096: a 16 MiB file with two pages of data.
    let ops = vec![Op::Pages(vec![0, 4096])];
    let path = tmp("holes.raw");
    extract_file(&stream(&ops, true), RawSink::new, &path);
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(meta.len(), 4097 * PS);
    use std::os::unix::fs::MetadataExt;
    // Allocated blocks (512 octets each) well below the file's length.
    assert!(meta.blocks() * 512 < 1 << 20, "{} blocks", meta.blocks());
    check_raw(&std::fs::read(&path).unwrap(), &model(&ops, None));
}

fn checkpointed_ops() -> Vec<Op> {
    vec![
        Op::Pages(vec![0, 1, 2, 3]),
        Op::Checkpoint,
        Op::Pages(vec![1, XTAB | 2]),
        Op::Pages(vec![8]),
        Op::Checkpoint,
        Op::Pages(vec![0, 2, XTAB | 8]),
        Op::Checkpoint,
        Op::Pages(vec![3, 9]),
    ]
}

#[test]
fn checkpoint_n_is_the_state_after_the_nth_checkpoint() {
    let ops = checkpointed_ops();
    let bytes = stream(&ops, true);
    for n in 1..=3 {
        let m = model(&ops, Some(n));
        let (image, sum) = raw(&bytes, Checkpoint::Nth(n));
        check_raw(&image, &m);
        m.check(&sum);
        assert_eq!((sum.state, sum.checkpoints), (ImageState::Checkpoint(n), n));
        let (core, _) = run(
            &bytes,
            ElfSink::new(Cursor::new(Vec::new())),
            Checkpoint::Nth(n),
        )
        .unwrap();
        check_elf(&core.into_inner(), &m);
    }
    // The default: everything up to END, through the staging journal.
    let m = model(&ops, None);
    let (image, sum) = raw(&bytes, Checkpoint::Last);
    check_raw(&image, &m);
    m.check(&sum);
    assert_eq!(
        (sum.state, sum.checkpoints, sum.abandoned.as_deref()),
        (ImageState::End, 3, None)
    );
    // The models differ, so the checks above tell the states apart.
    assert_ne!(model(&ops, Some(2)).pages, m.pages);
    match run(&bytes, OnePage::new(0), Checkpoint::Nth(4)) {
        Err(MemoryError::NoSuchCheckpoint {
            asked: 4,
            found: 3,
            how: "ended",
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_stream_broken_off_after_a_checkpoint_gives_the_last_complete_one() {
    let ops = checkpointed_ops();
    let full = stream(&ops, false); // no END: the last segment is unfinished
    let m3 = model(&ops, Some(3));
    // Cut at the end of the last PAGE_DATA, and in its middle.
    for cut in [full.len(), full.len() - 1000] {
        let (image, sum) = raw(&full[..cut], Checkpoint::Last);
        check_raw(&image, &m3);
        m3.check(&sum);
        assert_eq!(sum.state, ImageState::Checkpoint(3));
        let why = sum.abandoned.expect("the summary says what was left out");
        assert!(why.contains("after checkpoint 3"), "{why}");
    }
}

#[test]
fn a_stream_broken_off_before_any_checkpoint_is_an_error() {
    let ops = resend_ops();
    let full = stream(&ops, false);
    match run(&full[..full.len() - 100], OnePage::new(0), Checkpoint::Last) {
        Err(MemoryError::Stream(e)) => {
            assert_eq!(e.kind(), format_spec::stream::ErrorKind::Truncated, "{e}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn one_page_sink_reports_present_dropped_without_contents_and_never_sent() {
    let ops = resend_ops();
    let m = model(&ops, None);
    let bytes = stream(&ops, true);
    let page = |pfn| run(&bytes, OnePage::new(pfn), Checkpoint::Last).unwrap().0;
    assert_eq!(page(1), PageState::Present(m.pages[&1].clone()));
    assert_eq!(page(13), PageState::Present(m.pages[&13].clone()));
    assert_eq!(page(3), PageState::Dropped(PageType::Broken));
    assert_eq!(page(12), PageState::Dropped(PageType::Xtab));
    // XALLOC changes nothing of a page that has contents.
    assert_eq!(page(5), PageState::Present(m.pages[&5].clone()));
    // Sent, but never with contents: what was sent is named.
    assert_eq!(page(20), PageState::WithoutContents(PageType::Xalloc));
    assert_eq!(page(40), PageState::WithoutContents(PageType::Xtab));
    assert_eq!(page(1 << 40), PageState::NeverSent);
}

#[test]
fn a_pfn_beyond_any_file_offset_is_an_error_not_an_allocation() {
    let pfn = (1u64 << 52) - 1;
    let bytes = stream(&[Op::Pages(vec![pfn])], true);
    for elf in [false, true] {
        let res = if elf {
            run(
                &bytes,
                ElfSink::new(Cursor::new(Vec::new())),
                Checkpoint::Last,
            )
            .map(|_| ())
        } else {
            run(
                &bytes,
                RawSink::new(Cursor::new(Vec::new())),
                Checkpoint::Last,
            )
            .map(|_| ())
        };
        match res {
            Err(MemoryError::Output { pfn: p, source }) => {
                assert_eq!(p, pfn);
                assert!(source.to_string().contains("largest offset"), "{source}");
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn more_than_0xffff_segments_use_pn_xnum() {
    // 0x10000 single-page runs (every other pfn): e_phnum overflows.
    let runs = 0x10000u64;
    let path_in = tmp("xnum.stream");
    {
        let out = std::io::BufWriter::new(File::create(&path_in).unwrap());
        let mut w =
            StreamWriter::new(out, WriterOptions::new(DomainType::X86Hvm).version(3)).unwrap();
        w.write(&LibxcRecord::StaticDataEnd).unwrap();
        let pages = vec![0x5au8; 1024 * PAGE_SIZE];
        for r in 0..runs / 1024 {
            let pfns: Vec<u64> = (0..1024).map(|i| 2 * (r * 1024 + i)).collect();
            w.write_page_data(&pfns, &pages).unwrap();
        }
        w.write(&LibxcRecord::HvmContext(Opaque(vec![1; 8])))
            .unwrap();
        w.finish().unwrap();
    }
    let path = tmp("xnum.core");
    let mut r = StreamReader::with_options(
        BufReader::new(File::open(&path_in).unwrap()),
        ReaderOptions::default(),
    )
    .unwrap();
    let (_, sum) = extract(
        &mut r,
        ElfSink::new(File::create(&path).unwrap()),
        &ExtractOptions::default(),
    )
    .unwrap();
    assert_eq!(sum.ranges.len() as u64, runs);
    let b = std::fs::read(&path).unwrap();
    assert_eq!(le16(&b, 56), 0xffff);
    let elf = parse_elf(&b);
    assert_eq!(elf.phnum, runs);
    for (i, l) in elf.loads.iter().enumerate() {
        assert_eq!(l.2, 2 * i as u64 * PS);
    }
    let loads = readelf_loads(&path);
    assert_eq!(loads.len() as u64, runs);
    assert_eq!(loads[0xffff].2, 2 * 0xffff * PS);
    std::fs::remove_file(&path_in).unwrap();
    std::fs::remove_file(&path).unwrap();
}

proptest! {
    #[test]
    fn pfn_set_matches_a_btreeset(ops in prop::collection::vec((any::<bool>(), 0u64..20_000), 0..400)) {
        let mut set = PfnSet::new();
        let mut model = std::collections::BTreeSet::new();
        for (add, pfn) in ops {
            let pfn = if pfn > 19_000 { (1 << 52) - 1 - pfn % 100 } else { pfn };
            if add {
                prop_assert_eq!(set.insert(pfn), model.insert(pfn));
            } else {
                prop_assert_eq!(set.remove(pfn), model.remove(&pfn));
            }
        }
        prop_assert_eq!(set.len(), model.len() as u64);
        let mut runs: Vec<(u64, u64)> = Vec::new();
        for &p in &model {
            match runs.last_mut() {
                Some((f, n)) if *f + *n == p => *n += 1,
                _ => runs.push((p, 1)),
            }
        }
        prop_assert_eq!(set.runs().collect::<Vec<_>>(), runs);
        for p in 0..20_000 {
            prop_assert_eq!(set.contains(p), model.contains(&p));
        }
    }
}

#[test]
fn pfn_set_runs_cross_words_and_chunks() {
    let mut set = PfnSet::new();
    // Chunks hold 512 pfns: runs across 512, 1024 (empty words between)
    // and several chunks.
    for p in (60..70)
        .chain(500..530)
        .chain(4090..4200)
        .chain(8191..8193)
        .chain([u64::MAX >> 12])
    {
        set.insert(p);
    }
    let runs: Vec<_> = set.runs().collect();
    assert_eq!(
        runs,
        [
            (60, 10),
            (500, 30),
            (4090, 110),
            (8191, 2),
            (u64::MAX >> 12, 1)
        ]
    );
    for p in 0..64 {
        set.insert(p);
    }
    assert_eq!(set.runs().next(), Some((0, 70)));
}

#[test]
fn save_files_with_checkpoints_give_each_state() {
    let ops = checkpointed_ops();
    let (libxc, splits) = stream_parts(&ops, true);
    assert_eq!(splits.len(), 3);
    let file = xl_file(&libxc, &splits);
    for n in 1..=3 {
        let m = model(&ops, Some(n));
        let (image, sum) = run_file(
            &file,
            RawSink::new(Cursor::new(Vec::new())),
            Checkpoint::Nth(n),
        )
        .unwrap();
        check_raw(&image.into_inner(), &m);
        m.check(&sum);
        assert_eq!(sum.state, ImageState::Checkpoint(n));
    }
    let m = model(&ops, None);
    let (core, sum) = run_file(
        &file,
        ElfSink::new(Cursor::new(Vec::new())),
        Checkpoint::Last,
    )
    .unwrap();
    check_elf(&core.into_inner(), &m);
    m.check(&sum);
    assert_eq!((sum.state, sum.checkpoints), (ImageState::End, 3));
    // The same libxc stream bare gives the same image.
    let (bare, _) = run_file(
        &libxc,
        RawSink::new(Cursor::new(Vec::new())),
        Checkpoint::Last,
    )
    .unwrap();
    check_raw(&bare.into_inner(), &m);
}

#[test]
fn a_save_file_broken_off_after_a_checkpoint_gives_the_last_complete_one() {
    let ops = checkpointed_ops();
    let (libxc, splits) = stream_parts(&ops, false);
    let mut file = xl_file(&libxc, &splits);
    // Drop the libxl END (8 octets) and the end of the last PAGE_DATA.
    file.truncate(file.len() - 8 - 1000);
    let m3 = model(&ops, Some(3));
    let (image, sum) = run_file(
        &file,
        RawSink::new(Cursor::new(Vec::new())),
        Checkpoint::Last,
    )
    .unwrap();
    check_raw(&image.into_inner(), &m3);
    m3.check(&sum);
    assert_eq!(sum.state, ImageState::Checkpoint(3));
    assert!(sum.abandoned.is_some());
    // Where the last libxc part starts, after CHECKPOINT 3's libxl records.
    let part4 = file.len() + 1000 - (libxc.len() - splits[2]);
    // Broken off inside those libxl records: checkpoint 3 is complete.
    let (image, sum) = run_file(
        &file[..part4 - 20],
        RawSink::new(Cursor::new(Vec::new())),
        Checkpoint::Last,
    )
    .unwrap();
    check_raw(&image.into_inner(), &m3);
    assert_eq!(sum.state, ImageState::Checkpoint(3));
    assert!(sum.abandoned.unwrap().contains("after checkpoint 3"));
    // Broken off inside segment 3 (its PAGE_DATA is 8 KiB): checkpoint 2.
    let m2 = model(&ops, Some(2));
    let (image, sum) = run_file(
        &file[..part4 - 1000],
        RawSink::new(Cursor::new(Vec::new())),
        Checkpoint::Last,
    )
    .unwrap();
    check_raw(&image.into_inner(), &m2);
    assert_eq!(sum.state, ImageState::Checkpoint(2));
    let why = sum.abandoned.unwrap();
    assert!(why.contains("after checkpoint 2"), "{why}");
}

#[test]
fn a_file_that_is_no_stream_is_refused() {
    match run_file(&[0x42; 4096], OnePage::new(0), Checkpoint::Last) {
        Err(MemoryError::Outer(e)) => assert_eq!(e.kind(), "UnknownFormat", "{e}"),
        other => panic!("{other:?}"),
    }
}

// ---- the real save files ----

/// Offset of the libxc image header in an `xl save` file: eight 0xff
/// octets then "XENF", in the first 64 KiB.
fn libxc_start(path: &Path) -> u64 {
    let mut head = vec![0u8; 64 << 10];
    let n = File::open(path).unwrap().read(&mut head).unwrap();
    let mut needle = vec![0xffu8; 8];
    needle.extend_from_slice(b"XENF");
    head[..n]
        .windows(12)
        .position(|w| w == needle)
        .expect("libxc image header in the first 64 KiB") as u64
}

/// The libxc stream of a real file, found the simple way (so that these
/// tests do not depend on the outer reader; `extract_save_file` is checked
/// against this below).
fn real_reader(name: &str) -> StreamReader<BufReader<File>> {
    let path = test_support::real_stream(name);
    let start = libxc_start(&path);
    let mut f = File::open(&path).unwrap();
    f.seek(SeekFrom::Start(start)).unwrap();
    StreamReader::with_options(
        BufReader::with_capacity(1 << 20, f),
        ReaderOptions {
            base_offset: start,
            ..ReaderOptions::default()
        },
    )
    .unwrap()
}

/// Counts whole copies of the fixture line and the longest stretch of
/// back-to-back copies.
fn fixture_lines(image: &[u8]) -> (u64, u64) {
    let line = test_support::FIXTURE_LINE;
    let (mut total, mut best, mut cur) = (0u64, 0u64, 0u64);
    let mut i = 0;
    while i + line.len() <= image.len() {
        if image[i] == line[0] && image[i..].starts_with(line) {
            total += 1;
            cur += 1;
            best = best.max(cur);
            i += line.len();
        } else {
            cur = 0;
            i += 1;
        }
    }
    (total, best)
}

#[test]
fn real_save_files_give_images_holding_the_fixture_text() {
    // From the README beside the files: pages with contents, entries.
    for (name, pages, entries) in [
        ("pv64-1vcpu-96M.xl", 24_576u64, 24_576u64),
        ("hvm-1vcpu-128M.xl", 32_763, 1_044_480),
    ] {
        let raw_path = tmp(&format!("{name}.raw"));
        let core_path = tmp(&format!("{name}.core"));
        let opts = ExtractOptions::default();
        let raw_out = RawSink::new(File::create(&raw_path).unwrap());
        let (_, sum) = extract(&mut real_reader(name), raw_out, &opts).unwrap();
        assert_eq!(sum.state, ImageState::End);
        assert_eq!(sum.pages, pages, "{name}");
        assert_eq!(sum.copies, pages, "{name}: an xl save sends each page once");
        assert_eq!((sum.superseded, sum.dropped), (0, 0), "{name}");
        assert_eq!(sum.by_type.iter().sum::<u64>(), entries, "{name}");
        assert_eq!(
            sum.by_type[0xf],
            entries - pages,
            "{name}: the rest is XTAB"
        );

        let core_out = ElfSink::new(File::create(&core_path).unwrap());
        let (_, core_sum) = extract(&mut real_reader(name), core_out, &opts).unwrap();
        assert_eq!(core_sum, sum);
        // Through the outer layers: the same summary.
        let whole = BufReader::new(File::open(test_support::real_stream(name)).unwrap());
        let (_, outer_sum) =
            extract_save_file(whole, FormatChoice::Auto, OnePage::new(0), &opts).unwrap();
        assert_eq!(outer_sum, sum);
        let loads = readelf_loads(&core_path);
        let want_loads: Vec<_> = sum
            .ranges
            .iter()
            .map(|&(f, n)| (4096 + f * PS, f * PS, f * PS, n * PS, n * PS))
            .collect();
        assert_eq!(loads, want_loads, "{name}");

        // The HVM image spans 4 GiB (special pages sit just below 4 GiB):
        // read the present ranges only, from both files.
        let mut raw_f = File::open(&raw_path).unwrap();
        let mut core_f = File::open(&core_path).unwrap();
        let (mut total, mut longest) = (0, 0);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for &(f, n) in &sum.ranges {
            a.resize((n * PS) as usize, 0);
            b.resize((n * PS) as usize, 0);
            raw_f.seek(SeekFrom::Start(f * PS)).unwrap();
            raw_f.read_exact(&mut a).unwrap();
            core_f.seek(SeekFrom::Start(4096 + f * PS)).unwrap();
            core_f.read_exact(&mut b).unwrap();
            assert!(a == b, "{name}: pfn {f:#x}: core and raw image differ");
            let (t, l) = fixture_lines(&a);
            total += t;
            longest = longest.max(l);
        }
        // 4 MiB of 38-octet lines is 110,376 lines.
        let want = (4u64 << 20) / test_support::FIXTURE_LINE.len() as u64;
        assert!(total >= want, "{name}: {total} fixture lines, want {want}");
        assert!(longest >= 1000, "{name}: longest stretch {longest} lines");
        std::fs::remove_file(&raw_path).unwrap();
        std::fs::remove_file(&core_path).unwrap();
    }
}

#[test]
fn a_stream_without_pages_gives_empty_images() {
    let bytes = stream(&[Op::Pages(vec![XTAB | 7, XALLOC | 8])], true);
    let (image, sum) = raw(&bytes, Checkpoint::Last);
    assert!(image.is_empty());
    assert_eq!((sum.pages, sum.records, sum.ranges.len()), (0, 1, 0));
    let path = tmp("empty.core");
    extract_file(&bytes, ElfSink::new, &path);
    let b = std::fs::read(&path).unwrap();
    assert_eq!(b.len(), 64, "the ELF header alone");
    let elf = parse_elf(&b);
    assert_eq!((elf.phoff, elf.phnum), (0, 0));
    let out = Command::new("readelf")
        .args(["-h", "-l", "-W"])
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && out.stderr.is_empty(), "{text}");
    assert!(
        text.contains("CORE (Core file)") && text.contains("no program headers"),
        "{text}"
    );
}

#[test]
fn an_error_in_a_later_segment_of_a_save_file_is_reported_at_its_offset() {
    let ops = checkpointed_ops();
    let (mut libxc, splits) = stream_parts(&ops, true);
    // Segment 2 opens with PAGE_DATA [1, XTAB | 2]: its first pfn entry
    // (little-endian, after the 8-octet record header and the 8-octet
    // count and _res1) gets page type 5, which no entry may carry.
    let entry_in_libxc = splits[0] + 16;
    libxc[entry_in_libxc + 7] |= 0x50;
    let file = xl_file(&libxc, &splits);
    // Where segment 2 landed in the file, after checkpoint 1's libxl
    // records: found by its octets, not by the reader.
    let seg2 = &libxc[splits[0]..splits[1]];
    let at = file
        .windows(seg2.len())
        .position(|w| w == seg2)
        .expect("segment 2 in the file");
    assert!(at > splits[0], "libxl octets precede segment 2");
    let want = (at + 16) as u64;
    for n in [2, 3] {
        match run_file(&file, OnePage::new(1), Checkpoint::Nth(n)) {
            Err(MemoryError::Stream(e)) => {
                assert_eq!(e.kind().as_str(), "BadPageType", "{e}");
                assert_eq!(e.offset(), want, "{e}");
            }
            other => panic!("{other:?}"),
        }
    }
    // Checkpoint 1 is before the error: still extracted.
    let (_, sum) = run_file(&file, OnePage::new(1), Checkpoint::Nth(1)).unwrap();
    assert_eq!(sum.state, ImageState::Checkpoint(1));
    // The last complete state is checkpoint 1, and the reason names the
    // exact offset.
    let (_, sum) = run_file(&file, OnePage::new(1), Checkpoint::Last).unwrap();
    assert_eq!(sum.state, ImageState::Checkpoint(1));
    let why = sum.abandoned.unwrap();
    assert!(why.contains(&format!("offset {want:#x}")), "{why}");
}
