//! `xenstream memory` and `xenstream page`: the guest's memory out of a
//! stream, as an image file or one page.
//!
//! [`run_memory`] and [`run_page`] take parsed options and return the exit
//! code (0 done, 1 the stream or a file failed, 2 bad usage); `main.rs`
//! calls them from its clap subcommands.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use format_spec::libxc::{PAGE_DATA_PFN_MASK, PAGE_SIZE};
use format_spec::memory::{
    extract_save_file, Checkpoint, ElfSink, ExtractOptions, OnePage, PageSink, PageState, RawSink,
    Summary,
};
use format_spec::outer::FormatChoice;

/// Image format of `xenstream memory`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Sparse raw image.
    #[default]
    Raw,
    /// ELF64 core file.
    Elf,
}

/// Options of `xenstream memory`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryArgs {
    /// Image format.
    pub format: Format,
    /// `Some(n)`: the state after the n-th CHECKPOINT; `None`: the last
    /// complete state.
    pub checkpoint: Option<u64>,
    /// The image file (must be seekable).
    pub out: PathBuf,
    /// The stream; `None` or `-`: standard input.
    pub input: Option<PathBuf>,
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
}

/// Opens the input: a file (buffered) or standard input.
fn open_input(input: Option<&Path>) -> Result<Box<dyn Read>, String> {
    match input {
        Some(p) if p.as_os_str() != "-" => {
            let f = File::open(p).map_err(|e| format!("{}: {e}", p.display()))?;
            Ok(Box::new(BufReader::with_capacity(1 << 20, f)))
        }
        _ => Ok(Box::new(io::stdin().lock())),
    }
}

/// Extracts the memory of the save file (xl, libxl or bare libxc stream,
/// detected) at `input` into `sink`.
fn extract_input<S: PageSink>(
    input: Option<&Path>,
    sink: S,
    opts: &ExtractOptions,
) -> Result<(S::Output, Summary), String> {
    let name = match input {
        Some(p) if p.as_os_str() != "-" => p.display().to_string(),
        _ => "standard input".to_string(),
    };
    let reader = open_input(input)?;
    extract_save_file(reader, FormatChoice::Auto, sink, opts).map_err(|e| format!("{name}: {e}"))
}

fn checkpoint(n: Option<u64>) -> Checkpoint {
    n.map_or(Checkpoint::Last, Checkpoint::Nth)
}

/// Runs `xenstream memory`; returns the exit code.
pub fn run_memory(args: &MemoryArgs) -> i32 {
    match memory(args) {
        Ok((wrote, sum)) => {
            if let Some(why) = &sum.abandoned {
                eprintln!("xenstream memory: warning: {why}");
            }
            let mut out = io::stdout().lock();
            match write!(out, "{wrote}\n{sum}").and_then(|_| out.flush()) {
                // The image is written; a reader that stopped early is fine.
                Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
                    eprintln!("xenstream memory: standard output: {e}");
                    1
                }
                _ => 0,
            }
        }
        Err(e) => {
            eprintln!("xenstream memory: {e}");
            1
        }
    }
}

fn memory(args: &MemoryArgs) -> Result<(String, Summary), String> {
    if args.out.as_os_str() == "-" {
        return Err("--out must name a seekable file, not standard output".into());
    }
    let out_name = args.out.display();
    let mut out = File::create(&args.out).map_err(|e| format!("{out_name}: {e}"))?;
    out.seek(SeekFrom::Start(0))
        .map_err(|e| format!("{out_name}: the output must be a seekable file ({e})"))?;
    let journal_dir = match args.out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let opts = ExtractOptions {
        checkpoint: checkpoint(args.checkpoint),
        journal_dir: Some(journal_dir),
    };
    let input = args.input.as_deref();
    let sum = match args.format {
        Format::Raw => extract_input(input, RawSink::new(out), &opts)?.1,
        Format::Elf => extract_input(input, ElfSink::new(out), &opts)?.1,
    };
    let len = std::fs::metadata(&args.out).map(|m| m.len()).unwrap_or(0);
    let what = match args.format {
        Format::Raw => "raw image",
        Format::Elf => "ELF core",
    };
    Ok((format!("wrote {out_name} ({what}, {len} octets)"), sum))
}

/// Runs `xenstream page`; returns the exit code.
pub fn run_page(args: &PageArgs) -> i32 {
    match page(args) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("xenstream page: {e}");
            1
        }
    }
}

fn page(args: &PageArgs) -> Result<(), String> {
    if args.pfn > PAGE_DATA_PFN_MASK {
        return Err(format!(
            "pfn {:#x} does not fit in the 52 bits a stream's pfn entries have",
            args.pfn
        ));
    }
    let opts = ExtractOptions {
        checkpoint: checkpoint(args.checkpoint),
        journal_dir: None,
    };
    let (state, sum) = extract_input(args.input.as_deref(), OnePage::new(args.pfn), &opts)?;
    let pfn = args.pfn;
    let data = match state {
        PageState::Present(d) => d,
        PageState::Dropped => {
            return Err(format!(
            "pfn {pfn:#x} has no contents at {}: it was marked XTAB or BROKEN after its last copy",
            sum.state
        ))
        }
        PageState::NeverSent => {
            return Err(format!(
                "pfn {pfn:#x} has no contents at {}: the stream never sent it",
                sum.state
            ))
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
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(format!("standard output: {e}")),
        _ => Ok(()),
    }
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
