//! `xenstream convert --to VERSION [INPUT|-] [-o OUTPUT|-]`: rewrites a
//! stream (bare libxc, bare libxl or an `xl save` file) as a libxc stream
//! of one of the versions of
//! [`TARGET_VERSIONS`](format_spec::convert::TARGET_VERSIONS), forward
//! only, with the library's [`format_spec::convert`]. The input's libxc
//! stream is one of the other versions; version 2 gets an explicit STATIC_DATA_END where a
//! version 3 receiver infers it, and loses it again on the way back (see
//! "Version 2" in [`format_spec::convert`]). The arguments are parsed by
//! clap in `main.rs` into [`ConvertArgs`].
//!
//! Options:
//! * `--to 2|3|4` (required): the version to write. Writing version 2
//!   drops the CPU policy records, so it needs `--lossy` when the input
//!   has them;
//! * `-o FILE` / `--output FILE`: where to write (`-` or absent: standard
//!   output, refused when it is a terminal). A file is written under a
//!   temporary name beside it and renamed when the conversion succeeded,
//!   so a failed conversion leaves no partial file behind;
//! * `--lossy`: drop what the output cannot carry (listed on standard
//!   error) instead of failing;
//! * `--lenient`: read the input with the restore's rules instead of the
//!   verifier's (non-zero padding is then replaced by zeros); a
//!   checkpointed input cut inside a segment is converted up to its last
//!   checkpoint boundary, as Xen's restore fails over (a file output only:
//!   standard output cannot be cut back);
//! * `--format auto|xl|libxl|libxc`: what the input starts with.
//!
//! Page contents are moved by the kernel from the input's file descriptor
//! to the output's ([`format_spec::convert::convert_zero_copy`]), so
//! standard input and output are used through their descriptors, not
//! through `Stdin`/`Stdout` buffers.
//!
//! Exit status: 0 on success, 1 when the input cannot be converted (the
//! error, with its offset, goes to standard error), 2 for usage and I/O
//! errors.

use std::fs::File;
use std::io::{self, IsTerminal, Read};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use format_spec::convert::{
    convert_zero_copy, ConvertError, ConvertOptions, ConvertReport, KernelIo,
};
use format_spec::outer::FormatChoice;
use format_spec::stream::{Failover, Mode};

use crate::progress::{self, Progress};

/// The parsed arguments of `xenstream convert`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvertArgs {
    /// Version to write, one of
    /// [`TARGET_VERSIONS`](format_spec::convert::TARGET_VERSIONS).
    pub to: u32,
    /// Input file; `None` for standard input.
    pub input: Option<PathBuf>,
    /// Output file; `None` for standard output.
    pub output: Option<PathBuf>,
    /// Allow lossy conversion.
    pub lossy: bool,
    /// Read the input leniently.
    pub lenient: bool,
    /// What the input starts with.
    pub format: FormatChoice,
}

/// Why the command failed.
enum Failure {
    /// The input cannot be converted (exit status 1).
    Invalid(ConvertError),
    /// Anything else (exit status 2).
    Other(String),
}

impl From<ConvertError> for Failure {
    fn from(e: ConvertError) -> Self {
        match e {
            // A failing output is not the input's fault.
            ConvertError::Write { .. } => Failure::Other(e.to_string()),
            ConvertError::Stream(ref s) if s.kind() == format_spec::stream::ErrorKind::Io => {
                Failure::Other(e.to_string())
            }
            ConvertError::Outer(format_spec::outer::OuterError::Io { .. }) => {
                Failure::Other(e.to_string())
            }
            e => Failure::Invalid(e),
        }
    }
}

/// Runs `xenstream convert` with parsed arguments: converts, reports
/// losses and a one-line summary on standard error, and returns the exit
/// status (0, 1 or 2; see the module docs).
pub fn convert_command(args: &ConvertArgs) -> u8 {
    let opts = ConvertOptions::to(args.to)
        .lossy(args.lossy)
        .mode(if args.lenient {
            Mode::Lenient
        } else {
            Mode::Strict
        })
        .format(args.format);
    let result = match &args.input {
        Some(p) => match File::open(p) {
            Ok(f) => {
                // A progress line on a terminal, below the library's buffer.
                let total = f.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
                let f = Progress::new(f, total, progress::wanted());
                to_output(f, args.output.as_deref(), opts)
            }
            Err(e) => Err(Failure::Other(format!("{}: {e}", p.display()))),
        },
        None => match stdio_file(io::stdin().as_fd()) {
            Ok(f) => to_output(
                Progress::new(f, None, progress::wanted()),
                args.output.as_deref(),
                opts,
            ),
            Err(e) => Err(Failure::Other(format!("standard input: {e}"))),
        },
    };
    match result {
        Ok((rep, failover)) => {
            for loss in &rep.losses {
                eprintln!("xenstream convert: dropped: {loss}");
            }
            if rep.losses_dropped > 0 {
                eprintln!("xenstream convert: dropped {} more", rep.losses_dropped);
            }
            eprintln!(
                "xenstream convert: {} stream, libxc v{} -> v{}: {} records in, {} out, {} pages, {} segment(s), {} octets written",
                rep.format, rep.from, rep.to, rep.records_in, rep.records_out, rep.data_pages,
                rep.segments, rep.bytes_out
            );
            if let Some(f) = &failover {
                eprintln!(
                    "xenstream convert: the input fails over, as Xen's restore does: {f}; \
                     written: the stream up to the last checkpoint boundary, what Xen restores"
                );
            }
            if let Some(f) = &rep.output.failover {
                eprintln!("xenstream convert: checkpointed stream: {f}");
            }
            if args.lenient {
                if let Some(p) = &args.input {
                    if let Some(note) = unread_tail(p, rep.bytes_in) {
                        eprintln!("xenstream convert: note: {note}");
                    }
                }
            }
            0
        }
        Err(Failure::Invalid(e)) => {
            eprintln!("xenstream convert: cannot convert: {e}");
            1
        }
        Err(Failure::Other(e)) => {
            eprintln!("xenstream convert: {e}");
            2
        }
    }
}

/// Standard input or output as a [`File`] of its own descriptor (a
/// duplicate), read and written directly: the kernel moves page contents
/// between the two descriptors, which the buffers of `Stdin` and `Stdout`
/// would not see.
fn stdio_file(fd: BorrowedFd<'_>) -> io::Result<File> {
    Ok(File::from(fd.try_clone_to_owned()?))
}

/// Converts with [`convert_zero_copy`]: page contents go from the input's
/// file descriptor to the output's in the kernel (`splice`,
/// `copy_file_range`), and through a buffer where the kernel refuses.
/// A lenient conversion of a checkpointed input that breaks off inside a
/// segment ([`ConvertError::FailedOver`]) writes what Xen's restore
/// restores: the output file is cut back to the last checkpoint boundary
/// (and the failover is returned with the report). Standard output cannot
/// be cut back, so there it is an error.
fn to_output<R: Read + KernelIo>(
    input: R,
    output: Option<&Path>,
    opts: ConvertOptions,
) -> Result<(ConvertReport, Option<Failover>), Failure> {
    let Some(path) = output else {
        let stdout = io::stdout();
        if stdout.is_terminal() {
            return Err(Failure::Other(
                "refusing to write a binary stream to a terminal; use -o FILE or a pipe".into(),
            ));
        }
        let out = stdio_file(stdout.as_fd())
            .map_err(|e| Failure::Other(format!("standard output: {e}")))?;
        return match convert_zero_copy(input, &out, opts) {
            Ok(rep) => Ok((rep, None)),
            Err(ConvertError::FailedOver { failover, report }) => Err(Failure::Other(format!(
                "the input fails over, as Xen's restore does: {failover}; standard output \
                 already holds what was converted of the dropped segment after output offset \
                 {}, the last checkpoint boundary, and cannot be cut back: write to a file \
                 with -o",
                report.bytes_out
            ))),
            Err(e) => Err(e.into()),
        };
    };
    let name = path
        .file_name()
        .ok_or_else(|| Failure::Other(format!("{}: not a file name", path.display())))?;
    let mut tmp_name = name.to_os_string();
    tmp_name.push(format!(".partial-{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let file = File::create(&tmp).map_err(|e| Failure::Other(format!("{}: {e}", tmp.display())))?;
    let result = (|| {
        let (rep, failover) = match convert_zero_copy(input, &file, opts) {
            Ok(rep) => (rep, None),
            Err(ConvertError::FailedOver { failover, report }) => {
                file.set_len(report.bytes_out)
                    .map_err(|e| Failure::Other(format!("{}: {e}", tmp.display())))?;
                (*report, Some(failover))
            }
            Err(e) => return Err(e.into()),
        };
        file.sync_all()
            .and_then(|_| std::fs::rename(&tmp, path))
            .map_err(|e| Failure::Other(format!("{}: {e}", path.display())))?;
        Ok((rep, failover))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// What follows the stream in the file `path` when a lenient conversion
/// stopped reading at `end` (a restore reads nothing after END): the
/// number of octets left out and, if they are xl's migration messages,
/// their names.
fn unread_tail(path: &Path, end: u64) -> Option<String> {
    use format_spec::xl::{migration_messages, MIGRATION_TRAILER_MAX};
    use std::io::{Seek, SeekFrom};
    let mut f = File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    let left = len.checked_sub(end).filter(|n| *n > 0)?;
    let what = if left <= MIGRATION_TRAILER_MAX as u64 {
        let mut tail = vec![0u8; left as usize];
        f.seek(SeekFrom::Start(end)).ok()?;
        f.read_exact(&mut tail).ok()?;
        migration_messages(&tail).map(|ms| {
            let names: Vec<&str> = ms.iter().map(|m| m.name).collect();
            format!(" (xl's migration protocol: {})", names.join(", "))
        })
    } else {
        None
    };
    Some(format!(
        "{left} octets after the end of the stream at offset {end} were not read or copied{}; \
         --lenient stops at the end, as a restore does (without it they are checked, and \
         xl's migration messages are kept)",
        what.unwrap_or_default()
    ))
}
