//! The generated `xen.migration` modules, dropped into Xen's own Python
//! package (the Xen kit's `tools/python/xen`), work with Xen's own tools on
//! every interpreter of `/root/.pyenv/versions/`: Python 2.7 (which Xen's
//! configure still accepts), 3.6 and the newest 3.x among them.
//!
//! For each interpreter, called by its full path: Xen's `tests.py`, Xen's
//! `verify-stream-v2 -v -f xl` on both real save files from a file and from
//! a pipe, and `convert-legacy-stream --help`. A missing interpreter fails
//! the test; nothing is skipped.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use generated_tests::python::{pyenv_interpreters as interpreters, show};
use generated_tests::xen_kit::kit;
use test_support::{real_stream, REAL_STREAMS};

/// Xen's package copied to `dir/xen`, with the generated modules copied
/// over `dir/xen/migration/`.
fn overlay(dir: &Path) -> PathBuf {
    let status = Command::new("cp")
        .arg("-r")
        .arg(kit().join("tree/tools/python/xen"))
        .arg(dir.join("xen"))
        .status()
        .expect("run cp");
    assert!(status.success());
    let status = Command::new("chmod")
        .args(["-R", "u+w"])
        .arg(dir)
        .status()
        .expect("chmod");
    assert!(status.success());
    let mut copied = 0;
    for o in xtask::python::outputs() {
        let rel = o
            .path
            .strip_prefix("tools/python/")
            .expect("a module of the package");
        std::fs::write(dir.join(rel), o.contents).expect("write generated module");
        copied += 1;
    }
    assert!(copied >= 7, "{copied} modules");
    dir.to_path_buf()
}

/// `python ARGS` in `cwd` with the overlay on the path, `stdin` fed in.
fn python(py: &Path, root: &Path, args: &[&str], stdin: Option<&Path>) -> Output {
    let mut cmd = Command::new(py);
    cmd.args(args)
        .current_dir(root)
        .env("PYTHONPATH", root)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONNOUSERSITE", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", py.display()));
    if let Some(path) = stdin {
        let data = std::fs::read(path).expect("read stream");
        let mut pipe = child.stdin.take().expect("stdin");
        // Feed the pipe from a thread while the child's output is collected.
        let feeder = std::thread::spawn(move || {
            let _ = pipe.write_all(&data);
        });
        let out = child.wait_with_output().expect("wait");
        feeder.join().expect("feeder");
        return out;
    }
    child.wait_with_output().expect("wait")
}

#[test]
fn xens_tools_run_the_generated_modules_on_every_interpreter() {
    let pythons = interpreters();
    let scratch = generated_tests::scratch_dir("xen-python");
    let root = scratch.join("overlay");
    std::fs::create_dir_all(&root).unwrap();
    overlay(&root);
    let scripts = kit().join("tree/tools/python/scripts");
    let verify = scripts.join("verify-stream-v2");
    let verify = verify.to_str().unwrap();
    let convert = scripts.join("convert-legacy-stream");
    let streams: Vec<PathBuf> = REAL_STREAMS.iter().map(|n| real_stream(n)).collect();

    // Xen's words for facts of the two files (see XEN_WORDING in xtask).
    let expected: [&[&str]; 2] = [
        &[
            "Libxc Image Header: Version 3, little endian",
            "Domain Header: x86 PV from Xen 4.17",
            "  64bit guest, 4 levels of pagetables",
            "  Start pfn 0x0, End 0x5fff",
            "  vcpu0 basic context, 5168 bytes",
            "Libxl Record: End, length 0",
        ],
        &[
            "Domain Header: x86 HVM from Xen 4.17",
            "  Mode 0, 2445405 kHz, 154867212560 ns, incarnation 1",
            "  Index 0, type Qemu Upstream",
            "Libxl Record: End, length 0",
        ],
    ];
    let mut first_outputs: Option<Vec<Vec<u8>>> = None;
    for (version, py) in &pythons {
        let what = format!("Python {version:?} ({})", py.display());
        let out = python(
            py,
            &root,
            &["-m", "unittest", "-v", "xen.migration.tests"],
            None,
        );
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "{what}: Xen's tests.py:\n{}",
            show(&out)
        );
        assert!(
            text.contains("Ran 2 tests") && text.contains("OK"),
            "{what}: {text}"
        );

        let mut outputs = Vec::new();
        for (stream, facts) in streams.iter().zip(expected) {
            let path = stream.to_str().unwrap();
            let from_file = python(py, &root, &[verify, "-v", "-f", "xl", "-i", path], None);
            let from_pipe = python(py, &root, &[verify, "-v", "-f", "xl"], Some(stream));
            for (how, out) in [("file", &from_file), ("pipe", &from_pipe)] {
                assert!(
                    out.status.success(),
                    "{what}: verify-stream-v2 -f xl {path} from a {how}:\n{}",
                    show(out)
                );
                let log = String::from_utf8_lossy(&out.stdout);
                for fact in facts {
                    assert!(
                        log.lines().any(|l| l == *fact),
                        "{what}: {path} from a {how}: no line {fact:?} in\n{log}"
                    );
                }
            }
            assert_eq!(from_file.stdout, from_pipe.stdout, "{what}: {path}");
            outputs.push(from_file.stdout);
        }
        // Every interpreter says the same.
        match &first_outputs {
            None => first_outputs = Some(outputs),
            Some(first) => assert!(first == &outputs, "{what} prints differently"),
        }

        let out = python(py, &root, &[convert.to_str().unwrap(), "--help"], None);
        assert!(
            out.status.success(),
            "{what}: convert-legacy-stream --help:\n{}",
            show(&out)
        );
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(
            help.contains("Usage") || help.contains("usage"),
            "{what}: {help}"
        );
    }
}
