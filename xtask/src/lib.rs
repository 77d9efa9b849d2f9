//! Code generation from the description in `format-spec`.
//!
//! Every output is a pure function of the layout descriptors: the same
//! description gives the same bytes, in a deterministic order, with a
//! "generated, do not edit" banner and LF line endings.

pub mod c;
pub mod c_tables;
pub mod diagram;
pub mod diff;
pub mod docs;
pub mod field_table;
pub mod pandoc;
pub mod pypkg;
pub mod python;
pub mod regions;
pub mod stamp;
pub mod template;
pub mod text;
pub mod writer;

use std::path::{Path, PathBuf};

/// One generated file: its path relative to a Xen tree (and to
/// `generated/` in this repository) and its full contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// Path relative to the root of a Xen checkout, e.g.
    /// `tools/libs/guest/xg_sr_stream_format.h`.
    pub path: &'static str,
    /// The file contents.
    pub contents: String,
}

/// Every generated file, in a fixed order.
pub fn outputs() -> Vec<Output> {
    let mut out = Vec::new();
    out.extend(c::outputs());
    out.extend(python::outputs());
    out
}

/// Every hand-written Xen file the description owns regions of, with
/// those regions.
pub fn spliced() -> Vec<regions::Spliced> {
    let mut out = c_tables::spliced();
    out.extend(pandoc::spliced());
    out
}

/// Every file checked in under `generated/`: [`outputs`], the regions of
/// [`spliced`] (one `.regions` file per Xen file) and the files that belong
/// to this repository only (the docs of [`docs`], the pip package files of
/// [`pypkg`]). `--xen-tree` writes the
/// first, splices the second and leaves out the last.
pub fn repo_outputs() -> Vec<Output> {
    let mut out = outputs();
    for sp in spliced() {
        out.push(Output {
            path: leak(regions::regions_path(sp.host)),
            contents: regions::regions_file(&sp),
        });
    }
    out.extend(docs::outputs());
    out.extend(pypkg::outputs());
    out
}

/// A path computed once per run, kept for the life of the program.
fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// The repository root (the workspace directory).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace root")
        .to_path_buf()
}

/// Where the checked-in outputs live.
pub fn generated_dir() -> PathBuf {
    repo_root().join("generated")
}

/// What [`sync`] did or would do to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileState {
    /// The file already holds the expected bytes.
    Fresh,
    /// The file was missing or different (and, unless checking, was written).
    Stale,
}

/// Writes every output under `root`, touching only files whose bytes
/// differ; with `check`, writes nothing. Returns the stale paths.
pub fn sync(root: &Path, outputs: &[Output], check: bool) -> std::io::Result<Vec<PathBuf>> {
    let mut stale = Vec::new();
    for o in outputs {
        let path = root.join(o.path);
        let current = std::fs::read(&path).ok();
        if current.as_deref() == Some(o.contents.as_bytes()) {
            continue;
        }
        stale.push(path.clone());
        if !check {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(&path, o.contents.as_bytes())?;
        }
    }
    Ok(stale)
}

/// One file that is stale: what it holds now and what it should hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Path relative to the root it lives under.
    pub path: String,
    /// The file's current text (`None`: missing).
    pub old: Option<String>,
    /// The text it should have.
    pub new: String,
    /// Hand-written lines of the current file that the new text would
    /// lose, each as `line N: TEXT` (always empty under `generated/`).
    pub lost: Vec<String>,
}

/// Why a Xen tree cannot be brought up to date.
#[derive(Debug)]
pub enum PlanError {
    /// A file could not be read.
    Io(PathBuf, std::io::Error),
    /// A hand-written file the description owns regions of is missing.
    MissingHost(PathBuf),
    /// A region has no place in its file.
    Splice(PathBuf, regions::SpliceError),
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlanError::Io(p, e) => write!(f, "{}: {e}", p.display()),
            PlanError::MissingHost(p) => write!(f, "{}: no such file", p.display()),
            PlanError::Splice(p, e) => write!(f, "{}: {e}", p.display()),
        }
    }
}

impl std::error::Error for PlanError {}

/// Reads a file that may be missing.
fn read_opt(path: &Path) -> Result<Option<String>, PlanError> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(PlanError::Io(path.to_path_buf(), e)),
    }
}

/// The stale files among `outputs` under `root` (this repository's
/// `generated/`, which git keeps the history of: nothing counts as lost).
pub fn plan_repo(root: &Path, outputs: &[Output]) -> Result<Vec<Change>, PlanError> {
    let mut changes = Vec::new();
    for o in outputs {
        let old = read_opt(&root.join(o.path))?;
        if old.as_deref() != Some(o.contents.as_str()) {
            changes.push(Change {
                path: o.path.to_string(),
                old,
                new: o.contents.clone(),
                lost: Vec::new(),
            });
        }
    }
    Ok(changes)
}

/// The stale files of a Xen tree: the whole files of [`outputs`] and the
/// hand-written files [`spliced`] owns regions of, each with the lines a
/// rewrite would lose.
pub fn plan_xen(root: &Path) -> Result<Vec<Change>, PlanError> {
    let mut changes = Vec::new();
    for o in outputs() {
        let old = read_opt(&root.join(o.path))?;
        if old.as_deref() == Some(o.contents.as_str()) {
            continue;
        }
        let lost = old
            .as_deref()
            .map(|t| lost_lines(o.path, t, &o.contents))
            .unwrap_or_default();
        changes.push(Change {
            path: o.path.to_string(),
            old,
            new: o.contents,
            lost,
        });
    }
    for sp in spliced() {
        let path = root.join(sp.host);
        let old = read_opt(&path)?.ok_or_else(|| PlanError::MissingHost(path.clone()))?;
        let (new, lost) = regions::splice(&old, &sp).map_err(|e| PlanError::Splice(path, e))?;
        if new != old {
            changes.push(Change {
                path: sp.host.to_string(),
                old: Some(old),
                new,
                lost,
            });
        }
    }
    Ok(changes)
}

/// The lines of `old`, the current text of a whole generated file, that
/// replacing it with `new` would lose. A file whose checksum matches is the
/// generator's own: nothing is lost. A stamped file edited since loses
/// every line `new` does not have. A file without a checksum is Xen's
/// hand-written original: it loses the definitions (`#define` and struct
/// names in C, top-level names in Python) that `new` does not make.
pub fn lost_lines(path: &str, old: &str, new: &str) -> Vec<String> {
    let numbered = |pred: &dyn Fn(&str) -> bool| -> Vec<String> {
        old.lines()
            .enumerate()
            .filter(|(_, l)| pred(l))
            .map(|(i, l)| format!("line {}: {l}", i + 1))
            .collect()
    };
    match stamp::verify(old) {
        Some(true) => Vec::new(),
        Some(false) => {
            let kept: std::collections::HashSet<&str> = new.lines().map(str::trim).collect();
            numbered(&|l: &str| {
                let t = l.trim();
                !t.is_empty() && !t.contains(stamp::TAG) && !kept.contains(t)
            })
        }
        None => {
            let defined: std::collections::HashSet<String> =
                new.lines().filter_map(|l| definition(path, l)).collect();
            numbered(&|l: &str| definition(path, l).is_some_and(|d| !defined.contains(&d)))
        }
    }
}

/// The name a line defines, by the kind of file: `#define NAME` and
/// `struct NAME` in C, top-level `NAME =`, `def NAME` and `class NAME` in
/// Python.
fn definition(path: &str, line: &str) -> Option<String> {
    let ident = |s: &str| -> Option<String> {
        let n: String = s
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        (!n.is_empty()).then_some(n)
    };
    if path.ends_with(".h") || path.ends_with(".c") {
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix('#') {
            return ident(rest.trim_start().strip_prefix("define")?.trim_start());
        }
        let rest = t.strip_prefix("typedef ").unwrap_or(t);
        let name = ident(rest.strip_prefix("struct ")?)?;
        return Some(format!("struct {name}"));
    }
    if path.ends_with(".py") {
        for kw in ["def ", "class "] {
            if let Some(rest) = line.strip_prefix(kw) {
                return ident(rest);
            }
        }
        let name = ident(line)?;
        let after = line[name.len()..].trim_start();
        if after.starts_with('=') && !after.starts_with("==") {
            return Some(name);
        }
    }
    None
}

/// Writes every change under `root`, each file through a temporary file
/// renamed over it, so that no file is ever left half-written.
pub fn write_changes(root: &Path, changes: &[Change]) -> std::io::Result<()> {
    for c in changes {
        let path = root.join(&c.path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut tmp = path.clone().into_os_string();
        tmp.push(".codegen-tmp");
        std::fs::write(&tmp, c.new.as_bytes())?;
        if let Ok(meta) = std::fs::metadata(&path) {
            std::fs::set_permissions(&tmp, meta.permissions())?;
        }
        std::fs::rename(&tmp, &path)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_written_definitions_that_would_go_are_named() {
        let new = stamp::stamp(&format!(
            "/* {}{} */
#define A 1
#define B 2
",
            stamp::TAG,
            stamp::PLACEHOLDER
        ));
        // Xen's original: only definitions count.
        let xen = "/* Xen */
#define A  1
#define C 3
struct s
";
        assert_eq!(
            lost_lines("x.h", xen, &new),
            vec!["line 3: #define C 3", "line 4: struct s"]
        );
        // The generator's own output: nothing is lost.
        assert!(lost_lines(
            "x.h",
            &new,
            "#define A 1
"
        )
        .is_empty());
        // Edited after generation: every line the new text lacks.
        let edited = format!(
            "{new}/* mine */
"
        );
        assert_eq!(lost_lines("x.h", &edited, &new), vec!["line 4: /* mine */"]);
        let py = "X = 1
class V(object):
    y = 2
def f():
";
        assert_eq!(
            lost_lines(
                "m.py", py, "X = 2
"
            ),
            vec!["line 2: class V(object):", "line 4: def f():"]
        );
    }
}
