//! `xenstream memory` and `xenstream page`: the guest's memory out of a
//! stream, as an image file or one page.
//!
//! [`run_memory`] and [`run_page`] take parsed options and return the exit
//! code (0 done, 1 the stream is invalid, 2 usage or I/O: the input or the
//! image cannot be read or written, the image would pass its limit, the
//! checkpoint or page asked for is not there); `main.rs` calls them from
//! its clap subcommands.
//!
//! The image is written under a temporary name beside the output
//! (`.NAME.partial-PID`) and renamed over it at the end, so a failure
//! leaves no file behind and an existing output is only replaced by a
//! complete image. An output that is the input (the same device and
//! inode, through any link) is refused before anything is written.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use format_spec::layout::SpecEnum;
use format_spec::libxc::{PageType, PAGE_DATA_PFN_MASK, PAGE_SIZE};
use format_spec::memory::{
    extract_save_file, Checkpoint, ElfSink, ExtractOptions, MemoryError, OnePage, PageSink,
    PageState, PfnSet, RawSink, Summary,
};
use format_spec::outer::{FormatChoice, OuterError};
use format_spec::stream::ErrorKind;

use crate::progress::{self, Progress};

/// Image format of `xenstream memory` (`--image`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ImageFormat {
    /// Sparse raw image.
    #[default]
    Raw,
    /// ELF64 core file.
    Elf,
}

impl ImageFormat {
    fn what(self) -> &'static str {
        match self {
            ImageFormat::Raw => "a raw image",
            ImageFormat::Elf => "an ELF core",
        }
    }
}

/// Options of `xenstream memory`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryArgs {
    /// Image format.
    pub image: ImageFormat,
    /// `Some(n)`: the state after the n-th CHECKPOINT; `None`: the last
    /// complete state.
    pub checkpoint: Option<u64>,
    /// The image file (a regular file, written under a temporary name).
    pub out: PathBuf,
    /// The largest image (in octets, its apparent size) to write.
    pub max_image: u64,
    /// The stream; `None` or `-`: standard input.
    pub input: Option<PathBuf>,
    /// What the input starts with.
    pub format: FormatChoice,
}

/// Options of `xenstream page`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageArgs {
    /// The pfn.
    pub pfn: u64,
    /// Write the raw octets instead of a hex dump.
    pub raw: bool,
    /// As for [`MemoryArgs::checkpoint`].
    pub checkpoint: Option<u64>,
    /// The stream; `None` or `-`: standard input.
    pub input: Option<PathBuf>,
    /// What the input starts with.
    pub format: FormatChoice,
}

/// Why a memory command failed: the message and the exit status (1: the
/// stream is invalid, 2: usage or I/O).
struct Fail {
    code: u8,
    msg: String,
}

impl Fail {
    fn usage(msg: impl Into<String>) -> Fail {
        Fail {
            code: 2,
            msg: msg.into(),
        }
    }
}

/// The input, opened: its name, the reader (through the progress line)
/// and the identity of the file behind it.
struct Opened {
    name: String,
    reader: Box<dyn Read>,
    id: Option<(u64, u64)>,
}

/// `(device, inode)` of a file.
fn identity(m: &std::fs::Metadata) -> (u64, u64) {
    (m.dev(), m.ino())
}

/// Opens the input: a file (buffered, through the progress line) or
/// standard input.
fn open_input(input: Option<&Path>) -> Result<Opened, Fail> {
    let (name, file) = match input {
        Some(p) if p.as_os_str() != "-" => {
            let name = p.display().to_string();
            let f = File::open(p).map_err(|e| Fail::usage(format!("{name}: {e}")))?;
            (name, f)
        }
        _ => {
            let fd = io::stdin()
                .as_fd()
                .try_clone_to_owned()
                .map_err(|e| Fail::usage(format!("standard input: {e}")))?;
            ("standard input".to_string(), File::from(fd))
        }
    };
    let meta = file
        .metadata()
        .map_err(|e| Fail::usage(format!("{name}: {e}")))?;
    if meta.is_dir() {
        return Err(Fail::usage(format!("{name}: is a directory")));
    }
    let total = meta.is_file().then_some(meta.len());
    let progress = Progress::new(file, total, progress::wanted());
    Ok(Opened {
        name,
        reader: Box::new(BufReader::with_capacity(1 << 20, progress)),
        id: Some(identity(&meta)),
    })
}

/// The exit status of an extraction error: 1 when the stream is invalid,
/// 2 when it could not be read or the image could not be written, or the
/// checkpoint asked for is not there.
fn failure_code(e: &MemoryError) -> u8 {
    match e {
        MemoryError::Stream(s) if s.kind() != ErrorKind::Io => 1,
        MemoryError::Outer(o) if !matches!(**o, OuterError::Io { .. }) => 1,
        _ => 2,
    }
}

/// Extracts the memory of the save file at `input` into `sink`; errors
/// of the sink and the journal are named after `out`.
fn extract_input<S: PageSink>(
    opened: Opened,
    format: FormatChoice,
    sink: S,
    opts: &ExtractOptions,
    out: &str,
) -> Result<(S::Output, Summary), Fail> {
    let name = opened.name;
    extract_save_file(opened.reader, format, sink, opts).map_err(|e| {
        let msg = match (&e, too_large(&e)) {
            (_, Some(t)) => format!("{out}: {t}"),
            (
                MemoryError::Output { .. } | MemoryError::Finish(_) | MemoryError::Journal { .. },
                None,
            ) => format!("{out}: {e} (reading {name})"),
            _ => format!("{name}: {e}"),
        };
        Fail {
            code: failure_code(&e),
            msg,
        }
    })
}

fn checkpoint(n: Option<u64>) -> Checkpoint {
    n.map_or(Checkpoint::Last, Checkpoint::Nth)
}

/// Runs `xenstream memory`; returns the exit code.
pub fn run_memory(args: &MemoryArgs) -> u8 {
    match memory(args) {
        Ok((wrote, sum)) => {
            if let Some(why) = &sum.abandoned {
                eprintln!("xenstream memory: warning: {why}");
            }
            for n in &sum.notes {
                eprintln!("xenstream memory: note: {n}");
            }
            let mut out = io::stdout().lock();
            match write!(out, "{wrote}\n{sum}").and_then(|_| out.flush()) {
                // The image is written; a reader that stopped early is fine.
                Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
                    eprintln!("xenstream memory: standard output: {e}");
                    2
                }
                _ => 0,
            }
        }
        Err(f) => {
            eprintln!("xenstream memory: {}", f.msg);
            f.code
        }
    }
}

/// The image `memory` would go over its limit with.
#[derive(Debug)]
struct TooLarge {
    what: &'static str,
    pfn: u64,
    end: u64,
    limit: u64,
}

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "refusing to write {} of {} ({} octets, mostly holes): the stream sends pfn {:#x}, \
             and the limit is {} ({} octets); --max-image-size SIZE raises it",
            self.what,
            human(self.end),
            self.end,
            self.pfn,
            human(self.limit),
            self.limit
        )
    }
}

impl std::error::Error for TooLarge {}

/// The [`TooLarge`] inside an extraction error, if that is what it is.
fn too_large(e: &MemoryError) -> Option<&TooLarge> {
    match e {
        MemoryError::Output { source, .. } => source.get_ref()?.downcast_ref(),
        _ => None,
    }
}

/// A sink that refuses, before writing it, any page that would make the
/// image larger than a limit.
struct Limited<S> {
    inner: S,
    what: &'static str,
    base: u64,
    limit: u64,
}

impl<S: PageSink> Limited<S> {
    /// `inner`, limited: `(what, base, limit)` are the image's kind, the
    /// offset of pfn 0's page and the largest image size.
    fn new(inner: S, (what, base, limit): (&'static str, u64, u64)) -> Self {
        Limited {
            inner,
            what,
            base,
            limit,
        }
    }

    fn check(&self, pfn: u64, pages: u64) -> io::Result<()> {
        let end = pfn
            .checked_add(pages)
            .and_then(|e| e.checked_mul(PAGE_SIZE as u64))
            .and_then(|e| e.checked_add(self.base))
            .unwrap_or(u64::MAX);
        if end > self.limit {
            return Err(io::Error::other(TooLarge {
                what: self.what,
                pfn,
                end,
                limit: self.limit,
            }));
        }
        Ok(())
    }
}

impl<S: PageSink> PageSink for Limited<S> {
    type Output = S::Output;

    fn pages(&mut self, first_pfn: u64, data: &[u8]) -> io::Result<()> {
        self.check(first_pfn, (data.len() / PAGE_SIZE) as u64)?;
        self.inner.pages(first_pfn, data)
    }

    fn drop_page(&mut self, pfn: u64) -> io::Result<()> {
        self.inner.drop_page(pfn)
    }

    fn finish(self, present: &PfnSet) -> io::Result<S::Output> {
        self.inner.finish(present)
    }
}

/// `n` octets in the largest binary unit that keeps a number >= 1.
pub fn human(n: u64) -> String {
    const UNITS: [&str; 6] = ["octets", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        return format!("{n} octets");
    }
    let v = format!("{v:.1}");
    format!("{} {}", v.strip_suffix(".0").unwrap_or(&v), UNITS[u])
}

/// Parses a size: octets, or a number with a binary suffix `K`, `M`, `G`,
/// `T`, `P` (optionally followed by `iB` or `B`) (clap value parser).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(digits);
    let shift = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        "P" | "PB" | "PIB" => 50,
        _ => return Err(format!("{s}: not a size (a number, then K, M, G, T or P)")),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .ok_or_else(|| format!("{s}: not a size (a number, then K, M, G, T or P)"))
}

/// Where the image really goes: `out`, or what it links to. Refuses an
/// output that is not a regular file, or that is the input.
fn output_target(out: &Path, input: Option<(u64, u64)>) -> Result<PathBuf, Fail> {
    let name = out.display();
    match std::fs::metadata(out) {
        Ok(m) => {
            if input == Some(identity(&m)) {
                return Err(Fail::usage(format!(
                    "{name}: the output is the input; refusing to overwrite the stream being read"
                )));
            }
            if !m.is_file() {
                return Err(Fail::usage(format!(
                    "{name}: the output must be a regular file (the image is seekable and written under a temporary name), not {}",
                    kind_of(&m)
                )));
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(Fail::usage(format!("{name}: {e}"))),
    }
    // Through a link, the image replaces the file it links to.
    match std::fs::symlink_metadata(out) {
        Ok(m) if m.file_type().is_symlink() => std::fs::canonicalize(out)
            .map_err(|e| Fail::usage(format!("{name}: a link to nowhere usable: {e}"))),
        _ => Ok(out.to_path_buf()),
    }
}

fn kind_of(m: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = m.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a pipe"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "a special file"
    }
}

/// A temporary file beside `target`, removed when dropped unless kept.
struct Partial {
    path: PathBuf,
    keep: bool,
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn memory(args: &MemoryArgs) -> Result<(String, Summary), Fail> {
    if args.out.as_os_str() == "-" {
        return Err(Fail::usage(
            "--out must name a seekable file, not standard output",
        ));
    }
    // The input first: a missing input leaves nothing behind.
    let opened = open_input(args.input.as_deref())?;
    let target = output_target(&args.out, opened.id)?;
    let out_name = args.out.display();
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = target
        .file_name()
        .ok_or_else(|| Fail::usage(format!("{out_name}: not a file name")))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(file_name);
    tmp_name.push(format!(".partial-{}", std::process::id()));
    let partial = Partial {
        path: dir.join(tmp_name),
        keep: false,
    };
    let file = File::options()
        .write(true)
        .create_new(true)
        .open(&partial.path)
        .map_err(|e| Fail::usage(format!("{}: {e}", partial.path.display())))?;
    let opts = ExtractOptions {
        checkpoint: checkpoint(args.checkpoint),
        journal_dir: Some(dir),
    };
    let what = args.image.what();
    let out_str = out_name.to_string();
    let limited = |base| (what, base, args.max_image);
    let (file, sum) = match args.image {
        ImageFormat::Raw => {
            let sink = Limited::new(RawSink::new(file), limited(0));
            extract_input(opened, args.format, sink, &opts, &out_str)?
        }
        ImageFormat::Elf => {
            let base = format_spec::memory::elf::DATA_BASE;
            let sink = Limited::new(ElfSink::new(file), limited(base));
            extract_input(opened, args.format, sink, &opts, &out_str)?
        }
    };
    let io_fail = |e: io::Error| Fail::usage(format!("{out_name}: {e}"));
    file.sync_all().map_err(io_fail)?;
    let meta = file.metadata().map_err(io_fail)?;
    drop(file);
    std::fs::rename(&partial.path, &target).map_err(io_fail)?;
    let mut partial = partial;
    partial.keep = true;
    let len = meta.len();
    let stored = meta.blocks() * 512;
    Ok((
        format!(
            "wrote {out_name} ({}, {len} octets = {}, {} on disk)",
            what.split_once(' ').map_or(what, |(_, w)| w),
            human(len),
            human(stored)
        ),
        sum,
    ))
}

/// Runs `xenstream page`; returns the exit code.
pub fn run_page(args: &PageArgs) -> u8 {
    match page(args) {
        Ok(()) => 0,
        Err(f) => {
            eprintln!("xenstream page: {}", f.msg);
            f.code
        }
    }
}

fn page(args: &PageArgs) -> Result<(), Fail> {
    if args.pfn > PAGE_DATA_PFN_MASK {
        return Err(Fail::usage(format!(
            "pfn {:#x} does not fit in the {} bits a stream's pfn entries have",
            args.pfn,
            PAGE_DATA_PFN_MASK.count_ones()
        )));
    }
    let opts = ExtractOptions {
        checkpoint: checkpoint(args.checkpoint),
        journal_dir: None,
    };
    let opened = open_input(args.input.as_deref())?;
    let (state, sum) = extract_input(
        opened,
        args.format,
        OnePage::new(args.pfn),
        &opts,
        "standard output",
    )?;
    let pfn = args.pfn;
    let data = match state {
        PageState::Present(d) => d,
        PageState::Dropped(t) => {
            return Err(Fail::usage(format!(
                "pfn {pfn:#x} has no contents at {}: it was sent as {} after its last copy",
                sum.state,
                type_name(t)
            )))
        }
        PageState::WithoutContents(t) => {
            return Err(Fail::usage(format!(
                "pfn {pfn:#x} has no contents at {}: the stream sent it only as {}, which carries no page",
                sum.state,
                type_name(t)
            )))
        }
        PageState::NeverSent => {
            return Err(Fail::usage(format!(
                "pfn {pfn:#x} has no contents at {}: the stream never sent it",
                sum.state
            )))
        }
    };
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let res = if args.raw {
        out.write_all(&data)
    } else {
        hexdump(&mut out, pfn * PAGE_SIZE as u64, &data)
    };
    match res.and_then(|_| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            Err(Fail::usage(format!("standard output: {e}")))
        }
        _ => Ok(()),
    }
}

/// A page type's short name with its human name: `XTAB (invalid)`.
fn type_name(t: PageType) -> String {
    let (short, human) = crate::dump::page_type_names(t.value() as u8);
    format!("{short} ({human})")
}

/// Writes `data` as 16-octet lines: address, hex, ASCII; runs of lines
/// equal to the one before collapse into one `*` line.
pub fn hexdump(out: &mut impl Write, addr: u64, data: &[u8]) -> io::Result<()> {
    let mut prev: Option<&[u8]> = None;
    let mut starred = false;
    for (i, line) in data.chunks(16).enumerate() {
        if prev == Some(line) {
            if !starred {
                writeln!(out, "*")?;
                starred = true;
            }
            continue;
        }
        starred = false;
        prev = Some(line);
        let mut hex = String::with_capacity(50);
        for (j, b) in line.iter().enumerate() {
            if j == 8 {
                hex.push(' ');
            }
            hex.push_str(&format!("{b:02x} "));
        }
        let ascii: String = line
            .iter()
            .map(|&b| {
                if b.is_ascii_graphic() || b == b' ' {
                    b as char
                } else {
                    '.'
                }
            })
            .collect();
        writeln!(out, "{:016x}  {hex:<49} |{ascii}|", addr + 16 * i as u64)?;
    }
    writeln!(out, "{:016x}", addr + data.len() as u64)
}

/// Parses a pfn given in decimal or `0x` hex (clap value parser).
pub fn parse_pfn(s: &str) -> Result<u64, String> {
    let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    };
    parsed.ok_or_else(|| format!("{s} is not a number (decimal or 0x-hex)"))
}
