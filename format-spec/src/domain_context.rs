//! The DOMAIN_CONTEXT blob: what a revision 4 stream carries inside its
//! DOMAIN_CONTEXT record (type 0x13).
//!
//! The blob comes from the `XEN_DOMCTL_getdomaincontext` hypercall of the
//! "domain context infrastructure" patch series (layout of series v7 to v9).
//! That series was never merged into Xen, so Xen has no C names for the
//! blob's structs and constants: every C name below (`xc_sr_dc_desc`,
//! `XC_SR_DC_MAGIC`, ...) and every Python name (`DC_MAGIC`,
//! `DC_TYPE_shared_info`, ...) is this project's own invention, chosen in the
//! style of `xg_sr_stream_format.h` and `xen.migration`.
//!
//! # Layout
//!
//! A blob is a run of entries. Every entry starts on an 8-octet boundary
//! with an 8-octet [`DcDescriptor`] (type code, instance, length), followed
//! by `length` octets: the entry's body and then zero padding up to the next
//! multiple of 8. Unlike a libxc record header, `length` *counts* the
//! padding, so it is always a multiple of 8. Every integer is in the byte
//! order of the stream that carries the blob.
//!
//! | code | entry | body |
//! |---|---|---|
//! | 0 | END | empty; nothing after it belongs to the blob |
//! | 1 | HEADER | [`DcHeader`]: magic, Xen version, blob version; always first |
//! | 2 | SHARED_INFO | [`DcSharedInfo`]: flags, buffer size, the shared info octets |
//! | 3 | TSC_INFO | [`DcTscInfo`]: the TSC settings (x86 only) |
//!
//! Xen writes HEADER, SHARED_INFO, TSC_INFO, END. A 64-bit x86 domain gives
//! a 3216-octet blob: HEADER at 0 (length 16), SHARED_INFO at 24 (length
//! 3144), TSC_INFO at 3176 (length 24) and END at 3208 (length 0).
//!
//! # Reading, writing, checking
//!
//! * [`entries`] walks a blob without copying anything and applies the
//!   rules a restore applies (the *lenient* rules, listed on [`entries`]);
//!   [`parse`] collects its items and insists on an END.
//! * [`verify`] applies every rule of the format (the *strict* rules, listed
//!   on [`verify`]).
//! * [`write()`] lays entries out, computing lengths and padding.
//! * [`blob_from_v3`] and [`v3_from_blob`] are the building blocks of a
//!   conversion between a version 3 stream (SHARED_INFO and X86_TSC_INFO
//!   records) and a version 4 stream (one DOMAIN_CONTEXT record).
//!
//! No function here panics on any input, and none allocates more than a
//! bounded multiple of the input it was given.
//!
//! ```
//! use format_spec::binrw::Endian;
//! use format_spec::domain_context::{self as dc, DcEntry, DcHeader, DcType, SharedInfoRef};
//!
//! let shared = vec![0x5a; 13];
//! let mut blob = Vec::new();
//! dc::write(
//!     &[
//!         DcEntry::Header(DcHeader::new(4, 17)),
//!         DcEntry::SharedInfo(SharedInfoRef { flags: 0, buffer: &shared }),
//!         DcEntry::End,
//!     ],
//!     Endian::Little,
//!     &mut blob,
//! )
//! .unwrap();
//! // 8 + 16, then 8 + (8 + 13 padded to 24), then 8.
//! assert_eq!(blob.len(), 64);
//! let items = dc::verify(&blob, Endian::Little).unwrap();
//! assert_eq!(items[1].entry.kind(), DcType::SharedInfo);
//! assert_eq!(items[1].length, 24);
//! ```

use binrw::Endian;

use crate::blob::{
    blob_rules, body_field, BlobFormat, BlobRule, Broken, Check, Entry, EntryRule, Size, Walk,
};
use crate::bytes::{u16_octets, u32_at, u32_octets};
use crate::layout::{field_index, field_of, SpecEnum, Wire};
use crate::libxc::{X86TscInfo, PAGE_SIZE};
use crate::stream::rules::Source;
use crate::{spec_consts, SpecEnum, Wire};

spec_consts! {
    /// Named constants of the DOMAIN_CONTEXT blob, with the C and Python
    /// names this project gives them (Xen never defined any).
    DOMAIN_CONTEXT_CONSTANTS;

    /// HEADER magic: the octets "SAVE" read as a big-endian number. Like
    /// every field it is stored in the stream's byte order, so a
    /// little-endian blob holds `45 56 41 53`.
    DC_MAGIC: u32 = 0x5341_5645,
        c: Some("XC_SR_DC_MAGIC"), c_expr: Some("0x53415645U"),
        py: Some("DC_MAGIC"), py_expr: None;
    /// The only blob version defined (series v7 to v9).
    DC_VERSION: u32 = 1,
        c: Some("XC_SR_DC_VERSION"), c_expr: None,
        py: Some("DC_VERSION"), py_expr: None;
    /// Every entry starts on a multiple of this many octets, and every
    /// descriptor length is a multiple of it.
    DC_ALIGN: u32 = 8,
        c: Some("XC_SR_DC_ALIGN"), c_expr: None,
        py: Some("DC_ALIGN"), py_expr: None;
    /// Bit number of the compat flag of a SHARED_INFO entry.
    DC_SHARED_INFO_COMPAT_BIT: u32 = 0,
        c: Some("_XC_SR_DC_SHARED_INFO_COMPAT"), c_expr: None,
        py: Some("DC_SHARED_INFO_BIT_COMPAT"), py_expr: None;
    /// SHARED_INFO flag: the domain uses the 32-bit (compat) layout of the
    /// shared info page.
    DC_SHARED_INFO_COMPAT: u32 = 1 << DC_SHARED_INFO_COMPAT_BIT,
        c: Some("XC_SR_DC_SHARED_INFO_COMPAT"), c_expr: Some("(1U << _XC_SR_DC_SHARED_INFO_COMPAT)"),
        py: Some("DC_SHARED_INFO_COMPAT"), py_expr: Some("(1 << DC_SHARED_INFO_BIT_COMPAT)");
    /// SHARED_INFO flags that must be zero: every bit but the compat bit.
    DC_SHARED_INFO_RESERVED_MASK: u32 = !DC_SHARED_INFO_COMPAT,
        c: None, c_expr: None,
        py: Some("DC_SHARED_INFO_RESZ_MASK"), py_expr: Some("0xfffffffe");
    /// Octets of shared info an x86 domain with the 64-bit layout has
    /// (`sizeof(struct shared_info)` of a 64-bit x86 build of Xen).
    DC_SHARED_INFO_SIZE_X86_64: u32 = 3136,
        c: Some("XC_SR_DC_SHARED_INFO_SIZE_X86_64"), c_expr: None,
        py: Some("DC_SHARED_INFO_SIZE_X86_64"), py_expr: None;
    /// Octets of shared info an x86 domain with the compat (32-bit) layout
    /// has.
    DC_SHARED_INFO_SIZE_X86_32: u32 = 2344,
        c: Some("XC_SR_DC_SHARED_INFO_SIZE_X86_32"), c_expr: None,
        py: Some("DC_SHARED_INFO_SIZE_X86_32"), py_expr: None;
}

/// Entry type codes of the blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, SpecEnum)]
#[spec(py_table = "dc_type_to_str")]
pub enum DcType {
    /// Ends the blob; its body is empty and nothing after it is read.
    #[spec(c = "XC_SR_DC_TYPE_END", py = "DC_TYPE_end", human = "End")]
    End = 0,
    /// Identifies the blob; must be the first entry.
    #[spec(c = "XC_SR_DC_TYPE_HEADER", py = "DC_TYPE_header", human = "Header")]
    Header = 1,
    /// The domain's shared info.
    #[spec(
        c = "XC_SR_DC_TYPE_SHARED_INFO",
        py = "DC_TYPE_shared_info",
        human = "Shared info"
    )]
    SharedInfo = 2,
    /// The domain's TSC settings (x86 only).
    #[spec(
        c = "XC_SR_DC_TYPE_TSC_INFO",
        py = "DC_TYPE_tsc_info",
        human = "TSC info"
    )]
    TscInfo = 3,
}

/// The 8-octet descriptor in front of every entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Wire)]
#[wire(c_name = "xc_sr_dc_desc", py_format = "DC_DESC_FORMAT")]
pub struct DcDescriptor {
    /// The entry type ([`DcType`]).
    #[wire(values = DcType, error = "UnknownType")]
    pub typecode: u16,
    /// Which instance of the type (per-vCPU types would number them); 0
    /// for every type defined so far.
    #[wire(one_of = [0], error = "BadInstance")]
    pub instance: u16,
    /// Octets after the descriptor: the body and its zero padding, so
    /// always a multiple of [`DC_ALIGN`].
    pub length: u32,
}

/// Body of the HEADER entry, 12 octets (descriptor length 16).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Wire)]
#[wire(c_name = "xc_sr_dc_header", py_format = "DC_HEADER_FORMAT")]
pub struct DcHeader {
    /// [`DC_MAGIC`].
    #[wire(equals = DC_MAGIC, error = "BadMagic")]
    pub magic: u32,
    /// Major version of the Xen that wrote the blob (not checked on load).
    pub xen_major: u16,
    /// Minor version of the Xen that wrote the blob (not checked on load).
    pub xen_minor: u16,
    /// Blob version: [`DC_VERSION`].
    #[wire(equals = DC_VERSION, error = "BadVersion")]
    pub version: u32,
}

impl DcHeader {
    /// A header for a blob written by Xen `xen_major.xen_minor`.
    pub fn new(xen_major: u16, xen_minor: u16) -> Self {
        DcHeader {
            magic: DC_MAGIC,
            xen_major,
            xen_minor,
            version: DC_VERSION,
        }
    }
}

/// Body of the SHARED_INFO entry: flags, the size of the buffer and the
/// buffer, then zero padding to a multiple of 8 (counted by the descriptor
/// length, not by `buffer_size`).
#[derive(Debug, Clone, PartialEq, Eq, Wire)]
#[wire(c_name = "xc_sr_dc_shared_info", py_format = "DC_SHARED_INFO_FORMAT")]
pub struct DcSharedInfo {
    /// Bit 0 ([`DC_SHARED_INFO_COMPAT`]): the domain uses the 32-bit
    /// layout. Every other bit is reserved and must be zero.
    #[wire(reserved_bits = DC_SHARED_INFO_RESERVED_MASK, error = "ReservedFlags")]
    pub flags: u32,
    /// Octets in `buffer`: [`DC_SHARED_INFO_SIZE_X86_64`] or
    /// [`DC_SHARED_INFO_SIZE_X86_32`] on x86.
    pub buffer_size: u32,
    /// The shared info content.
    #[wire(count = buffer_size)]
    pub buffer: Vec<u8>,
}

/// Body of the TSC_INFO entry, 24 octets: the same values as the libxc
/// X86_TSC_INFO record ([`X86TscInfo`]) in a different order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Wire)]
#[wire(c_name = "xc_sr_dc_tsc_info", py_format = "DC_TSC_INFO_FORMAT")]
pub struct DcTscInfo {
    /// TSC mode (Xen's `TSC_MODE_*`).
    pub mode: u32,
    /// Incarnation counter.
    pub incarnation: u32,
    /// Elapsed time in nanoseconds.
    pub elapsed_nsec: u64,
    /// TSC frequency in kHz.
    pub khz: u32,
    /// The tail padding of the 64-bit C struct. The patch series copied the
    /// struct without clearing it, so real blobs may hold anything here:
    /// the value is carried through (a blob reads and writes back
    /// identically) but ignored, and not even a strict verifier requires
    /// it to be zero. It is *not* a reserved field.
    pub _pad: u32,
}

/// Size of the descriptor (8).
const DESC: usize = DcDescriptor::LAYOUT.size;
/// Size of the HEADER body (12).
const HEADER_BODY: usize = DcHeader::LAYOUT.size;
/// Size of the fixed part of a SHARED_INFO body (8).
const SI_FIXED: usize = DcSharedInfo::LAYOUT.size;
/// Size of the TSC_INFO body (24).
const TSC_BODY: usize = DcTscInfo::LAYOUT.size;
/// [`DC_ALIGN`] as a `usize`.
const ALIGN: usize = DC_ALIGN as usize;
/// Offset of the SHARED_INFO `flags` and `buffer_size`.
const SI_FLAGS_OFF: usize = field_of(&DcSharedInfo::LAYOUT, "flags").offset;
const SI_SIZE_OFF: usize = field_of(&DcSharedInfo::LAYOUT, "buffer_size").offset;

/// The entry types of the blob: body struct, size rule, and whether one
/// may appear twice.
pub const DC_ENTRIES: &[EntryRule] = &[
    EntryRule {
        typecode: DcType::End as u16,
        body: None,
        size: Size::exact(0),
        at_most_once: false,
    },
    EntryRule {
        typecode: DcType::Header as u16,
        body: Some(&DcHeader::LAYOUT),
        size: Size::exact(HEADER_BODY),
        at_most_once: false,
    },
    EntryRule {
        typecode: DcType::SharedInfo as u16,
        body: Some(&DcSharedInfo::LAYOUT),
        size: Size::Counted {
            fixed: SI_FIXED,
            count_at: SI_SIZE_OFF,
            element: 1,
        },
        at_most_once: true,
    },
    EntryRule {
        typecode: DcType::TscInfo as u16,
        body: Some(&DcTscInfo::LAYOUT),
        size: Size::exact(TSC_BODY),
        at_most_once: true,
    },
];

/// The entry type of a code the walk has checked (see [`Check::KnownType`]).
fn dc_type(code: u16) -> DcType {
    DcType::from_value(u64::from(code)).unwrap_or(DcType::End)
}

/// Where the blob format comes from.
const SERIES: Source = Source::Definition {
    document: "DOMAIN_CONTEXT blob (XEN_DOMCTL_getdomaincontext, domain context series v7 to v9)",
    statement: "a run of 8-octet aligned entries, each a descriptor (type, instance, length of body and padding) and a body, HEADER first and END last",
};

/// A project rule: the blob's writer pads each body to the next multiple
/// of 8 and no further.
const EXACT: Source = Source::Project {
    reason: "the blob's writer pads each body to the next multiple of 8 and no further; a longer length, or a SHARED_INFO buffer_size that disagrees with it, hides octets a loader skips unread",
};

/// A project rule: one shared info page, one set of TSC settings.
const ONCE: Source = Source::Project {
    reason: "a domain has one shared info page and one set of TSC settings; a second entry would contradict the first",
};

/// The rules of the blob, in the order they are checked: those of a
/// restore ([`Modes::Both`](crate::stream::ErrorModes::Both), applied by [`entries`]), then the strict ones
/// ([`verify`]).
#[rustfmt::skip]
pub const DC_RULES: &[BlobRule<DcErrorKind>] = blob_rules! { DcErrorKind; common Both, SERIES;
    Check::DescriptorField(field_index(&DcDescriptor::LAYOUT, "instance")), Both,
        "the instance is 0 (no type defined so far has instances)", SERIES,
        |f| DcErrorKind::BadInstance { typ: dc_type(f.typecode), instance: f.instance };
    Check::MinBody, Both, "the body holds its type's fixed part", SERIES,
        |f| DcErrorKind::BodyTooShort { typ: dc_type(f.typecode), length: f.length, min: f.expected };
    header DcType::Header as u16, &DcHeader::LAYOUT, Both, SERIES;
    Check::CountFits, Both, "SHARED_INFO buffer_size fits in the entry", SERIES,
        |f| DcErrorKind::BufferOverrun { buffer_size: f.value as u32, space: f.available };
    Check::LengthAligned, StrictOnly,
        "every length is a multiple of 8, so every entry is 8-aligned", SERIES,
        |f| DcErrorKind::Misaligned { length: f.length };
    Check::PaddingZero, StrictOnly, "padding octets are zero", SERIES,
        |f| DcErrorKind::PaddingNonZero { value: f.value as u8 };
    Check::LengthExact, StrictOnly,
        "each length is exactly the body rounded up to 8 (for SHARED_INFO, 8 + buffer_size rounded up)", EXACT,
        |f| DcErrorKind::LengthMismatch { typ: dc_type(f.typecode), length: f.length, expected: f.expected };
    body_field(DcType::SharedInfo as u16, &DcSharedInfo::LAYOUT, "flags"), StrictOnly,
        "SHARED_INFO flags other than bit 0 are zero", SERIES,
        |f| DcErrorKind::ReservedFlags { flags: f.value as u32 };
    Check::AtMostOnce, StrictOnly, "SHARED_INFO and TSC_INFO appear at most once", ONCE,
        |f| DcErrorKind::Duplicate { typ: dc_type(f.typecode) };
};

/// The DOMAIN_CONTEXT blob format, which [`entries`] and [`verify`]
/// interpret (through [`crate::blob`]) and the generated Python
/// (`domain_context.py`) reads.
pub const DC_FORMAT: BlobFormat<DcErrorKind> = BlobFormat::new(
    &DcDescriptor::LAYOUT,
    DcType::Header as u16,
    DcType::End as u16,
    Some(ALIGN),
    DC_ENTRIES,
    DC_RULES,
);

/// Rounds `n` up to a multiple of [`DC_ALIGN`], or `None` on overflow.
fn align_up(n: usize) -> Option<usize> {
    n.checked_add(ALIGN - 1).map(|m| m & !(ALIGN - 1))
}

/// The SHARED_INFO body as it sits in a blob, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedInfoRef<'a> {
    /// The flags ([`DC_SHARED_INFO_COMPAT`] and reserved bits).
    pub flags: u32,
    /// The shared info octets (`buffer_size` of them).
    pub buffer: &'a [u8],
}

impl SharedInfoRef<'_> {
    /// Whether the compat (32-bit) flag is set.
    pub fn compat(&self) -> bool {
        self.flags & DC_SHARED_INFO_COMPAT != 0
    }

    /// An owned copy in the form of the description's struct.
    pub fn to_owned_body(&self) -> DcSharedInfo {
        DcSharedInfo {
            flags: self.flags,
            buffer_size: self.buffer.len() as u32,
            buffer: self.buffer.to_vec(),
        }
    }
}

/// One decoded entry of a blob: the typed view of each entry type.
///
/// The blob's rules ([`DC_RULES`], [`DC_ENTRIES`]) are data, and the
/// verifiers follow a changed table alone; this typed view is code. A new
/// [`DcType`] needs a variant here: the decoder and the writer match every
/// type, so the compiler names the two places to extend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DcEntry<'a> {
    /// END.
    End,
    /// HEADER.
    Header(DcHeader),
    /// SHARED_INFO, its buffer borrowed from the blob.
    SharedInfo(SharedInfoRef<'a>),
    /// TSC_INFO.
    TscInfo(DcTscInfo),
}

impl DcEntry<'_> {
    /// The entry's type.
    pub fn kind(&self) -> DcType {
        match self {
            DcEntry::End => DcType::End,
            DcEntry::Header(_) => DcType::Header,
            DcEntry::SharedInfo(_) => DcType::SharedInfo,
            DcEntry::TscInfo(_) => DcType::TscInfo,
        }
    }

    /// Octets of body, padding excluded.
    pub fn body_len(&self) -> usize {
        match self {
            DcEntry::End => 0,
            DcEntry::Header(_) => HEADER_BODY,
            DcEntry::SharedInfo(s) => SI_FIXED.saturating_add(s.buffer.len()),
            DcEntry::TscInfo(_) => TSC_BODY,
        }
    }
}

/// An entry together with where it sits in the blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DcItem<'a> {
    /// Index of the entry in the blob (0 for the first).
    pub index: usize,
    /// Offset of the entry's descriptor in the blob.
    pub offset: usize,
    /// The descriptor's instance.
    pub instance: u16,
    /// The descriptor's length (body and padding).
    pub length: u32,
    /// The decoded body.
    pub entry: DcEntry<'a>,
}

impl DcItem<'_> {
    /// Offset of the body in the blob.
    pub fn body_offset(&self) -> usize {
        self.offset + DESC
    }
}

/// What is wrong with a blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DcErrorKind {
    /// Fewer than 8 octets remain where a descriptor should start.
    #[error("only {available} octets remain where an 8-octet descriptor should start")]
    TruncatedDescriptor {
        /// Octets left in the blob.
        available: usize,
    },
    /// The descriptor's length runs past the end of the blob.
    #[error(
        "length {length} runs past the end of the blob ({available} octets follow the descriptor)"
    )]
    Overrun {
        /// The descriptor's length.
        length: u32,
        /// Octets after the descriptor.
        available: usize,
    },
    /// A type code the format does not define.
    #[error("unknown type code {typecode}")]
    UnknownType {
        /// The type code.
        typecode: u16,
    },
    /// The first entry is not HEADER.
    #[error("the first entry has type code {typecode}, not HEADER")]
    HeaderNotFirst {
        /// The first entry's type code.
        typecode: u16,
    },
    /// HEADER appears again after the first entry.
    #[error("a second HEADER")]
    DuplicateHeader,
    /// The HEADER magic is wrong.
    #[error("HEADER magic is 0x{found:08x}, expected 0x{DC_MAGIC:08x}")]
    BadMagic {
        /// The magic found.
        found: u32,
    },
    /// The HEADER version is not [`DC_VERSION`].
    #[error("HEADER version is {found}, expected {DC_VERSION}")]
    BadVersion {
        /// The version found.
        found: u32,
    },
    /// An instance other than 0 (no type defined so far has instances).
    #[error("{typ:?} entry has instance {instance}, expected 0")]
    BadInstance {
        /// The entry type.
        typ: DcType,
        /// The instance found.
        instance: u16,
    },
    /// The body is too short for the type's fixed part.
    #[error("{typ:?} entry has length {length}, shorter than its {min}-octet body")]
    BodyTooShort {
        /// The entry type.
        typ: DcType,
        /// The descriptor's length.
        length: u32,
        /// Octets the body needs.
        min: usize,
    },
    /// SHARED_INFO `buffer_size` promises more octets than the entry holds.
    #[error("SHARED_INFO buffer_size {buffer_size} exceeds the {space} octets the entry provides")]
    BufferOverrun {
        /// The buffer size found.
        buffer_size: u32,
        /// Octets after the fixed part.
        space: usize,
    },
    /// The blob ends without an END entry.
    #[error("the blob ends without an END entry")]
    MissingEnd,
    /// A descriptor length that is not a multiple of 8, so the next entry
    /// would not be 8-aligned (strict).
    #[error("length {length} is not a multiple of {DC_ALIGN}")]
    Misaligned {
        /// The descriptor's length.
        length: u32,
    },
    /// A padding octet is not zero (strict).
    #[error("padding octet is 0x{value:02x}, not zero")]
    PaddingNonZero {
        /// The octet.
        value: u8,
    },
    /// The descriptor's length is not the body rounded up to 8 (strict):
    /// a whole spare block of padding, or for SHARED_INFO a `buffer_size`
    /// that disagrees with the length.
    #[error("{typ:?} entry has length {length}, expected {expected} for its body")]
    LengthMismatch {
        /// The entry type.
        typ: DcType,
        /// The descriptor's length.
        length: u32,
        /// The length its body implies.
        expected: usize,
    },
    /// Reserved SHARED_INFO flags are set (strict).
    #[error("SHARED_INFO flags 0x{flags:08x} set reserved bits")]
    ReservedFlags {
        /// The flags.
        flags: u32,
    },
    /// A SHARED_INFO or TSC_INFO entry appears twice (strict).
    #[error("a second {typ:?} entry")]
    Duplicate {
        /// The entry type.
        typ: DcType,
    },
    /// Octets follow the END entry. Not an error of [`verify`]: a loader
    /// stops at END and never reads them (see [`after_end`]); kept for
    /// callers that want a blob to end at its END.
    #[error("{extra} octets follow the END entry")]
    TrailingData {
        /// How many.
        extra: usize,
    },
}

/// A blob that breaks a rule: what, in which entry, at which offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("domain context entry {entry}, offset {offset}: {kind}")]
pub struct DcError {
    /// Offset in the blob of the offending octets: the descriptor for
    /// framing errors, the field for field errors, the octet for padding.
    pub offset: usize,
    /// Index of the entry (0 for the first; for errors after the last
    /// entry, the index the next entry would have).
    pub entry: usize,
    /// What is wrong.
    pub kind: DcErrorKind,
}

impl From<Broken<DcErrorKind>> for DcError {
    fn from(b: Broken<DcErrorKind>) -> Self {
        DcError {
            offset: b.offset,
            entry: b.entry,
            kind: b.kind,
        }
    }
}

/// Walks a blob entry by entry; made by [`entries`].
#[derive(Debug, Clone)]
pub struct DcEntries<'a> {
    blob: &'a [u8],
    endian: Endian,
    walk: Walk<'a, DcErrorKind>,
}

/// Walks the entries of `blob` in byte order `endian`, copying nothing.
///
/// Lenient rules, those a restore applies (the rules of [`DC_RULES`] in
/// [`Modes::Both`](crate::stream::ErrorModes::Both); each failure ends the walk with a [`DcError`]):
/// * every descriptor and body lies within the blob;
/// * the first entry is HEADER, with [`DC_MAGIC`] and [`DC_VERSION`], and no
///   other HEADER follows;
/// * type codes are known and instances are 0;
/// * each body holds its type's fixed part, and SHARED_INFO's
///   `buffer_size` fits in the entry.
///
/// The walk stops after END; octets after it are not looked at. Lengths
/// that are not multiples of 8 and non-zero padding are tolerated here
/// (the next entry starts right after the length); [`verify`] rejects them.
pub fn entries(blob: &[u8], endian: Endian) -> DcEntries<'_> {
    DcEntries {
        blob,
        endian,
        walk: DC_FORMAT.walk(blob, endian),
    }
}

impl<'a> DcEntries<'a> {
    /// Offset where the next entry would start (after END: the end of it).
    pub fn position(&self) -> usize {
        self.walk.position()
    }

    /// The decoded body of `e`, which the walk has checked (`None` only if
    /// the rules let through a body too short to decode).
    fn decode(&self, e: &Entry) -> Option<DcEntry<'a>> {
        let body_at = e.offset + DESC;
        let body = self.blob.get(body_at..body_at + e.length as usize)?;
        let endian = self.endian;
        Some(match DcType::from_value(u64::from(e.typecode))? {
            DcType::End => DcEntry::End,
            DcType::Header => {
                DcEntry::Header(crate::body::read_wire(body.get(..HEADER_BODY)?, endian).ok()?)
            }
            DcType::SharedInfo => {
                let flags = u32_at(body, SI_FLAGS_OFF, endian)?;
                let size = u32_at(body, SI_SIZE_OFF, endian)? as usize;
                DcEntry::SharedInfo(SharedInfoRef {
                    flags,
                    buffer: body.get(SI_FIXED..SI_FIXED.checked_add(size)?)?,
                })
            }
            DcType::TscInfo => {
                DcEntry::TscInfo(crate::body::read_wire(body.get(..TSC_BODY)?, endian).ok()?)
            }
        })
    }
}

impl<'a> Iterator for DcEntries<'a> {
    type Item = Result<DcItem<'a>, DcError>;

    fn next(&mut self) -> Option<Self::Item> {
        let e = match self.walk.next()? {
            Ok(e) => e,
            Err(b) => return Some(Err(b.into())),
        };
        let Some(entry) = self.decode(&e) else {
            // Unreachable with the rules of DC_RULES: they check the type
            // and the body's size before the body is decoded.
            while self.walk.next().is_some() {}
            let typ = dc_type(e.typecode);
            let min = DC_FORMAT.entry(e.typecode).map_or(0, |t| t.size.min());
            return Some(Err(DcError {
                offset: e.offset,
                entry: e.index,
                kind: DcErrorKind::BodyTooShort {
                    typ,
                    length: e.length,
                    min,
                },
            }));
        };
        Some(Ok(DcItem {
            index: e.index,
            offset: e.offset,
            instance: e.instance,
            length: e.length,
            entry,
        }))
    }
}

/// Decodes a whole blob under the lenient rules of [`entries`], requiring
/// an END entry. Octets after END are ignored. The returned items borrow
/// from `blob`; their number is at most `blob.len() / 8`.
pub fn parse(blob: &[u8], endian: Endian) -> Result<Vec<DcItem<'_>>, DcError> {
    let mut items = Vec::new();
    for item in entries(blob, endian) {
        items.push(item?);
    }
    Ok(items)
}

/// Checks every rule of the format and returns the entries.
///
/// On top of the lenient rules of [`entries`], the strict rules of
/// [`DC_RULES`] ([`Modes::StrictOnly`](crate::stream::ErrorModes::StrictOnly)):
/// * every descriptor length is a multiple of 8, so every entry is
///   8-aligned;
/// * every padding octet is zero;
/// * each length is exactly the body rounded up to 8: 16 for HEADER, 24 for
///   TSC_INFO, 0 for END, and for SHARED_INFO `8 + buffer_size` rounded up
///   (so `buffer_size` agrees with the length and the padding is shorter
///   than 8 octets);
/// * SHARED_INFO flags other than bit 0 are zero;
/// * SHARED_INFO and TSC_INFO appear at most once.
///
/// Octets after END are not an error: the blob format says END
/// terminates the blob and nothing after it is read (a verifier warns,
/// see [`after_end`]).
///
/// The tail octets of TSC_INFO (`_pad`) are not checked: Xen never cleared
/// them (see [`DcTscInfo::_pad`]).
pub fn verify(blob: &[u8], endian: Endian) -> Result<Vec<DcItem<'_>>, DcError> {
    let items = parse(blob, endian)?;
    let walked: Vec<Entry> = items
        .iter()
        .map(|i| Entry {
            index: i.index,
            offset: i.offset,
            typecode: i.entry.kind() as u16,
            instance: i.instance,
            length: i.length,
        })
        .collect();
    DC_FORMAT.check(blob, endian, &walked)?;
    Ok(items)
}

/// The octets of `blob` after its END entry (`items` as [`parse`] or
/// [`verify`] returned them): where they start and how many, or `None`
/// when the blob ends with END. A loader never reads them.
pub fn after_end(items: &[DcItem<'_>], blob_len: usize) -> Option<(usize, usize)> {
    let end = items
        .iter()
        .find(|i| matches!(i.entry, DcEntry::End))
        .map(|i| i.body_offset() + i.length as usize)?;
    (end < blob_len).then(|| (end, blob_len - end))
}

/// Why entries could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DcWriteError {
    /// An entry's body would not fit a 32-bit length.
    #[error("entry {index}: a {len}-octet body does not fit a 32-bit length")]
    TooLong {
        /// Index of the entry.
        index: usize,
        /// Its body length.
        len: usize,
    },
}

/// Appends `entries` to `out` as a blob in byte order `endian`: each gets a
/// descriptor (instance 0, length = body rounded up to 8) and zero padding.
/// The entries are written in the order given, END included only if given,
/// so that the caller controls the whole blob.
pub fn write(
    entries: &[DcEntry<'_>],
    endian: Endian,
    out: &mut Vec<u8>,
) -> Result<(), DcWriteError> {
    for (index, entry) in entries.iter().enumerate() {
        let body_len = entry.body_len();
        let padded = align_up(body_len)
            .filter(|n| u32::try_from(*n).is_ok())
            .ok_or(DcWriteError::TooLong {
                index,
                len: body_len,
            })?;
        out.extend_from_slice(&u16_octets(entry.kind() as u16, endian));
        out.extend_from_slice(&u16_octets(0, endian));
        out.extend_from_slice(&u32_octets(padded as u32, endian));
        let start = out.len();
        match entry {
            DcEntry::End => {}
            DcEntry::Header(h) => {
                // Writing a fixed-size struct into a Vec cannot fail.
                let _ = crate::body::write_wire(h, out, endian);
            }
            DcEntry::SharedInfo(s) => {
                out.extend_from_slice(&u32_octets(s.flags, endian));
                out.extend_from_slice(&u32_octets(s.buffer.len() as u32, endian));
                out.extend_from_slice(s.buffer);
            }
            DcEntry::TscInfo(t) => {
                let _ = crate::body::write_wire(t, out, endian);
            }
        }
        out.resize(start + padded, 0);
    }
    Ok(())
}

/// Octets of shared info an x86 domain has in the blob: compat (32-bit)
/// or not.
pub const fn shared_info_size(compat: bool) -> usize {
    if compat {
        DC_SHARED_INFO_SIZE_X86_32 as usize
    } else {
        DC_SHARED_INFO_SIZE_X86_64 as usize
    }
}

/// The TSC_INFO body holding the values of an X86_TSC_INFO record. The
/// record's reserved `_res1` has no place in the blob and is dropped;
/// `_pad` is zero.
pub fn tsc_from_record(rec: &X86TscInfo) -> DcTscInfo {
    DcTscInfo {
        mode: rec.mode,
        incarnation: rec.incarnation,
        elapsed_nsec: rec.nsec,
        khz: rec.khz,
        _pad: 0,
    }
}

/// The X86_TSC_INFO record holding the values of a TSC_INFO body, with
/// `_res1` zero. The blob's `_pad` has no place in the record and is
/// dropped.
pub fn tsc_to_record(tsc: &DcTscInfo) -> X86TscInfo {
    X86TscInfo {
        mode: tsc.mode,
        khz: tsc.khz,
        nsec: tsc.elapsed_nsec,
        incarnation: tsc.incarnation,
        _res1: 0,
    }
}

/// Octets a conversion could not carry over. All zero (see
/// [`Losses::is_empty`]) when the conversion is exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Losses {
    /// v3 to blob: offset within the 4096-octet SHARED_INFO page of the
    /// first non-zero octet beyond the shared-info size, which the blob
    /// does not carry.
    pub page_tail: Option<usize>,
    /// v3 to blob: the X86_TSC_INFO record's reserved `_res1`, which the
    /// blob does not carry (a valid stream has 0).
    pub tsc_res1: u32,
    /// Blob to v3: the TSC_INFO tail octets (`_pad`), which the record
    /// does not carry. Xen did not clear them, so a real blob may lose
    /// non-zero junk here.
    pub tsc_pad: u32,
}

impl Losses {
    /// True when nothing was lost.
    pub fn is_empty(&self) -> bool {
        self.page_tail.is_none() && self.tsc_res1 == 0 && self.tsc_pad == 0
    }
}

/// The result of a conversion and what it could not carry over.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a conversion may have lost octets: check `losses` or call `exact`"]
pub struct Converted<T> {
    /// The converted value.
    pub value: T,
    /// What was dropped.
    pub losses: Losses,
}

impl<T> Converted<T> {
    /// The value if nothing was lost, else [`V3Error::Lossy`].
    pub fn exact(self) -> Result<T, V3Error> {
        if self.losses.is_empty() {
            Ok(self.value)
        } else {
            Err(V3Error::Lossy(self.losses))
        }
    }
}

/// Why a conversion between the v3 records and a blob failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum V3Error {
    /// A SHARED_INFO record body that is not one page long.
    #[error("SHARED_INFO record body is {len} octets, not {PAGE_SIZE}")]
    PageSize {
        /// Its length.
        len: usize,
    },
    /// A blob's shared info does not fit in a v3 SHARED_INFO page.
    #[error("SHARED_INFO buffer_size {buffer_size} does not fit a {PAGE_SIZE}-octet page")]
    BufferTooLarge {
        /// The buffer size.
        buffer_size: usize,
    },
    /// The blob breaks a rule of the format.
    #[error(transparent)]
    Blob(#[from] DcError),
    /// The conversion would drop octets (from [`Converted::exact`]).
    #[error("the conversion would drop data: {0:?}")]
    Lossy(Losses),
}

/// The content of the v3 records that version 4 moves into the blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V3Parts {
    /// Xen major version (the blob's HEADER; the domain header in v3).
    pub xen_major: u16,
    /// Xen minor version.
    pub xen_minor: u16,
    /// The SHARED_INFO record body (one page), if the domain has one in
    /// the stream (PV guests).
    pub shared_info: Option<Vec<u8>>,
    /// Whether the shared info uses the compat (32-bit) layout. A v3
    /// stream does not record this in SHARED_INFO: it follows from the
    /// guest width of X86_PV_INFO (4 octets: compat).
    pub compat: bool,
    /// The X86_TSC_INFO record body, if any.
    pub tsc_info: Option<X86TscInfo>,
}

/// Builds a blob (HEADER, SHARED_INFO, TSC_INFO, END; the two middle ones
/// only if given) from the content of v3 records, in byte order `endian`.
///
/// `parts.shared_info` must be a whole page; the blob keeps its first
/// [`shared_info_size`]`(parts.compat)` octets, and sets the compat flag
/// from `parts.compat`. Non-zero octets beyond that size, and a non-zero
/// `_res1` in the TSC record, cannot be carried: they are reported in
/// [`Converted::losses`].
pub fn blob_from_v3(parts: &V3Parts, endian: Endian) -> Result<Converted<Vec<u8>>, V3Error> {
    let mut losses = Losses::default();
    let mut list: Vec<DcEntry<'_>> = vec![DcEntry::Header(DcHeader::new(
        parts.xen_major,
        parts.xen_minor,
    ))];
    if let Some(page) = &parts.shared_info {
        if page.len() != PAGE_SIZE {
            return Err(V3Error::PageSize { len: page.len() });
        }
        let keep = shared_info_size(parts.compat);
        losses.page_tail = page[keep..].iter().position(|b| *b != 0).map(|i| keep + i);
        list.push(DcEntry::SharedInfo(SharedInfoRef {
            flags: if parts.compat {
                DC_SHARED_INFO_COMPAT
            } else {
                0
            },
            buffer: &page[..keep],
        }));
    }
    if let Some(rec) = &parts.tsc_info {
        losses.tsc_res1 = rec._res1;
        list.push(DcEntry::TscInfo(tsc_from_record(rec)));
    }
    list.push(DcEntry::End);
    let mut blob = Vec::new();
    // The bodies are at most one page: they always fit a 32-bit length.
    let _ = write(&list, endian, &mut blob);
    Ok(Converted {
        value: blob,
        losses,
    })
}

/// Takes a blob (which must pass [`verify`]) apart into the content of
/// the v3 records: the shared info padded with zeros to a page, the
/// compat flag, and the TSC values in the record's order. The TSC_INFO
/// tail octets have no place in the record and are reported in
/// [`Converted::losses`] when non-zero.
pub fn v3_from_blob(blob: &[u8], endian: Endian) -> Result<Converted<V3Parts>, V3Error> {
    let items = verify(blob, endian)?;
    let mut parts = V3Parts {
        xen_major: 0,
        xen_minor: 0,
        shared_info: None,
        compat: false,
        tsc_info: None,
    };
    let mut losses = Losses::default();
    for item in &items {
        match item.entry {
            DcEntry::Header(h) => {
                parts.xen_major = h.xen_major;
                parts.xen_minor = h.xen_minor;
            }
            DcEntry::SharedInfo(s) => {
                if s.buffer.len() > PAGE_SIZE {
                    return Err(V3Error::BufferTooLarge {
                        buffer_size: s.buffer.len(),
                    });
                }
                let mut page = vec![0u8; PAGE_SIZE];
                page[..s.buffer.len()].copy_from_slice(s.buffer);
                parts.shared_info = Some(page);
                parts.compat = s.compat();
            }
            DcEntry::TscInfo(t) => {
                losses.tsc_pad = t._pad;
                parts.tsc_info = Some(tsc_to_record(&t));
            }
            DcEntry::End => {}
        }
    }
    Ok(Converted {
        value: parts,
        losses,
    })
}

/// Every wire struct of the blob, in layout order (for generators and tests).
pub const DOMAIN_CONTEXT_STRUCTS: &[&crate::layout::StructLayout] = &[
    &DcDescriptor::LAYOUT,
    &DcHeader::LAYOUT,
    &DcSharedInfo::LAYOUT,
    &DcTscInfo::LAYOUT,
];
