//! Xen's own restore code as an oracle: the kit's restore harness
//! (`../shared/xen-kit/restore-harness`), built once per test run into a
//! temporary directory, run over one libxc stream at a time.
//!
//! The harness links Xen's unmodified `xc_domain_restore()` with stubs
//! that accept every hypercall, so it rejects a stream exactly when Xen's
//! restore code itself would (see the kit's README). Its verdict is
//! [`Outcome::Accept`], [`Outcome::Reject`] (with Xen's first error
//! message) or [`Outcome::Crash`]: Xen's restore code died (an assert, a
//! segfault).

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// The built harness.
#[derive(Debug)]
pub struct Harness {
    exe: PathBuf,
    dir: PathBuf,
}

/// How the toolstack set the restore up (the harness's `XS_*` variables).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setup {
    /// `XS_HVM`: the domain the toolstack created is HVM.
    pub hvm: bool,
    /// `XS_VCPUS`: the domain's vCPU count.
    pub vcpus: u32,
    /// `XS_TYPE`: `plain`, `remus` or `colo`.
    pub stream_type: &'static str,
    /// `XS_CKPT`: the checkpoint callbacks' results (`s`, `f`, `e`).
    pub checkpoints: Option<String>,
}

/// What Xen's restore code did with a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `RESULT ACCEPT`, exit 0.
    Accept,
    /// `RESULT REJECT`, exit 1: Xen's message of the check that failed.
    Reject(String),
    /// Anything else: killed by a signal or an abnormal exit.
    Crash(String),
}

/// One run: the outcome and everything Xen wrote to stderr.
#[derive(Debug, Clone)]
pub struct Run {
    /// The verdict.
    pub outcome: Outcome,
    /// Xen's messages.
    pub stderr: String,
}

impl Run {
    /// Whether Xen's restore accepted the stream.
    pub fn accepted(&self) -> bool {
        self.outcome == Outcome::Accept
    }
}

static HARNESS: OnceLock<Harness> = OnceLock::new();
static SEQ: AtomicU64 = AtomicU64::new(0);

/// The kit.
pub fn kit_dir() -> PathBuf {
    crate::python::repo_root().join("../shared/xen-kit")
}

/// The harness, built on first use with the kit's `build.sh` into a fresh
/// temporary directory (it needs gcc, uuid-dev and libyajl-dev, which
/// `.ci/run` installs). Panics with the build's output when it fails.
pub fn harness() -> &'static Harness {
    HARNESS.get_or_init(|| {
        let dir =
            std::env::temp_dir().join(format!("xenstream-restore-harness-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the harness directory");
        let build = kit_dir().join("restore-harness/build.sh");
        let out = Command::new("bash")
            .arg(&build)
            .arg(dir.join("build"))
            .output()
            .unwrap_or_else(|e| panic!("running {}: {e}", build.display()));
        assert!(
            out.status.success(),
            "{} failed:\n{}\n{}",
            build.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let exe = dir.join("build/restore");
        assert!(exe.is_file(), "{} was not built", exe.display());
        // Only the program is needed: drop the copied tree and objects.
        let _ = std::fs::remove_dir_all(dir.join("build/tree"));
        let _ = std::fs::remove_dir_all(dir.join("build/obj"));
        Harness { exe, dir }
    })
}

impl Harness {
    /// Runs Xen's restore over `bytes` (a libxc stream starting at
    /// `offset`).
    pub fn run(&self, bytes: &[u8], offset: u64, setup: &Setup) -> Run {
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let path = self.dir.join(format!("stream-{n}.bin"));
        let mut f = std::fs::File::create(&path).expect("create a stream file");
        f.write_all(bytes).expect("write a stream file");
        drop(f);
        let run = self.run_file(&path, offset, setup);
        let _ = std::fs::remove_file(&path);
        run
    }

    /// Runs Xen's restore over the file at `path`.
    pub fn run_file(&self, path: &Path, offset: u64, setup: &Setup) -> Run {
        let mut cmd = Command::new(&self.exe);
        cmd.arg(path)
            .arg(format!("{offset:#x}"))
            .env("XS_HVM", if setup.hvm { "1" } else { "0" })
            .env("XS_VCPUS", setup.vcpus.to_string())
            .env("XS_TYPE", setup.stream_type);
        match &setup.checkpoints {
            Some(c) => cmd.env("XS_CKPT", c),
            None => cmd.env_remove("XS_CKPT"),
        };
        let out = cmd.output().expect("run the restore harness");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        // The check that failed the restore: the last error before
        // "Restore failed" (on a Remus failover, the read error that
        // triggered it comes first).
        let first_error = || {
            stderr
                .lines()
                .filter_map(|l| l.trim().strip_prefix("[ERROR] "))
                .rfind(|l| !l.starts_with("Restore failed"))
                .unwrap_or("")
                .to_string()
        };
        let outcome = match (out.status.code(), out.status.signal()) {
            (Some(0), _) if stdout.contains("RESULT ACCEPT") => Outcome::Accept,
            (Some(1), _) if stdout.contains("RESULT REJECT") => Outcome::Reject(first_error()),
            (_, Some(sig)) => Outcome::Crash(format!("killed by signal {sig}")),
            (code, _) => Outcome::Crash(format!("exit status {code:?}")),
        };
        Run { outcome, stderr }
    }
}
