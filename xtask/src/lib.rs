//! Code generation from the description in `format-spec`.
//!
//! Every output is a pure function of the layout descriptors: the same
//! description gives the same bytes, in a deterministic order, with a
//! "generated, do not edit" banner and LF line endings.

pub mod c;
pub mod docs;
pub mod python;
pub mod text;

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

/// Every file checked in under `generated/`: [`outputs`] plus the files
/// that belong to this repository only (the docs of [`docs`]), which
/// `--xen-tree` does not write into a Xen tree.
pub fn repo_outputs() -> Vec<Output> {
    let mut out = outputs();
    out.extend(docs::outputs());
    out
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
