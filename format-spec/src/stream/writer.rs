//! The streaming writer.

use std::io::{IoSlice, Write};

use binrw::Endian;

use super::check;
use super::error::{Location, RecordInfo, StreamError};
use super::reader::check_resume;
use super::verify::{Facts, Order};
use super::Mode;
use crate::bytes::{extend_u64s, u32_octets};
use crate::drive::{now, BlockingOut, Output};
use crate::layout::Wire;
use crate::libxc::{
    DomainHeader, DomainType, ImageHeader, LibxcRecord, PageData, PageDataError, PageDataHeader,
    RecordHeader, CURRENT_VERSION, ORDER_RULES, PAGE_DATA_COUNT_AT, PAGE_SHIFT, PAGE_SIZE,
    PFN_ENTRY_SIZE, REC_LENGTH_MAX, REC_TYPE_OPTIONAL, SUPPORTED_VERSIONS, ZERO_PADDING,
};

/// What a [`StreamWriter`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterOptions {
    /// Stream version, one of
    /// [`SUPPORTED_VERSIONS`].
    pub version: u32,
    /// Byte order of the domain header and the records.
    pub endian: Endian,
    /// Guest type.
    pub domain: DomainType,
    /// Xen major version in the domain header.
    pub xen_major: u32,
    /// Xen minor version in the domain header.
    pub xen_minor: u32,
    /// Absolute offset the stream starts at in the output (for offsets in
    /// errors).
    pub base_offset: u64,
}

impl WriterOptions {
    /// A little-endian stream of the current version for `domain`, claiming
    /// Xen 0.0.
    pub fn new(domain: DomainType) -> Self {
        WriterOptions {
            version: CURRENT_VERSION,
            endian: Endian::Little,
            domain,
            xen_major: 0,
            xen_minor: 0,
            base_offset: 0,
        }
    }

    /// Sets the stream version.
    pub fn version(mut self, version: u32) -> Self {
        self.version = version;
        self
    }

    /// Sets the byte order.
    pub fn endian(mut self, endian: Endian) -> Self {
        self.endian = endian;
        self
    }

    /// Sets the Xen version in the domain header.
    pub fn xen_version(mut self, major: u32, minor: u32) -> Self {
        self.xen_major = major;
        self.xen_minor = minor;
        self
    }
}

/// Writes a libxc stream to any [`Write`].
///
/// The writer frames records itself: it computes lengths and padding,
/// writes PAGE_DATA header, pfn entries and page contents with vectored
/// writes (no copy of the pages), and checks every record against the
/// rules the strict verifier applies before writing a single octet of it:
/// version gating, length rules (a PAGE_DATA count comes from the pfn
/// slice; the page buffer must match the pfn types), allowed values,
/// reserved fields zero, and the order rules. END is written only by
/// [`finish`](Self::finish), which consumes the writer, so nothing can
/// follow it.
///
/// The writer does no buffering: wrap unbuffered outputs in a
/// [`std::io::BufWriter`] (PAGE_DATA goes through it in one vectored call).
/// After an I/O error the output holds a partial record.
///
/// ```
/// use format_spec::libxc::*;
/// use format_spec::stream::{ErrorKind, StreamWriter, WriterOptions};
///
/// let opts = WriterOptions::new(DomainType::X86Pv).version(3);
/// let mut w = StreamWriter::new(Vec::new(), opts)?;
/// w.write(&LibxcRecord::X86PvInfo(X86PvInfo { guest_width: 8, pt_levels: 4, _res: [0; 6] }))?;
/// w.write(&LibxcRecord::StaticDataEnd)?;
/// w.write(&LibxcRecord::X86PvP2mFrames(X86PvP2mFrames { start_pfn: 0, end_pfn: 511, p2m_pfns: vec![9] }))?;
/// w.write_page_data(&[0], &[0u8; PAGE_SIZE])?;
/// let context = vec![0; pv_vcpu_basic_size(8).unwrap()];
/// w.write(&LibxcRecord::X86PvVcpuBasic(X86PvVcpu { vcpu_id: 0, _res1: 0, context }))?;
///
/// // Refused: a record version 3 does not know, and pages that do not
/// // match their pfns.
/// let e = w.write(&LibxcRecord::DomainContext(format_spec::body::Opaque(vec![1]))).unwrap_err();
/// assert_eq!(e.kind(), ErrorKind::RecordTooNew);
/// let e = w.write_page_data(&[1, 2], &[0u8; PAGE_SIZE]).unwrap_err();
/// assert_eq!(e.kind(), ErrorKind::BadLength);
///
/// let bytes = w.finish()?;
/// assert_eq!(bytes.len() % 8, 0);
/// # Ok::<(), format_spec::stream::StreamError>(())
/// ```
#[derive(Debug)]
pub struct StreamWriter<W: Write> {
    core: WriterCore<BlockingOut<W>>,
}

/// The writer's state and every rule it applies, with the output `O` it
/// writes to (see [`crate::drive`]): driven by [`StreamWriter`] and by the
/// async writer of [`crate::asynchronous`].
#[derive(Debug)]
pub(crate) struct WriterCore<O> {
    pub(crate) out: O,
    opts: WriterOptions,
    pos: u64,
    index: u64,
    order: Order,
    scratch: Vec<u8>,
    /// The last record written was a CHECKPOINT (so another layer's octets
    /// may follow it).
    at_checkpoint: bool,
    /// Octets other layers wrote between segments, as told by
    /// [`StreamWriter::resume_at`].
    interleaved: u64,
}

impl<O: Output> WriterCore<O> {
    /// See [`StreamWriter::new`].
    pub(crate) async fn new(out: O, opts: WriterOptions) -> Result<Self, StreamError> {
        let mut w = WriterCore {
            out,
            opts,
            pos: opts.base_offset,
            index: 0,
            order: Order::new(opts.version, opts.domain),
            scratch: Vec::new(),
            at_checkpoint: false,
            interleaved: 0,
        };
        if !SUPPORTED_VERSIONS.contains(&opts.version) {
            return Err(StreamError::UnsupportedVersion {
                at: Location::at(w.pos),
                found: opts.version,
            });
        }
        let ihdr = ImageHeader::new(opts.version, opts.endian);
        let dhdr = DomainHeader {
            r#type: opts.domain as u32,
            page_shift: PAGE_SHIFT,
            _res1: 0,
            xen_major: opts.xen_major,
            xen_minor: opts.xen_minor,
        };
        let mut hdrs = Vec::with_capacity(32);
        let misuse = |e: crate::body::BodyError| StreamError::Misuse {
            at: Location::at(opts.base_offset),
            what: e.to_string(),
        };
        crate::body::write_wire(&ihdr, &mut hdrs, Endian::Big).map_err(misuse)?;
        crate::body::write_wire(&dhdr, &mut hdrs, opts.endian).map_err(misuse)?;
        w.emit(&mut [IoSlice::new(&hdrs)], None).await?;
        Ok(w)
    }

    /// See [`StreamWriter::options`].
    pub(crate) fn options(&self) -> &WriterOptions {
        &self.opts
    }

    /// See [`StreamWriter::position`].
    pub(crate) fn position(&self) -> u64 {
        self.pos
    }

    /// See [`StreamWriter::get_mut`].
    pub(crate) fn get_mut(&mut self) -> &mut O {
        &mut self.out
    }

    async fn emit(
        &mut self,
        bufs: &mut [IoSlice<'_>],
        record: Option<RecordInfo>,
    ) -> Result<(), StreamError> {
        let total: u64 = bufs.iter().map(|b| b.len() as u64).sum();
        let at = self.pos;
        // Whatever happens next, another layer's octets no longer belong
        // here.
        self.at_checkpoint = false;
        self.out
            .write_all_vectored(bufs)
            .await
            .map_err(|e| StreamError::Io {
                at: Location {
                    offset: at,
                    record,
                    field: None,
                },
                source: e,
            })?;
        self.pos += total;
        Ok(())
    }

    fn next_info(&self, rtype: u32, length: u64) -> Result<RecordInfo, StreamError> {
        let info = RecordInfo {
            index: self.index,
            offset: self.pos,
            rtype,
            length: length.min(u64::from(u32::MAX)) as u32,
        };
        if length > u64::from(REC_LENGTH_MAX) {
            return Err(StreamError::RecordTooLong {
                at: Location::record(info),
                length: info.length,
                max: REC_LENGTH_MAX,
            });
        }
        Ok(info)
    }

    /// Refuses record types the stream cannot hold.
    fn gate(&self, info: RecordInfo) -> Result<(), StreamError> {
        let at = Location::record(info);
        match LibxcRecord::LAYOUT.by_code(info.rtype) {
            Some(l) if l.since > self.opts.version => Err(StreamError::RecordTooNew {
                at,
                since: l.since,
                version: self.opts.version,
            }),
            Some(l) if l.deprecated == Some(0) => Err(StreamError::DeprecatedRecord { at }),
            Some(_) if super::rules::back_channel_only(ORDER_RULES, info.rtype) => {
                Err(StreamError::BackChannelRecord { at })
            }
            _ => Ok(()),
        }
    }

    async fn frame(&mut self, info: RecordInfo, parts: &[&[u8]]) -> Result<(), StreamError> {
        let hdr = RecordHeader::octets(info.rtype, info.length, self.opts.endian);
        let padding = &ZERO_PADDING[..info.padding() as usize];
        // Header, at most three body parts, padding: no allocation.
        let mut slices = [IoSlice::new(&[]); 5];
        let mut n = 0;
        for part in std::iter::once(&hdr[..])
            .chain(parts.iter().copied())
            .chain(std::iter::once(padding))
        {
            if n == slices.len() {
                return Err(StreamError::Misuse {
                    at: Location::record(info),
                    what: "too many body parts".into(),
                });
            }
            slices[n] = IoSlice::new(part);
            n += 1;
        }
        let slices = &mut slices[..n];
        self.emit(slices, Some(info)).await?;
        self.index += 1;
        Ok(())
    }

    /// See [`StreamWriter::write`].
    pub(crate) async fn write(&mut self, rec: &LibxcRecord) -> Result<RecordInfo, StreamError> {
        if let LibxcRecord::PageData(pd) = rec {
            let info = self.next_info(LibxcRecord::PAGE_DATA, 0)?;
            if pd.header.count as usize != pd.header.pfn.len() {
                return Err(StreamError::BadPageCount {
                    at: Location::record(info),
                    count: pd.header.count,
                    reason: "count does not match the pfn array",
                });
            }
            // `_res1` here, the entries' reserved bits with their types.
            check::check_page_reserved(info, pd.header._res1, &[])?;
            return self.write_page_data(&pd.header.pfn, &pd.pages).await;
        }
        let code = rec.code();
        if code == LibxcRecord::END {
            return Err(StreamError::Misuse {
                at: Location::at(self.pos),
                what: "END is written by finish(), which ends the stream".into(),
            });
        }
        self.gate(self.next_info(code, 0)?)?;
        let mut body = std::mem::take(&mut self.scratch);
        body.clear();
        let out = self.write_known(rec, code, &mut body).await;
        self.scratch = body;
        out
    }

    async fn write_known(
        &mut self,
        rec: &LibxcRecord,
        code: u32,
        body: &mut Vec<u8>,
    ) -> Result<RecordInfo, StreamError> {
        if let Err(e) = rec.write_body(body, self.opts.endian) {
            let info = self.next_info(code, 0)?;
            return Err(StreamError::BadLength {
                at: Location::record(info),
                length: 0,
                reason: e.to_string(),
            });
        }
        let info = self.next_info(code, body.len() as u64)?;
        check::validate(info, body, self.opts.endian, Mode::Strict)?;
        self.order.record(info, Facts::None, true, &mut |_| {})?;
        self.frame(info, &[body]).await?;
        Ok(info)
    }

    /// See [`StreamWriter::write_page_data`].
    pub(crate) async fn write_page_data(
        &mut self,
        pfns: &[u64],
        pages: &[u8],
    ) -> Result<RecordInfo, StreamError> {
        let fixed = PageDataHeader::LAYOUT.size as u64;
        let length = fixed + (PFN_ENTRY_SIZE * pfns.len()) as u64 + pages.len() as u64;
        let info = self.next_info(LibxcRecord::PAGE_DATA, length)?;
        let framing = |e| check::page_data_error(info, e);
        let count = u32::try_from(pfns.len()).unwrap_or(u32::MAX);
        PageData::check_count(count, length).map_err(framing)?;
        let with_data = PageData::pages_with_data(pfns);
        // Entry by entry, the type and then the reserved bits: reserved
        // bits before the first entry of a bad type are reported first.
        let typed = match with_data {
            Err(PageDataError::BadType { index, .. }) => index,
            _ => pfns.len(),
        };
        check::check_pfns_reserved(info, &pfns[..typed])?;
        let with_data = with_data.map_err(framing)?;
        if PageData::check_length(pfns.len(), with_data, length).is_err() {
            return Err(StreamError::BadLength {
                at: Location::record(info),
                length: info.length,
                reason: format!(
                    "{} pfn entries with {with_data} pages of contents need {} octets of pages, {} given",
                    pfns.len(),
                    with_data * PAGE_SIZE,
                    pages.len()
                ),
            });
        }
        self.order.record(info, Facts::None, true, &mut |_| {})?;
        let endian = self.opts.endian;
        let mut head = [0u8; PageDataHeader::LAYOUT.size];
        head[PAGE_DATA_COUNT_AT..PAGE_DATA_COUNT_AT + 4]
            .copy_from_slice(&u32_octets(pfns.len() as u32, endian));
        let mut entries = std::mem::take(&mut self.scratch);
        entries.clear();
        extend_u64s(&mut entries, pfns, endian);
        let res = self.frame(info, &[&head, &entries, pages]).await;
        self.scratch = entries;
        res.map(|_| info)
    }

    /// See [`StreamWriter::write_optional`].
    pub(crate) async fn write_optional(
        &mut self,
        rtype: u32,
        body: &[u8],
    ) -> Result<RecordInfo, StreamError> {
        let info = self.next_info(rtype, body.len() as u64)?;
        if rtype & REC_TYPE_OPTIONAL == 0 || LibxcRecord::LAYOUT.by_code(rtype).is_some() {
            return Err(StreamError::Misuse {
                at: Location::record(info),
                what: format!(
                    "type 0x{rtype:08x} is not an unknown optional type; write known records with write()"
                ),
            });
        }
        self.frame(info, &[body]).await?;
        Ok(info)
    }

    /// See [`StreamWriter::checkpoint`].
    pub(crate) async fn checkpoint(&mut self) -> Result<RecordInfo, StreamError> {
        let info = self.write(&LibxcRecord::Checkpoint).await?;
        self.at_checkpoint = true;
        Ok(info)
    }

    /// See [`StreamWriter::resume_at`].
    pub(crate) fn resume_at(&mut self, offset: u64) -> Result<(), StreamError> {
        if !self.at_checkpoint {
            return Err(StreamError::Misuse {
                at: Location::at(self.pos),
                what: format!(
                    "resume_at({offset}) wants the writer right after a CHECKPOINT record"
                ),
            });
        }
        check_resume(offset, self.pos, || {
            format!("the end of the stream's own octets ({})", self.pos)
        })?;
        self.interleaved += offset - self.pos;
        self.pos = offset;
        Ok(())
    }

    /// See [`StreamWriter::interleaved`].
    pub(crate) fn interleaved(&self) -> u64 {
        self.interleaved
    }

    /// See [`StreamWriter::finish`].
    pub(crate) async fn finish(mut self) -> Result<O, StreamError> {
        let info = self.next_info(LibxcRecord::END, 0)?;
        self.order.record(info, Facts::None, true, &mut |_| {})?;
        self.frame(info, &[]).await?;
        let at = self.pos;
        self.out.flush().await.map_err(|e| StreamError::Io {
            at: Location::at(at),
            source: e,
        })?;
        Ok(self.out)
    }
}

impl<W: Write> StreamWriter<W> {
    /// Writes the image and domain headers.
    pub fn new(inner: W, opts: WriterOptions) -> Result<Self, StreamError> {
        let core = now(WriterCore::new(BlockingOut(inner), opts))?;
        Ok(StreamWriter { core })
    }

    /// The options the writer was made with.
    pub fn options(&self) -> &WriterOptions {
        self.core.options()
    }

    /// Absolute offset of the next record.
    pub fn position(&self) -> u64 {
        self.core.position()
    }

    /// The output. Writing to it between records breaks the stream unless a
    /// higher layer's records belong there (after a CHECKPOINT); tell the
    /// writer where the stream goes on with [`resume_at`](Self::resume_at),
    /// or the offsets it reports fall short by those octets.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.core.get_mut().0
    }

    /// Writes one record of the table (not END: see
    /// [`finish`](Self::finish)). PAGE_DATA goes through
    /// [`write_page_data`](Self::write_page_data); its `count` must match
    /// its pfn array.
    pub fn write(&mut self, rec: &LibxcRecord) -> Result<RecordInfo, StreamError> {
        now(self.core.write(rec))
    }

    /// Writes a PAGE_DATA record: `pfns` are the entries (type in bits
    /// 63-60, frame in bits 51-0), `pages` the contents of the entries whose
    /// type has data, in order, [`PAGE_SIZE`] octets each. The header, the
    /// entries and the pages go out in one vectored write.
    pub fn write_page_data(
        &mut self,
        pfns: &[u64],
        pages: &[u8],
    ) -> Result<RecordInfo, StreamError> {
        now(self.core.write_page_data(pfns, pages))
    }

    /// Writes an optional record the table does not know (bit 31 of `rtype`
    /// set), with an opaque body. Known types go through
    /// [`write`](Self::write).
    pub fn write_optional(&mut self, rtype: u32, body: &[u8]) -> Result<RecordInfo, StreamError> {
        now(self.core.write_optional(rtype, body))
    }

    /// Writes a CHECKPOINT record, ending a segment. A higher layer may
    /// write its own records to [`get_mut`](Self::get_mut) after it.
    pub fn checkpoint(&mut self) -> Result<RecordInfo, StreamError> {
        now(self.core.checkpoint())
    }

    /// Tells the writer that another layer wrote its own records to
    /// [`get_mut`](Self::get_mut) after the last
    /// [`checkpoint`](Self::checkpoint), and that the next segment starts
    /// at absolute offset `offset` (the writer's
    /// [`position`](Self::position) after the CHECKPOINT plus the octets
    /// that layer wrote). Every offset reported afterwards (in
    /// [`RecordInfo`] and in errors) is absolute in the whole output, and
    /// record indices go on counting.
    ///
    /// This is the writer-side twin of [`StreamReader::resume`]: it takes
    /// the same absolute offset rather than a count of octets, so one
    /// number (where the other layer stopped) drives both sides, and a
    /// wrong one can be caught: an offset behind the current position is
    /// refused. Nothing is written; the octets in between are the other
    /// layer's business. It may be called more than once while that layer
    /// writes in several steps, each time with an offset not behind the
    /// previous one.
    ///
    /// Fails with [`StreamError::Misuse`] (and changes nothing) unless the
    /// last record written was a CHECKPOINT, or if `offset` lies before
    /// [`position`](Self::position).
    ///
    /// [`StreamReader::resume`]: super::StreamReader::resume
    ///
    /// ```
    /// use format_spec::libxc::{DomainType, LibxcRecord};
    /// use format_spec::stream::{ErrorKind, StreamWriter, WriterOptions};
    ///
    /// let mut w = StreamWriter::new(Vec::new(), WriterOptions::new(DomainType::X86Hvm).version(3))?;
    /// w.write(&LibxcRecord::StaticDataEnd)?;
    /// w.write_page_data(&[1], &[0u8; 4096])?;
    /// // Only right after a CHECKPOINT.
    /// assert_eq!(w.resume_at(w.position() + 8).unwrap_err().kind(), ErrorKind::Misuse);
    /// let cp = w.checkpoint()?;
    /// assert_eq!(w.position(), cp.offset + 8);
    ///
    /// // Another layer writes 24 octets of its own records.
    /// w.get_mut().extend_from_slice(&[0xee; 24]);
    /// // Never behind the stream's own end.
    /// assert_eq!(w.resume_at(cp.offset).unwrap_err().kind(), ErrorKind::Misuse);
    /// let after_other = w.get_mut().len() as u64;
    /// w.resume_at(after_other)?;
    /// assert_eq!(w.interleaved(), 24);
    ///
    /// // The next record's offset is where it really lands.
    /// let info = w.write_page_data(&[1], &[1u8; 4096])?;
    /// assert_eq!((info.index, info.offset), (cp.index + 1, cp.offset + 8 + 24));
    /// let bytes = w.finish()?;
    /// assert_eq!(&bytes[info.offset as usize..][..4], &LibxcRecord::PAGE_DATA.to_le_bytes());
    /// # Ok::<(), format_spec::stream::StreamError>(())
    /// ```
    pub fn resume_at(&mut self, offset: u64) -> Result<(), StreamError> {
        self.core.resume_at(offset)
    }

    /// Octets other layers wrote between segments, as told by
    /// [`resume_at`](Self::resume_at). [`position`](Self::position) minus
    /// the base offset minus this is what the writer wrote itself.
    pub fn interleaved(&self) -> u64 {
        self.core.interleaved()
    }

    /// Writes END, flushes and returns the output.
    pub fn finish(self) -> Result<W, StreamError> {
        Ok(now(self.core.finish())?.0)
    }
}
