//! The operator's side of `xenstream`: closed pipes, progress, messages
//! and output formats, completions and the man page, run as a program.

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use format_spec::libxc::{DomainType, LibxcRecord, PageType, PAGE_DATA_TYPE_SHIFT};
use format_spec::stream::{StreamWriter, WriterOptions};

const BIN: &str = env!("CARGO_BIN_EXE_xenstream");
const XTAB: u64 = (PageType::Xtab as u64) << PAGE_DATA_TYPE_SHIFT;

fn tmp(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-operator");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn write_tmp(name: &str, bytes: &[u8]) -> PathBuf {
    let p = tmp(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A checkpointed HVM stream whose dump has two lines per checkpoint:
/// `n` times a PAGE_DATA record (pfn entries only, no contents) and a
/// CHECKPOINT.
fn big_stream(n: u64) -> Vec<u8> {
    let opts = WriterOptions::new(DomainType::X86Hvm).version(3);
    let mut w = StreamWriter::new(Vec::new(), opts).unwrap();
    w.write(&LibxcRecord::StaticDataEnd).unwrap();
    for i in 0..n {
        w.write_page_data(&[i | XTAB], &[]).unwrap();
        w.checkpoint().unwrap();
    }
    w.finish().unwrap()
}

/// `xenstream dump big | head -1`: one line, and nothing on standard
/// error; `xenstream` itself ends on SIGPIPE, as tools of this kind do.
#[test]
fn output_to_a_closed_pipe_is_quiet() {
    let big = write_tmp("big.stream", &big_stream(20_000));
    let dump = run(&["dump", big.to_str().unwrap()]);
    assert!(stdout(&dump).lines().count() > 40_000, "{}", stderr(&dump));

    let sh = Command::new("sh")
        .args(["-c", "\"$0\" dump \"$1\" | head -1"])
        .arg(BIN)
        .arg(&big)
        .output()
        .unwrap();
    assert!(sh.status.success());
    assert_eq!(stdout(&sh).lines().count(), 1);
    assert_eq!(stderr(&sh), "");

    for args in [
        &["dump", big.to_str().unwrap()][..],
        &["dump", "--json", big.to_str().unwrap()],
        &["records"],
        &["stats", big.to_str().unwrap()],
    ] {
        let mut child = Command::new(BIN)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        // The read end is closed here.
        let out = child.wait_with_output().unwrap();
        assert!(!first.is_empty(), "{args:?}");
        assert_eq!(stderr(&out), "", "{args:?}");
        assert!(
            out.status.success() || out.status.signal() == Some(libc::SIGPIPE),
            "{args:?}: {:?}",
            out.status
        );
    }
}

/// A real save file's stream followed by what `xl migrate` sends after
/// it: `verify --strict` accepts it and names the message; a message cut
/// short, or a capture cut inside a record, stays invalid.
#[test]
fn an_xl_migration_capture_verifies_and_names_xl_s_message() {
    use format_spec::xl::{MIGRATE_PERMISSION_TO_GO, MIGRATE_REPORT};
    let save = std::fs::read(test_support::real_stream("hvm-1vcpu-128M.xl")).unwrap();
    let go = MIGRATE_PERMISSION_TO_GO.wire(0);
    assert_eq!(go, b"domain is yours, you are cleared to unpause\0");
    let capture = write_tmp("migrate.xl", &[&save[..], &go].concat());
    let c = capture.to_str().unwrap();
    let o = run(&["verify", "--strict", c]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("migrate_permission_to_go")
            && out.contains("domain is yours, you are cleared to unpause")
            && out.contains(&format!("44 octets at offset {}", save.len())),
        "{out}"
    );
    // Two messages in a row are xl's protocol too.
    let two = write_tmp(
        "migrate2.xl",
        &[&save[..], &go, &MIGRATE_REPORT.wire(0)].concat(),
    );
    let o = run(&["verify", "--strict", two.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("migrate_report"), "{}", stdout(&o));

    // Cut inside the message: data after the end, exit 1.
    let cut = write_tmp("migrate-cut.xl", &[&save[..], &go[..30]].concat());
    let o = run(&["verify", "--strict", cut.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("TrailingData"), "{}", stderr(&o));
    // Cut inside a record: truncated, exit 1.
    let cut = write_tmp("migrate-cut2.xl", &save[..save.len() - 1000]);
    let o = run(&["verify", "--strict", cut.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("Truncated"), "{}", stderr(&o));

    // convert keeps the message after the stream (strict), or says what
    // it left out (--lenient).
    let out = tmp("migrate-v4.xl");
    let o = run(&["convert", "--to", "4", c, "-o", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v4 = std::fs::read(&out).unwrap();
    assert!(v4.ends_with(&go));
    let o = run(&["verify", "--strict", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("migrate_permission_to_go"));
    let o = run(&[
        "convert",
        "--lenient",
        "--to",
        "4",
        c,
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("44 octets after the end of the stream")
            && stderr(&o).contains("migrate_permission_to_go"),
        "{}",
        stderr(&o)
    );
    std::fs::remove_file(&out).unwrap();
}

/// Xen 4.17 writes HVM_PARAMS after HVM_CONTEXT in every HVM save: `-q`
/// prints nothing, lenient mode notes it once, strict mode keeps the
/// warning.
#[test]
fn a_valid_xen_4_17_hvm_save_is_quiet_with_q() {
    let hvm = test_support::real_stream("hvm-1vcpu-128M.xl");
    let h = hvm.to_str().unwrap();
    let o = run(&["verify", "-q", h]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stdout(&o), "");
    assert_eq!(stderr(&o), "");
    let o = run(&["verify", h]);
    assert_eq!(o.status.code(), Some(0));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("note: HVM_PARAMS after HVM_CONTEXT") && !err.contains("warning"),
        "{err}"
    );
    let o = run(&["verify", "--strict", "-q", h]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("warning: record 1025 (HVM_PARAMS)"));
}

/// Runs `sh -c SCRIPT` with standard error on a pseudo-terminal (Python's
/// `os.openpty`); returns what the terminal showed and the exit status.
fn on_a_terminal(script: &str, args: &[&Path]) -> (String, Option<i32>) {
    const PTY: &str = r#"
import os, subprocess, sys
m, s = os.openpty()
p = subprocess.Popen(["sh", "-c", sys.argv[1], "sh"] + sys.argv[2:], stdin=subprocess.DEVNULL,
                     stdout=subprocess.DEVNULL, stderr=s)
os.close(s)
seen = b""
while True:
    try:
        d = os.read(m, 65536)
    except OSError:
        break
    if not d:
        break
    seen += d
sys.stdout.buffer.write(seen)
sys.exit(p.wait())
"#;
    let out = Command::new("python3")
        .args(["-c", PTY, script])
        .args(args)
        .output()
        .unwrap();
    (stdout(&out), out.status.code())
}

/// `memory`, `convert` and `page` draw a progress line on a terminal (the
/// input arrives through a pipe that pauses, so the run lasts longer
/// than the half second before the first line), and erase it at the end.
#[test]
fn long_runs_show_progress_on_a_terminal() {
    let hvm = test_support::real_stream("hvm-1vcpu-128M.xl");
    let out = tmp("progress.out");
    let feed = "(head -c 1000000 \"$2\"; sleep 1; tail -c +1000001 \"$2\")";
    for cmd in [
        "memory --out \"$3\" -",
        "convert --to 4 -o \"$3\" -",
        "page 0x100 --raw - > /dev/null",
    ] {
        let script = format!("{feed} | \"$1\" {cmd}");
        let (seen, code) = on_a_terminal(&script, &[Path::new(BIN), &hvm, &out]);
        assert_eq!(code, Some(0), "{cmd}: {seen}");
        assert!(
            seen.contains("\r\x1b[K") && seen.contains(" MiB, ") && seen.contains("MiB/s"),
            "{cmd}: {seen:?}"
        );
        // The line is erased: the last thing drawn before any summary.
        let last = seen.rfind(" MiB/s").unwrap();
        assert!(seen[last..].contains("\r\x1b[K"), "{cmd}: {seen:?}");
    }
    let _ = std::fs::remove_file(&out);
}

fn json_lines(o: &Output) -> Vec<serde_json::Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

/// An HVM v3 stream: one PAGE_DATA record, HVM_PARAMS with indexes out of
/// order (3 has no name), 1000 unknown optional records of one type and
/// 2 of another, HVM_CONTEXT.
fn small_faults_stream() -> Vec<u8> {
    use format_spec::body::Opaque;
    use format_spec::libxc::{HvmParams, HvmParamsEntry};
    let opts = WriterOptions::new(DomainType::X86Hvm).version(3);
    let mut w = StreamWriter::new(Vec::new(), opts).unwrap();
    w.write(&LibxcRecord::StaticDataEnd).unwrap();
    w.write_page_data(&[0x40], &[7u8; 4096]).unwrap();
    let param = [
        (17u64, 0xfefffu64),
        (5, 0xfeffd),
        (12, 0xfeffe000),
        (1, 0xfeffc),
        (3, 255),
    ]
    .iter()
    .map(|&(index, value)| HvmParamsEntry { index, value })
    .collect::<Vec<_>>();
    w.write(&LibxcRecord::HvmParams(HvmParams {
        count: param.len() as u32,
        _res1: 0,
        param,
    }))
    .unwrap();
    for _ in 0..1000 {
        w.write_optional(0x8000_1234, &[1, 2, 3]).unwrap();
    }
    for _ in 0..2 {
        w.write_optional(0x8000_0042, &[]).unwrap();
    }
    w.write(&LibxcRecord::HvmContext(Opaque(vec![1; 8])))
        .unwrap();
    w.finish().unwrap()
}

#[test]
fn dump_shows_hvm_params_in_hex_in_index_order_with_xen_s_names() {
    let f = write_tmp("faults-dump.stream", &small_faults_stream());
    let o = run(&["dump", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    let params = text.lines().find(|l| l.contains(" HVM_PARAMS ")).unwrap();
    assert!(
        params.ends_with(
            "count=5 params=[HVM_PARAM_STORE_PFN=0xfeffc 0x3=0xff HVM_PARAM_IOREQ_PFN=0xfeffd \
             HVM_PARAM_IDENT_PT=0xfeffe000 HVM_PARAM_CONSOLE_PFN=0xfefff]"
        ),
        "{params}"
    );
    // A run of one PAGE_DATA record is one index, not #1-#1.
    let run_line = text.lines().find(|l| l.contains("PAGE_DATA x1 ")).unwrap();
    assert!(run_line.starts_with("#1 @0x"), "{run_line}");
    let o = run(&["dump", "--json", f.to_str().unwrap()]);
    let lines = json_lines(&o);
    let rec = lines
        .iter()
        .find(|l| l["type"] == "HVM_PARAMS")
        .expect("an HVM_PARAMS line");
    let indexes: Vec<u64> = rec["fields"]["params"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indexes, [1, 3, 5, 12, 17]);
    assert_eq!(rec["fields"]["params"][1]["name"], serde_json::Value::Null);
    assert_eq!(rec["fields"]["params"][3]["name"], "HVM_PARAM_IDENT_PT");
}

#[test]
fn repeated_warnings_are_said_once_per_record_type_with_a_count() {
    let f = write_tmp("faults-warn.stream", &small_faults_stream());
    let o = run(&["verify", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(
        lines[0].contains("unknown optional record") && lines[0].contains("(1000 times in all"),
        "{err}"
    );
    assert!(lines[1].contains("(2 times in all"), "{err}");
}

#[test]
fn records_prints_length_rules_in_words() {
    let o = run(&["records"]);
    let text = stdout(&o);
    for debug in ["Exact(", "Rest {", "Counted {", "NonEmpty", "PageData"] {
        assert!(!text.contains(debug), "{debug}: {text}");
    }
    let line = |name: &str| {
        text.lines()
            .find(|l| l.split_whitespace().nth(1) == Some(name))
            .unwrap()
            .to_string()
    };
    assert!(line("HVM_PARAMS").ends_with("  8 + 16 x count"));
    assert!(line("X86_TSC_INFO").ends_with("  24"));
    assert!(line("END").ends_with("  0 (no body)"));
    assert!(line("HVM_CONTEXT").ends_with("  1 or more"));
    // PAGE_DATA's rule names its header, entry and page sizes.
    let entry = std::mem::size_of::<u64>();
    let page_data = format!(
        "  8 + {entry} x count + {} x pages with contents",
        format_spec::libxc::PAGE_SIZE
    );
    assert!(
        line("PAGE_DATA").ends_with(&page_data),
        "{}",
        line("PAGE_DATA")
    );
}

#[test]
fn config_prints_the_xl_json_configuration() {
    let hvm = test_support::real_stream("hvm-1vcpu-128M.xl");
    let o = run(&["config", hvm.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["c_info"]["type"], "hvm");
    assert_eq!(v["b_info"]["max_memkb"], 131072);
    let f = write_tmp("faults-config.stream", &small_faults_stream());
    let o = run(&["config", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no xl header"), "{}", stderr(&o));
}

#[test]
fn with_json_errors_are_a_json_object_too() {
    let bytes = small_faults_stream();
    // Cut inside the HVM_CONTEXT body (8 octets, then END's 8).
    let cut = write_tmp("faults-cut.stream", &bytes[..bytes.len() - 12]);
    for cmd in ["dump", "stats"] {
        let o = run(&[cmd, "--json", cut.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(1), "{cmd}");
        let last = json_lines(&o).pop().unwrap();
        assert_eq!(last["kind"], "error", "{cmd}");
        assert_eq!(last["exit"], 1);
        assert_eq!(last["rule"], "Truncated");
        assert_eq!(last["offset"], bytes.len() as u64 - 12);
        assert_eq!(last["record"]["type"], "HVM_CONTEXT");
        // The text message still goes to standard error.
        assert!(stderr(&o).contains("invalid stream"), "{cmd}");
    }
    let o = run(&["stats", "--json", tmp("no-such-file").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let last = json_lines(&o).pop().unwrap();
    assert_eq!(last["kind"], "error");
    assert_eq!(last["exit"], 2);
    assert!(last["message"].as_str().unwrap().contains("no-such-file"));
}

/// `xenstream completions bash` is a completion script bash runs: it
/// completes subcommands and options.
#[test]
fn completions_complete_subcommands_and_options() {
    let script = tmp("xenstream.bash");
    let o = run(&["completions", "bash"]);
    assert_eq!(o.status.code(), Some(0));
    std::fs::write(&script, &o.stdout).unwrap();
    let complete = |words: &str| {
        let sh = format!(
            "source \"$1\"; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); \
             _xenstream xenstream \"${{COMP_WORDS[-1]}}\" \"${{COMP_WORDS[-2]}}\"; \
             printf '%s\\n' \"${{COMPREPLY[@]}}\""
        );
        let o = Command::new("bash")
            .args(["-c", &sh, "bash"])
            .arg(&script)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
    };
    assert_eq!(complete("xenstream mem").trim(), "memory");
    let opts = complete("xenstream memory --max");
    assert_eq!(opts.trim(), "--max-image-size", "{opts}");
    let all = complete("xenstream ''");
    for sub in [
        "verify", "dump", "stats", "memory", "page", "convert", "records", "config",
    ] {
        assert!(all.lines().any(|l| l == sub), "{sub}: {all}");
    }
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let o = run(&["completions", shell]);
        assert_eq!(o.status.code(), Some(0), "{shell}");
        assert!(stdout(&o).contains("max-image-size"), "{shell}");
    }
}

/// `xenstream man` is one manual page that nroff renders without a
/// warning, with a section per subcommand and every option.
#[test]
fn the_man_page_renders_and_covers_every_subcommand() {
    let o = run(&["man"]);
    assert_eq!(o.status.code(), Some(0));
    let page = stdout(&o);
    assert!(page.contains(".TH xenstream 1"), "{page}");
    for sub in [
        "VERIFY",
        "DUMP",
        "STATS",
        "MEMORY",
        "PAGE",
        "CONVERT",
        "RECORDS",
        "CONFIG",
        "COMPLETIONS",
        "MAN",
    ] {
        assert!(page.contains(&format!(".SH \"XENSTREAM {sub}\"")), "{sub}");
    }
    for opt in [
        r"\-\-max\-image\-size",
        r"\-\-strict",
        r"\-\-lossy",
        r"\-\-image",
    ] {
        assert!(page.contains(opt), "{opt}");
    }
    assert!(page.contains(".SH \"EXIT STATUS\""));
    let man = tmp("xenstream.1");
    std::fs::write(&man, &o.stdout).unwrap();
    let r = Command::new("nroff")
        .args(["-man", "-ww"])
        .arg(&man)
        .output()
        .unwrap();
    assert!(r.status.success());
    assert_eq!(stderr(&r), "", "nroff warnings");
    assert!(stdout(&r).contains("EXIT STATUS") || stdout(&r).contains("E\u{8}EX"));
}

/// A Remus-style libxl stream: `checkpoints` segments ending in
/// CHECKPOINT, each followed by the libxl CHECKPOINT_END (8 octets), then
/// a last segment; the last segment's PAGE_DATA has pfn 0x777777 with the
/// invalid page type 5. Returns the stream and that entry's offset.
fn remus_with_a_bad_page_type(checkpoints: usize) -> (Vec<u8>, u64) {
    use format_spec::body::Opaque;
    use format_spec::hvm_context::{self as hvm, HvmHeader, HvmType};
    use format_spec::outer::OuterWriter;
    let blob = hvm::write(
        &HvmHeader::new(0x60fb1, 2_400_000),
        &[(HvmType::Cpu, 0, &[0x5a; 1032])],
        format_spec::binrw::Endian::Little,
    )
    .unwrap();
    let opts = WriterOptions::new(DomainType::X86Hvm).version(3);
    let mut w = StreamWriter::new(Vec::new(), opts).unwrap();
    w.write(&LibxcRecord::StaticDataEnd).unwrap();
    let mut cuts = Vec::new();
    for i in 0..checkpoints as u64 {
        w.write_page_data(&[i], &[i as u8; 4096]).unwrap();
        w.write(&LibxcRecord::HvmContext(Opaque(blob.clone())))
            .unwrap();
        w.checkpoint().unwrap();
        cuts.push(w.position() as usize);
    }
    w.write_page_data(&[0x777777], &[9; 4096]).unwrap();
    w.write(&LibxcRecord::HvmContext(Opaque(blob))).unwrap();
    let libxc = w.finish().unwrap();
    let mut o = OuterWriter::libxl(Vec::new(), format_spec::binrw::Endian::Little).unwrap();
    o.libxc_context().unwrap();
    let mut from = 0;
    for cut in cuts {
        o.inner().extend_from_slice(&libxc[from..cut]);
        o.checkpoint_end().unwrap();
        from = cut;
    }
    o.inner().extend_from_slice(&libxc[from..]);
    let mut bytes = o.finish().unwrap();
    let at = bytes
        .windows(8)
        .position(|w| w == 0x777777u64.to_le_bytes())
        .unwrap();
    bytes[at + 7] = 0x50;
    (bytes, at as u64)
}

/// After 11 checkpoints, `convert` reports the same absolute offset as
/// `verify`: the 8-octet CHECKPOINT_END records are counted.
#[test]
fn convert_reports_offsets_after_checkpoints_as_verify_does() {
    let (bytes, at) = remus_with_a_bad_page_type(11);
    let f = write_tmp("remus-bad.libxl", &bytes);
    let o = run(&["verify", "--strict", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("rule BadPageType, offset {at} (0x{at:x})")),
        "{}",
        stderr(&o)
    );
    let out = tmp("remus-bad.v4");
    let o = run(&[
        "convert",
        "--to",
        "4",
        f.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("offset 0x{at:x}")),
        "convert: {} (verify: 0x{at:x})",
        stderr(&o)
    );
    assert!(!out.exists());
}

/// Runs `xenstream ARGS` and returns its exit status and its peak
/// resident memory (the maximum RSS `getrusage` reports for it), in
/// octets. It is started by a small Python process, not by this test
/// process: a child's maximum RSS counts what it shared with its parent
/// before `exec`, and this process holds the large test streams.
fn peak_rss(args: &[&str]) -> (Option<i32>, u64) {
    const HELPER: &str = r#"
import resource, subprocess, sys
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL).returncode
print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)
"#;
    let out = Command::new("python3")
        .args(["-c", HELPER, BIN])
        .args(args)
        .output()
        .unwrap();
    let text = stdout(&out);
    let mut words = text.split_whitespace();
    let code = words.next().and_then(|w| w.parse().ok());
    let peak = words.next().and_then(|w| w.parse().ok()).unwrap();
    (code, peak)
}

/// A valid v3 HVM stream with one record of `mib` MiB: an unknown
/// optional record, or the HVM_CONTEXT blob.
fn stream_with_a_large_record(mib: usize, hvm_context: bool) -> Vec<u8> {
    use format_spec::body::Opaque;
    let opts = WriterOptions::new(DomainType::X86Hvm).version(3);
    let mut w = StreamWriter::new(Vec::new(), opts).unwrap();
    w.write(&LibxcRecord::StaticDataEnd).unwrap();
    w.write_page_data(&[1], &[1; 4096]).unwrap();
    let big = vec![0x5a; mib << 20];
    if hvm_context {
        w.write(&LibxcRecord::HvmContext(Opaque(big))).unwrap();
    } else {
        w.write_optional(0x8000_4242, &big).unwrap();
        w.write(&LibxcRecord::HvmContext(Opaque(vec![1; 8])))
            .unwrap();
    }
    w.finish().unwrap()
}

/// `dump` holds at most one record: a 64 MiB optional record is skipped
/// (never read into memory), a 64 MiB HVM_CONTEXT is walked where the
/// reader holds it.
#[test]
fn dump_memory_is_bounded_by_one_record() {
    const MIB: u64 = 1 << 20;
    let (base_code, base) = peak_rss(&["--version"]);
    assert_eq!(base_code, Some(0));
    for (name, ctx, bound) in [
        ("large-optional.stream", false, base + 16 * MIB),
        ("large-context.stream", true, base + 64 * MIB + 16 * MIB),
    ] {
        let f = write_tmp(name, &stream_with_a_large_record(64, ctx));
        for json in [false, true] {
            let mut args = vec!["dump"];
            if json {
                args.push("--json");
            }
            args.push(f.to_str().unwrap());
            let (code, peak) = peak_rss(&args);
            assert_eq!(code, Some(0), "{args:?}");
            assert!(
                peak <= bound,
                "{args:?}: peak RSS {} MiB, bound {} MiB",
                peak / MIB,
                bound / MIB
            );
        }
        std::fs::remove_file(&f).unwrap();
    }
}
