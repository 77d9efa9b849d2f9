//! The pip package: `pip install` of the generated `tools/python` tree in
//! a fresh venv (setuptools fetched from PyPI), then the installed
//! `xen-verify-stream` console script on both real save files (exit 0)
//! and a truncated one (exit 1), and `xen` as a namespace package that
//! another `xen` on the path does not take over.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use generated_tests::python::{package_root, run, show};
use test_support::{real_stream, REAL_STREAMS};

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pip-package-{}", std::process::id()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Copies a directory tree (no `__pycache__`), so that the build's
/// `build/` and `*.egg-info` land in the copy, not in `generated/`.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let name = e.file_name();
        if name == "__pycache__" || name == "build" || name.to_string_lossy().ends_with(".egg-info")
        {
            continue;
        }
        let (src, dst) = (e.path(), to.join(&name));
        if e.file_type().unwrap().is_dir() {
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

/// A command of the venv, with none of the caller's Python settings.
fn venv_cmd(venv: &Path, program: &str) -> Command {
    let mut cmd = Command::new(venv.join("bin").join(program));
    cmd.env_remove("PYTHONPATH")
        .env_remove("PYTHONHOME")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONNOUSERSITE", "1");
    cmd
}

/// The venv's site-packages directory.
fn site_packages(venv: &Path) -> PathBuf {
    let out = run(venv_cmd(venv, "python").args([
        "-c",
        "import sysconfig; print(sysconfig.get_paths()['purelib'])",
    ]));
    assert!(out.status.success(), "{}", show(&out));
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

#[test]
fn pip_installs_the_package_and_its_console_script() {
    let dir = scratch();
    let src = dir.join("src");
    copy_tree(&package_root(), &src);
    let venv = dir.join("venv");
    let out = run(Command::new("python3")
        .env_remove("PYTHONPATH")
        .args(["-m", "venv"])
        .arg(&venv));
    assert!(out.status.success(), "python3 -m venv: {}", show(&out));
    let out = run(venv_cmd(&venv, "python")
        .args(["-m", "pip", "install", "--disable-pip-version-check", "-q"])
        .arg(&src));
    assert!(out.status.success(), "pip install: {}", show(&out));

    // The package is the installed one, and so is the script.
    let site = site_packages(&venv);
    let out = run(venv_cmd(&venv, "python").args([
        "-c",
        "import xen.migration.libxc as m, xen.migration.verify as v; \
         print(m.__file__); print(issubclass(v.TruncatedError, v.MigrationError)); \
         print(issubclass(v.TruncatedError, IOError))",
    ]));
    assert!(out.status.success(), "{}", show(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    assert!(
        Path::new(lines.next().unwrap()).starts_with(&site),
        "{text}"
    );
    assert_eq!(lines.collect::<Vec<_>>(), ["True", "True"]);
    let script = venv.join("bin").join("xen-verify-stream");
    assert!(
        script.is_file(),
        "no console script at {}",
        script.display()
    );

    // Both real save files: valid, format detected (-f auto is the default).
    for name in REAL_STREAMS {
        let path = real_stream(name);
        let out = run(venv_cmd(&venv, "xen-verify-stream").arg("-v").arg(&path));
        assert_eq!(out.status.code(), Some(0), "{name}: {}", show(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        let len = std::fs::metadata(&path).unwrap().len();
        assert!(
            text.contains(&format!("Valid xl stream, END at offset {len}")),
            "{name}: {text}"
        );
    }

    // A truncated one: exit 1, the rule and where the input ended.
    let mut head = Vec::new();
    std::fs::File::open(real_stream(REAL_STREAMS[1]))
        .unwrap()
        .take(3_000_000)
        .read_to_end(&mut head)
        .unwrap();
    let cut = dir.join("truncated.xl");
    std::fs::write(&cut, &head).unwrap();
    let out = run(venv_cmd(&venv, "xen-verify-stream").arg(&cut));
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Stream error (Truncated, offset 3000000)"),
        "{err}"
    );
    // From standard input as well.
    let out = run(venv_cmd(&venv, "xen-verify-stream").stdin(std::fs::File::open(&cut).unwrap()));
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));

    // Another regular `xen` package later on sys.path (as Debian's
    // dist-packages is for a venv with system site packages), with its own
    // xen.migration: the installed one still wins, and the other's own
    // modules stay importable through the namespace.
    let other = dir.join("other");
    std::fs::create_dir_all(other.join("xen/migration")).unwrap();
    std::fs::write(other.join("xen/__init__.py"), "").unwrap();
    std::fs::write(other.join("xen/migration/__init__.py"), "SHADOW = True\n").unwrap();
    std::fs::write(other.join("xen/lowlevel.py"), "OTHER = True\n").unwrap();
    std::fs::write(
        site.join("zz-other-xen.pth"),
        format!("{}\n", other.display()),
    )
    .unwrap();
    let probe = "import xen.migration, xen.lowlevel; \
                 print(hasattr(xen.migration, 'SHADOW')); print(xen.lowlevel.OTHER)";
    let out = run(venv_cmd(&venv, "python").args(["-c", probe]));
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "False\nTrue");
    let out = run(venv_cmd(&venv, "xen-verify-stream").arg(real_stream(REAL_STREAMS[0])));
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));

    // What the `xen/__init__.py` prevents: the same tree without it (an
    // implicit namespace portion), even first on the path, loses to the
    // other regular package.
    let bare = dir.join("bare");
    copy_tree(&package_root(), &bare);
    std::fs::remove_file(bare.join("xen/__init__.py")).unwrap();
    let out = run(venv_cmd(&venv, "python")
        .env("PYTHONPATH", &bare)
        .args(["-S", "-c"])
        .arg(format!(
            "import sys; sys.path.append({:?}); import xen.migration; \
             print(hasattr(xen.migration, 'SHADOW'))",
            other.display().to_string()
        )));
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "True");

    std::fs::remove_dir_all(&dir).unwrap();
}
