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
