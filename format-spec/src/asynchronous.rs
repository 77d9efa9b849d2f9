//! Async front ends over tokio (feature `tokio`): the same readers, writer
//! and verifiers as the blocking ones, over `tokio::io::AsyncRead` and
//! `AsyncWrite`.
//!
//! Nothing here frames a record or checks a rule: every type drives the
//! same core as its blocking twin (see the `drive` module), so the events,
//! the errors, their kinds and their offsets are the blocking ones, octet
//! for octet.
//!
//! | async | blocking twin |
//! |---|---|
//! | [`AsyncStreamReader`], [`AsyncPageBatch`] | [`StreamReader`], [`PageBatch`](crate::stream::PageBatch) |
//! | [`Verifier::step_async`], [`verify`] | [`Verifier::step`], [`stream::verify`](crate::stream::verify) |
//! | [`AsyncStreamWriter`] | [`StreamWriter`](crate::stream::StreamWriter) |
//! | [`AsyncSaveReader`], [`verify_save`] | [`SaveReader`](crate::save::SaveReader), [`save::verify`] |
//!
//! Page contents are read straight into caller buffers
//! ([`AsyncPageBatch::read_pages`]), with no allocation or copy per page.
//! The readers read exactly the stream's octets, so what follows (a libxl
//! stream after the libxc END, say) stays in the input. Wrap sockets in a
//! `tokio::io::BufReader`, as a blocking caller wraps them in a
//! `std::io::BufReader`.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use format_spec::asynchronous::{verify, AsyncStreamReader, AsyncStreamWriter};
//! use format_spec::libxc::{DomainType, LibxcRecord, PAGE_SIZE};
//! use format_spec::stream::{VerifyOptions, WriterOptions};
//!
//! let mut w = AsyncStreamWriter::new(Vec::new(), WriterOptions::new(DomainType::X86Hvm).version(3)).await?;
//! w.write(&LibxcRecord::StaticDataEnd).await?;
//! w.write_page_data(&[5, 6], &vec![7u8; 2 * PAGE_SIZE]).await?;
//! let bytes = w.finish().await?;
//!
//! let report = verify(&bytes[..], VerifyOptions::strict()).await?;
//! assert_eq!(report.data_pages, 2);
//!
//! let mut r = AsyncStreamReader::new(&bytes[..]).await?;
//! let mut page = vec![0u8; PAGE_SIZE];
//! while let Some(info) = r.next_header().await? {
//!     if info.rtype == LibxcRecord::PAGE_DATA {
//!         let mut batch = r.page_batch().await?;
//!         assert_eq!(batch.pfns(), [5, 6]);
//!         batch.read_pages(&mut page).await?;
//!         assert_eq!(page[0], 7);
//!     }
//! }
//! assert_eq!(r.position(), bytes.len() as u64);
//! # Ok::<(), format_spec::stream::StreamError>(())
//! # }).unwrap();
//! ```

use std::collections::BTreeMap;
use std::io;

use tokio::io::{AsyncRead, AsyncWrite};

use crate::drive::{Input, TokioIn, TokioOut};
use crate::libxc::{DomainHeader, ImageHeader, LibxcRecord};
use crate::libxl::LibxlHeader;
use crate::outer::{
    Format, LibxcStop, Lookahead, MigrationTrailer, OuterCore, OuterError, OuterEvent, SourceIo,
};
use crate::save::{self, Event, Layers, SaveCore, SaveReport};
#[cfg(doc)]
use crate::stream::StreamReader;
use crate::stream::{Core, WriterCore};
use crate::stream::{
    Mode, ReaderOptions, Record, RecordInfo, Report, StreamError, Suspended, Verifier,
    VerifyOptions, WriterOptions,
};
use crate::xl::XlPreamble;

/// Reads a libxc stream from any `tokio::io::AsyncRead`, forward only: the
/// async twin of [`StreamReader`], with the same methods, events, errors
/// and offsets.
pub struct AsyncStreamReader<R> {
    core: Core<TokioIn<R>>,
}

impl<R> std::fmt::Debug for AsyncStreamReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.core.debug("AsyncStreamReader", f)
    }
}

impl<R: AsyncRead + Unpin> AsyncStreamReader<R> {
    /// Reads and checks the image and domain headers, in lenient mode.
    pub async fn new(inner: R) -> Result<Self, StreamError> {
        Self::with_options(inner, ReaderOptions::default()).await
    }

    /// Reads and checks the image and domain headers.
    pub async fn with_options(inner: R, options: ReaderOptions) -> Result<Self, StreamError> {
        let core = Core::start(TokioIn(inner), options).await?;
        Ok(AsyncStreamReader { core })
    }

    /// Goes on with a stream paused by [`suspend`](Self::suspend) (or by
    /// [`StreamReader::suspend`]) at absolute `offset`; see
    /// [`StreamReader::resume`].
    pub fn resume(inner: R, state: Suspended, offset: u64) -> Result<Self, StreamError> {
        let core = Core::resume(TokioIn(inner), state, offset)?;
        Ok(AsyncStreamReader { core })
    }

    crate::stream::reader::core_accessors!();

    /// The input (see [`StreamReader::get_mut`]).
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.core.io.0
    }

    /// The input, giving up the reader.
    pub fn into_inner(self) -> R {
        self.core.io.0
    }

    /// Reads the next record header; see [`StreamReader::next_header`].
    pub async fn next_header(&mut self) -> Result<Option<RecordInfo>, StreamError> {
        self.core.next_header().await
    }

    /// Reads the whole body of the current record; see
    /// [`StreamReader::read_body`].
    pub async fn read_body(&mut self) -> Result<&[u8], StreamError> {
        self.core.read_body().await
    }

    /// Skips the rest of the current record.
    pub async fn skip_record(&mut self) -> Result<(), StreamError> {
        self.core.finish_current().await
    }

    /// Reads and parses the current record; see
    /// [`StreamReader::read_record`].
    pub async fn read_record(&mut self) -> Result<Record, StreamError> {
        self.core.read_record().await
    }

    /// Reads the next record, typed; see [`StreamReader::next_record`].
    pub async fn next_record(&mut self) -> Result<Option<(RecordInfo, Record)>, StreamError> {
        match self.next_header().await? {
            None => Ok(None),
            Some(info) => Ok(Some((info, self.read_record().await?))),
        }
    }

    /// Starts reading the current PAGE_DATA record; see
    /// [`StreamReader::page_batch`].
    pub async fn page_batch(&mut self) -> Result<AsyncPageBatch<'_, R>, StreamError> {
        let (info, res1, data_pages) = self.core.page_batch().await?;
        Ok(AsyncPageBatch {
            r: self,
            info,
            res1,
            data_pages,
        })
    }

    /// Pauses the stream after a CHECKPOINT record and gives the input
    /// back; see [`StreamReader::suspend`].
    pub async fn suspend(self) -> Result<(R, Suspended), StreamError> {
        let (io, state) = self.core.suspend().await?;
        Ok((io.0, state))
    }
}

/// The page contents of one PAGE_DATA record, still in the input: the
/// async twin of [`PageBatch`](crate::stream::PageBatch).
pub struct AsyncPageBatch<'a, R> {
    r: &'a mut AsyncStreamReader<R>,
    info: RecordInfo,
    res1: u32,
    data_pages: usize,
}

impl<R: AsyncRead + Unpin> AsyncPageBatch<'_, R> {
    /// The record.
    pub fn info(&self) -> RecordInfo {
        self.info
    }

    /// The pfn entries, in host byte order.
    pub fn pfns(&self) -> &[u64] {
        self.r.core.pfns()
    }

    /// The reserved `_res1` field (zero in a valid stream).
    pub fn res1(&self) -> u32 {
        self.res1
    }

    /// Number of pages with contents in the record.
    pub fn data_pages(&self) -> usize {
        self.data_pages
    }

    /// Number of page contents not consumed yet.
    pub fn pages_left(&self) -> usize {
        self.r.core.pages_left() as usize
    }

    /// Absolute offset of the next page's contents.
    pub fn position(&self) -> u64 {
        self.r.core.position()
    }

    /// Reads the contents of the next `dst.len() / PAGE_SIZE` pages with
    /// data into `dst`, straight from the input; see
    /// [`PageBatch::read_pages`](crate::stream::PageBatch::read_pages).
    pub async fn read_pages(&mut self, dst: &mut [u8]) -> Result<(), StreamError> {
        self.r.core.read_pages(self.info, dst).await
    }

    /// The pfn entries taken apart (frame number, page type).
    pub fn entries(&self) -> impl ExactSizeIterator<Item = crate::libxc::PfnEntry> + '_ {
        self.r
            .core
            .pfns()
            .iter()
            .map(|&e| crate::libxc::PfnEntry(e))
    }

    /// Skips the contents of the next `n` pages with data; see
    /// [`PageBatch::skip_pages`](crate::stream::PageBatch::skip_pages).
    pub async fn skip_pages(&mut self, n: usize) -> Result<(), StreamError> {
        self.r.core.skip_pages(self.info, n).await
    }

    /// Reads the remaining contents into the reader's reused buffer.
    pub async fn contents(&mut self) -> Result<(&[u64], &[u8]), StreamError> {
        self.r.core.contents(self.info).await
    }

    /// Skips the remaining page contents.
    pub async fn skip(&mut self) -> Result<(), StreamError> {
        self.r.core.finish_current().await
    }
}

impl Verifier {
    /// A verifier for the stream an async reader has opened; see
    /// [`Verifier::new`].
    pub fn for_async<R>(reader: &AsyncStreamReader<R>, opts: VerifyOptions) -> Self {
        Verifier::for_core(&reader.core, opts)
    }

    /// Verifies the next record read by an async reader; see
    /// [`Verifier::step`].
    pub async fn step_async<R: AsyncRead + Unpin>(
        &mut self,
        reader: &mut AsyncStreamReader<R>,
    ) -> Result<Option<RecordInfo>, StreamError> {
        self.step_core(&mut reader.core).await
    }

    /// Verifies every remaining record up to and including END.
    pub async fn run_async<R: AsyncRead + Unpin>(
        &mut self,
        reader: &mut AsyncStreamReader<R>,
    ) -> Result<(), StreamError> {
        while self.step_async(reader).await?.is_some() {}
        Ok(())
    }
}

/// Verifies a whole libxc stream from any `AsyncRead`: the async twin of
/// [`stream::verify`](crate::stream::verify).
pub async fn verify<R: AsyncRead + Unpin>(
    input: R,
    opts: VerifyOptions,
) -> Result<Report, StreamError> {
    let mut reader = AsyncStreamReader::with_options(input, opts.reader_options()).await?;
    let mut v = Verifier::for_async(&reader, opts);
    v.run_async(&mut reader).await?;
    Ok(v.into_report())
}

/// Writes a libxc stream to any `tokio::io::AsyncWrite`: the async twin of
/// [`StreamWriter`](crate::stream::StreamWriter), with the same checks.
#[derive(Debug)]
pub struct AsyncStreamWriter<W> {
    core: WriterCore<TokioOut<W>>,
}

impl<W: AsyncWrite + Unpin> AsyncStreamWriter<W> {
    /// Writes the image and domain headers.
    pub async fn new(inner: W, opts: WriterOptions) -> Result<Self, StreamError> {
        let core = WriterCore::new(TokioOut(inner), opts).await?;
        Ok(AsyncStreamWriter { core })
    }

    /// The options the writer was made with.
    pub fn options(&self) -> &WriterOptions {
        self.core.options()
    }

    /// Absolute offset of the next record.
    pub fn position(&self) -> u64 {
        self.core.position()
    }

    /// The output (see [`StreamWriter::get_mut`](crate::stream::StreamWriter::get_mut)).
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.core.get_mut().0
    }

    /// Writes one record of the table (not END).
    pub async fn write(&mut self, rec: &LibxcRecord) -> Result<RecordInfo, StreamError> {
        self.core.write(rec).await
    }

    /// Writes a PAGE_DATA record with one vectored write.
    pub async fn write_page_data(
        &mut self,
        pfns: &[u64],
        pages: &[u8],
    ) -> Result<RecordInfo, StreamError> {
        self.core.write_page_data(pfns, pages).await
    }

    /// Writes an unknown optional record.
    pub async fn write_optional(
        &mut self,
        rtype: u32,
        body: &[u8],
    ) -> Result<RecordInfo, StreamError> {
        self.core.write_optional(rtype, body).await
    }

    /// Writes a CHECKPOINT record, ending a segment.
    pub async fn checkpoint(&mut self) -> Result<RecordInfo, StreamError> {
        self.core.checkpoint().await
    }

    /// Where the next segment starts after another layer's octets; see
    /// [`StreamWriter::resume_at`](crate::stream::StreamWriter::resume_at).
    pub fn resume_at(&mut self, offset: u64) -> Result<(), StreamError> {
        self.core.resume_at(offset)
    }

    /// Octets other layers wrote between segments.
    pub fn interleaved(&self) -> u64 {
        self.core.interleaved()
    }

    /// Writes END, flushes and returns the output.
    pub async fn finish(self) -> Result<W, StreamError> {
        Ok(self.core.finish().await?.0)
    }
}

/// The async twin of [`outer::Source`](crate::outer::Source): counts the
/// octets read through it and takes back the look-ahead.
pub(crate) struct AsyncSource<R> {
    inner: TokioIn<R>,
    look: Lookahead,
}

impl<R: AsyncRead + Unpin> Input for AsyncSource<R> {
    async fn fill(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        let mut got = 0;
        if let Some(n) = self.look.take(dst) {
            got = n;
        }
        let n = self.inner.fill(&mut dst[got..]).await;
        // Count what arrived even when the input fails part way.
        let n = n?;
        self.look.count(n);
        Ok(got + n)
    }

    async fn skip(&mut self, n: u64, scratch: &mut Vec<u8>) -> io::Result<u64> {
        let mut done = 0u64;
        while done < n {
            let want = crate::drive::scratch_chunk(scratch, n, done);
            let got = self.fill(&mut scratch[..want]).await?;
            done += got as u64;
            if got < want {
                break;
            }
        }
        Ok(done)
    }
}

impl<R: AsyncRead + Unpin> SourceIo for AsyncSource<R> {
    fn offset(&self) -> u64 {
        self.look.offset()
    }

    fn unread(&mut self, octets: &[u8]) {
        self.look.unread(octets);
    }
}

/// The input as the async libxc reader of an [`AsyncSaveReader`] reads it:
/// through the outer layers' reader, which keeps counting offsets.
pub struct AsyncNested<R>(OuterCore<AsyncSource<R>>);

impl<R: AsyncRead + Unpin> AsyncRead for AsyncNested<R> {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        let src = &mut self.get_mut().0.src;
        let before = buf.filled().len();
        if let Some(n) = src.look.take(buf.initialize_unfilled()) {
            buf.advance(n);
            return std::task::Poll::Ready(Ok(()));
        }
        let res = std::pin::Pin::new(&mut src.inner.0).poll_read(cx, buf);
        if let std::task::Poll::Ready(Ok(())) = &res {
            src.look.count(buf.filled().len() - before);
        }
        res
    }
}

/// The async layers of an [`AsyncSaveReader`].
pub(crate) struct TokioLayers<R>(std::marker::PhantomData<fn() -> R>);

impl<R: AsyncRead + Unpin> Layers for TokioLayers<R> {
    type Outer = OuterCore<AsyncSource<R>>;
    type Libxc = AsyncStreamReader<AsyncNested<R>>;

    async fn outer_next(o: &mut Self::Outer) -> Result<Option<OuterEvent>, OuterError> {
        o.next().await
    }
    fn outer_offset(o: &Self::Outer) -> u64 {
        o.offset()
    }
    fn outer_trailer(o: &Self::Outer) -> Option<&MigrationTrailer> {
        o.migration_trailer()
    }
    fn outer_finished(o: &mut Self::Outer, stop: LibxcStop) -> Result<(), OuterError> {
        o.libxc_finished(stop)
    }
    async fn open(&self, o: Self::Outer, opts: ReaderOptions) -> Result<Self::Libxc, StreamError> {
        AsyncStreamReader::with_options(AsyncNested(o), opts).await
    }
    fn resume(
        &self,
        o: Self::Outer,
        state: Suspended,
        offset: u64,
    ) -> Result<Self::Libxc, StreamError> {
        AsyncStreamReader::resume(AsyncNested(o), state, offset)
    }
    async fn suspend(l: Self::Libxc) -> Result<(Self::Outer, Suspended), StreamError> {
        l.suspend().await.map(|(n, s)| (n.0, s))
    }
    async fn end(mut l: Self::Libxc) -> Result<Self::Outer, StreamError> {
        l.next_header().await?;
        Ok(l.into_inner().0)
    }
    async fn next_header(l: &mut Self::Libxc) -> Result<Option<RecordInfo>, StreamError> {
        l.next_header().await
    }
    async fn step(
        v: &mut Verifier,
        l: &mut Self::Libxc,
    ) -> Result<Option<RecordInfo>, StreamError> {
        v.step_async(l).await
    }
    fn position(l: &Self::Libxc) -> u64 {
        l.position()
    }
    fn headers(l: &Self::Libxc) -> (ImageHeader, DomainHeader) {
        (*l.image_header(), *l.domain_header())
    }
    fn verifier(l: &Self::Libxc, opts: VerifyOptions) -> Verifier {
        Verifier::for_async(l, opts)
    }
}

/// Reads a whole input (an `xl save` file, a libxl stream or a bare libxc
/// stream), every layer, from any `AsyncRead`: the async twin of
/// [`SaveReader`](crate::save::SaveReader), with the same events, errors
/// and offsets.
pub struct AsyncSaveReader<R> {
    core: SaveCore<TokioLayers<R>, OuterCore<AsyncSource<R>>, AsyncStreamReader<AsyncNested<R>>>,
}

impl<R: AsyncRead + Unpin> std::fmt::Debug for AsyncSaveReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncSaveReader")
            .field("format", &self.core.format())
            .field("offset", &self.core.offset())
            .finish()
    }
}

impl<R: AsyncRead + Unpin> AsyncSaveReader<R> {
    /// Opens an input: detects or checks its format and reads the xl and
    /// libxl headers it has.
    pub async fn new(input: R, opts: save::Options) -> Result<Self, save::Error> {
        let src = AsyncSource {
            inner: TokioIn(input),
            look: Lookahead::default(),
        };
        let outer = OuterCore::open(src, opts.format, opts.mode).await?;
        let format = outer.format();
        let xl = outer.xl_preamble().cloned();
        let libxl = outer.libxl_header().copied();
        let layers = TokioLayers(std::marker::PhantomData);
        Ok(AsyncSaveReader {
            core: SaveCore::new(outer, format, xl, libxl, opts, layers),
        })
    }

    /// The layer the input starts with.
    pub fn format(&self) -> Format {
        self.core.format()
    }

    /// The checking mode.
    pub fn mode(&self) -> Mode {
        self.core.mode()
    }

    /// The xl preamble, for an xl save file.
    pub fn xl_preamble(&self) -> Option<&XlPreamble> {
        self.core.xl_preamble()
    }

    /// The libxl header, unless the input is a bare libxc stream.
    pub fn libxl_header(&self) -> Option<&LibxlHeader> {
        self.core.libxl_header()
    }

    /// Absolute offset of the next octet to read.
    pub fn offset(&self) -> u64 {
        self.core.offset()
    }

    /// The libxc reader, while the libxc layer has the input; see
    /// [`SaveReader::libxc`](crate::save::SaveReader::libxc).
    pub fn libxc(&mut self) -> Option<&mut AsyncStreamReader<AsyncNested<R>>> {
        self.core.reader().ok()
    }

    /// Reads the body of the libxc record just returned.
    pub async fn read_body(&mut self) -> Result<&[u8], save::Error> {
        Ok(self.core.reader()?.read_body().await?)
    }

    /// Reads and parses the libxc record just returned.
    pub async fn read_record(&mut self) -> Result<Record, save::Error> {
        Ok(self.core.reader()?.read_record().await?)
    }

    /// The page batch of the PAGE_DATA record just returned.
    pub async fn page_batch(&mut self) -> Result<AsyncPageBatch<'_, AsyncNested<R>>, save::Error> {
        Ok(self.core.reader()?.page_batch().await?)
    }

    /// The verifier's report so far.
    pub fn report(&self) -> Option<&Report> {
        self.core.report()
    }

    /// libxl records read so far, by spec name.
    pub fn libxl_records(&self) -> &BTreeMap<&'static str, u64> {
        self.core.libxl_records()
    }

    /// How a checkpointed stream ended without END (see
    /// [`SaveReader::failover`](crate::save::SaveReader::failover)).
    pub fn failover(&self) -> Option<&crate::stream::Failover> {
        self.core.failover()
    }

    /// The whole input's report (see
    /// [`SaveReader::into_report`](crate::save::SaveReader::into_report)).
    pub fn into_report(self) -> Result<SaveReport, save::Error> {
        self.core.into_report()
    }

    /// Reads on to the next event; `Ok(None)` after the last one.
    pub async fn next(&mut self) -> Result<Option<Event>, save::Error> {
        self.core.next().await
    }

    /// Reads every remaining event and returns the whole input's report.
    pub async fn run(mut self) -> Result<SaveReport, save::Error> {
        while self.next().await?.is_some() {}
        self.into_report()
    }
}

/// Verifies a whole input from any `AsyncRead`: the async twin of
/// [`save::verify`]. `opts.verify` is implied.
pub async fn verify_save<R: AsyncRead + Unpin>(
    input: R,
    opts: save::Options,
) -> Result<SaveReport, save::Error> {
    let opts = save::Options {
        verify: true,
        ..opts
    };
    AsyncSaveReader::new(input, opts).await?.run().await
}
