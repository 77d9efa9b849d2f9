//! `cargo xtask bench`: throughput of the stream reader, verifier and
//! writer against plain `read()`/`write()` loops, and peak memory.
//!
//! Everything is measured in release mode: when xtask itself was built
//! without optimisations (the `cargo xtask` alias), [`run`] re-runs itself
//! with `cargo run --release`. The `xenstream` binary is built with
//! `cargo build --release -p format-cli` and run as a child process for the
//! verify figures; page reading and writing are measured in this process,
//! through the library. Peak memory is the `wait4` maximum RSS of one more
//! `xenstream verify` run of each kind, started by a small helper process
//! (`xtask bench-rss`, see [`rss_helper`]) so that none of this process's
//! memory is counted.
//!
//! Each round measures, in this order, on one synthetic version 3 HVM
//! stream (STATIC_DATA_END, PAGE_DATA records of 1024 pages each,
//! HVM_PARAMS, HVM_CONTEXT, END) in a temporary directory (`/dev/shm` by
//! default), and each figure is the best of `--repeat` rounds (the
//! machine may be busy with other work):
//!
//! 1. writing, each into a new file after an untimed `sync()`: a `write()`
//!    loop writing the stream's number of octets from memory in chunks of
//!    one record (the baseline); raw `writev()` calls with the slices the
//!    writer uses (to tell the kernel's cost of the slicing from the
//!    writer's own); `StreamWriter` over an unbuffered `File` (one vectored
//!    write per record, pages from one 4 MiB buffer in memory) creating
//!    the stream file; then the baseline and the writer into `/dev/null`,
//!    which shows the writer's fixed cost per record;
//! 2. `read()` loops over the stream file with a 256 KiB buffer (the
//!    chunk the stream reader reads skipped page contents in) and a 4 MiB one (what the page
//!    reader asks for per batch); the page figure is compared with the
//!    faster of the two;
//! 3. page reading: `StreamReader` over a 16 KiB `BufReader<File>` (as
//!    `xenstream` reads pipes),
//!    every page read into one caller buffer with `PageBatch::read_pages`;
//!
//! and then, round after round:
//!
//! 4. `cat FILE |` a `read()` loop in this process (256 KiB buffer), and
//!    `cat FILE | xenstream verify -q -` (same feeder, same kind of pipe);
//! 5. `xenstream verify -q FILE` (page contents skipped with seeks),
//!    compared with the 256 KiB read loop of step 2; its time includes
//!    starting the process.
//!
//! 6. async verification over a loopback TCP socket;
//! 7. `xenstream convert --to 4 FILE -o OUT` against `cp FILE OUT`;
//! 8. `cat FILE | COPIER |` a read loop, the copier a `read()`/`write()`
//!    loop, a `splice(2)` loop or `xenstream convert --to 4 -`;
//! 9. `xenstream memory --out IMAGE FILE` against a `read()`/`write()`
//!    copy of FILE into a new file;
//! 10. on the real HVM save of `../shared/real-streams` (unpacked into the
//!     bench directory): `xenstream verify -q` against a read loop;
//! 11. Xen's `verify-stream-v2 -f xl` from `../shared/xen-kit` on it, with
//!     Xen's modules and with the generated ones ([`xen_python`]).
//!
//! A goal that cannot be measured (no `../shared`) is printed as missed.
//!
//! The file stays in the page cache between steps (it was just written),
//! so the figures are CPU and memory-copy bound, not disk bound.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use format_spec::body::Opaque;
use format_spec::hvm_context::{HvmSize, HvmType};
use format_spec::layout::{field_of, Wire};
use format_spec::libxc::{
    DomainType, HvmParams, HvmParamsEntry, LibxcRecord, PageDataHeader, RecordHeader, PAGE_SIZE,
    RECORD_HEADER_SIZE, XEN_4_17_VERSION,
};
use format_spec::stream::{ReaderOptions, StreamReader, StreamWriter, WriterOptions};

/// Pages per PAGE_DATA record (what Xen's saver sends per batch).
const BATCH_PAGES: usize = 1024;

/// The read buffer of the baselines: the chunk the stream reader reads
/// skipped page contents in.
const READ_BUF: usize = 256 << 10;

/// The `BufReader` of the page reader: the buffer `xenstream` reads pipes
/// with (small, so that large reads bypass it).
const READER_BUF: usize = 16 << 10;

const MIB: f64 = (1u64 << 20) as f64;

/// Options of the subcommand.
#[derive(Debug, Clone)]
struct Options {
    size_mib: u64,
    repeat: u32,
    dir: Option<PathBuf>,
    keep: bool,
}

fn usage() -> ExitCode {
    eprintln!(
        "usage: cargo xtask bench [--size-mib N] [--repeat N] [--dir DIR] [--keep]\n\n\
         --size-mib N   size of the synthetic stream (default 1024)\n\
         --repeat N     rounds; each figure is the best of them (default 3)\n\
         --dir DIR      where to put the temporary files (default: /dev/shm if it\n\
                        exists, else the system temp dir)\n\
         --keep         keep the stream file afterwards"
    );
    ExitCode::from(2)
}

fn parse(args: &[String]) -> Option<Options> {
    let mut o = Options {
        size_mib: 1024,
        repeat: 3,
        dir: None,
        keep: false,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--size-mib" => o.size_mib = it.next()?.parse().ok().filter(|n| *n > 0)?,
            "--repeat" => o.repeat = it.next()?.parse().ok().filter(|n| *n > 0)?,
            "--dir" => o.dir = Some(PathBuf::from(it.next()?)),
            "--keep" => o.keep = true,
            _ => return None,
        }
    }
    Some(o)
}

/// Runs the benchmark with the arguments after `bench`.
pub fn run(args: &[String]) -> ExitCode {
    let Some(opts) = parse(args) else {
        return usage();
    };
    if cfg!(debug_assertions) {
        // Measure optimised code only: run again as a release build.
        let status = Command::new(env!("CARGO"))
            .args(["run", "--release", "--quiet", "-p", "xtask", "--", "bench"])
            .args(args)
            .current_dir(xtask::repo_root())
            .status();
        return match status {
            Ok(s) if s.success() => ExitCode::SUCCESS,
            Ok(s) => ExitCode::from(s.code().unwrap_or(2).clamp(1, 255) as u8),
            Err(e) => {
                eprintln!("error: cannot run cargo: {e}");
                ExitCode::from(2)
            }
        };
    }
    match bench(&opts) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn other(msg: impl Into<String>) -> io::Error {
    io::Error::other(msg.into())
}

/// Builds `xenstream` in release mode and returns its path.
fn build_xenstream() -> io::Result<PathBuf> {
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "--quiet", "-p", "format-cli"])
        .current_dir(xtask::repo_root())
        .status()?;
    if !status.success() {
        return Err(other("cargo build --release -p format-cli failed"));
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| xtask::repo_root().join("target"));
    let bin = target.join("release").join("xenstream");
    if !bin.is_file() {
        return Err(other(format!("{} was not built", bin.display())));
    }
    Ok(bin)
}

fn timed<T>(f: impl FnOnce() -> io::Result<T>) -> io::Result<(T, f64)> {
    let t = Instant::now();
    let v = f()?;
    Ok((v, t.elapsed().as_secs_f64()))
}

/// Fills `buf` with page contents that differ from page to page.
fn fill_pages(buf: &mut [u8], seed: u64) {
    for (i, page) in buf.chunks_mut(PAGE_SIZE).enumerate() {
        let v = (seed.wrapping_mul(BATCH_PAGES as u64) + i as u64).to_le_bytes();
        for (j, b) in page.iter_mut().enumerate() {
            *b = v[j % 8] ^ (j as u8);
        }
    }
}

/// Octets of the fixed part of a PAGE_DATA body (count, reserved).
const PAGE_DATA_FIXED: usize = PageDataHeader::LAYOUT.size;
/// Where a PAGE_DATA body's count is, from the start of its record
/// header (`libxc::PAGE_DATA_COUNT_AT` counts from the body).
const PAGE_DATA_COUNT_IN_RECORD: usize =
    RECORD_HEADER_SIZE + field_of(&PageDataHeader::LAYOUT, "count").offset;
/// Where a record header's type and length are.
const RH_TYPE_AT: usize = field_of(&RecordHeader::LAYOUT, "type").offset;
const RH_LENGTH_AT: usize = field_of(&RecordHeader::LAYOUT, "length").offset;

/// Octets of one PAGE_DATA pfn entry.
fn pfn_entry_size() -> usize {
    PageDataHeader::LAYOUT
        .trailing()
        .and_then(|f| f.kind.element_size())
        .expect("the PAGE_DATA body ends in its pfn array")
}

/// Octets of one vCPU's registers in the HVM context as Xen 4.17 writes
/// them (the CPU entry's size rule).
fn hvm_cpu_size() -> usize {
    match HvmType::Cpu.rule().size {
        HvmSize::Fixed { size, .. } => size,
        HvmSize::AtLeast(size) | HvmSize::MsrList { fixed: size, .. } => size,
    }
}

/// The synthetic stream's shape.
struct Shape {
    records: u64,
    pages: Vec<u8>,
}

impl Shape {
    fn new(size_mib: u64) -> Self {
        let per_record = (BATCH_PAGES * PAGE_SIZE) as u64;
        let records = (size_mib << 20).div_ceil(per_record).max(1);
        let mut pages = vec![0u8; BATCH_PAGES * PAGE_SIZE];
        fill_pages(&mut pages, 1);
        Shape { records, pages }
    }

    /// Body length of one PAGE_DATA record.
    fn record_body(&self) -> u64 {
        (PAGE_DATA_FIXED + pfn_entry_size() * BATCH_PAGES + self.pages.len()) as u64
    }

    /// Writes the whole stream to `out`; returns the octets written.
    fn write<W: Write>(&self, out: W) -> io::Result<u64> {
        let se = |e: format_spec::stream::StreamError| other(e.to_string());
        let mut w = StreamWriter::new(
            out,
            WriterOptions::new(DomainType::X86Hvm).version(XEN_4_17_VERSION),
        )
        .map_err(se)?;
        w.write(&LibxcRecord::StaticDataEnd).map_err(se)?;
        let mut pfns: Vec<u64> = (0..BATCH_PAGES as u64).collect();
        for _ in 0..self.records {
            w.write_page_data(&pfns, &self.pages).map_err(se)?;
            for p in &mut pfns {
                *p += BATCH_PAGES as u64;
            }
        }
        w.write(&LibxcRecord::HvmParams(HvmParams {
            count: 1,
            _res1: 0,
            param: vec![HvmParamsEntry {
                index: 2,
                value: 0xfeff_f000,
            }],
        }))
        .map_err(se)?;
        // A valid HVM context blob (strict verification checks it):
        // HEADER, one vCPU's registers, END.
        let ctx = format_spec::hvm_context::write(
            &format_spec::hvm_context::HvmHeader::new(0x60fb1, 2_000_000),
            &[(HvmType::Cpu, 0, &vec![0x11; hvm_cpu_size()])],
            format_spec::binrw::Endian::Little,
        )
        .map_err(|e| other(e.to_string()))?;
        w.write(&LibxcRecord::HvmContext(Opaque(ctx))).map_err(se)?;
        let pos = w.position();
        w.finish().map_err(se)?;
        // END, a header alone, follows the last position.
        Ok(pos + RECORD_HEADER_SIZE as u64)
    }
}

/// Flushes every file system's dirty pages (so one write measurement does
/// not pay for the write-back of the previous one).
fn sync_all() {
    // SAFETY: sync(2) takes no arguments and cannot fail.
    unsafe { libc::sync() };
}

impl Shape {
    /// What the writer writes for the stream's PAGE_DATA records, as raw
    /// `writev()` calls of the same slices (record header, PAGE_DATA
    /// header, pfn entries, pages), without the writer: shows what the
    /// slicing itself costs in the kernel.
    fn writev_loop<W: Write>(&self, mut out: W) -> io::Result<()> {
        let mut hdr = [0u8; RECORD_HEADER_SIZE + PAGE_DATA_FIXED];
        let mut put = |at: usize, v: u32| hdr[at..at + 4].copy_from_slice(&v.to_le_bytes());
        put(RH_TYPE_AT, LibxcRecord::PAGE_DATA);
        put(RH_LENGTH_AT, self.record_body() as u32);
        put(PAGE_DATA_COUNT_IN_RECORD, BATCH_PAGES as u32);
        let entries: Vec<u8> = (0..BATCH_PAGES as u64).flat_map(u64::to_le_bytes).collect();
        for _ in 0..self.records {
            let mut bufs = [
                io::IoSlice::new(&hdr[..RECORD_HEADER_SIZE]),
                io::IoSlice::new(&hdr[RECORD_HEADER_SIZE..]),
                io::IoSlice::new(&entries),
                io::IoSlice::new(&self.pages),
            ];
            let mut bufs = &mut bufs[..];
            while !bufs.is_empty() {
                let n = out.write_vectored(bufs)?;
                if n == 0 {
                    return Err(other("writev wrote nothing"));
                }
                io::IoSlice::advance_slices(&mut bufs, n);
            }
        }
        Ok(())
    }
}

/// A `write()` loop putting `total` octets from `chunk` into `out`.
fn write_loop(mut out: impl Write, chunk: &[u8], total: u64) -> io::Result<()> {
    let mut left = total;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        out.write_all(&chunk[..n])?;
        left -= n as u64;
    }
    out.flush()
}

/// A `read()` loop to the end of `input`; returns the octets read.
fn read_loop(mut input: impl Read, buf: &mut [u8]) -> io::Result<u64> {
    let mut total = 0u64;
    loop {
        match input.read(buf) {
            Ok(0) => return Ok(total),
            Ok(n) => total += n as u64,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Reads every page of the stream into one caller buffer; returns the
/// number of pages read.
fn read_all_pages(path: &Path) -> io::Result<u64> {
    let se = |e: format_spec::stream::StreamError| other(e.to_string());
    let input = BufReader::with_capacity(READER_BUF, File::open(path)?);
    let mut r = StreamReader::with_options(input, ReaderOptions::default()).map_err(se)?;
    let mut dst = vec![0u8; BATCH_PAGES * PAGE_SIZE];
    let mut pages = 0u64;
    let mut check = 0u8;
    while let Some(info) = r.next_header().map_err(se)? {
        if info.rtype == LibxcRecord::PAGE_DATA {
            let mut batch = r.page_batch().map_err(se)?;
            let n = batch.data_pages();
            let mut done = 0;
            while done < n {
                let k = (n - done).min(BATCH_PAGES);
                batch.read_pages(&mut dst[..k * PAGE_SIZE]).map_err(se)?;
                check ^= dst[PAGE_SIZE - 1];
                done += k;
            }
            pages += n as u64;
        } else {
            r.read_record().map_err(se)?;
        }
    }
    std::hint::black_box(check);
    Ok(pages)
}

/// Waits for `pid` with `wait4`, returning its status and peak RSS in KiB.
fn wait_rusage(pid: u32) -> io::Result<(std::process::ExitStatus, u64)> {
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero `rusage` is a valid value for the kernel to fill.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `status` and `ru` are valid, writable and outlive the call;
        // `pid` is a child of this process that has not been waited for.
        let r = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut ru) };
        if r == pid as libc::pid_t {
            break;
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    // Linux reports ru_maxrss in KiB.
    Ok((
        std::process::ExitStatus::from_raw(status),
        ru.ru_maxrss.max(0) as u64,
    ))
}

/// `cargo xtask bench-rss PROGRAM ARGS...` (used by the bench on itself):
/// runs PROGRAM with a real `fork` from this small, freshly started
/// process, waits for it with `wait4` and prints its peak RSS in KiB and
/// its exit code.
///
/// Linux carries a process's peak RSS across `exec`, and a forked child
/// starts with a copy of its parent's resident pages; so a child of the
/// bench process itself (which held 4 MiB buffers) would report the
/// bench's memory, not its own. Rust spawns with `vfork` unless a
/// `pre_exec` hook is set, hence the empty hook.
pub fn rss_helper(args: &[String]) -> ExitCode {
    use std::os::unix::process::CommandExt;
    let Some((prog, rest)) = args.split_first() else {
        eprintln!("usage: xtask bench-rss PROGRAM [ARGS...]");
        return ExitCode::from(2);
    };
    let mut c = Command::new(prog);
    c.args(rest).stdout(Stdio::null());
    // SAFETY: the hook does nothing, so it is async-signal-safe.
    unsafe {
        c.pre_exec(|| Ok(()));
    }
    let res = c.spawn().and_then(|child| wait_rusage(child.id()));
    match res {
        Ok((status, rss)) => {
            println!("{rss} {}", status.code().unwrap_or(-1));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench-rss: {prog}: {e}");
            ExitCode::from(2)
        }
    }
}

/// Runs `xenstream ARGS` with `stdin`; returns the wall time, or with
/// `rss` (through [`rss_helper`]) the peak RSS in KiB instead.
fn xenstream(bin: &Path, args: &[&OsStr], stdin: Stdio, rss: bool) -> io::Result<(f64, u64)> {
    let t = Instant::now();
    if rss {
        let out = Command::new(std::env::current_exe()?)
            .arg("bench-rss")
            .arg(bin)
            .args(args)
            .stdin(stdin)
            .stderr(Stdio::inherit())
            .output()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let mut it = text.split_whitespace();
        let kib: Option<u64> = it.next().and_then(|s| s.parse().ok());
        let code: Option<i32> = it.next().and_then(|s| s.parse().ok());
        return match (kib, code) {
            (Some(k), Some(0)) => Ok((t.elapsed().as_secs_f64(), k)),
            _ => Err(other(format!("xenstream {args:?} failed: {text}"))),
        };
    }
    let status = Command::new(bin)
        .args(args)
        .stdin(stdin)
        .stdout(Stdio::null())
        .status()?;
    if !status.success() {
        return Err(other(format!("xenstream {args:?} failed: {status}")));
    }
    Ok((t.elapsed().as_secs_f64(), 0))
}

/// `xenstream verify -q FILE`: seconds, or peak KiB with `rss`.
fn verify_file(bin: &Path, file: &Path, rss: bool) -> io::Result<(f64, u64)> {
    xenstream(
        bin,
        &["verify".as_ref(), "-q".as_ref(), file.as_os_str()],
        Stdio::null(),
        rss,
    )
}

/// `cat FILE | xenstream verify -q -`: seconds, or peak KiB with `rss`.
fn verify_pipe(bin: &Path, file: &Path, rss: bool) -> io::Result<(f64, u64)> {
    let mut cat = Command::new("cat")
        .arg(file)
        .stdout(Stdio::piped())
        .spawn()?;
    let pipe = cat.stdout.take().ok_or_else(|| other("no pipe from cat"))?;
    // The clock starts before cat, like the baseline's.
    let t = Instant::now();
    let res = xenstream(
        bin,
        &["verify".as_ref(), "-q".as_ref(), "-".as_ref()],
        Stdio::from(pipe),
        rss,
    );
    let secs = t.elapsed().as_secs_f64();
    cat.wait()?;
    res.map(|(_, k)| (secs, k))
}

/// `cat FILE |` a `read()` loop in this process.
fn read_pipe(file: &Path, buf: &mut [u8]) -> io::Result<(u64, f64)> {
    let t = Instant::now();
    let mut cat = Command::new("cat")
        .arg(file)
        .stdout(Stdio::piped())
        .spawn()?;
    let pipe = cat.stdout.take().ok_or_else(|| other("no pipe from cat"))?;
    let n = read_loop(pipe, buf)?;
    let secs = t.elapsed().as_secs_f64();
    cat.wait()?;
    Ok((n, secs))
}

/// How the pipe-to-pipe rows copy: `cat FILE | COPIER | reader`.
#[derive(Debug, Clone, Copy)]
enum Copier<'a> {
    /// A `read()`/`write()` loop in this process, 256 KiB buffer.
    ReadWrite,
    /// A `splice(2)` loop in this process (the kernel's limit).
    Splice,
    /// `xenstream convert --to 4 -` (a child process).
    Convert(&'a Path),
}

/// A `read()`/`write()` loop from `input` to `output`.
fn copy_loop(mut input: impl Read, mut output: impl Write, buf: &mut [u8]) -> io::Result<u64> {
    let mut total = 0u64;
    loop {
        match input.read(buf) {
            Ok(0) => return Ok(total),
            Ok(n) => {
                output.write_all(&buf[..n])?;
                total += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// A `splice(2)` loop from the pipe `input` to the pipe `output`.
fn splice_loop(
    input: &impl std::os::fd::AsRawFd,
    output: &impl std::os::fd::AsRawFd,
) -> io::Result<u64> {
    let mut total = 0u64;
    loop {
        let null = std::ptr::null_mut();
        // SAFETY: both descriptors are open pipes the caller owns; null
        // offsets use (and advance) the pipes' own positions; no memory
        // of this process is touched.
        let r = unsafe {
            libc::splice(
                input.as_raw_fd(),
                null,
                output.as_raw_fd(),
                null,
                1 << 20,
                libc::SPLICE_F_MOVE,
            )
        };
        match r {
            0 => return Ok(total),
            n if n > 0 => total += n as u64,
            _ => {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    }
}

/// `cat FILE | COPIER |` a `read()` loop on a thread of this process;
/// returns the octets that came out and the seconds, from starting `cat`
/// to the end of the output.
fn pipe_copy(file: &Path, copier: Copier<'_>) -> io::Result<(u64, f64)> {
    let t = Instant::now();
    let mut cat = Command::new("cat")
        .arg(file)
        .stdout(Stdio::piped())
        .spawn()?;
    let input = cat.stdout.take().ok_or_else(|| other("no pipe from cat"))?;
    let (out_r, out_w) = io::pipe()?;
    let reader = std::thread::spawn(move || read_loop(out_r, &mut vec![0u8; READ_BUF]));
    let copied = match copier {
        Copier::ReadWrite => copy_loop(input, out_w, &mut vec![0u8; READ_BUF]).map(drop),
        Copier::Splice => {
            let r = splice_loop(&input, &out_w).map(drop);
            drop(out_w);
            r
        }
        Copier::Convert(bin) => Command::new(bin)
            .args(["convert", "--to", "4", "-"])
            .stdin(Stdio::from(input))
            .stdout(Stdio::from(out_w))
            .stderr(Stdio::null())
            .status()
            .and_then(|s| match s.success() {
                true => Ok(()),
                false => Err(other(format!("xenstream convert failed: {s}"))),
            }),
    };
    // Every write end is closed by now (dropped, or the child's is gone).
    let n = reader
        .join()
        .map_err(|_| other("the reader thread panicked"))?;
    let secs = t.elapsed().as_secs_f64();
    cat.wait()?;
    copied?;
    Ok((n?, secs))
}

/// Runs `program ARGS` (output discarded) and returns its wall time.
fn run_timed(program: &Path, args: &[&OsStr]) -> io::Result<f64> {
    time_command(Command::new(program).args(args))
}

/// Runs a prepared command with no input and its output discarded, and
/// returns its wall time; a failure is an error naming the command.
fn time_command(cmd: &mut Command) -> io::Result<f64> {
    let t = Instant::now();
    let status = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    let secs = t.elapsed().as_secs_f64();
    if !status.success() {
        return Err(other(format!("{cmd:?} failed: {status}")));
    }
    Ok(secs)
}

/// The real HVM save file of `../shared/real-streams`, unpacked into
/// `dir` (untimed); `None` when it is not there.
fn real_hvm(dir: &Path) -> io::Result<Option<PathBuf>> {
    let shared = std::env::var_os("XEN_STREAM_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| xtask::repo_root().join("../shared"));
    let src = shared.join("real-streams").join("hvm-1vcpu-128M.xl.zst");
    if !src.is_file() {
        return Ok(None);
    }
    let out = dir.join("hvm-1vcpu-128M.xl");
    let status = Command::new("zstd")
        .args(["-d", "-q", "-f", "--long=27", "-o"])
        .arg(&out)
        .arg(&src)
        .status()?;
    if !status.success() {
        return Err(other(format!("zstd could not unpack {}", src.display())));
    }
    Ok(Some(out))
}

/// Seconds of Xen's `verify-stream-v2` with Xen's modules and with the
/// generated ones: with `python -S`, and as the interpreter starts by
/// default.
struct PythonTimes {
    own: f64,
    generated: f64,
    own_site: f64,
    generated_site: f64,
    /// `xtask/bench/framing_floor.py` with the generated modules: the
    /// script's imports and framing, no checks (the floor of any verifier).
    floor: f64,
    floor_site: f64,
}

/// Xen's `verify-stream-v2 -f xl FILE` with Xen's own `xen.migration`
/// modules and with the generated ones, side by side: each interpreter
/// run is timed (best of `rounds`, alternating), after one untimed run of
/// each that writes the byte code (as an installed package has it). The
/// goal's runs use `python -S` (no `site` module): the `.pth` files of a
/// machine's site-packages run at every start (this build machine's
/// import `certifi`, about 45 ms, longer than the generated modules'
/// whole run) and are neither Xen's code nor the modules; the runs
/// without `-S` are printed too. So is the floor: `framing_floor.py`
/// imports what the script imports and only frames the file, so Xen's
/// time over its time is the most any verifier could reach, with and
/// without `site`.
fn xen_python(dir: &Path, file: &Path, rounds: u32) -> io::Result<Result<PythonTimes, String>> {
    let shared = std::env::var_os("XEN_STREAM_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| xtask::repo_root().join("../shared"));
    let kit = shared.join("xen-kit/tree/tools/python");
    let script = kit.join("scripts/verify-stream-v2");
    if !script.is_file() {
        return Ok(Err(format!("{} is not there", script.display())));
    }
    // The interpreter itself, not a wrapper such as pyenv's shim (whose
    // start-up would be counted in both).
    let exe = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output();
    let python = match exe {
        Ok(o) if o.status.success() => PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()),
        _ => return Ok(Err("no python3".to_string())),
    };
    let own = dir.join("python-own");
    let generated = dir.join("python-generated");
    for d in [&own, &generated] {
        let _ = std::fs::remove_dir_all(d);
        std::fs::create_dir_all(d)?;
        let status = Command::new("cp")
            .arg("-r")
            .arg(kit.join("xen"))
            .arg(d)
            .status()?;
        if !status.success() {
            return Err(other("cp -r of Xen's Python package failed"));
        }
    }
    for o in xtask::python::outputs() {
        if let Some(rel) = o.path.strip_prefix("tools/python/") {
            let to = generated.join(rel);
            let _ = std::fs::remove_file(&to);
            std::fs::write(to, o.contents)?;
        }
    }
    let floor = xtask::repo_root().join("xtask/bench/framing_floor.py");
    let run_script = |script: &Path, args: &[&str], root: &Path, site: bool| -> io::Result<f64> {
        time_command(
            Command::new(&python)
                .args(if site { &[][..] } else { &["-S"][..] })
                .arg(script)
                .args(args)
                .arg(file)
                .env("PYTHONPATH", root)
                .env("PYTHONNOUSERSITE", "1")
                .env_remove("PYTHONDONTWRITEBYTECODE"),
        )
    };
    let run = |root: &Path, site: bool| run_script(&script, &["-f", "xl", "-i"], root, site);
    let run_floor = |site: bool| run_script(&floor, &[], &generated, site);
    run(&own, true)?;
    run(&generated, true)?;
    let inf = f64::INFINITY;
    let mut t = PythonTimes {
        own: inf,
        generated: inf,
        own_site: inf,
        generated_site: inf,
        floor: inf,
        floor_site: inf,
    };
    for _ in 0..rounds {
        t.own = t.own.min(run(&own, false)?);
        t.generated = t.generated.min(run(&generated, false)?);
        t.floor = t.floor.min(run_floor(false)?);
        t.own_site = t.own_site.min(run(&own, true)?);
        t.generated_site = t.generated_site.min(run(&generated, true)?);
        t.floor_site = t.floor_site.min(run_floor(true)?);
    }
    let _ = std::fs::remove_dir_all(&own);
    let _ = std::fs::remove_dir_all(&generated);
    Ok(Ok(t))
}

/// Async verification over a loopback TCP socket, against a plain async
/// read loop over the same kind of socket: a thread sends the file with
/// blocking writes, a current-thread tokio runtime receives it. Returns
/// the seconds of (the read loop, the verifier), each from accept to the
/// end of the stream.
fn async_socket(file: &Path) -> io::Result<(f64, f64)> {
    use tokio::io::AsyncReadExt;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    let size = std::fs::metadata(file)?.len();
    let once = |verify: bool| -> io::Result<f64> {
        rt.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let at = listener.local_addr()?;
            let path = file.to_path_buf();
            let sender = std::thread::spawn(move || -> io::Result<u64> {
                let mut s = std::net::TcpStream::connect(at)?;
                io::copy(&mut File::open(path)?, &mut s)
            });
            let (mut sock, _) = listener.accept().await?;
            let start = Instant::now();
            let n = if verify {
                let input = tokio::io::BufReader::with_capacity(READER_BUF, sock);
                let opts = format_spec::stream::VerifyOptions::strict();
                let report = format_spec::asynchronous::verify(input, opts)
                    .await
                    .map_err(|e| other(e.to_string()))?;
                report.bytes()
            } else {
                let mut buf = vec![0u8; READ_BUF];
                let mut n = 0u64;
                loop {
                    match sock.read(&mut buf).await? {
                        0 => break n,
                        k => n += k as u64,
                    }
                }
            };
            let t = start.elapsed().as_secs_f64();
            let sent = sender
                .join()
                .map_err(|_| other("the sender thread panicked"))??;
            if n != size || sent != size {
                return Err(other(format!(
                    "{n} octets received, {sent} sent, of a {size}-octet stream"
                )));
            }
            Ok(t)
        })
    };
    Ok((once(false)?, once(true)?))
}

/// `/dev/shm` (memory, no disk write-back to disturb the write figures)
/// when there is one, else the system temp directory.
fn default_dir() -> PathBuf {
    let shm = PathBuf::from("/dev/shm");
    if shm.is_dir() {
        shm
    } else {
        std::env::temp_dir()
    }
}

fn bench(o: &Options) -> io::Result<bool> {
    let bin = build_xenstream()?;
    let dir = o
        .dir
        .clone()
        .unwrap_or_else(default_dir)
        .join(format!("xenstream-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let stream = dir.join("stream.bin");
    let res = measure(o, &bin, &stream, &dir);
    if o.keep {
        eprintln!("kept {}", stream.display());
    } else {
        let _ = std::fs::remove_file(&stream);
    }
    let _ = std::fs::remove_file(dir.join("baseline.bin"));
    if !o.keep {
        let _ = std::fs::remove_dir(&dir);
    }
    res
}

struct Check {
    what: String,
    ok: bool,
}

/// A goal: the ratio to reach and what it is called in the summary.
type Target = Option<(f64, &'static str)>;

/// One printed row: seconds over `octets`, against the row `base`.
struct Row {
    what: &'static str,
    secs: f64,
    octets: u64,
    base: Option<usize>,
    target: Target,
}

/// The table the bench prints, and the goals that could not be measured.
#[derive(Default)]
struct Rows {
    rows: Vec<Row>,
    missing: Vec<Check>,
}

impl Rows {
    /// A baseline row; returns its index.
    fn base(&mut self, what: &'static str, secs: f64, octets: u64) -> usize {
        self.rows.push(Row {
            what,
            secs,
            octets,
            base: None,
            target: None,
        });
        self.rows.len() - 1
    }

    /// A row measured against the row `base` (same octets).
    fn vs(&mut self, what: &'static str, secs: f64, base: usize, target: Target) {
        let octets = self.rows[base].octets;
        self.rows.push(Row {
            what,
            secs,
            octets,
            base: Some(base),
            target,
        });
    }

    /// A goal that could not be measured, and why: missed.
    fn missing(&mut self, what: &str, why: &str) {
        self.missing.push(Check {
            what: format!("{what} (not measured: {why})"),
            ok: false,
        });
    }

    /// Prints the table; returns the goals with their verdicts.
    fn print(self) -> Vec<Check> {
        println!(
            "{:<58} {:>8} {:>9} {:>9} {:>8}",
            "measurement", "seconds", "MiB/s", "ratio", "target"
        );
        let rate = |r: &Row| r.octets as f64 / MIB / r.secs.max(1e-9);
        let mut checks = Vec::new();
        for r in &self.rows {
            let q = r.base.map(|b| rate(r) / rate(&self.rows[b]));
            if let (Some(q), Some((t, name))) = (q, r.target) {
                checks.push(Check {
                    what: name.to_string(),
                    ok: q >= t,
                });
            }
            println!(
                "{:<58} {:>8.3} {:>9.0} {:>9} {:>8}",
                r.what,
                r.secs,
                rate(r),
                q.map(|q| format!("{q:.2}x")).unwrap_or_default(),
                r.target
                    .map(|(t, _)| format!(">= {t}x"))
                    .unwrap_or_default(),
            );
        }
        checks.extend(self.missing);
        checks
    }
}

/// The best time, in seconds, of each measured run (`f64::INFINITY`: not
/// run yet), and the size of the real save file.
struct Times {
    wl_file: f64,
    wv_file: f64,
    w_file: f64,
    wl_null: f64,
    w_null: f64,
    rl_file: f64,
    rl_file4: f64,
    pr: f64,
    rl_pipe: f64,
    vp: f64,
    vf: f64,
    al: f64,
    av: f64,
    cp: f64,
    cv_file: f64,
    pp_rw: f64,
    pp_splice: f64,
    pp_cv: f64,
    rw_file: f64,
    mem: f64,
    rl_real: f64,
    vf_real: f64,
    real_size: u64,
}

impl Times {
    fn new() -> Times {
        let inf = f64::INFINITY;
        Times {
            wl_file: inf,
            wv_file: inf,
            w_file: inf,
            wl_null: inf,
            w_null: inf,
            rl_file: inf,
            rl_file4: inf,
            pr: inf,
            rl_pipe: inf,
            vp: inf,
            vf: inf,
            al: inf,
            av: inf,
            cp: inf,
            cv_file: inf,
            pp_rw: inf,
            pp_splice: inf,
            pp_cv: inf,
            rw_file: inf,
            mem: inf,
            rl_real: inf,
            vf_real: inf,
            real_size: 0,
        }
    }
}

/// Keeps the better of two times.
fn best(slot: &mut f64, t: f64) {
    *slot = slot.min(t);
}

fn measure(o: &Options, bin: &Path, stream: &Path, dir: &Path) -> io::Result<bool> {
    let shape = Shape::new(o.size_mib);
    let size = shape.write(io::sink())?;
    let record = shape.record_body() + 8;
    let records = shape.records;
    let mut t = Times::new();
    let mut buf = vec![0u8; READ_BUF];
    time_files(o, shape, stream, dir, &mut buf, &mut t)?;
    time_children(o, bin, stream, size, &mut buf, &mut t)?;
    let out = dir.join("out.bin");
    time_copies(o, bin, stream, &out, size, &mut buf, &mut t)?;
    let real = time_real(o, bin, dir, &mut buf, &mut t)?;
    // 11: Xen's verify-stream-v2 on it, with Xen's modules and ours.
    let py = match &real {
        Some(real) => xen_python(dir, real, o.repeat * 2)?,
        None => Err("no real HVM save file".to_string()),
    };
    // Peak memory: one more run of each, through the helper.
    let (_, rss_pipe) = verify_pipe(bin, stream, true)?;
    let (_, rss_file) = verify_file(bin, stream, true)?;
    let (_, rss_idle) = xenstream(bin, &["--version".as_ref()], Stdio::null(), true)?;
    if let Some(real) = &real {
        let _ = std::fs::remove_file(real);
    }
    let _ = std::fs::remove_file(&out);

    println!(
        "xenstream bench: {:.0} MiB synthetic v{XEN_4_17_VERSION} HVM stream ({} {} records of {} pages, {} octets each)\n\
         in {}; release build; file in the page cache; best of {} rounds",
        size as f64 / MIB,
        LibxcRecord::LAYOUT.name_of(LibxcRecord::PAGE_DATA),
        records,
        BATCH_PAGES,
        record,
        dir.display(),
        o.repeat
    );
    let mut checks = rows(&t, size, real.is_some(), py).print();
    let limit_kib = 16 * 1024 + record.div_ceil(1024);
    for (what, kib) in [("from the pipe", rss_pipe), ("from the file", rss_file)] {
        println!(
            "peak memory (max RSS) of xenstream verify {what}: {:.1} MiB (target < 16 MiB + one record = {:.1} MiB)",
            kib as f64 / 1024.0,
            limit_kib as f64 / 1024.0
        );
    }
    println!(
        "  (wait4 of a process forked from a small helper; `xenstream --version` measured the same way: {:.1} MiB)",
        rss_idle as f64 / 1024.0
    );
    checks.push(Check {
        what: "peak memory < 16 MiB + one record".to_string(),
        ok: rss_pipe.max(rss_file) < limit_kib,
    });
    let mut all = true;
    for c in &checks {
        println!("{} {}", if c.ok { "ok:    " } else { "MISSED:" }, c.what);
        all &= c.ok;
    }
    Ok(all)
}

/// Rounds 1-3: writing (the baselines first, each into a new file with
/// nothing left to write back), then reading the file.
fn time_files(
    o: &Options,
    shape: Shape,
    stream: &Path,
    dir: &Path,
    buf: &mut [u8],
    t: &mut Times,
) -> io::Result<()> {
    let size = shape.write(io::sink())?;
    let records = shape.records;
    let mut chunk = vec![0u8; (shape.record_body() + 8) as usize];
    fill_pages(&mut chunk, 2);
    let baseline = dir.join("baseline.bin");
    for _ in 0..o.repeat {
        sync_all();
        let ((), s) = timed(|| write_loop(File::create(&baseline)?, &chunk, size))?;
        best(&mut t.wl_file, s);
        std::fs::remove_file(&baseline)?;
        sync_all();
        let ((), s) = timed(|| shape.writev_loop(File::create(&baseline)?))?;
        best(&mut t.wv_file, s);
        std::fs::remove_file(&baseline)?;
        // A new file, like the baselines' (truncating the previous round's
        // stream would free its pages inside the timed part).
        let _ = std::fs::remove_file(stream);
        sync_all();
        let (written, s) = timed(|| shape.write(File::create(stream)?))?;
        best(&mut t.w_file, s);
        if written != size || std::fs::metadata(stream)?.len() != size {
            return Err(other("the stream file does not have the expected size"));
        }
        let ((), s) = timed(|| write_loop(File::create("/dev/null")?, &chunk, size))?;
        best(&mut t.wl_null, s);
        let (_, s) = timed(|| shape.write(File::create("/dev/null")?))?;
        best(&mut t.w_null, s);
        sync_all();

        let (n, s) = timed(|| read_loop(File::open(stream)?, buf))?;
        best(&mut t.rl_file, s);
        if n != size {
            return Err(other(format!("read {n} octets of a {size}-octet stream")));
        }
        let mut big = vec![0u8; BATCH_PAGES * PAGE_SIZE];
        let (n4, s) = timed(|| read_loop(File::open(stream)?, &mut big))?;
        best(&mut t.rl_file4, s);
        drop(big);
        if n4 != size {
            return Err(other(format!("read {n4} octets of a {size}-octet stream")));
        }
        let (pages, s) = timed(|| read_all_pages(stream))?;
        best(&mut t.pr, s);
        if pages != records * BATCH_PAGES as u64 {
            return Err(other(format!("read {pages} pages")));
        }
    }
    Ok(())
}

/// Rounds 4-6: the xenstream children and the pipe baseline (both fed by
/// cat), then asynchronous verification over a loopback socket.
fn time_children(
    o: &Options,
    bin: &Path,
    stream: &Path,
    size: u64,
    buf: &mut [u8],
    t: &mut Times,
) -> io::Result<()> {
    for _ in 0..o.repeat {
        let (n, s) = read_pipe(stream, buf)?;
        best(&mut t.rl_pipe, s);
        if n != size {
            return Err(other(format!("read {n} octets from the pipe")));
        }
        best(&mut t.vp, verify_pipe(bin, stream, false)?.0);
        best(&mut t.vf, verify_file(bin, stream, false)?.0);
    }
    for _ in 0..o.repeat {
        let (l, v) = async_socket(stream)?;
        best(&mut t.al, l);
        best(&mut t.av, v);
    }
    Ok(())
}

/// Rounds 7-9: conversion and memory extraction and their copy
/// baselines, each output a new file `out`.
fn time_copies(
    o: &Options,
    bin: &Path,
    stream: &Path,
    out: &Path,
    size: u64,
    buf: &mut [u8],
    t: &mut Times,
) -> io::Result<()> {
    let s_os = stream.as_os_str();
    let o_os = out.as_os_str();
    for _ in 0..o.repeat {
        let _ = std::fs::remove_file(out);
        sync_all();
        best(&mut t.cp, run_timed(Path::new("cp"), &[s_os, o_os])?);
        std::fs::remove_file(out)?;
        sync_all();
        let args = [
            "convert".as_ref(),
            "--to".as_ref(),
            "4".as_ref(),
            s_os,
            "-o".as_ref(),
            o_os,
        ];
        best(&mut t.cv_file, run_timed(bin, &args)?);
        if std::fs::metadata(out)?.len() < size {
            return Err(other("the converted file is shorter than the input"));
        }
        std::fs::remove_file(out)?;
        for (slot, copier) in [
            (&mut t.pp_rw, Copier::ReadWrite),
            (&mut t.pp_splice, Copier::Splice),
            (&mut t.pp_cv, Copier::Convert(bin)),
        ] {
            let (n, s) = pipe_copy(stream, copier)?;
            if n < size {
                return Err(other(format!("{copier:?}: {n} octets of {size} came out")));
            }
            best(slot, s);
        }
        sync_all();
        let (n, s) = timed(|| copy_loop(File::open(stream)?, File::create(out)?, buf))?;
        if n != size {
            return Err(other(format!("copied {n} octets of {size}")));
        }
        best(&mut t.rw_file, s);
        std::fs::remove_file(out)?;
        sync_all();
        let args = ["memory".as_ref(), "--out".as_ref(), o_os, s_os];
        best(&mut t.mem, run_timed(bin, &args)?);
        std::fs::remove_file(out)?;
    }
    Ok(())
}

/// Round 10: the real HVM save file (1020 PAGE_DATA records, mostly
/// XTAB): short runs, so more rounds. Returns where it was unpacked, if it
/// is there.
fn time_real(
    o: &Options,
    bin: &Path,
    dir: &Path,
    buf: &mut [u8],
    t: &mut Times,
) -> io::Result<Option<PathBuf>> {
    let real = real_hvm(dir)?;
    if let Some(real) = &real {
        t.real_size = std::fs::metadata(real)?.len();
        for _ in 0..o.repeat * 5 {
            let (n, s) = timed(|| read_loop(File::open(real)?, buf))?;
            if n != t.real_size {
                return Err(other("short read of the real save file"));
            }
            best(&mut t.rl_real, s);
            best(&mut t.vf_real, verify_file(bin, real, false)?.0);
        }
    }
    Ok(real)
}

/// The table of `cargo xtask bench`: each baseline and the rows measured
/// against it, with their targets.
fn rows(t: &Times, size: u64, real: bool, py: Result<PythonTimes, String>) -> Rows {
    let read_base = if t.rl_file4 < t.rl_file { 1 } else { 0 };
    let mut rows = Rows::default();
    let r256 = rows.base(
        "baseline: read() loop over the file, 256 KiB",
        t.rl_file,
        size,
    );
    let r4 = rows.base(
        "baseline: read() loop over the file, 4 MiB",
        t.rl_file4,
        size,
    );
    rows.vs(
        "StreamReader: every page into a caller buffer",
        t.pr,
        [r256, r4][read_base],
        Some((0.8, "page reading >= 0.8x the faster read loop")),
    );
    let rp = rows.base("baseline: cat FILE | read() loop, 256 KiB", t.rl_pipe, size);
    rows.vs(
        "cat FILE | xenstream verify -",
        t.vp,
        rp,
        Some((0.8, "pipe verify >= 0.8x the pipe read loop")),
    );
    rows.vs(
        "xenstream verify FILE (seeks over pages)",
        t.vf,
        r256,
        Some((10.0, "seekable verify >= 10x the read loop")),
    );
    let wl = rows.base("baseline: write() loop to a file", t.wl_file, size);
    rows.vs(
        "writev() loop, the writer's slices, to a file",
        t.wv_file,
        wl,
        None,
    );
    rows.vs(
        "StreamWriter to a file",
        t.w_file,
        wl,
        Some((0.8, "writer >= 0.8x the write loop")),
    );
    let wn = rows.base("baseline: write() loop to /dev/null", t.wl_null, size);
    rows.vs("StreamWriter to /dev/null", t.w_null, wn, None);
    let ta = rows.base(
        "baseline: tokio read loop, loopback TCP, 256 KiB",
        t.al,
        size,
    );
    rows.vs(
        "asynchronous::verify, loopback TCP (tokio)",
        t.av,
        ta,
        Some((0.8, "async socket verify >= 0.8x the async read loop")),
    );
    copy_rows(&mut rows, t, size);
    real_rows(&mut rows, t, real, py);
    rows
}

/// The rows of conversion and memory extraction.
fn copy_rows(rows: &mut Rows, t: &Times, size: u64) {
    let c = rows.base("baseline: cp FILE OUT", t.cp, size);
    rows.vs(
        "xenstream convert --to 4 FILE -o OUT",
        t.cv_file,
        c,
        Some((1.0, "convert file to file >= 1.0x cp")),
    );
    let prw = rows.base(
        "baseline: cat | read()/write() loop | reader",
        t.pp_rw,
        size,
    );
    let psp = rows.base("baseline: cat | splice() loop | reader", t.pp_splice, size);
    rows.vs(
        "cat | xenstream convert --to 4 - | reader (vs read/write)",
        t.pp_cv,
        prw,
        None,
    );
    rows.vs(
        "cat | xenstream convert --to 4 - | reader (vs splice)",
        t.pp_cv,
        psp,
        Some((0.9, "convert pipe to pipe >= 0.9x the splice loop")),
    );
    let cw = rows.base(
        "baseline: read()/write() copy of FILE to a new file",
        t.rw_file,
        size,
    );
    rows.vs(
        "xenstream memory --out IMAGE FILE (raw image)",
        t.mem,
        cw,
        Some((0.7, "memory >= 0.7x the read/write copy to a file")),
    );
}

/// The rows of the real save file: the Rust verifier, and Xen's
/// verify-stream-v2 with Xen's modules and the generated ones (`py`).
fn real_rows(rows: &mut Rows, t: &Times, real: bool, py: Result<PythonTimes, String>) {
    let verify_real = "real HVM save: verify >= 4x the read loop";
    if real {
        let rr = rows.base(
            "baseline: read() loop, real HVM save, 256 KiB",
            t.rl_real,
            t.real_size,
        );
        rows.vs(
            "xenstream verify REAL-HVM-SAVE",
            t.vf_real,
            rr,
            Some((4.0, verify_real)),
        );
    } else {
        rows.missing(
            verify_real,
            "../shared/real-streams/hvm-1vcpu-128M.xl.zst is not there",
        );
    }
    let python_goal = "Xen's verify-stream-v2 -f xl: generated modules >= 5x Xen's own";
    match py {
        Ok(p) => {
            let xo = rows.base(
                "python -S verify-stream-v2 -f xl REAL, Xen's modules",
                p.own,
                t.real_size,
            );
            rows.vs(
                "python -S verify-stream-v2 -f xl REAL, generated modules",
                p.generated,
                xo,
                Some((5.0, python_goal)),
            );
            let xs = rows.base(
                "python verify-stream-v2 -f xl REAL (with site), Xen's",
                p.own_site,
                t.real_size,
            );
            rows.vs(
                "python verify-stream-v2 -f xl REAL (with site), generated",
                p.generated_site,
                xs,
                None,
            );
            rows.vs(
                "floor: python -S framing_floor.py REAL (no checks)",
                p.floor,
                xo,
                None,
            );
            rows.vs(
                "floor: python framing_floor.py REAL (with site)",
                p.floor_site,
                xs,
                None,
            );
        }
        Err(why) => rows.missing(python_goal, &why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use format_spec::stream::{verify, VerifyOptions};

    #[test]
    fn the_synthetic_stream_is_valid_and_as_big_as_asked() {
        let shape = Shape::new(8);
        assert_eq!(shape.records, 2);
        let mut bytes = Vec::new();
        let n = shape.write(&mut bytes).unwrap();
        assert_eq!(n, bytes.len() as u64);
        assert!(n >= 8 << 20);
        let report = verify(&bytes[..], VerifyOptions::strict()).unwrap();
        assert_eq!(report.image_header.version, 3);
        assert_eq!(report.data_pages, 2 * BATCH_PAGES as u64);
        assert_eq!(
            report.records_by_type[&LibxcRecord::PAGE_DATA],
            shape.records
        );
    }

    #[test]
    fn the_writev_baseline_writes_what_the_writer_writes() {
        // One record: the raw writev() calls must produce the writer's
        // PAGE_DATA record octet for octet (header, pfns 0..1024, pages).
        let shape = Shape::new(1);
        let mut stream = Vec::new();
        shape.write(&mut stream).unwrap();
        let mut raw = Vec::new();
        shape.writev_loop(&mut raw).unwrap();
        assert_eq!(raw.len() as u64, shape.record_body() + 8);
        // Image header (24) + domain header (16) + STATIC_DATA_END (8).
        let start = 48;
        assert_eq!(&stream[start..start + raw.len()], &raw[..]);
    }

    #[test]
    fn pages_are_read_back_from_a_file() {
        let dir = std::env::temp_dir().join(format!("xtask-bench-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("s.bin");
        let shape = Shape::new(4);
        shape.write(File::create(&p).unwrap()).unwrap();
        let pages = read_all_pages(&p);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(pages.unwrap(), BATCH_PAGES as u64);
    }

    #[test]
    fn options_parse() {
        let a = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let o = parse(&a(&["--size-mib", "256", "--repeat", "2", "--keep"])).unwrap();
        assert_eq!((o.size_mib, o.repeat, o.keep), (256, 2, true));
        assert!(parse(&a(&["--size-mib", "0"])).is_none());
        assert!(parse(&a(&["--size-mib"])).is_none());
        assert!(parse(&a(&["--bogus"])).is_none());
    }
}
