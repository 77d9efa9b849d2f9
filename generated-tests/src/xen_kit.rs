//! The Xen kit of `../shared/xen-kit`: copies of its `tree/` (Xen master
//! without the v4 change) with the generated files dropped in, its
//! `compile.sh`, and the sections of the objects it builds.
//!
//! Nothing here holds Xen code: the tests copy the kit's files into
//! scratch directories and run Xen's own build commands on them.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The kit's folder.
pub fn kit() -> PathBuf {
    let dir = test_support::shared_dir().join("xen-kit");
    assert!(
        dir.join("compile.sh").is_file() && dir.join("tree").is_dir(),
        "the Xen kit is missing at {} (set XEN_STREAM_SHARED to the shared/ folder)",
        dir.display()
    );
    dir
}

/// A writable copy of the kit's `tree/` at `dest` (which must not exist).
pub fn copy_tree(dest: &Path) -> PathBuf {
    let status = Command::new("cp")
        .arg("-r")
        .arg(kit().join("tree"))
        .arg(dest)
        .status()
        .expect("run cp");
    assert!(status.success(), "cp -r of the kit's tree failed");
    let status = Command::new("chmod")
        .args(["-R", "u+w"])
        .arg(dest)
        .status()
        .expect("run chmod");
    assert!(status.success(), "chmod of the copy failed");
    dest.to_path_buf()
}

/// Drops the two generated C headers into `tree` in place of Xen's.
pub fn drop_in_headers(tree: &Path) {
    for o in xtask::c::outputs() {
        std::fs::write(tree.join(o.path), o.contents).expect("write generated header");
    }
}

/// Splices the generated name tables into `tree`'s `xg_sr_common.c`.
pub fn splice_tables(tree: &Path) {
    for sp in xtask::c_tables::spliced() {
        let path = tree.join(sp.host);
        let old = std::fs::read_to_string(&path).expect("read xg_sr_common.c");
        let (new, lost) = xtask::regions::splice(&old, &sp).expect("tables found");
        assert!(lost.is_empty(), "Xen's tables lose entries: {lost:?}");
        std::fs::write(&path, new).expect("write xg_sr_common.c");
    }
}

/// The hunk of the v4 patch mail (`../shared/reference`) for `file`,
/// applied by hand to `tree`: the change Xen's maintainer would make.
/// Supports the mail's hunks, which only add lines after their context.
pub fn apply_v4_patch(tree: &Path, file: &str) {
    let mail = std::fs::read_to_string(
        test_support::shared_dir()
            .join("reference")
            .join("seed-v9-5of8-migration-v4-domain-context.txt"),
    )
    .expect("read the v4 patch mail");
    let start = mail
        .find(&format!("--- a/{file}\n"))
        .unwrap_or_else(|| panic!("the mail has no hunk for {file}"));
    let body = &mail[start..];
    let body = &body[body.find("\n@@").expect("a hunk") + 1..];
    let end = body.find("\ndiff --git").map_or(body.len(), |e| e + 1);
    let mut before = Vec::new();
    let mut added = Vec::new();
    for line in body[..end].lines().skip(1) {
        if let Some(add) = line.strip_prefix('+') {
            added.push(add.to_string());
        } else if let Some(ctx) = line.strip_prefix(' ') {
            if added.is_empty() {
                before.push(ctx.to_string());
            }
        } else if line.is_empty() {
            if added.is_empty() {
                before.push(String::new());
            }
        } else {
            panic!("unsupported hunk line in the v4 patch: {line}");
        }
    }
    let path = tree.join(file);
    let text = std::fs::read_to_string(&path).expect("read the file to patch");
    let anchor = before.join("\n") + "\n";
    let at = text
        .find(&anchor)
        .unwrap_or_else(|| panic!("the context of the v4 hunk is not in {file}"))
        + anchor.len();
    let insert: String = added.iter().map(|l| format!("{l}\n")).collect();
    let patched = format!("{}{insert}{}", &text[..at], &text[at..]);
    std::fs::write(&path, patched).expect("write the patched file");
}

/// Runs the kit's `compile.sh TREE OUT FLAGS...`, panicking with its
/// output when it fails.
pub fn compile(tree: &Path, out: &Path, flags: &[&str]) {
    let res = Command::new("bash")
        .arg(kit().join("compile.sh"))
        .arg(tree)
        .arg(out)
        .args(flags)
        .output()
        .expect("run compile.sh (needs bash and gcc)");
    assert!(
        res.status.success(),
        "compile.sh {} {flags:?} failed (needs gcc, uuid-dev, libyajl-dev):\n{}{}",
        tree.display(),
        String::from_utf8_lossy(&res.stdout),
        String::from_utf8_lossy(&res.stderr)
    );
}

/// The contents of every `.text*`, `.rodata*` and `.data*` section of an
/// object, by section name.
pub fn code_sections(object: &Path) -> Vec<(String, Vec<u8>)> {
    let res = Command::new("readelf")
        .args(["-W", "-S"])
        .arg(object)
        .output()
        .expect("run readelf (binutils)");
    assert!(res.status.success(), "readelf {}", object.display());
    let listing = String::from_utf8_lossy(&res.stdout);
    let mut names: Vec<String> = listing
        .lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let rest = l.strip_prefix('[')?;
            let (_, rest) = rest.split_once(']')?;
            rest.split_whitespace().next().map(str::to_string)
        })
        .filter(|n| {
            [".text", ".rodata", ".data"]
                .iter()
                .any(|p| n.starts_with(p))
        })
        .collect();
    names.sort();
    names.dedup();
    assert!(
        names.iter().any(|n| n == ".text"),
        "{} has no .text",
        object.display()
    );
    let dir = object.with_extension("sections");
    std::fs::create_dir_all(&dir).expect("create section dir");
    names
        .into_iter()
        .map(|name| {
            let bin = dir.join(format!("{}.bin", name.trim_start_matches('.')));
            let status = Command::new("objcopy")
                .args(["-O", "binary", "--only-section", &name])
                .arg(object)
                .arg(&bin)
                .status()
                .expect("run objcopy (binutils)");
            assert!(status.success(), "objcopy {name} of {}", object.display());
            let bytes = std::fs::read(&bin).expect("read section");
            (name, bytes)
        })
        .collect()
}

/// The 13 objects `compile.sh` writes into `out`, by file name.
pub fn objects(out: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(out)
        .expect("read objects")
        .filter_map(|e| {
            let n = e.ok()?.file_name().to_string_lossy().into_owned();
            n.ends_with(".o").then_some(n)
        })
        .collect();
    names.sort();
    assert_eq!(names.len(), 13, "compile.sh builds 13 objects: {names:?}");
    names
}
