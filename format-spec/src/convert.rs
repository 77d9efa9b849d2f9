//! Converting streams between the versions of the libxc stream that
//! [`TARGET_VERSIONS`] lists, forward only.
//!
//! Version 4 of the libxc stream moves the content of two version 3
//! records, SHARED_INFO and X86_TSC_INFO, into the blob of one
//! DOMAIN_CONTEXT record ([`crate::domain_context`]). [`convert`] rewrites
//! a stream from one version to the other while it is read: from a file, a
//! pipe or a socket, to any [`Write`]. It takes bare libxc streams, bare
//! libxl streams and whole `xl save` files; the outer layers (xl header,
//! libxl records around the nested libxc stream) are copied octet for
//! octet, only the libxc stream changes.
//!
//! # What changes
//!
//! `--to 4` (input version 3):
//! * the image header's version becomes 4; the domain header is kept;
//! * in every segment (the part of the stream before a CHECKPOINT, or
//!   before END), SHARED_INFO and X86_TSC_INFO are taken out and folded
//!   into one DOMAIN_CONTEXT record: HEADER (the domain header's Xen
//!   version), SHARED_INFO (if the segment had one), TSC_INFO (if the
//!   segment had one), END. A segment without either still gets a
//!   DOMAIN_CONTEXT (HEADER and END only), as version 4 requires one per
//!   segment;
//! * **placement rule**: the DOMAIN_CONTEXT record is written immediately
//!   before the first *anchor* record the segment's output holds. Anchors
//!   are the records the spec lists after DOMAIN_CONTEXT: for a PV guest
//!   the `X86_PV_VCPU_*` records, for an HVM guest HVM_PARAMS and
//!   HVM_CONTEXT, and for both the CHECKPOINT or END that closes the
//!   segment. Xen writes X86_TSC_INFO and SHARED_INFO after the page data
//!   and right before those records, so the blob takes their place. A
//!   SHARED_INFO or X86_TSC_INFO that comes after the DOMAIN_CONTEXT was
//!   written cannot be folded without holding back other records and is
//!   refused ([`ConvertError::Unfoldable`]);
//! * the compat flag of the blob's SHARED_INFO comes from X86_PV_INFO's
//!   `guest_width` for a PV guest (4: compat, 2344 octets kept; 8: 3136
//!   octets kept). An HVM guest's v3 stream holds no guest width and Xen
//!   never writes SHARED_INFO for one; should one be present, the blob
//!   gets the 64-bit layout (flag clear, 3136 octets), which holds every
//!   octet a compat layout uses too;
//! * version 4 requires HVM_PARAMS before HVM_CONTEXT in a segment, but
//!   Xen 4.17 writes HVM_CONTEXT first (the version 3 verifier only warns).
//!   An HVM_CONTEXT that comes before the segment's HVM_PARAMS is held
//!   back and written right after HVM_PARAMS (or before the CHECKPOINT or
//!   END closing the segment if none comes).
//!
//! `--to 3` (input version 4) reverses this: the image header's version
//! becomes 3, each DOMAIN_CONTEXT becomes X86_TSC_INFO then SHARED_INFO
//! (the order Xen's version 3 saver uses) in its place, and an HVM_PARAMS
//! that precedes the segment's HVM_CONTEXT is held back and written right
//! after it, which is the order Xen 4.17 writes (the strict verifier
//! accepts it in version 3 with a `HvmParamsAfterContext` warning, as it
//! does for Xen's own files).
//!
//! So `v3 -> v4 -> v3` gives back the original octets for every version 3
//! stream in the *canonical* order, which is what `--to 3` writes: per
//! segment, X86_TSC_INFO (if any) then SHARED_INFO (if any) immediately
//! before the segment's first anchor, and for HVM an HVM_CONTEXT that
//! precedes HVM_PARAMS immediately followed by it; padding zero, shared
//! info page zero past the guest's shared info size, X86_TSC_INFO `_res1`
//! zero and a Xen version below 65536. Xen 4.17's own save files are in
//! this order. Any other stream reaches the canonical order after one
//! round trip.
//!
//! # Version 2
//!
//! Version 2 is what Xen 4.6 to 4.13 wrote; it has no STATIC_DATA_END
//! record, and a version 3 receiver infers one at the first
//! X86_PV_P2M_FRAMES (PV guest) or the first PAGE_DATA (HVM guest), the
//! record [`v2_static_data_end_at`] names. Both targets take version 2
//! input:
//!
//! * `--to 3`: the image header's version becomes 3 and an explicit
//!   STATIC_DATA_END (empty body) is written immediately before that first
//!   record, once per stream (not per segment). Nothing else changes: the
//!   other records, their order and the outer layers are copied as they
//!   are, so the output differs from the input only in the version field
//!   and the 8 octets of the added record;
//! * `--to 4`: the same STATIC_DATA_END is added, then the stream is
//!   rewritten as a version 3 stream would be (see "What changes").
//!
//! A version 2 stream without that record gets no STATIC_DATA_END; a
//! version 3 stream needs one before its first dynamic record, so such an
//! input fails with [`ConvertError::InvalidOutput`] at that record. A
//! version 2 stream read leniently that already holds a STATIC_DATA_END
//! keeps it and gets no second one.
//!
//! `--to 2` (input version 3 or 4), for a receiver that only reads
//! version 2 (Xen 4.13 and older):
//! * the image header's version becomes 2;
//! * STATIC_DATA_END is dropped: a version 2 receiver infers it;
//! * version 4 input is first unfolded as by `--to 3` (DOMAIN_CONTEXT
//!   becomes X86_TSC_INFO then SHARED_INFO, HVM_PARAMS after
//!   HVM_CONTEXT);
//! * every other record version 2 does not know (X86_CPUID_POLICY,
//!   X86_MSR_POLICY: the record table's `since` is above 2) would be
//!   dropped, which loses the guest's CPU policy: a
//!   [`LossKind::NewerRecord`] (an error unless lossy conversion is
//!   asked for). Unknown optional records are copied, as a receiver skips
//!   them;
//! * everything else is copied as it is.
//!
//! So `v2 -> v3 -> v2` gives back the original octets for every version 2
//! stream, and `v3 -> v2 -> v3` does for a version 3 stream in the
//! canonical order for this step: STATIC_DATA_END immediately before the
//! record where a receiver infers it, and no CPU policy records.
//!
//! # Memory
//!
//! Page data is copied through a fixed buffer (at most [`COPY_PAGES`]
//! pages) straight from the input to the output; nothing else is read
//! ahead. Any other record body is in memory once: the reader's buffer
//! becomes the body (moved, not copied), only X86_PV_INFO and X86_TSC_INFO
//! are parsed into values (every other body is checked where it is), and
//! the shadow verifier is handed the body it checks instead of reading a
//! copy. A conversion holds one record plus a fixed amount (a test
//! measures 128 MiB and 0.4 MiB for a 128 MiB optional record or
//! HVM_CONTEXT). The only records held back are those moved: at most one
//! SHARED_INFO page, one X86_TSC_INFO and one HVM_CONTEXT or HVM_PARAMS
//! body per segment, besides the record being converted.
//!
//! # Checks and losses
//!
//! The input is read with the whole-input reader
//! ([`crate::save::SaveReader`], every layer, checkpoints included, offsets
//! absolute in every segment) in the [`Mode`] given (strict by default:
//! framing, padding, every record body and its reserved fields). Each DOMAIN_CONTEXT blob is checked with
//! [`crate::domain_context::verify`]. Octets a conversion cannot carry over are
//! *losses* ([`LossKind`]); each is a [`ConvertError::Lossy`] unless the
//! caller sets [`ConvertOptions::lossy`], in which case they are dropped
//! and listed in the [`ConvertReport`].
//!
//! The output is verified as it is written: a shadow [`Verifier`] (in the
//! input's mode) reads every record before it goes out, with zeros
//! standing in for page contents (skipped, never copied), so a conversion
//! in strict mode never writes a record the strict verifier refuses. An
//! input that breaks a rule the conversion carries over (the record order,
//! say) fails with [`ConvertError::InvalidOutput`]; its verdict on the
//! whole output is [`ConvertReport::output`].
//!
//! Octets after the stream's final END (libxl END, or libxc END for a bare
//! libxc stream) are an error in strict mode; in lenient mode they are
//! neither read nor copied.
//!
//! ```
//! use format_spec::convert::{convert, ConvertOptions};
//! use format_spec::libxc::*;
//! use format_spec::stream::{verify, StreamWriter, VerifyOptions, WriterOptions};
//!
//! let mut w = StreamWriter::new(Vec::new(), WriterOptions::new(DomainType::X86Pv).version(3))?;
//! w.write(&LibxcRecord::X86PvInfo(X86PvInfo { guest_width: 8, pt_levels: 4, _res: [0; 6] }))?;
//! w.write(&LibxcRecord::StaticDataEnd)?;
//! w.write(&LibxcRecord::X86PvP2mFrames(X86PvP2mFrames { start_pfn: 0, end_pfn: 511, p2m_pfns: vec![9] }))?;
//! w.write_page_data(&[0], &[0x5a; 4096])?;
//! w.write(&LibxcRecord::X86TscInfo(X86TscInfo { mode: 0, khz: 1000, nsec: 5, incarnation: 1, _res1: 0 }))?;
//! let context = vec![0; pv_vcpu_basic_size(8).unwrap()];
//! w.write(&LibxcRecord::X86PvVcpuBasic(X86PvVcpu { vcpu_id: 0, _res1: 0, context }))?;
//! let v3 = w.finish()?;
//!
//! let mut v4 = Vec::new();
//! convert(&v3[..], &mut v4, ConvertOptions::to(4)).unwrap();
//! let report = verify(&v4[..], VerifyOptions::strict())?;
//! assert_eq!(report.records_by_type[&LibxcRecord::DOMAIN_CONTEXT], 1);
//!
//! let mut back = Vec::new();
//! convert(&v4[..], &mut back, ConvertOptions::to(3)).unwrap();
//! assert_eq!(back, v3);
//! # Ok::<(), format_spec::stream::StreamError>(())
//! ```

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::rc::Rc;

use binrw::Endian;

use crate::domain_context::{self as dc, V3Parts};
use crate::layout::Wire;
use crate::libxc::{
    infers_static_data_end, padding_after, v2_static_data_end_at, DomainType, LibxcRecord,
    RecordHeader, X86PvInfo, X86TscInfo, DOMAIN_CONTEXT_SINCE, PAGE_SIZE, PV_COMPAT_GUEST_WIDTH,
    PV_VCPU_RECORDS, RECORD_HEADER_SIZE, REC_TYPE_OPTIONAL, STATIC_DATA_END_SINCE, ZERO_PADDING,
};
use crate::outer::{self, FormatChoice, LibxcStop, OuterError};
use crate::save::{Event, Options as SaveOptions, SaveReader};
use crate::stream::{
    check_page_reserved, check_record, parse_record, Failover, Location, Mode, RecordInfo, Report,
    StreamError, StreamReader, Verifier, VerifyOptions,
};

/// Pages of contents copied at a time (a 256 KiB buffer, reused).
pub const COPY_PAGES: usize = 64;

/// How many losses a [`ConvertReport`] lists; further ones are counted.
pub const MAX_LISTED_LOSSES: usize = 100;

/// The three versions a conversion reads and writes, as the description
/// dates the records they differ by: the last without STATIC_DATA_END, the
/// last without DOMAIN_CONTEXT, and the first with it.
const V_NO_SDE: u32 = STATIC_DATA_END_SINCE - 1;
/// See [`V_NO_SDE`].
const V_NO_DC: u32 = DOMAIN_CONTEXT_SINCE - 1;
/// See [`V_NO_SDE`].
const V_DC: u32 = DOMAIN_CONTEXT_SINCE;

/// The versions [`convert`] writes (and reads): the last without
/// STATIC_DATA_END, the last without DOMAIN_CONTEXT and the first with it.
pub const TARGET_VERSIONS: [u32; 3] = [V_NO_SDE, V_NO_DC, V_DC];

/// How to convert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvertOptions {
    /// The version to write, one of [`TARGET_VERSIONS`]. The input must
    /// be one of the others.
    pub to: u32,
    /// How the input is checked while it is read ([`Mode::Strict`] by
    /// default). Lenient input may hold non-zero padding, which the output
    /// replaces with zeros.
    pub mode: Mode,
    /// Drop what the output cannot carry (listed in the report) instead of
    /// failing with [`ConvertError::Lossy`].
    pub lossy: bool,
    /// What the input starts with (detected by default).
    pub format: FormatChoice,
}

impl ConvertOptions {
    /// Strict, exact conversion to version `to`, format detected.
    pub fn to(to: u32) -> Self {
        ConvertOptions {
            to,
            mode: Mode::Strict,
            lossy: false,
            format: FormatChoice::Auto,
        }
    }

    /// Sets the input checking mode.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Allows (or refuses) lossy conversion.
    pub fn lossy(mut self, lossy: bool) -> Self {
        self.lossy = lossy;
        self
    }

    /// Sets what the input starts with.
    pub fn format(mut self, format: FormatChoice) -> Self {
        self.format = format;
        self
    }
}

/// Something the output could not carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LossKind {
    /// v3 to v4: a non-zero octet of the SHARED_INFO page past the shared
    /// info size the blob keeps.
    SharedInfoTail {
        /// Offset of the first such octet within the page.
        page_offset: usize,
        /// Octets the blob keeps.
        kept: usize,
    },
    /// v3 to v4: X86_TSC_INFO's reserved `_res1` is not zero (only in
    /// lenient mode; strict mode refuses it as a reserved field).
    TscReserved {
        /// Its value.
        value: u32,
    },
    /// v4 to v3: the blob's TSC_INFO tail octets (`_pad`) are not zero.
    TscPad {
        /// Their value.
        value: u32,
    },
    /// v3 to v4: the domain header's Xen version does not fit the blob's
    /// 16-bit fields; v4 to v3: the blob's Xen version differs from the
    /// domain header's, which is all a version 3 stream keeps.
    XenVersion {
        /// The domain header's version.
        header: (u32, u32),
        /// The blob's version (as written, or as found).
        blob: (u16, u16),
    },
    /// v3 or v4 to v2: a record version 2 does not know (other than
    /// STATIC_DATA_END, which a version 2 receiver infers), dropped whole.
    NewerRecord {
        /// Its type code.
        rtype: u32,
        /// The version that introduced it.
        since: u32,
    },
    /// v4 to v3: the blob's compat flag disagrees with what the version 3
    /// stream implies (X86_PV_INFO's guest width for PV; always clear for
    /// HVM, whose v3 stream has no way to say it).
    CompatFlag {
        /// The flag in the blob.
        blob: bool,
        /// What the output stream implies.
        implied: bool,
    },
}

impl fmt::Display for LossKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = |code| LibxcRecord::LAYOUT.name_of(code);
        let tsc = name(LibxcRecord::X86_TSC_INFO);
        match self {
            LossKind::SharedInfoTail { page_offset, kept } => write!(
                f,
                "the {} page has a non-zero octet at {page_offset}, past the {kept} octets the blob keeps",
                name(LibxcRecord::SHARED_INFO)
            ),
            LossKind::TscReserved { value } => {
                write!(f, "{tsc} _res1 is 0x{value:x}, which the blob cannot carry")
            }
            LossKind::TscPad { value } => write!(
                f,
                "the blob's TSC_INFO tail octets are 0x{value:x}, which {tsc} cannot carry"
            ),
            LossKind::XenVersion { header, blob } => write!(
                f,
                "Xen version {}.{} in the domain header and {}.{} in the blob cannot both be kept",
                header.0, header.1, blob.0, blob.1
            ),
            LossKind::NewerRecord { rtype, since } => write!(
                f,
                "{} (0x{rtype:x}) is a version {since} record, which version {V_NO_SDE} cannot carry",
                LibxcRecord::LAYOUT
                    .by_code(*rtype)
                    .map_or("the record", |l| l.spec_name)
            ),
            LossKind::CompatFlag { blob, implied } => write!(
                f,
                "the blob's compat flag is {blob} but the version {V_NO_DC} stream implies {implied}"
            ),
        }
    }
}

/// A loss and where it happened in the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loss {
    /// The input record and offset of the octets concerned.
    pub at: Location,
    /// What was lost.
    pub kind: LossKind,
}

impl fmt::Display for Loss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.at)?;
        write!(f, ": {}", self.kind)
    }
}

/// Why a conversion failed. Every variant says where in the input.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// The libxc stream breaks a rule of the reader.
    #[error(transparent)]
    Stream(#[from] StreamError),
    /// The outer layers (xl header, libxl stream) break a rule.
    #[error(transparent)]
    Outer(#[from] OuterError),
    /// Writing the output failed.
    #[error("I/O error writing the output at output offset {out_offset} (input offset {offset}): {source}")]
    Write {
        /// Input offset reached.
        offset: u64,
        /// Output offset reached.
        out_offset: u64,
        /// The error.
        source: io::Error,
    },
    /// The input's libxc stream is not a version converted from: each
    /// target takes the other versions of [`TARGET_VERSIONS`].
    #[error("{at}: the libxc stream is version {found}; converting to version {to} needs version {wanted} or {other}")]
    WrongVersion {
        /// The image header's version field.
        at: Location,
        /// The version found.
        found: u32,
        /// One version accepted (the lower).
        wanted: u32,
        /// The other version accepted.
        other: u32,
        /// The target version.
        to: u32,
    },
    /// The requested output version is not one of [`TARGET_VERSIONS`].
    #[error(
        "cannot convert to version {to}: only versions {} are written",
        crate::stream::versions_in_words(&TARGET_VERSIONS)
    )]
    BadTarget {
        /// The version asked for.
        to: u32,
    },
    /// The outer layers end without a libxc stream.
    #[error("offset {offset}: the stream ends without a libxc stream")]
    NoLibxcStream {
        /// Where the stream ended.
        offset: u64,
    },
    /// A PV guest's shared info must be folded or checked before its
    /// X86_PV_INFO (which gives the guest width) was seen.
    #[error("{at}: a PV guest's shared info comes before X86_PV_INFO, so its width is unknown")]
    MissingPvInfo {
        /// The record needing the width.
        at: Location,
    },
    /// A record that the conversion moves appears twice in a segment.
    #[error("{at}: a second {name} in the segment (the first is at offset {first})")]
    Duplicate {
        /// The second record.
        at: Location,
        /// Its name.
        name: &'static str,
        /// Offset of the first.
        first: u64,
    },
    /// SHARED_INFO or X86_TSC_INFO after the segment's DOMAIN_CONTEXT
    /// position (see the placement rule in the module docs).
    #[error("{at}: comes after {anchor}, where the segment's DOMAIN_CONTEXT goes; folding it would reorder other records")]
    Unfoldable {
        /// The record that cannot be folded.
        at: Location,
        /// The record the DOMAIN_CONTEXT was written before.
        anchor: RecordInfo,
    },
    /// A version 4 segment without DOMAIN_CONTEXT.
    #[error("{at}: the segment ends without a DOMAIN_CONTEXT record")]
    MissingDomainContext {
        /// The CHECKPOINT or END closing the segment.
        at: Location,
    },
    /// SHARED_INFO or X86_TSC_INFO in a version 4 stream, where the blob
    /// carries their content.
    #[error("{at}: a deprecated record in a version {V_DC} stream; the DOMAIN_CONTEXT blob carries its content")]
    DeprecatedInV4 {
        /// The record.
        at: Location,
    },
    /// The DOMAIN_CONTEXT blob is not valid, or does not fit version 3.
    #[error("{at}: DOMAIN_CONTEXT blob: {source}")]
    Blob {
        /// The record, and the absolute offset of the offending octets.
        at: Location,
        /// What is wrong.
        source: dc::V3Error,
    },
    /// The record about to be written would break a rule of the verifier
    /// (in the input's mode) on the output: the input breaks a rule the
    /// conversion carries over, such as the record order. Nothing of that
    /// record has been written.
    #[error("converting the input at offset {offset} would write an invalid stream: {source} (offsets in the output)")]
    InvalidOutput {
        /// Input offset of the record being converted.
        offset: u64,
        /// What the verifier said about the output.
        source: StreamError,
    },
    /// The conversion would drop octets, and lossy conversion was not
    /// asked for.
    #[error("{0} (allow lossy conversion to drop it)")]
    Lossy(Loss),
    /// Lenient mode: the libxc stream of a checkpointed input breaks off
    /// inside a segment after a CHECKPOINT, where Xen's restore fails over
    /// to the last checkpoint ([`crate::save::SaveReader::failover_on`]).
    /// The output written is a valid stream up to `report.bytes_out`, the
    /// last checkpoint boundary (where a checkpointed stream may end, in
    /// both modes): what Xen restores. The octets after it (the dropped
    /// segment, as far as it was converted) must be cut off, as
    /// `xenstream convert` does with its output file; `report` is the
    /// conversion's report as of the boundary, its `output` the
    /// verifier's report on the output cut there.
    #[error("the input fails over, as Xen's restore does: {failover}; the output is complete up to output offset {}, the last checkpoint boundary, and must be cut there", report.bytes_out)]
    FailedOver {
        /// The segment the input drops, and why.
        failover: Failover,
        /// The conversion up to the boundary.
        report: Box<ConvertReport>,
    },
}

impl From<crate::save::Error> for ConvertError {
    fn from(e: crate::save::Error) -> Self {
        match e {
            crate::save::Error::Stream(e) => ConvertError::Stream(e),
            crate::save::Error::Outer(e) => ConvertError::Outer(e),
            crate::save::Error::NoLibxcStream { offset } => ConvertError::NoLibxcStream { offset },
        }
    }
}

impl ConvertError {
    /// Absolute input offset the error concerns.
    pub fn offset(&self) -> u64 {
        match self {
            ConvertError::Stream(e) => e.offset(),
            ConvertError::Outer(e) => e.offset(),
            ConvertError::Write { offset, .. } => *offset,
            ConvertError::NoLibxcStream { offset } => *offset,
            ConvertError::InvalidOutput { offset, .. } => *offset,
            ConvertError::BadTarget { .. } => 0,
            ConvertError::WrongVersion { at, .. }
            | ConvertError::MissingPvInfo { at }
            | ConvertError::Duplicate { at, .. }
            | ConvertError::Unfoldable { at, .. }
            | ConvertError::MissingDomainContext { at }
            | ConvertError::DeprecatedInV4 { at }
            | ConvertError::Blob { at, .. } => at.offset,
            ConvertError::Lossy(l) => l.at.offset,
            ConvertError::FailedOver { report, .. } => report.bytes_in,
        }
    }

    /// A stable name for the kind of error: the variant's name, or for
    /// stream and outer errors their own kind name.
    pub fn kind(&self) -> &'static str {
        match self {
            ConvertError::Stream(e) => e.kind().as_str(),
            ConvertError::Outer(e) => e.kind(),
            ConvertError::Write { .. } => "Write",
            ConvertError::WrongVersion { .. } => "WrongVersion",
            ConvertError::BadTarget { .. } => "BadTarget",
            ConvertError::NoLibxcStream { .. } => "NoLibxcStream",
            ConvertError::MissingPvInfo { .. } => "MissingPvInfo",
            ConvertError::Duplicate { .. } => "Duplicate",
            ConvertError::Unfoldable { .. } => "Unfoldable",
            ConvertError::MissingDomainContext { .. } => "MissingDomainContext",
            ConvertError::DeprecatedInV4 { .. } => "DeprecatedInV4",
            ConvertError::Blob { .. } => "Blob",
            ConvertError::InvalidOutput { .. } => "InvalidOutput",
            ConvertError::Lossy(_) => "Lossy",
            ConvertError::FailedOver { .. } => "FailedOver",
        }
    }
}

/// What a conversion did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvertReport {
    /// What the input started with.
    pub format: outer::Format,
    /// Version of the input's libxc stream.
    pub from: u32,
    /// Version written.
    pub to: u32,
    /// Guest type.
    pub domain: DomainType,
    /// Octets read from the input.
    pub bytes_in: u64,
    /// Octets written.
    pub bytes_out: u64,
    /// libxc records read (END included).
    pub records_in: u64,
    /// libxc records written (END included).
    pub records_out: u64,
    /// Segments (CHECKPOINT records plus one).
    pub segments: u64,
    /// Pages whose contents were copied.
    pub data_pages: u64,
    /// Octets of page contents the kernel moved from the input to the
    /// output ([`convert_zero_copy`]; 0 for [`convert`], or where the
    /// kernel refused).
    pub kernel_octets: u64,
    /// The first [`MAX_LISTED_LOSSES`] losses (lossy conversion only).
    pub losses: Vec<Loss>,
    /// Losses beyond those listed.
    pub losses_dropped: u64,
    /// The verifier's report on the libxc stream written (strict unless
    /// the input was read leniently), with its warnings; offsets are in
    /// the output.
    pub output: Report,
}

/// What the tee shares with its owner: whether octets read are captured
/// for the output, and those captured.
#[derive(Debug, Default)]
struct TeeState {
    capture: Cell<bool>,
    captured: RefCell<Vec<u8>>,
    /// Octets read through the tee in all.
    total: Cell<u64>,
    /// Page contents the kernel moved (zero-copy conversion).
    kernel: Cell<u64>,
    /// The output failed while page contents were passed to it (the
    /// reader sees an I/O error; this is the output's).
    out_failed: RefCell<Option<io::Error>>,
}

/// Reads from the input and, while capturing, keeps a copy of every octet
/// read so that the outer layers can be written out unchanged.
struct Tee<R> {
    inner: BufReader<R>,
    state: Rc<TeeState>,
    /// Zero-copy conversion: moves page contents from the input's file
    /// descriptor to the output's.
    #[cfg(unix)]
    mover: Option<crate::zero_copy::Mover>,
}

/// An input or output of a conversion: plain, or a file descriptor the
/// kernel can move octets from or to.
trait Side {
    /// The file descriptor, for a zero-copy conversion.
    #[cfg(unix)]
    fn raw_fd(&self) -> Option<std::os::fd::RawFd>;
    /// The kernel moved `n` octets from or to it.
    fn kernel_moved(&mut self, n: u64);
}

/// An input or output read and written only through `Read` and `Write`.
struct Plain<T>(T);

impl<T> Side for Plain<T> {
    #[cfg(unix)]
    fn raw_fd(&self) -> Option<std::os::fd::RawFd> {
        None
    }
    fn kernel_moved(&mut self, _: u64) {}
}

/// An input or output whose file descriptor the kernel moves page
/// contents from or to.
#[cfg(unix)]
struct Kernel<T>(T);

#[cfg(unix)]
impl<T: KernelIo> Side for Kernel<T> {
    fn raw_fd(&self) -> Option<std::os::fd::RawFd> {
        use std::os::fd::AsRawFd;
        Some(self.0.as_fd().as_raw_fd())
    }
    fn kernel_moved(&mut self, n: u64) {
        self.0.kernel_moved(n)
    }
}

macro_rules! forward_io {
    ($($t:ident $(: $bound:path)?),*) => {$(
        impl<T: Read $(+ $bound)?> Read for $t<T> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                self.0.read(buf)
            }
        }
        impl<T: Write $(+ $bound)?> Write for $t<T> {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.0.write(buf)
            }
            fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
                self.0.write_vectored(bufs)
            }
            fn flush(&mut self) -> io::Result<()> {
                self.0.flush()
            }
        }
    )*};
}
forward_io!(Plain);
#[cfg(unix)]
forward_io!(Kernel: KernelIo);

/// A file, pipe or socket that [`convert_zero_copy`] reads from or writes
/// to: its `read` and `write` go to the file descriptor directly (no
/// buffer of its own that the kernel's moves would bypass).
///
/// Implemented for [`File`](std::fs::File) (and `&File`), the standard
/// library's sockets, a child's standard input and output, and the
/// standard library's pipes. A wrapper that counts what passes through
/// it (a progress display) implements it too and counts in
/// [`kernel_moved`](Self::kernel_moved).
#[cfg(unix)]
pub trait KernelIo: std::os::fd::AsFd {
    /// The kernel moved `n` octets from or to this file without `read` or
    /// `write` being called. The default does nothing.
    fn kernel_moved(&mut self, n: u64) {
        let _ = n;
    }
}

#[cfg(unix)]
impl KernelIo for std::fs::File {}
#[cfg(unix)]
impl KernelIo for &std::fs::File {}
#[cfg(unix)]
impl KernelIo for std::net::TcpStream {}
#[cfg(unix)]
impl KernelIo for std::os::unix::net::UnixStream {}
#[cfg(unix)]
impl KernelIo for std::process::ChildStdin {}
#[cfg(unix)]
impl KernelIo for std::process::ChildStdout {}
#[cfg(unix)]
impl KernelIo for std::io::PipeReader {}
#[cfg(unix)]
impl KernelIo for std::io::PipeWriter {}

impl<R: Read + Side> crate::drive::Pass for Tee<R> {
    #[cfg(not(unix))]
    fn pass(&mut self, _: u64) -> Option<crate::drive::Passed> {
        None
    }

    /// What the input's buffer holds goes out with `write`, the rest is
    /// moved by the kernel; if the kernel refuses half-way, the rest of
    /// this call is copied through the buffer (and later calls say no).
    #[cfg(unix)]
    fn pass(&mut self, n: u64) -> Option<crate::drive::Passed> {
        use crate::zero_copy::{write_all, Moved};
        use std::io::BufRead;
        let Tee {
            inner,
            state,
            mover,
        } = self;
        let mover = mover.as_mut().filter(|m| m.usable())?;
        if state.capture.get() {
            return None;
        }
        let out = mover.output();
        let out_failed = |e: io::Error| {
            *state.out_failed.borrow_mut() = Some(e);
            io::Error::other("the output failed")
        };
        let (mut moved, mut kernel, mut error) = (0u64, 0u64, None);
        let buffered = inner.buffer();
        let m = (buffered.len() as u64).min(n) as usize;
        if m > 0 {
            match write_all(out, &buffered[..m]) {
                Ok(()) => {
                    inner.consume(m);
                    moved += m as u64;
                }
                Err(e) => error = Some(out_failed(e)),
            }
        }
        let mut refused = false;
        while error.is_none() && moved < n {
            match mover.transfer(n - moved) {
                Ok(Moved::Octets(0)) => break,
                Ok(Moved::Octets(got)) => {
                    moved += got;
                    kernel += got;
                }
                Ok(Moved::Refused) => {
                    refused = true;
                    break;
                }
                Err(f) if f.output => error = Some(out_failed(f.error)),
                Err(f) => error = Some(f.error),
            }
        }
        while refused && error.is_none() && moved < n {
            let buf = match inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    error = Some(e);
                    break;
                }
            };
            if buf.is_empty() {
                break;
            }
            let m = (buf.len() as u64).min(n - moved) as usize;
            if let Err(e) = write_all(out, &buf[..m]) {
                error = Some(out_failed(e));
                break;
            }
            inner.consume(m);
            moved += m as u64;
        }
        if kernel > 0 {
            inner.get_mut().kernel_moved(kernel);
            state.kernel.set(state.kernel.get() + kernel);
        }
        state.total.set(state.total.get() + moved);
        Some(crate::drive::Passed { moved, error })
    }
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.state.total.set(self.state.total.get() + n as u64);
        if self.state.capture.get() {
            self.state
                .captured
                .borrow_mut()
                .extend_from_slice(&buf[..n]);
        }
        Ok(n)
    }
}

/// A run of octets queued for the shadow verifier: real octets, or page
/// contents it never looks at (zeros stand in for them).
#[derive(Debug)]
enum Chunk {
    Bytes(Vec<u8>),
    Zeros(u64),
}

impl Chunk {
    fn len(&self) -> u64 {
        match self {
            Chunk::Bytes(b) => b.len() as u64,
            Chunk::Zeros(n) => *n,
        }
    }
}

/// What the output has written and the shadow verifier not yet read.
#[derive(Debug, Default)]
struct Queue {
    chunks: VecDeque<Chunk>,
    /// Octets of the front chunk already read.
    head: u64,
    /// Octets read (or skipped) in all.
    pos: u64,
}

impl Queue {
    /// Skips up to `n` octets; returns how many were there.
    fn advance(&mut self, mut n: u64) -> u64 {
        let start = self.pos;
        while n > 0 {
            let Some(front) = self.chunks.front() else {
                break;
            };
            let step = (front.len() - self.head).min(n);
            self.head += step;
            self.pos += step;
            n -= step;
            if self.head == front.len() {
                self.chunks.pop_front();
                self.head = 0;
            }
        }
        self.pos - start
    }
}

/// The shadow verifier's input: the queue, read and skipped forward.
struct QueueRead(Rc<RefCell<Queue>>);

impl Read for QueueRead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut q = self.0.borrow_mut();
        let head = q.head as usize;
        let n = match q.chunks.front() {
            None => return Ok(0),
            Some(Chunk::Bytes(b)) => {
                let n = (b.len() - head).min(buf.len());
                buf[..n].copy_from_slice(&b[head..head + n]);
                n
            }
            Some(Chunk::Zeros(z)) => {
                let n = ((*z as usize).saturating_sub(head)).min(buf.len());
                buf[..n].fill(0);
                n
            }
        };
        q.advance(n as u64);
        Ok(n)
    }
}

/// Seeking forward skips queued octets without copying them (page
/// contents); that is all the stream reader asks of a seekable input.
impl Seek for QueueRead {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let mut q = self.0.borrow_mut();
        let fwd = match pos {
            SeekFrom::Current(d) if d >= 0 => d as u64,
            SeekFrom::Start(s) if s >= q.pos => s - q.pos,
            SeekFrom::End(0) => u64::MAX,
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "the shadow verifier's input only moves forward",
                ))
            }
        };
        q.advance(fwd);
        Ok(q.pos)
    }
}

/// The strict (or lenient, as the input) verifier that reads the libxc
/// stream as it is written, so that a conversion never writes a record
/// the verifier would refuse.
struct Shadow {
    queue: Rc<RefCell<Queue>>,
    reader: StreamReader<QueueRead>,
    verifier: Verifier,
}

/// The output, counting octets.
struct Out<W: Write> {
    w: BufWriter<W>,
    pos: u64,
    endian: Endian,
    records: u64,
    scratch: Vec<u8>,
    shadow: Option<Shadow>,
    /// Page contents may be passed from the input's file descriptor to
    /// the output's (zero-copy conversion, until the kernel refuses).
    pass: bool,
    tee: Rc<TeeState>,
}

impl<W: Write> Out<W> {
    fn raw(&mut self, data: &[u8], in_offset: u64) -> Result<(), ConvertError> {
        self.w
            .write_all(data)
            .map_err(|source| ConvertError::Write {
                offset: in_offset,
                out_offset: self.pos,
                source,
            })?;
        self.pos += data.len() as u64;
        Ok(())
    }

    /// Writes out what the buffer holds (before octets go to the file
    /// descriptor directly).
    fn flush(&mut self, in_offset: u64) -> Result<(), ConvertError> {
        self.w.flush().map_err(|source| ConvertError::Write {
            offset: in_offset,
            out_offset: self.pos,
            source,
        })
    }

    fn u32(&self, v: u32) -> [u8; 4] {
        crate::bytes::u32_octets(v, self.endian)
    }

    fn hdr(&self, rtype: u32, length: u32) -> [u8; RECORD_HEADER_SIZE] {
        RecordHeader::octets(rtype, length, self.endian)
    }

    /// Hands the next record to the shadow verifier, before it is
    /// written: its octets `head`, then `zeros` octets standing for what
    /// follows (page contents, or a body it is given as `body`), then
    /// `tail`. A body is handed over borrowed, never copied into the
    /// queue, so a large record is in memory once.
    fn check(
        &mut self,
        head: Vec<u8>,
        zeros: u64,
        tail: &[u8],
        body: Option<&[u8]>,
        in_offset: u64,
    ) -> Result<(), ConvertError> {
        let Some(sh) = self.shadow.as_mut() else {
            return Ok(());
        };
        {
            let mut q = sh.queue.borrow_mut();
            q.chunks.push_back(Chunk::Bytes(head));
            if zeros > 0 {
                q.chunks.push_back(Chunk::Zeros(zeros));
            }
            if !tail.is_empty() {
                q.chunks.push_back(Chunk::Bytes(tail.to_vec()));
            }
        }
        crate::drive::now(sh.verifier.step_given(&mut sh.reader.core, body))
            .map(|_| ())
            .map_err(|source| ConvertError::InvalidOutput {
                offset: in_offset,
                source,
            })
    }

    /// Checks and writes a whole record with zero padding.
    fn record(&mut self, rtype: u32, body: &[u8], in_offset: u64) -> Result<(), ConvertError> {
        // Bodies come from records read (at most REC_LENGTH_MAX) or built
        // here (at most a page and a blob): they fit 32 bits.
        let len = body.len() as u32;
        let h = self.hdr(rtype, len);
        let pad = &ZERO_PADDING[..padding_after(len) as usize];
        self.check(h.to_vec(), body.len() as u64, pad, Some(body), in_offset)?;
        self.records += 1;
        self.raw(&h, in_offset)?;
        self.raw(body, in_offset)?;
        self.raw(pad, in_offset)
    }

    /// Checks a PAGE_DATA record and writes its header and fixed part
    /// (`fixed`: count, reserved, pfn entries); the caller copies the
    /// `contents` octets of pages after it.
    fn page_head(
        &mut self,
        length: u32,
        fixed: &[u8],
        contents: u64,
        in_offset: u64,
    ) -> Result<(), ConvertError> {
        let h = self.hdr(LibxcRecord::PAGE_DATA, length);
        let head = [&h[..], fixed].concat();
        self.check(head, contents, &[], None, in_offset)?;
        self.records += 1;
        self.raw(&h, in_offset)?;
        self.raw(fixed, in_offset)
    }
}

/// A record held back to be written later.
#[derive(Debug)]
struct Held {
    info: RecordInfo,
    body: Vec<u8>,
}

/// Per-segment state.
#[derive(Debug, Default)]
struct Segment {
    /// v3 to v4: X86_TSC_INFO held for the blob.
    tsc: Option<(RecordInfo, X86TscInfo)>,
    /// v3 to v4: the SHARED_INFO page held for the blob.
    shared: Option<(RecordInfo, Vec<u8>)>,
    /// v3 to v4: the record the DOMAIN_CONTEXT was written before;
    /// v4 to v3: the DOMAIN_CONTEXT record.
    context_at: Option<RecordInfo>,
    /// HVM_CONTEXT (to 4) or HVM_PARAMS (to 3) held for its partner.
    held: Option<Held>,
    /// The partner of `held` has been seen: HVM_PARAMS (to 4) or
    /// HVM_CONTEXT (to 3).
    partner_seen: bool,
}

/// The libxc part of a conversion.
struct Libxc {
    /// Version of the input's libxc stream.
    from: u32,
    to: u32,
    /// Version 2 input: the record before which STATIC_DATA_END goes
    /// (see [`v2_static_data_end_at`]), until it has been written.
    sde_before: Option<u32>,
    mode: Mode,
    lossy: bool,
    endian: Endian,
    domain: DomainType,
    xen: (u32, u32),
    guest_width: Option<u8>,
    seg: Segment,
    pages: Vec<u8>,
    report_losses: Vec<Loss>,
    losses_dropped: u64,
    records_in: u64,
    segments: u64,
    data_pages: u64,
}

impl Libxc {
    fn loss(&mut self, at: Location, kind: LossKind) -> Result<(), ConvertError> {
        let loss = Loss { at, kind };
        if !self.lossy {
            return Err(ConvertError::Lossy(loss));
        }
        if self.report_losses.len() < MAX_LISTED_LOSSES {
            self.report_losses.push(loss);
        } else {
            self.losses_dropped += 1;
        }
        Ok(())
    }

    fn is_anchor(&self, rtype: u32) -> bool {
        rtype == LibxcRecord::CHECKPOINT
            || rtype == LibxcRecord::END
            || match self.domain {
                DomainType::X86Pv => PV_VCPU_RECORDS.contains(&rtype),
                DomainType::X86Hvm => {
                    rtype == LibxcRecord::HVM_PARAMS || rtype == LibxcRecord::HVM_CONTEXT
                }
            }
    }

    /// Converts the record whose header `rdr` has just read; returns
    /// where the libxc stream stops after a CHECKPOINT or END.
    fn record<R: Read + crate::drive::Pass, W: Write + Side>(
        &mut self,
        rdr: &mut StreamReader<R>,
        out: &mut Out<W>,
        info: RecordInfo,
    ) -> Result<Option<LibxcStop>, ConvertError> {
        self.records_in += 1;
        {
            if info.rtype == LibxcRecord::STATIC_DATA_END {
                // Only a leniently read version 2 stream gets here: it has
                // its own, which is copied instead of adding one.
                self.sde_before = None;
            }
            if infers_static_data_end(self.to) {
                let since = LibxcRecord::LAYOUT
                    .by_code(info.rtype)
                    .map_or(0, |l| l.since);
                if info.rtype == LibxcRecord::STATIC_DATA_END {
                    // A version 2 receiver infers it.
                    rdr.read_body()?;
                    return Ok(None);
                }
                if since > self.to && info.rtype != LibxcRecord::DOMAIN_CONTEXT {
                    let body = rdr.read_body()?;
                    check_record(info, body, self.endian, self.mode)?;
                    self.loss(
                        Location::record(info),
                        LossKind::NewerRecord {
                            rtype: info.rtype,
                            since,
                        },
                    )?;
                    return Ok(None);
                }
            }
            if self.sde_before == Some(info.rtype) {
                // Where a version 3 receiver infers the end of the static
                // data of a version 2 stream: made explicit.
                self.sde_before = None;
                out.record(LibxcRecord::STATIC_DATA_END, &[], info.offset)?;
            }
            if info.rtype == LibxcRecord::PAGE_DATA {
                self.copy_pages(rdr, out, info)?;
                return Ok(None);
            }
            let endian = self.endian;
            let mode = self.mode;
            let body = rdr.read_body()?;
            let known = LibxcRecord::LAYOUT.by_code(info.rtype).is_some();
            // Only the two records whose values the conversion uses are
            // parsed; every other body is checked in place (the same
            // checks, no copy of what may be a 128 MiB body).
            let parsed = if matches!(
                info.rtype,
                LibxcRecord::X86_PV_INFO | LibxcRecord::X86_TSC_INFO
            ) {
                Some(parse_record(info, body, endian, mode)?)
            } else {
                if known {
                    check_record(info, body, endian, mode)?;
                } else {
                    debug_assert!(info.rtype & REC_TYPE_OPTIONAL != 0);
                }
                None
            };
            // The reader's buffer becomes the body, without a copy.
            let body = rdr.core.take_body(info.length as usize);
            if let Some(LibxcRecord::X86PvInfo(X86PvInfo { guest_width, .. })) = &parsed {
                self.guest_width = Some(*guest_width);
            }
            if self.to == V_DC {
                self.record_to_v4(out, info, body, parsed)?;
            } else if self.from == V_NO_SDE || (self.to == V_NO_SDE && self.from == V_NO_DC) {
                // Between versions 2 and 3 nothing else changes.
                out.record(info.rtype, &body, info.offset)?;
            } else {
                self.record_to_v3(out, info, body)?;
            }
            if info.rtype == LibxcRecord::CHECKPOINT {
                self.segments += 1;
                self.seg = Segment::default();
                return Ok(Some(LibxcStop::Checkpoint));
            }
            if info.rtype == LibxcRecord::END {
                return Ok(Some(LibxcStop::End));
            }
        }
        Ok(None)
    }

    fn copy_pages<R: Read + crate::drive::Pass, W: Write + Side>(
        &mut self,
        rdr: &mut StreamReader<R>,
        out: &mut Out<W>,
        info: RecordInfo,
    ) -> Result<(), ConvertError> {
        let mut batch = rdr.page_batch()?;
        if self.mode == Mode::Strict {
            check_page_reserved(info, batch.res1(), batch.pfns())?;
        }
        let at = info.offset;
        let mut fixed = std::mem::take(&mut out.scratch);
        fixed.clear();
        fixed.extend_from_slice(&out.u32(batch.pfns().len() as u32));
        fixed.extend_from_slice(&out.u32(batch.res1()));
        crate::bytes::extend_u64s(&mut fixed, batch.pfns(), self.endian);
        let contents = (batch.data_pages() * PAGE_SIZE) as u64;
        let res = out.page_head(info.length, &fixed, contents, at);
        out.scratch = fixed;
        res?;
        if self.pages.len() < COPY_PAGES * PAGE_SIZE {
            self.pages.resize(COPY_PAGES * PAGE_SIZE, 0);
        }
        let mut left = batch.data_pages();
        self.data_pages += left as u64;
        if out.pass && left > 0 {
            // Zero-copy: what the output buffers goes out first.
            out.flush(at)?;
        }
        if left > 0 && out.pass {
            // All of the record's contents in one request (errors as for
            // the buffer copy's chunks of COPY_PAGES).
            let n = left;
            let octets = (n * PAGE_SIZE) as u64;
            match batch.pass_pages(n, COPY_PAGES) {
                Ok(true) => {
                    out.pos += octets;
                    out.w.get_mut().kernel_moved(octets);
                    left -= n;
                }
                // The input cannot (the kernel refused): copy the rest.
                Ok(false) => out.pass = false,
                Err(e) => {
                    return Err(match out.tee.out_failed.borrow_mut().take() {
                        Some(source) => ConvertError::Write {
                            offset: e.offset(),
                            out_offset: out.pos,
                            source,
                        },
                        None => e.into(),
                    })
                }
            }
        }
        while left > 0 {
            let n = left.min(COPY_PAGES) * PAGE_SIZE;
            batch.read_pages(&mut self.pages[..n])?;
            out.raw(&self.pages[..n], batch.position())?;
            left -= n / PAGE_SIZE;
        }
        // PAGE_DATA bodies are multiples of 8: no padding.
        Ok(())
    }

    /// v3 to v4, one record other than PAGE_DATA.
    fn record_to_v4<W: Write>(
        &mut self,
        out: &mut Out<W>,
        info: RecordInfo,
        body: Vec<u8>,
        parsed: Option<LibxcRecord>,
    ) -> Result<(), ConvertError> {
        let at = Location::record(info);
        let rtype = info.rtype;
        if rtype == LibxcRecord::SHARED_INFO || rtype == LibxcRecord::X86_TSC_INFO {
            if let Some(anchor) = self.seg.context_at {
                return Err(ConvertError::Unfoldable { at, anchor });
            }
            let first = if rtype == LibxcRecord::SHARED_INFO {
                self.seg.shared.as_ref().map(|(i, _)| i.offset)
            } else {
                self.seg.tsc.as_ref().map(|(i, _)| i.offset)
            };
            if let Some(first) = first {
                return Err(ConvertError::Duplicate {
                    at,
                    name: info.name().unwrap_or("?"),
                    first,
                });
            }
            match parsed {
                Some(LibxcRecord::X86TscInfo(t)) => self.seg.tsc = Some((info, t)),
                _ => self.seg.shared = Some((info, body)),
            }
            return Ok(());
        }
        let hvm = self.domain == DomainType::X86Hvm;
        if hvm && rtype == LibxcRecord::HVM_CONTEXT && !self.seg.partner_seen {
            // Not written yet: the DOMAIN_CONTEXT goes before the next
            // anchor actually written (HVM_PARAMS, or the closing record).
            return self.hold(info, body);
        }
        if self.is_anchor(rtype) && self.seg.context_at.is_none() {
            self.write_context(out, info)?;
            self.seg.context_at = Some(info);
        }
        if rtype == LibxcRecord::CHECKPOINT || rtype == LibxcRecord::END {
            self.release(out)?;
        }
        out.record(rtype, &body, info.offset)?;
        if hvm && rtype == LibxcRecord::HVM_PARAMS {
            self.seg.partner_seen = true;
            self.release(out)?;
        }
        Ok(())
    }

    /// v4 to v3, one record other than PAGE_DATA.
    fn record_to_v3<W: Write>(
        &mut self,
        out: &mut Out<W>,
        info: RecordInfo,
        body: Vec<u8>,
    ) -> Result<(), ConvertError> {
        let at = Location::record(info);
        let rtype = info.rtype;
        let hvm = self.domain == DomainType::X86Hvm;
        match rtype {
            LibxcRecord::SHARED_INFO | LibxcRecord::X86_TSC_INFO => {
                return Err(ConvertError::DeprecatedInV4 { at })
            }
            LibxcRecord::DOMAIN_CONTEXT => {
                if let Some(first) = self.seg.context_at {
                    return Err(ConvertError::Duplicate {
                        at,
                        name: LibxcRecord::LAYOUT.name_of(LibxcRecord::DOMAIN_CONTEXT),
                        first: first.offset,
                    });
                }
                self.seg.context_at = Some(info);
                return self.unfold_context(out, info, &body);
            }
            LibxcRecord::HVM_PARAMS if hvm && !self.seg.partner_seen => {
                return self.hold(info, body);
            }
            LibxcRecord::CHECKPOINT | LibxcRecord::END => {
                if self.seg.context_at.is_none() {
                    return Err(ConvertError::MissingDomainContext { at });
                }
                self.release(out)?;
            }
            _ => {}
        }
        out.record(rtype, &body, info.offset)?;
        if hvm && rtype == LibxcRecord::HVM_CONTEXT {
            self.seg.partner_seen = true;
            self.release(out)?;
        }
        Ok(())
    }

    fn hold(&mut self, info: RecordInfo, body: Vec<u8>) -> Result<(), ConvertError> {
        if let Some(h) = &self.seg.held {
            return Err(ConvertError::Duplicate {
                at: Location::record(info),
                name: info.name().unwrap_or("?"),
                first: h.info.offset,
            });
        }
        self.seg.held = Some(Held { info, body });
        Ok(())
    }

    fn release<W: Write>(&mut self, out: &mut Out<W>) -> Result<(), ConvertError> {
        if let Some(h) = self.seg.held.take() {
            out.record(h.info.rtype, &h.body, h.info.offset)?;
        }
        Ok(())
    }

    /// Writes the segment's DOMAIN_CONTEXT, built from the held records,
    /// before `anchor`.
    fn write_context<W: Write>(
        &mut self,
        out: &mut Out<W>,
        anchor: RecordInfo,
    ) -> Result<(), ConvertError> {
        let shared = self.seg.shared.take();
        let tsc = self.seg.tsc.take();
        let compat = match (&shared, self.domain) {
            (Some((si, _)), DomainType::X86Pv) => match self.guest_width {
                Some(w) => w == PV_COMPAT_GUEST_WIDTH,
                None => {
                    return Err(ConvertError::MissingPvInfo {
                        at: Location::record(*si),
                    })
                }
            },
            _ => false,
        };
        let (major, minor) = self.xen;
        let blob_xen = (
            major.min(u32::from(u16::MAX)) as u16,
            minor.min(u32::from(u16::MAX)) as u16,
        );
        if (u32::from(blob_xen.0), u32::from(blob_xen.1)) != self.xen {
            self.loss(
                Location::record(anchor),
                LossKind::XenVersion {
                    header: self.xen,
                    blob: blob_xen,
                },
            )?;
        }
        let si_info = shared.as_ref().map(|(i, _)| *i);
        let tsc_info = tsc.as_ref().map(|(i, _)| *i);
        let parts = V3Parts {
            xen_major: blob_xen.0,
            xen_minor: blob_xen.1,
            shared_info: shared.map(|(_, page)| page),
            compat,
            tsc_info: tsc.map(|(_, t)| t),
        };
        let at = si_info.or(tsc_info).unwrap_or(anchor);
        let converted =
            dc::blob_from_v3(&parts, self.endian).map_err(|source| ConvertError::Blob {
                at: Location::record(at),
                source,
            })?;
        if let (Some(page_offset), Some(si)) = (converted.losses.page_tail, si_info) {
            self.loss(
                Location::in_record(si, si.body_offset() + page_offset as u64),
                LossKind::SharedInfoTail {
                    page_offset,
                    kept: dc::shared_info_size(compat),
                },
            )?;
        }
        if let (value @ 1.., Some(t)) = (converted.losses.tsc_res1, tsc_info) {
            const RES1: usize = crate::layout::field_of(&X86TscInfo::LAYOUT, "_res1").offset;
            let off = RES1 as u64;
            self.loss(
                Location::in_record(t, t.body_offset() + off),
                LossKind::TscReserved { value },
            )?;
        }
        out.record(LibxcRecord::DOMAIN_CONTEXT, &converted.value, anchor.offset)
    }

    /// Writes X86_TSC_INFO and SHARED_INFO from a DOMAIN_CONTEXT blob.
    fn unfold_context<W: Write>(
        &mut self,
        out: &mut Out<W>,
        info: RecordInfo,
        blob: &[u8],
    ) -> Result<(), ConvertError> {
        let converted = dc::v3_from_blob(blob, self.endian).map_err(|source| {
            let offset = match &source {
                dc::V3Error::Blob(e) => info.body_offset() + e.offset as u64,
                _ => info.offset,
            };
            ConvertError::Blob {
                at: Location::in_record(info, offset),
                source,
            }
        })?;
        let at = Location::record(info);
        let parts = converted.value;
        if converted.losses.tsc_pad != 0 {
            self.loss(
                at.clone(),
                LossKind::TscPad {
                    value: converted.losses.tsc_pad,
                },
            )?;
        }
        let blob_xen = (parts.xen_major, parts.xen_minor);
        if (u32::from(blob_xen.0), u32::from(blob_xen.1)) != self.xen {
            self.loss(
                at.clone(),
                LossKind::XenVersion {
                    header: self.xen,
                    blob: blob_xen,
                },
            )?;
        }
        if parts.shared_info.is_some() {
            let implied = match self.domain {
                DomainType::X86Pv => match self.guest_width {
                    Some(w) => w == PV_COMPAT_GUEST_WIDTH,
                    None => return Err(ConvertError::MissingPvInfo { at }),
                },
                DomainType::X86Hvm => false,
            };
            if parts.compat != implied {
                self.loss(
                    at.clone(),
                    LossKind::CompatFlag {
                        blob: parts.compat,
                        implied,
                    },
                )?;
            }
        }
        if let Some(t) = &parts.tsc_info {
            let mut body = Vec::with_capacity(X86TscInfo::LAYOUT.size);
            // A fixed-size record body always serialises.
            let _ = LibxcRecord::X86TscInfo(*t).write_body(&mut body, self.endian);
            out.record(LibxcRecord::X86_TSC_INFO, &body, info.offset)?;
        }
        if let Some(page) = &parts.shared_info {
            out.record(LibxcRecord::SHARED_INFO, page, info.offset)?;
        }
        Ok(())
    }
}

/// Writes the octets captured so far, except the last `total - upto`
/// (look-ahead the outer reader hands out again), which stay captured:
/// the caller drops them when the libxc layer takes the stream.
fn flush_captured<W: Write>(
    state: &TeeState,
    out: &mut Out<W>,
    upto: u64,
) -> Result<(), ConvertError> {
    let ahead = state.total.get().saturating_sub(upto) as usize;
    let mut cap = state.captured.borrow_mut();
    let keep = cap.len().saturating_sub(ahead);
    let res = out.raw(&cap[..keep], upto);
    // What was read ahead (the outer reader looks at the record after a
    // CHECKPOINT_END) comes next; the caller drops it when the libxc
    // layer takes the stream.
    cap.drain(..keep);
    res
}

/// Converts a whole stream (bare libxc, bare libxl, or `xl save` file) from
/// `input` to `output`, forward only; see the module docs for what
/// changes. The input is buffered here; the output too (and flushed at the
/// end). On error the output holds a partial stream.
pub fn convert<R: Read, W: Write>(
    input: R,
    output: W,
    opts: ConvertOptions,
) -> Result<ConvertReport, ConvertError> {
    convert_with(Plain(input), Plain(output), opts)
}

/// [`convert`] between two file descriptors (files, pipes, sockets), with
/// the page contents moved by the kernel instead of copied through this
/// process: `splice(2)` when the input or the output is a pipe,
/// `copy_file_range(2)` between regular files, `sendfile(2)` from a
/// regular file to a socket. Where the kernel refuses (two sockets, an
/// output opened with `O_APPEND`, a file system without support, a
/// kernel without the call) the contents are copied through a buffer as
/// [`convert`] does; the output octets, the checks (the output is
/// verified as it is written, page contents included in the count), the
/// report and the errors are those of [`convert`].
///
/// Everything else (headers, pfn arrays, other records) still goes
/// through this process, so the libxc stream is checked as by
/// [`convert`]. The input's current offset is where the stream starts;
/// both descriptors' offsets advance as they are read and written.
///
/// ```no_run
/// use format_spec::convert::{convert_zero_copy, ConvertOptions};
///
/// let input = std::fs::File::open("guest.xl")?;
/// let output = std::fs::File::create("guest-v4.xl")?;
/// let report = convert_zero_copy(&input, &output, ConvertOptions::to(4))?;
/// println!("{} pages", report.data_pages);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(unix)]
pub fn convert_zero_copy<R: Read + KernelIo, W: Write + KernelIo>(
    input: R,
    output: W,
    opts: ConvertOptions,
) -> Result<ConvertReport, ConvertError> {
    convert_with(Kernel(input), Kernel(output), opts)
}

fn convert_with<R: Read + Side, W: Write + Side>(
    input: R,
    output: W,
    opts: ConvertOptions,
) -> Result<ConvertReport, ConvertError> {
    let (wanted, other) = match opts.to {
        V_NO_SDE => (V_NO_DC, V_DC),
        V_NO_DC => (V_NO_SDE, V_DC),
        V_DC => (V_NO_SDE, V_NO_DC),
        to => return Err(ConvertError::BadTarget { to }),
    };
    let state = Rc::new(TeeState::default());
    state.capture.set(true);
    #[cfg(unix)]
    let mover = match (input.raw_fd(), output.raw_fd()) {
        (Some(i), Some(o)) => Some(crate::zero_copy::Mover::new(i, o)),
        _ => None,
    };
    #[cfg(unix)]
    let pass = mover.as_ref().is_some_and(|m| m.usable());
    #[cfg(not(unix))]
    let pass = false;
    let tee = Tee {
        // Zero-copy: a small buffer, so that little of the page contents
        // that follow a record header goes through it.
        inner: BufReader::with_capacity(if pass { 16 << 10 } else { 64 << 10 }, input),
        state: state.clone(),
        #[cfg(unix)]
        mover,
    };
    let mut r = SaveReader::new(tee, SaveOptions::mode(opts.mode).format(opts.format))?;
    let mut out = Out {
        w: BufWriter::with_capacity(64 << 10, output),
        pos: 0,
        endian: Endian::Little,
        records: 0,
        scratch: Vec::new(),
        shadow: None,
        pass,
        tee: state.clone(),
    };
    let format = r.format();
    let nested = r.nested();
    if !nested {
        // The libxc stream comes next (a bare libxc stream, or an xl file
        // without libxl): what was read before it is copied as it is.
        flush_captured(&state, &mut out, r.offset())?;
        state.capture.set(false);
        state.captured.borrow_mut().clear();
    }
    let mut lx: Option<Libxc> = None;
    // The output as of the last checkpoint boundary, where a failover
    // cuts it back to.
    let mut boundary: Option<Boundary> = None;
    // Where reading the input failed, if it did: a failover, perhaps.
    let failed = loop {
        let ev = match r.next() {
            Ok(Some(ev)) => ev,
            Ok(None) => break None,
            Err(e) => break Some(e),
        };
        match ev {
            Event::Xl(_) | Event::LibxlHeader { .. } | Event::LibxlSkipped(_) => {
                flush_captured(&state, &mut out, r.offset())?
            }
            // The outer layers are copied unchanged, up to where the libxc
            // layer takes the stream (after LIBXC_CONTEXT, CHECKPOINT_END
            // or, in Xen's COLO layout, the CHECKPOINT_STATE after it).
            Event::LibxlRecord(_) => flush_captured(&state, &mut out, r.offset())?,
            Event::LibxcHeaders { offset, .. } => {
                flush_captured(&state, &mut out, offset)?;
                state.capture.set(false);
                state.captured.borrow_mut().clear();
                let rdr = r.libxc().ok_or(ConvertError::NoLibxcStream { offset })?;
                lx = Some(start_libxc(rdr, &mut out, &opts, offset, (wanted, other))?);
            }
            Event::LibxcResume { offset, .. } => {
                flush_captured(&state, &mut out, offset)?;
                state.capture.set(false);
                state.captured.borrow_mut().clear();
                boundary = Boundary::of(&out, lx.as_ref());
            }
            Event::LibxcRecord(info) => {
                let (Some(l), Some(rdr)) = (lx.as_mut(), r.libxc()) else {
                    return Err(ConvertError::NoLibxcStream {
                        offset: info.offset,
                    });
                };
                let stop = match l.record(rdr, &mut out, info) {
                    Ok(stop) => stop,
                    // Reading the record's body or pages failed.
                    Err(ConvertError::Stream(e)) => break Some(crate::save::Error::Stream(e)),
                    Err(e) => return Err(e),
                };
                if stop == Some(LibxcStop::End) || (stop.is_some() && nested) {
                    // The outer layer has the stream again.
                    state.capture.set(true);
                }
                if stop == Some(LibxcStop::Checkpoint) && !nested {
                    boundary = Boundary::of(&out, lx.as_ref());
                }
            }
        }
    };
    if let Some(e) = failed {
        let lx = lx.as_ref();
        return Err(fail_over(&r, e, boundary, &mut out, lx, &state, opts));
    }
    let bytes_in = r.offset();
    flush_captured(&state, &mut out, bytes_in)?;
    let lx = lx.ok_or(ConvertError::NoLibxcStream { offset: bytes_in })?;
    let at_boundary = r.failover().is_some();
    let out_end = out.pos;
    let output = out
        .shadow
        .take()
        .map(|sh| {
            // The input ended at a checkpoint boundary, and so does the
            // output: its report says so (`Report::failover`).
            output_report(sh.verifier, at_boundary.then_some(out_end), bytes_in)
        })
        .transpose()?
        .ok_or(ConvertError::NoLibxcStream { offset: bytes_in })?;
    out.flush(bytes_in)?;
    let (bytes_out, records_out) = (out.pos, out.records);
    Ok(conversion_report(
        &lx,
        format,
        opts,
        [bytes_in, bytes_out, records_out, state.kernel.get()],
        output,
    ))
}

/// The output as of a checkpoint boundary (right after a CHECKPOINT and,
/// in a libxl stream, the checkpoint's libxl records): what a failover of
/// the input cuts it back to.
struct Boundary {
    /// Output octets written.
    pos: u64,
    /// Records written.
    records: u64,
    /// Segments and data pages converted.
    segments: u64,
    data_pages: u64,
    /// The shadow verifier of the output, as it was there.
    verifier: Verifier,
}

impl Boundary {
    fn of<W: Write>(out: &Out<W>, lx: Option<&Libxc>) -> Option<Boundary> {
        Some(Boundary {
            pos: out.pos,
            records: out.records,
            segments: lx?.segments,
            data_pages: lx?.data_pages,
            verifier: out.shadow.as_ref()?.verifier.clone(),
        })
    }
}

/// The verifier's report on the output, told that the output ends at
/// `end` when it ends at a checkpoint boundary without END.
fn output_report(
    mut verifier: Verifier,
    end: Option<u64>,
    bytes_in: u64,
) -> Result<Report, ConvertError> {
    if let Some(end) = end {
        verifier
            .end_of_input(end)
            .map_err(|source| ConvertError::InvalidOutput {
                offset: bytes_in,
                source,
            })?;
    }
    Ok(verifier.into_report())
}

/// The report of a conversion; `[bytes_in, bytes_out, records_out,
/// kernel_octets]`.
fn conversion_report(
    lx: &Libxc,
    format: outer::Format,
    opts: ConvertOptions,
    [bytes_in, bytes_out, records_out, kernel_octets]: [u64; 4],
    output: Report,
) -> ConvertReport {
    ConvertReport {
        format,
        from: lx.from,
        to: opts.to,
        domain: lx.domain,
        bytes_in,
        bytes_out,
        records_in: lx.records_in,
        records_out,
        segments: lx.segments,
        data_pages: lx.data_pages,
        kernel_octets,
        losses: lx.report_losses.clone(),
        losses_dropped: lx.losses_dropped,
        output,
    }
}

/// Reading the input failed with `e`: in lenient mode, where that is the
/// failover of a checkpointed stream inside a segment after a CHECKPOINT
/// (and the output has reached a checkpoint boundary), the output is
/// written out up to there and the error is [`ConvertError::FailedOver`],
/// with the report as of the boundary; otherwise it is `e`.
fn fail_over<R: Read, W: Write>(
    r: &SaveReader<R>,
    e: crate::save::Error,
    boundary: Option<Boundary>,
    out: &mut Out<W>,
    lx: Option<&Libxc>,
    state: &TeeState,
    opts: ConvertOptions,
) -> ConvertError {
    let (Some(failover), Some(b), Some(lx)) = (r.failover_on(&e), boundary, lx) else {
        return e.into();
    };
    let bytes_in = r.offset();
    let done = out.flush(bytes_in).and_then(|()| {
        let output = output_report(b.verifier, Some(b.pos), bytes_in)?;
        let mut report = conversion_report(
            lx,
            r.format(),
            opts,
            [bytes_in, b.pos, b.records, state.kernel.get()],
            output,
        );
        report.segments = b.segments;
        report.data_pages = b.data_pages;
        Ok(report)
    });
    match done {
        Ok(report) => ConvertError::FailedOver {
            failover,
            report: Box::new(report),
        },
        Err(e) => e,
    }
}

/// At the libxc headers (image header at `offset`): checks the version,
/// writes the headers of the version converted to, and starts the shadow
/// verifier of the output.
fn start_libxc<R: Read, W: Write>(
    rdr: &mut StreamReader<R>,
    out: &mut Out<W>,
    opts: &ConvertOptions,
    offset: u64,
    (wanted, other): (u32, u32),
) -> Result<Libxc, ConvertError> {
    let version = rdr.version();
    if version != wanted && version != other {
        const VERSION_AT: usize =
            crate::layout::field_of(&crate::libxc::ImageHeader::LAYOUT, "version").offset;
        let off = VERSION_AT as u64;
        return Err(ConvertError::WrongVersion {
            at: Location::at(offset + off),
            found: version,
            wanted,
            other,
            to: opts.to,
        });
    }
    out.endian = rdr.endian();
    let mut ihdr = *rdr.image_header();
    ihdr.version = opts.to;
    let dhdr = *rdr.domain_header();
    let mut hdrs = Vec::with_capacity(40);
    let misuse = |e: crate::body::BodyError| StreamError::Misuse {
        at: Location::at(offset),
        what: e.to_string(),
    };
    crate::body::write_wire(&ihdr, &mut hdrs, Endian::Big).map_err(misuse)?;
    crate::body::write_wire(&dhdr, &mut hdrs, rdr.endian()).map_err(misuse)?;
    let out_start = out.pos;
    out.raw(&hdrs, offset)?;
    let queue = Rc::new(RefCell::new(Queue::default()));
    queue.borrow_mut().chunks.push_back(Chunk::Bytes(hdrs));
    let vopts = VerifyOptions {
        mode: opts.mode,
        bare: false,
        base_offset: out_start,
        ..VerifyOptions::default()
    };
    let reader = StreamReader::seekable(QueueRead(queue.clone()), vopts.reader_options())
        .map_err(|source| ConvertError::InvalidOutput { offset, source })?;
    let verifier = Verifier::new(&reader, vopts);
    out.shadow = Some(Shadow {
        queue,
        reader,
        verifier,
    });
    Ok(Libxc {
        from: version,
        to: opts.to,
        sde_before: infers_static_data_end(version)
            .then(|| v2_static_data_end_at(rdr.domain_type())),
        mode: opts.mode,
        lossy: opts.lossy,
        endian: rdr.endian(),
        domain: rdr.domain_type(),
        xen: (dhdr.xen_major, dhdr.xen_minor),
        guest_width: None,
        seg: Segment::default(),
        pages: Vec::new(),
        report_losses: Vec::new(),
        losses_dropped: 0,
        records_in: 0,
        segments: 1,
        data_pages: 0,
    })
}
