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
        "  pfn 0x0-0x0 (1 pages, physical 0x0-0xfff)",
        "  pfn 0x3-0x3 (1 pages, physical 0x3000-0x3fff)",
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
                "--format",
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
                "--format",
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
    assert_eq!(bad.status.code(), Some(1));
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
fn page_fails_for_pages_without_contents() {
    let input = write_tmp("nopage.stream", &stream(false));
    for (pfn, why) in [
        ("1", "XTAB"),
        ("2", "never sent"),
        ("0x10000000000000", "52 bits"),
    ] {
        let out = run_piped(&["page", pfn, input.to_str().unwrap()], None);
        assert_eq!(out.status.code(), Some(1), "pfn {pfn}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(why), "pfn {pfn}: {err}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn the_output_must_be_seekable() {
    let input = write_tmp("seek.stream", &stream(false));
    // stdout is a pipe here: /dev/stdout cannot seek.
    let out = run_piped(
        &["memory", "--out", "/dev/stdout", input.to_str().unwrap()],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("seekable"), "{err}");
    let out = run_piped(&["memory", "--out", "-", input.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
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
                "--format",
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
                "--format",
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
