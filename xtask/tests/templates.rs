//! The template files under `xtask/templates/` (and the hand-written
//! driver `xtask/src/pypkg/verify_stream.py`): every Python one compiles,
//! as it is, slots unfilled, under every interpreter of
//! `/root/.pyenv/versions/` (2.7 and 3.6 to 3.13, the versions the
//! generated modules support) and under `python3`; and every template file
//! is used by a generator.

mod common;

use common::{files, files_with};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the interpreters are installed on the project's machines.
const PYENV_VERSIONS: &str = "/root/.pyenv/versions";

fn xtask_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// The Python sources to compile: the templates and the driver.
fn python_sources() -> Vec<PathBuf> {
    let mut out = files_with(&xtask_dir().join("templates"), "py");
    out.push(xtask_dir().join("src/pypkg/verify_stream.py"));
    out
}

/// `python3` and every interpreter under [`PYENV_VERSIONS`], by path.
fn interpreters() -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(PYENV_VERSIONS)
        .unwrap_or_else(|e| panic!("{PYENV_VERSIONS}: {e} (the Python interpreters are missing)"))
        .map(|e| e.expect("directory entry").path().join("bin/python"))
        .collect();
    found.sort();
    assert!(
        found.iter().any(|p| p
            .to_string_lossy()
            .starts_with(&format!("{PYENV_VERSIONS}/2.7."))),
        "no Python 2.7 under {PYENV_VERSIONS}: {found:?}"
    );
    found.push(PathBuf::from("python3"));
    found
}

#[test]
fn every_python_template_compiles_unfilled_under_every_interpreter() {
    let sources = python_sources();
    assert!(
        sources.len() >= 10,
        "only {} Python templates: {sources:?}",
        sources.len()
    );
    // Compile copies, so that no byte-code lands in the source tree.
    let dir = xtask_dir()
        .parent()
        .expect("workspace root")
        .join("target/template-compile");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the scratch directory");
    let mut copies = Vec::new();
    for (i, src) in sources.iter().enumerate() {
        let name = src.file_name().expect("file name").to_string_lossy();
        let copy = dir.join(format!("t{i}_{name}"));
        std::fs::copy(src, &copy).expect("copy a template");
        copies.push(copy);
    }
    let mut failures = Vec::new();
    for python in interpreters() {
        let out = Command::new(&python)
            .args(["-m", "py_compile"])
            .args(&copies)
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", python.display()));
        if !out.status.success() {
            failures.push(format!(
                "{}: {}{}",
                python.display(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    std::fs::remove_dir_all(&dir).expect("remove the scratch directory");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_syntax_error_in_a_template_would_be_caught() {
    // The check above must be able to fail: py_compile rejects a template
    // whose slot is not a valid name where it stands.
    let dir = xtask_dir()
        .parent()
        .expect("workspace root")
        .join("target/template-broken");
    std::fs::create_dir_all(&dir).expect("create the scratch directory");
    let bad = dir.join("bad.py");
    std::fs::write(&bad, "def f():\n    return {slot}}\n").expect("write");
    let status = Command::new("python3")
        .args(["-m", "py_compile"])
        .arg(&bad)
        .output()
        .expect("run python3")
        .status;
    std::fs::remove_dir_all(&dir).expect("remove the scratch directory");
    assert!(!status.success());
}

#[test]
fn every_template_file_is_used_by_a_generator() {
    let sources: String = files_with(&xtask_dir().join("src"), "rs")
        .iter()
        .map(|p| std::fs::read_to_string(p).expect("read a source file"))
        .collect();
    let root = xtask_dir().join("templates");
    for t in files(&root) {
        let name = t
            .strip_prefix(&root)
            .expect("under templates/")
            .to_string_lossy()
            .replace('\\', "/");
        assert!(
            sources.contains(&format!("template!(\"{name}\")")),
            "templates/{name} is not used by any generator"
        );
    }
}

/// The quoted strings of `text` (`"..."` or `'...'`, backslash escapes
/// honoured, each string within one line), with their 1-based line
/// numbers.
fn quoted(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let mut open: Option<(char, String)> = None;
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            match (&mut open, c) {
                (None, '"' | '\'') => open = Some((c, String::new())),
                (None, _) => {}
                (Some((_, s)), '\\') => {
                    if let Some(e) = chars.next() {
                        s.push(e);
                    }
                }
                (Some((q, s)), c) if c == *q => {
                    out.push((n + 1, std::mem::take(s)));
                    open = None;
                }
                (Some((_, s)), c) => s.push(c),
            }
        }
    }
    out
}

#[test]
fn no_template_spells_an_error_kind_as_a_string() {
    // Kind names reach the generated Python only through kind tokens
    // (`KIND_RecordTooLong`), which the renderer checks against the
    // description; a quoted name would escape that check.
    let mut found = Vec::new();
    for path in python_sources() {
        let text = std::fs::read_to_string(&path).expect("template");
        for (line, s) in quoted(&text) {
            if xtask::template::is_kind(&s) {
                found.push(format!("{}:{line}: \"{s}\"", path.display()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "write these as KIND_ tokens:\n{}",
        found.join("\n")
    );
    // The check itself sees a quoted kind, in either quotes and after an
    // escaped quote.
    for line in [
        "x = \"RecordTooLong\"",
        "x = 'RecordTooLong'",
        "x = \"\\\"a\\\" b\", \"RecordTooLong\"",
    ] {
        assert!(
            quoted(line)
                .iter()
                .any(|(_, s)| xtask::template::is_kind(s)),
            "{line}: {:?}",
            quoted(line)
        );
    }
}
