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
