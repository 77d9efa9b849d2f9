//! `xenstream`: verify, dump and summarise Xen migration streams.
//!
//! Exit status: 0 when the stream is valid (or the command succeeded),
//! 1 when the stream is invalid, 2 for usage and I/O errors.

// A `StreamError` is large; it ends processing, so boxing it buys nothing.
#![allow(clippy::result_large_err)]

mod blob;
mod convert;
mod dump;
mod help;
mod input;
mod memory;
mod progress;
mod sample;
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

// Verify, dump and count Xen migration streams (see `help::about`, which
// names the versions).
#[derive(Debug, Parser)]
#[command(name = "xenstream", version, about = help::about())]
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
        /// Print nothing on success: no summary, and no notes of what Xen
        /// itself does (warnings still go to standard error).
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
    // Write the guest's memory as a raw or ELF image (`help::memory_long`,
    // which names the page size).
    #[command(about = help::short(&help::memory_long()), long_about = help::memory_long())]
    Memory {
        /// Image format.
        #[arg(long, value_enum, default_value_t = memory::ImageFormat::Raw)]
        image: memory::ImageFormat,
        /// The state after the N-th CHECKPOINT record of a checkpointed
        /// stream (default: the last complete state).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        checkpoint: Option<u64>,
        /// The image file: a regular file (the image is seekable). It is
        /// written under a temporary name beside it and renamed at the
        /// end, so a failure leaves nothing behind; an output that is the
        /// input is refused.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Refuse images larger than SIZE (apparent size, holes
        /// included), before writing the page that would pass it: octets,
        /// or a number with K, M, G, T or P (binary units). The default,
        /// 1 TiB, is far beyond the span of a guest of a few GiB (an HVM
        /// guest's image spans 4 GiB) and far below what one pfn near
        /// 2^32 or 2^52 in a tiny input would make.
        #[arg(long, value_name = "SIZE", default_value = "1T", value_parser = memory::parse_size)]
        max_image_size: u64,
        #[command(flatten)]
        input: InputArgs,
    },
    /// Print the last copy of one page as a hex dump (or raw octets).
    ///
    /// Fails (exit status 2) if the stream has no contents for PFN: never
    /// sent, sent only as an entry without contents (XTAB, XALLOC,
    /// BROKEN), or marked XTAB or BROKEN after its last copy; the message
    /// says which.
    Page {
        /// The pfn, decimal or 0x-hex.
        #[arg(value_parser = memory::parse_pfn)]
        pfn: u64,
        // Write the page's octets as they are (`help::page_raw`).
        #[arg(long, help = help::page_raw())]
        raw: bool,
        /// As for `memory --checkpoint`.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        checkpoint: Option<u64>,
        #[command(flatten)]
        input: InputArgs,
    },
    // Rewrite a stream as another libxc stream version (`help::convert_long`,
    // which names the versions).
    #[command(about = help::convert(), long_about = help::convert_long())]
    Convert {
        // The version to write (`help::convert_to`).
        #[arg(long, help = help::convert_to(), value_parser = parse_target)]
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
    // Write a small, valid `xl save` file (`help::sample_long`, which names
    // the version).
    #[command(about = help::short(&help::sample_long()), long_about = help::sample_long())]
    Sample {
        /// Where to write it (replaced if it exists).
        file: PathBuf,
    },
    /// Print a shell completion script for xenstream.
    ///
    /// bash: `xenstream completions bash > /etc/bash_completion.d/xenstream`
    /// (or `source <(xenstream completions bash)`); zsh: write it as
    /// `_xenstream` into a directory of `$fpath`; fish: into
    /// `~/.config/fish/completions/xenstream.fish`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page of xenstream (roff), every subcommand included.
    ///
    /// `xenstream man > xenstream.1; man -l xenstream.1`, or install it as
    /// `/usr/local/share/man/man1/xenstream.1`.
    Man,
    /// Print the domain configuration an `xl save` file carries.
    ///
    /// xl stores the guest's configuration in the optional data of its
    /// header: libxl's domain configuration as JSON (the JSON flag set,
    /// as `xl save` in Xen 4.6 and later writes it), or xl's
    /// configuration-file syntax. It is printed as stored, without its
    /// terminating NUL. Exit status 2 when the input is not an xl file or
    /// holds no configuration, 1 when its header is invalid.
    Config {
        #[command(flatten)]
        input: InputArgs,
    },
}

/// Where the stream comes from.
#[derive(Debug, clap::Args)]
struct InputArgs {
    /// The stream: a file, or `-` (or nothing) for standard input.
    file: Option<PathBuf>,
    /// What the input starts with; `auto` looks at its first octets.
    #[arg(long, default_value = "auto", value_parser = FormatParser)]
    format: Format,
}

/// `--format`'s value parser: the values of [`Format`], and for `raw` or
/// `elf` (the image formats of `memory --image`, which `memory --format`
/// once chose) a message that says so.
#[derive(Debug, Clone, Copy)]
struct FormatParser;

impl clap::builder::TypedValueParser for FormatParser {
    type Value = Format;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Format, clap::Error> {
        let values = clap::builder::EnumValueParser::<Format>::new();
        values.parse_ref(cmd, arg, value).map_err(|e| {
            let image = <memory::ImageFormat as clap::ValueEnum>::value_variants()
                .iter()
                .filter_map(clap::ValueEnum::to_possible_value)
                .find(|v: &clap::builder::PossibleValue| Some(v.get_name()) == value.to_str());
            match image {
                Some(v) => clap::Error::raw(
                    clap::error::ErrorKind::InvalidValue,
                    format!(
                        "'{0}' is an image format, not an input format: `memory --image {0}` \
                         writes it (--format says what the input starts with; see `xenstream memory --help`)\n",
                        v.get_name()
                    ),
                )
                .with_cmd(cmd),
                None => e,
            }
        })
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(
            <Format as clap::ValueEnum>::value_variants()
                .iter()
                .filter_map(clap::ValueEnum::to_possible_value),
        ))
    }
}

/// The library's format choice for `--format`.
fn format_choice(f: Format) -> outer::FormatChoice {
    match f {
        Format::Auto => outer::FormatChoice::Auto,
        Format::Xl => outer::FormatChoice::Exactly(outer::Format::Xl),
        Format::Libxl => outer::FormatChoice::Exactly(outer::Format::Libxl),
        Format::Libxc => outer::FormatChoice::Exactly(outer::Format::Libxc),
    }
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

    /// The error as one JSON object (`--json`): `kind` "error", `exit`
    /// (1 or 2), `message`, and for a broken rule `input`, `rule`,
    /// `offset`, and where known `record` (`index`, `type`, `offset`) and
    /// `field`.
    fn json(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            Failure::Usage(msg) => json!({"kind": "error", "exit": 2, "message": msg}),
            Failure::Invalid(name, Problem::Outer(e)) => json!({
                "kind": "error",
                "exit": 1,
                "input": name,
                "rule": e.kind(),
                "offset": e.offset(),
                "message": e.to_string(),
            }),
            Failure::Invalid(name, Problem::Libxc(e)) => {
                let loc = e.location();
                json!({
                    "kind": "error",
                    "exit": 1,
                    "input": name,
                    "rule": e.kind().as_str(),
                    "offset": loc.offset,
                    "record": loc.record.as_ref().map(|r| json!({
                        "index": r.index,
                        "type": r.name().map(str::to_string).unwrap_or_else(|| format!("0x{:08x}", r.rtype)),
                        "offset": r.offset,
                    })),
                    "field": loc.field.as_ref().map(|f| f.to_string()),
                    "message": e.to_string(),
                })
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

/// Restores the default action of SIGPIPE, which Rust's runtime sets to
/// "ignore": output to a closed pipe (`xenstream dump FILE | head -1`)
/// then ends the process quietly, as it does for other tools of this
/// kind, instead of failing every write with EPIPE.
fn quiet_on_closed_pipes() {
    // SAFETY: setting a signal's disposition to SIG_DFL installs no
    // handler; it runs before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> ExitCode {
    quiet_on_closed_pipes();
    let cli = Cli::parse();
    let json = matches!(
        cli.command,
        Command::Dump { json: true, .. } | Command::Stats { json: true, .. }
    );
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
        Command::Config { input } => cmd_config(&input),
        Command::Sample { file } => sample::write(&file).map(|size| {
            println!("wrote {} ({size} octets)", file.display());
        }),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "xenstream", &mut std::io::stdout());
            Ok(())
        }
        Command::Man => cmd_man(),
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
                format: format_choice(input.format),
            }));
        }
        Command::Memory {
            image,
            checkpoint,
            out,
            max_image_size,
            input,
        } => {
            return ExitCode::from(memory::run_memory(&memory::MemoryArgs {
                image,
                checkpoint,
                out,
                max_image: max_image_size,
                format: format_choice(input.format),
                input: input.file,
            }))
        }
        Command::Page {
            pfn,
            raw,
            checkpoint,
            input,
        } => {
            return ExitCode::from(memory::run_page(&memory::PageArgs {
                pfn,
                raw,
                checkpoint,
                format: format_choice(input.format),
                input: input.file,
            }))
        }
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if json {
                // The JSON reader gets the error as JSON too (one line).
                println!("{}", f.json());
            }
            f.report()
        }
    }
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
    /// The libxc stream's report; `None` when the input holds no libxc
    /// stream (a libxl stream whose END has no LIBXC_CONTEXT before it,
    /// which lenient mode accepts).
    pub report: Option<Report>,
    /// libxl records by spec name (xl and libxl inputs).
    pub libxl_records: BTreeMap<String, u64>,
    /// Unknown optional libxl records skipped.
    pub libxl_skipped: Vec<SkippedRecord>,
    /// xl's migration messages after the stream (strict mode).
    pub trailer: Option<outer::MigrationTrailer>,
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
        trailer: found.migration_trailer,
    })
}

/// Prints the warnings of a verified input on standard error, each kind
/// once per record type with a count (a thousand skipped records of one
/// type make one line), then the notes unless `quiet`.
pub(crate) fn print_warnings(found: &Verified, quiet: bool) {
    let name = &found.name;
    let Some(report) = &found.report else {
        eprintln!("xenstream: {name}: warning: {NO_LIBXC}");
        return;
    };
    // libxl records skipped, by type code: (first, count).
    let mut libxl: Vec<(&SkippedRecord, u64)> = Vec::new();
    for s in &found.libxl_skipped {
        match libxl.iter_mut().find(|(f, _)| f.code == s.code) {
            Some((_, n)) => *n += 1,
            None => libxl.push((s, 1)),
        }
    }
    for (s, n) in libxl {
        eprintln!(
            "xenstream: {name}: warning: libxl record {} at offset 0x{:x}: unknown optional type 0x{:08x} ({} octets) skipped{}",
            s.index,
            s.offset,
            s.code,
            s.length,
            more_like_it(n)
        );
    }
    // libxc warnings, by kind and record type: (first, count).
    let mut libxc: Vec<(&format_spec::stream::Warning, u64)> = Vec::new();
    for w in &report.warnings {
        let key = |x: &format_spec::stream::Warning| (std::mem::discriminant(x), x.record().rtype);
        match libxc.iter_mut().find(|(f, _)| key(f) == key(w)) {
            Some((_, n)) => *n += 1,
            None => libxc.push((w, 1)),
        }
    }
    // Skipped records are counted by type beyond the warnings kept.
    let mut dropped = report.warnings_dropped;
    for (w, n) in libxc {
        let n = match w {
            format_spec::stream::Warning::SkippedOptional { record } => {
                let all = report
                    .skipped_by_type
                    .get(&record.rtype)
                    .copied()
                    .unwrap_or(n);
                dropped -= (all - n).min(dropped);
                all
            }
            _ => n,
        };
        eprintln!("xenstream: {name}: warning: {w}{}", more_like_it(n));
    }
    // Types whose every record came after the warnings kept.
    for (code, n) in &report.skipped_by_type {
        let shown = report.warnings.iter().any(|w| {
            matches!(w, format_spec::stream::Warning::SkippedOptional { record } if record.rtype == *code)
        });
        if !shown {
            dropped -= (*n).min(dropped);
            eprintln!(
                "xenstream: {name}: warning: unknown optional records of type 0x{code:08x} skipped ({n} times in all)"
            );
        }
    }
    if dropped > 0 {
        eprintln!("xenstream: {name}: {dropped} more warnings not shown");
    }
    if !quiet {
        for n in &report.notes {
            eprintln!("xenstream: {name}: note: {n}");
        }
    }
}

/// The warning for a libxl stream that holds no libxc stream.
pub(crate) const NO_LIBXC: &str = "the libxl stream ends (END) with no LIBXC_CONTEXT before it: \
     libxl's reader takes it, but it holds no guest to restore (--strict refuses it)";

/// `" (N times in all)"` for a warning that came `n` times.
fn more_like_it(n: u64) -> String {
    if n > 1 {
        format!(" ({n} times in all, the first shown)")
    } else {
        String::new()
    }
}

fn cmd_verify(args: &InputArgs, strict: bool, quiet: bool) -> Result<(), Failure> {
    let mode = if strict { Mode::Strict } else { Mode::Lenient };
    let found = verify_input(args, mode)?;
    let name = &found.name;
    print_warnings(&found, quiet);
    if quiet {
        return Ok(());
    }
    let mode = if strict { "strict" } else { "lenient" };
    let libxl = found.libxl_records.values().sum::<u64>() + found.libxl_skipped.len() as u64;
    let Some(report) = &found.report else {
        println!(
            "{name}: valid ({mode}): {} file with {libxl} libxl records and no libxc stream: nothing to restore",
            found.format
        );
        return Ok(());
    };
    let outer = match found.format {
        outer::Format::Libxc => String::new(),
        f => format!("{f} file with {libxl} libxl records around a "),
    };
    println!(
        "{name}: valid ({mode}): {outer}libxc stream v{}, {}, {}, {} records, {} data pages, {} octets",
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
    if let Some(f) = &report.failover {
        println!("{name}: checkpointed stream: {f}");
    }
    if let Some(t) = &found.trailer {
        println!("{name}: followed by {}", trailer_text(t));
    }
    Ok(())
}

/// What xl's migration messages after a stream are, in words.
pub(crate) fn trailer_text(t: &outer::MigrationTrailer) -> String {
    let names: Vec<String> = t
        .messages
        .iter()
        .map(|m| format!("{} (\"{}\")", m.name, String::from_utf8_lossy(m.text)))
        .collect();
    format!(
        "xl's migration protocol message{} {}: {} octets at offset {} (0x{:x}), as `xl migrate` sends after the stream",
        if names.len() == 1 { "" } else { "s" },
        names.join(", "),
        t.octets.len(),
        t.offset,
        t.offset
    )
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

/// `xenstream man`: one manual page, the subcommands as sections.
fn cmd_man() -> Result<(), Failure> {
    use std::io::Write;
    let cmd = <Cli as clap::CommandFactory>::command();
    let io = |e: std::io::Error| Failure::Usage(format!("writing standard output: {e}"));
    let mut page = Vec::new();
    let man = clap_mangen::Man::new(cmd.clone());
    man.render_title(&mut page).map_err(io)?;
    man.render_name_section(&mut page).map_err(io)?;
    man.render_synopsis_section(&mut page).map_err(io)?;
    man.render_description_section(&mut page).map_err(io)?;
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = format!("xenstream {}", sub.get_name());
        let sub = sub.clone().bin_name(name.clone());
        writeln!(page, ".SH \"{}\"", name.to_uppercase()).map_err(io)?;
        let sub_man = clap_mangen::Man::new(sub);
        let mut part = Vec::new();
        sub_man.render_synopsis_section(&mut part).map_err(io)?;
        sub_man.render_description_section(&mut part).map_err(io)?;
        sub_man.render_options_section(&mut part).map_err(io)?;
        // The parts' own section headings become subsection headings.
        let part = String::from_utf8_lossy(&part).replace("\n.SH ", "\n.SS ");
        let part = part
            .strip_prefix(".SH ")
            .map_or(part.clone(), |p| format!(".SS {p}"));
        page.extend_from_slice(part.as_bytes());
    }
    writeln!(
        page,
        ".SH \"EXIT STATUS\"\n0 when the stream is valid or the command succeeded, 1 when the stream is invalid, 2 for usage and I/O errors."
    )
    .map_err(io)?;
    man.render_version_section(&mut page).map_err(io)?;
    let mut out = std::io::stdout().lock();
    out.write_all(&page).and_then(|_| out.flush()).map_err(io)
}

/// `xenstream config`: the configuration of an xl save file.
fn cmd_config(args: &InputArgs) -> Result<(), Failure> {
    use std::io::Write;
    let inp = open(args)?;
    let name = inp.name.clone();
    if inp.format != outer::Format::Xl {
        return Err(Failure::Usage(format!(
            "{name}: a {} stream has no xl header, so no configuration",
            inp.format
        )));
    }
    let r = outer::OuterReader::open(inp.reader, exactly(inp.format), Mode::Lenient)
        .map_err(|e| Failure::outer(&name, e))?;
    let pre = r.xl_preamble().expect("an xl file has an xl preamble");
    let config = match pre.config() {
        Ok(Some(c)) => c,
        Ok(None) => {
            return Err(Failure::Usage(format!(
                "{name}: the xl header holds no configuration (optional data empty)"
            )))
        }
        Err(e) => return Err(Failure::Usage(format!("{name}: {e}"))),
    };
    let text = if pre.header.json() {
        config
            .strip_suffix(&[format_spec::xl::XL_JSON_TERMINATOR])
            .unwrap_or(config)
    } else {
        config
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text)
        .and_then(|_| {
            if text.ends_with(b"\n") {
                Ok(())
            } else {
                out.write_all(b"\n")
            }
        })
        .and_then(|_| out.flush())
        .map_err(|e| Failure::Usage(format!("writing standard output: {e}")))
}

/// A record's length rule in words: the body length in octets.
fn length_text(rule: &format_spec::layout::LengthRule) -> String {
    use format_spec::layout::LengthRule as L;
    match *rule {
        L::Exact(0) => "0 (no body)".into(),
        L::Exact(n) => format!("{n}"),
        L::Counted {
            fixed,
            field,
            element,
        } => format!("{fixed} + {element} x {field}"),
        L::Rest { fixed, element: 1 } => format!("{fixed} + any"),
        L::Rest { fixed: 0, element } => format!("{element} x n"),
        L::Rest { fixed, element } => format!("{fixed} + {element} x n"),
        L::NonEmpty => "1 or more".into(),
        L::PageData => {
            let header =
                <format_spec::libxc::PageDataHeader as format_spec::layout::Wire>::LAYOUT.size;
            format!(
                "{header} + {} x count + {} x pages with contents",
                format_spec::libxc::PFN_ENTRY_SIZE,
                format_spec::libxc::PAGE_SIZE
            )
        }
    }
}

/// Prints the libxc record-type table the description holds.
fn print_records() {
    println!(
        "{:<10} {:<26} {:<26} {:<9} {:>5} {:>10}  body length (octets)",
        "code", "spec name", "human name", "kind", "since", "deprecated"
    );
    for r in LibxcRecord::LAYOUT.records {
        println!(
            "0x{:08x} {:<26} {:<26} {:<9} {:>5} {:>10}  {}",
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
            length_text(&r.length)
        );
    }
    for v in DomainType::LAYOUT.variants {
        println!("domain type 0x{:x}: {}", v.value, v.human);
    }
}

/// `convert --to`: one of the versions a conversion writes.
fn parse_target(s: &str) -> Result<u32, String> {
    let targets = format_spec::convert::TARGET_VERSIONS;
    s.parse::<u32>()
        .ok()
        .filter(|v| targets.contains(v))
        .ok_or_else(|| {
            let list: Vec<String> = targets.iter().map(u32::to_string).collect();
            format!(
                "{s:?} is not a version convert writes ({})",
                list.join(", ")
            )
        })
}
