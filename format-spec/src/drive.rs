//! How the framing code meets the input: written once, driven by blocking
//! I/O or by tokio.
//!
//! The readers, the verifier and the writers of [`crate::stream`],
//! [`crate::outer`] and [`crate::save`] keep all their rules in one core
//! per layer that does no I/O itself. The core is a set of `async fn`s over
//! [`Input`] (or [`Output`]): where it needs octets it asks the input to
//! fill one slice (a header, a record body, or a caller's page buffer, so
//! page contents land where the caller wants them, with no copy) or to skip
//! a number of octets, and it goes on with what arrived; the compiler turns
//! each of these functions into the state machine a hand-written sans-IO
//! core would hold.
//!
//! Two kinds of input drive that core:
//!
//! * blocking ones ([`Blocking`], over [`Read`]): every request is served
//!   at once, so the blocking front ends ([`StreamReader`](crate::stream::StreamReader),
//!   [`OuterReader`](crate::outer::OuterReader),
//!   [`SaveReader`](crate::save::SaveReader), ...) poll the core's future
//!   once with [`now`] and have the result;
//! * with the `tokio` feature, inputs over `tokio::io::AsyncRead` (and
//!   outputs over `AsyncWrite`): the async front ends of
//!   [`crate::asynchronous`] await the same futures.
//!
//! Both see the same events, errors and offsets, because there is only
//! one piece of code that computes them.

use std::future::Future;
use std::io::{self, IoSlice, Read, Seek, SeekFrom, Write};
use std::pin::pin;
use std::task::{Context, Poll, Waker};

/// Chunk size for reading through skipped octets.
pub(crate) const SCRATCH: usize = 256 << 10;

/// Below this many octets, a seekable input reads through instead of
/// seeking (a seek drops the buffer of a `BufReader`).
const SEEK_MIN: u64 = 64 << 10;

/// Where the framing code gets its octets from.
pub(crate) trait Input {
    /// Reads until `dst` is full or the input ends; returns how much was
    /// read (less than `dst.len()` only at the end of the input).
    async fn fill(&mut self, dst: &mut [u8]) -> io::Result<usize>;

    /// Skips `n` octets (reading them into `scratch`, or seeking); returns
    /// how many were there.
    async fn skip(&mut self, n: u64, scratch: &mut Vec<u8>) -> io::Result<u64>;
}

/// An input that can hand its next octets straight to an output set up
/// beforehand, without the caller reading them: the zero-copy conversion
/// ([`crate::convert::convert_zero_copy`]) moves page contents this way,
/// through every layer's reader, each counting the octets that passed.
pub(crate) trait Pass {
    /// Moves the next `n` octets of the input to the output; fewer only
    /// at the end of the input or on an error. `None`: this input cannot
    /// (nothing was consumed; the caller reads the octets instead).
    fn pass(&mut self, n: u64) -> Option<Passed>;
}

/// What [`Pass::pass`] did.
#[derive(Debug)]
pub(crate) struct Passed {
    /// Input octets consumed (and written to the output).
    pub(crate) moved: u64,
    /// The error that stopped it early, if any.
    pub(crate) error: Option<io::Error>,
}

/// Where the writers put their octets.
pub(crate) trait Output {
    /// Writes all of `bufs`, retrying short and interrupted writes.
    async fn write_all_vectored(&mut self, bufs: &mut [IoSlice<'_>]) -> io::Result<()>;

    /// Flushes the output.
    async fn flush(&mut self) -> io::Result<()>;
}

/// Runs a future of the core driven by a blocking input or output to its
/// end. Such an input never makes the core wait (every request is served
/// before it returns), so one poll finishes the future.
pub(crate) fn now<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        // Blocking inputs and outputs have no await point that pends.
        Poll::Pending => unreachable!("a blocking input or output never pends"),
    }
}

/// Skips `n` octets of a blocking input; returns how many were there.
pub(crate) type SkipFn<R> = fn(&mut R, u64, &mut Vec<u8>) -> io::Result<u64>;

/// A blocking input: any [`Read`], skipping by reading or by seeking.
pub(crate) struct Blocking<R> {
    pub(crate) inner: R,
    pub(crate) skip: SkipFn<R>,
}

impl<R: Read> Blocking<R> {
    /// An input skipped by reading through.
    pub(crate) fn reading(inner: R) -> Self {
        Blocking {
            inner,
            skip: skip_by_reading::<R>,
        }
    }
}

impl<R: Read + Seek> Blocking<R> {
    /// An input skipped with seeks.
    pub(crate) fn seeking(inner: R) -> Self {
        Blocking {
            inner,
            skip: skip_by_seeking::<R>,
        }
    }
}

impl<R: Read> Input for Blocking<R> {
    async fn fill(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        read_full(&mut self.inner, dst)
    }

    async fn skip(&mut self, n: u64, scratch: &mut Vec<u8>) -> io::Result<u64> {
        (self.skip)(&mut self.inner, n, scratch)
    }
}

/// A blocking output: any [`Write`].
#[derive(Debug)]
pub(crate) struct BlockingOut<W>(pub(crate) W);

impl<W: Write> Output for BlockingOut<W> {
    async fn write_all_vectored(&mut self, mut bufs: &mut [IoSlice<'_>]) -> io::Result<()> {
        IoSlice::advance_slices(&mut bufs, 0);
        while !bufs.is_empty() {
            match self.0.write_vectored(bufs) {
                Ok(0) => return Err(write_zero()),
                Ok(n) => IoSlice::advance_slices(&mut bufs, n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    async fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

pub(crate) fn write_zero() -> io::Error {
    io::Error::new(io::ErrorKind::WriteZero, "the output accepts no more data")
}

/// Reads until `dst` is full or the input ends; returns how much was read.
pub(crate) fn read_full<R: Read>(r: &mut R, dst: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < dst.len() {
        match r.read(&mut dst[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// How much of a skip of `n` octets the next chunk covers, growing the
/// scratch buffer only as far as this skip needs.
pub(crate) fn scratch_chunk(scratch: &mut Vec<u8>, n: u64, done: u64) -> usize {
    let want = n.min(SCRATCH as u64) as usize;
    if scratch.len() < want {
        scratch.resize(want, 0);
    }
    (n - done).min(scratch.len() as u64) as usize
}

fn skip_by_reading<R: Read>(r: &mut R, n: u64, scratch: &mut Vec<u8>) -> io::Result<u64> {
    let mut done = 0u64;
    while done < n {
        let want = scratch_chunk(scratch, n, done);
        let got = read_full(r, &mut scratch[..want])?;
        done += got as u64;
        if got < want {
            break;
        }
    }
    Ok(done)
}

fn skip_by_seeking<R: Read + Seek>(r: &mut R, n: u64, scratch: &mut Vec<u8>) -> io::Result<u64> {
    if n < SEEK_MIN {
        return skip_by_reading(r, n, scratch);
    }
    let start = r.stream_position()?;
    // Land on the last skipped octet and read it: this proves the input
    // holds all `n` octets (a seek past the end succeeds silently).
    r.seek(SeekFrom::Current((n - 1) as i64))?;
    let mut last = [0u8; 1];
    if read_full(r, &mut last)? == 1 {
        return Ok(n);
    }
    let end = r.seek(SeekFrom::End(0))?;
    Ok(end.saturating_sub(start).min(n))
}

#[cfg(feature = "tokio")]
pub(crate) use self::tokio_io::{TokioIn, TokioOut};

#[cfg(feature = "tokio")]
mod tokio_io {
    use std::io::{self, IoSlice};

    use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

    use super::{scratch_chunk, write_zero, Input, Output};

    /// An input over `tokio::io::AsyncRead`, skipping by reading through.
    pub(crate) struct TokioIn<R>(pub(crate) R);

    impl<R: AsyncRead + Unpin> Input for TokioIn<R> {
        async fn fill(&mut self, dst: &mut [u8]) -> io::Result<usize> {
            let mut got = 0;
            while got < dst.len() {
                match self.0.read(&mut dst[got..]).await {
                    Ok(0) => break,
                    Ok(n) => got += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(got)
        }

        async fn skip(&mut self, n: u64, scratch: &mut Vec<u8>) -> io::Result<u64> {
            let mut done = 0u64;
            while done < n {
                let want = scratch_chunk(scratch, n, done);
                let got = self.fill(&mut scratch[..want]).await?;
                done += got as u64;
                if got < want {
                    break;
                }
            }
            Ok(done)
        }
    }

    /// An output over `tokio::io::AsyncWrite`.
    #[derive(Debug)]
    pub(crate) struct TokioOut<W>(pub(crate) W);

    impl<W: AsyncWrite + Unpin> Output for TokioOut<W> {
        async fn write_all_vectored(&mut self, mut bufs: &mut [IoSlice<'_>]) -> io::Result<()> {
            IoSlice::advance_slices(&mut bufs, 0);
            while !bufs.is_empty() {
                match self.0.write_vectored(bufs).await {
                    Ok(0) => return Err(write_zero()),
                    Ok(n) => IoSlice::advance_slices(&mut bufs, n),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        }

        async fn flush(&mut self) -> io::Result<()> {
            self.0.flush().await
        }
    }
}
