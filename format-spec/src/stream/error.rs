//! Errors and warnings of the stream reader, writer and verifier.
//!
//! Every rule of the verifier has its own variant of [`StreamError`], named
//! after the rule's KIND in the shared verifier rule list (the generated
//! Python verifier raises exceptions whose `.kind` is the same string, see
//! [`ErrorKind::as_str`]). Each error carries a [`Location`]: the absolute
//! byte offset of the offending octets and, where they apply, the record
//! (index, header offset, type) and the field.

use std::fmt;

use crate::libxc::LibxcRecord;

/// What the reader knows about one record once its header is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordInfo {
    /// Index of the record in the stream, counting from 0 (the image and
    /// domain headers are not records).
    pub index: u64,
    /// Absolute byte offset of the record header.
    pub offset: u64,
    /// The record type code.
    pub rtype: u32,
    /// Body length in octets, padding excluded.
    pub length: u32,
}

impl RecordInfo {
    /// Absolute byte offset of the body.
    pub fn body_offset(&self) -> u64 {
        self.offset + crate::libxc::RECORD_HEADER_SIZE as u64
    }

    /// Number of padding octets after the body.
    pub fn padding(&self) -> u32 {
        crate::libxc::padding_after(self.length)
    }

    /// Absolute byte offset just after the record (padding included).
    pub fn end_offset(&self) -> u64 {
        self.body_offset() + u64::from(self.length) + u64::from(self.padding())
    }

    /// The spec name of the record type (`PAGE_DATA`), if the type is known.
    pub fn name(&self) -> Option<&'static str> {
        LibxcRecord::LAYOUT.by_code(self.rtype).map(|r| r.spec_name)
    }
}

impl fmt::Display for RecordInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "record {} ({n})", self.index),
            None => write!(
                f,
                "record {} (unknown type 0x{:08x})",
                self.index, self.rtype
            ),
        }?;
        write!(f, " at offset 0x{:x}", self.offset)
    }
}

/// A field named in an error: a struct field, possibly one element of an
/// array (`PageDataHeader.pfn[3]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldRef {
    /// The struct's Rust name (`PageDataHeader`).
    pub structure: &'static str,
    /// For a field of an element of a trailing array of structs: the
    /// array's name and the element index (`X86MsrPolicy.entries[3].flags`).
    pub array: Option<(&'static str, u64)>,
    /// The field name (`pfn`).
    pub field: &'static str,
    /// The element index for arrays.
    pub element: Option<u64>,
}

impl fmt::Display for FieldRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.structure)?;
        if let Some((name, i)) = self.array {
            write!(f, ".{name}[{i}]")?;
        }
        write!(f, ".{}", self.field)?;
        if let Some(i) = self.element {
            write!(f, "[{i}]")?;
        }
        Ok(())
    }
}

/// Where an error was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// Absolute byte offset of the offending octets: the field when a field
    /// is named, the first bad padding octet, the point where the input
    /// ended, or else the record header.
    pub offset: u64,
    /// The record concerned, if the error is about a record.
    pub record: Option<RecordInfo>,
    /// The field concerned, if one is (boxed to keep errors small).
    pub field: Option<Box<FieldRef>>,
}

impl Location {
    /// A bare offset.
    pub fn at(offset: u64) -> Self {
        Location {
            offset,
            record: None,
            field: None,
        }
    }

    /// A whole record (the offset is its header's).
    pub fn record(info: RecordInfo) -> Self {
        Location {
            offset: info.offset,
            record: Some(info),
            field: None,
        }
    }

    /// An octet inside a record.
    pub fn in_record(info: RecordInfo, offset: u64) -> Self {
        Location {
            offset,
            record: Some(info),
            field: None,
        }
    }

    /// A field at `offset`, inside `record` if given.
    pub fn field(record: Option<RecordInfo>, offset: u64, field: FieldRef) -> Self {
        Location {
            offset,
            record,
            field: Some(Box::new(field)),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.record, &self.field) {
            (Some(r), Some(field)) => {
                write!(f, "{r}, field {field} at offset 0x{:x}", self.offset)
            }
            (Some(r), None) if r.offset != self.offset => {
                write!(f, "{r}, octet at offset 0x{:x}", self.offset)
            }
            (Some(r), None) => write!(f, "{r}"),
            (None, Some(field)) => write!(f, "{field} at offset 0x{:x}", self.offset),
            (None, None) => write!(f, "offset 0x{:x}", self.offset),
        }
    }
}

/// Why a stream is invalid, or could not be read or written.
///
/// The variants that name a verifier rule carry that rule's KIND as their
/// name. [`StreamError::Io`] and [`StreamError::Misuse`] are not rules
/// of the format.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// The image header does not start with eight 0xff octets.
    #[error("{at}: the image marker is 0x{found:016x}, not 0x{marker:016x}; this is not a libxc stream (or a legacy pre-4.5 image)", marker = crate::libxc::IHDR_MARKER)]
    BadMarker {
        /// Where.
        at: Location,
        /// The marker read.
        found: u64,
    },
    /// The image header's identifier is not
    /// [`IHDR_ID`](crate::libxc::IHDR_ID).
    #[error("{at}: the image id is 0x{found:08x}, not 0x{id:08x} (\"{text}\"); this is not a libxc stream", id = crate::libxc::IHDR_ID, text = String::from_utf8_lossy(&crate::libxc::IHDR_ID.to_be_bytes()))]
    BadId {
        /// Where.
        at: Location,
        /// The identifier read.
        found: u32,
    },
    /// The image version is not one this crate reads.
    #[error(
        "{at}: stream version {found} is not supported (versions {} are)",
        supported_versions()
    )]
    UnsupportedVersion {
        /// Where.
        at: Location,
        /// The version read.
        found: u32,
    },
    /// A reserved field or reserved bits are not zero (strict mode).
    #[error("{at}: reserved bits 0x{value:x} are set; reserved fields must be zero")]
    ReservedNonZero {
        /// Where (the field is named).
        at: Location,
        /// The offending bits.
        value: u64,
    },
    /// The domain header's guest type is not x86 PV (1) or x86 HVM (2).
    #[error("{at}: domain type {found} is unknown ({})", domain_types())]
    BadDomainType {
        /// Where.
        at: Location,
        /// The type read.
        found: u32,
    },
    /// The domain header's page shift is not 12.
    #[error("{at}: page_shift is {found}, but only {} ({} KiB pages) can be restored", crate::libxc::PAGE_SHIFT, crate::libxc::PAGE_SIZE >> 10)]
    BadPageShift {
        /// Where.
        at: Location,
        /// The page shift read.
        found: u16,
    },
    /// The input ended inside a header, body or padding, or before END.
    #[error("{at}: the input ends here, {missing} more octets were expected ({what}); the stream is truncated")]
    Truncated {
        /// Where the input ended.
        at: Location,
        /// What was being read.
        what: &'static str,
        /// How many octets were still expected.
        missing: u64,
    },
    /// A record header announces a body longer than REC_LENGTH_MAX.
    #[error(
        "{at}: body length {length} exceeds the maximum of {max} octets; the stream is corrupt"
    )]
    RecordTooLong {
        /// Where.
        at: Location,
        /// The length announced.
        length: u32,
        /// REC_LENGTH_MAX.
        max: u32,
    },
    /// A padding octet is not zero (strict mode).
    #[error("{at}: padding octet is 0x{value:02x}; padding must be zero")]
    PaddingNonZero {
        /// Where (the first non-zero padding octet).
        at: Location,
        /// Its value.
        value: u8,
    },
    /// A record type that is not in the table and is not marked optional.
    #[error("{at}: unknown mandatory record type; a restore cannot skip it")]
    UnknownMandatory {
        /// Where.
        at: Location,
    },
    /// A record type introduced by a later version than the stream's.
    #[error("{at}: this record type exists from stream version {since}, but the stream is version {version}")]
    RecordTooNew {
        /// Where.
        at: Location,
        /// The version that introduced the record.
        since: u32,
        /// The stream's version.
        version: u32,
    },
    /// A record type that is never valid in a stream (TOOLSTACK).
    #[error("{at}: this record type is obsolete and never valid in a stream")]
    DeprecatedRecord {
        /// Where.
        at: Location,
    },
    /// A back-channel record in a forward stream (strict mode).
    #[error("{at}: this record only travels on the COLO back channel, not in a forward stream")]
    BackChannelRecord {
        /// Where.
        at: Location,
    },
    /// Octets after the END record of a bare libxc stream (strict mode).
    #[error("{at}: data follows the END record; nothing may come after END")]
    TrailingData {
        /// Where (the first octet after END).
        at: Location,
    },
    /// The body length breaks the record's length rule.
    #[error("{at}: bad body length {length}: {reason}")]
    BadLength {
        /// Where.
        at: Location,
        /// The body length.
        length: u32,
        /// What the rule wants.
        reason: String,
    },
    /// A field holds a value outside its allowed set.
    #[error("{at}: value {value} is not allowed (allowed: {allowed})")]
    BadValue {
        /// Where (the field is named).
        at: Location,
        /// The value read.
        value: u64,
        /// The allowed values, for the message.
        allowed: String,
    },
    /// PAGE_DATA count is zero, or its pfn array does not fit in the body.
    #[error("{at}: page count {count} is invalid: {reason}")]
    BadPageCount {
        /// Where (the count field).
        at: Location,
        /// The count read.
        count: u32,
        /// Why.
        reason: &'static str,
    },
    /// A PAGE_DATA pfn entry holds a reserved page type (5 to 8).
    #[error("{at}: entry 0x{entry:016x} has page type {ptype}, which is not a valid type")]
    BadPageType {
        /// Where (the pfn entry).
        at: Location,
        /// The entry.
        entry: u64,
        /// Its type nibble.
        ptype: u8,
    },
    /// No STATIC_DATA_END before the first memory or register record (v3+),
    /// or none at all before END (strict mode).
    #[error("{at}: no STATIC_DATA_END record came before this point; version {v} and later streams need one before any memory or register state", v = crate::libxc::STATIC_DATA_END_SINCE)]
    MissingStaticDataEnd {
        /// Where.
        at: Location,
    },
    /// A second STATIC_DATA_END (strict mode).
    #[error("{at}: second STATIC_DATA_END; the first was at offset 0x{first:x} (inferred ones count in versions before {v})", v = crate::libxc::STATIC_DATA_END_SINCE)]
    DuplicateStaticDataEnd {
        /// Where.
        at: Location,
        /// Offset of the first (or of the record it was inferred at).
        first: u64,
    },
    /// A record for the other guest type (strict mode).
    #[error("{at}: this record is for {wants} guests, but the domain header says {guest}")]
    WrongGuestType {
        /// Where.
        at: Location,
        /// The guest type the record belongs to.
        wants: &'static str,
        /// The stream's guest type.
        guest: &'static str,
    },
    /// Records in an order the spec forbids (strict mode).
    #[error("{at}: out of order: {reason}")]
    OutOfOrder {
        /// Where.
        at: Location,
        /// Which order rule.
        reason: &'static str,
    },
    /// A record sent a second time where it may come once
    /// (X86_PV_INFO).
    #[error("{at}: second {record}; the first was at offset 0x{first:x}")]
    DuplicateRecord {
        /// Where.
        at: Location,
        /// The record's spec name.
        record: &'static str,
        /// Offset of the first.
        first: u64,
    },
    /// A record the stream must hold is missing when it completes.
    #[error("{at}: the stream has no {what}")]
    MissingRecord {
        /// Where (the END record, or the CHECKPOINT of a COLO stream).
        at: Location,
        /// What is missing.
        what: &'static str,
    },
    /// A PV PAGE_DATA pfn beyond the P2M the X86_PV_P2M_FRAMES records
    /// set up.
    #[error("{at}: pfn 0x{pfn:x} is beyond the guest's P2M (highest pfn 0x{max_pfn:x}); Xen's restore refuses it")]
    PfnBeyondP2m {
        /// Where (the pfn entry).
        at: Location,
        /// The pfn.
        pfn: u64,
        /// The P2M's highest pfn.
        max_pfn: u64,
    },
    /// A CHECKPOINT in a stream the caller said is not checkpointed.
    #[error("{at}: CHECKPOINT in a stream that is not checkpointed; Xen's restore refuses it")]
    UnexpectedCheckpoint {
        /// Where.
        at: Location,
    },
    /// A record Xen's restore cannot process in a buffered checkpoint
    /// segment (reported at the CHECKPOINT that replays it).
    #[error("{at}: unknown record type 0x{rtype:08x} in checkpoint segment {segment}; Xen's restore buffers the segment and fails when it replays it at the next CHECKPOINT (offset 0x{checkpoint:x})")]
    UnknownInCheckpoint {
        /// Where (the unknown record).
        at: Location,
        /// Its type.
        rtype: u32,
        /// The segment (0 is the first).
        segment: u64,
        /// Offset of the CHECKPOINT that replays the segment.
        checkpoint: u64,
    },
    /// A stream on which Xen's own restore code crashes.
    #[error("{at}: {what}{XEN_RESTORE_WOULD}{crash}")]
    CrashesXenRestore {
        /// Where.
        at: Location,
        /// What the stream holds.
        what: String,
        /// What Xen's restore code would do.
        crash: &'static str,
    },
    /// A v4 segment without DOMAIN_CONTEXT (strict mode).
    #[error("{at}: the segment ending here has no DOMAIN_CONTEXT record; version {v} requires one per segment", v = crate::libxc::DOMAIN_CONTEXT_SINCE)]
    MissingDomainContext {
        /// Where (the CHECKPOINT or END record).
        at: Location,
    },
    /// The blob of a DOMAIN_CONTEXT record breaks a rule of its format
    /// ([`crate::domain_context::verify`]; strict mode). `source.kind`
    /// names the blob rule (the generated Python verifier raises a
    /// RecordError of kind "DomainContext" whose `.detail` is that rule's
    /// name).
    #[error("{at}: DOMAIN_CONTEXT blob: {source}")]
    DomainContext {
        /// Where (the offending octets inside the blob).
        at: Location,
        /// The blob rule and where in the blob.
        #[source]
        source: crate::domain_context::DcError,
    },
    /// The blob of an HVM_CONTEXT record breaks a rule of its format
    /// ([`crate::hvm_context::verify`]; strict mode). `source.kind` names
    /// the blob rule (the generated Python verifier raises a RecordError of
    /// kind "HvmContext" whose `.detail` is that rule's name).
    #[error("{at}: HVM_CONTEXT blob: {source}")]
    HvmContext {
        /// Where (the offending octets inside the blob).
        at: Location,
        /// The blob rule and where in the blob.
        #[source]
        source: crate::hvm_context::HvmError,
    },
    /// An I/O error other than the end of the input.
    #[error("{at}: I/O error: {source}")]
    Io {
        /// Where.
        at: Location,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The API was used out of order (a reader asked for a body twice, a
    /// writer given pages that do not match its pfns, ...). Not a rule of
    /// the format: the caller has a bug.
    #[error("{at}: {what}")]
    Misuse {
        /// Where the record would have gone.
        at: Location,
        /// What was wrong.
        what: String,
    },
}

kind_names! {
    /// The kind of a [`StreamError`], without its details. The names are
    /// the KIND strings of the verifier rule list; what each means, the
    /// rule behind it and how Python raises it are in the error catalogue
    /// ([`ErrorKind::entry`]).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub enum ErrorKind {
        /// See [`StreamError::BadMarker`].
        BadMarker,
        /// See [`StreamError::BadId`].
        BadId,
        /// See [`StreamError::UnsupportedVersion`].
        UnsupportedVersion,
        /// See [`StreamError::ReservedNonZero`].
        ReservedNonZero,
        /// See [`StreamError::BadDomainType`].
        BadDomainType,
        /// See [`StreamError::BadPageShift`].
        BadPageShift,
        /// See [`StreamError::Truncated`].
        Truncated,
        /// See [`StreamError::RecordTooLong`].
        RecordTooLong,
        /// See [`StreamError::PaddingNonZero`].
        PaddingNonZero,
        /// See [`StreamError::UnknownMandatory`].
        UnknownMandatory,
        /// See [`StreamError::RecordTooNew`].
        RecordTooNew,
        /// See [`StreamError::DeprecatedRecord`].
        DeprecatedRecord,
        /// See [`StreamError::BackChannelRecord`].
        BackChannelRecord,
        /// See [`StreamError::TrailingData`].
        TrailingData,
        /// See [`StreamError::BadLength`].
        BadLength,
        /// See [`StreamError::BadValue`].
        BadValue,
        /// See [`StreamError::BadPageCount`].
        BadPageCount,
        /// See [`StreamError::BadPageType`].
        BadPageType,
        /// See [`StreamError::MissingStaticDataEnd`].
        MissingStaticDataEnd,
        /// See [`StreamError::DuplicateStaticDataEnd`].
        DuplicateStaticDataEnd,
        /// See [`StreamError::WrongGuestType`].
        WrongGuestType,
        /// See [`StreamError::OutOfOrder`].
        OutOfOrder,
        /// See [`StreamError::DuplicateRecord`].
        DuplicateRecord,
        /// See [`StreamError::MissingRecord`].
        MissingRecord,
        /// See [`StreamError::PfnBeyondP2m`].
        PfnBeyondP2m,
        /// See [`StreamError::UnexpectedCheckpoint`].
        UnexpectedCheckpoint,
        /// See [`StreamError::UnknownInCheckpoint`].
        UnknownInCheckpoint,
        /// See [`StreamError::CrashesXenRestore`].
        CrashesXenRestore,
        /// See [`StreamError::MissingDomainContext`].
        MissingDomainContext,
        /// See [`StreamError::DomainContext`].
        DomainContext,
        /// See [`StreamError::HvmContext`].
        HvmContext,
        /// See [`StreamError::Io`].
        Io,
        /// See [`StreamError::Misuse`].
        Misuse,
    }
}

impl StreamError {
    /// The error's kind.
    pub fn kind(&self) -> ErrorKind {
        use StreamError as E;
        match self {
            E::BadMarker { .. } => ErrorKind::BadMarker,
            E::BadId { .. } => ErrorKind::BadId,
            E::UnsupportedVersion { .. } => ErrorKind::UnsupportedVersion,
            E::ReservedNonZero { .. } => ErrorKind::ReservedNonZero,
            E::BadDomainType { .. } => ErrorKind::BadDomainType,
            E::BadPageShift { .. } => ErrorKind::BadPageShift,
            E::Truncated { .. } => ErrorKind::Truncated,
            E::RecordTooLong { .. } => ErrorKind::RecordTooLong,
            E::PaddingNonZero { .. } => ErrorKind::PaddingNonZero,
            E::UnknownMandatory { .. } => ErrorKind::UnknownMandatory,
            E::RecordTooNew { .. } => ErrorKind::RecordTooNew,
            E::DeprecatedRecord { .. } => ErrorKind::DeprecatedRecord,
            E::BackChannelRecord { .. } => ErrorKind::BackChannelRecord,
            E::TrailingData { .. } => ErrorKind::TrailingData,
            E::BadLength { .. } => ErrorKind::BadLength,
            E::BadValue { .. } => ErrorKind::BadValue,
            E::BadPageCount { .. } => ErrorKind::BadPageCount,
            E::BadPageType { .. } => ErrorKind::BadPageType,
            E::MissingStaticDataEnd { .. } => ErrorKind::MissingStaticDataEnd,
            E::DuplicateStaticDataEnd { .. } => ErrorKind::DuplicateStaticDataEnd,
            E::WrongGuestType { .. } => ErrorKind::WrongGuestType,
            E::OutOfOrder { .. } => ErrorKind::OutOfOrder,
            E::DuplicateRecord { .. } => ErrorKind::DuplicateRecord,
            E::MissingRecord { .. } => ErrorKind::MissingRecord,
            E::PfnBeyondP2m { .. } => ErrorKind::PfnBeyondP2m,
            E::UnexpectedCheckpoint { .. } => ErrorKind::UnexpectedCheckpoint,
            E::UnknownInCheckpoint { .. } => ErrorKind::UnknownInCheckpoint,
            E::CrashesXenRestore { .. } => ErrorKind::CrashesXenRestore,
            E::MissingDomainContext { .. } => ErrorKind::MissingDomainContext,
            E::DomainContext { .. } => ErrorKind::DomainContext,
            E::HvmContext { .. } => ErrorKind::HvmContext,
            E::Io { .. } => ErrorKind::Io,
            E::Misuse { .. } => ErrorKind::Misuse,
        }
    }

    /// Where the error was found.
    pub fn location(&self) -> &Location {
        use StreamError as E;
        match self {
            E::BadMarker { at, .. }
            | E::BadId { at, .. }
            | E::UnsupportedVersion { at, .. }
            | E::ReservedNonZero { at, .. }
            | E::BadDomainType { at, .. }
            | E::BadPageShift { at, .. }
            | E::Truncated { at, .. }
            | E::RecordTooLong { at, .. }
            | E::PaddingNonZero { at, .. }
            | E::UnknownMandatory { at }
            | E::RecordTooNew { at, .. }
            | E::DeprecatedRecord { at }
            | E::BackChannelRecord { at }
            | E::TrailingData { at }
            | E::BadLength { at, .. }
            | E::BadValue { at, .. }
            | E::BadPageCount { at, .. }
            | E::BadPageType { at, .. }
            | E::MissingStaticDataEnd { at }
            | E::DuplicateStaticDataEnd { at, .. }
            | E::WrongGuestType { at, .. }
            | E::OutOfOrder { at, .. }
            | E::DuplicateRecord { at, .. }
            | E::MissingRecord { at, .. }
            | E::PfnBeyondP2m { at, .. }
            | E::UnexpectedCheckpoint { at }
            | E::UnknownInCheckpoint { at, .. }
            | E::CrashesXenRestore { at, .. }
            | E::MissingDomainContext { at }
            | E::DomainContext { at, .. }
            | E::HvmContext { at, .. }
            | E::Io { at, .. }
            | E::Misuse { at, .. } => at,
        }
    }

    /// Absolute byte offset of the error (see [`Location::offset`]).
    pub fn offset(&self) -> u64 {
        self.location().offset
    }

    /// The record concerned, if any.
    pub fn record(&self) -> Option<&RecordInfo> {
        self.location().record.as_ref()
    }
}

/// Something a valid stream may hold but a reader should know about.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Warning {
    /// A record the stream's version deprecates (SHARED_INFO and
    /// X86_TSC_INFO in version 4, which carries them in DOMAIN_CONTEXT).
    Deprecated {
        /// The record.
        record: RecordInfo,
        /// The version that deprecated it.
        since: u32,
    },
    /// A variable-sized record with no content (HVM_PARAMS with count 0,
    /// X86_PV_VCPU_* with no context octets). Xen's saver writes them; the
    /// spec errata allow them.
    EmptyContent {
        /// The record.
        record: RecordInfo,
    },
    /// An unknown optional record (bit 31 set) that was skipped.
    SkippedOptional {
        /// The record.
        record: RecordInfo,
    },
    /// HVM_PARAMS after HVM_CONTEXT in one segment of a version 2 or 3
    /// stream: the spec wants HVM_PARAMS first, but Xen 4.17's saver writes
    /// this order and its restore accepts it.
    HvmParamsAfterContext {
        /// The HVM_PARAMS record.
        record: RecordInfo,
        /// Offset of the HVM_CONTEXT record before it.
        context_offset: u64,
    },
    /// Octets after the END entry of a DOMAIN_CONTEXT blob (strict mode,
    /// which walks the blob): the blob format says END terminates it and
    /// nothing after END is read, so they are not an error.
    AfterBlobEnd {
        /// The DOMAIN_CONTEXT record.
        record: RecordInfo,
        /// Absolute offset of the first octet after END.
        offset: u64,
        /// How many octets follow END.
        extra: u64,
    },
}

impl Warning {
    /// The record the warning is about.
    pub fn record(&self) -> &RecordInfo {
        match self {
            Warning::Deprecated { record, .. }
            | Warning::EmptyContent { record }
            | Warning::SkippedOptional { record }
            | Warning::HvmParamsAfterContext { record, .. }
            | Warning::AfterBlobEnd { record, .. } => record,
        }
    }
}

/// What joins what a stream holds to what Xen's restore would do with it
/// in the message of a `CrashesXenRestore` error, in Rust
/// ([`StreamError::CrashesXenRestore`], the libxl layer's
/// [`OuterError::CrashesXenRestore`](crate::outer::OuterError::CrashesXenRestore))
/// and in the generated Python.
pub const XEN_RESTORE_WOULD: &str = "; Xen's restore would ";

/// The spec name of record `code` of the libxc table.
const fn name(code: u32) -> &'static str {
    LibxcRecord::LAYOUT.name_of(code)
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::Deprecated { record, since } => write!(
                f,
                "{record}: deprecated since stream version {since} ({} carries this state)",
                name(LibxcRecord::DOMAIN_CONTEXT)
            ),
            Warning::EmptyContent { record } => {
                write!(f, "{record}: record has no content")
            }
            Warning::SkippedOptional { record } => write!(
                f,
                "{record}: unknown optional record of {} octets skipped",
                record.length
            ),
            Warning::HvmParamsAfterContext {
                record,
                context_offset,
            } => write!(
                f,
                "{record}: {params} after the {} at offset 0x{context_offset:x}; the spec wants {params} first (accepted before version {})",
                name(LibxcRecord::HVM_CONTEXT),
                crate::libxc::order_since(&super::rules::HVM_PARAMS_FIRST),
                params = name(LibxcRecord::HVM_PARAMS),
            ),
            Warning::AfterBlobEnd {
                record,
                offset,
                extra,
            } => write!(
                f,
                "{record}: {extra} octets after the blob's END entry (from offset 0x{offset:x}), which a loader never reads"
            ),
        }
    }
}

/// The supported versions in words (`2, 3 and 4`).
fn supported_versions() -> String {
    versions_in_words(&crate::libxc::SUPPORTED_VERSIONS)
}

/// Versions in words: `2, 3 and 4`.
pub(crate) fn versions_in_words(versions: &[u32]) -> String {
    let v: Vec<String> = versions.iter().map(|v| v.to_string()).collect();
    match v.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => v.concat(),
    }
}

/// The guest types in words (`1 is x86 PV, 2 is x86 HVM`).
fn domain_types() -> String {
    use crate::layout::SpecEnum;
    let v: Vec<String> = crate::libxc::DomainType::LAYOUT
        .variants
        .iter()
        .map(|d| format!("{} is {}", d.value, d.human))
        .collect();
    v.join(", ")
}
