//! The streaming reader: framing, headers and record bodies.
//!
//! Every framing rule is in [`Core`], which does no I/O of its own (see
//! [`crate::drive`]); [`StreamReader`] drives it with a blocking [`Read`],
//! the async reader of [`crate::asynchronous`] with tokio.

use std::io::{Read, Seek};

use binrw::Endian;

use super::check::{self, Rules};
use super::error::{FieldRef, Location, RecordInfo, StreamError};
use super::Mode;
use crate::bytes::{decode_u64s, u32_at};
use crate::drive::{now, Blocking, Input, Pass as PassThrough};
use crate::layout::Wire;
use crate::libxc::{
    page_type_counts, pages_with_data_counted, DomainHeader, DomainType, ImageHeader, LibxcRecord,
    PageData, PageDataError, PageDataHeader, RecordHeader, EARLY_RECORDS_XEN_HANDLES, ORDER_RULES,
    PAGE_DATA_COUNT_AT, PAGE_DATA_RES1_AT, PAGE_SIZE, PAGE_TYPE_CODES, PFN_ENTRY_SIZE,
    RECORD_HEADER_SIZE, REC_LENGTH_MAX, REC_TYPE_OPTIONAL, SUPPORTED_VERSIONS, ZERO_PADDING,
};

/// How a [`StreamReader`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReaderOptions {
    /// Which rules the reader applies while framing (see [`Mode`]).
    pub mode: Mode,
    /// Absolute offset of the stream's first octet in the input, added to
    /// every offset the reader reports (for a libxc stream embedded in a
    /// libxl stream or an `xl save` file).
    pub base_offset: u64,
}

/// A record as the reader returns it: typed when the type is known, raw
/// when it is an unknown optional record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// A record of the description's table.
    Known(LibxcRecord),
    /// An optional record (bit 31 set) that the table does not hold.
    Unknown {
        /// Its type code.
        rtype: u32,
        /// Its body, padding excluded.
        body: Vec<u8>,
    },
}

/// A body buffer grows by at least this much at a time.
const GROW_MIN: usize = 64 << 10;

/// Where the reader is within the current record.
#[derive(Debug, Clone, Copy)]
struct Current {
    info: RecordInfo,
    /// Body octets not consumed yet.
    body_left: u64,
    /// PAGE_DATA: pages whose contents are not consumed yet.
    pages_left: u64,
    /// The body (or PAGE_DATA's fixed part) has been handed out already.
    started: bool,
}

/// Reads a libxc stream from any [`Read`], forward only.
///
/// The reader reads exactly the stream's octets: it never reads ahead past
/// the record it is on, and stops right after the END record, so the input
/// can carry more data after the stream (a libxl stream does). It does no
/// buffering of its own beyond the current record: wrap unbuffered inputs
/// (files, pipes, sockets) in a [`std::io::BufReader`].
///
/// [`StreamReader::new`] reads and checks the image and domain headers.
/// Then [`StreamReader::next_header`] reads one record header at a time;
/// its body is consumed with one of [`read_body`](StreamReader::read_body),
/// [`read_record`](StreamReader::read_record),
/// [`page_batch`](StreamReader::page_batch) (PAGE_DATA) or
/// [`skip_record`](StreamReader::skip_record), or is skipped by the next
/// `next_header` call. [`StreamReader::next_record`] does both steps and
/// returns typed records.
///
/// A record body is read into a buffer the reader keeps and reuses; it
/// grows as octets arrive, so a header that announces a long body cannot
/// make the reader allocate more than the octets actually received
/// (and never more than [`REC_LENGTH_MAX`]).
///
/// ```
/// use format_spec::libxc::{DomainType, LibxcRecord, X86TscInfo};
/// use format_spec::stream::{Record, StreamReader, StreamWriter, WriterOptions};
///
/// // A small version 4 HVM stream, written with the writer.
/// let mut w = StreamWriter::new(Vec::new(), WriterOptions::new(DomainType::X86Hvm))?;
/// w.write(&LibxcRecord::StaticDataEnd)?;
/// w.write_page_data(&[0x1000], &[0u8; 4096])?;
/// w.write(&LibxcRecord::DomainContext(format_spec::body::Opaque(vec![1; 16])))?;
/// let bytes = w.finish()?;
///
/// let mut r = StreamReader::new(&bytes[..])?;
/// assert_eq!(r.version(), 4);
/// let mut codes = Vec::new();
/// while let Some((info, rec)) = r.next_record()? {
///     codes.push(info.rtype);
///     assert!(matches!(rec, Record::Known(_)));
/// }
/// assert_eq!(codes, [LibxcRecord::STATIC_DATA_END, LibxcRecord::PAGE_DATA,
///                    LibxcRecord::DOMAIN_CONTEXT, LibxcRecord::END]);
/// assert_eq!(r.position(), bytes.len() as u64);
/// # Ok::<(), format_spec::stream::StreamError>(())
/// ```
pub struct StreamReader<R> {
    pub(crate) core: Core<Blocking<R>>,
}

/// The framing of a libxc stream: the reader's state and every rule it
/// applies, with the input `I` it asks for octets (see [`crate::drive`]).
pub(crate) struct Core<I> {
    pub(crate) io: I,
    mode: Mode,
    pos: u64,
    ihdr: ImageHeader,
    dhdr: DomainHeader,
    domain: DomainType,
    endian: Endian,
    next_index: u64,
    cur: Option<Current>,
    ended: bool,
    /// The last record header read was a CHECKPOINT (the reader can be
    /// suspended once it is consumed).
    at_checkpoint: bool,
    /// An error left the input mid-record: every further call fails.
    broken: bool,
    buf: Vec<u8>,
    pfns: Vec<u64>,
    /// Entries of `pfns` by page type code (see
    /// [`page_type_counts`]).
    type_counts: [u64; PAGE_TYPE_CODES],
    scratch: Vec<u8>,
}

impl<R> std::fmt::Debug for StreamReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.core.debug("StreamReader", f)
    }
}

/// Refuses to go on with a paused stream at `offset`, before `end`, where
/// the stream's own octets so far end; `before` says what ends there.
pub(crate) fn check_resume(
    offset: u64,
    end: u64,
    before: impl FnOnce() -> String,
) -> Result<(), StreamError> {
    if offset < end {
        return Err(StreamError::Misuse {
            at: Location::at(offset),
            what: format!("resume at offset {offset}, before {}", before()),
        });
    }
    Ok(())
}

fn header_field(
    layout: &'static crate::layout::StructLayout,
    f: &'static crate::layout::FieldLayout,
) -> (u64, FieldRef) {
    (
        f.offset as u64,
        FieldRef {
            structure: layout.rust_name,
            array: None,
            field: f.name,
            element: None,
        },
    )
}

impl<I> Core<I> {
    pub(crate) fn debug(&self, name: &str, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(name)
            .field("position", &self.pos)
            .field("version", &self.ihdr.version)
            .field("domain", &self.domain)
            .field("next_index", &self.next_index)
            .field("ended", &self.ended)
            .finish()
    }

    pub(crate) fn image_header(&self) -> &ImageHeader {
        &self.ihdr
    }

    pub(crate) fn domain_header(&self) -> &DomainHeader {
        &self.dhdr
    }

    pub(crate) fn endian(&self) -> Endian {
        self.endian
    }

    pub(crate) fn domain_type(&self) -> DomainType {
        self.domain
    }

    pub(crate) fn mode(&self) -> Mode {
        self.mode
    }

    pub(crate) fn position(&self) -> u64 {
        self.pos
    }

    pub(crate) fn next_index(&self) -> u64 {
        self.next_index
    }

    pub(crate) fn is_ended(&self) -> bool {
        self.ended
    }

    pub(crate) fn current(&self) -> Option<RecordInfo> {
        self.cur.map(|c| c.info)
    }

    /// How many pfn entries of the PAGE_DATA record being read have each
    /// page type (indexed by the type's 4-bit code, valid or not).
    pub(crate) fn type_counts(&self) -> &[u64; PAGE_TYPE_CODES] {
        &self.type_counts
    }

    /// The pfn entries of the PAGE_DATA record being read.
    pub(crate) fn pfns(&self) -> &[u64] {
        &self.pfns
    }

    /// The input failed: the reader refuses further calls, and the error
    /// says where.
    fn io_err(&mut self, e: std::io::Error, record: Option<RecordInfo>) -> StreamError {
        self.broken = true;
        StreamError::Io {
            at: Location {
                offset: self.pos,
                record,
                field: None,
            },
            source: e,
        }
    }

    /// The input ended `missing` octets short of `what`: the reader refuses
    /// further calls, and the error says where.
    fn truncated(
        &mut self,
        what: &'static str,
        record: Option<RecordInfo>,
        missing: u64,
    ) -> StreamError {
        self.broken = true;
        StreamError::Truncated {
            at: Location {
                offset: self.pos,
                record,
                field: None,
            },
            what,
            missing,
        }
    }

    fn check_broken(&self) -> Result<(), StreamError> {
        if self.broken {
            return Err(StreamError::Misuse {
                at: Location::at(self.pos),
                what: "an earlier error (truncated input, I/O error or over-long record) \
                       left the reader inside a record; it cannot go on"
                    .into(),
            });
        }
        Ok(())
    }

    fn fresh(&mut self, want_page_data: Option<bool>) -> Result<RecordInfo, StreamError> {
        self.check_broken()?;
        let misuse = |what: &str, at: u64| StreamError::Misuse {
            at: Location::at(at),
            what: what.to_string(),
        };
        let Some(cur) = self.cur.as_mut() else {
            return Err(misuse(
                "no record is open: call next_header first",
                self.pos,
            ));
        };
        if cur.started {
            return Err(misuse(
                "the body of this record has already been read",
                self.pos,
            ));
        }
        let is_pd = cur.info.rtype == LibxcRecord::PAGE_DATA;
        if want_page_data == Some(true) && !is_pd {
            return Err(misuse("page_batch is only for PAGE_DATA records", self.pos));
        }
        cur.started = true;
        Ok(cur.info)
    }

    fn set_body_left(&mut self, n: u64) {
        if let Some(c) = self.cur.as_mut() {
            c.body_left = n;
        }
    }

    pub(crate) fn pages_left(&self) -> u64 {
        self.cur.map_or(0, |c| c.pages_left)
    }

    /// Refuses `call(n)` on a broken reader, or when the record has fewer
    /// than `n` pages of contents left.
    fn check_pages_left(&self, info: RecordInfo, call: &str, n: usize) -> Result<(), StreamError> {
        self.check_broken()?;
        if n as u64 > self.pages_left() {
            return Err(StreamError::Misuse {
                at: Location::in_record(info, self.pos),
                what: format!("{call}({n}), but only {} pages are left", self.pages_left()),
            });
        }
        Ok(())
    }

    /// Counts `n` pages of contents as consumed from the input; true when
    /// they were the record's last (what is left is then its padding).
    fn took_pages(&mut self, n: u64) -> bool {
        if let Some(c) = self.cur.as_mut() {
            c.pages_left -= n;
            c.body_left -= n * PAGE_SIZE as u64;
        }
        self.pages_left() == 0
    }

    /// The state a checkpoint pause keeps, and the input.
    fn into_suspended(self) -> (I, Suspended) {
        let state = Suspended {
            mode: self.mode,
            pos: self.pos,
            ihdr: self.ihdr,
            dhdr: self.dhdr,
            domain: self.domain,
            endian: self.endian,
            next_index: self.next_index,
            buf: self.buf,
            pfns: self.pfns,
            scratch: self.scratch,
        };
        (self.io, state)
    }

    /// Goes on with a paused stream at absolute `offset` (no I/O).
    pub(crate) fn resume(io: I, state: Suspended, offset: u64) -> Result<Self, StreamError> {
        check_resume(offset, state.pos, || {
            format!(
                "the CHECKPOINT the stream paused after (it ends at {})",
                state.pos
            )
        })?;
        Ok(Core {
            io,
            mode: state.mode,
            pos: offset,
            ihdr: state.ihdr,
            dhdr: state.dhdr,
            domain: state.domain,
            endian: state.endian,
            next_index: state.next_index,
            cur: None,
            ended: false,
            at_checkpoint: false,
            broken: false,
            buf: state.buf,
            pfns: state.pfns,
            type_counts: [0; PAGE_TYPE_CODES],
            scratch: state.scratch,
        })
    }
}

impl<I: Input> Core<I> {
    /// Reads and checks the image and domain headers.
    pub(crate) async fn start(io: I, options: ReaderOptions) -> Result<Self, StreamError> {
        let mut r = Core {
            io,
            mode: options.mode,
            pos: options.base_offset,
            // Placeholders until `read_headers` has read them.
            ihdr: ImageHeader::new(SUPPORTED_VERSIONS[0], Endian::Little),
            dhdr: DomainHeader {
                r#type: 0,
                page_shift: 0,
                _res1: 0,
                xen_major: 0,
                xen_minor: 0,
            },
            domain: DomainType::X86Hvm,
            endian: Endian::Little,
            next_index: 0,
            cur: None,
            ended: false,
            at_checkpoint: false,
            broken: false,
            buf: Vec::new(),
            pfns: Vec::new(),
            type_counts: [0; PAGE_TYPE_CODES],
            scratch: Vec::new(),
        };
        r.read_headers().await?;
        Ok(r)
    }

    async fn read_headers(&mut self) -> Result<(), StreamError> {
        let base = self.pos;
        let il = &ImageHeader::LAYOUT;
        let mut ih = [0u8; 64];
        let ih = &mut ih[..il.size];
        self.fill(ih, "image header", None).await?;
        let ihdr: ImageHeader =
            crate::body::read_wire(ih, Endian::Big).map_err(|e| StreamError::Misuse {
                at: Location::at(base),
                what: format!("image header: {e}"),
            })?;
        // The header checks are the fields' annotations, in field order:
        // each value rule with the KIND it reports (`#[wire(equals =
        // IHDR_MARKER, error = "BadMarker")]`), and the reserved rules
        // this mode checks (`#[wire(lenient)]`).
        check::walk(il, ih, base, Endian::Big, None, Rules::All(self.mode))?;
        let endian = ihdr.endian();

        let dbase = self.pos;
        let dl = &DomainHeader::LAYOUT;
        let mut dh = [0u8; 64];
        let dh = &mut dh[..dl.size];
        self.fill(dh, "domain header", None).await?;
        let dhdr: DomainHeader =
            crate::body::read_wire(dh, endian).map_err(|e| StreamError::Misuse {
                at: Location::at(dbase),
                what: format!("domain header: {e}"),
            })?;
        check::walk(dl, dh, dbase, endian, None, Rules::All(self.mode))?;
        let Some(domain) = dhdr.domain_type() else {
            // The walk above refuses any other type.
            const TYPE: &crate::layout::FieldLayout =
                crate::layout::field_of(&DomainHeader::LAYOUT, "type");
            let (off, f) = header_field(dl, TYPE);
            let at = Location::field(None, dbase + off, f);
            return Err(check::value_error(
                TYPE.error,
                at,
                u64::from(dhdr.r#type),
                String::new(),
            ));
        };
        self.ihdr = ihdr;
        self.dhdr = dhdr;
        self.domain = domain;
        self.endian = endian;
        Ok(())
    }

    /// Fills `dst` from the input or reports where it ended.
    async fn fill(
        &mut self,
        dst: &mut [u8],
        what: &'static str,
        record: Option<RecordInfo>,
    ) -> Result<(), StreamError> {
        let got = match self.io.fill(dst).await {
            Ok(got) => got,
            Err(e) => return Err(self.io_err(e, record)),
        };
        self.pos += got as u64;
        if got < dst.len() {
            return Err(self.truncated(what, record, (dst.len() - got) as u64));
        }
        Ok(())
    }

    /// Reads `n` octets into the start of `self.buf`, growing it only as
    /// octets arrive.
    async fn fill_buf(
        &mut self,
        n: usize,
        what: &'static str,
        record: Option<RecordInfo>,
    ) -> Result<(), StreamError> {
        let mut filled = 0;
        while filled < n {
            let target = n.min(filled.saturating_mul(2).max(GROW_MIN));
            if self.buf.len() < target {
                // Exactly what is needed: no doubling past the record.
                self.buf.reserve_exact(target - self.buf.len());
                self.buf.resize(target, 0);
            }
            let got = match self.io.fill(&mut self.buf[filled..target]).await {
                Ok(got) => got,
                Err(e) => return Err(self.io_err(e, record)),
            };
            self.pos += got as u64;
            filled += got;
            if filled < target {
                return Err(self.truncated(what, record, (n - filled) as u64));
            }
        }
        Ok(())
    }

    async fn skip_input(
        &mut self,
        n: u64,
        what: &'static str,
        record: Option<RecordInfo>,
    ) -> Result<(), StreamError> {
        if n == 0 {
            return Ok(());
        }
        let got = match self.io.skip(n, &mut self.scratch).await {
            Ok(got) => got,
            Err(e) => return Err(self.io_err(e, record)),
        };
        self.pos += got;
        if got < n {
            return Err(self.truncated(what, record, n - got));
        }
        Ok(())
    }

    /// Consumes what is left of the current record: body, then padding
    /// (checked in strict mode).
    pub(crate) async fn finish_current(&mut self) -> Result<(), StreamError> {
        self.check_broken()?;
        let Some(cur) = self.cur else {
            return Ok(());
        };
        self.skip_input(cur.body_left, "record body", Some(cur.info))
            .await?;
        if let Some(c) = self.cur.as_mut() {
            c.body_left = 0;
            c.pages_left = 0;
        }
        let pad = cur.info.padding() as usize;
        let mut p = ZERO_PADDING;
        let start = self.pos;
        self.fill(&mut p[..pad], "record padding", Some(cur.info))
            .await?;
        self.cur = None;
        if self.mode == Mode::Strict {
            if let Some(i) = p[..pad].iter().position(|b| *b != 0) {
                return Err(StreamError::PaddingNonZero {
                    at: Location::in_record(cur.info, start + i as u64),
                    value: p[i],
                });
            }
        }
        Ok(())
    }

    /// See [`StreamReader::next_header`].
    pub(crate) async fn next_header(&mut self) -> Result<Option<RecordInfo>, StreamError> {
        self.finish_current().await?;
        if self.ended {
            return Ok(None);
        }
        let offset = self.pos;
        let mut h = [0u8; RECORD_HEADER_SIZE];
        let what = if self.next_index == 0 {
            "record header (the stream has no records)"
        } else {
            "record header (no END record yet)"
        };
        self.fill(&mut h, what, None).await?;
        let (rtype, length) = RecordHeader::fields_of(&h, self.endian);
        let info = RecordInfo {
            index: self.next_index,
            offset,
            rtype,
            length,
        };
        self.next_index += 1;
        self.at_checkpoint = info.rtype == LibxcRecord::CHECKPOINT;
        let at = Location::record(info);
        if info.length > REC_LENGTH_MAX {
            self.broken = true;
            return Err(StreamError::RecordTooLong {
                at,
                length: info.length,
                max: REC_LENGTH_MAX,
            });
        }
        // From here on the record can be skipped whatever its type.
        self.cur = Some(Current {
            info,
            body_left: u64::from(info.length),
            pages_left: 0,
            started: false,
        });
        match LibxcRecord::LAYOUT.by_code(info.rtype) {
            None if info.rtype & REC_TYPE_OPTIONAL == 0 => {
                return Err(StreamError::UnknownMandatory { at });
            }
            None => {}
            Some(l) => {
                let xen_takes_it =
                    self.mode == Mode::Lenient && EARLY_RECORDS_XEN_HANDLES.contains(&info.rtype);
                if l.since > self.ihdr.version && !xen_takes_it {
                    return Err(StreamError::RecordTooNew {
                        at,
                        since: l.since,
                        version: self.ihdr.version,
                    });
                }
                // Rule `no-toolstack` (`rules::TOOLSTACK_REFUSED`).
                if l.deprecated == Some(0) {
                    return Err(StreamError::DeprecatedRecord { at });
                }
                if super::rules::back_channel_only(ORDER_RULES, info.rtype) {
                    return Err(StreamError::BackChannelRecord { at });
                }
            }
        }
        if info.rtype == LibxcRecord::END {
            self.ended = true;
        }
        Ok(Some(info))
    }

    /// See [`StreamReader::read_body`].
    pub(crate) async fn read_body(&mut self) -> Result<&[u8], StreamError> {
        let info = self.fresh(None)?;
        let n = info.length as usize;
        self.fill_buf(n, "record body", Some(info)).await?;
        if let Some(c) = self.cur.as_mut() {
            c.body_left = 0;
        }
        self.finish_current().await?;
        Ok(&self.buf[..n])
    }

    /// Hands out the body [`read_body`](Self::read_body) has just read
    /// (`n` octets) as an owned buffer, without copying it; the reader
    /// starts a new buffer for the next record.
    pub(crate) fn take_body(&mut self, n: usize) -> Vec<u8> {
        let mut body = std::mem::take(&mut self.buf);
        body.truncate(n);
        body
    }

    /// See [`StreamReader::read_record`].
    pub(crate) async fn read_record(&mut self) -> Result<Record, StreamError> {
        let info = self.current().ok_or_else(|| StreamError::Misuse {
            at: Location::at(self.pos),
            what: "no record is open: call next_header first".into(),
        })?;
        if info.rtype == LibxcRecord::PAGE_DATA {
            let (_, res1, _) = self.page_batch().await?;
            let count = self.pfns.len() as u32;
            let (pfns, pages) = self.contents(info).await?;
            let pd = PageData {
                header: PageDataHeader {
                    count,
                    _res1: res1,
                    pfn: pfns.to_vec(),
                },
                pages: pages.to_vec(),
            };
            if self.mode == Mode::Strict {
                check::check_page_reserved(info, res1, &pd.header.pfn)?;
            }
            return Ok(Record::Known(LibxcRecord::PageData(pd)));
        }
        let endian = self.endian;
        let mode = self.mode;
        let body = self.read_body().await?;
        if LibxcRecord::LAYOUT.by_code(info.rtype).is_none() {
            return Ok(Record::Unknown {
                rtype: info.rtype,
                body: body.to_vec(),
            });
        }
        let rec = check::body(info, body, endian, mode)?;
        Ok(Record::Known(rec))
    }

    /// See [`StreamReader::page_batch`]: the record, its `_res1` field and
    /// its number of pages with data; the pfn entries are in
    /// [`pfns`](Self::pfns).
    pub(crate) async fn page_batch(&mut self) -> Result<(RecordInfo, u32, usize), StreamError> {
        let info = self.fresh(Some(true))?;
        let len = u64::from(info.length);
        const FIXED: usize = PageDataHeader::LAYOUT.size;
        // The fixed part is read when the body holds it; the framing says
        // what is wrong when it does not.
        let mut h = [0u8; FIXED];
        if len >= FIXED as u64 {
            self.fill(&mut h, "PAGE_DATA header", Some(info)).await?;
            self.set_body_left(len - FIXED as u64);
        }
        let count = u32_at(&h, PAGE_DATA_COUNT_AT, self.endian).unwrap_or(0);
        let res1 = u32_at(&h, PAGE_DATA_RES1_AT, self.endian).unwrap_or(0);
        let count = match PageData::check_count(count, len) {
            Ok(count) => count,
            Err(e) => return Err(self.bad_page_data(info, e).await),
        };
        let n = count * PFN_ENTRY_SIZE;
        self.fill_buf(n, "PAGE_DATA pfn entries", Some(info))
            .await?;
        self.set_body_left(len - (FIXED + n) as u64);
        self.pfns.clear();
        self.pfns.resize(count, 0);
        decode_u64s(&self.buf[..n], self.endian, &mut self.pfns);
        self.type_counts = page_type_counts(&self.pfns);
        let framed = pages_with_data_counted(&self.pfns, &self.type_counts).and_then(|with_data| {
            PageData::check_length(count, with_data, len).map(|()| with_data)
        });
        let with_data = match framed {
            Ok(with_data) => with_data,
            Err(e) => return Err(self.bad_page_data(info, e).await),
        };
        if let Some(c) = self.cur.as_mut() {
            c.pages_left = with_data as u64;
        }
        Ok((info, res1, with_data))
    }

    /// Consumes the rest of a PAGE_DATA record whose framing is wrong (so
    /// that a truncated record reports `Truncated`), then says what is
    /// wrong with it.
    async fn bad_page_data(&mut self, info: RecordInfo, e: PageDataError) -> StreamError {
        match self.finish_current().await {
            Ok(()) => check::page_data_error(info, e),
            Err(cut) => cut,
        }
    }

    /// See [`PageBatch::read_pages`]: the contents land in `dst`, read
    /// straight from the input.
    pub(crate) async fn read_pages(
        &mut self,
        info: RecordInfo,
        dst: &mut [u8],
    ) -> Result<(), StreamError> {
        self.check_broken()?;
        let n = (dst.len() / PAGE_SIZE) as u64;
        if !dst.len().is_multiple_of(PAGE_SIZE) || n > self.pages_left() {
            return Err(StreamError::Misuse {
                at: Location::in_record(info, self.pos),
                what: format!(
                    "read_pages wants a whole number of pages, at most {} ({} octets given)",
                    self.pages_left(),
                    dst.len()
                ),
            });
        }
        self.fill(dst, "page contents", Some(info)).await?;
        if self.took_pages(n) {
            self.finish_current().await?;
        }
        Ok(())
    }

    /// See [`PageBatch::skip_pages`].
    pub(crate) async fn skip_pages(
        &mut self,
        info: RecordInfo,
        n: usize,
    ) -> Result<(), StreamError> {
        self.check_pages_left(info, "skip_pages", n)?;
        let octets = (n * PAGE_SIZE) as u64;
        self.skip_input(octets, "page contents", Some(info)).await?;
        if self.took_pages(n as u64) {
            self.finish_current().await?;
        }
        Ok(())
    }

    /// See [`PageBatch::contents`].
    pub(crate) async fn contents(
        &mut self,
        info: RecordInfo,
    ) -> Result<(&[u64], &[u8]), StreamError> {
        self.check_broken()?;
        let n = self.pages_left() as usize * PAGE_SIZE;
        self.fill_buf(n, "page contents", Some(info)).await?;
        self.set_body_left(0);
        if let Some(c) = self.cur.as_mut() {
            c.pages_left = 0;
        }
        self.finish_current().await?;
        Ok((&self.pfns, &self.buf[..n]))
    }

    /// See [`StreamReader::suspend`].
    pub(crate) async fn suspend(mut self) -> Result<(I, Suspended), StreamError> {
        self.check_broken()?;
        if self.ended || !self.at_checkpoint {
            return Err(StreamError::Misuse {
                at: Location::at(self.pos),
                what: "suspend wants the reader right after a CHECKPOINT record".into(),
            });
        }
        self.finish_current().await?;
        Ok(self.into_suspended())
    }

    /// After END, in strict mode, for a bare stream: whether one more
    /// octet follows (the input is not consumed past it).
    pub(crate) async fn probe_trailing(&mut self) -> Result<bool, StreamError> {
        let after = self.pos;
        let mut one = [0u8; 1];
        match self.io.fill(&mut one).await {
            Ok(got) => Ok(got != 0),
            Err(e) => Err(StreamError::Io {
                at: Location::at(after),
                source: e,
            }),
        }
    }
}

impl<R: Read> StreamReader<R> {
    /// Reads and checks the image and domain headers, in lenient mode.
    pub fn new(inner: R) -> Result<Self, StreamError> {
        Self::with_options(inner, ReaderOptions::default())
    }

    /// Reads and checks the image and domain headers.
    pub fn with_options(inner: R, options: ReaderOptions) -> Result<Self, StreamError> {
        let core = now(Core::start(Blocking::reading(inner), options))?;
        Ok(StreamReader { core })
    }
}

impl<R: Read + Seek> StreamReader<R> {
    /// Like [`StreamReader::with_options`], for an input that can seek:
    /// page contents the caller does not read ([`PageBatch::skip`], or a
    /// record left unread) are skipped with a seek instead of being read.
    /// The reader still never reads past END. To prove that skipped octets
    /// exist (a seek past the end of a file succeeds), it reads the last
    /// octet of each skipped run.
    ///
    /// ```
    /// use std::io::Cursor;
    /// use format_spec::libxc::{DomainType, LibxcRecord};
    /// use format_spec::stream::{ReaderOptions, StreamReader, StreamWriter, WriterOptions};
    ///
    /// let mut w = StreamWriter::new(Vec::new(), WriterOptions::new(DomainType::X86Hvm).version(3))?;
    /// w.write(&LibxcRecord::StaticDataEnd)?;
    /// let pfns: Vec<u64> = (0..64).collect();
    /// w.write_page_data(&pfns, &vec![7u8; 64 * 4096])?;
    /// let bytes = w.finish()?;
    ///
    /// let mut r = StreamReader::seekable(Cursor::new(&bytes), ReaderOptions::default())?;
    /// let mut pages = 0;
    /// while let Some(info) = r.next_header()? {
    ///     if info.rtype == LibxcRecord::PAGE_DATA {
    ///         let mut batch = r.page_batch()?;
    ///         pages += batch.pfns().len();
    ///         batch.skip()?; // seeks over the 256 KiB of contents
    ///     }
    /// }
    /// assert_eq!(pages, 64);
    /// # Ok::<(), format_spec::stream::StreamError>(())
    /// ```
    pub fn seekable(inner: R, options: ReaderOptions) -> Result<Self, StreamError> {
        let core = now(Core::start(Blocking::seeking(inner), options))?;
        Ok(StreamReader { core })
    }
}

/// The accessors every reader front end ([`StreamReader`], and
/// `AsyncStreamReader` with the `tokio` feature) has: each asks the core.
macro_rules! core_accessors {
    () => {
        /// The image header.
        pub fn image_header(&self) -> &$crate::libxc::ImageHeader {
            self.core.image_header()
        }

        /// The domain header.
        pub fn domain_header(&self) -> &$crate::libxc::DomainHeader {
            self.core.domain_header()
        }

        /// The stream's version (one of [`SUPPORTED_VERSIONS`](crate::libxc::SUPPORTED_VERSIONS)).
        pub fn version(&self) -> u32 {
            self.core.image_header().version
        }

        /// The byte order of the domain header and the records.
        pub fn endian(&self) -> $crate::binrw::Endian {
            self.core.endian()
        }

        /// The guest type.
        pub fn domain_type(&self) -> $crate::libxc::DomainType {
            self.core.domain_type()
        }

        /// The mode the reader frames in.
        pub fn mode(&self) -> $crate::stream::Mode {
            self.core.mode()
        }

        /// Absolute offset of the next octet the reader will read (after END:
        /// the offset just after the stream).
        pub fn position(&self) -> u64 {
            self.core.position()
        }

        /// Index the next record header will have (indices count on across
        /// the segments of a resumed stream).
        pub fn next_index(&self) -> u64 {
            self.core.next_index()
        }

        /// True once the END record has been read.
        pub fn is_ended(&self) -> bool {
            self.core.is_ended()
        }

        /// The record being read, if any.
        pub fn current(&self) -> Option<$crate::stream::RecordInfo> {
            self.core.current()
        }
    };
}
// For `AsyncStreamReader` (the `tokio` feature), which the unused-import
// lint does not count as a use.
#[allow(unused_imports)]
pub(crate) use core_accessors;

impl<R: Read> StreamReader<R> {
    core_accessors!();

    /// The input, for instance to read what follows the stream after END,
    /// or a higher layer's records after a CHECKPOINT. Reading from it in
    /// the middle of a record breaks the stream.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.core.io.inner
    }

    /// The input, giving up the reader.
    pub fn into_inner(self) -> R {
        self.core.io.inner
    }

    /// Reads the next record header, after consuming whatever is left of the
    /// current record. Returns `None` once END has been read.
    ///
    /// Applies the framing rules: the length limit, unknown mandatory types,
    /// version gating, obsolete types and, in strict mode, back-channel
    /// types. Unknown optional types are returned (see
    /// [`RecordInfo::name`]) for the caller to skip or read raw.
    ///
    /// After an error about the type of a record (`UnknownMandatory`,
    /// `RecordTooNew`, `DeprecatedRecord`, `BackChannelRecord`) the next call
    /// skips that record and goes on; after `Truncated`, an I/O error or
    /// `RecordTooLong` every further call fails with
    /// [`StreamError::Misuse`].
    pub fn next_header(&mut self) -> Result<Option<RecordInfo>, StreamError> {
        now(self.core.next_header())
    }

    /// Reads the whole body of the current record (and its padding) and
    /// returns it; the slice borrows the reader's reused buffer.
    pub fn read_body(&mut self) -> Result<&[u8], StreamError> {
        now(self.core.read_body())
    }

    /// Skips the rest of the current record (with a seek for a seekable
    /// reader). Padding is still read, and checked in strict mode.
    pub fn skip_record(&mut self) -> Result<(), StreamError> {
        now(self.core.finish_current())
    }

    /// Reads the current record's body and parses it: length rule, allowed
    /// values and, in strict mode, reserved fields are checked. Unknown
    /// optional records come back as [`Record::Unknown`].
    pub fn read_record(&mut self) -> Result<Record, StreamError> {
        now(self.core.read_record())
    }

    /// Reads the next record, typed. Returns `None` after END. PAGE_DATA
    /// records are read whole (use [`next_header`](Self::next_header) and
    /// [`page_batch`](Self::page_batch) to avoid copying their pages).
    pub fn next_record(&mut self) -> Result<Option<(RecordInfo, Record)>, StreamError> {
        match self.next_header()? {
            None => Ok(None),
            Some(info) => Ok(Some((info, self.read_record()?))),
        }
    }

    /// Starts reading the current PAGE_DATA record: reads and checks its
    /// fixed part and pfn entries (count non-zero and fitting the body,
    /// page types valid, body length matching the pages with data), and
    /// leaves the page contents in the input for the returned
    /// [`PageBatch`] to read into caller buffers, hand out, or skip.
    ///
    /// On a bad fixed part or pfn entry the rest of the record is consumed
    /// first (so a truncated record reports `Truncated`), then the error is
    /// returned. Reserved bits are not checked here; see
    /// [`check_page_reserved`](super::check_page_reserved), which the
    /// verifier applies in strict mode.
    pub fn page_batch(&mut self) -> Result<PageBatch<'_, R>, StreamError> {
        let (info, res1, data_pages) = now(self.core.page_batch())?;
        Ok(PageBatch {
            r: self,
            info,
            res1,
            data_pages,
        })
    }
}

/// A libxc stream paused at a CHECKPOINT record, while a higher layer
/// reads its own records from the same input: what
/// [`StreamReader::suspend`] keeps and [`StreamReader::resume`] needs.
///
/// It holds the headers, the byte order, the mode, the index of the next
/// record and the offset where the stream paused, plus the reader's reused
/// buffers (so resuming does not allocate them again). It does not hold
/// the input: the caller keeps that and lends it to the other layer in
/// between.
pub struct Suspended {
    mode: Mode,
    pos: u64,
    ihdr: ImageHeader,
    dhdr: DomainHeader,
    domain: DomainType,
    endian: Endian,
    next_index: u64,
    buf: Vec<u8>,
    pfns: Vec<u64>,
    scratch: Vec<u8>,
}

impl std::fmt::Debug for Suspended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Suspended")
            .field("position", &self.pos)
            .field("version", &self.ihdr.version)
            .field("domain", &self.domain)
            .field("next_index", &self.next_index)
            .finish()
    }
}

impl Suspended {
    /// Absolute offset just after the CHECKPOINT record the stream paused
    /// at (where the higher layer's octets start).
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Index the first record after the pause will have (indices go on
    /// counting across segments).
    pub fn next_index(&self) -> u64 {
        self.next_index
    }

    /// The stream's image header.
    pub fn image_header(&self) -> &ImageHeader {
        &self.ihdr
    }

    /// The stream's domain header.
    pub fn domain_header(&self) -> &DomainHeader {
        &self.dhdr
    }

    /// The mode the reader framed in (and will frame in again).
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The byte order of the records.
    pub fn endian(&self) -> Endian {
        self.endian
    }
}

impl<R: Read> StreamReader<R> {
    /// Pauses the stream after a CHECKPOINT record and gives the input
    /// back, so that a higher layer (the libxl records of a Remus or COLO
    /// checkpoint) can read from it; [`resume`](Self::resume) goes on with
    /// the next segment once that layer hands the stream back.
    ///
    /// The last record header read must be a CHECKPOINT. If its body was
    /// not consumed yet it is consumed first (a valid CHECKPOINT has none,
    /// so nothing is read); the reader never reads past the CHECKPOINT's
    /// padding. Anything else is an error ([`StreamError::Misuse`]: not at
    /// a CHECKPOINT, after END, or after an error that left the reader
    /// inside a record), and the reader and its input are dropped with it.
    ///
    /// ```
    /// use format_spec::libxc::{DomainType, LibxcRecord};
    /// use format_spec::stream::{StreamReader, StreamWriter, Verifier, VerifyOptions, WriterOptions};
    ///
    /// // Segment 1, a CHECKPOINT, 16 octets of another layer, segment 2, END.
    /// let mut w = StreamWriter::new(Vec::new(), WriterOptions::new(DomainType::X86Hvm).version(3))?;
    /// w.write(&LibxcRecord::StaticDataEnd)?;
    /// w.write_page_data(&[1], &[0u8; 4096])?;
    /// w.checkpoint()?;
    /// w.get_mut().extend_from_slice(&[0xee; 16]);
    /// w.write_page_data(&[1], &[1u8; 4096])?;
    /// let bytes = w.finish()?;
    ///
    /// let opts = VerifyOptions { bare: false, ..VerifyOptions::strict() };
    /// let mut input = &bytes[..];
    /// let mut reader = StreamReader::with_options(&mut input, opts.reader_options())?;
    /// let mut v = Verifier::new(&reader, opts);
    /// while v.step(&mut reader)?.unwrap().rtype != LibxcRecord::CHECKPOINT {}
    /// let (_, paused) = reader.suspend()?;
    ///
    /// // The other layer reads its records from the same input.
    /// let mut other = [0u8; 16];
    /// std::io::Read::read_exact(&mut input, &mut other).unwrap();
    ///
    /// // The libxc stream goes on at the absolute offset the other layer
    /// // reached; the verifier keeps its state across the pause.
    /// let at = paused.position() + 16;
    /// let mut reader = StreamReader::resume(&mut input, paused, at)?;
    /// let info = v.step(&mut reader)?.unwrap();
    /// assert_eq!((info.index, info.offset), (3, at));
    /// v.run(&mut reader)?;
    /// assert_eq!(v.report().segments, 2);
    /// assert_eq!(v.report().data_pages, 2);
    /// // The other layer's octets are not counted as the stream's.
    /// assert_eq!(v.report().interleaved, 16);
    /// assert_eq!(v.report().bytes(), bytes.len() as u64 - 16);
    /// # Ok::<(), format_spec::stream::StreamError>(())
    /// ```
    pub fn suspend(self) -> Result<(R, Suspended), StreamError> {
        let (io, state) = now(self.core.suspend())?;
        Ok((io.inner, state))
    }

    /// Goes on with a stream paused by [`suspend`](Self::suspend): `inner`
    /// is the same input, now positioned at the next segment's first record
    /// header, which is at absolute offset `offset` (the pause position
    /// plus whatever the other layer read). No headers are read: the
    /// state's are kept, record indices go on, and every offset reported
    /// stays absolute. Nothing is read until the next call.
    ///
    /// Fails ([`StreamError::Misuse`]) if `offset` lies before the pause
    /// position.
    pub fn resume(inner: R, state: Suspended, offset: u64) -> Result<Self, StreamError> {
        let core = Core::resume(Blocking::reading(inner), state, offset)?;
        Ok(StreamReader { core })
    }
}

impl<R: Read + Seek> StreamReader<R> {
    /// Like [`resume`](Self::resume), for an input that can seek: page
    /// contents the caller does not read are skipped with seeks, as with
    /// [`StreamReader::seekable`].
    pub fn resume_seekable(inner: R, state: Suspended, offset: u64) -> Result<Self, StreamError> {
        let core = Core::resume(Blocking::seeking(inner), state, offset)?;
        Ok(StreamReader { core })
    }
}

/// The page contents of one PAGE_DATA record, still in the input.
///
/// Read them into your own buffers with [`read_pages`](Self::read_pages)
/// (no copy through the reader, no allocation), get them as one borrowed
/// slice with [`contents`](Self::contents), or skip them with
/// [`skip`](Self::skip) (a seek for a [`StreamReader::seekable`] reader).
/// Dropping the batch leaves the rest for the next
/// [`StreamReader::next_header`] call to skip.
///
/// ```
/// use format_spec::libxc::{DomainType, LibxcRecord, PageType, PfnEntry, PAGE_SIZE};
/// use format_spec::stream::{StreamReader, StreamWriter, WriterOptions};
///
/// let mut w = StreamWriter::new(Vec::new(), WriterOptions::new(DomainType::X86Hvm).version(3))?;
/// w.write(&LibxcRecord::StaticDataEnd)?;
/// // pfn 5 with contents, pfn 6 not present (XTAB), pfn 0x12345 (above
/// // 4095) with contents.
/// let xtab = PfnEntry::new(6, PageType::Xtab).0;
/// let mut pages = vec![1u8; 2 * PAGE_SIZE];
/// pages[PAGE_SIZE..].fill(2);
/// w.write_page_data(&[5, xtab, 0x12345], &pages)?;
/// let bytes = w.finish()?;
///
/// let mut r = StreamReader::new(&bytes[..])?;
/// let mut page = vec![0u8; PAGE_SIZE]; // one caller buffer, reused
/// let mut seen = Vec::new();
/// while let Some(info) = r.next_header()? {
///     if info.rtype != LibxcRecord::PAGE_DATA { continue; }
///     let mut batch = r.page_batch()?;
///     for i in 0..batch.pfns().len() {
///         // The frame number is bits 51-0 of the entry, the type bits
///         // 63-60: PfnEntry takes them apart.
///         let entry = PfnEntry(batch.pfns()[i]);
///         if entry.has_data() {
///             batch.read_pages(&mut page)?;
///             seen.push((entry.pfn(), page[0]));
///         }
///     }
/// }
/// assert_eq!(seen, [(5, 1), (0x12345, 2)]);
/// # Ok::<(), format_spec::stream::StreamError>(())
/// ```
pub struct PageBatch<'a, R> {
    r: &'a mut StreamReader<R>,
    info: RecordInfo,
    res1: u32,
    data_pages: usize,
}

impl<R: Read> PageBatch<'_, R> {
    /// The record.
    pub fn info(&self) -> RecordInfo {
        self.info
    }

    /// The pfn entries (type in bits 63-60, frame number in bits 51-0), in
    /// host byte order.
    pub fn pfns(&self) -> &[u64] {
        self.r.core.pfns()
    }

    /// The pfn entries taken apart (frame number, page type):
    /// [`PfnEntry`](crate::libxc::PfnEntry) for each of
    /// [`pfns`](Self::pfns).
    pub fn entries(&self) -> impl ExactSizeIterator<Item = crate::libxc::PfnEntry> + '_ {
        self.r
            .core
            .pfns()
            .iter()
            .map(|&e| crate::libxc::PfnEntry(e))
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

    /// Skips the contents of the next `n` pages with data (with a seek for
    /// a [`StreamReader::seekable`] reader), at most
    /// [`pages_left`](Self::pages_left), to get at a later page of the
    /// record.
    pub fn skip_pages(&mut self, n: usize) -> Result<(), StreamError> {
        now(self.r.core.skip_pages(self.info, n))
    }

    /// Reads the contents of the next `dst.len() / PAGE_SIZE` pages with
    /// data into `dst`, straight from the input. `dst.len()` must be a
    /// multiple of [`PAGE_SIZE`] and at most [`pages_left`](Self::pages_left)
    /// pages.
    pub fn read_pages(&mut self, dst: &mut [u8]) -> Result<(), StreamError> {
        now(self.r.core.read_pages(self.info, dst))
    }

    /// Moves the contents of the next `n` pages with data from the input
    /// straight to the output the input was set up with, if the input can
    /// (`drive::Pass`); `false` when it cannot (nothing consumed: read them
    /// instead). Offsets, counts and errors are those of
    /// [`read_pages`](Self::read_pages) called `chunk` pages at a time for
    /// the `n` pages (a truncation says how much of that chunk is missing).
    pub(crate) fn pass_pages(&mut self, n: usize, chunk: usize) -> Result<bool, StreamError>
    where
        R: PassThrough,
    {
        self.r.pass_pages(self.info, n, chunk)
    }

    /// Reads the contents of the remaining pages into the reader's reused
    /// buffer and returns the pfn entries and those contents.
    pub fn contents(&mut self) -> Result<(&[u64], &[u8]), StreamError> {
        now(self.r.core.contents(self.info))
    }

    /// Skips the remaining page contents (a seek for a seekable reader).
    pub fn skip(&mut self) -> Result<(), StreamError> {
        now(self.r.core.finish_current())
    }
}

impl<R: Read> StreamReader<R> {
    /// See [`PageBatch::pass_pages`].
    fn pass_pages(&mut self, info: RecordInfo, n: usize, chunk: usize) -> Result<bool, StreamError>
    where
        R: PassThrough,
    {
        let core = &mut self.core;
        core.check_pages_left(info, "pass_pages", n)?;
        let want = (n * PAGE_SIZE) as u64;
        let Some(passed) = core.io.inner.pass(want) else {
            return Ok(false);
        };
        core.pos += passed.moved;
        if let Some(e) = passed.error {
            return Err(core.io_err(e, Some(info)));
        }
        if passed.moved < want {
            // As a copy of `chunk` pages at a time reports it: the octets
            // missing from the chunk the input ended in.
            let chunk = (chunk.max(1) * PAGE_SIZE) as u64;
            let start = passed.moved / chunk * chunk;
            let end = want.min(start + chunk);
            return Err(core.truncated("page contents", Some(info), end - passed.moved));
        }
        if core.took_pages(n as u64) {
            now(core.finish_current())?;
        }
        Ok(true)
    }
}

/// Checks one record body of a known type as [`parse_record`] does,
/// without building the value (no copy of a large body).
pub(crate) fn check_record(
    info: RecordInfo,
    body: &[u8],
    endian: Endian,
    mode: Mode,
) -> Result<(), StreamError> {
    check::validate(info, body, endian, mode).map(|_| ())
}

/// Parses one record body outside a reader (for instance a body received
/// some other way): the same checks [`StreamReader::read_record`] makes.
pub fn parse_record(
    info: RecordInfo,
    body: &[u8],
    endian: Endian,
    mode: Mode,
) -> Result<LibxcRecord, StreamError> {
    check::body(info, body, endian, mode)
}
