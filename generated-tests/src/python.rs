//! Running the machine's `python3` on the generated `xen.migration` package.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("generated-tests lives in the workspace root")
        .to_path_buf()
}

/// Where the generated package lives (the directory to put on `PYTHONPATH`).
pub fn package_root() -> PathBuf {
    repo_root().join("generated/tools/python")
}

/// The `xen-verify-stream` driver inside the generated package
/// (`xen/migration/verify_stream.py`), run as a script.
pub fn verify_stream_driver() -> PathBuf {
    package_root().join("xen/migration/verify_stream.py")
}

/// The hand-written Python helpers of these tests.
pub fn scripts_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python")
}

/// A `python3` command with the generated package on `PYTHONPATH` and no
/// user site or bytecode files. Panics with a clear message if `python3`
/// is missing: the tests must fail, not skip, without it.
pub fn python3() -> Command {
    let probe = Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    assert!(
        matches!(probe, Ok(s) if s.success()),
        "python3 is required to test the generated Python package"
    );
    python_at(Path::new("python3"))
}

/// Where the interpreters are installed on the project's machines.
pub const PYENV_VERSIONS: &str = "/root/.pyenv/versions";

/// Every interpreter there (`VERSION/bin/python`), by version, oldest
/// first; the test fails without 2.7, 3.6 and 3.13 or later.
pub fn pyenv_interpreters() -> Vec<(Vec<u32>, PathBuf)> {
    let dir = Path::new(PYENV_VERSIONS);
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{PYENV_VERSIONS}: {e} (the Python interpreters are missing)"));
    let mut found: Vec<(Vec<u32>, PathBuf)> = entries
        .filter_map(|e| {
            let e = e.ok()?;
            let name = e.file_name().to_string_lossy().into_owned();
            let version: Vec<u32> = name
                .split('.')
                .map(|p| p.parse().ok())
                .collect::<Option<_>>()?;
            Some((version, e.path().join("bin").join("python")))
        })
        .collect();
    found.sort();
    for (v, p) in &found {
        assert!(p.is_file(), "{} (Python {v:?}) is missing", p.display());
    }
    let has = |major: u32, minor: u32| {
        found
            .iter()
            .any(|(v, _)| v.get(..2) == Some(&[major, minor][..]))
    };
    assert!(has(2, 7), "no Python 2.7 under {PYENV_VERSIONS}: {found:?}");
    assert!(has(3, 6), "no Python 3.6 under {PYENV_VERSIONS}: {found:?}");
    let newest = found.last().map(|(v, _)| v.clone()).unwrap_or_default();
    assert!(
        newest >= vec![3, 13],
        "the newest Python under {PYENV_VERSIONS} is {newest:?}, expected 3.13 or later"
    );
    found
}

/// The interpreter `py` (a full path, or a name to look up in `PATH`)
/// with the generated package on `PYTHONPATH` and no user site or
/// bytecode files.
pub fn python_at(py: &Path) -> Command {
    let mut cmd = Command::new(py);
    cmd.env("PYTHONPATH", package_root())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONNOUSERSITE", "1")
        .env("PYTHONIOENCODING", "utf-8");
    cmd
}

/// Runs a command and returns its output, panicking if it cannot start.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// Stdout and stderr of an output, for assertion messages.
pub fn show(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A JSON string literal.
pub fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => write!(out, "\\u{:04x}", c as u32).unwrap(),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A JSON object from keys and already-encoded values.
pub fn json_obj(entries: &BTreeMap<String, String>) -> String {
    let body: Vec<String> = entries
        .iter()
        .map(|(k, v)| format!("{}: {v}", json_str(k)))
        .collect();
    format!("{{{}}}", body.join(", "))
}
