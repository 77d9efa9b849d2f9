//! `xenstream memory` and `xenstream page`, run as a program: images from
//! files and from pipes, checkpoints, hex dumps, errors and usage, and the
//! two real Xen save files.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use format_spec::binrw::Endian;
use format_spec::body::Opaque;
use format_spec::libxc::{DomainType, LibxcRecord, PAGE_SIZE};
use format_spec::libxl::EmulatorId;
use format_spec::outer::OuterWriter;
use format_spec::stream::{StreamWriter, WriterOptions};
use format_spec::xl::XlPreamble;

const XTAB: u64 = 0xf << 60;
const PS: usize = PAGE_SIZE;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_xenstream"))
}

fn tmp(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-memory");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn page(fill: u8) -> Vec<u8> {
    let mut p = vec![fill; PS];
    p[..4].copy_from_slice(b"PAGE");
    p
}

/// pfn 0: A then B; pfn 1: C then XTAB; pfn 3: D (pfn 2 never sent);
/// `checkpoint`: a CHECKPOINT after the first record.
fn stream(checkpoint: bool) -> Vec<u8> {
    let opts = WriterOptions::new(DomainType::X86Hvm).version(3);
    let mut w = StreamWriter::new(Vec::new(), opts).unwrap();
    w.write(&LibxcRecord::StaticDataEnd).unwrap();
    w.write_page_data(&[0, 1], &[page(b'A'), page(b'C')].concat())
        .unwrap();
    if checkpoint {
        w.write(&LibxcRecord::HvmContext(Opaque(vec![1; 8])))
            .unwrap();
        w.checkpoint().unwrap();
    }
    w.write_page_data(&[0, 1 | XTAB, 3], &[page(b'B'), page(b'D')].concat())
        .unwrap();
    w.write(&LibxcRecord::HvmContext(Opaque(vec![1; 8])))
        .unwrap();
    w.finish().unwrap()
}

fn expected_raw() -> Vec<u8> {
    [page(b'B'), vec![0; PS], vec![0; PS], page(b'D')].concat()
}

fn write_tmp(name: &str, bytes: &[u8]) -> PathBuf {
    let p = tmp(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Runs `xenstream ARGS` with `stdin` written to a real pipe.
fn run_piped(args: &[&str], stdin: Option<&Path>) -> Output {
    let mut cmd = bin();
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    match stdin {
        None => cmd.stdin(Stdio::null()).output().unwrap(),
        Some(path) => {
            cmd.stdin(Stdio::piped());
            let mut child = cmd.spawn().unwrap();
            let mut pipe = child.stdin.take().unwrap();
            let mut f = File::open(path).unwrap();
            let feeder = std::thread::spawn(move || {
                let mut buf = vec![0u8; 1 << 16];
                loop {
                    let n = f.read(&mut buf).unwrap();
                    if n == 0 || pipe.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
            let out = child.wait_with_output().unwrap();
            feeder.join().unwrap();
            out
        }
    }
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn memory_writes_the_last_copy_of_every_page_and_a_summary() {
    let input = write_tmp("resend.stream", &stream(false));
    let out = tmp("resend.raw");
    let text = ok(&run_piped(
        &[
            "memory",
            "--out",
            out.to_str().unwrap(),
            input.to_str().unwrap(),
        ],
        None,
    ));
    assert_eq!(std::fs::read(&out).unwrap(), expected_raw());
    for line in [
        "state:        end of stream",
        "pages:        2 (8 KiB)",
        "copies:       4",
        "superseded:   1",
        "dropped:      1",
        "  normal                   4",
        "  invalid                  1",
        "ranges:       2",
        "  pfn 0x0 (1 page, physical 0x0-0xfff)",
        "  pfn 0x3 (1 page, physical 0x3000-0x3fff)",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "no line {line:?} in:\n{text}"
        );
    }
}

#[test]
fn a_pipe_run_gives_the_same_bytes_as_a_file_run() {
    let input = write_tmp("pipe.stream", &stream(false));
    for format in ["raw", "elf"] {
        let from_file = tmp(&format!("from-file.{format}"));
        let from_pipe = tmp(&format!("from-pipe.{format}"));
        let a = ok(&run_piped(
            &[
                "memory",
                "--image",
                format,
                "--out",
                from_file.to_str().unwrap(),
                input.to_str().unwrap(),
            ],
            None,
        ));
        let b = ok(&run_piped(
            &[
                "memory",
                "--image",
                format,
                "--out",
                from_pipe.to_str().unwrap(),
                "-",
            ],
            Some(&input),
        ));
        let bytes = std::fs::read(&from_file).unwrap();
        assert_eq!(bytes, std::fs::read(&from_pipe).unwrap(), "{format}");
        // Same summary apart from the file name.
        let tail = |s: &str| s.lines().skip(1).collect::<Vec<_>>().join("\n");
        assert_eq!(tail(&a), tail(&b));
        if format == "elf" {
            assert_eq!(&bytes[..4], b"\x7fELF");
            // pfn 0 at 4096, pfn 3 at 4096 + 3 pages.
            assert_eq!(bytes[4096..4096 + PS], page(b'B')[..]);
            assert_eq!(bytes[4096 + 3 * PS..4096 + 4 * PS], page(b'D')[..]);
        }
    }
}

#[test]
fn checkpoint_option_picks_the_state() {
    let input = write_tmp("cp.stream", &stream(true));
    let out = tmp("cp.raw");
    let text = ok(&run_piped(
        &[
            "memory",
            "--checkpoint",
            "1",
            "--out",
            out.to_str().unwrap(),
            input.to_str().unwrap(),
        ],
        None,
    ));
    assert!(text.contains("state:        checkpoint 1"), "{text}");
    assert_eq!(
        std::fs::read(&out).unwrap(),
        [page(b'A'), page(b'C')].concat()
    );
    ok(&run_piped(
        &[
            "memory",
            "--out",
            out.to_str().unwrap(),
            input.to_str().unwrap(),
        ],
        None,
    ));
    assert_eq!(std::fs::read(&out).unwrap(), expected_raw());
    let bad = run_piped(
        &[
            "memory",
            "--checkpoint",
            "2",
            "--out",
            out.to_str().unwrap(),
            input.to_str().unwrap(),
        ],
        None,
    );
    // What was asked for is not there: a usage error, and no image.
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("checkpoint 2 was asked for") && err.contains("1 CHECKPOINT"),
        "{err}"
    );
}

#[test]
fn page_prints_a_hex_dump_or_raw_octets() {
    let input = write_tmp("page.stream", &stream(false));
    let text = ok(&run_piped(&["page", "3", input.to_str().unwrap()], None));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "0000000000003000  50 41 47 45 44 44 44 44  44 44 44 44 44 44 44 44  |PAGEDDDDDDDDDDDD|"
    );
    assert_eq!(
        lines[1],
        "0000000000003010  44 44 44 44 44 44 44 44  44 44 44 44 44 44 44 44  |DDDDDDDDDDDDDDDD|"
    );
    assert_eq!(lines[2], "*");
    assert_eq!(lines[3], "0000000000004000");
    assert_eq!(lines.len(), 4);

    let raw = run_piped(&["page", "0x0", "--raw", "-"], Some(&input));
    ok(&raw);
    assert_eq!(raw.stdout, page(b'B'));
}

#[test]
fn page_fails_for_pages_without_contents_and_says_what_was_sent() {
    let input = write_tmp("nopage.stream", &stream(false));
    for (pfn, why) in [
        ("1", "sent as XTAB (invalid) after its last copy"),
        ("2", "never sent"),
        ("0x10000000000000", "52 bits"),
    ] {
        let out = run_piped(&["page", pfn, input.to_str().unwrap()], None);
        assert_eq!(out.status.code(), Some(2), "pfn {pfn}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(why), "pfn {pfn}: {err}");
        assert!(out.stdout.is_empty());
    }
    // A pfn sent only as XTAB (and one only as XALLOC) was sent: the
    // message names the type instead of "never sent".
    let opts = WriterOptions::new(DomainType::X86Hvm).version(3);
    let mut w = StreamWriter::new(Vec::new(), opts).unwrap();
    w.write(&LibxcRecord::StaticDataEnd).unwrap();
    w.write_page_data(&[0, 7 | XTAB, 8 | (0xe << 60)], &page(b'A'))
        .unwrap();
    w.write(&LibxcRecord::HvmContext(Opaque(vec![1; 8])))
        .unwrap();
    let input = write_tmp("xtab-only.stream", &w.finish().unwrap());
    for (pfn, why) in [
        ("7", "sent it only as XTAB (invalid), which carries no page"),
        ("8", "sent it only as XALLOC (allocate only)"),
    ] {
        let out = run_piped(&["page", pfn, input.to_str().unwrap()], None);
        assert_eq!(out.status.code(), Some(2), "pfn {pfn}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(why) && !err.contains("never"),
            "pfn {pfn}: {err}"
        );
    }
}

#[test]
fn the_output_must_be_a_seekable_regular_file() {
    let input = write_tmp("seek.stream", &stream(false));
    // stdout is a pipe here: /dev/stdout cannot seek.
    let out = run_piped(
        &["memory", "--out", "/dev/stdout", input.to_str().unwrap()],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("seekable") && err.contains("a pipe"), "{err}");
    let out = run_piped(&["memory", "--out", "-", input.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(2));
    let dir = tmp("an-output-dir");
    std::fs::create_dir_all(&dir).unwrap();
    let out = run_piped(
        &[
            "memory",
            "--out",
            dir.to_str().unwrap(),
            input.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("a directory"));
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    for args in [
        &["memory"][..],
        &["memory", "--format", "png", "--out", "x"],
        &["memory", "--checkpoint", "0", "--out", "x"],
        &["memory", "--bogus"],
        &["page"],
        &["page", "twelve"],
    ] {
        let out = run_piped(args, None);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        // clap's usage errors name the problem and point at --help.
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.starts_with("error:") && err.contains("--help"),
            "{args:?}: {err}"
        );
    }
    let help = ok(&run_piped(&["memory", "--help"], None));
    assert!(help.contains("seekable"), "{help}");
}

#[test]
fn input_that_is_no_stream_is_refused() {
    let input = write_tmp("junk.bin", &[0x42; 100_000]);
    let out = run_piped(
        &[
            "memory",
            "--out",
            tmp("junk.raw").to_str().unwrap(),
            input.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("junk.bin") && err.contains("unknown stream format"),
        "{err}"
    );
}

/// The stream of [`stream`] inside an xl save file (checkpointed: an
/// emulator record and CHECKPOINT_END after the libxc CHECKPOINT).
fn xl_file(checkpoint: bool) -> Vec<u8> {
    let libxc = stream(checkpoint);
    // The CHECKPOINT record (8 octets) ends the first part: find it after
    // the first PAGE_DATA.
    let split = checkpoint.then(|| {
        let cp = LibxcRecord::CHECKPOINT.to_le_bytes();
        let at = libxc
            .windows(8)
            .position(|w| w[..4] == cp && w[4..] == [0; 4])
            .unwrap();
        at + 8
    });
    let pre = XlPreamble::with_json_config(Endian::Little, "{}");
    let mut w = OuterWriter::xl(Vec::new(), &pre).unwrap();
    w.libxc_context().unwrap();
    match split {
        Some(at) => {
            w.inner().extend_from_slice(&libxc[..at]);
            w.emulator_context(EmulatorId::QemuUpstream, 0, b"qemu state")
                .unwrap();
            w.checkpoint_end().unwrap();
            w.inner().extend_from_slice(&libxc[at..]);
        }
        None => w.inner().extend_from_slice(&libxc),
    }
    w.finish().unwrap()
}

#[test]
fn xl_save_files_are_read_through_their_outer_layers() {
    let plain = write_tmp("plain.xl", &xl_file(false));
    let cp = write_tmp("cp.xl", &xl_file(true));
    let out = tmp("xl.raw");
    let o = out.to_str().unwrap();
    ok(&run_piped(&["memory", "--out", o, "-"], Some(&plain)));
    assert_eq!(std::fs::read(&out).unwrap(), expected_raw());
    let text = ok(&run_piped(
        &["memory", "--out", o, cp.to_str().unwrap()],
        None,
    ));
    assert!(text.contains("checkpoints:  1"), "{text}");
    assert_eq!(std::fs::read(&out).unwrap(), expected_raw());
    ok(&run_piped(
        &["memory", "--checkpoint", "1", "--out", o, "-"],
        Some(&cp),
    ));
    assert_eq!(
        std::fs::read(&out).unwrap(),
        [page(b'A'), page(b'C')].concat()
    );
    let p = run_piped(
        &[
            "page",
            "1",
            "--raw",
            "--checkpoint",
            "1",
            cp.to_str().unwrap(),
        ],
        None,
    );
    ok(&p);
    assert_eq!(p.stdout, page(b'C'));
}

fn read_span(path: &Path, off: u64, len: u64) -> Vec<u8> {
    use std::io::{Seek, SeekFrom};
    let mut f = File::open(path).unwrap();
    f.seek(SeekFrom::Start(off)).unwrap();
    let mut buf = vec![0u8; len as usize];
    f.read_exact(&mut buf).unwrap();
    buf
}

#[test]
fn real_save_files_through_a_pipe_and_from_a_file() {
    for name in test_support::REAL_STREAMS {
        let input = test_support::real_stream(name);
        let from_file = tmp(&format!("{name}.file.core"));
        let from_pipe = tmp(&format!("{name}.pipe.core"));
        let a = ok(&run_piped(
            &[
                "memory",
                "--image",
                "elf",
                "--out",
                from_file.to_str().unwrap(),
                input.to_str().unwrap(),
            ],
            None,
        ));
        ok(&run_piped(
            &[
                "memory",
                "--image",
                "elf",
                "--out",
                from_pipe.to_str().unwrap(),
            ],
            Some(&input),
        ));
        assert!(a.contains("state:        end of stream"), "{a}");
        // The HVM core spans 4 GiB, mostly holes: compare everything but
        // the gaps between segments (the ELF header, each segment, and the
        // program headers at the end).
        let len = std::fs::metadata(&from_file).unwrap().len();
        assert_eq!(len, std::fs::metadata(&from_pipe).unwrap().len());
        let mut spans = vec![(0u64, 4096u64)];
        let head = read_span(&from_file, 0, 64);
        let phoff = u64::from_le_bytes(head[32..40].try_into().unwrap());
        let phnum = u16::from_le_bytes(head[56..58].try_into().unwrap()) as u64;
        spans.push((phoff, len - phoff));
        let phdrs = read_span(&from_file, phoff, phnum * 56);
        for ph in phdrs.chunks(56) {
            let off = u64::from_le_bytes(ph[8..16].try_into().unwrap());
            let size = u64::from_le_bytes(ph[32..40].try_into().unwrap());
            spans.push((off, size));
        }
        for (off, size) in spans {
            assert!(
                read_span(&from_file, off, size) == read_span(&from_pipe, off, size),
                "{name}: pipe and file cores differ in {off:#x}+{size:#x}"
            );
        }
        let re = Command::new("readelf")
            .args(["-l", "-W"])
            .arg(&from_file)
            .output()
            .unwrap();
        assert!(
            re.status.success() && re.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&re.stderr)
        );
        let loads = String::from_utf8_lossy(&re.stdout)
            .lines()
            .filter(|l| l.trim_start().starts_with("LOAD"))
            .count();
        let ranges: usize = a
            .lines()
            .find_map(|l| l.strip_prefix("ranges:"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(ranges > 0);
        assert_eq!(loads, ranges, "{name}");
        std::fs::remove_file(&from_file).unwrap();
        std::fs::remove_file(&from_pipe).unwrap();
    }
}

#[test]
fn page_finds_the_fixture_text_in_a_real_save_file() {
    let input = test_support::real_stream("pv64-1vcpu-96M.xl");
    let raw = tmp("pv.raw");
    ok(&run_piped(
        &[
            "memory",
            "--out",
            raw.to_str().unwrap(),
            input.to_str().unwrap(),
        ],
        None,
    ));
    let image = std::fs::read(&raw).unwrap();
    let line = test_support::FIXTURE_LINE;
    let at = image
        .windows(line.len())
        .position(|w| w == line)
        .expect("fixture text in the image");
    let pfn = at / PS;
    let out = run_piped(
        &[
            "page",
            &format!("{pfn:#x}"),
            "--raw",
            input.to_str().unwrap(),
        ],
        None,
    );
    ok(&out);
    assert_eq!(out.stdout, image[pfn * PS..(pfn + 1) * PS]);
    let dump = ok(&run_piped(
        &["page", &pfn.to_string(), input.to_str().unwrap()],
        None,
    ));
    assert!(dump.contains("XEN-STREAM"), "{dump}");
    std::fs::remove_file(&raw).unwrap();
}

/// A fresh, empty directory for one test case.
fn fresh_dir(name: &str) -> PathBuf {
    let dir = tmp(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn code(out: &Output) -> Option<i32> {
    out.status.code()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `cp save.xl s.xl; xenstream memory --out s.xl s.xl`, and the same
/// through a symbolic link, a hard link and standard input: refused, and
/// the input keeps every octet.
#[test]
fn memory_out_never_destroys_its_input() {
    let dir = fresh_dir("same-file");
    let save = xl_file(true);
    let s = dir.join("s.xl");
    std::fs::write(&s, &save).unwrap();
    std::os::unix::fs::symlink("s.xl", dir.join("link.xl")).unwrap();
    std::fs::hard_link(&s, dir.join("hard.xl")).unwrap();
    let sp = s.to_str().unwrap();
    for (out, input) in [
        ("s.xl", Some(&s)),
        ("link.xl", Some(&s)),
        ("hard.xl", Some(&s)),
        ("s.xl", None),
    ] {
        let o = dir.join(out);
        let args = [
            "memory",
            "--out",
            o.to_str().unwrap(),
            input.map_or("-", |_| sp),
        ];
        // Standard input redirected from the file itself (`< s.xl`).
        let res = bin()
            .args(args)
            .stdin(File::open(&s).unwrap())
            .output()
            .unwrap();
        assert_eq!(code(&res), Some(2), "{args:?}: {}", stderr(&res));
        assert!(
            stderr(&res).contains("the output is the input"),
            "{args:?}: {}",
            stderr(&res)
        );
        assert_eq!(std::fs::read(&s).unwrap(), save, "{args:?}");
        assert_eq!(names(&dir), ["hard.xl", "link.xl", "s.xl"], "{args:?}");
    }
    // Through a link to another file, the image replaces the link's
    // target (as writing through the link did), and the link stays.
    let other = dir.join("other.raw");
    std::fs::write(&other, b"old").unwrap();
    std::os::unix::fs::symlink("other.raw", dir.join("img.raw")).unwrap();
    ok(&run_piped(
        &["memory", "--out", dir.join("img.raw").to_str().unwrap(), sp],
        None,
    ));
    assert_eq!(std::fs::read(&other).unwrap(), expected_raw());
    assert!(std::fs::symlink_metadata(dir.join("img.raw"))
        .unwrap()
        .file_type()
        .is_symlink());
}

/// Unmounts a tmpfs when dropped.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Every way `memory` can fail leaves no image, no temporary file and no
/// journal behind, and an existing output as it was; the exit status is
/// 1 for an invalid stream and 2 for usage and I/O.
#[test]
fn a_failed_memory_run_leaves_nothing_behind() {
    let inputs = fresh_dir("fail-inputs");
    let good = inputs.join("good.stream");
    std::fs::write(&good, stream(false)).unwrap();
    let cp = inputs.join("cp.stream");
    std::fs::write(&cp, stream(true)).unwrap();
    let full = stream(false);
    let truncated = inputs.join("truncated.stream");
    std::fs::write(&truncated, &full[..full.len() - 100]).unwrap();
    let g = good.to_str().unwrap().to_string();
    let missing = inputs.join("missing").to_str().unwrap().to_string();
    let input_dir = inputs.to_str().unwrap().to_string();
    let cps = cp.to_str().unwrap().to_string();
    let trunc = truncated.to_str().unwrap().to_string();
    let cases: Vec<(&str, Vec<&str>, i32, &str)> = vec![
        ("missing", vec![&missing], 2, "No such file"),
        ("directory", vec![&input_dir], 2, "is a directory"),
        ("dev-zero", vec!["/dev/zero"], 1, "unknown stream format"),
        ("truncated", vec![&trunc], 1, "truncated"),
        (
            "checkpoint",
            vec!["--image", "elf", "--checkpoint", "5", &cps],
            2,
            "checkpoint 5 was asked for",
        ),
    ];
    for (case, args, want, why) in cases {
        for existing in [false, true] {
            let dir = fresh_dir(&format!("fail-{case}"));
            let out = dir.join("image");
            if existing {
                std::fs::write(&out, b"the old image").unwrap();
            }
            let mut all = vec!["memory", "--out", out.to_str().unwrap()];
            all.extend(&args);
            let res = run_piped(&all, None);
            assert_eq!(code(&res), Some(want), "{case}: {}", stderr(&res));
            assert!(stderr(&res).contains(why), "{case}: {}", stderr(&res));
            if existing {
                assert_eq!(names(&dir), ["image"], "{case}");
                assert_eq!(std::fs::read(&out).unwrap(), b"the old image");
            } else {
                assert!(names(&dir).is_empty(), "{case}: {:?}", names(&dir));
            }
        }
    }

    // EFBIG: a file size limit below the 16 KiB image (SIGXFSZ ignored,
    // so the write fails instead of killing the process).
    let dir = fresh_dir("fail-efbig");
    let out = dir.join("image");
    let res = Command::new("sh")
        .args(["-c", "ulimit -f 8; trap '' XFSZ; exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_xenstream"))
        .args(["memory", "--out", out.to_str().unwrap(), &g])
        .output()
        .unwrap();
    assert_eq!(code(&res), Some(2), "{}", stderr(&res));
    assert!(stderr(&res).contains("File too large"), "{}", stderr(&res));
    assert!(names(&dir).is_empty(), "{:?}", names(&dir));

    // ENOSPC: a tmpfs of two pages for a four-page image (with the
    // journal of a checkpointed stream in it too).
    let dir = fresh_dir("fail-enospc");
    let st = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=8k", "tmpfs"])
        .arg(&dir)
        .status()
        .unwrap();
    assert!(st.success(), "mount a small tmpfs (the tests run as root)");
    let _mounted = Mounted(dir.clone());
    for input in [&g, &cps] {
        let out = dir.join("image");
        let res = run_piped(&["memory", "--out", out.to_str().unwrap(), input], None);
        assert_eq!(code(&res), Some(2), "{}", stderr(&res));
        assert!(
            stderr(&res).contains("No space left on device"),
            "{}",
            stderr(&res)
        );
        assert!(names(&dir).is_empty(), "{:?}", names(&dir));
    }
}

/// A libxc stream with one page at `pfn`.
fn one_page_at(pfn: u64) -> Vec<u8> {
    let opts = WriterOptions::new(DomainType::X86Hvm).version(3);
    let mut w = StreamWriter::new(Vec::new(), opts).unwrap();
    w.write(&LibxcRecord::StaticDataEnd).unwrap();
    w.write_page_data(&[pfn], &page(b'Z')).unwrap();
    w.write(&LibxcRecord::HvmContext(Opaque(vec![1; 8])))
        .unwrap();
    w.finish().unwrap()
}

/// A tiny input asking for a 16 TiB sparse image is refused before any
/// page is written, with one message saying what the image would be and
/// how to raise the limit; a raised limit lets a large image through.
#[test]
fn enormous_sparse_images_are_refused_before_writing() {
    let dir = fresh_dir("huge");
    let input = dir.join("tiny.stream");
    let bytes = one_page_at(0xffff_ffff);
    assert!(bytes.len() < 8192, "{}", bytes.len());
    std::fs::write(&input, &bytes).unwrap();
    let i = input.to_str().unwrap();
    for image in ["raw", "elf"] {
        let out = dir.join("huge.img");
        let res = run_piped(
            &[
                "memory",
                "--image",
                image,
                "--out",
                out.to_str().unwrap(),
                i,
            ],
            None,
        );
        assert_eq!(code(&res), Some(2), "{}", stderr(&res));
        let err = stderr(&res);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains("refusing to write")
                && err.contains("16 TiB")
                && err.contains("pfn 0xffffffff")
                && err.contains("limit is 1 TiB")
                && err.contains("--max-image-size"),
            "{err}"
        );
        assert_eq!(names(&dir), ["tiny.stream"]);
    }
    // 4 GiB: refused under a 1 GiB limit, written under 5 GiB.
    let input = dir.join("four-gib.stream");
    std::fs::write(&input, one_page_at(0xf_ffff)).unwrap();
    let out = dir.join("four.raw");
    let (i, o) = (input.to_str().unwrap(), out.to_str().unwrap());
    let res = run_piped(&["memory", "--max-image-size", "1G", "--out", o, i], None);
    assert_eq!(code(&res), Some(2), "{}", stderr(&res));
    assert!(stderr(&res).contains("4 GiB"), "{}", stderr(&res));
    assert!(!out.exists());
    let text = ok(&run_piped(
        &["memory", "--max-image-size", "5G", "--out", o, i],
        None,
    ));
    assert!(
        text.starts_with(&format!(
            "wrote {o} (raw image, 4294967296 octets = 4 GiB, "
        )),
        "{text}"
    );
    assert_eq!(std::fs::metadata(&out).unwrap().len(), 4 << 30);
    std::fs::remove_file(&out).unwrap();
    let res = run_piped(&["memory", "--max-image-size", "lots", "--out", o, i], None);
    assert_eq!(code(&res), Some(2));
}

/// `memory --format` is the input's format, as everywhere else; the old
/// meaning gets a message that names `--image`.
#[test]
fn memory_format_is_the_input_format_and_image_chooses_the_image() {
    let input = write_tmp("fmt.stream", &stream(false));
    let out = tmp("fmt.raw");
    let (i, o) = (input.to_str().unwrap(), out.to_str().unwrap());
    let res = run_piped(&["memory", "--format", "elf", "--out", o, i], None);
    assert_eq!(code(&res), Some(2));
    let err = stderr(&res);
    assert!(
        err.starts_with("error:") && err.contains("--image elf") && err.contains("--help"),
        "{err}"
    );
    ok(&run_piped(
        &["memory", "--format", "libxc", "--out", o, i],
        None,
    ));
    assert_eq!(std::fs::read(&out).unwrap(), expected_raw());
    let res = run_piped(&["memory", "--format", "xl", "--out", o, i], None);
    assert_eq!(code(&res), Some(1), "{}", stderr(&res));
    let res = run_piped(&["page", "--format", "xl", "3", i], None);
    assert_eq!(code(&res), Some(1), "{}", stderr(&res));
}

/// `printf 'LibxlFmt\0\0\0\2\0\0\0\0\0\0\0\0\0\0\0\0' > e.bin`: a libxl
/// stream that ends before any libxc stream. `memory e.bin` writes an
/// empty image and says why, without talking of a checkpoint nobody
/// asked for.
#[test]
fn memory_of_a_libxl_stream_without_libxc_says_what_it_holds() {
    let input = write_tmp("e.bin", b"LibxlFmt\0\0\0\x02\0\0\0\0\0\0\0\0\0\0\0\0");
    let out = tmp("e.raw");
    let res = run_piped(
        &[
            "memory",
            "--out",
            out.to_str().unwrap(),
            input.to_str().unwrap(),
        ],
        None,
    );
    let err = stderr(&res);
    assert_eq!(code(&res), Some(0), "{err}");
    assert!(!err.contains("asked for"), "{err}");
    assert!(err.contains("holds no guest memory"), "{err}");
    assert_eq!(std::fs::metadata(&out).unwrap().len(), 0);
    let res = run_piped(
        &[
            "memory",
            "--checkpoint",
            "1",
            "--out",
            out.to_str().unwrap(),
            input.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(code(&res), Some(2));
    assert!(stderr(&res).contains("checkpoint 1 was asked for"));
}
