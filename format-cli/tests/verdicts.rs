//! Verdicts the operator sees on streams at the edges of the format: a
//! libxl stream with no libxc stream in it, and checkpointed (Remus)
//! streams that end at a checkpoint boundary or break off inside a
//! segment, through every subcommand that reads a whole stream.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use format_spec::binrw::Endian;
use format_spec::libxc::{DomainType, LibxcRecord};
use format_spec::outer::OuterWriter;
use format_spec::stream::{StreamWriter, WriterOptions};

const BIN: &str = env!("CARGO_BIN_EXE_xenstream");

fn tmp(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-verdicts");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn write_tmp(name: &str, bytes: &[u8]) -> String {
    let p = tmp(name);
    std::fs::write(&p, bytes).unwrap();
    p.to_str().unwrap().to_string()
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `printf 'LibxlFmt\0\0\0\2\0\0\0\0\0\0\0\0\0\0\0\0' > e.bin`: libxl's
/// reader takes it (END), but nothing is restored. Valid with a warning
/// leniently, invalid (exit 1) strictly; never the usage/I-O exit 2.
#[test]
fn a_libxl_stream_with_no_libxc_context_has_a_verdict() {
    let e = write_tmp("e.bin", b"LibxlFmt\0\0\0\x02\0\0\0\0\0\0\0\0\0\0\0\0");
    let o = run(&["verify", &e]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(
        out(&o).contains("no libxc stream: nothing to restore"),
        "{}",
        out(&o)
    );
    assert!(
        err(&o).contains("warning") && err(&o).contains("no LIBXC_CONTEXT"),
        "{}",
        err(&o)
    );
    // -q: the warning stays, the summary goes.
    let o = run(&["verify", "-q", &e]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(out(&o), "");
    assert!(err(&o).contains("no LIBXC_CONTEXT"), "{}", err(&o));
    let o = run(&["verify", "--strict", &e]);
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(
        err(&o).contains("rule UnexpectedRecord, offset 16 (0x10)"),
        "{}",
        err(&o)
    );
    let o = run(&["stats", &e]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(out(&o).contains("no libxc stream"), "{}", out(&o));
    let o = run(&["stats", "--json", &e]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let v: serde_json::Value = serde_json::from_str(out(&o).trim()).unwrap();
    assert_eq!(v["version"], serde_json::Value::Null);
    assert_eq!(v["libxl_records"]["END"], 1);
    let o = run(&["dump", &e]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
}

/// A libxl Remus stream of `checkpoints` segments, each ended by a libxc
/// CHECKPOINT and the libxl CHECKPOINT_END, then a last segment, the
/// libxc END and the libxl END. Returns the stream and the offsets just
/// after each CHECKPOINT_END (the checkpoint boundaries).
fn remus(checkpoints: u64) -> (Vec<u8>, Vec<usize>) {
    let opts = WriterOptions::new(DomainType::X86Hvm).version(3);
    let mut w = StreamWriter::new(Vec::new(), opts).unwrap();
    w.write(&LibxcRecord::StaticDataEnd).unwrap();
    let mut cuts = Vec::new();
    for i in 0..checkpoints {
        w.write_page_data(&[i], &[i as u8; 4096]).unwrap();
        w.checkpoint().unwrap();
        cuts.push(w.position() as usize);
    }
    w.write_page_data(&[0x40], &[7; 4096]).unwrap();
    let libxc = w.finish().unwrap();
    let mut o = OuterWriter::libxl(Vec::new(), Endian::Little).unwrap();
    o.libxc_context().unwrap();
    let mut from = 0;
    let mut boundaries = Vec::new();
    for cut in cuts {
        o.inner().extend_from_slice(&libxc[from..cut]);
        o.checkpoint_end().unwrap();
        boundaries.push(o.inner().len());
        from = cut;
    }
    o.inner().extend_from_slice(&libxc[from..]);
    (o.finish().unwrap(), boundaries)
}

/// A Remus stream that ends at a checkpoint boundary is how such a stream
/// ends at failover: `verify` (both modes), `dump`, `stats` and `convert`
/// take it as valid and say "N checkpoints, ending at a checkpoint
/// boundary".
#[test]
fn a_remus_stream_ending_at_a_checkpoint_boundary_is_valid_everywhere() {
    let (bytes, cuts) = remus(3);
    let at = cuts[2];
    let f = write_tmp("remus-boundary.libxl", &bytes[..at]);
    let said = "3 checkpoints, ending at a checkpoint boundary";
    for mode in [&["verify"][..], &["verify", "--strict"]] {
        let o = run(&[mode, &[f.as_str()]].concat());
        assert_eq!(o.status.code(), Some(0), "{mode:?}: {}", err(&o));
        assert!(out(&o).contains(said), "{mode:?}: {}", out(&o));
    }
    let o = run(&["dump", &f]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let last = out(&o).lines().last().unwrap_or("").to_string();
    assert_eq!(last, format!("end of input at offset 0x{at:x}: {said}"));
    let o = run(&["dump", "--json", &f]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let last: serde_json::Value =
        serde_json::from_str(out(&o).lines().last().unwrap_or("")).unwrap();
    assert_eq!(last["kind"], "end_of_input");
    assert_eq!(last["checkpoints"], 3);
    let o = run(&["stats", &f]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(out(&o).contains(said), "{}", out(&o));
    let o = run(&["stats", "--json", &f]);
    let v: serde_json::Value = serde_json::from_str(out(&o).trim()).unwrap();
    assert_eq!(v["failover"]["at_boundary"], true);
    let v4 = tmp("remus-boundary.v4");
    let o = run(&["convert", "--to", "4", &f, "-o", v4.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(err(&o).contains(said), "{}", err(&o));
    let o = run(&["verify", "--strict", v4.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(out(&o).contains(said), "{}", out(&o));
    std::fs::remove_file(&v4).unwrap();
}

/// What the tools say of the failover of `remus(2)` cut inside its last
/// segment, which starts at `at`.
fn dropped(at: usize) -> String {
    format!("2 checkpoints; segment 2 (from offset 0x{at:x}, 1 records) dropped on failover")
}

/// Cut inside a segment: invalid strictly (Truncated, exit 1); leniently
/// Xen's restore drops the buffered segment and restores the last
/// checkpoint, which `verify` says.
#[test]
fn a_remus_stream_cut_inside_a_segment_is_a_failover_only_leniently() {
    let (bytes, cuts) = remus(2);
    let f = write_tmp("remus-inside.libxl", &bytes[..cuts[1] + 100]);
    let o = run(&["verify", "--strict", &f]);
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(err(&o).contains("rule Truncated"), "{}", err(&o));
    let o = run(&["verify", &f]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(out(&o).contains(&dropped(cuts[1])), "{}", out(&o));
    // dump reads as a restore does: it shows the records read, then the
    // failover, and exits 0.
    let o = run(&["dump", &f]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let last = out(&o).lines().last().unwrap_or("").to_string();
    assert!(
        last.starts_with("end of input at offset") && last.contains(&dropped(cuts[1])),
        "{last}"
    );
}

/// `convert --lenient` of a Remus stream cut inside a segment writes what
/// Xen's restore restores: the stream up to the last checkpoint boundary,
/// which verifies in both modes, and says which segment it dropped.
/// Strictly the input is invalid and no output file appears; standard
/// output, which cannot be cut back, is refused (exit 2).
#[test]
fn convert_lenient_of_a_stream_cut_inside_a_segment_writes_the_last_checkpoint() {
    let (bytes, cuts) = remus(2);
    let f = write_tmp("remus-inside-convert.libxl", &bytes[..cuts[1] + 100]);
    let v4 = tmp("remus-inside-convert.v4");
    let v4s = v4.to_str().unwrap();
    let _ = std::fs::remove_file(&v4);
    let o = run(&["convert", "--to", "4", &f, "-o", v4s]);
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(
        err(&o).contains("Truncated") || err(&o).contains("truncated"),
        "{}",
        err(&o)
    );
    assert!(!v4.exists());
    let o = run(&["convert", "--lenient", "--to", "4", &f, "-o", v4s]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(err(&o).contains(&dropped(cuts[1])), "{}", err(&o));
    assert!(
        err(&o).contains("2 checkpoints, ending at a checkpoint boundary"),
        "{}",
        err(&o)
    );
    // The output: the same as converting the input cut at that boundary.
    let whole = write_tmp("remus-boundary-convert.libxl", &bytes[..cuts[1]]);
    let want = tmp("remus-boundary-convert.v4");
    let o = run(&["convert", "--to", "4", &whole, "-o", want.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(std::fs::read(&v4).unwrap(), std::fs::read(&want).unwrap());
    for mode in [&["verify"][..], &["verify", "--strict"]] {
        let o = run(&[mode, &[v4s]].concat());
        assert_eq!(o.status.code(), Some(0), "{mode:?}: {}", err(&o));
        assert!(
            out(&o).contains("2 checkpoints, ending at a checkpoint boundary"),
            "{}",
            out(&o)
        );
    }
    // Standard output cannot be cut back.
    let o = Command::new(BIN)
        .args(["convert", "--lenient", "--to", "4", &f])
        .stdout(std::process::Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(err(&o).contains("cannot be cut back"), "{}", err(&o));
    for p in [&v4, &want] {
        std::fs::remove_file(p).unwrap();
    }
}
