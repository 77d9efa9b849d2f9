//! The libxc domain image format ("migration v2" stream), revision 4.
//!
//! Items follow the order of the specification
//! (`docs/specs/libxc-migration-stream.pandoc` in Xen): the image header, the
//! domain header, the record header, then one body per record type. Every
//! name, value and rule is written here once; the C header, the Python
//! modules and the verifier are derived from it.

use binrw::Endian;

use crate::body::{BodyError, Opaque, RecordBody};
use crate::layout::{field_of, LengthRule, SpecEnum, StructLayout, Violation, Wire};
use crate::stream::rules::{
    self, ContextSize, OrderCheck, OrderRule, Rule, Scope, ValueCheck, ValueRule,
};
use crate::{spec_consts, RecordSet, SpecEnum, Wire};

spec_consts! {
    /// Named constants of the libxc stream, with their C and Python names.
    LIBXC_CONSTANTS;

    /// First eight octets of every image: all bits set, which no legacy
    /// (pre-Xen 4.5) image can start with.
    IHDR_MARKER: u64 = 0xffff_ffff_ffff_ffff,
        c: Some("IHDR_MARKER"), c_expr: Some("0xffffffffffffffffULL"),
        py: Some("IHDR_MARKER"), py_expr: None;
    /// The image identifier, "XENF" in ASCII.
    IHDR_ID: u32 = 0x5845_4e46,
        c: Some("IHDR_ID"), c_expr: Some("0x58454E46U"),
        py: Some("IHDR_IDENT"), py_expr: None;
    /// Bit number of the endianness flag in the image header options.
    IHDR_OPT_ENDIAN_BIT: u16 = 0,
        c: Some("_IHDR_OPT_ENDIAN"), c_expr: Some("0"),
        py: Some("IHDR_OPT_BIT_ENDIAN"), py_expr: None;
    /// Options value of a little-endian stream.
    IHDR_OPT_LITTLE_ENDIAN: u16 = 0 << IHDR_OPT_ENDIAN_BIT,
        c: Some("IHDR_OPT_LITTLE_ENDIAN"), c_expr: Some("(0 << _IHDR_OPT_ENDIAN)"),
        py: Some("IHDR_OPT_LE"), py_expr: Some("(0 << IHDR_OPT_BIT_ENDIAN)");
    /// Options bit of a big-endian stream.
    IHDR_OPT_BIG_ENDIAN: u16 = 1 << IHDR_OPT_ENDIAN_BIT,
        c: Some("IHDR_OPT_BIG_ENDIAN"), c_expr: Some("(1 << _IHDR_OPT_ENDIAN)"),
        py: Some("IHDR_OPT_BE"), py_expr: Some("(1 << IHDR_OPT_BIT_ENDIAN)");
    /// Options bits 1 to 15, reserved.
    IHDR_OPT_RESERVED_MASK: u16 = 0xfffe,
        c: None, c_expr: None,
        py: Some("IHDR_OPT_RESZ_MASK"), py_expr: None;
    /// Every record, header and padding included, is a multiple of this
    /// many octets.
    REC_ALIGN: u32 = 8,
        c: Some("REC_ALIGN"), c_expr: Some("8"),
        py: None, py_expr: None;
    /// The largest record body a receiver accepts (128 MiB). The spec does
    /// not fix it; Xen's restore code refuses anything longer.
    REC_LENGTH_MAX: u32 = 128 << 20,
        c: Some("REC_LENGTH_MAX"), c_expr: Some("(128U << 20)"),
        py: None, py_expr: None;
    /// Bit 31 of a record type: set for optional records, which a receiver
    /// that does not know them may skip.
    REC_TYPE_OPTIONAL: u32 = 0x8000_0000,
        c: Some("REC_TYPE_OPTIONAL"), c_expr: Some("0x80000000U"),
        py: None, py_expr: None;
    /// Bits 51 to 0 of a PAGE_DATA pfn entry: the frame number.
    PAGE_DATA_PFN_MASK: u64 = (1 << 52) - 1,
        c: Some("PAGE_DATA_PFN_MASK"), c_expr: Some("0x000fffffffffffffULL"),
        py: Some("PAGE_DATA_PFN_MASK"), py_expr: Some("(1 << 52) - 1");
    /// Bits 59 to 52 of a PAGE_DATA pfn entry: reserved.
    PAGE_DATA_PFN_RESERVED_MASK: u64 = ((1 << 60) - 1) & !((1 << 52) - 1),
        c: None, c_expr: None,
        py: Some("PAGE_DATA_PFN_RESZ_MASK"), py_expr: Some("((1 << 60) - 1) & ~((1 << 52) - 1)");
    /// Position of the page type in a PAGE_DATA pfn entry.
    PAGE_DATA_TYPE_SHIFT: u32 = 60,
        c: None, c_expr: None,
        py: Some("PAGE_DATA_TYPE_SHIFT"), py_expr: None;
    /// Bits 63 to 60 of a PAGE_DATA pfn entry: the page type.
    PAGE_DATA_TYPE_MASK: u64 = 0xf << PAGE_DATA_TYPE_SHIFT,
        c: Some("PAGE_DATA_TYPE_MASK"), c_expr: Some("0xf000000000000000ULL"),
        py: Some("PAGE_DATA_TYPE_LTAB_MASK"), py_expr: Some("(0xf << PAGE_DATA_TYPE_SHIFT)");
    /// The page-table level part of a page type (the pinned bit cleared).
    PAGE_DATA_TYPE_LEVEL_MASK: u64 = 0x7 << PAGE_DATA_TYPE_SHIFT,
        c: None, c_expr: None,
        py: Some("PAGE_DATA_TYPE_LTABTYPE_MASK"), py_expr: Some("(0x7 << PAGE_DATA_TYPE_SHIFT)");
    /// The pinned bit of a page type.
    PAGE_DATA_TYPE_PINNED: u64 = 0x8 << PAGE_DATA_TYPE_SHIFT,
        c: None, c_expr: None,
        py: Some("PAGE_DATA_TYPE_LPINTAB"), py_expr: Some("(0x8 << PAGE_DATA_TYPE_SHIFT)");
}

/// Image versions this description reads: 2 (Xen 4.6), 3 (adds
/// STATIC_DATA_END and the CPU policy records) and 4 (adds DOMAIN_CONTEXT).
pub const SUPPORTED_VERSIONS: [u32; 3] = [2, 3, 4];

/// The version a writer produces by default.
pub const CURRENT_VERSION: u32 = 4;

/// The version Xen 4.17's saver writes: the last before DOMAIN_CONTEXT
/// (the real save files the tests use are of this version).
pub const XEN_4_17_VERSION: u32 = 3;

/// Page size of every x86 guest (`page_shift` 12); Xen restores no other.
pub const PAGE_SHIFT: u16 = 12;

/// `1 << PAGE_SHIFT`.
pub const PAGE_SIZE: usize = 1 << PAGE_SHIFT;

/// Image header: identifies a Xen domain image and the version of this
/// specification it follows. Always big-endian, whatever its own
/// endianness bit says about the rest of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Wire)]
#[wire(c_name = "xc_sr_ihdr", py_format = "IHDR_FORMAT", byte_order = big)]
pub struct ImageHeader {
    /// Always all ones: a legacy image has a zero bit in its first octets.
    #[wire(equals = IHDR_MARKER, error = "BadMarker")]
    pub marker: u64,
    /// "XENF".
    #[wire(equals = IHDR_ID, error = "BadId")]
    pub id: u32,
    /// Version of this specification the image follows.
    #[wire(one_of = SUPPORTED_VERSIONS, error = "UnsupportedVersion")]
    pub version: u32,
    /// Bit 0: byte order of everything after this header (1 = big-endian).
    /// Bits 1-15: reserved.
    #[wire(reserved_bits = IHDR_OPT_RESERVED_MASK)]
    pub options: u16,
    /// Reserved.
    #[wire(reserved)]
    pub _res1: u16,
    /// Reserved.
    #[wire(reserved)]
    pub _res2: u32,
}

impl ImageHeader {
    /// A header for a stream of `version` in byte order `endian`.
    pub fn new(version: u32, endian: Endian) -> Self {
        ImageHeader {
            marker: IHDR_MARKER,
            id: IHDR_ID,
            version,
            options: match endian {
                Endian::Big => IHDR_OPT_BIG_ENDIAN,
                Endian::Little => IHDR_OPT_LITTLE_ENDIAN,
            },
            _res1: 0,
            _res2: 0,
        }
    }

    /// The byte order of the domain header and the records.
    pub fn endian(&self) -> Endian {
        if self.options & IHDR_OPT_BIG_ENDIAN != 0 {
            Endian::Big
        } else {
            Endian::Little
        }
    }
}

/// Guest types of the domain header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, SpecEnum)]
#[spec(py_table = "dhdr_type_to_str")]
pub enum DomainType {
    /// An x86 paravirtualised guest.
    #[spec(c = "DHDR_TYPE_X86_PV", py = "DHDR_TYPE_x86_pv", human = "x86 PV")]
    X86Pv = 0x1,
    /// An x86 hardware-virtualised guest.
    #[spec(c = "DHDR_TYPE_X86_HVM", py = "DHDR_TYPE_x86_hvm", human = "x86 HVM")]
    X86Hvm = 0x2,
}

/// The description's human name ("x86 PV", "x86 HVM").
///
/// ```
/// assert_eq!(format_spec::libxc::DomainType::X86Hvm.to_string(), "x86 HVM");
/// ```
impl std::fmt::Display for DomainType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let value = self.value();
        let v = DomainType::LAYOUT
            .variants
            .iter()
            .find(|v| v.value == value);
        f.write_str(v.map_or("?", |v| v.human))
    }
}

/// Domain header: general properties of the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Wire)]
#[wire(c_name = "xc_sr_dhdr", py_format = "DHDR_FORMAT")]
pub struct DomainHeader {
    /// Guest type (x86 PV or x86 HVM).
    #[wire(values = DomainType, error = "BadDomainType")]
    pub r#type: u32,
    /// Guest page size as a power of two; Xen only restores 12 (4 KiB).
    #[wire(one_of = [PAGE_SHIFT], error = "BadPageShift")]
    pub page_shift: u16,
    /// Reserved.
    #[wire(reserved)]
    pub _res1: u16,
    /// Major version of the Xen that saved the image (0 for an image
    /// converted from the legacy format).
    pub xen_major: u32,
    /// Minor version of the Xen that saved the image (the converter's own
    /// version for a converted image).
    pub xen_minor: u32,
}

impl DomainHeader {
    /// The guest type, if known.
    pub fn domain_type(&self) -> Option<DomainType> {
        DomainType::from_value(u64::from(self.r#type))
    }
}

/// Record header: type code and body length. The body follows, then zero
/// padding up to the next multiple of [`REC_ALIGN`] octets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Wire)]
#[wire(c_name = "xc_sr_rhdr", py_format = "RH_FORMAT")]
pub struct RecordHeader {
    /// Record type; bit 31 set for optional records.
    pub r#type: u32,
    /// Body length in octets, padding excluded.
    #[wire(spec = "body_length")]
    pub length: u32,
}

/// Octets of a record header.
pub const RECORD_HEADER_SIZE: usize = RecordHeader::LAYOUT.size;
const RH_TYPE_AT: usize = field_of(&RecordHeader::LAYOUT, "type").offset;
const RH_LENGTH_AT: usize = field_of(&RecordHeader::LAYOUT, "length").offset;

/// Zero octets, as many as the longest record padding needs.
pub(crate) const ZERO_PADDING: [u8; REC_ALIGN as usize] = [0; REC_ALIGN as usize];

/// Octets of padding after a record body of `length` octets.
///
/// ```
/// use format_spec::libxc::{padding_after, REC_ALIGN};
/// assert_eq!(padding_after(0), 0);
/// assert_eq!(padding_after(1), REC_ALIGN - 1);
/// assert_eq!(padding_after(REC_ALIGN), 0);
/// ```
pub const fn padding_after(length: u32) -> u32 {
    (REC_ALIGN - length % REC_ALIGN) % REC_ALIGN
}

impl RecordHeader {
    /// The header of a record of type `rtype` whose body is `length`
    /// octets, in byte order `endian`.
    ///
    /// ```
    /// use format_spec::binrw::Endian;
    /// use format_spec::libxc::{LibxcRecord, RecordHeader};
    /// let h = RecordHeader::octets(LibxcRecord::PAGE_DATA, 24, Endian::Little);
    /// assert_eq!(h, [1, 0, 0, 0, 24, 0, 0, 0]);
    /// assert_eq!(RecordHeader::fields_of(&h, Endian::Little), (LibxcRecord::PAGE_DATA, 24));
    /// ```
    pub fn octets(rtype: u32, length: u32, endian: Endian) -> [u8; RECORD_HEADER_SIZE] {
        let mut h = [0u8; RECORD_HEADER_SIZE];
        h[RH_TYPE_AT..RH_TYPE_AT + 4].copy_from_slice(&crate::bytes::u32_octets(rtype, endian));
        h[RH_LENGTH_AT..RH_LENGTH_AT + 4]
            .copy_from_slice(&crate::bytes::u32_octets(length, endian));
        h
    }

    /// The type and body length held in a header's octets.
    pub fn fields_of(raw: &[u8; RECORD_HEADER_SIZE], endian: Endian) -> (u32, u32) {
        let at = |off| crate::bytes::u32_at(raw, off, endian).unwrap_or(0);
        (at(RH_TYPE_AT), at(RH_LENGTH_AT))
    }
}

/// Page types of a PAGE_DATA pfn entry (Xen's `XEN_DOMCTL_PFINFO_*`, held
/// in bits 63-60). Values 5 to 8 are reserved and invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, SpecEnum)]
#[spec(py_shift = 60)]
pub enum PageType {
    /// An ordinary page.
    #[spec(py = "PAGE_DATA_TYPE_NOTAB", human = "normal")]
    Notab = 0x0,
    /// A level 1 page table.
    #[spec(py = "PAGE_DATA_TYPE_L1TAB", human = "L1 page table")]
    L1tab = 0x1,
    /// A level 2 page table.
    #[spec(py = "PAGE_DATA_TYPE_L2TAB", human = "L2 page table")]
    L2tab = 0x2,
    /// A level 3 page table.
    #[spec(py = "PAGE_DATA_TYPE_L3TAB", human = "L3 page table")]
    L3tab = 0x3,
    /// A level 4 page table.
    #[spec(py = "PAGE_DATA_TYPE_L4TAB", human = "L4 page table")]
    L4tab = 0x4,
    /// A pinned level 1 page table.
    #[spec(py = "PAGE_DATA_TYPE_L1TAB_PIN", human = "L1 page table (pinned)")]
    L1tabPin = 0x9,
    /// A pinned level 2 page table.
    #[spec(py = "PAGE_DATA_TYPE_L2TAB_PIN", human = "L2 page table (pinned)")]
    L2tabPin = 0xa,
    /// A pinned level 3 page table.
    #[spec(py = "PAGE_DATA_TYPE_L3TAB_PIN", human = "L3 page table (pinned)")]
    L3tabPin = 0xb,
    /// A pinned level 4 page table.
    #[spec(py = "PAGE_DATA_TYPE_L4TAB_PIN", human = "L4 page table (pinned)")]
    L4tabPin = 0xc,
    /// A broken page: no contents are sent.
    #[spec(py = "PAGE_DATA_TYPE_BROKEN", human = "broken")]
    Broken = 0xd,
    /// Allocate only: no contents are sent.
    #[spec(py = "PAGE_DATA_TYPE_XALLOC", human = "allocate only")]
    Xalloc = 0xe,
    /// Not a valid page (for example, ballooned out during a live
    /// migration): no contents are sent.
    #[spec(py = "PAGE_DATA_TYPE_XTAB", human = "invalid")]
    Xtab = 0xf,
}

/// Page types whose pfn entries have no page contents in the record.
pub const PAGE_TYPES_WITHOUT_DATA: [PageType; 3] =
    [PageType::Broken, PageType::Xalloc, PageType::Xtab];

impl PageType {
    /// The type held in a pfn entry, if it is a valid one.
    pub fn of_entry(entry: u64) -> Option<PageType> {
        PageType::from_value(entry >> PAGE_DATA_TYPE_SHIFT)
    }

    /// Whether a page of this type has contents in the record.
    pub fn has_data(self) -> bool {
        !PAGE_TYPES_WITHOUT_DATA.contains(&self)
    }

    /// Xen's short name of the type, the suffix of its
    /// `XEN_DOMCTL_PFINFO_*` name (`NOTAB`, `L1TAB`, `XTAB`, ...); the
    /// [`Display`](std::fmt::Display) form.
    pub fn short_name(self) -> &'static str {
        self.variant()
            .and_then(|v| v.py_name)
            .and_then(|p| p.strip_prefix("PAGE_DATA_TYPE_"))
            .unwrap_or("?")
    }

    /// The human-readable name of the type ("L1 page table").
    pub fn human(self) -> &'static str {
        self.variant().map_or("?", |v| v.human)
    }

    /// The type's descriptor (every variant has one).
    fn variant(self) -> Option<&'static crate::layout::VariantLayout> {
        let value = self.value();
        PageType::LAYOUT.variants.iter().find(|v| v.value == value)
    }
}

/// `NOTAB`, `L1TAB`, ... ([`PageType::short_name`]); the alternate form
/// (`{:#}`) gives the human name ("L1 page table").
///
/// ```
/// use format_spec::libxc::PageType;
/// assert_eq!(PageType::L1tabPin.to_string(), "L1TAB_PIN");
/// assert_eq!(format!("{:#}", PageType::Xtab), "invalid");
/// ```
impl std::fmt::Display for PageType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if f.alternate() {
            f.write_str(self.human())
        } else {
            f.write_str(self.short_name())
        }
    }
}

/// One PAGE_DATA pfn entry: the page type in bits 63-60, reserved bits
/// 59-52, the frame number in bits 51-0.
///
/// ```
/// use format_spec::libxc::{PageType, PfnEntry};
/// let e = PfnEntry::new(0x12345, PageType::L2tab);
/// assert_eq!(e.0, 0x2000_0000_0001_2345);
/// assert_eq!((e.pfn(), e.page_type()), (0x12345, Some(PageType::L2tab)));
/// assert!(e.has_data());
/// // Types 5 to 8 are not valid.
/// assert_eq!(PfnEntry(5 << 60 | 7).page_type(), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PfnEntry(pub u64);

impl PfnEntry {
    /// The entry for frame `pfn` (only its low 52 bits are kept) of type
    /// `t`.
    pub fn new(pfn: u64, t: PageType) -> Self {
        PfnEntry((t.value() << PAGE_DATA_TYPE_SHIFT) | (pfn & PAGE_DATA_PFN_MASK))
    }

    /// The frame number (bits 51-0).
    pub fn pfn(self) -> u64 {
        self.0 & PAGE_DATA_PFN_MASK
    }

    /// The type nibble (bits 63-60), valid or not.
    pub fn type_bits(self) -> u8 {
        (self.0 >> PAGE_DATA_TYPE_SHIFT) as u8
    }

    /// The page type, if the nibble is a valid one.
    pub fn page_type(self) -> Option<PageType> {
        PageType::of_entry(self.0)
    }

    /// Whether the record carries the page's contents (a valid type with
    /// data).
    pub fn has_data(self) -> bool {
        self.page_type().is_some_and(PageType::has_data)
    }
}

/// The fixed part of a PAGE_DATA record and its pfn array. The page
/// contents follow the array: one page for each entry whose type has data,
/// in array order.
#[derive(Debug, Clone, PartialEq, Eq, Wire)]
#[wire(c_name = "xc_sr_rec_page_data_header", py_format = "PAGE_DATA_FORMAT")]
pub struct PageDataHeader {
    /// Number of pfn entries; never zero.
    #[wire(symbol = "C")]
    pub count: u32,
    /// Reserved.
    #[wire(reserved)]
    pub _res1: u32,
    /// One entry per page: type in bits 63-60, reserved bits 59-52, frame
    /// number in bits 51-0.
    #[wire(count = count)]
    pub pfn: Vec<u64>,
}

/// Octets of one pfn entry of a PAGE_DATA body (an element of
/// [`PageDataHeader::pfn`]).
pub const PFN_ENTRY_SIZE: usize = match field_of(&PageDataHeader::LAYOUT, "pfn").kind.element_size()
{
    Some(n) => n,
    None => panic!("PageDataHeader::pfn is a trailing array"),
};
/// Offset of `count` in a PAGE_DATA body.
pub(crate) const PAGE_DATA_COUNT_AT: usize = field_of(&PageDataHeader::LAYOUT, "count").offset;
/// Offset of `_res1` in a PAGE_DATA body.
pub(crate) const PAGE_DATA_RES1_AT: usize = field_of(&PageDataHeader::LAYOUT, "_res1").offset;

/// PAGE_DATA body: the pfn entries and the page contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageData {
    /// The header and pfn entries.
    pub header: PageDataHeader,
    /// Contents of the pages that have data, [`PAGE_SIZE`] octets each.
    pub pages: Vec<u8>,
}

/// A PAGE_DATA record whose framing is wrong: what [`PageData::check_count`],
/// [`PageData::pages_with_data`] and [`PageData::check_length`] find, in
/// the order a forward-only reader meets it. The reader, the writer, the
/// verifier and [`PageData`]'s own parser turn it into their error types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PageDataError {
    /// The body is shorter than the fixed part ([`PageDataHeader`]'s
    /// `count` and `_res1`).
    #[error("PAGE_DATA needs at least {min} octets", min = PageDataHeader::LAYOUT.size)]
    TooShort {
        /// Body length.
        len: u64,
    },
    /// `count` is zero, or its entries do not fit in the body.
    #[error("{}", page_count_reason(*count))]
    BadCount {
        /// The `count` field.
        count: u32,
        /// Octets of the body after the fixed part.
        room: u64,
    },
    /// An entry's page type (bits 63-60) is not one of [`PageType`].
    #[error("pfn[{index}] = 0x{entry:016x} has an invalid page type")]
    BadType {
        /// Index of the entry in the pfn array (the first bad one).
        index: usize,
        /// The entry.
        entry: u64,
    },
    /// The body is not the fixed part, the entries and one page for each
    /// entry with contents.
    #[error("{count} pfn entries with {with_data} pages of contents make {expected} octets")]
    Length {
        /// Entries in the pfn array.
        count: usize,
        /// Entries whose pages have contents in the record.
        with_data: usize,
        /// Body length.
        len: u64,
        /// The body length they make.
        expected: u64,
    },
}

/// Why a PAGE_DATA `count` is refused (the reason the verifier's
/// `BadPageCount` gives).
pub(crate) fn page_count_reason(count: u32) -> &'static str {
    if count == 0 {
        "a PAGE_DATA record must hold at least one pfn"
    } else {
        "the pfn array does not fit in the body"
    }
}

/// Number of page type codes a pfn entry can hold (valid or not): the
/// values of its type bits, which are the entry's top bits, so that
/// `entry >> PAGE_DATA_TYPE_SHIFT` is the code.
pub const PAGE_TYPE_CODES: usize = {
    assert!(PAGE_DATA_TYPE_MASK == u64::MAX << PAGE_DATA_TYPE_SHIFT);
    (PAGE_DATA_TYPE_MASK >> PAGE_DATA_TYPE_SHIFT) as usize + 1
};

/// How many of `entries` have each page type code (bits 63-60, valid or
/// not), indexed by the code. Four sets of counters, so that runs of one
/// type (a save file's XTAB runs) do not make each increment wait for the
/// one before.
pub(crate) fn page_type_counts(entries: &[u64]) -> [u64; PAGE_TYPE_CODES] {
    let shift = PAGE_DATA_TYPE_SHIFT;
    let mut out = [0u64; PAGE_TYPE_CODES];
    // Most records hold one type only (all XTAB, or all NOTAB): one
    // comparison per entry, which the compiler vectorises.
    if let Some(first) = entries.first() {
        let t = first >> shift;
        if entries.iter().fold(0, |acc, e| acc | ((e >> shift) ^ t)) == 0 {
            out[t as usize] = entries.len() as u64;
            return out;
        }
    }
    let mut c = [[0u32; PAGE_TYPE_CODES]; 4];
    let mut quads = entries.chunks_exact(4);
    for q in &mut quads {
        c[0][(q[0] >> shift) as usize] += 1;
        c[1][(q[1] >> shift) as usize] += 1;
        c[2][(q[2] >> shift) as usize] += 1;
        c[3][(q[3] >> shift) as usize] += 1;
    }
    for e in quads.remainder() {
        c[0][(e >> shift) as usize] += 1;
    }
    for (t, o) in out.iter_mut().enumerate() {
        *o = c.iter().map(|s| u64::from(s[t])).sum();
    }
    out
}

/// [`PageData::pages_with_data`] for entries whose
/// [`page_type_counts`] are known already.
pub(crate) fn pages_with_data_counted(
    entries: &[u64],
    counts: &[u64; PAGE_TYPE_CODES],
) -> Result<usize, PageDataError> {
    let mut with_data = 0u64;
    let mut invalid = 0u64;
    for (code, n) in counts.iter().enumerate() {
        match PageType::from_value(code as u64) {
            Some(t) if t.has_data() => with_data += n,
            Some(_) => {}
            None => invalid += n,
        }
    }
    if invalid > 0 {
        if let Some(index) = entries
            .iter()
            .position(|e| PageType::of_entry(*e).is_none())
        {
            return Err(PageDataError::BadType {
                index,
                entry: entries[index],
            });
        }
    }
    Ok(with_data as usize)
}

impl PageData {
    /// The framing's first step: how many pfn entries follow the fixed
    /// part of a PAGE_DATA body of `body_len` octets whose `count` field
    /// says `count` (for a body shorter than the fixed part, any `count`).
    /// At least one, and all within the body.
    ///
    /// ```
    /// use format_spec::libxc::{PageData, PageDataError};
    /// assert_eq!(PageData::check_count(2, 8 + 16), Ok(2));
    /// assert!(matches!(PageData::check_count(0, 8 + 16), Err(PageDataError::BadCount { .. })));
    /// assert!(matches!(PageData::check_count(3, 8 + 16), Err(PageDataError::BadCount { .. })));
    /// assert!(matches!(PageData::check_count(1, 4), Err(PageDataError::TooShort { len: 4 })));
    /// ```
    pub fn check_count(count: u32, body_len: u64) -> Result<usize, PageDataError> {
        let fixed = PageDataHeader::LAYOUT.size as u64;
        let Some(room) = body_len.checked_sub(fixed) else {
            return Err(PageDataError::TooShort { len: body_len });
        };
        if count == 0 || u64::from(count) * PFN_ENTRY_SIZE as u64 > room {
            return Err(PageDataError::BadCount { count, room });
        }
        Ok(count as usize)
    }

    /// The framing's second step: checks a pfn array (every entry's page
    /// type is one of [`PageType`]) and says how many pages of contents
    /// follow it: one for each entry whose type has data.
    /// [`PageDataError::BadType`] names the first entry with an invalid
    /// type.
    ///
    /// ```
    /// use format_spec::libxc::{PageData, PageDataError, PageType, PfnEntry};
    /// let xtab = PfnEntry::new(7, PageType::Xtab).0;
    /// assert_eq!(PageData::pages_with_data(&[1, xtab, 2]), Ok(2));
    /// assert_eq!(
    ///     PageData::pages_with_data(&[1, 5 << 60]),
    ///     Err(PageDataError::BadType { index: 1, entry: 5 << 60 })
    /// );
    /// ```
    pub fn pages_with_data(entries: &[u64]) -> Result<usize, PageDataError> {
        pages_with_data_counted(entries, &page_type_counts(entries))
    }

    /// The framing's last step: a PAGE_DATA body of `count` pfn entries,
    /// `with_data` of them with contents, is exactly `body_len` octets.
    pub fn check_length(
        count: usize,
        with_data: usize,
        body_len: u64,
    ) -> Result<(), PageDataError> {
        let expected = Self::body_length(count, with_data);
        if expected != body_len {
            return Err(PageDataError::Length {
                count,
                with_data,
                len: body_len,
                expected,
            });
        }
        Ok(())
    }

    /// Octets of a PAGE_DATA body with `count` pfn entries, `with_data` of
    /// them with contents.
    pub fn body_length(count: usize, with_data: usize) -> u64 {
        PageDataHeader::LAYOUT.size as u64
            + (PFN_ENTRY_SIZE * count) as u64
            + with_data as u64 * PAGE_SIZE as u64
    }

    /// The first of `entries` whose reserved bits (59-52,
    /// [`PAGE_DATA_PFN_RESERVED_MASK`]) are not zero, and those bits.
    pub fn first_reserved(entries: &[u64]) -> Option<(usize, u64)> {
        entries
            .iter()
            .position(|e| e & PAGE_DATA_PFN_RESERVED_MASK != 0)
            .map(|i| (i, entries[i] & PAGE_DATA_PFN_RESERVED_MASK))
    }
}

impl From<PageDataError> for BodyError {
    fn from(e: PageDataError) -> Self {
        let fixed = PageDataHeader::LAYOUT.size;
        match e {
            PageDataError::TooShort { len } => BodyError::TooShort {
                len: len as usize,
                min: fixed,
            },
            PageDataError::BadCount { count, room } => BodyError::Count {
                structure: PageDataHeader::LAYOUT.rust_name,
                field: field_of(&PageDataHeader::LAYOUT, "count").name,
                count: u64::from(count),
                available: room,
                element: PFN_ENTRY_SIZE,
            },
            PageDataError::BadType { .. } => BodyError::Other(e.to_string()),
            PageDataError::Length { len, expected, .. } => BodyError::Length {
                len: len as usize,
                expected: expected as usize,
            },
        }
    }
}

impl RecordBody for PageData {
    const BODY_LAYOUT: Option<&'static StructLayout> = Some(&PageDataHeader::LAYOUT);
    const BODY_LENGTH: LengthRule = LengthRule::PageData;

    fn read_body(body: &[u8], endian: Endian) -> Result<Self, BodyError> {
        let len = body.len() as u64;
        let count = crate::bytes::u32_at(body, PAGE_DATA_COUNT_AT, endian).unwrap_or(0);
        let count = PageData::check_count(count, len)?;
        let pfn_end = PageDataHeader::LAYOUT.size + PFN_ENTRY_SIZE * count;
        let header: PageDataHeader = crate::body::read_wire(&body[..pfn_end], endian)?;
        let with_data = PageData::pages_with_data(&header.pfn)?;
        PageData::check_length(count, with_data, len)?;
        Ok(PageData {
            header,
            pages: body[pfn_end..].to_vec(),
        })
    }

    fn write_body(&self, out: &mut Vec<u8>, endian: Endian) -> Result<(), BodyError> {
        crate::body::write_wire(&self.header, out, endian)?;
        out.extend_from_slice(&self.pages);
        Ok(())
    }

    fn check_body(&self) -> Result<(), Violation> {
        self.header.check()?;
        if let Some((_, value)) = PageData::first_reserved(&self.header.pfn) {
            let pfn = field_of(&PageDataHeader::LAYOUT, "pfn");
            return Err(Violation {
                structure: PageDataHeader::LAYOUT.rust_name,
                field: pfn.name,
                offset: pfn.offset,
                value,
                rule: crate::layout::ViolationRule::ReservedNonZero,
            });
        }
        Ok(())
    }
}

/// X86_PV_INFO body: properties of a PV guest's page tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Wire)]
#[wire(c_name = "xc_sr_rec_x86_pv_info", py_format = "X86_PV_INFO_FORMAT")]
pub struct X86PvInfo {
    /// Size of a guest word in octets: 4 or 8.
    #[wire(one_of = PV_GUEST_WIDTHS, label = "w")]
    pub guest_width: u8,
    /// Number of page-table levels: 3 or 4.
    #[wire(one_of = PV_PT_LEVELS, label = "ptl")]
    pub pt_levels: u8,
    /// Reserved.
    #[wire(reserved)]
    pub _res: [u8; 6],
}

/// X86_PV_P2M_FRAMES body: the frames holding a PV guest's physical-to-
/// machine table, for the pfn range `start_pfn..=end_pfn`.
#[derive(Debug, Clone, PartialEq, Eq, Wire)]
#[wire(
    c_name = "xc_sr_rec_x86_pv_p2m_frames",
    py_format = "X86_PV_P2M_FRAMES_FORMAT"
)]
pub struct X86PvP2mFrames {
    /// First pfn covered.
    #[wire(spec = "p2m_start_pfn", symbol = "S")]
    pub start_pfn: u32,
    /// Last pfn covered (inclusive).
    #[wire(spec = "p2m_end_pfn", symbol = "E")]
    pub end_pfn: u32,
    /// The pfns of the frames holding the table.
    #[wire(
        spec = "p2m_pfn",
        first = "p2m frame containing pfn S",
        last = "p2m frame containing pfn E"
    )]
    pub p2m_pfns: Vec<u64>,
}

/// Body of the four X86_PV_VCPU_* records: a vCPU number and an opaque
/// per-vCPU blob that Xen's domctls produce and consume.
#[derive(Debug, Clone, PartialEq, Eq, Wire)]
#[wire(
    c_name = "xc_sr_rec_x86_pv_vcpu_hdr",
    py_format = "X86_PV_VCPU_HDR_FORMAT"
)]
pub struct X86PvVcpu {
    /// The vCPU number.
    pub vcpu_id: u32,
    /// Reserved.
    #[wire(reserved)]
    pub _res1: u32,
    /// The vCPU's state.
    pub context: Vec<u8>,
}

/// X86_TSC_INFO body: the guest's time-stamp counter settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Wire)]
#[wire(c_name = "xc_sr_rec_x86_tsc_info", py_format = "X86_TSC_INFO_FORMAT")]
pub struct X86TscInfo {
    /// TSC mode (Xen's `TSC_MODE_*`).
    pub mode: u32,
    /// TSC frequency in kHz.
    pub khz: u32,
    /// Elapsed time in nanoseconds.
    pub nsec: u64,
    /// Incarnation counter.
    pub incarnation: u32,
    /// Reserved.
    #[wire(reserved)]
    pub _res1: u32,
}

/// One HVM parameter: an index and its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Wire)]
#[wire(
    c_name = "xc_sr_rec_hvm_params_entry",
    py_format = "HVM_PARAMS_ENTRY_FORMAT"
)]
pub struct HvmParamsEntry {
    /// Parameter index (`HVM_PARAM_*`).
    pub index: u64,
    /// Parameter value.
    pub value: u64,
}

/// The names of the HVM parameter indexes an HVM_PARAMS record carries
/// ([`HvmParamsEntry::index`]), as Xen's public header
/// `xen/include/public/hvm/params.h` defines them (`HVM_PARAM_*`), in
/// index order (20 to 23, 25 and 30 are deprecated there). Indexes 3, 7
/// and 8 have no name. Xen's saver sends a fixed subset (the Xen 4.17 HVM
/// save file of the tests holds 1, 5, 6, 12, 17, 19, 27, 28, 29, 32, 33
/// and 37); a reader names any it finds.
pub const HVM_PARAM_NAMES: &[(u64, &str)] = &[
    (0, "HVM_PARAM_CALLBACK_IRQ"),
    (1, "HVM_PARAM_STORE_PFN"),
    (2, "HVM_PARAM_STORE_EVTCHN"),
    (4, "HVM_PARAM_PAE_ENABLED"),
    (5, "HVM_PARAM_IOREQ_PFN"),
    (6, "HVM_PARAM_BUFIOREQ_PFN"),
    (9, "HVM_PARAM_VIRIDIAN"),
    (10, "HVM_PARAM_TIMER_MODE"),
    (11, "HVM_PARAM_HPET_ENABLED"),
    (12, "HVM_PARAM_IDENT_PT"),
    (13, "HVM_PARAM_DM_DOMAIN"),
    (14, "HVM_PARAM_ACPI_S_STATE"),
    (15, "HVM_PARAM_VM86_TSS"),
    (16, "HVM_PARAM_VPT_ALIGN"),
    (17, "HVM_PARAM_CONSOLE_PFN"),
    (18, "HVM_PARAM_CONSOLE_EVTCHN"),
    (19, "HVM_PARAM_ACPI_IOPORTS_LOCATION"),
    (20, "HVM_PARAM_MEMORY_EVENT_CR0"),
    (21, "HVM_PARAM_MEMORY_EVENT_CR3"),
    (22, "HVM_PARAM_MEMORY_EVENT_CR4"),
    (23, "HVM_PARAM_MEMORY_EVENT_INT3"),
    (24, "HVM_PARAM_NESTEDHVM"),
    (25, "HVM_PARAM_MEMORY_EVENT_SINGLE_STEP"),
    (26, "HVM_PARAM_BUFIOREQ_EVTCHN"),
    (27, "HVM_PARAM_PAGING_RING_PFN"),
    (28, "HVM_PARAM_MONITOR_RING_PFN"),
    (29, "HVM_PARAM_SHARING_RING_PFN"),
    (30, "HVM_PARAM_MEMORY_EVENT_MSR"),
    (31, "HVM_PARAM_TRIPLE_FAULT_REASON"),
    (32, "HVM_PARAM_IOREQ_SERVER_PFN"),
    (33, "HVM_PARAM_NR_IOREQ_SERVER_PAGES"),
    (34, "HVM_PARAM_VM_GENERATION_ID_ADDR"),
    (35, "HVM_PARAM_ALTP2M"),
    (36, "HVM_PARAM_X87_FIP_WIDTH"),
    (37, "HVM_PARAM_VM86_TSS_SIZED"),
    (38, "HVM_PARAM_MCA_CAP"),
];

/// The `HVM_PARAM_*` name of an HVM parameter index, if Xen defines one
/// ([`HVM_PARAM_NAMES`]).
///
/// ```
/// use format_spec::libxc::hvm_param_name;
/// assert_eq!(hvm_param_name(12), Some("HVM_PARAM_IDENT_PT"));
/// assert_eq!(hvm_param_name(3), None);
/// ```
pub fn hvm_param_name(index: u64) -> Option<&'static str> {
    HVM_PARAM_NAMES
        .binary_search_by_key(&index, |(i, _)| *i)
        .ok()
        .map(|i| HVM_PARAM_NAMES[i].1)
}

/// HVM_PARAMS body: a counted array of HVM parameters.
#[derive(Debug, Clone, PartialEq, Eq, Wire)]
#[wire(c_name = "xc_sr_rec_hvm_params", py_format = "HVM_PARAMS_FORMAT")]
pub struct HvmParams {
    /// Number of entries.
    #[wire(symbol = "C")]
    pub count: u32,
    /// Reserved.
    #[wire(reserved)]
    pub _res1: u32,
    /// The parameters.
    #[wire(count = count)]
    pub param: Vec<HvmParamsEntry>,
}

/// CHECKPOINT_DIRTY_PFN_LIST body: an unordered list of dirty pfns, sent
/// on the COLO back channel. The C header has no struct for it.
#[derive(Debug, Clone, PartialEq, Eq, Wire)]
pub struct CheckpointDirtyPfnList {
    /// The dirty pfns.
    pub pfn: Vec<u64>,
}

/// One CPUID leaf of a CPU policy (Xen's public `xen_cpuid_leaf_t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Wire)]
#[wire(
    c_name = "xen_cpuid_leaf_t",
    c_external,
    py_format = "X86_CPUID_POLICY_FORMAT"
)]
pub struct XenCpuidLeaf {
    /// The leaf (EAX input).
    pub leaf: u32,
    /// The sub-leaf (ECX input), or all ones when the leaf has none.
    pub subleaf: u32,
    /// EAX output.
    pub a: u32,
    /// EBX output.
    pub b: u32,
    /// ECX output.
    pub c: u32,
    /// EDX output.
    pub d: u32,
}

/// X86_CPUID_POLICY body: the guest's CPUID leaves.
#[derive(Debug, Clone, PartialEq, Eq, Wire)]
pub struct X86CpuidPolicy {
    /// The leaves.
    pub leaves: Vec<XenCpuidLeaf>,
}

/// One MSR of a CPU policy (Xen's public `xen_msr_entry_t`). Xen's Python
/// names its format `"QII"`, which has the right size but not the field
/// order; the description keeps that spelling for compatibility.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Wire)]
#[wire(
    c_name = "xen_msr_entry_t",
    c_external,
    py_format = "X86_MSR_POLICY_FORMAT",
    py_format_override = "QII"
)]
pub struct XenMsrEntry {
    /// The MSR index.
    pub idx: u32,
    /// Must be zero.
    #[wire(reserved)]
    pub flags: u32,
    /// The MSR value.
    pub val: u64,
}

/// X86_MSR_POLICY body: the guest's MSR policy entries.
#[derive(Debug, Clone, PartialEq, Eq, Wire)]
pub struct X86MsrPolicy {
    /// The entries.
    pub entries: Vec<XenMsrEntry>,
}

/// The record types of the libxc stream, in code order.
#[derive(Debug, Clone, PartialEq, Eq, RecordSet)]
#[records(c_prefix = "REC_TYPE_", py_prefix = "REC_TYPE_")]
pub enum LibxcRecord {
    /// Marks the end of the stream; nothing follows it.
    #[record(code = 0x00, name = "END", human = "End")]
    End,
    /// Guest memory: a batch of pfns with their types and the contents of
    /// those that have data.
    #[record(
        code = 0x01,
        name = "PAGE_DATA",
        human = "Page data",
        length = page_data,
        spec_body = "page_data",
        spec_body_doc = "The contents of each page whose pfn entry has data, in pfn order."
    )]
    PageData(PageData),
    /// Width and page-table depth of a PV guest.
    #[record(code = 0x02, name = "X86_PV_INFO", human = "x86 PV info")]
    X86PvInfo(X86PvInfo),
    /// Frames of a PV guest's physical-to-machine table.
    #[record(code = 0x03, name = "X86_PV_P2M_FRAMES", human = "x86 PV P2M frames")]
    X86PvP2mFrames(X86PvP2mFrames),
    /// Basic vCPU context of a PV guest (`XEN_DOMCTL_{get,set}vcpucontext`).
    #[record(code = 0x04, name = "X86_PV_VCPU_BASIC", human = "x86 PV vcpu basic")]
    X86PvVcpuBasic(X86PvVcpu),
    /// Extended vCPU context of a PV guest (`XEN_DOMCTL_{get,set}_ext_vcpucontext`).
    #[record(
        code = 0x05,
        name = "X86_PV_VCPU_EXTENDED",
        human = "x86 PV vcpu extended"
    )]
    X86PvVcpuExtended(X86PvVcpu),
    /// Extended (xsave) register state of a PV vCPU (`XEN_DOMCTL_{get,set}vcpuextstate`).
    #[record(code = 0x06, name = "X86_PV_VCPU_XSAVE", human = "x86 PV vcpu xsave")]
    X86PvVcpuXsave(X86PvVcpu),
    /// The guest's shared info page, one page long. Deprecated by version
    /// 4, which carries it inside DOMAIN_CONTEXT.
    #[record(
        code = 0x07,
        name = "SHARED_INFO",
        human = "Shared info",
        deprecated = 4,
        length = exact(PAGE_SIZE),
        spec_body = "shared_info",
        spec_body_doc = "The contents of the shared info page, exactly one page."
    )]
    SharedInfo(Opaque),
    /// TSC settings (`XEN_DOMCTL_{get,set}tscinfo`). Deprecated by version
    /// 4, which carries them inside DOMAIN_CONTEXT.
    #[record(
        code = 0x08,
        name = "X86_TSC_INFO",
        human = "TSC info",
        c_human = "x86 TSC info",
        py = "tsc_info",
        deprecated = 4
    )]
    X86TscInfo(X86TscInfo),
    /// The HVM context blob (`XEN_DOMCTL_{get,set}hvmcontext`).
    #[record(
        code = 0x09,
        name = "HVM_CONTEXT",
        human = "HVM context",
        length = non_empty,
        spec_body = "hvm_ctx",
        spec_body_doc = "The HVM context blob, as Xen hands it out."
    )]
    HvmContext(Opaque),
    /// HVM parameters (`HVMOP_{get,set}_param`); must come before HVM_CONTEXT.
    #[record(code = 0x0a, name = "HVM_PARAMS", human = "HVM params")]
    HvmParams(HvmParams),
    /// Opaque data of the higher toolstack layers. Only used during the
    /// format's development; never valid in a stream.
    #[record(
        code = 0x0b,
        name = "TOOLSTACK",
        human = "Toolstack",
        deprecated = 0,
        length = non_empty,
        spec_body = "data",
        spec_body_doc = "Data of the higher toolstack layers, opaque to libxc."
    )]
    Toolstack(Opaque),
    /// MSRs of a PV vCPU (`XEN_DOMCTL_{get,set}_vcpu_msrs`).
    #[record(code = 0x0c, name = "X86_PV_VCPU_MSRS", human = "x86 PV vcpu msrs")]
    X86PvVcpuMsrs(X86PvVcpu),
    /// All memory has been sent; further PAGE_DATA records are for
    /// debugging (the receiver compares them).
    #[record(code = 0x0d, name = "VERIFY", human = "Verify")]
    Verify,
    /// Everything before it is a consistent snapshot; in a checkpointed
    /// stream it hands control back to the higher layer.
    #[record(code = 0x0e, name = "CHECKPOINT", human = "Checkpoint")]
    Checkpoint,
    /// Dirty pfns reported on the COLO back channel (secondary to primary).
    #[record(
        code = 0x0f,
        name = "CHECKPOINT_DIRTY_PFN_LIST",
        human = "Checkpoint dirty pfn list"
    )]
    CheckpointDirtyPfnList(CheckpointDirtyPfnList),
    /// End of the static state (configuration that does not change while
    /// the guest runs). Version 3 requires it before any memory or
    /// register content.
    #[record(
        code = 0x10,
        name = "STATIC_DATA_END",
        human = "Static data end",
        since = 3
    )]
    StaticDataEnd,
    /// The guest's CPUID policy (`XEN_DOMCTL_{get,set}_cpu_policy`).
    #[record(
        code = 0x11,
        name = "X86_CPUID_POLICY",
        human = "x86 CPUID policy",
        since = 3,
        spec_body = "CPUID_policy",
        spec_body_doc = "The CPUID leaves, an array of xen_cpuid_leaf_t."
    )]
    X86CpuidPolicy(X86CpuidPolicy),
    /// The guest's MSR policy (`XEN_DOMCTL_{get,set}_cpu_policy`).
    #[record(
        code = 0x12,
        name = "X86_MSR_POLICY",
        human = "x86 MSR policy",
        since = 3,
        spec_body = "MSR_policy",
        spec_body_doc = "The MSR entries, an array of xen_msr_entry_t."
    )]
    X86MsrPolicy(X86MsrPolicy),
    /// The domain context blob (`XEN_DOMCTL_{get,set}domaincontext`): shared
    /// info, TSC settings and, over time, more. Required from version 4.
    #[record(
        code = 0x13,
        name = "DOMAIN_CONTEXT",
        human = "Domain context",
        since = 4,
        length = non_empty,
        spec_body = "dom_ctx",
        spec_body_doc = "The domain context blob, as Xen hands it out."
    )]
    DomainContext(Opaque),
}

/// Every wire struct of the libxc layer, in spec order (for generators and tests).
pub const LIBXC_STRUCTS: &[&StructLayout] = &[
    &ImageHeader::LAYOUT,
    &DomainHeader::LAYOUT,
    &RecordHeader::LAYOUT,
    &PageDataHeader::LAYOUT,
    &X86PvInfo::LAYOUT,
    &X86PvP2mFrames::LAYOUT,
    &X86PvVcpu::LAYOUT,
    &X86TscInfo::LAYOUT,
    &HvmParamsEntry::LAYOUT,
    &HvmParams::LAYOUT,
    &CheckpointDirtyPfnList::LAYOUT,
    &XenCpuidLeaf::LAYOUT,
    &X86CpuidPolicy::LAYOUT,
    &XenMsrEntry::LAYOUT,
    &X86MsrPolicy::LAYOUT,
];

/// Records that only an x86 PV guest's stream may hold (the `X86_PV_*`
/// records of the spec).
pub const PV_ONLY_RECORDS: &[u32] = &[
    LibxcRecord::X86_PV_INFO,
    LibxcRecord::X86_PV_P2M_FRAMES,
    LibxcRecord::X86_PV_VCPU_BASIC,
    LibxcRecord::X86_PV_VCPU_EXTENDED,
    LibxcRecord::X86_PV_VCPU_XSAVE,
    LibxcRecord::X86_PV_VCPU_MSRS,
];

/// Records that only an x86 HVM guest's stream may hold.
pub const HVM_ONLY_RECORDS: &[u32] = &[LibxcRecord::HVM_CONTEXT, LibxcRecord::HVM_PARAMS];

/// The per-vCPU records of a PV guest; the spec sends them after the
/// guest's memory (after the first PAGE_DATA).
pub const PV_VCPU_RECORDS: &[u32] = &[
    LibxcRecord::X86_PV_VCPU_BASIC,
    LibxcRecord::X86_PV_VCPU_EXTENDED,
    LibxcRecord::X86_PV_VCPU_XSAVE,
    LibxcRecord::X86_PV_VCPU_MSRS,
];

/// Records carrying memory or register contents (dynamic state). From
/// version 3 a STATIC_DATA_END must come before the first of them.
pub const DYNAMIC_RECORDS: &[u32] = &[
    LibxcRecord::PAGE_DATA,
    LibxcRecord::X86_PV_P2M_FRAMES,
    LibxcRecord::X86_PV_VCPU_BASIC,
    LibxcRecord::X86_PV_VCPU_EXTENDED,
    LibxcRecord::X86_PV_VCPU_XSAVE,
    LibxcRecord::X86_PV_VCPU_MSRS,
    LibxcRecord::SHARED_INFO,
    LibxcRecord::X86_TSC_INFO,
    LibxcRecord::HVM_CONTEXT,
    LibxcRecord::HVM_PARAMS,
    LibxcRecord::DOMAIN_CONTEXT,
];

/// Records that only travel on the COLO back channel (secondary to
/// primary); a forward stream never holds them.
pub const BACK_CHANNEL_RECORDS: &[u32] = &[LibxcRecord::CHECKPOINT_DIRTY_PFN_LIST];

/// The record of a version 2 stream at which a receiver infers the
/// STATIC_DATA_END that version 2 lacks: the first X86_PV_P2M_FRAMES of a
/// PV guest, or the first PAGE_DATA of an HVM guest.
pub const fn v2_static_data_end_at(domain: DomainType) -> u32 {
    match domain {
        DomainType::X86Pv => LibxcRecord::X86_PV_P2M_FRAMES,
        DomainType::X86Hvm => LibxcRecord::PAGE_DATA,
    }
}

/// The version that introduced record `code` (see
/// [`RecordSetLayout::since_of`](crate::layout::RecordSetLayout::since_of)).
const fn since(code: u32) -> u32 {
    LibxcRecord::LAYOUT.since_of(code)
}

/// The first version of the stream.
const FIRST_VERSION: u32 = SUPPORTED_VERSIONS[0];

/// A rule of the order table that applies to every stream from the first
/// version on and says no more than its check.
const fn order(rule: Rule, check: OrderCheck, guest: Option<DomainType>) -> OrderRule {
    OrderRule {
        rule,
        check,
        guest,
        since: FIRST_VERSION,
        warns_before: false,
        message: "",
    }
}

/// The rules on the presence and order of the records of a libxc stream,
/// each with the [`Rule`] it reports (KIND, modes, source), the guest type
/// and the version it applies from. The verifier checks them in this
/// order at each record: the rules at a record first, the
/// [`OrderCheck::Required`] ones when their scope ends. (Before
/// STATIC_DATA_END's version, a stream infers it; see
/// [`stands_in_for_static_data_end`].)
pub const ORDER_RULES: &[OrderRule] = &[
    order(
        rules::GUEST_TYPE,
        OrderCheck::GuestOnly {
            guest: DomainType::X86Pv,
            records: PV_ONLY_RECORDS,
        },
        None,
    ),
    order(
        rules::GUEST_TYPE,
        OrderCheck::GuestOnly {
            guest: DomainType::X86Hvm,
            records: HVM_ONLY_RECORDS,
        },
        None,
    ),
    order(
        rules::SDE_ONCE,
        OrderCheck::AtMostOnce {
            record: LibxcRecord::STATIC_DATA_END,
        },
        None,
    ),
    order(
        rules::SDE_BEFORE_MEMORY,
        OrderCheck::After {
            first: LibxcRecord::STATIC_DATA_END,
            records: SDE_CHECKED_RECORDS,
        },
        None,
    ),
    OrderRule {
        since: STATIC_DATA_END_SINCE,
        ..order(
            rules::SDE_BEFORE_STATE,
            OrderCheck::After {
                first: LibxcRecord::STATIC_DATA_END,
                records: DYNAMIC_RECORDS,
            },
            None,
        )
    },
    OrderRule {
        message: "static data (X86_PV_INFO, CPU policies) must come before STATIC_DATA_END",
        ..order(
            rules::STATIC_AFTER_SDE,
            OrderCheck::NotAfter {
                last: LibxcRecord::STATIC_DATA_END,
                records: STATIC_RECORDS,
                scope: Scope::Stream,
            },
            None,
        )
    },
    order(
        rules::PV_INFO_ONCE,
        OrderCheck::AtMostOnce {
            record: LibxcRecord::X86_PV_INFO,
        },
        Some(DomainType::X86Pv),
    ),
    OrderRule {
        message: "X86_PV_P2M_FRAMES and SHARED_INFO must come after X86_PV_INFO",
        ..order(
            rules::PV_INFO_FIRST,
            OrderCheck::After {
                first: LibxcRecord::X86_PV_INFO,
                records: &[LibxcRecord::X86_PV_P2M_FRAMES, LibxcRecord::SHARED_INFO],
            },
            Some(DomainType::X86Pv),
        )
    },
    OrderRule {
        message: "vCPU records must come after the first PAGE_DATA",
        ..order(
            rules::PV_VCPU_AFTER_MEMORY,
            OrderCheck::After {
                first: LibxcRecord::PAGE_DATA,
                records: PV_VCPU_RECORDS,
            },
            Some(DomainType::X86Pv),
        )
    },
    OrderRule {
        since: 4,
        warns_before: true,
        message: "HVM_PARAMS must come before HVM_CONTEXT in a segment",
        ..order(
            rules::HVM_PARAMS_FIRST,
            OrderCheck::NotAfter {
                last: LibxcRecord::HVM_CONTEXT,
                records: &[LibxcRecord::HVM_PARAMS],
                scope: Scope::Segment,
            },
            Some(DomainType::X86Hvm),
        )
    },
    order(
        rules::CHECKPOINT_STREAM,
        OrderCheck::CheckpointedOnly {
            record: LibxcRecord::CHECKPOINT,
        },
        None,
    ),
    order(
        rules::BACK_CHANNEL,
        OrderCheck::BackChannelOnly {
            records: BACK_CHANNEL_RECORDS,
        },
        None,
    ),
    order(
        rules::PV_REQUIRED,
        OrderCheck::Required {
            records: PV_REQUIRED_RECORDS,
            scope: Scope::Stream,
        },
        Some(DomainType::X86Pv),
    ),
    OrderRule {
        since: STATIC_DATA_END_SINCE,
        ..order(
            rules::SDE_BEFORE_STATE,
            OrderCheck::Required {
                records: &[LibxcRecord::STATIC_DATA_END],
                scope: Scope::Stream,
            },
            None,
        )
    },
    OrderRule {
        since: DOMAIN_CONTEXT_SINCE,
        ..order(
            rules::DC_PER_SEGMENT,
            OrderCheck::Required {
                records: &[LibxcRecord::DOMAIN_CONTEXT],
                scope: Scope::Segment,
            },
            None,
        )
    },
];

/// The rules on the values of records (Xen's restore, mostly its PV
/// record handlers in `xg_sr_restore_x86_pv.c`), each with the [`Rule`]
/// it reports, the guest type and the records it looks at. The verifier
/// applies them in this order at each record, after the order rules; the
/// first one a record breaks ends its checks. [`ValueCheck::PtesInP2m`]
/// applies to the pages of a record, the `*AtCompletion` ones when the
/// stream completes.
pub const VALUE_RULES: &[ValueRule] = &[
    ValueRule {
        rule: rules::PV_INFO_PAIR,
        guest: Some(DomainType::X86Pv),
        records: &[LibxcRecord::X86_PV_INFO],
        check: ValueCheck::WidthLevels {
            width: field_of(&X86PvInfo::LAYOUT, "guest_width"),
            levels: field_of(&X86PvInfo::LAYOUT, "pt_levels"),
            pairs: &PV_WIDTH_LEVELS,
        },
    },
    ValueRule {
        rule: rules::P2M_RANGE,
        guest: Some(DomainType::X86Pv),
        records: &[LibxcRecord::X86_PV_P2M_FRAMES],
        check: ValueCheck::Range {
            start: field_of(&X86PvP2mFrames::LAYOUT, "start_pfn"),
            end: field_of(&X86PvP2mFrames::LAYOUT, "end_pfn"),
        },
    },
    ValueRule {
        rule: rules::P2M_COUNT,
        guest: Some(DomainType::X86Pv),
        records: &[LibxcRecord::X86_PV_P2M_FRAMES],
        check: ValueCheck::Frames {
            start: field_of(&X86PvP2mFrames::LAYOUT, "start_pfn"),
            end: field_of(&X86PvP2mFrames::LAYOUT, "end_pfn"),
        },
    },
    ValueRule {
        rule: rules::CRASH_EMPTY_P2M,
        guest: Some(DomainType::X86Pv),
        records: &[LibxcRecord::X86_PV_P2M_FRAMES],
        check: ValueCheck::P2mEnd {
            end: field_of(&X86PvP2mFrames::LAYOUT, "end_pfn"),
        },
    },
    ValueRule {
        rule: rules::CRASH_MEMORY_BEFORE_P2M,
        guest: Some(DomainType::X86Pv),
        records: &[LibxcRecord::PAGE_DATA],
        check: ValueCheck::AfterP2m {
            p2m: LibxcRecord::X86_PV_P2M_FRAMES,
        },
    },
    ValueRule {
        rule: rules::PV_PFN_IN_P2M,
        guest: Some(DomainType::X86Pv),
        records: &[LibxcRecord::PAGE_DATA],
        check: ValueCheck::PfnsInP2m,
    },
    ValueRule {
        rule: rules::PV_VCPU_SIZE,
        guest: Some(DomainType::X86Pv),
        records: PV_VCPU_RECORDS,
        check: ValueCheck::ContextSizes {
            sizes: &[
                (
                    LibxcRecord::X86_PV_VCPU_BASIC,
                    ContextSize::ByGuestWidth(&PV_VCPU_BASIC_SIZE),
                ),
                (
                    LibxcRecord::X86_PV_VCPU_EXTENDED,
                    ContextSize::AtMost(PV_VCPU_EXTENDED_MAX),
                ),
                (
                    LibxcRecord::X86_PV_VCPU_XSAVE,
                    ContextSize::AtLeast(PV_VCPU_XSAVE_MIN),
                ),
                (
                    LibxcRecord::X86_PV_VCPU_MSRS,
                    ContextSize::Entries(PV_VCPU_MSR_ENTRY),
                ),
            ],
        },
    },
    ValueRule {
        rule: rules::PV_VCPU0_BASIC,
        guest: Some(DomainType::X86Pv),
        records: &[LibxcRecord::X86_PV_VCPU_BASIC],
        check: ValueCheck::Vcpu0AtCompletion {
            vcpu: field_of(&X86PvVcpu::LAYOUT, "vcpu_id"),
            missing: "X86_PV_VCPU_BASIC for vCPU 0",
        },
    },
    ValueRule {
        rule: rules::CRASH_NO_P2M,
        guest: Some(DomainType::X86Pv),
        records: &[],
        check: ValueCheck::P2mAtCompletion {
            p2m: LibxcRecord::X86_PV_P2M_FRAMES,
        },
    },
    ValueRule {
        rule: rules::POLICY_NOT_EMPTY,
        guest: None,
        records: &[LibxcRecord::X86_CPUID_POLICY, LibxcRecord::X86_MSR_POLICY],
        check: ValueCheck::NotEmpty,
    },
    ValueRule {
        rule: rules::CRASH_PTE_BEYOND_P2M,
        guest: Some(DomainType::X86Pv),
        records: &[LibxcRecord::PAGE_DATA],
        check: ValueCheck::PtesInP2m {
            present: PV_PTE_PRESENT,
            frame_mask: PV_PTE_FRAME_MASK,
        },
    },
];

/// The value rule reporting `rule`, if it is one of [`VALUE_RULES`].
pub fn value_rule(rule: &Rule) -> Option<&'static ValueRule> {
    VALUE_RULES.iter().find(|r| r.rule.name == rule.name)
}

/// Whether record `code` stands in for the STATIC_DATA_END a stream older
/// than that record lacks, in the stream of a guest of type `domain`: the
/// first [`v2_static_data_end_at`] and, for a PV guest, the records Xen's
/// restore refuses before STATIC_DATA_END ([`SDE_CHECKED_RECORDS`]).
pub fn stands_in_for_static_data_end(domain: DomainType, code: u32) -> bool {
    code == v2_static_data_end_at(domain)
        || (domain == DomainType::X86Pv && SDE_CHECKED_RECORDS.contains(&code))
}

/// The version order rule `rule` applies from (its first entry in
/// [`ORDER_RULES`]; the first version if it has none).
pub fn order_since(rule: &Rule) -> u32 {
    ORDER_RULES
        .iter()
        .find(|r| r.rule.name == rule.name)
        .map_or(FIRST_VERSION, |r| r.since)
}

/// The version that introduced STATIC_DATA_END.
pub const STATIC_DATA_END_SINCE: u32 = since(LibxcRecord::STATIC_DATA_END);

/// The version that introduced DOMAIN_CONTEXT.
pub const DOMAIN_CONTEXT_SINCE: u32 = since(LibxcRecord::DOMAIN_CONTEXT);

/// Whether a stream of `version` infers STATIC_DATA_END (it is older
/// than the record).
pub const fn infers_static_data_end(version: u32) -> bool {
    version < STATIC_DATA_END_SINCE
}

impl PageType {
    /// Whether pages of this type are page tables (L1TAB to L4TAB, pinned
    /// or not), whose entries a PV restore rewrites from pfns to machine
    /// frames (Xen's `x86_pv_localise_page`).
    pub fn is_page_table(self) -> bool {
        let level = self as u64 & PAGE_TYPE_LEVEL_MASK;
        (1..=4).contains(&level) && self.has_data()
    }
}

/// The level bits of a page type (Xen's `XEN_DOMCTL_PFINFO_LTABTYPE_MASK`,
/// shifted down): 1 to 4 for L1TAB to L4TAB; the pinned types add bit 3.
pub const PAGE_TYPE_LEVEL_MASK: u64 = 0x7;

/// Present bit of a PV page-table entry (`_PAGE_PRESENT`).
pub const PV_PTE_PRESENT: u64 = 0x1;

/// The frame bits of a PV page-table entry (Xen's `PTE_FRAME_MASK`):
/// `(pte & PV_PTE_FRAME_MASK) >> PAGE_SHIFT` is the pfn the entry names.
pub const PV_PTE_FRAME_MASK: u64 = 0x000f_ffff_ffff_f000;

/// Size of the vCPU context in a non-empty X86_PV_VCPU_BASIC record, by
/// guest width: Xen's `vcpu_guest_context_x86_64_t` (guest_width 8) and
/// `vcpu_guest_context_x86_32_t` (guest_width 4), as Xen's restore checks
/// them (`handle_x86_pv_vcpu_blob`).
pub const PV_VCPU_BASIC_SIZE: [(u8, usize); 2] = [(8, 5168), (4, 2800)];

/// The size of a non-empty X86_PV_VCPU_BASIC context for `guest_width`
/// (see [`PV_VCPU_BASIC_SIZE`]).
pub fn pv_vcpu_basic_size(guest_width: u8) -> Option<usize> {
    PV_VCPU_BASIC_SIZE
        .iter()
        .find(|(w, _)| *w == guest_width)
        .map(|(_, s)| *s)
}

/// The guest_width/pt_levels pairs of X86_PV_INFO Xen's restore takes
/// (`valid_x86_pv_info_combination`): a 32-bit guest uses PAE (3 levels),
/// a 64-bit one 4 levels.
pub const PV_WIDTH_LEVELS: [(u8, u8); 2] = [(PV_COMPAT_GUEST_WIDTH, 3), (8, 4)];

/// The guest width of a 32-bit (compat) PV guest, in octets.
pub const PV_COMPAT_GUEST_WIDTH: u8 = 4;

/// The guest widths of [`PV_WIDTH_LEVELS`] (X86_PV_INFO's `guest_width`).
pub const PV_GUEST_WIDTHS: [u8; 2] = pair_parts(PV_WIDTH_LEVELS, false);

/// The page-table levels of [`PV_WIDTH_LEVELS`] (X86_PV_INFO's
/// `pt_levels`).
pub const PV_PT_LEVELS: [u8; 2] = pair_parts(PV_WIDTH_LEVELS, true);

/// The first (or, with `second`, the second) parts of `pairs`.
const fn pair_parts<const N: usize>(pairs: [(u8, u8); N], second: bool) -> [u8; N] {
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = if second { pairs[i].1 } else { pairs[i].0 };
        i += 1;
    }
    out
}

/// Largest X86_PV_VCPU_EXTENDED context Xen's restore takes.
pub const PV_VCPU_EXTENDED_MAX: usize = 128;

/// Smallest non-empty X86_PV_VCPU_XSAVE context Xen's restore takes.
pub const PV_VCPU_XSAVE_MIN: usize = 16;

/// Size of one X86_PV_VCPU_MSRS entry (`xen_domctl_vcpu_msr_t`).
pub const PV_VCPU_MSR_ENTRY: usize = 16;

/// The guest width Xen's restore assumes before X86_PV_INFO (a PV
/// domain starts at the host's native width, 64-bit).
pub const PV_DEFAULT_GUEST_WIDTH: u8 = 8;

/// Records Xen's restore handles in streams older than the version that
/// introduced them (it dispatches on the type alone): a lenient verifier
/// accepts them there, a strict one does not.
pub const EARLY_RECORDS_XEN_HANDLES: &[u32] = &[
    LibxcRecord::STATIC_DATA_END,
    LibxcRecord::X86_CPUID_POLICY,
    LibxcRecord::X86_MSR_POLICY,
];

/// Static records: sent before STATIC_DATA_END.
pub const STATIC_RECORDS: &[u32] = &[
    LibxcRecord::X86_PV_INFO,
    LibxcRecord::X86_CPUID_POLICY,
    LibxcRecord::X86_MSR_POLICY,
];

/// The records whose absence from STATIC_DATA_END Xen's restore checks
/// (it refuses them before it): memory and the P2M.
pub const SDE_CHECKED_RECORDS: &[u32] = &[LibxcRecord::PAGE_DATA, LibxcRecord::X86_PV_P2M_FRAMES];

/// The PV records the spec's layout says must be present.
pub const PV_REQUIRED_RECORDS: &[u32] = &[
    LibxcRecord::X86_PV_INFO,
    LibxcRecord::X86_PV_P2M_FRAMES,
    LibxcRecord::PAGE_DATA,
    LibxcRecord::X86_PV_VCPU_BASIC,
];
