//! Finding the compilers and compiling with the flag sets the tests use.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The language a source is compiled as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// C, with `cc`.
    C,
    /// C++, with `c++`.
    Cxx,
}

/// One way of compiling: a compiler, a language and its flags.
#[derive(Debug, Clone, Copy)]
pub struct CompileMode {
    /// The compiler command, looked up on `PATH`.
    pub compiler: &'static str,
    /// The language.
    pub lang: Lang,
    /// The flags.
    pub flags: &'static [&'static str],
}

/// The modes the header must compile in.
///
/// * C11 with every warning an error: what a careful consumer uses.
/// * GNU C99 with `-Wall -Werror`: how Xen builds its tools.
/// * C++11: the header's trailing arrays are C99 flexible array members,
///   which ISO C++ lacks; g++ and clang++ accept them as an extension and
///   only warn under `-Wpedantic`, which is therefore not used here. No
///   `-Wno-*` flag is needed.
pub const MODES: [CompileMode; 3] = [
    CompileMode {
        compiler: "cc",
        lang: Lang::C,
        flags: &["-std=c11", "-Wall", "-Wextra", "-Werror"],
    },
    CompileMode {
        compiler: "cc",
        lang: Lang::C,
        flags: &["-std=gnu99", "-Wall", "-Werror"],
    },
    CompileMode {
        compiler: "c++",
        lang: Lang::Cxx,
        flags: &["-std=c++11", "-Wall", "-Wextra", "-Werror"],
    },
];

impl CompileMode {
    /// A short label for messages (`cc -std=c11 ...`).
    pub fn label(&self) -> String {
        format!("{} {}", self.compiler, self.flags.join(" "))
    }
}

/// The full path of `name` found on `PATH`. Panics when it is missing: the
/// C tests must fail, not pass silently, on a machine without a compiler.
pub fn require(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!("`{name}` is not on PATH: the generated C header cannot be tested without it");
}

/// What a compiler run produced.
#[derive(Debug)]
pub struct Outcome {
    /// Whether the compiler exited with success.
    pub ok: bool,
    /// Its diagnostics.
    pub stderr: String,
}

/// Compiles `source` in `mode` with `-I` for each of `includes`, to an
/// object file when `output` ends in `.o` (`-c`), else to an executable.
pub fn compile<P: AsRef<Path>>(
    mode: &CompileMode,
    includes: &[P],
    source: &Path,
    output: &Path,
) -> Outcome {
    let compiler = require(mode.compiler);
    let mut cmd = Command::new(compiler);
    cmd.args(mode.flags);
    if mode.lang == Lang::Cxx {
        cmd.args(["-x", "c++"]);
    }
    for include in includes {
        cmd.arg("-I").arg(include.as_ref());
    }
    if output.extension().is_some_and(|e| e == "o") {
        cmd.arg("-c");
    }
    cmd.arg(source).arg("-o").arg(output);
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", mode.label()));
    Outcome {
        ok: out.status.success(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
