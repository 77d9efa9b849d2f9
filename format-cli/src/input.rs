//! Opening the input and finding out what it holds.
//!
//! Every subcommand goes through [`open`]: it opens the file (or takes
//! standard input), peeks at the first octets to tell the layers apart,
//! and decides whether page contents can be skipped with seeks (a regular
//! file) or must be read through (a pipe, a socket, a terminal).
//!
//! The layers themselves are told apart by
//! [`format_spec::outer::FormatChoice::detect`] (the xl magic, "LibxlFmt",
//! or the libxc marker); [`format_spec::save::SaveReader`] then reads them.

use std::fs::File;
use std::io::{self, BufReader, IsTerminal, Read, Seek, SeekFrom};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use format_spec::outer::{self, FormatChoice};

use crate::progress::Progress;
use crate::Failure;

/// Which layer the input starts with, as `--format` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Look at the first octets and decide.
    Auto,
    /// An `xl save` file: xl header, libxl stream, libxc stream.
    Xl,
    /// A libxl stream (what `xl migrate` sends): libxl records around a
    /// libxc stream.
    Libxl,
    /// A bare libxc stream (what `libxc`'s saver writes).
    Libxc,
}

/// Buffer size for inputs read through (pipes). It serves the small reads
/// (record headers, pfn arrays). It must stay well below the chunks the
/// stream reader reads skipped page contents in (256 KiB), because
/// `BufReader` hands a read straight to the input only when it asks for at
/// least its capacity: with a 256 KiB buffer every octet of page contents
/// was copied twice (pipe to buffer, buffer to the reader's chunk), which
/// cost 14% of `verify -` time in user-space `memmove`.
pub const PIPE_BUFFER: usize = 16 << 10;

/// Buffer size for regular files: page contents are skipped with seeks,
/// and a seek throws the buffer away, so a small one reads less (16 KiB
/// still holds a record header and the pfn array of a 1024-page
/// PAGE_DATA record).
pub const FILE_BUFFER: usize = 16 << 10;

/// The raw input: a file descriptor, with the octets peeked at during
/// detection served again first (a pipe cannot seek back).
#[derive(Debug)]
pub struct Source {
    file: File,
    peeked: Vec<u8>,
    peek_pos: usize,
}

impl Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.peek_pos < self.peeked.len() {
            let n = buf.len().min(self.peeked.len() - self.peek_pos);
            buf[..n].copy_from_slice(&self.peeked[self.peek_pos..self.peek_pos + n]);
            self.peek_pos += n;
            return Ok(n);
        }
        self.file.read(buf)
    }
}

impl Seek for Source {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        // Only regular files seek, and their peeked octets were given back
        // by seeking, so nothing is pending here.
        debug_assert_eq!(self.peek_pos, self.peeked.len());
        self.file.seek(pos)
    }
}

/// What the reader reads: the raw input with progress reporting, buffered.
pub type InputReader = BufReader<Progress<Source>>;

/// An opened input.
#[derive(Debug)]
pub struct Input {
    /// How to name it in messages (`-` for standard input).
    pub name: String,
    /// The layer it starts with.
    pub format: outer::Format,
    /// True for a regular file: page contents can be skipped with seeks.
    pub seekable: bool,
    /// The input, positioned at its first octet.
    pub reader: InputReader,
}

fn io_failure(name: &str, what: &str, e: io::Error) -> Failure {
    Failure::Usage(format!("{name}: {what}: {e}"))
}

/// Reads up to `n` octets, fewer only at the end of the input.
fn peek(file: &mut File, n: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; n];
    let mut got = 0;
    while got < n {
        match file.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(got);
    Ok(buf)
}

/// Which layer `head` (the first octets of an input) starts with; `None`
/// when it is none of them.
pub fn detect(head: &[u8]) -> Option<outer::Format> {
    let first: outer::Signature = head.get(..outer::DETECT_SIZE)?.try_into().ok()?;
    FormatChoice::detect(&first)
}

/// The layer `wanted` names, or the detected one for [`Format::Auto`]; an
/// input that matches nothing is read as libxc, whose reader then says
/// what is wrong with its first octets.
pub fn resolve(wanted: Format, head: &[u8]) -> outer::Format {
    match wanted {
        Format::Auto => detect(head).unwrap_or(outer::Format::Libxc),
        Format::Xl => outer::Format::Xl,
        Format::Libxl => outer::Format::Libxl,
        Format::Libxc => outer::Format::Libxc,
    }
}

/// Opens `path` (standard input for `None` or `-`), works out its format
/// (`wanted`, or detected for [`Format::Auto`]) and whether it can seek.
/// `progress` turns on the progress bar (the caller checks for a terminal).
pub fn open(path: Option<&Path>, wanted: Format, progress: bool) -> Result<Input, Failure> {
    let (name, mut file) = match path {
        None => ("-".to_string(), stdin_file()?),
        Some(p) if p == Path::new("-") => ("-".to_string(), stdin_file()?),
        Some(p) => {
            let name = p.display().to_string();
            let f = File::open(p).map_err(|e| io_failure(&name, "cannot open", e))?;
            (name, f)
        }
    };
    let meta = file
        .metadata()
        .map_err(|e| io_failure(&name, "cannot stat", e))?;
    if meta.is_dir() {
        return Err(Failure::Usage(format!("{name}: is a directory")));
    }
    let seekable = meta.is_file();
    let start = if seekable {
        file.stream_position()
            .map_err(|e| io_failure(&name, "cannot seek", e))?
    } else {
        0
    };
    let head = peek(&mut file, 8).map_err(|e| io_failure(&name, "cannot read", e))?;
    let peeked = if seekable {
        file.seek(SeekFrom::Start(start))
            .map_err(|e| io_failure(&name, "cannot seek", e))?;
        Vec::new()
    } else {
        head.clone()
    };
    let format = resolve(wanted, &head);
    let total = if seekable {
        Some(meta.len().saturating_sub(start))
    } else {
        None
    };
    let source = Source {
        file,
        peeked,
        peek_pos: 0,
    };
    let capacity = if seekable { FILE_BUFFER } else { PIPE_BUFFER };
    let reader = BufReader::with_capacity(capacity, Progress::new(source, total, progress));
    Ok(Input {
        name,
        format,
        seekable,
        reader,
    })
}

/// Standard input as a [`File`] (no extra buffering of `std::io::Stdin`,
/// and a redirected regular file can seek).
fn stdin_file() -> Result<File, Failure> {
    if io::stdin().is_terminal() {
        return Err(Failure::Usage(
            "standard input is a terminal: give a file, or pipe a stream in".into(),
        ));
    }
    let fd = io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| io_failure("-", "cannot use standard input", e))?;
    Ok(File::from(fd))
}

/// A path argument, `-` meaning standard input.
pub fn path_arg(p: &Option<PathBuf>) -> Option<&Path> {
    p.as_deref()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_layer_from_its_first_octets() {
        let mut xl = format_spec::xl::XL_MAGIC.to_vec();
        xl.extend_from_slice(&[0; 8]);
        assert_eq!(resolve(Format::Auto, &xl), outer::Format::Xl);
        assert_eq!(resolve(Format::Auto, b"LibxlFmt\0\0"), outer::Format::Libxl);
        let mut libxc = vec![0xff; 8];
        libxc.extend_from_slice(b"XENF");
        assert_eq!(resolve(Format::Auto, &libxc), outer::Format::Libxc);
        // Nothing known, or too short: read as libxc (which will refuse it).
        assert_eq!(detect(b"Xen sav"), None);
        assert_eq!(resolve(Format::Auto, b"garbage!"), outer::Format::Libxc);
        // An explicit format wins over the octets.
        assert_eq!(resolve(Format::Libxc, &xl), outer::Format::Libxc);
    }
}
