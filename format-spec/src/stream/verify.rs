//! The verifier: every rule of the shared verifier rule list, in strict or
//! lenient mode, with warnings and a summary.

use std::collections::BTreeMap;
use std::io::{Read, Seek};

use binrw::Endian;

use super::check;
use super::error::{Location, RecordInfo, StreamError, Warning};
use super::reader::{Core, ReaderOptions, StreamReader};
use super::Mode;
use crate::drive::{now, Input};
use crate::libxc::{
    v2_static_data_end_at, DomainHeader, DomainType, ImageHeader, LibxcRecord, DYNAMIC_RECORDS,
    HVM_ONLY_RECORDS, PAGE_DATA_TYPE_SHIFT, PV_ONLY_RECORDS, PV_VCPU_RECORDS,
};

/// How to verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyOptions {
    /// Strict (a verifier) or lenient (what a restore accepts).
    pub mode: Mode,
    /// The input is a bare libxc stream: in strict mode, any octet after END
    /// is an error (`TrailingData`). Clear it for a stream embedded in a
    /// libxl stream, whose records follow END.
    pub bare: bool,
    /// Absolute offset of the stream in the input (see
    /// [`ReaderOptions::base_offset`]).
    pub base_offset: u64,
    /// How many warnings the report keeps; further ones are only counted,
    /// so that memory does not grow with the stream.
    pub max_warnings: usize,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            mode: Mode::Strict,
            bare: true,
            base_offset: 0,
            max_warnings: 1000,
        }
    }
}

impl VerifyOptions {
    /// Strict verification of a bare stream.
    pub fn strict() -> Self {
        VerifyOptions::default()
    }

    /// Lenient verification (what a restore accepts) of a bare stream.
    pub fn lenient() -> Self {
        VerifyOptions {
            mode: Mode::Lenient,
            ..VerifyOptions::default()
        }
    }

    /// The reader options these imply.
    pub fn reader_options(&self) -> ReaderOptions {
        ReaderOptions {
            mode: self.mode,
            base_offset: self.base_offset,
        }
    }
}

/// What a verified (or partly verified) stream holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The image header.
    pub image_header: ImageHeader,
    /// The domain header.
    pub domain_header: DomainHeader,
    /// Absolute offset of the image header.
    pub start_offset: u64,
    /// Absolute offset just after the last octet verified (after END once
    /// the stream is complete).
    pub end_offset: u64,
    /// Number of records, END included.
    pub records: u64,
    /// Records by type code, for the types of the table.
    pub records_by_type: BTreeMap<u32, u64>,
    /// Unknown optional records skipped.
    pub unknown_optional: u64,
    /// Unknown optional records skipped, by type code (all of them, also
    /// those beyond the warnings kept).
    pub skipped_by_type: BTreeMap<u32, u64>,
    /// Body octets by record type code (padding excluded), for the types
    /// of the table.
    pub bytes_by_type: BTreeMap<u32, u64>,
    /// PAGE_DATA pfn entries by page type (the type nibble is the index).
    pub pages_by_type: [u64; 16],
    /// Number of PAGE_DATA pfn entries.
    pub pfn_entries: u64,
    /// Number of pages whose contents the stream holds.
    pub data_pages: u64,
    /// Number of segments: CHECKPOINT records plus one.
    pub segments: u64,
    /// Octets of another layer between segments (the libxl records of the
    /// checkpoints of a stream read with [`StreamReader::suspend`] and
    /// [`StreamReader::resume`]): inside `start_offset..end_offset` but not
    /// part of the stream.
    pub interleaved: u64,
    /// True once END has been verified.
    pub complete: bool,
    /// The first [`VerifyOptions::max_warnings`] warnings.
    pub warnings: Vec<Warning>,
    /// Warnings beyond those kept.
    pub warnings_dropped: u64,
    /// Lenient mode: what Xen itself does against the spec and its restore
    /// accepts, once per kind instead of a warning each time (strict mode
    /// keeps them as warnings). Today one kind: HVM_PARAMS after
    /// HVM_CONTEXT before version 4, which Xen 4.17's saver writes in
    /// every HVM and PVH stream.
    pub notes: Vec<Note>,
}

/// A known Xen behaviour the report notes once (see [`Report::notes`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The first occurrence.
    pub first: Warning,
    /// How many times it happened.
    pub count: u64,
}

impl Note {
    /// Whether lenient mode notes `w` instead of warning about it.
    pub fn applies_to(w: &Warning) -> bool {
        matches!(w, Warning::HvmParamsAfterContext { .. })
    }
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.first {
            Warning::HvmParamsAfterContext { record, .. } => {
                write!(f, "HVM_PARAMS after HVM_CONTEXT ")?;
                match self.count {
                    1 => write!(f, "({record})")?,
                    n => write!(f, "({n} times, the first: {record})")?,
                }
                write!(
                    f,
                    ", the order Xen 4.17's saver writes; its restore accepts it before \
                     version 4, the spec wants HVM_PARAMS first (--strict warns)"
                )
            }
            w => write!(f, "{w} ({} times)", self.count),
        }
    }
}

impl Report {
    /// Total octets of the stream verified so far, headers included
    /// ([`interleaved`](Self::interleaved) octets excluded).
    pub fn bytes(&self) -> u64 {
        self.end_offset - self.start_offset - self.interleaved
    }

    /// The guest type.
    pub fn domain_type(&self) -> Option<DomainType> {
        self.domain_header.domain_type()
    }
}

/// The order rules: state carried from record to record.
#[derive(Debug, Clone)]
pub(crate) struct Order {
    version: u32,
    domain: DomainType,
    /// Offset of the first STATIC_DATA_END, real or (v2) inferred.
    sde_at: Option<u64>,
    pv_info_seen: bool,
    p2m_seen: bool,
    page_data_seen: bool,
    seg_hvm_context_at: Option<u64>,
    seg_domain_context: bool,
}

impl Order {
    pub(crate) fn new(version: u32, domain: DomainType) -> Self {
        Order {
            version,
            domain,
            sde_at: None,
            pv_info_seen: false,
            p2m_seen: false,
            page_data_seen: false,
            seg_hvm_context_at: None,
            seg_domain_context: false,
        }
    }

    /// Applies the order rules to the next record of the table; returns the
    /// first rule it breaks (the state is updated either way) and passes
    /// order warnings to `warn`.
    pub(crate) fn record(
        &mut self,
        info: RecordInfo,
        warn: &mut dyn FnMut(Warning),
    ) -> Result<(), StreamError> {
        let code = info.rtype;
        let at = || Location::record(info);
        let mut first: Option<StreamError> = None;
        let mut fail = |e: StreamError| {
            if first.is_none() {
                first = Some(e);
            }
        };
        let pv = self.domain == DomainType::X86Pv;

        // Guest type.
        if pv && HVM_ONLY_RECORDS.contains(&code) {
            fail(StreamError::WrongGuestType {
                at: at(),
                wants: "x86 HVM",
                guest: "x86 PV",
            });
        } else if !pv && PV_ONLY_RECORDS.contains(&code) {
            fail(StreamError::WrongGuestType {
                at: at(),
                wants: "x86 PV",
                guest: "x86 HVM",
            });
        }

        // STATIC_DATA_END: exactly once, before the dynamic state.
        if code == LibxcRecord::STATIC_DATA_END {
            match self.sde_at {
                Some(first) => fail(StreamError::DuplicateStaticDataEnd { at: at(), first }),
                None => self.sde_at = Some(info.offset),
            }
        } else if self.version < 3 {
            if self.sde_at.is_none() && code == v2_static_data_end_at(self.domain) {
                self.sde_at = Some(info.offset);
            }
        } else if self.sde_at.is_none() && DYNAMIC_RECORDS.contains(&code) {
            fail(StreamError::MissingStaticDataEnd { at: at() });
        }

        // PV order: X86_PV_INFO, X86_PV_P2M_FRAMES, PAGE_DATA, vCPUs.
        if pv {
            if code == LibxcRecord::X86_PV_P2M_FRAMES && !self.pv_info_seen {
                fail(StreamError::OutOfOrder {
                    at: at(),
                    reason: "X86_PV_P2M_FRAMES must come after X86_PV_INFO",
                });
            }
            if code == LibxcRecord::PAGE_DATA && !self.p2m_seen {
                fail(StreamError::OutOfOrder {
                    at: at(),
                    reason: "PAGE_DATA of a PV guest must come after X86_PV_P2M_FRAMES",
                });
            }
            if PV_VCPU_RECORDS.contains(&code) && !self.page_data_seen {
                fail(StreamError::OutOfOrder {
                    at: at(),
                    reason: "vCPU records must come after the first PAGE_DATA",
                });
            }
        } else if code == LibxcRecord::HVM_PARAMS {
            if let Some(context_offset) = self.seg_hvm_context_at {
                if self.version >= 4 {
                    fail(StreamError::OutOfOrder {
                        at: at(),
                        reason: "HVM_PARAMS must come before HVM_CONTEXT in a segment",
                    });
                } else {
                    warn(Warning::HvmParamsAfterContext {
                        record: info,
                        context_offset,
                    });
                }
            }
        }

        match code {
            LibxcRecord::X86_PV_INFO => self.pv_info_seen = true,
            LibxcRecord::X86_PV_P2M_FRAMES => self.p2m_seen = true,
            LibxcRecord::PAGE_DATA => self.page_data_seen = true,
            LibxcRecord::HVM_CONTEXT => {
                self.seg_hvm_context_at.get_or_insert(info.offset);
            }
            LibxcRecord::DOMAIN_CONTEXT => self.seg_domain_context = true,
            _ => {}
        }

        // End of a segment.
        if code == LibxcRecord::CHECKPOINT || code == LibxcRecord::END {
            if code == LibxcRecord::END && self.version >= 3 && self.sde_at.is_none() {
                fail(StreamError::MissingStaticDataEnd { at: at() });
            }
            if self.version >= 4 && !self.seg_domain_context {
                fail(StreamError::MissingDomainContext { at: at() });
            }
            self.seg_hvm_context_at = None;
            self.seg_domain_context = false;
        }
        match first {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Verifies a libxc stream record by record.
///
/// [`verify`] and [`verify_seekable`] cover the common cases; use a
/// `Verifier` directly to keep the reader (for what follows the stream) or
/// to act on each record as it is verified ([`Verifier::step`]).
///
/// ```
/// use format_spec::libxc::{DomainType, LibxcRecord};
/// use format_spec::stream::{verify, ErrorKind, StreamWriter, VerifyOptions, WriterOptions};
///
/// let mut w = StreamWriter::new(Vec::new(), WriterOptions::new(DomainType::X86Hvm).version(3))?;
/// w.write(&LibxcRecord::StaticDataEnd)?;
/// w.write_page_data(&[0, 1], &[0u8; 2 * 4096])?;
/// let mut bytes = w.finish()?;
///
/// let report = verify(&bytes[..], VerifyOptions::strict())?;
/// assert_eq!(report.data_pages, 2);
/// assert_eq!(report.records_by_type[&LibxcRecord::PAGE_DATA], 1);
///
/// // One octet after END: strict mode refuses it, lenient mode does not look.
/// bytes.push(0);
/// let err = verify(&bytes[..], VerifyOptions::strict()).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::TrailingData);
/// assert_eq!(err.offset(), bytes.len() as u64 - 1);
/// assert!(verify(&bytes[..], VerifyOptions::lenient()).is_ok());
/// # Ok::<(), format_spec::stream::StreamError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Verifier {
    opts: VerifyOptions,
    order: Order,
    endian: Endian,
    report: Report,
}

impl Verifier {
    /// A verifier for the stream `reader` has opened (its headers are
    /// already checked).
    pub fn new<R: Read>(reader: &StreamReader<R>, opts: VerifyOptions) -> Self {
        Self::for_core(&reader.core, opts)
    }

    /// A verifier for the stream `reader` has opened, whatever drives it.
    pub(crate) fn for_core<I>(reader: &Core<I>, opts: VerifyOptions) -> Self {
        let start = opts.base_offset;
        Verifier {
            opts,
            order: Order::new(reader.image_header().version, reader.domain_type()),
            endian: reader.endian(),
            report: Report {
                image_header: *reader.image_header(),
                domain_header: *reader.domain_header(),
                start_offset: start,
                end_offset: reader.position(),
                records: 0,
                records_by_type: BTreeMap::new(),
                unknown_optional: 0,
                skipped_by_type: BTreeMap::new(),
                bytes_by_type: BTreeMap::new(),
                pages_by_type: [0; 16],
                pfn_entries: 0,
                data_pages: 0,
                segments: 1,
                interleaved: 0,
                complete: false,
                warnings: Vec::new(),
                warnings_dropped: 0,
                notes: Vec::new(),
            },
        }
    }

    /// The report so far.
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// The report, giving up the verifier.
    pub fn into_report(self) -> Report {
        self.report
    }

    fn note(report: &mut Report, w: Warning) {
        let same = |n: &&mut Note| std::mem::discriminant(&n.first) == std::mem::discriminant(&w);
        match report.notes.iter_mut().find(same) {
            Some(n) => n.count += 1,
            None => report.notes.push(Note { first: w, count: 1 }),
        }
    }

    fn warn(report: &mut Report, max: usize, w: Warning) {
        if report.warnings.len() < max {
            report.warnings.push(w);
        } else {
            report.warnings_dropped += 1;
        }
    }

    /// Verifies the next record; returns it, or `None` once END has been
    /// verified (and, for a bare stream in strict mode, the end of the
    /// input checked).
    ///
    /// The verifier keeps its state (order rules, segment rules, report)
    /// between calls, not the reader: after a CHECKPOINT, the reader may be
    /// suspended and a resumed one passed in for the next segment (see
    /// [`StreamReader::suspend`]).
    pub fn step<R: Read>(
        &mut self,
        reader: &mut StreamReader<R>,
    ) -> Result<Option<RecordInfo>, StreamError> {
        now(self.step_core(&mut reader.core))
    }

    /// [`step`](Self::step), whatever drives the reader.
    pub(crate) async fn step_core<I: Input>(
        &mut self,
        reader: &mut Core<I>,
    ) -> Result<Option<RecordInfo>, StreamError> {
        // A resumed reader starts past the octets another layer read.
        self.report.interleaved += reader.position().saturating_sub(self.report.end_offset);
        let res = self.step_inner(reader).await;
        self.report.end_offset = reader.position();
        res
    }

    async fn step_inner<I: Input>(
        &mut self,
        reader: &mut Core<I>,
    ) -> Result<Option<RecordInfo>, StreamError> {
        if self.report.complete {
            return Ok(None);
        }
        let strict = self.opts.mode == Mode::Strict;
        let max = self.opts.max_warnings;
        let Some(info) = reader.next_header().await? else {
            return Ok(None);
        };
        self.report.records += 1;
        let Some(layout) = LibxcRecord::LAYOUT.by_code(info.rtype) else {
            reader.finish_current().await?;
            self.report.unknown_optional += 1;
            *self.report.skipped_by_type.entry(info.rtype).or_insert(0) += 1;
            Self::warn(
                &mut self.report,
                max,
                Warning::SkippedOptional { record: info },
            );
            return Ok(Some(info));
        };
        if info.rtype == LibxcRecord::PAGE_DATA {
            let (_, res1, data_pages) = reader.page_batch().await?;
            let pfns = reader.pfns();
            let reserved = if strict {
                check::check_page_reserved(info, res1, pfns).err()
            } else {
                None
            };
            for e in pfns {
                self.report.pages_by_type[(e >> PAGE_DATA_TYPE_SHIFT) as usize & 0xf] += 1;
            }
            self.report.pfn_entries += pfns.len() as u64;
            self.report.data_pages += data_pages as u64;
            reader.finish_current().await?;
            if let Some(e) = reserved {
                return Err(e);
            }
        } else {
            let endian = self.endian;
            let body = reader.read_body().await?;
            check::validate(info, body, endian, self.opts.mode)?;
            if strict && info.rtype == LibxcRecord::DOMAIN_CONTEXT {
                // The blob's own rules, as the generated Python checks them.
                crate::domain_context::verify(body, endian).map_err(|source| {
                    StreamError::DomainContext {
                        at: Location::in_record(info, info.body_offset() + source.offset as u64),
                        source,
                    }
                })?;
            }
            if strict && info.rtype == LibxcRecord::HVM_CONTEXT {
                crate::hvm_context::verify(body, endian).map_err(|source| {
                    StreamError::HvmContext {
                        at: Location::in_record(info, info.body_offset() + source.offset as u64),
                        source,
                    }
                })?;
            }
            if check::is_empty_content(layout, body.len()) {
                Self::warn(
                    &mut self.report,
                    max,
                    Warning::EmptyContent { record: info },
                );
            }
        }
        if let Some(since) = layout.deprecated.filter(|d| *d > 0) {
            if layout.deprecated_in(self.report.image_header.version) {
                Self::warn(
                    &mut self.report,
                    max,
                    Warning::Deprecated {
                        record: info,
                        since,
                    },
                );
            }
        }
        {
            let report = &mut self.report;
            let res = self.order.record(info, &mut |w| {
                if !strict && Note::applies_to(&w) {
                    Self::note(report, w)
                } else {
                    Self::warn(report, max, w)
                }
            });
            if strict {
                res?;
            }
        }
        *self.report.records_by_type.entry(info.rtype).or_insert(0) += 1;
        *self.report.bytes_by_type.entry(info.rtype).or_insert(0) += u64::from(info.length);
        if info.rtype == LibxcRecord::CHECKPOINT {
            self.report.segments += 1;
        }
        if info.rtype == LibxcRecord::END {
            if strict && self.opts.bare && reader.probe_trailing().await? {
                return Err(StreamError::TrailingData {
                    at: Location::at(reader.position()),
                });
            }
            self.report.complete = true;
        }
        Ok(Some(info))
    }

    /// Verifies every remaining record up to and including END.
    pub fn run<R: Read>(&mut self, reader: &mut StreamReader<R>) -> Result<(), StreamError> {
        while self.step(reader)?.is_some() {}
        Ok(())
    }
}

/// Verifies a whole stream from any [`Read`] (a pipe, a socket): page
/// contents are read through. Wrap unbuffered inputs in a
/// [`std::io::BufReader`].
pub fn verify<R: Read>(input: R, opts: VerifyOptions) -> Result<Report, StreamError> {
    let mut reader = StreamReader::with_options(input, opts.reader_options())?;
    let mut v = Verifier::new(&reader, opts);
    v.run(&mut reader)?;
    Ok(v.into_report())
}

/// Verifies a whole stream from an input that can seek: page contents are
/// skipped with seeks (see [`StreamReader::seekable`]), which makes a file
/// on disk much faster to verify.
///
/// ```
/// use std::io::Cursor;
/// use format_spec::libxc::{DomainType, LibxcRecord};
/// use format_spec::stream::{verify_seekable, StreamWriter, VerifyOptions, WriterOptions};
///
/// let mut w = StreamWriter::new(Vec::new(), WriterOptions::new(DomainType::X86Hvm).version(3))?;
/// w.write(&LibxcRecord::StaticDataEnd)?;
/// let pfns: Vec<u64> = (0..100).collect();
/// w.write_page_data(&pfns, &vec![0u8; 100 * 4096])?;
/// let bytes = w.finish()?;
/// let report = verify_seekable(Cursor::new(bytes), VerifyOptions::strict())?;
/// assert_eq!(report.data_pages, 100);
/// # Ok::<(), format_spec::stream::StreamError>(())
/// ```
pub fn verify_seekable<R: Read + Seek>(
    input: R,
    opts: VerifyOptions,
) -> Result<Report, StreamError> {
    let mut reader = StreamReader::seekable(input, opts.reader_options())?;
    let mut v = Verifier::new(&reader, opts);
    v.run(&mut reader)?;
    Ok(v.into_report())
}
