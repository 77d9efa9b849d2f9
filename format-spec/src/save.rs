//! A whole input, every layer: an `xl save` file, a bare libxl stream or a
//! bare libxc stream, read from any [`Read`] with one reader.
//!
//! [`SaveReader`] reads the outer layers with [`OuterReader`] and the libxc
//! stream with [`StreamReader`], and does the handover between them: it
//! opens the libxc reader where the libxl LIBXC_CONTEXT record hands the
//! stream over, pauses it at each CHECKPOINT of a checkpointed (Remus,
//! COLO) stream while the libxl layer reads the checkpoint's records
//! ([`StreamReader::suspend`]), resumes it at CHECKPOINT_END
//! ([`StreamReader::resume`]), and gives the input back to the libxl layer
//! after the libxc END. The caller sees one sequence of [`Event`]s, in the
//! order of the input, every offset absolute:
//!
//! * [`Event::Xl`], [`Event::LibxlHeader`]: the headers of the outer
//!   layers, as far as the input has them;
//! * [`Event::LibxlRecord`], [`Event::LibxlSkipped`]: each libxl record
//!   (LIBXC_CONTEXT, CHECKPOINT_END and END included);
//! * [`Event::LibxcHeaders`]: the libxc image and domain headers;
//! * [`Event::LibxcRecord`]: each libxc record header; read its body with
//!   [`SaveReader::read_body`], [`SaveReader::read_record`] or
//!   [`SaveReader::page_batch`] (PAGE_DATA), or leave it to be skipped;
//! * [`Event::LibxcResume`]: the libxc stream goes on with its next
//!   segment after a checkpoint's libxl records.
//!
//! Verification of a whole input, strict or lenient, is one call:
//! [`verify`] (any [`Read`], page contents read through) or
//! [`verify_seekable`] (page contents skipped with seeks). Every error of
//! every layer is an [`Error`], which keeps the layer's own error with its
//! kind, record, offset and field.
//!
//! Nothing here needs [`Seek`]; memory stays bounded by one record. Wrap
//! unbuffered inputs (files, pipes, sockets) in a [`std::io::BufReader`].
//!
//! ```
//! use format_spec::binrw::Endian;
//! use format_spec::domain_context::{self as dc, DcEntry, DcHeader};
//! use format_spec::libxc::{DomainType, LibxcRecord};
//! use format_spec::outer::OuterWriter;
//! use format_spec::save::{verify, Event, Options, SaveReader};
//! use format_spec::stream::{StreamWriter, WriterOptions};
//! use format_spec::xl::XlPreamble;
//! use format_spec::Mode;
//!
//! // An xl save file around a small version 4 HVM stream.
//! let mut w = OuterWriter::xl(Vec::new(), &XlPreamble::with_json_config(Endian::Little, "{}"))?;
//! w.libxc_context()?;
//! let mut s = StreamWriter::new(w.libxc(), WriterOptions::new(DomainType::X86Hvm))?;
//! s.write(&LibxcRecord::StaticDataEnd)?;
//! s.write_page_data(&[0x10], &[0xaa; 4096])?;
//! let mut blob = Vec::new();
//! dc::write(&[DcEntry::Header(DcHeader::new(4, 17)), DcEntry::End], Endian::Little, &mut blob)?;
//! s.write(&LibxcRecord::DomainContext(format_spec::body::Opaque(blob)))?;
//! s.finish()?;
//! w.libxc_finished(format_spec::outer::LibxcStop::End)?;
//! let file = w.finish()?;
//!
//! // Every layer's events, in order.
//! let mut r = SaveReader::new(&file[..], Options::default())?;
//! let mut pages = 0;
//! let mut names = Vec::new();
//! while let Some(ev) = r.next()? {
//!     match ev {
//!         Event::LibxcRecord(info) if info.rtype == LibxcRecord::PAGE_DATA => {
//!             pages += r.page_batch()?.pfns().len();
//!         }
//!         Event::LibxcRecord(info) => names.push(info.name().unwrap()),
//!         Event::LibxlRecord(rec) => names.push(rec.record.layout().spec_name),
//!         _ => {}
//!     }
//! }
//! assert_eq!(pages, 1);
//! assert_eq!(names, ["LIBXC_CONTEXT", "STATIC_DATA_END", "DOMAIN_CONTEXT", "END", "END"]);
//!
//! // Verification of the whole file is one call.
//! let report = verify(&file[..], Options::verify(Mode::Strict))?;
//! assert_eq!(report.libxc.as_ref().map(|r| r.data_pages), Some(1));
//! assert_eq!(report.libxl_records["LIBXC_CONTEXT"], 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::io::{self, Read, Seek, SeekFrom};

use crate::drive::now;
use crate::layout::Wire;
use crate::libxc::{DomainHeader, DomainType, ImageHeader, LibxcRecord};
use crate::libxl::{LibxlHeader, LibxlRecord};
use crate::outer::{
    Format, FormatChoice, LibxcStop, MigrationTrailer, OuterError, OuterEvent, OuterReader,
    OuterRecord, SkippedRecord,
};
use crate::stream::{
    ErrorKind, Failover, FailoverReason, FieldRef, Location, Mode, PageBatch, ReaderOptions,
    Record, RecordInfo, Report, StreamError, StreamReader, Suspended, Verifier, VerifyOptions,
};
use crate::xl::{XlGuestType, XlPreamble};

/// Why a whole input could not be read: the error of the layer that found
/// it, which keeps its own kind, record, offset and field.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The xl header or the libxl stream breaks a rule, or cannot be read.
    #[error(transparent)]
    Outer(#[from] OuterError),
    /// The libxc stream breaks a rule, or cannot be read.
    #[error(transparent)]
    Stream(#[from] StreamError),
    /// [`SaveReader::into_report`] was asked for a report, but nothing was
    /// verified: verification was off ([`Options::verify`]). (An input
    /// that holds no libxc stream at all is reported by
    /// [`SaveReport::libxc`] being `None`.)
    #[error("offset {offset}: no libxc stream was verified")]
    NoLibxcStream {
        /// Where the input ended.
        offset: u64,
    },
}

/// Which layer an [`Error`] comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// The xl header or the libxl stream ([`OuterError`]).
    Outer,
    /// The libxc stream ([`StreamError`]).
    Libxc,
}

impl Error {
    /// The stable name of the broken rule: [`OuterError::kind`] or
    /// [`StreamError::kind`]'s name (`NoLibxcStream` for the third case).
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Outer(e) => e.kind(),
            Error::Stream(e) => e.kind().as_str(),
            Error::NoLibxcStream { .. } => "NoLibxcStream",
        }
    }

    /// The layer the error comes from.
    pub fn layer(&self) -> Layer {
        match self {
            Error::Stream(_) => Layer::Libxc,
            Error::Outer(_) | Error::NoLibxcStream { .. } => Layer::Outer,
        }
    }

    /// The absolute offset in the input the error points at.
    pub fn offset(&self) -> u64 {
        match self {
            Error::Outer(e) => e.offset(),
            Error::Stream(e) => e.offset(),
            Error::NoLibxcStream { offset } => *offset,
        }
    }

    /// The libxc record the error concerns, for a libxc error inside a
    /// record.
    pub fn libxc_record(&self) -> Option<&RecordInfo> {
        match self {
            Error::Stream(e) => e.record(),
            _ => None,
        }
    }

    /// The libxl record index the error concerns, for an error inside a
    /// libxl record.
    pub fn libxl_record(&self) -> Option<u64> {
        match self {
            Error::Outer(e) => e.index(),
            _ => None,
        }
    }

    /// The libxc field the error concerns (struct, field, element).
    pub fn field(&self) -> Option<&FieldRef> {
        match self {
            Error::Stream(e) => e.location().field.as_deref(),
            _ => None,
        }
    }

    /// The name of the field the error concerns, in either layer.
    pub fn field_name(&self) -> Option<&'static str> {
        match self {
            Error::Outer(e) => e.field(),
            Error::Stream(e) => e.location().field.as_ref().map(|f| f.field),
            Error::NoLibxcStream { .. } => None,
        }
    }

    /// The libxc error's full location (offset, record, field).
    pub fn location(&self) -> Option<&Location> {
        match self {
            Error::Stream(e) => Some(e.location()),
            _ => None,
        }
    }

    /// True when reading the input failed (an I/O error, not a broken
    /// rule).
    pub fn is_io(&self) -> bool {
        matches!(self, Error::Outer(OuterError::Io { .. }))
            || matches!(self, Error::Stream(e) if e.kind() == ErrorKind::Io)
    }
}

/// How a [`SaveReader`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Options {
    /// What the input starts with ([`FormatChoice::Auto`]: detected from
    /// its first [`DETECT_SIZE`](crate::outer::DETECT_SIZE) octets).
    pub format: FormatChoice,
    /// Which rules every layer applies ([`Mode::Lenient`] by default).
    pub mode: Mode,
    /// Run the libxc verifier ([`Verifier`]) on every libxc record: the
    /// order and segment rules of the mode are checked across segments,
    /// and [`SaveReader::report`] fills in. The verifier reads each record
    /// itself, so the caller cannot read bodies (the events still come).
    pub verify: bool,
}

impl Options {
    /// Verification in `mode`, format detected.
    pub fn verify(mode: Mode) -> Self {
        Options {
            format: FormatChoice::Auto,
            mode,
            verify: true,
        }
    }

    /// Reading in `mode`, format detected, no verifier.
    pub fn mode(mode: Mode) -> Self {
        Options {
            mode,
            ..Options::default()
        }
    }

    /// The same options for an input of this format.
    pub fn format(mut self, format: FormatChoice) -> Self {
        self.format = format;
        self
    }
}

/// One thing [`SaveReader::next`] found, in input order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The xl header and its optional data (at offset 0).
    Xl(XlPreamble),
    /// The libxl stream header.
    LibxlHeader {
        /// Absolute offset of the header.
        offset: u64,
        /// The header.
        header: LibxlHeader,
    },
    /// A libxl record: emulator and checkpoint records, and the records
    /// that hand the stream to the libxc layer (LIBXC_CONTEXT,
    /// CHECKPOINT_END) or end it (END).
    LibxlRecord(OuterRecord),
    /// An unknown optional libxl record, skipped (no longer produced: the
    /// libxl layer refuses them, see [`OuterError::UnknownOptional`]).
    LibxlSkipped(SkippedRecord),
    /// The libxc stream starts: its image and domain headers were read.
    LibxcHeaders {
        /// Absolute offset of the image header.
        offset: u64,
        /// The image header.
        image: ImageHeader,
        /// The domain header.
        domain: DomainHeader,
    },
    /// The libxc stream goes on with its next segment, after the libxl
    /// records of a checkpoint (no headers there).
    LibxcResume {
        /// Absolute offset of the segment's first record.
        offset: u64,
        /// Absolute offset of the libxc stream's image header.
        stream_offset: u64,
        /// Index of the segment's first record (indices go on counting).
        next_index: u64,
        /// The segment's number (1 for the first segment).
        segment: u64,
    },
    /// A libxc record header was read; its body is read with
    /// [`SaveReader::read_body`], [`SaveReader::read_record`] or
    /// [`SaveReader::page_batch`], or skipped by the next
    /// [`SaveReader::next`]. CHECKPOINT records end a segment.
    LibxcRecord(RecordInfo),
}

/// The input as the libxc reader reads it: through the outer reader, which
/// keeps counting offsets.
#[derive(Debug)]
pub struct Nested<R>(OuterReader<R>);

impl<R: Read> Read for Nested<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.inner().read(buf)
    }
}

impl<R: Read + crate::drive::Pass> crate::drive::Pass for Nested<R> {
    fn pass(&mut self, n: u64) -> Option<crate::drive::Passed> {
        self.0.inner().pass(n)
    }
}

/// Seeking skips page contents; offsets stay those of the input.
impl<R: Read + Seek> Seek for Nested<R> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.0.inner().seek(pos)
    }
}

/// Opens the libxc reader (plain or seeking).
type OpenFn<R> = fn(Nested<R>, ReaderOptions) -> Result<StreamReader<Nested<R>>, StreamError>;
/// Resumes the libxc reader (plain or seeking).
type ResumeFn<R> = fn(Nested<R>, Suspended, u64) -> Result<StreamReader<Nested<R>>, StreamError>;

/// The two layer readers a [`SaveCore`] hands the input between, and how
/// they are driven: blocking ([`BlockingLayers`]) or async (in
/// [`crate::asynchronous`]). Only the I/O differs; the handover logic is
/// [`SaveCore`]'s, written once.
pub(crate) trait Layers {
    /// The outer layers' reader, holding the input.
    type Outer;
    /// The libxc reader, holding the outer one while it reads.
    type Libxc;
    async fn outer_next(o: &mut Self::Outer) -> Result<Option<OuterEvent>, OuterError>;
    fn outer_offset(o: &Self::Outer) -> u64;
    fn outer_trailer(o: &Self::Outer) -> Option<&MigrationTrailer>;
    fn outer_finished(o: &mut Self::Outer, stop: LibxcStop) -> Result<(), OuterError>;
    async fn open(&self, o: Self::Outer, opts: ReaderOptions) -> Result<Self::Libxc, StreamError>;
    fn resume(
        &self,
        o: Self::Outer,
        state: Suspended,
        offset: u64,
    ) -> Result<Self::Libxc, StreamError>;
    async fn suspend(l: Self::Libxc) -> Result<(Self::Outer, Suspended), StreamError>;
    /// Consumes what is left of END and gives the outer reader back.
    async fn end(l: Self::Libxc) -> Result<Self::Outer, StreamError>;
    async fn next_header(l: &mut Self::Libxc) -> Result<Option<RecordInfo>, StreamError>;
    async fn step(v: &mut Verifier, l: &mut Self::Libxc)
        -> Result<Option<RecordInfo>, StreamError>;
    fn position(l: &Self::Libxc) -> u64;
    fn headers(l: &Self::Libxc) -> (ImageHeader, DomainHeader);
    fn verifier(l: &Self::Libxc, opts: VerifyOptions) -> Verifier;
}

/// The blocking layers: [`OuterReader`] and [`StreamReader`] over
/// [`Nested`], plain or seeking.
pub(crate) struct BlockingLayers<R> {
    open: OpenFn<R>,
    resume: ResumeFn<R>,
}

impl<R: Read> Layers for BlockingLayers<R> {
    type Outer = OuterReader<R>;
    type Libxc = StreamReader<Nested<R>>;

    async fn outer_next(o: &mut Self::Outer) -> Result<Option<OuterEvent>, OuterError> {
        o.next()
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
        (self.open)(Nested(o), opts)
    }
    fn resume(
        &self,
        o: Self::Outer,
        state: Suspended,
        offset: u64,
    ) -> Result<Self::Libxc, StreamError> {
        (self.resume)(Nested(o), state, offset)
    }
    async fn suspend(l: Self::Libxc) -> Result<(Self::Outer, Suspended), StreamError> {
        l.suspend().map(|(n, s)| (n.0, s))
    }
    async fn end(mut l: Self::Libxc) -> Result<Self::Outer, StreamError> {
        l.next_header()?;
        Ok(l.into_inner().0)
    }
    async fn next_header(l: &mut Self::Libxc) -> Result<Option<RecordInfo>, StreamError> {
        l.next_header()
    }
    async fn step(
        v: &mut Verifier,
        l: &mut Self::Libxc,
    ) -> Result<Option<RecordInfo>, StreamError> {
        v.step(l)
    }
    fn position(l: &Self::Libxc) -> u64 {
        l.position()
    }
    fn headers(l: &Self::Libxc) -> (ImageHeader, DomainHeader) {
        (*l.image_header(), *l.domain_header())
    }
    fn verifier(l: &Self::Libxc, opts: VerifyOptions) -> Verifier {
        Verifier::new(l, opts)
    }
}

/// The guest a restore creates, as far as the libxl layer's rules need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Guest {
    /// Named by the xl configuration.
    Config(XlGuestType),
    /// Told by the libxc domain header only: x86 PV (`true`) or X86_HVM,
    /// which is HVM or PVH.
    Libxc(bool),
}

impl Guest {
    fn takes_emulator_records(self) -> bool {
        match self {
            Guest::Config(t) => t.takes_emulator_records(),
            Guest::Libxc(pv) => !pv,
        }
    }

    /// The guest, for [`OuterError::WrongGuestType`].
    fn describe(self) -> &'static str {
        match self {
            Guest::Config(XlGuestType::Pvh) => "a PVH guest (the xl configuration's c_info.type)",
            Guest::Config(XlGuestType::Pv) => {
                "an x86 PV guest (the xl configuration's c_info.type)"
            }
            Guest::Config(XlGuestType::Hvm) => "an HVM guest",
            Guest::Libxc(_) => "an x86 PV guest",
        }
    }
}

/// Which layer has the input.
pub(crate) enum Holder<O, L> {
    Outer(O),
    Libxc(L),
    /// An error lost the input at this offset.
    Lost(u64),
}

/// What the whole input held, once verified ([`verify`],
/// [`SaveReader::into_report`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaveReport {
    /// The layer the input starts with.
    pub format: Format,
    /// The libxc stream's report (all segments); `None` when the input
    /// holds no libxc stream: a libxl stream whose END comes with no
    /// LIBXC_CONTEXT before it, which libxl's reader takes (its
    /// `process_record` completes the stream at END) although nothing is
    /// restored. Lenient mode accepts it (a tool should warn: there is no
    /// guest); strict mode refuses it (`UnexpectedRecord`).
    pub libxc: Option<Report>,
    /// libxl records by spec name (none for a bare libxc stream).
    pub libxl_records: BTreeMap<&'static str, u64>,
    /// Unknown optional libxl records skipped.
    pub libxl_skipped: Vec<SkippedRecord>,
    /// Absolute offset just after the last octet read.
    pub end_offset: u64,
    /// xl's migration messages after the end of the stream, which strict
    /// mode recognises ([`OuterReader::migration_trailer`]).
    pub migration_trailer: Option<MigrationTrailer>,
}

/// Reads a whole input, every layer, forward only; see the
/// [module docs](self).
pub struct SaveReader<R> {
    core: SaveCore<BlockingLayers<R>, OuterReader<R>, StreamReader<Nested<R>>>,
}

/// The handover between the layers of a whole input, and what it counts:
/// written once, driven by [`SaveReader`] and by the async reader of
/// [`crate::asynchronous`].
/// `O` and `L` are `F`'s layer readers ([`Layers::Outer`],
/// [`Layers::Libxc`]), spelled out so that the blocking front end's type
/// needs no bound.
pub(crate) struct SaveCore<F, O, L> {
    pub(crate) layer: Holder<O, L>,
    format: Format,
    mode: Mode,
    verify: bool,
    xl: Option<XlPreamble>,
    libxl: Option<LibxlHeader>,
    pending: VecDeque<Event>,
    /// A handover returned as its libxl record; the libxc reader opens at
    /// the next call.
    handover: Option<(u64, bool)>,
    /// The libxc record just returned ends the libxc layer's turn.
    stop: Option<LibxcStop>,
    /// The paused libxc stream between segments.
    paused: Option<Suspended>,
    /// Absolute offset of the libxc image header.
    stream_offset: Option<u64>,
    segment: u64,
    verifier: Option<Verifier>,
    libxl_records: BTreeMap<&'static str, u64>,
    libxl_skipped: Vec<SkippedRecord>,
    /// CHECKPOINT records returned so far.
    checkpoints: u64,
    /// libxc records returned since the last CHECKPOINT (or the start).
    seg_records: u64,
    /// Absolute offset of the first of them.
    seg_start: u64,
    /// Without the verifier: how a checkpointed stream ended without END
    /// (at a checkpoint boundary).
    failover: Option<Failover>,
    /// Nothing more to read (the input ended at a checkpoint boundary).
    done: bool,
    /// Which guest libxl restores, once known: from the xl configuration
    /// (`c_info.type`) when there is one, else from the libxc domain
    /// header's type once read (which calls a PVH guest X86_HVM: without
    /// the configuration PVH cannot be told from HVM).
    guest: Option<Guest>,
    /// The first emulator record read before the guest type was known.
    early_emulator: Option<OuterError>,
    layers: F,
}

impl<R> std::fmt::Debug for SaveReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.core.debug("SaveReader", f)
    }
}

impl<F, O, L> SaveCore<F, O, L> {
    fn debug(&self, name: &str, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(name)
            .field("format", &self.format)
            .field("mode", &self.mode)
            .field("segment", &self.segment)
            .finish()
    }
}

impl<F: Layers<Outer = O, Libxc = L>, O, L> SaveCore<F, O, L> {
    /// Starts on an outer reader that has read the headers it could.
    pub(crate) fn new(
        outer: F::Outer,
        format: Format,
        xl: Option<XlPreamble>,
        libxl: Option<LibxlHeader>,
        opts: Options,
        layers: F,
    ) -> Self {
        let guest = xl
            .as_ref()
            .and_then(XlPreamble::guest_type)
            .map(Guest::Config);
        let mut pending = VecDeque::new();
        if let Some(pre) = &xl {
            pending.push_back(Event::Xl(pre.clone()));
        }
        if let Some(h) = &libxl {
            pending.push_back(Event::LibxlHeader {
                offset: F::outer_offset(&outer) - LibxlHeader::LAYOUT.size as u64,
                header: *h,
            });
        }
        SaveCore {
            format,
            xl,
            libxl,
            layer: Holder::Outer(outer),
            mode: opts.mode,
            verify: opts.verify,
            pending,
            handover: None,
            stop: None,
            paused: None,
            stream_offset: None,
            segment: 0,
            verifier: None,
            libxl_records: BTreeMap::new(),
            libxl_skipped: Vec::new(),
            checkpoints: 0,
            seg_records: 0,
            seg_start: 0,
            failover: None,
            done: false,
            guest,
            early_emulator: None,
            layers,
        }
    }

    /// How a checkpointed stream ended without END: the verifier's
    /// [`Report::failover`] when verifying, else a checkpoint boundary.
    pub(crate) fn failover(&self) -> Option<&Failover> {
        match &self.verifier {
            Some(v) => v.report().failover.as_ref(),
            None => self.failover.as_ref(),
        }
    }

    /// Without the verifier, lenient mode: the failover Xen's restore makes
    /// when the input of a checkpointed stream breaks off inside a segment
    /// after a CHECKPOINT (`e`, the error reading it, cut a header, a body
    /// or padding short, or announced an impossible length): it drops the
    /// buffered segment and restores the last checkpoint.
    pub(crate) fn failover_on(&self, e: &Error) -> Option<Failover> {
        let Error::Stream(e) = e else { return None };
        let framing = matches!(e.kind(), ErrorKind::Truncated | ErrorKind::RecordTooLong);
        if self.verifier.is_some()
            || self.mode != Mode::Lenient
            || !framing
            || self.checkpoints == 0
        {
            return None;
        }
        let at = if self.seg_records == 0 {
            e.offset()
        } else {
            self.seg_start
        };
        Some(Failover {
            checkpoints: self.checkpoints,
            dropped_segment: self.checkpoints,
            dropped_at: e.record().map_or(at, |r| at.min(r.offset)),
            dropped_records: self.seg_records,
            reason: FailoverReason::CutShort(crate::stream::Noted {
                kind: e.kind(),
                offset: e.offset(),
                message: e.to_string(),
            }),
        })
    }

    /// Without the verifier: whether the reader's error `e` (the next
    /// record header was to start at `before`) is the end of the input at
    /// a checkpoint boundary, right after a CHECKPOINT (and, nested, its
    /// libxl records), which Xen's restore takes as the end of a
    /// checkpointed stream in both modes.
    fn at_boundary(&mut self, e: &StreamError, before: u64) -> bool {
        let clean =
            e.kind() == ErrorKind::Truncated && e.offset() == before && e.record().is_none();
        if !(clean && self.checkpoints > 0 && self.seg_records == 0) {
            return false;
        }
        self.failover = Some(Failover {
            checkpoints: self.checkpoints,
            dropped_segment: self.checkpoints,
            dropped_at: before,
            dropped_records: 0,
            reason: FailoverReason::Boundary,
        });
        self.done = true;
        true
    }

    pub(crate) fn format(&self) -> Format {
        self.format
    }

    pub(crate) fn mode(&self) -> Mode {
        self.mode
    }

    pub(crate) fn xl_preamble(&self) -> Option<&XlPreamble> {
        self.xl.as_ref()
    }

    pub(crate) fn libxl_header(&self) -> Option<&LibxlHeader> {
        self.libxl.as_ref()
    }

    pub(crate) fn offset(&self) -> u64 {
        match &self.layer {
            Holder::Outer(o) => F::outer_offset(o),
            Holder::Libxc(s) => F::position(s),
            Holder::Lost(at) => *at,
        }
    }

    pub(crate) fn report(&self) -> Option<&Report> {
        self.verifier.as_ref().map(Verifier::report)
    }

    pub(crate) fn libxl_records(&self) -> &BTreeMap<&'static str, u64> {
        &self.libxl_records
    }

    /// The libxc reader, or a misuse error naming the offset.
    pub(crate) fn reader(&mut self) -> Result<&mut F::Libxc, Error> {
        let at = self.offset();
        match &mut self.layer {
            Holder::Libxc(s) => Ok(s),
            _ => Err(Error::Stream(StreamError::Misuse {
                at: Location::at(at),
                what: "no libxc record is being read".into(),
            })),
        }
    }

    pub(crate) fn into_report(self) -> Result<SaveReport, Error> {
        let end_offset = self.offset();
        if !self.verify {
            return Err(Error::NoLibxcStream { offset: end_offset });
        }
        let libxc = self.verifier.map(Verifier::into_report);
        let migration_trailer = match &self.layer {
            Holder::Outer(o) => F::outer_trailer(o).cloned(),
            _ => None,
        };
        Ok(SaveReport {
            format: self.format,
            libxc,
            libxl_records: self.libxl_records,
            libxl_skipped: self.libxl_skipped,
            end_offset,
            migration_trailer,
        })
    }

    /// See [`SaveReader::next`].
    pub(crate) async fn next(&mut self) -> Result<Option<Event>, Error> {
        loop {
            if let Some(ev) = self.pending.pop_front() {
                return Ok(Some(ev));
            }
            if self.done {
                return Ok(None);
            }
            if let Some(stop) = self.stop.take() {
                self.leave_libxc(stop).await?;
            }
            if let Some((offset, resume)) = self.handover.take() {
                return self.enter_libxc(offset, resume).await.map(Some);
            }
            match &mut self.layer {
                Holder::Lost(offset) => {
                    return Err(Error::Outer(OuterError::AfterError { offset: *offset }))
                }
                Holder::Outer(o) => {
                    let Some(ev) = F::outer_next(o).await? else {
                        return Ok(None);
                    };
                    match ev {
                        OuterEvent::Record(r) => return self.libxl(r).map(Some),
                        OuterEvent::End(Some(r)) => return self.libxl(r).map(Some),
                        OuterEvent::End(None) => {}
                        OuterEvent::Skipped(s) => {
                            self.libxl_skipped.push(s);
                            return Ok(Some(Event::LibxlSkipped(s)));
                        }
                        OuterEvent::Libxc(h) => {
                            self.handover = Some((h.offset, h.resume));
                            if let Some(r) = h.record {
                                return self.libxl(r).map(Some);
                            }
                        }
                    }
                }
                Holder::Libxc(s) => {
                    let before = F::position(s);
                    let info = match &mut self.verifier {
                        Some(v) => F::step(v, s).await?,
                        None => match F::next_header(s).await {
                            Ok(info) => info,
                            Err(e) if self.at_boundary(&e, before) => return Ok(None),
                            Err(e) => return Err(e.into()),
                        },
                    };
                    let Some(info) = info else {
                        if self
                            .verifier
                            .as_ref()
                            .is_some_and(|v| v.report().failover.is_some())
                        {
                            // A checkpointed stream ended at a checkpoint
                            // boundary, or (lenient) failed over as Xen's
                            // restore does: the input is over
                            // (`Report::failover` says how).
                            return Ok(None);
                        }
                        // END was returned already; its turn is over.
                        self.stop = Some(LibxcStop::End);
                        continue;
                    };
                    if info.rtype == LibxcRecord::CHECKPOINT {
                        self.checkpoints += 1;
                        self.seg_records = 0;
                    } else {
                        if self.seg_records == 0 {
                            self.seg_start = info.offset;
                        }
                        self.seg_records += 1;
                    }
                    let nested = self.libxl.is_some();
                    self.stop = match info.rtype {
                        LibxcRecord::END => Some(LibxcStop::End),
                        LibxcRecord::CHECKPOINT if nested => Some(LibxcStop::Checkpoint),
                        _ => None,
                    };
                    return Ok(Some(Event::LibxcRecord(info)));
                }
            }
        }
    }

    fn libxl(&mut self, r: OuterRecord) -> Result<Event, Error> {
        *self
            .libxl_records
            .entry(r.record.layout().spec_name)
            .or_insert(0) += 1;
        if matches!(
            r.record,
            LibxlRecord::EmulatorContext(_) | LibxlRecord::EmulatorXenstoreData(_)
        ) {
            // libxl's restore takes emulator records only for an HVM
            // guest (process_record in libxl_stream_read.c).
            let e = |guest: Guest| OuterError::WrongGuestType {
                index: r.index,
                offset: r.offset,
                record: r.record.layout().spec_name,
                guest: guest.describe(),
            };
            match self.guest {
                Some(g) if !g.takes_emulator_records() => {
                    self.layer = Holder::Lost(r.offset);
                    return Err(e(g).into());
                }
                Some(_) => {}
                None => {
                    self.early_emulator.get_or_insert(e(Guest::Libxc(true)));
                }
            }
        }
        Ok(Event::LibxlRecord(r))
    }

    /// Takes the input from whichever layer has it.
    fn take(&mut self, at: u64) -> Holder<O, L> {
        std::mem::replace(&mut self.layer, Holder::Lost(at))
    }

    /// Opens (or resumes) the libxc reader at `offset`.
    async fn enter_libxc(&mut self, offset: u64, resume: bool) -> Result<Event, Error> {
        let Holder::Outer(outer) = self.take(offset) else {
            return Err(misuse(offset, "the libxl layer does not have the input"));
        };
        let (reader, event) = match (resume, self.paused.take(), self.stream_offset) {
            (false, _, _) => {
                let opts = ReaderOptions {
                    mode: self.mode,
                    base_offset: offset,
                };
                let reader = self.layers.open(outer, opts).await?;
                self.stream_offset = Some(offset);
                self.segment = 1;
                let (image, domain) = F::headers(&reader);
                let pv = domain.domain_type() == Some(DomainType::X86Pv);
                let guest = *self.guest.get_or_insert(Guest::Libxc(pv));
                let early = self.early_emulator.take();
                if let Some(e) = early.filter(|_| !guest.takes_emulator_records()) {
                    // An emulator record before the libxc stream, in the
                    // stream of what turns out to be a PV guest.
                    self.layer = Holder::Lost(offset);
                    return Err(e.into());
                }
                let ev = Event::LibxcHeaders {
                    offset,
                    image,
                    domain,
                };
                (reader, ev)
            }
            (true, Some(state), Some(stream_offset)) => {
                let next_index = state.next_index();
                let reader = self.layers.resume(outer, state, offset)?;
                self.segment += 1;
                let ev = Event::LibxcResume {
                    offset,
                    stream_offset,
                    next_index,
                    segment: self.segment,
                };
                (reader, ev)
            }
            (true, _, _) => {
                // The outer reader only resumes after a checkpoint this
                // reader paused at.
                return Err(misuse(
                    offset,
                    "the libxc stream resumes, but no checkpoint paused it",
                ));
            }
        };
        if self.verify && self.verifier.is_none() {
            let opts = VerifyOptions {
                mode: self.mode,
                bare: self.libxl.is_none(),
                base_offset: offset,
                ..VerifyOptions::strict()
            };
            self.verifier = Some(F::verifier(&reader, opts));
        }
        self.layer = Holder::Libxc(reader);
        Ok(event)
    }

    /// Gives the input back to the libxl layer after the libxc END or a
    /// CHECKPOINT.
    async fn leave_libxc(&mut self, stop: LibxcStop) -> Result<(), Error> {
        let at = self.offset();
        let Holder::Libxc(reader) = self.take(at) else {
            return Err(misuse(at, "the libxc layer does not have the input"));
        };
        let mut outer = match stop {
            // Consumes what is left of END (a caller may not have read
            // its body); nothing is read after it.
            LibxcStop::End => F::end(reader).await?,
            LibxcStop::Checkpoint => {
                let (outer, state) = F::suspend(reader).await?;
                self.paused = Some(state);
                outer
            }
        };
        F::outer_finished(&mut outer, stop)?;
        self.layer = Holder::Outer(outer);
        Ok(())
    }
}

impl<R: Read> SaveReader<R> {
    /// Opens an input that is read through (a pipe, a socket): detects or
    /// checks its format and reads the xl and libxl headers it has.
    pub fn new(input: R, opts: Options) -> Result<Self, Error> {
        Self::start(
            input,
            opts,
            StreamReader::with_options,
            StreamReader::resume,
        )
    }

    fn start(input: R, opts: Options, open: OpenFn<R>, resume: ResumeFn<R>) -> Result<Self, Error> {
        let outer = OuterReader::open(input, opts.format, opts.mode)?;
        let format = outer.format();
        let xl = outer.xl_preamble().cloned();
        let libxl = outer.libxl_header().copied();
        let layers = BlockingLayers { open, resume };
        Ok(SaveReader {
            core: SaveCore::new(outer, format, xl, libxl, opts, layers),
        })
    }
}

impl<R: Read + Seek> SaveReader<R> {
    /// Opens an input that can seek (a file): like [`new`](Self::new),
    /// and page contents the caller does not read are skipped with seeks.
    pub fn seekable(input: R, opts: Options) -> Result<Self, Error> {
        Self::start(
            input,
            opts,
            StreamReader::seekable,
            StreamReader::resume_seekable,
        )
    }
}

impl<R: Read> SaveReader<R> {
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

    /// Whether the libxc stream is nested in a libxl stream (so its
    /// checkpoints hand the input to the libxl layer).
    pub fn nested(&self) -> bool {
        self.core.libxl_header().is_some()
    }

    /// Absolute offset of the next octet to read.
    pub fn offset(&self) -> u64 {
        self.core.offset()
    }

    /// The libxc reader, while the libxc layer has the input (after
    /// [`Event::LibxcHeaders`] or [`Event::LibxcResume`], up to the END or
    /// CHECKPOINT record that ends its turn): its headers, version, byte
    /// order, and every way of reading the current record.
    pub fn libxc(&mut self) -> Option<&mut StreamReader<Nested<R>>> {
        match &mut self.core.layer {
            Holder::Libxc(s) => Some(s),
            _ => None,
        }
    }

    /// Reads the body of the libxc record just returned.
    pub fn read_body(&mut self) -> Result<&[u8], Error> {
        Ok(self.core.reader()?.read_body()?)
    }

    /// Reads and parses the libxc record just returned.
    pub fn read_record(&mut self) -> Result<Record, Error> {
        Ok(self.core.reader()?.read_record()?)
    }

    /// The page batch of the PAGE_DATA record just returned.
    pub fn page_batch(&mut self) -> Result<PageBatch<'_, Nested<R>>, Error> {
        Ok(self.core.reader()?.page_batch()?)
    }

    /// The verifier's report so far (with [`Options::verify`], once the
    /// libxc stream has started).
    pub fn report(&self) -> Option<&Report> {
        self.core.report()
    }

    /// libxl records read so far, by spec name.
    pub fn libxl_records(&self) -> &BTreeMap<&'static str, u64> {
        self.core.libxl_records()
    }

    /// Without verification, in lenient mode: whether `e`, an error this
    /// reader (or the body or page reads of its current record) returned,
    /// is where a checkpointed stream breaks off inside a segment after a
    /// CHECKPOINT, which Xen's restore takes as a failover to the last
    /// checkpoint; the [`Failover`] says which segment it drops.
    pub fn failover_on(&self, e: &Error) -> Option<Failover> {
        self.core.failover_on(e)
    }

    /// How a checkpointed (Remus, COLO) stream ended without END, once
    /// [`next`](Self::next) has returned `Ok(None)`: at a checkpoint
    /// boundary (the input ends right after a CHECKPOINT and, in a libxl
    /// stream, the checkpoint's libxl records), which Xen's restore takes
    /// as the end of the stream, in both modes. With verification on, the
    /// verifier's [`Report::failover`], which in lenient mode also covers
    /// a segment cut short. `None` for a stream that ended with END.
    pub fn failover(&self) -> Option<&Failover> {
        self.core.failover()
    }

    /// The whole input's report ([`SaveReport::libxc`] is `None` when the
    /// input holds no libxc stream); [`Error::NoLibxcStream`] when
    /// verification was off.
    pub fn into_report(self) -> Result<SaveReport, Error> {
        self.core.into_report()
    }

    /// Reads on to the next event; `Ok(None)` after the last one.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Event>, Error> {
        now(self.core.next())
    }

    /// Reads every remaining event (the verifier, if on, checking each
    /// libxc record) and returns the whole input's report.
    pub fn run(mut self) -> Result<SaveReport, Error> {
        while self.next()?.is_some() {}
        self.into_report()
    }
}

fn misuse(offset: u64, what: &str) -> Error {
    Error::Stream(StreamError::Misuse {
        at: Location::at(offset),
        what: what.into(),
    })
}

/// Verifies a whole input read through (a pipe, a socket): every layer in
/// `opts.mode`, the libxc stream with every rule of the verifier.
/// `opts.verify` is implied.
pub fn verify<R: Read>(input: R, opts: Options) -> Result<SaveReport, Error> {
    let opts = Options {
        verify: true,
        ..opts
    };
    SaveReader::new(input, opts)?.run()
}

/// Like [`verify`], for an input that can seek: page contents are skipped
/// with seeks, which makes a file on disk much faster to verify.
pub fn verify_seekable<R: Read + Seek>(input: R, opts: Options) -> Result<SaveReport, Error> {
    let opts = Options {
        verify: true,
        ..opts
    };
    SaveReader::seekable(input, opts)?.run()
}
