//! A progress line on standard error for long runs on a terminal.
//!
//! [`Progress`] wraps the raw input, below the buffer, so it sees each
//! `read()` system call (and each seek) once. It redraws at most
//! [`REDRAWS_PER_SECOND`] times a second and only looks at the clock every
//! few calls, so its cost does not show next to the reads themselves.
//! The caller turns it on only when standard error is a terminal.

use std::io::{self, IsTerminal, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, BorrowedFd};

use format_spec::convert::KernelIo;
use std::time::{Duration, Instant};

/// At most this many redraws a second.
pub const REDRAWS_PER_SECOND: u32 = 4;

/// Nothing is drawn during the first half second, so quick runs print no
/// progress at all.
const QUIET_START: Duration = Duration::from_millis(500);

/// The clock is read once every this many calls.
const CALLS_PER_CLOCK: u32 = 16;

/// Whether a progress line belongs on standard error: only on a terminal.
pub fn wanted() -> bool {
    io::stderr().is_terminal()
}

/// Counts the octets passing through a reader and draws a progress line.
#[derive(Debug)]
pub struct Progress<R> {
    inner: R,
    on: bool,
    pos: u64,
    total: Option<u64>,
    start: Instant,
    last_draw: Option<Instant>,
    calls: u32,
    drawn: bool,
}

impl<R> Progress<R> {
    /// Wraps `inner`; `total` is the input size when known; nothing is drawn
    /// unless `on`.
    pub fn new(inner: R, total: Option<u64>, on: bool) -> Self {
        Progress {
            inner,
            on,
            pos: 0,
            total,
            start: Instant::now(),
            last_draw: None,
            calls: 0,
            drawn: false,
        }
    }

    fn tick(&mut self) {
        if !self.on {
            return;
        }
        self.calls += 1;
        if self.calls < CALLS_PER_CLOCK {
            return;
        }
        self.calls = 0;
        let now = Instant::now();
        if now.duration_since(self.start) < QUIET_START {
            return;
        }
        let period = Duration::from_secs(1) / REDRAWS_PER_SECOND;
        if self
            .last_draw
            .is_some_and(|t| now.duration_since(t) < period)
        {
            return;
        }
        self.last_draw = Some(now);
        self.draw(now);
    }

    fn draw(&mut self, now: Instant) {
        let secs = now.duration_since(self.start).as_secs_f64().max(1e-9);
        let mib = self.pos as f64 / (1u64 << 20) as f64;
        let rate = mib / secs;
        let line = match self.total {
            Some(t) if t > 0 => format!(
                "{mib:.0} / {:.0} MiB ({:.0}%), {rate:.0} MiB/s",
                t as f64 / (1u64 << 20) as f64,
                100.0 * self.pos.min(t) as f64 / t as f64
            ),
            _ => format!("{mib:.0} MiB, {rate:.0} MiB/s"),
        };
        let mut e = io::stderr().lock();
        let _ = write!(e, "\r\x1b[K{line}");
        let _ = e.flush();
        self.drawn = true;
    }

    /// Erases the progress line, if one was drawn.
    pub fn clear(&mut self) {
        if self.drawn {
            let mut e = io::stderr().lock();
            let _ = write!(e, "\r\x1b[K");
            let _ = e.flush();
            self.drawn = false;
        }
    }
}

impl<R> Drop for Progress<R> {
    fn drop(&mut self) {
        self.clear();
    }
}

impl<R: Read> Read for Progress<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.pos += n as u64;
        self.tick();
        Ok(n)
    }
}

impl<R: Seek> Seek for Progress<R> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let p = self.inner.seek(pos)?;
        self.pos = p;
        self.tick();
        Ok(p)
    }
}

impl<R: AsFd> AsFd for Progress<R> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

/// Octets the kernel moved from the input (a zero-copy conversion) count
/// as read.
impl<R: AsFd> KernelIo for Progress<R> {
    fn kernel_moved(&mut self, n: u64) {
        self.pos += n;
        self.tick();
    }
}
