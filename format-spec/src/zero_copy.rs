//! Moving octets from one file descriptor to another inside the kernel,
//! for [`crate::convert::convert_zero_copy`]: `splice(2)` when either end
//! is a pipe, `copy_file_range(2)` between regular files (`sendfile(2)`
//! where that is refused, as between two file systems), `sendfile(2)`
//! from a regular file to anything else. Where the kernel refuses (an old
//! kernel, a file system without support, an output opened with
//! `O_APPEND`, two sockets), [`Mover::transfer`] says so and the caller
//! copies through a buffer instead.

use std::io;
use std::os::fd::RawFd;

/// How the kernel moves octets between two given descriptors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    /// `splice(2)`: one end is a pipe.
    Splice,
    /// `copy_file_range(2)`: both are regular files.
    CopyRange,
    /// `sendfile(2)`: from a regular file to anything else.
    SendFile,
    /// Nothing the kernel offers (or it refused): copy through a buffer.
    Refused,
}

/// Moves octets from `input` to `output` in the kernel.
#[derive(Debug)]
pub(crate) struct Mover {
    input: RawFd,
    output: RawFd,
    method: Method,
}

/// What a transfer did.
#[derive(Debug)]
pub(crate) enum Moved {
    /// This many octets (0: the input is at its end).
    Octets(u64),
    /// The kernel refuses to move octets between these two files;
    /// nothing was moved, and no later call will try again.
    Refused,
}

/// A failed transfer, with the side that failed.
#[derive(Debug)]
pub(crate) struct Failed {
    /// The output failed (full disk, closed pipe, ...), not the input.
    pub(crate) output: bool,
    /// The error.
    pub(crate) error: io::Error,
}

/// At most this much per system call (the kernel caps a transfer a bit
/// below 2 GiB anyway).
const MAX_CALL: u64 = 1 << 30;

impl Mover {
    /// A mover between the two descriptors, which stay open (and are not
    /// owned) for as long as the mover is used.
    pub(crate) fn new(input: RawFd, output: RawFd) -> Mover {
        Mover {
            input,
            output,
            method: method(input, output),
        }
    }

    /// The output descriptor.
    pub(crate) fn output(&self) -> RawFd {
        self.output
    }

    /// Whether the kernel may still be asked.
    pub(crate) fn usable(&self) -> bool {
        self.method != Method::Refused
    }

    /// Moves up to `n` octets (at least one unless the input is at its
    /// end), from both descriptors' current offsets, which advance.
    pub(crate) fn transfer(&mut self, n: u64) -> Result<Moved, Failed> {
        let n = n.min(MAX_CALL) as usize;
        loop {
            let r = sys::transfer(self.method, self.input, self.output, n);
            match r {
                Ok(got) => return Ok(Moved::Octets(got as u64)),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if refusal(&e) && self.method == Method::CopyRange => {
                    // Two file systems (EXDEV) or one without support:
                    // sendfile copies between any two in the kernel.
                    self.method = Method::SendFile;
                }
                Err(e) if refusal(&e) => {
                    // Before anything moved (a refusal is about the pair
                    // of files, not about the octets), or mid-way: either
                    // way both offsets are where the octets moved so far
                    // left them, so a buffered copy can take over.
                    self.method = Method::Refused;
                    return Ok(Moved::Refused);
                }
                Err(error) => {
                    return Err(Failed {
                        output: output_error(&error),
                        error,
                    })
                }
            }
        }
    }
}

/// Errors by which the kernel says it cannot move octets between these
/// two files (rather than that a file failed).
fn refusal(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(
            libc::EINVAL
                | libc::ENOSYS
                | libc::EXDEV
                | libc::EOPNOTSUPP
                | libc::EBADF
                | libc::ESPIPE
                | libc::ETXTBSY
        )
    )
}

/// Errors that are the output's.
fn output_error(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EPIPE | libc::ENOSPC | libc::EDQUOT | libc::EFBIG | libc::EROFS)
    )
}

/// What a descriptor is, as far as choosing a [`Method`] goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Pipe,
    Regular,
    Other,
}

/// The method for a pair of descriptors, from their file types.
fn method(input: RawFd, output: RawFd) -> Method {
    let (Some(i), Some(o)) = (sys::file_type(input), sys::file_type(output)) else {
        return Method::Refused;
    };
    use Kind::*;
    match (i, o) {
        (Pipe, _) | (_, Pipe) => Method::Splice,
        (Regular, Regular) => Method::CopyRange,
        (Regular, _) => Method::SendFile,
        _ => Method::Refused,
    }
}

/// Writes all of `buf` to `fd` (retrying short and interrupted writes).
pub(crate) fn write_all(fd: RawFd, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        // SAFETY: `buf` is valid for reads of `buf.len()` octets.
        let r = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        let written = if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(r as usize)
        };
        match written {
            Ok(0) => return Err(crate::drive::write_zero()),
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod sys {
    use super::{Kind, Method};
    use std::io;
    use std::os::fd::RawFd;

    pub(super) fn file_type(fd: RawFd) -> Option<Kind> {
        // SAFETY: `st` is a plain C struct that fstat fills in; a zeroed
        // one is a valid value, and fstat only writes into it.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: `fd` is an open descriptor the caller keeps open, `st`
        // a valid pointer for the duration of the call.
        if unsafe { libc::fstat(fd, &mut st) } != 0 {
            return None;
        }
        Some(match st.st_mode & libc::S_IFMT {
            libc::S_IFIFO => Kind::Pipe,
            libc::S_IFREG => Kind::Regular,
            _ => Kind::Other,
        })
    }

    pub(super) fn transfer(
        method: Method,
        input: RawFd,
        output: RawFd,
        n: usize,
    ) -> io::Result<usize> {
        let null = std::ptr::null_mut();
        // SAFETY: the descriptors are open (the caller keeps them open);
        // null offset pointers make the kernel use and advance the
        // descriptors' own offsets; no memory of this process is touched.
        let r = unsafe {
            match method {
                Method::Splice => libc::splice(input, null, output, null, n, libc::SPLICE_F_MOVE),
                Method::CopyRange => libc::copy_file_range(input, null, output, null, n, 0),
                Method::SendFile => libc::sendfile(output, input, null, n),
                Method::Refused => return Err(io::Error::from_raw_os_error(libc::ENOSYS)),
            }
        };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(r as usize)
        }
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod sys {
    use super::{Kind, Method};
    use std::io;
    use std::os::fd::RawFd;

    /// No kernel transfer here: every pair is refused.
    pub(super) fn file_type(_fd: RawFd) -> Option<Kind> {
        None
    }

    pub(super) fn transfer(_: Method, _: RawFd, _: RawFd, _: usize) -> io::Result<usize> {
        Err(io::Error::from_raw_os_error(libc::ENOSYS))
    }
}
