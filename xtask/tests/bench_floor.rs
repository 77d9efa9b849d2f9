//! The benchmark's Python floor (`xtask/bench/framing_floor.py`) frames
//! both real save files as the Rust verifier does: a floor that lost its
//! way in the file would time nothing.

use std::process::Command;

use format_spec::save::{self, Options};
use test_support::{real_stream, repo_root, REAL_STREAMS};

#[test]
fn the_floor_frames_both_real_saves_like_the_verifier() {
    let root = repo_root();
    for name in REAL_STREAMS {
        let path = real_stream(name);
        let report = save::verify_seekable(
            std::fs::File::open(&path).expect("open the real save"),
            Options::default(),
        )
        .expect("the real save verifies");
        let libxc = report.libxc.expect("a libxc stream").records;
        let libxl: u64 = report.libxl_records.values().sum();
        let out = Command::new("python3")
            .arg("-S")
            .arg(root.join("xtask/bench/framing_floor.py"))
            .arg(&path)
            .env("PYTHONPATH", root.join("generated/tools/python"))
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .output()
            .expect("run python3");
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            format!("{libxl} libxl records, {libxc} libxc records"),
            "{name}"
        );
    }
}
