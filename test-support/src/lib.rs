//! Helpers shared by the workspace's tests.
//!
//! The real `xl save` files live zstd-compressed in `../shared/real-streams`
//! beside the repository (CI lays out the same). [`real_stream`] unpacks one
//! once into `target/real-streams/` and returns the path; later calls, from
//! any test binary, reuse it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// The two real save files written by Xen 4.17 (see the README beside them).
pub const REAL_STREAMS: [&str; 2] = ["pv64-1vcpu-96M.xl", "hvm-1vcpu-128M.xl"];

/// The text the guests' RAM holds (4 MiB of it), to check page contents.
pub const FIXTURE_LINE: &[u8] = b"XEN-STREAM-FIXTURE-PATTERN-0123456789\n";

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("test-support lives in the workspace root")
        .to_path_buf()
}

/// The `shared/` folder: `$XEN_STREAM_SHARED` if set, else `../shared`
/// beside the repository.
pub fn shared_dir() -> PathBuf {
    match std::env::var_os("XEN_STREAM_SHARED") {
        Some(p) => PathBuf::from(p),
        None => repo_root().join("../shared"),
    }
}

static UNPACK: Mutex<()> = Mutex::new(());

/// Path of an unpacked real save file (`name` from [`REAL_STREAMS`]).
///
/// Panics with a clear message when the compressed file or `zstd` is
/// missing: the tests that use it must not pass silently without it.
pub fn real_stream(name: &str) -> PathBuf {
    let _guard = UNPACK.lock().unwrap_or_else(|e| e.into_inner());
    let src = shared_dir()
        .join("real-streams")
        .join(format!("{name}.zst"));
    assert!(
        src.is_file(),
        "real stream {} is missing (set XEN_STREAM_SHARED to the shared/ folder)",
        src.display()
    );
    let dir = repo_root().join("target").join("real-streams");
    std::fs::create_dir_all(&dir).expect("create target/real-streams");
    let out = dir.join(name);
    let src_len = std::fs::metadata(&src).map(|m| m.len()).unwrap_or(0);
    let stamp = dir.join(format!("{name}.done-{src_len}"));
    if out.is_file() && stamp.is_file() {
        return out;
    }
    // Unpack to a per-process temporary name, then rename: concurrent test
    // binaries never see a half-written file.
    let tmp = dir.join(format!("{name}.tmp-{}", std::process::id()));
    let status = Command::new("zstd")
        .args(["-d", "-q", "-f", "--long=27", "-o"])
        .arg(&tmp)
        .arg(&src)
        .status()
        .expect("run zstd (install the zstd package)");
    assert!(status.success(), "zstd failed to unpack {}", src.display());
    std::fs::rename(&tmp, &out).expect("rename unpacked stream");
    std::fs::write(&stamp, b"").expect("write stamp");
    out
}
