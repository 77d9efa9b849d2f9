//! The README's quick start, run as written on a fresh directory: every
//! command of its first `sh` block, and what each one promises. And the
//! README's claim about round trips through version 2.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_xenstream");

/// `cargo run` in the quick start stands for the `xenstream` binary.
const CARGO_RUN: &str = "cargo run -q -p format-cli -- ";

fn fresh_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn quick_start() -> Vec<String> {
    let readme = std::fs::read_to_string(test_support::repo_root().join("README.md")).unwrap();
    let section = readme
        .split("\n## Quick start\n")
        .nth(1)
        .expect("a Quick start section");
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("an sh block in the quick start");
    block
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

fn run_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

#[test]
fn every_quick_start_command_works_as_written() {
    let dir = fresh_dir("readme-quick-start");
    let commands = quick_start();
    assert!(commands.len() >= 5, "{commands:?}");
    let mut outputs = Vec::new();
    for line in &commands {
        let args = line
            .strip_prefix(CARGO_RUN)
            .unwrap_or_else(|| panic!("not a `{CARGO_RUN}...` command: {line}"));
        let args: Vec<&str> = args.split_whitespace().collect();
        let o = run_in(&dir, &args);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{line}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        outputs.push((args[0].to_string(), o));
    }
    let out = |sub: &str| {
        outputs
            .iter()
            .find(|(s, _)| s == sub)
            .map(|(_, o)| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_else(|| panic!("the quick start runs `{sub}`"))
    };
    // What the text under the block says each command does.
    assert!(out("verify").contains("guest.xl: valid (strict)"));
    assert!(out("dump").contains("PAGE_DATA"));
    assert!(
        out("page").starts_with("0000000000105000  78 65 6e 73"),
        "{}",
        out("page")
    );
    assert!(out("memory").starts_with("wrote guest.raw (raw image"));
    assert!(out("records").contains("DOMAIN_CONTEXT"));
    let raw = std::fs::read(dir.join("guest.raw")).unwrap();
    assert!(raw[0x105 * 4096..].starts_with(b"xenstream sample page 0x105\n"));
    let v4 = run_in(&dir, &["verify", "--strict", "guest-v4.xl"]);
    assert!(String::from_utf8_lossy(&v4.stdout).contains("libxc stream v4"));
    // Nothing on standard error for the sample: no warning, no note.
    for (sub, o) in &outputs {
        if sub != "convert" {
            assert!(
                o.stderr.is_empty(),
                "{sub}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
}

fn convert(dir: &Path, to: &str, from: &str, out: &str) {
    let mut args = vec!["convert", "--to", to, from, "-o", out];
    if to == "2" {
        args.insert(1, "--lossy");
    }
    let o = run_in(dir, &args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The record types of a dump, in order.
fn types(dir: &Path, file: &str) -> Vec<String> {
    let o = run_in(dir, &["dump", file]);
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| l.split_whitespace().nth(2).unwrap().to_string())
        .collect()
}

/// "A version 2 stream comes back octet for octet from `--to 3` then
/// `--to 2`. Through `--to 4` ... an HVM stream that had HVM_PARAMS first
/// comes back with the two records swapped, ... a Xen-written one comes
/// back octet for octet."
#[test]
fn round_trips_through_version_2_are_as_the_readme_says() {
    let dir = fresh_dir("readme-v2");
    assert!(run_in(&dir, &["sample", "s.xl"]).status.success());
    convert(&dir, "2", "s.xl", "s2.xl");
    convert(&dir, "3", "s2.xl", "s23.xl");
    convert(&dir, "2", "s23.xl", "s232.xl");
    let s2 = std::fs::read(dir.join("s2.xl")).unwrap();
    assert_eq!(std::fs::read(dir.join("s232.xl")).unwrap(), s2);
    convert(&dir, "4", "s2.xl", "s24.xl");
    convert(&dir, "2", "s24.xl", "s242.xl");
    let s242 = std::fs::read(dir.join("s242.xl")).unwrap();
    assert_eq!(s242.len(), s2.len());
    assert_ne!(s242, s2);
    let (a, b) = (types(&dir, "s2.xl"), types(&dir, "s242.xl"));
    let pos = |v: &[String], t: &str| v.iter().position(|x| x == t).unwrap();
    assert!(pos(&a, "HVM_PARAMS") < pos(&a, "HVM_CONTEXT"));
    assert!(pos(&b, "HVM_CONTEXT") < pos(&b, "HVM_PARAMS"));
    let mut swapped = b.clone();
    swapped.swap(pos(&b, "HVM_CONTEXT"), pos(&b, "HVM_PARAMS"));
    assert_eq!(swapped, a, "only the two records move");

    // Xen's own order (the real HVM save file) survives 2 -> 4 -> 2.
    let hvm = test_support::real_stream("hvm-1vcpu-128M.xl");
    let h = hvm.to_str().unwrap();
    convert(&dir, "2", h, "h2.xl");
    convert(&dir, "4", "h2.xl", "h24.xl");
    convert(&dir, "2", "h24.xl", "h242.xl");
    assert!(
        std::fs::read(dir.join("h2.xl")).unwrap() == std::fs::read(dir.join("h242.xl")).unwrap()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
