//! `xenstream`: verify, dump and summarise Xen migration streams.
//!
//! Exit status: 0 when the stream is valid (or the command succeeded),
//! 1 when the stream is invalid, 2 for usage and I/O errors.

// A `StreamError` is large; it ends processing, so boxing it buys nothing.
#![allow(clippy::result_large_err)]

mod blob;
mod convert;
mod dump;
mod input;
mod memory;
mod progress;
mod stats;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use format_spec::layout::SpecEnum;
use format_spec::libxc::{DomainType, LibxcRecord};
use format_spec::outer::{self, FormatChoice, OuterError, SkippedRecord};
use format_spec::save::{self, Options};
use format_spec::stream::{ErrorKind, Mode, Report, StreamError};

use input::Format;

/// Verify, dump and count Xen migration streams: `xl save` files, libxl
/// streams and bare libxc streams (versions 2 to 4).
#[derive(Debug, Parser)]
#[command(name = "xenstream", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check that a stream is valid.
    ///
    /// Exit status 0 when it is, 1 when it is not (the first error, with
    /// its record, offset and field, goes to standard error), 2 when the
    /// input cannot be read. A regular file is verified without reading
    /// page contents (they are skipped with seeks); a pipe is read through.
    Verify {
        /// Apply every rule (padding and reserved fields zero, record
        /// order, nothing after END); by default only what a restore
        /// checks.
        #[arg(long)]
        strict: bool,
        /// Print nothing on success (warnings still go to standard error).
        #[arg(short, long)]
        quiet: bool,
        #[command(flatten)]
        input: InputArgs,
    },
    /// Print one line per record; runs of PAGE_DATA records are collapsed.
    ///
    /// Text lines give the record index, offset, type, body length and
    /// the key fields of the record. With --json, each line is a JSON
    /// object (JSON Lines); the fields are listed in the README.
    Dump {
        /// Print JSON Lines instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        input: InputArgs,
    },
    /// Count pages by type and records by type (count and octets).
    ///
    /// The stream is verified (leniently, like a restore) on the way; an
    /// invalid stream exits with status 1.
    Stats {
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        input: InputArgs,
    },
    /// Write the guest's memory as a raw or ELF image.
    ///
    /// For every pfn, the contents of its last PAGE_DATA copy (pages
    /// marked XTAB or BROKEN after their last copy are left out), read in
    /// one pass from an `xl save` file, a libxl stream or a bare libxc
    /// stream (detected), then a summary on standard output. raw: a sparse
    /// file with the page of pfn P at offset P * 4096 (dropped pages are
    /// zeros, pages never sent are holes). elf: an ELF64 core (ET_CORE,
    /// x86-64), one PT_LOAD per run of consecutive pfns, p_paddr = p_vaddr
    /// = pfn * 4096.
    Memory {
        /// Image format.
        #[arg(long, value_enum, default_value_t = memory::Format::Raw)]
        format: memory::Format,
        /// The state after the N-th CHECKPOINT record of a checkpointed
        /// stream (default: the last complete state).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        checkpoint: Option<u64>,
        /// The image file; it must be seekable (not a pipe) and is
        /// truncated first.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// The stream: a file, or `-` (or nothing) for standard input.
        file: Option<PathBuf>,
    },
    /// Print the last copy of one page as a hex dump (or raw octets).
    ///
    /// Fails (exit status 1) if the stream has no contents for PFN: never
    /// sent, or marked XTAB or BROKEN after its last copy.
    Page {
        /// The pfn, decimal or 0x-hex.
        #[arg(value_parser = memory::parse_pfn)]
        pfn: u64,
        /// Write the page's 4096 octets as they are.
        #[arg(long)]
        raw: bool,
        /// As for `memory --checkpoint`.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        checkpoint: Option<u64>,
        /// The stream: a file, or `-` (or nothing) for standard input.
        file: Option<PathBuf>,
    },
    /// Rewrite a stream as libxc stream version 2, 3 or 4.
    ///
    /// Version 4 folds SHARED_INFO and X86_TSC_INFO into one DOMAIN_CONTEXT
    /// record per segment; version 3 unfolds it. Version 2 (Xen 4.6 to
    /// 4.13) has no STATIC_DATA_END: converting from it adds one where a
    /// version 3 receiver infers it, converting to it drops it (and the
    /// CPU policy records, only with --lossy). The xl and libxl layers are
    /// copied unchanged. Exit status 0 on success, 1 when the input cannot
    /// be converted, 2 for usage and I/O errors.
    Convert {
        /// The version to write (2, 3 or 4).
        #[arg(long, value_parser = clap::value_parser!(u32).range(2..=4))]
        to: u32,
        /// Where to write: a file, or `-` (or nothing) for standard output.
        #[arg(short, long, value_name = "OUTPUT")]
        output: Option<PathBuf>,
        /// Drop what the output cannot carry (listed on standard error)
        /// instead of failing.
        #[arg(long)]
        lossy: bool,
        /// Read the input with the restore's rules instead of the
        /// verifier's.
        #[arg(long)]
        lenient: bool,
        #[command(flatten)]
        input: InputArgs,
    },
    /// Print the record types the description knows.
    Records,
}

/// Where the stream comes from.
#[derive(Debug, clap::Args)]
struct InputArgs {
    /// The stream: a file, or `-` (or nothing) for standard input.
    file: Option<PathBuf>,
    /// What the input starts with; `auto` looks at its first octets.
    #[arg(long, value_enum, default_value_t = Format::Auto)]
    format: Format,
}

/// Why a command failed, and so its exit status.
#[derive(Debug)]
pub enum Failure {
    /// The stream breaks a rule (exit status 1): the input's name and the
    /// error.
    Invalid(String, Problem),
    /// Bad usage or an I/O error (exit status 2).
    Usage(String),
}

/// A broken rule, of the libxc layer or of the layers around it.
#[derive(Debug)]
pub enum Problem {
    /// In the libxc stream.
    Libxc(StreamError),
    /// In the xl header or the libxl stream.
    Outer(OuterError),
}

impl Failure {
    /// A stream error on input `name`: I/O errors exit 2, the others 1.
    pub fn stream(name: &str, e: StreamError) -> Failure {
        match e.kind() {
            ErrorKind::Io => Failure::Usage(format!("{name}: {e}")),
            _ => Failure::Invalid(name.to_string(), Problem::Libxc(e)),
        }
    }

    /// An error of the outer layers on input `name`.
    pub fn outer(name: &str, e: OuterError) -> Failure {
        match e {
            OuterError::Io { .. } => Failure::Usage(format!("{name}: {e}")),
            _ => Failure::Invalid(name.to_string(), Problem::Outer(e)),
        }
    }

    /// An error of any layer on input `name`.
    pub fn from_error(name: &str, e: save::Error) -> Failure {
        match e {
            save::Error::Stream(e) => Failure::stream(name, e),
            save::Error::Outer(e) => Failure::outer(name, e),
            save::Error::NoLibxcStream { .. } => {
                Failure::Usage(format!("{name}: the input holds no libxc stream"))
            }
        }
    }

    fn report(&self) -> ExitCode {
        match self {
            Failure::Usage(msg) => {
                eprintln!("xenstream: error: {msg}");
                ExitCode::from(2)
            }
            Failure::Invalid(name, Problem::Outer(e)) => {
                eprintln!("xenstream: {name}: invalid stream: {e}");
                eprintln!(
                    "  rule {}, offset {} (0x{:x})",
                    e.kind(),
                    e.offset(),
                    e.offset()
                );
                ExitCode::from(1)
            }
            Failure::Invalid(name, Problem::Libxc(e)) => {
                eprintln!("xenstream: {name}: invalid stream: {e}");
                let loc = e.location();
                let mut detail = format!(
                    "  rule {}, offset {} (0x{:x})",
                    e.kind(),
                    loc.offset,
                    loc.offset
                );
                if let Some(r) = &loc.record {
                    let ty = r
                        .name()
                        .map(str::to_string)
                        .unwrap_or_else(|| format!("0x{:08x}", r.rtype));
                    detail += &format!(", record {} ({ty}, header at {})", r.index, r.offset);
                }
                if let Some(f) = &loc.field {
                    detail += &format!(", field {f}");
                }
                eprintln!("{detail}");
                ExitCode::from(1)
            }
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let res = match cli.command {
        Command::Verify {
            strict,
            quiet,
            input,
        } => cmd_verify(&input, strict, quiet),
        Command::Dump { json, input } => dump::run(&input, json),
        Command::Stats { json, input } => stats::run(&input, json),
        Command::Records => {
            print_records();
            Ok(())
        }
        Command::Convert {
            to,
            output,
            lossy,
            lenient,
            input,
        } => {
            let dash = |p: Option<PathBuf>| p.filter(|p| p.as_os_str() != "-");
            return ExitCode::from(convert::convert_command(&convert::ConvertArgs {
                to,
                input: dash(input.file),
                output: dash(output),
                lossy,
                lenient,
                format: match input.format {
                    Format::Auto => outer::FormatChoice::Auto,
                    Format::Xl => outer::FormatChoice::Exactly(outer::Format::Xl),
                    Format::Libxl => outer::FormatChoice::Exactly(outer::Format::Libxl),
                    Format::Libxc => outer::FormatChoice::Exactly(outer::Format::Libxc),
                },
            }));
        }
        Command::Memory {
            format,
            checkpoint,
            out,
            file,
        } => {
            return exit_code(memory::run_memory(&memory::MemoryArgs {
                format,
                checkpoint,
                out,
                input: file,
            }))
        }
        Command::Page {
            pfn,
            raw,
            checkpoint,
            file,
        } => {
            return exit_code(memory::run_page(&memory::PageArgs {
                pfn,
                raw,
                checkpoint,
                input: file,
            }))
        }
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => f.report(),
    }
}

/// An exit status from the memory commands' integer codes.
fn exit_code(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(2))
}

fn open(args: &InputArgs) -> Result<input::Input, Failure> {
    input::open(input::path_arg(&args.file), args.format, progress::wanted())
}

/// What verifying an input found, all layers together.
pub(crate) struct Verified {
    /// The input's name.
    pub name: String,
    /// The layer the input starts with.
    pub format: outer::Format,
    /// The libxc stream's report.
    pub report: Report,
    /// libxl records by spec name (xl and libxl inputs).
    pub libxl_records: BTreeMap<String, u64>,
    /// Unknown optional libxl records skipped.
    pub libxl_skipped: Vec<SkippedRecord>,
}

/// The layer an opened input starts with, as the library's format choice.
pub(crate) fn exactly(format: outer::Format) -> FormatChoice {
    FormatChoice::Exactly(format)
}

/// Verifies every layer of the input (seeking over page contents in a
/// regular file).
pub(crate) fn verify_input(args: &InputArgs, mode: Mode) -> Result<Verified, Failure> {
    let inp = open(args)?;
    let name = inp.name.clone();
    let opts = Options::verify(mode).format(exactly(inp.format));
    let found = if inp.seekable {
        save::verify_seekable(inp.reader, opts)
    } else {
        save::verify(inp.reader, opts)
    }
    .map_err(|e| Failure::from_error(&name, e))?;
    Ok(Verified {
        name,
        format: found.format,
        report: found.libxc,
        libxl_records: found
            .libxl_records
            .into_iter()
            .map(|(k, n)| (k.to_string(), n))
            .collect(),
        libxl_skipped: found.libxl_skipped,
    })
}

fn cmd_verify(args: &InputArgs, strict: bool, quiet: bool) -> Result<(), Failure> {
    let mode = if strict { Mode::Strict } else { Mode::Lenient };
    let found = verify_input(args, mode)?;
    let (name, report) = (&found.name, &found.report);
    for s in &found.libxl_skipped {
        eprintln!(
            "xenstream: {name}: warning: libxl record {} at offset 0x{:x}: unknown optional type 0x{:08x} ({} octets) skipped",
            s.index, s.offset, s.code, s.length
        );
    }
    for w in &report.warnings {
        eprintln!("xenstream: {name}: warning: {w}");
    }
    if report.warnings_dropped > 0 {
        eprintln!(
            "xenstream: {name}: {} more warnings not shown",
            report.warnings_dropped
        );
    }
    if !quiet {
        let outer = match found.format {
            outer::Format::Libxc => String::new(),
            f => format!(
                "{f} file with {} libxl records around a ",
                found.libxl_records.values().sum::<u64>() + found.libxl_skipped.len() as u64
            ),
        };
        println!(
            "{name}: valid ({}): {outer}libxc stream v{}, {}, {}, {} records, {} data pages, {} octets",
            if strict { "strict" } else { "lenient" },
            report.image_header.version,
            report
                .domain_type()
                .map(domain_name)
                .unwrap_or("unknown guest"),
            endian_name(report.image_header.endian()),
            report.records,
            report.data_pages,
            report.bytes()
        );
    }
    Ok(())
}

/// The description's human name of a guest type.
pub(crate) fn domain_name(d: DomainType) -> &'static str {
    DomainType::LAYOUT
        .variants
        .iter()
        .find(|v| v.value == d.value())
        .map(|v| v.human)
        .unwrap_or("unknown guest")
}

/// `little-endian` or `big-endian`.
pub(crate) fn endian_name(e: format_spec::binrw::Endian) -> &'static str {
    match e {
        format_spec::binrw::Endian::Little => "little-endian",
        format_spec::binrw::Endian::Big => "big-endian",
    }
}

/// Prints the libxc record-type table the description holds.
fn print_records() {
    println!(
        "{:<10} {:<26} {:<26} {:<9} {:>5} {:>10}  length",
        "code", "spec name", "human name", "kind", "since", "deprecated"
    );
    for r in LibxcRecord::LAYOUT.records {
        println!(
            "0x{:08x} {:<26} {:<26} {:<9} {:>5} {:>10}  {:?}",
            r.code,
            r.spec_name,
            r.human,
            if r.mandatory { "mandatory" } else { "optional" },
            r.since,
            match r.deprecated {
                Some(0) => "always".to_string(),
                Some(v) => format!("v{v}"),
                None => "-".into(),
            },
            r.length
        );
    }
    for v in DomainType::LAYOUT.variants {
        println!("domain type 0x{:x}: {}", v.value, v.human);
    }
}
