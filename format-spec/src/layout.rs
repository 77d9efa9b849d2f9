//! Layout descriptors: the machine-readable form of the description.
//!
//! The derives in `format-derive` turn each annotated item of the
//! description into a `const` value of one of the types below. Code
//! generators (`cargo xtask codegen`), the verifier and the tests walk these
//! values; nobody parses Rust source and no table is typed twice.
//!
//! Everything here is plain data with `'static` lifetimes so that it can be
//! built in `const` context.

use binrw::Endian;

/// Byte order rule of a wire struct.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteOrder {
    /// Always big-endian, whatever the stream says (the image header).
    Big,
    /// The byte order announced by the stream's image header.
    Stream,
    /// The byte order of the machine that wrote it (the xl save header,
    /// which carries a byte-order marker instead of a flag).
    Native,
}

impl ByteOrder {
    /// The prefix of a Python `struct` format in this byte order (`!`
    /// big-endian, `=` native; none for the stream's, which the verifier
    /// prepends when it knows it).
    pub const fn py_prefix(self) -> &'static str {
        match self {
            ByteOrder::Big => "!",
            ByteOrder::Stream => "",
            ByteOrder::Native => "=",
        }
    }
}

/// The primitive integer types the format uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prim {
    /// `uint8_t`
    U8,
    /// `uint16_t`
    U16,
    /// `uint32_t`
    U32,
    /// `uint64_t`
    U64,
}

impl Prim {
    /// Size (and natural alignment) in octets.
    pub const fn size(self) -> usize {
        match self {
            Prim::U8 => 1,
            Prim::U16 => 2,
            Prim::U32 => 4,
            Prim::U64 => 8,
        }
    }

    /// The C type name.
    pub const fn c_type(self) -> &'static str {
        match self {
            Prim::U8 => "uint8_t",
            Prim::U16 => "uint16_t",
            Prim::U32 => "uint32_t",
            Prim::U64 => "uint64_t",
        }
    }

    /// The Python `struct` format character.
    pub const fn py_char(self) -> char {
        match self {
            Prim::U8 => 'B',
            Prim::U16 => 'H',
            Prim::U32 => 'I',
            Prim::U64 => 'Q',
        }
    }

    /// The largest value of the type.
    pub const fn max(self) -> u64 {
        match self {
            Prim::U8 => u8::MAX as u64,
            Prim::U16 => u16::MAX as u64,
            Prim::U32 => u32::MAX as u64,
            Prim::U64 => u64::MAX,
        }
    }
}

/// What a field holds.
#[derive(Debug, Clone, Copy)]
pub enum FieldKind {
    /// One integer.
    Prim(Prim),
    /// A fixed-size array of integers (`uint8_t _res[6]`).
    Array(Prim, usize),
    /// A trailing array of integers whose length comes from elsewhere
    /// (a count field, or the rest of the record).
    TrailingPrim(Prim),
    /// A trailing array of wire structs.
    TrailingStruct(&'static StructLayout),
}

impl FieldKind {
    /// Size in octets of the field within the fixed part (0 for trailing arrays).
    pub const fn size(&self) -> usize {
        match self {
            FieldKind::Prim(p) => p.size(),
            FieldKind::Array(p, n) => p.size() * *n,
            FieldKind::TrailingPrim(_) | FieldKind::TrailingStruct(_) => 0,
        }
    }

    /// Alignment the spec requires: the size of one element.
    pub const fn align(&self) -> usize {
        match self {
            FieldKind::Prim(p) | FieldKind::Array(p, _) | FieldKind::TrailingPrim(p) => p.size(),
            FieldKind::TrailingStruct(s) => s.align,
        }
    }

    /// Size of one element of a trailing array (`None` for fixed fields).
    pub const fn element_size(&self) -> Option<usize> {
        match self {
            FieldKind::TrailingPrim(p) => Some(p.size()),
            FieldKind::TrailingStruct(s) => Some(s.size),
            _ => None,
        }
    }

    /// True for trailing (flexible) arrays.
    pub const fn is_trailing(&self) -> bool {
        matches!(
            self,
            FieldKind::TrailingPrim(_) | FieldKind::TrailingStruct(_)
        )
    }
}

/// A rule a field's value must obey in a valid stream.
#[derive(Debug, Clone, Copy)]
pub enum Constraint {
    /// Anything goes.
    None,
    /// Reserved: zero on save; a strict verifier checks it, a restore ignores it.
    Reserved,
    /// Must equal this value (a magic number or identifier).
    Equals(u64),
    /// Must be one of these values.
    OneOf(&'static [u64]),
    /// Must be one of the values of this enumeration.
    Enum(&'static EnumLayout),
    /// The bits in this mask are reserved and must be zero.
    ReservedBits(u64),
    /// Must not exceed this value: an upper bound on an integer, such as
    /// the most optional data the xl header may announce
    /// (`#[wire(at_most = XL_OPTIONAL_DATA_MAX)]`, see
    /// [`XL_OPTIONAL_DATA_MAX`](crate::xl::XL_OPTIONAL_DATA_MAX)). A value
    /// rule: lenient mode checks it too. A value above the bound breaks it
    /// ([`ViolationRule::TooLarge`]).
    AtMost(u64),
}

/// Where a trailing array's element count comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    /// Not a trailing array.
    Fixed,
    /// The named integer field earlier in the struct.
    Field(&'static str),
    /// Whatever remains of the record body.
    Rest,
}

/// One field of a wire struct.
#[derive(Debug, Clone, Copy)]
pub struct FieldLayout {
    /// Field name, identical in Rust, C and the spec tables.
    pub name: &'static str,
    /// Offset in octets from the start of the struct.
    pub offset: usize,
    /// What the field holds.
    pub kind: FieldKind,
    /// The value rule.
    pub constraint: Constraint,
    /// For trailing arrays, where the count comes from.
    pub count: Count,
    /// The KIND (its name) a broken value rule of the field reports
    /// (`#[wire(error = "BadMarker")]`); `None`: the layer's generic one
    /// (`BadValue`).
    pub error: Option<&'static str>,
    /// Whether lenient mode (what a restore checks) reports a broken rule
    /// of the field too: value rules (`equals`, `one_of`, `values`,
    /// `at_most`) always, a reserved rule when annotated `lenient`
    /// (`#[wire(reserved_bits = .., lenient)]`: the xl header's mandatory
    /// flags, which a restore refuses); otherwise only strict mode does.
    pub lenient: bool,
    /// How the spec's octet diagrams show the field.
    pub diagram: FieldDiagram,
    /// Doc comment text.
    pub doc: &'static str,
}

/// How the octet diagrams of Xen's pandoc specs show a field, where that
/// differs from the field's name. Every part is optional.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FieldDiagram {
    /// The spec's name of the field when the C name differs
    /// (`p2m_start_pfn` for `start_pfn`).
    pub spec: Option<&'static str>,
    /// The whole label of a cell too narrow for the name (`w` for
    /// `guest_width`).
    pub label: Option<&'static str>,
    /// The letter the diagram gives the field's value, shown after the name
    /// (`count (C)`) and used in the indices of a trailing array it counts.
    pub symbol: Option<&'static str>,
    /// The index of a trailing array's first element (default `0`).
    pub first: Option<&'static str>,
    /// The index of its last element (default `C-1`, `C` being the symbol
    /// of the count field).
    pub last: Option<&'static str>,
}

impl FieldLayout {
    /// The field's name in the spec.
    pub fn spec_name(&self) -> &'static str {
        self.diagram.spec.unwrap_or(self.name)
    }

    /// Size in octets within the fixed part of the struct.
    pub const fn size(&self) -> usize {
        self.kind.size()
    }

    /// True when the field is reserved (zero on save).
    pub const fn is_reserved(&self) -> bool {
        matches!(self.constraint, Constraint::Reserved)
    }

    /// The C declaration of the field, without indentation or `;`.
    pub fn c_decl(&self) -> String {
        match self.kind {
            FieldKind::Prim(p) => format!("{} {}", p.c_type(), self.name),
            FieldKind::Array(p, n) => format!("{} {}[{}]", p.c_type(), self.name, n),
            FieldKind::TrailingPrim(p) => format!("{} {}[]", p.c_type(), self.name),
            FieldKind::TrailingStruct(s) => format!("{} {}[]", s.c_type(), self.name),
        }
    }
}

/// The length a record body may have, derived from its layout or stated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LengthRule {
    /// Exactly this many octets (0 for signalling records).
    Exact(usize),
    /// A fixed part of `fixed` octets and then a trailing array of `count`
    /// elements of `element` octets each, `count` being the named field.
    Counted {
        /// Size of the fixed part.
        fixed: usize,
        /// The count field's name.
        field: &'static str,
        /// Size of one element.
        element: usize,
    },
    /// A fixed part and then any number of whole elements.
    Rest {
        /// Size of the fixed part.
        fixed: usize,
        /// Size of one element.
        element: usize,
    },
    /// Any length of at least one octet (opaque blobs that must not be empty).
    NonEmpty,
    /// PAGE_DATA: a header, `count` pfns, then one page per pfn whose type
    /// carries data. Checked by the stream code, which knows the page size.
    PageData,
}

impl LengthRule {
    /// The smallest body length the rule allows.
    pub const fn min(&self) -> usize {
        match *self {
            LengthRule::Exact(n) => n,
            LengthRule::Counted { fixed, .. } | LengthRule::Rest { fixed, .. } => fixed,
            LengthRule::NonEmpty => 1,
            LengthRule::PageData => crate::libxc::PageDataHeader::LAYOUT.size,
        }
    }
}

/// A wire struct: a header or a record body.
#[derive(Debug, Clone, Copy)]
pub struct StructLayout {
    /// The Rust type name.
    pub rust_name: &'static str,
    /// The C struct name (`xc_sr_ihdr`); `None` when the C header has no
    /// struct for it (bodies that are only an array, like the CPUID policy).
    pub c_name: Option<&'static str>,
    /// Whether the C header also `typedef`s the struct to its own name.
    pub c_typedef: bool,
    /// Whether the C type comes from elsewhere (Xen's public headers) and so
    /// is not emitted into the generated header.
    pub c_external: bool,
    /// Name of the Python `struct` format constant, if Xen has one.
    pub py_format_name: Option<&'static str>,
    /// A format string Xen spells differently from the field layout (same
    /// size, kept for compatibility), or `None` to derive it.
    pub py_format_override: Option<&'static str>,
    /// Byte order rule.
    pub byte_order: ByteOrder,
    /// Size of the fixed part in octets (what C's `sizeof` gives).
    pub size: usize,
    /// Alignment (largest field alignment).
    pub align: usize,
    /// Fields in wire order.
    pub fields: &'static [FieldLayout],
    /// Doc comment text.
    pub doc: &'static str,
}

impl StructLayout {
    /// The C type as used in declarations (`struct xc_sr_ihdr`, or the bare
    /// name for external typedefs).
    pub fn c_type(&self) -> String {
        let name = self.c_name.unwrap_or(self.rust_name);
        if self.c_external || self.c_typedef {
            name.to_string()
        } else {
            format!("struct {name}")
        }
    }

    /// Fields of the fixed part (everything but trailing arrays).
    pub fn fixed_fields(&self) -> impl Iterator<Item = &'static FieldLayout> {
        self.fields.iter().filter(|f| !f.kind.is_trailing())
    }

    /// The trailing array, if any.
    pub fn trailing(&self) -> Option<&'static FieldLayout> {
        self.fields.iter().find(|f| f.kind.is_trailing())
    }

    /// Looks a field up by name.
    pub fn field(&self, name: &str) -> Option<&'static FieldLayout> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The field layout flattened into Python `struct` items: each field's
    /// name, offset and primitive, with arrays (reserved regions) split into
    /// the largest naturally aligned integers so that each can be checked.
    pub fn py_items(&self) -> Vec<(&'static str, usize, Prim)> {
        let mut out = Vec::new();
        for f in self.fixed_fields() {
            match f.kind {
                FieldKind::Prim(p) => out.push((f.name, f.offset, p)),
                FieldKind::Array(p, n) => {
                    let mut off = f.offset;
                    let end = f.offset + p.size() * n;
                    while off < end {
                        let left = end - off;
                        let prim = [Prim::U64, Prim::U32, Prim::U16, Prim::U8]
                            .into_iter()
                            .find(|q| q.size() <= left && off % q.size() == 0)
                            .unwrap_or(Prim::U8);
                        out.push((f.name, off, prim));
                        off += prim.size();
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// The Python `struct` format string of the fixed part: the override if
    /// Xen spells it differently, else derived from the fields.
    pub fn py_format(&self) -> String {
        if let Some(s) = self.py_format_override {
            return s.to_string();
        }
        let prefix = self.byte_order.py_prefix();
        let body: String = self
            .py_items()
            .iter()
            .map(|(_, _, p)| p.py_char())
            .collect();
        format!("{prefix}{body}")
    }

    /// The length rule this layout implies for a record body.
    pub const fn length_rule(&self) -> LengthRule {
        let mut i = 0;
        while i < self.fields.len() {
            let f = &self.fields[i];
            if let Some(element) = f.kind.element_size() {
                return match f.count {
                    Count::Field(field) => LengthRule::Counted {
                        fixed: self.size,
                        field,
                        element,
                    },
                    _ => LengthRule::Rest {
                        fixed: self.size,
                        element,
                    },
                };
            }
            i += 1;
        }
        LengthRule::Exact(self.size)
    }
}

/// One value of a described enumeration.
#[derive(Debug, Clone, Copy)]
pub struct VariantLayout {
    /// The Rust variant name.
    pub rust_name: &'static str,
    /// The numeric value.
    pub value: u64,
    /// The C macro name, if the C header defines one.
    pub c_name: Option<&'static str>,
    /// The Python constant name, if the Python module defines one.
    pub py_name: Option<&'static str>,
    /// The human-readable name used in Xen's name tables.
    pub human: &'static str,
    /// A short remark the C header writes after the macro's value, on the
    /// same line (`/* Dropped in Xen 4.21 */`).
    pub c_note: Option<&'static str>,
    /// Doc comment text.
    pub doc: &'static str,
}

/// A described enumeration (domain types, page types, ...).
#[derive(Debug, Clone, Copy)]
pub struct EnumLayout {
    /// The Rust type name.
    pub rust_name: &'static str,
    /// Python values are the Rust values shifted left by this much (page
    /// types are shifted into the top of a 64-bit pfn word).
    pub py_shift: u32,
    /// Name of the Python dict from value to human name, if any.
    pub py_table: Option<&'static str>,
    /// The values.
    pub variants: &'static [VariantLayout],
    /// Doc comment text.
    pub doc: &'static str,
}

impl EnumLayout {
    /// Looks a value up.
    pub fn variant(&self, value: u64) -> Option<&'static VariantLayout> {
        self.variants.iter().find(|v| v.value == value)
    }
}

/// One record type of a record-based stream.
#[derive(Debug, Clone, Copy)]
pub struct RecordLayout {
    /// The Rust variant name.
    pub rust_name: &'static str,
    /// The type code.
    pub code: u32,
    /// The name in the spec (`PAGE_DATA`).
    pub spec_name: &'static str,
    /// The human-readable name in Xen's Python name table ("Page data").
    pub human: &'static str,
    /// The human-readable name in Xen's C name table (`mandatory_rec_types[]`
    /// of `xg_sr_common.c`); the same as `human` unless Xen's C and Python
    /// disagree (C "x86 TSC info", Python "TSC info").
    pub c_human: &'static str,
    /// What the spec's octet diagram calls the part of the body no struct
    /// describes: an opaque body (`hvm_ctx`), or what follows the struct
    /// (`page_data`).
    pub spec_body: Option<&'static str>,
    /// What the spec's field table says of `spec_body`, in the
    /// description's words (`#[record(spec_body_doc = "...")]`).
    pub spec_body_doc: Option<&'static str>,
    /// The C macro name (`REC_TYPE_PAGE_DATA`).
    pub c_name: &'static str,
    /// The Python constant name (`REC_TYPE_page_data`).
    pub py_name: &'static str,
    /// Mandatory records have bit 31 clear.
    pub mandatory: bool,
    /// The stream version that introduced the record.
    pub since: u32,
    /// The stream version that deprecated it (`Some(0)`: deprecated from the start).
    pub deprecated: Option<u32>,
    /// The body layout, if the body has a fixed structure.
    pub body: Option<&'static StructLayout>,
    /// The body length rule.
    pub length: LengthRule,
    /// Doc comment text.
    pub doc: &'static str,
}

impl RecordLayout {
    /// True when the record is deprecated in a stream of this version.
    pub const fn deprecated_in(&self, version: u32) -> bool {
        match self.deprecated {
            Some(v) => version >= v,
            None => false,
        }
    }
}

/// A set of record types (a stream layer's record table).
#[derive(Debug, Clone, Copy)]
pub struct RecordSetLayout {
    /// The Rust enum name.
    pub rust_name: &'static str,
    /// The records, in spec (code) order.
    pub records: &'static [RecordLayout],
}

impl RecordSetLayout {
    /// Looks a record type up by code.
    pub fn by_code(&self, code: u32) -> Option<&'static RecordLayout> {
        self.records.iter().find(|r| r.code == code)
    }

    /// Looks a record type up by its spec name (`"X86_PV_INFO"`).
    ///
    /// ```
    /// use format_spec::layout::Wire;
    /// use format_spec::libxc::LibxcRecord;
    ///
    /// let r = LibxcRecord::LAYOUT.by_name("PAGE_DATA").unwrap();
    /// assert_eq!(r.code, 1);
    /// assert!(LibxcRecord::LAYOUT.by_name("NO_SUCH_RECORD").is_none());
    /// ```
    pub fn by_name(&self, spec_name: &str) -> Option<&'static RecordLayout> {
        self.records.iter().find(|r| r.spec_name == spec_name)
    }

    /// The version that introduced record `code` (its `since`), usable in
    /// a `const`; a code the table does not have is a compile-time error
    /// there.
    pub const fn since_of(&self, code: u32) -> u32 {
        let mut i = 0;
        while i < self.records.len() {
            if self.records[i].code == code {
                return self.records[i].since;
            }
            i += 1;
        }
        panic!("no record of that code in the table")
    }

    /// The spec name of record `code`, usable in a `const`; a code the
    /// table does not have is a compile-time error there.
    pub const fn name_of(&self, code: u32) -> &'static str {
        let mut i = 0;
        while i < self.records.len() {
            if self.records[i].code == code {
                return self.records[i].spec_name;
            }
            i += 1;
        }
        panic!("no record of that code in the table")
    }
}

/// A named constant of the format (a C macro and/or Python name).
#[derive(Debug, Clone, Copy)]
pub struct ConstLayout {
    /// The Rust constant name.
    pub rust_name: &'static str,
    /// The value.
    pub value: u64,
    /// Size in octets of the constant's Rust type (4 for `u32`), so that a
    /// generator can give a number the matching width (`U` or `ULL`).
    pub size: usize,
    /// The C macro name, if the C header defines one.
    pub c_name: Option<&'static str>,
    /// How the C header spells the value, if not as a plain number.
    pub c_expr: Option<&'static str>,
    /// The Python name, if the Python module defines one.
    pub py_name: Option<&'static str>,
    /// How the Python module spells the value, if not as a plain number.
    pub py_expr: Option<&'static str>,
    /// Doc comment text.
    pub doc: &'static str,
}

/// A named text constant of the format: an octet string such as the xl
/// save file's magic or the signature of a legacy QEMU record, or a Python
/// `struct` format string that belongs to no wire struct.
#[derive(Debug, Clone, Copy)]
pub struct TextConstLayout {
    /// The Rust constant name.
    pub rust_name: &'static str,
    /// The octets (not NUL-terminated unless the NUL is part of the value).
    pub value: &'static [u8],
    /// The C name, if a C header defines one.
    pub c_name: Option<&'static str>,
    /// The Python name, if the Python module defines one.
    pub py_name: Option<&'static str>,
    /// How the Python module spells the value, if not as a plain string
    /// literal (for example computed from another constant).
    pub py_expr: Option<&'static str>,
    /// Doc comment text.
    pub doc: &'static str,
}

/// A wire struct: implemented by `#[derive(Wire)]`.
pub trait Wire: Sized {
    /// The layout descriptor.
    const LAYOUT: StructLayout;

    /// Checks the value against the field constraints; on failure names
    /// the first offending field.
    fn check(&self) -> Result<(), Violation>;
}

/// A described enumeration: implemented by `#[derive(SpecEnum)]`.
pub trait SpecEnum: Sized + Copy {
    /// The layout descriptor.
    const LAYOUT: EnumLayout;
    /// The value as an integer.
    fn value(self) -> u64;
    /// The variant for a value, if it is known.
    fn from_value(value: u64) -> Option<Self>;
}

/// A field value that breaks its constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The struct's Rust name.
    pub structure: &'static str,
    /// The field name.
    pub field: &'static str,
    /// Offset of the field within the struct.
    pub offset: usize,
    /// The offending value (for arrays, the first non-zero element).
    pub value: u64,
    /// What went wrong.
    pub rule: ViolationRule,
}

/// Which kind of constraint a [`Violation`] broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViolationRule {
    /// A reserved field or reserved bits are not zero.
    ReservedNonZero,
    /// A field that must hold one exact value holds another.
    WrongValue,
    /// A field holds a value outside its allowed set.
    NotAllowed,
    /// A field holds a value above its upper bound ([`Constraint::AtMost`]).
    TooLarge,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.rule {
            ViolationRule::ReservedNonZero => "reserved bits are set",
            ViolationRule::WrongValue => "wrong value",
            ViolationRule::NotAllowed => "value not allowed",
            ViolationRule::TooLarge => "value above the maximum",
        };
        write!(
            f,
            "{}.{} (offset {}): {} (0x{:x})",
            self.structure, self.field, self.offset, what, self.value
        )
    }
}

/// Checks one integer value against a constraint. Used by derived code.
#[doc(hidden)]
pub fn check_value(
    layout: &'static StructLayout,
    index: usize,
    value: u64,
) -> Result<(), Violation> {
    let field = &layout.fields[index];
    match field.constraint.broken_by(value) {
        None => Ok(()),
        Some((rule, value)) => Err(Violation {
            structure: layout.rust_name,
            field: field.name,
            offset: field.offset,
            value,
            rule,
        }),
    }
}

impl Constraint {
    /// The rule `value` breaks, if any, with the value to report: the
    /// reserved bits that are set for [`Constraint::ReservedBits`], the
    /// value itself otherwise. This is the one place the meaning of every
    /// constraint is written; each walk over the fields decides only
    /// which fields it visits, in which order, and which rules its mode
    /// reports.
    pub fn broken_by(&self, value: u64) -> Option<(ViolationRule, u64)> {
        let rule = match *self {
            Constraint::None => None,
            Constraint::Reserved => (value != 0).then_some(ViolationRule::ReservedNonZero),
            Constraint::ReservedBits(mask) => {
                return (value & mask != 0)
                    .then_some((ViolationRule::ReservedNonZero, value & mask));
            }
            Constraint::Equals(v) => (value != v).then_some(ViolationRule::WrongValue),
            Constraint::OneOf(vs) => (!vs.contains(&value)).then_some(ViolationRule::NotAllowed),
            Constraint::Enum(e) => e
                .variant(value)
                .is_none()
                .then_some(ViolationRule::NotAllowed),
            Constraint::AtMost(max) => (value > max).then_some(ViolationRule::TooLarge),
        };
        rule.map(|r| (r, value))
    }
}

impl ViolationRule {
    /// Whether the rule is a reserved rule (zero on save), as opposed to a
    /// value rule (an exact value, an allowed set, an upper bound).
    pub const fn is_reserved(self) -> bool {
        matches!(self, ViolationRule::ReservedNonZero)
    }
}

/// A field rule that a struct's octets break, as [`first_broken`] finds it.
#[derive(Debug, Clone, Copy)]
pub struct BrokenRule {
    /// The struct the field belongs to: the walked one, or the element
    /// struct of one of its trailing arrays.
    pub structure: &'static StructLayout,
    /// For a field of an element of a trailing array of structs: the
    /// array's name and the element index.
    pub array: Option<(&'static str, u64)>,
    /// The field.
    pub field: &'static FieldLayout,
    /// The element index within an array field (a fixed array or a
    /// trailing array of integers).
    pub element: Option<u64>,
    /// Where the error is reported, from the start of the walked octets:
    /// the field's first octet (of the whole field for a fixed array,
    /// whichever element breaks the rule), or the element's for a
    /// trailing array.
    pub offset: usize,
    /// The rule broken.
    pub rule: ViolationRule,
    /// The value to report (see [`Constraint::broken_by`]).
    pub value: u64,
}

impl BrokenRule {
    /// The broken rule as a [`Violation`] of the field's struct.
    pub fn violation(&self) -> Violation {
        Violation {
            structure: self.structure.rust_name,
            field: self.field.name,
            offset: self.field.offset,
            value: self.value,
            rule: self.rule,
        }
    }
}

/// The first rule, in field order, that `bytes` (a struct laid out as
/// `layout`, its integers in byte order `endian`) breaks among those
/// `checked` selects (by field and by the rule broken). Trailing arrays
/// are walked element by element, as far as `bytes` holds whole
/// elements; an element struct's own byte order is resolved against
/// `endian`. A field `bytes` does not hold is not checked.
///
/// This is the one walk over field annotations: the libxc stream's
/// headers and record bodies, and the libxl and xl headers, are all
/// checked with it. Each caller turns the [`BrokenRule`] into its layer's
/// error.
pub fn first_broken(
    layout: &'static StructLayout,
    bytes: &[u8],
    endian: Endian,
    checked: &dyn Fn(&FieldLayout, ViolationRule) -> bool,
) -> Option<BrokenRule> {
    first_broken_in(layout, bytes, endian, checked, None)
}

fn first_broken_in(
    layout: &'static StructLayout,
    bytes: &[u8],
    endian: Endian,
    checked: &dyn Fn(&FieldLayout, ViolationRule) -> bool,
    array: Option<(&'static str, u64)>,
) -> Option<BrokenRule> {
    for f in layout.fields {
        // A trailing array of structs carries its rules in its elements.
        if matches!(f.constraint, Constraint::None)
            && !matches!(f.kind, FieldKind::TrailingStruct(_))
        {
            continue;
        }
        let broken = |off: usize, size: usize, element: Option<u64>, report: usize| {
            let value = crate::bytes::uint_at(bytes, off, size, endian)?;
            let (rule, value) = f.constraint.broken_by(value)?;
            checked(f, rule).then_some(BrokenRule {
                structure: layout,
                array,
                field: f,
                element,
                offset: report,
                rule,
                value,
            })
        };
        let found = match f.kind {
            FieldKind::Prim(p) => broken(f.offset, p.size(), None, f.offset),
            FieldKind::Array(p, n) => (0..n)
                .find_map(|i| broken(f.offset + i * p.size(), p.size(), Some(i as u64), f.offset)),
            FieldKind::TrailingPrim(p) => (layout.size..)
                .step_by(p.size())
                .take_while(|off| off + p.size() <= bytes.len())
                .enumerate()
                .find_map(|(i, off)| broken(off, p.size(), Some(i as u64), off)),
            FieldKind::TrailingStruct(s) if s.size > 0 => {
                let inner = resolve_endian(s.byte_order, endian);
                (layout.size..)
                    .step_by(s.size)
                    .take_while(|off| off + s.size <= bytes.len())
                    .enumerate()
                    .find_map(|(i, off)| {
                        let b = first_broken_in(
                            s,
                            &bytes[off..off + s.size],
                            inner,
                            checked,
                            Some((f.name, i as u64)),
                        )?;
                        Some(BrokenRule {
                            offset: off + b.offset,
                            ..b
                        })
                    })
            }
            FieldKind::TrailingStruct(_) => None,
        };
        if found.is_some() {
            return found;
        }
    }
    None
}

/// The field `name` of `layout`, for tables built at compile time: a name
/// the layout does not have fails to compile.
pub const fn field_of(layout: &StructLayout, name: &str) -> &'static FieldLayout {
    &layout.fields[field_index(layout, name)]
}

/// The index of the field `name` in `layout.fields`, usable in a `const`
/// (a name the struct does not have fails the build there).
pub const fn field_index(layout: &StructLayout, name: &str) -> usize {
    let mut i = 0;
    while i < layout.fields.len() {
        let (a, b) = (layout.fields[i].name.as_bytes(), name.as_bytes());
        if a.len() == b.len() {
            let mut j = 0;
            while j < a.len() && a[j] == b[j] {
                j += 1;
            }
            if j == a.len() {
                return i;
            }
        }
        i += 1;
    }
    panic!("the layout has no field of that name")
}

impl FieldLayout {
    /// The field's value in `bytes` (a struct of its layout, integers in
    /// byte order `endian`), if `bytes` holds it and it is an integer.
    pub fn read_uint(&self, bytes: &[u8], endian: Endian) -> Option<u64> {
        let FieldKind::Prim(p) = self.kind else {
            return None;
        };
        crate::bytes::uint_at(bytes, self.offset, p.size(), endian)
    }
}

/// Maps a [`ByteOrder`] and the stream's byte order to binrw's [`Endian`].
pub const fn resolve_endian(order: ByteOrder, stream: Endian) -> Endian {
    match order {
        ByteOrder::Big => Endian::Big,
        ByteOrder::Stream => stream,
        ByteOrder::Native => Endian::NATIVE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::libxc::{ImageHeader, X86MsrPolicy, IHDR_ID, IHDR_MARKER};

    /// A good image header (version 3), big-endian as the stream has it.
    fn image_header() -> Vec<u8> {
        let mut raw = vec![0u8; ImageHeader::LAYOUT.size];
        raw[..8].copy_from_slice(&IHDR_MARKER.to_be_bytes());
        raw[8..12].copy_from_slice(&IHDR_ID.to_be_bytes());
        raw[12..16].copy_from_slice(&3u32.to_be_bytes());
        raw
    }

    #[test]
    fn the_first_broken_rule_is_the_first_in_field_order_among_those_selected() {
        let l = &ImageHeader::LAYOUT;
        let all = |_: &FieldLayout, _: ViolationRule| true;
        let mut raw = image_header();
        assert!(first_broken(l, &raw, Endian::Big, &all).is_none());
        // `_res2` (octet 20) and then `version` (octets 12-15) broken: the
        // version comes first in field order, whichever was broken last.
        raw[20] = 1;
        raw[12..16].copy_from_slice(&99u32.to_be_bytes());
        let b = first_broken(l, &raw, Endian::Big, &all).unwrap();
        assert_eq!((b.field.name, b.offset, b.value), ("version", 12, 99));
        assert!(!b.rule.is_reserved());
        // Selecting reserved rules only skips it.
        let reserved = |_: &FieldLayout, r: ViolationRule| r.is_reserved();
        let b = first_broken(l, &raw, Endian::Big, &reserved).unwrap();
        assert_eq!(
            (b.field.name, b.offset, b.value),
            ("_res2", 20, 0x0100_0000)
        );
        assert_eq!(b.rule, ViolationRule::ReservedNonZero);
        assert_eq!(b.violation().field, "_res2");

        // Field order, not value rules first: in the xl header a reserved
        // rule (`mandatory_flags`, octets 4-7) comes before a value rule
        // (`optional_data_len`, octets 12-15, at most a bound).
        use crate::xl::{XlHeader, XL_OPTIONAL_DATA_MAX};
        let h = XlHeader::new(1 << 31, 0, XL_OPTIONAL_DATA_MAX + 1);
        let raw = h.to_bytes(Endian::Little);
        let b = first_broken(&XlHeader::LAYOUT, &raw, Endian::Little, &all).unwrap();
        assert_eq!((b.field.name, b.offset), ("mandatory_flags", 4));
        let values = |_: &FieldLayout, r: ViolationRule| !r.is_reserved();
        let b = first_broken(&XlHeader::LAYOUT, &raw, Endian::Little, &values).unwrap();
        assert_eq!(
            (b.field.name, b.offset, b.rule),
            ("optional_data_len", 12, ViolationRule::TooLarge)
        );
    }

    #[test]
    fn a_trailing_struct_array_is_walked_element_by_element() {
        // Two MSR entries of 16 octets; the second has `flags` (octets 4-7
        // of the entry) set, and the walk stops before a partial third.
        let mut body = vec![0u8; 2 * 16 + 8];
        body[16 + 4] = 0x80;
        body[2 * 16 + 4] = 0x01;
        let all = |_: &FieldLayout, _: ViolationRule| true;
        let b = first_broken(&X86MsrPolicy::LAYOUT, &body, Endian::Little, &all).unwrap();
        assert_eq!(b.structure.rust_name, "XenMsrEntry");
        assert_eq!(b.array, Some(("entries", 1)));
        assert_eq!((b.field.name, b.offset, b.value), ("flags", 20, 0x80));
        body[16 + 4] = 0;
        assert!(first_broken(&X86MsrPolicy::LAYOUT, &body, Endian::Little, &all).is_none());
    }

    #[test]
    fn every_constraint_says_which_rule_a_value_breaks() {
        assert_eq!(Constraint::None.broken_by(7), None);
        assert_eq!(
            Constraint::Reserved.broken_by(7),
            Some((ViolationRule::ReservedNonZero, 7))
        );
        assert_eq!(
            Constraint::ReservedBits(0xf0).broken_by(0x1f),
            Some((ViolationRule::ReservedNonZero, 0x10))
        );
        assert_eq!(Constraint::ReservedBits(0xf0).broken_by(0x0f), None);
        assert_eq!(Constraint::Equals(3).broken_by(3), None);
        assert_eq!(
            Constraint::Equals(3).broken_by(4),
            Some((ViolationRule::WrongValue, 4))
        );
        assert_eq!(
            Constraint::OneOf(&[4, 8]).broken_by(6),
            Some((ViolationRule::NotAllowed, 6))
        );
        assert_eq!(Constraint::AtMost(10).broken_by(10), None);
        assert_eq!(
            Constraint::AtMost(10).broken_by(11),
            Some((ViolationRule::TooLarge, 11))
        );
    }
}
