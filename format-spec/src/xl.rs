//! The xl save file header.
//!
//! No Xen document specifies this header; the description below is that
//! specification. Facts come from Xen's `tools/xl/xl.h` (writer and
//! reader of the header), `tools/xl/xl_saverestore.c`,
//! `tools/xl/xl_vmcontrol.c` and `tools/python/xen/migration/xl.py`.
//!
//! # Layout
//!
//! A file written by `xl save` (and the stream `xl migrate` sends) starts
//! with this header, followed directly by the domain's libxl stream
//! ([`crate::libxl`]):
//!
//! ```text
//!      0     1     2     3     4     5     6     7 octet
//!     +-----------------------------------------------+
//!     | magic (32 octets):                            |
//!     | "Xen saved domain, xl format\n \0 \r"         |
//!     ...                                             |
//!     +-----------------------+-----------------------+
//!     | byteorder             | mandatory_flags       |
//!     +-----------------------+-----------------------+
//!     | optional_flags        | optional_data_len     |
//!     +-----------------------+-----------------------+
//!     | optional data (optional_data_len octets)      |
//!     ...                                             |
//!     +-----------------------------------------------+
//!     | libxl stream ("LibxlFmt" ...)                 |
//!     ...
//! ```
//!
//! * `magic`: the 32 octets of [`XL_MAGIC`], which end in a space, a NUL,
//!   a space and a carriage return so that text-mode transfers and C
//!   string handling visibly damage it.
//! * The four 32-bit fields are in the byte order of the machine that
//!   wrote the file; nothing else says which, so `byteorder` holds
//!   [`XL_BYTEORDER_MARKER`] (0x01020304): octets `04 03 02 01` mean
//!   little-endian, `01 02 03 04` big-endian, anything else is not an xl
//!   header. Xen's `xl restore` only accepts its own byte order; this
//!   reader accepts both.
//! * `mandatory_flags`: features a reader must understand; a reader that
//!   finds a bit it does not know must refuse the file. Bit 0
//!   ([`XL_MANDATORY_FLAG_JSON`]): the configuration in the optional data
//!   is JSON (libxl's `libxl_domain_config`), not xl's configuration-file
//!   syntax. Bit 1 ([`XL_MANDATORY_FLAG_STREAMV2`]): the data after the
//!   header is a migration v2 stream (a libxl stream wrapping a libxc
//!   stream); without it the file holds a legacy (pre Xen 4.6) stream.
//!   `xl save` in Xen 4.6 and later always sets bit 1, and bit 0 whenever
//!   it stores a configuration, so real files carry 0x3.
//! * `optional_flags`: features a reader may ignore. None is defined and
//!   writers store 0. (A comment in Xen's `xl.h` says unknown ones make a
//!   restore fail too, but `xl` never looks at them.) A restore ignores
//!   the field; a strict verifier reports any bit set.
//! * `optional_data_len`: length in octets of the optional data that
//!   follows. A reader skips whatever part of it it does not understand.
//!
//! # Optional data
//!
//! When `optional_data_len` is not zero the optional data starts with the
//! domain configuration ([`XlConfig`], framed as [`XL_CONFIG_FRAMING`]
//! says):
//!
//! ```text
//!     +-----------------------+------------------------------+
//!     | config_len            | config (config_len octets)   |
//!     +-----------------------+------------------------------+
//!     | anything else, up to optional_data_len (skipped)     |
//!     +------------------------------------------------------+
//! ```
//!
//! `config_len` is a 32-bit integer in the same byte order as the header.
//! With the JSON flag, `config` is the JSON text followed by one NUL octet,
//! which `config_len` counts (xl hands the buffer to a C JSON parser). A
//! `config_len` larger than the rest of the optional data is an error
//! (xl reports the file as truncated). Octets after the configuration are
//! reserved for future use and skipped.
//!
//! Xen's `xl` reads any `optional_data_len` into memory; this reader
//! refuses more than [`XL_OPTIONAL_DATA_MAX`] octets so that a damaged or
//! hostile header cannot make it allocate gigabytes. A real configuration
//! is a few KiB (the two real files in the test corpus hold 851 and 1237
//! octets of optional data).
//!
//! There is no padding: the libxl stream starts at offset
//! `48 + optional_data_len`, which need not be a multiple of 8.

use binrw::Endian;

use crate::layout::{field_of, FieldLayout, LengthRule, StructLayout, TextConstLayout, Wire};
use crate::outer::OuterErrorKind;
use crate::{spec_consts, Wire};

/// The 32 octets an xl save file starts with.
pub const XL_MAGIC: &[u8; 32] = b"Xen saved domain, xl format\n \0 \r";

/// The text constants of the xl layer (for the generators).
pub const XL_TEXT_CONSTANTS: &[TextConstLayout] = &[TextConstLayout {
    rust_name: "XL_MAGIC",
    value: XL_MAGIC,
    c_name: Some("savefileheader_magic"),
    py_name: Some("MAGIC"),
    py_expr: None,
    doc: "The 32 octets an xl save file starts with.",
}];

spec_consts! {
    /// Named constants of the xl save header. The C names are those of
    /// Xen's `tools/xl/xl.h`, which is not generated; the Python names
    /// are those of `xen/migration/xl.py` (`MANDATORY_FLAG_JSON`,
    /// `MANDATORY_FLAG_ALL`, `BYTEORDER_MARKER` and `OPTIONAL_DATA_MAX`
    /// are additions).
    XL_CONSTANTS;

    /// The value of the `byteorder` field, written in the saving machine's
    /// byte order.
    XL_BYTEORDER_MARKER: u32 = 0x0102_0304,
        c: Some("SAVEFILE_BYTEORDER_VALUE"), c_expr: Some("((uint32_t)0x01020304UL)"),
        py: Some("BYTEORDER_MARKER"), py_expr: None;
    /// Mandatory flag bit 0: the configuration in the optional data is JSON.
    XL_MANDATORY_FLAG_JSON: u32 = 1 << 0,
        c: Some("XL_MANDATORY_FLAG_JSON"), c_expr: Some("(1U << 0)"),
        py: Some("MANDATORY_FLAG_JSON"), py_expr: None;
    /// Mandatory flag bit 1: a migration v2 (libxl) stream follows the header.
    XL_MANDATORY_FLAG_STREAMV2: u32 = 1 << 1,
        c: Some("XL_MANDATORY_FLAG_STREAMv2"), c_expr: Some("(1U << 1)"),
        py: Some("MANDATORY_FLAG_STREAMV2"), py_expr: None;
    /// Every mandatory flag a reader of this description understands.
    XL_MANDATORY_FLAG_ALL: u32 = XL_MANDATORY_FLAG_JSON | XL_MANDATORY_FLAG_STREAMV2,
        c: Some("XL_MANDATORY_FLAG_ALL"),
        c_expr: Some("(XL_MANDATORY_FLAG_JSON | XL_MANDATORY_FLAG_STREAMv2)"),
        py: Some("MANDATORY_FLAG_ALL"),
        py_expr: Some("(MANDATORY_FLAG_JSON | MANDATORY_FLAG_STREAMV2)");
    /// The most optional data this description's reader accepts (1 MiB), a
    /// bound of ours: xl itself sets none.
    XL_OPTIONAL_DATA_MAX: u32 = 1 << 20,
        c: None, c_expr: None,
        py: Some("OPTIONAL_DATA_MAX"), py_expr: None;
}

/// Offset of the fixed header fields (after the magic).
pub const XL_HEADER_OFFSET: usize = XL_MAGIC.len();

/// Octets of the fixed fields after the magic ([`XlHeader`]).
pub const XL_HEADER_SIZE: usize = XlHeader::LAYOUT.size;

/// Size of the magic and the fixed fields together; the optional data
/// starts here.
pub const XL_PREAMBLE_SIZE: usize = XL_HEADER_OFFSET + XlHeader::LAYOUT.size;

/// The fixed fields after the magic, in the saving machine's byte order.
/// Xen's C `struct save_file_header` also holds the magic; its Python
/// `HEADER_FORMAT` describes these four fields only, as this struct does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Wire)]
#[wire(py_format = "HEADER_FORMAT", byte_order = native)]
pub struct XlHeader {
    /// [`XL_BYTEORDER_MARKER`], telling the byte order of the fields.
    #[wire(equals = XL_BYTEORDER_MARKER, error = "BadByteOrderMarker")]
    pub byteorder: u32,
    /// Flags a reader must understand ([`XL_MANDATORY_FLAG_ALL`]).
    #[wire(
        reserved_bits = !XL_MANDATORY_FLAG_ALL,
        error = "UnknownMandatoryFlags",
        lenient
    )]
    pub mandatory_flags: u32,
    /// Flags a reader may ignore; none is defined.
    #[wire(reserved, error = "UnknownOptionalFlags")]
    pub optional_flags: u32,
    /// Length of the optional data after the header, at most
    /// [`XL_OPTIONAL_DATA_MAX`].
    #[wire(at_most = XL_OPTIONAL_DATA_MAX, error = "OptionalDataTooLong")]
    pub optional_data_len: u32,
}

/// The byte order announced by the four octets of the `byteorder` field,
/// or `None` if they are not [`XL_BYTEORDER_MARKER`] in either order.
pub fn marker_endian(raw: [u8; 4]) -> Option<Endian> {
    if raw == XL_BYTEORDER_MARKER.to_be_bytes() {
        Some(Endian::Big)
    } else if raw == XL_BYTEORDER_MARKER.to_le_bytes() {
        Some(Endian::Little)
    } else {
        None
    }
}

/// Reverses the octets of every field of `layout` in `buf`, turning a
/// struct written in one byte order into the other.
fn swap_fields(layout: &StructLayout, buf: &mut [u8]) {
    for f in layout.fixed_fields() {
        buf[f.offset..f.offset + f.size()].reverse();
    }
}

impl XlHeader {
    /// A header with the marker, these flags and this optional data length.
    pub fn new(mandatory_flags: u32, optional_flags: u32, optional_data_len: u32) -> Self {
        XlHeader {
            byteorder: XL_BYTEORDER_MARKER,
            mandatory_flags,
            optional_flags,
            optional_data_len,
        }
    }

    /// Encodes the fields in byte order `endian`.
    pub fn to_bytes(&self, endian: Endian) -> [u8; XL_HEADER_SIZE] {
        let mut out = Vec::with_capacity(Self::LAYOUT.size);
        // Writing into a Vec cannot fail.
        let _ = crate::body::write_wire(self, &mut out, Endian::NATIVE);
        let mut buf = [0u8; XL_HEADER_SIZE];
        buf.copy_from_slice(&out);
        if endian != Endian::NATIVE {
            swap_fields(&Self::LAYOUT, &mut buf);
        }
        buf
    }

    /// Decodes the fields from octets in byte order `endian`.
    pub fn from_bytes(raw: [u8; XL_HEADER_SIZE], endian: Endian) -> Self {
        let mut buf = raw;
        if endian != Endian::NATIVE {
            swap_fields(&Self::LAYOUT, &mut buf);
        }
        crate::body::read_wire(&buf, Endian::NATIVE)
            .expect("the header's octets always hold its fields")
    }

    /// Decodes the fields, taking the byte order from the marker; `None`
    /// when the marker is wrong.
    pub fn detect(raw: [u8; XL_HEADER_SIZE]) -> Option<(Self, Endian)> {
        let endian = marker_endian(Self::marker_of(&raw))?;
        Some((Self::from_bytes(raw, endian), endian))
    }

    /// The byte-order marker's octets in the encoded header `raw`.
    pub fn marker_of(raw: &[u8; XL_HEADER_SIZE]) -> [u8; 4] {
        const AT: usize = field_of(&XlHeader::LAYOUT, "byteorder").offset;
        let mut m = [0u8; 4];
        m.copy_from_slice(&raw[AT..AT + 4]);
        m
    }

    /// Mandatory flags this description does not know.
    pub fn unknown_mandatory_flags(&self) -> u32 {
        self.mandatory_flags & !XL_MANDATORY_FLAG_ALL
    }

    /// Whether a migration v2 (libxl) stream follows.
    pub fn stream_v2(&self) -> bool {
        self.mandatory_flags & XL_MANDATORY_FLAG_STREAMV2 != 0
    }

    /// Whether the configuration is JSON.
    pub fn json(&self) -> bool {
        self.mandatory_flags & XL_MANDATORY_FLAG_JSON != 0
    }
}

/// The start of the optional data, when it is not empty: the domain
/// configuration and, in front of it, its length, in the byte order of
/// the header ([`XlPreamble::endian`]). Whatever follows the
/// configuration, up to `optional_data_len`, is reserved for future use
/// and skipped ([`XL_CONFIG_FRAMING`]).
#[derive(Debug, Clone, PartialEq, Eq, Wire)]
#[wire(byte_order = native)]
pub struct XlConfig {
    /// Octets in `config`.
    pub config_len: u32,
    /// The configuration: with the JSON flag, libxl's JSON text and its
    /// terminating NUL.
    #[wire(count = config_len)]
    pub config: Vec<u8>,
}

impl XlConfig {
    /// The configuration `config`, its length in `config_len`.
    ///
    /// # Panics
    ///
    /// If `config` is 4 GiB or longer, which `config_len` cannot count.
    pub fn new(config: Vec<u8>) -> Self {
        let config_len = u32::try_from(config.len()).expect("a configuration under 4 GiB");
        XlConfig { config_len, config }
    }

    /// Encodes `config_len` in byte order `endian`, then the
    /// configuration; an error when `config_len` does not count
    /// `config`.
    pub fn to_bytes(&self, endian: Endian) -> Result<Vec<u8>, crate::body::BodyError> {
        let mut out = Vec::with_capacity(Self::LAYOUT.size + self.config.len());
        crate::body::write_wire(self, &mut out, Endian::NATIVE)?;
        if endian != Endian::NATIVE {
            swap_fields(&Self::LAYOUT, &mut out);
        }
        Ok(out)
    }
}

/// A length rule of the optional data, interpreted by
/// [`XlConfigFraming::frame`]: the data is either empty (no
/// configuration) or holds at least the fixed part of `layout` and then
/// the `count * element` octets its count field counts, `count`,
/// `element` and the fixed part being those of `layout`'s length rule
/// ([`LengthRule::Counted`]). Octets after the counted ones are skipped.
#[derive(Debug, Clone, Copy)]
pub struct XlConfigFraming {
    /// The struct the data starts with: fixed fields, one of them the
    /// count, then the counted array.
    pub layout: &'static StructLayout,
    /// The KIND data breaking the rule reports, in both modes (xl's
    /// restore reports such a file as truncated).
    pub kind: OuterErrorKind,
}

/// How the optional data holds the configuration: empty, or
/// [`XlConfig`]'s `config_len` and at least that many octets after it.
pub const XL_CONFIG_FRAMING: XlConfigFraming = XlConfigFraming {
    layout: &XlConfig::LAYOUT,
    kind: OuterErrorKind::BadConfig,
};

// The framing's layout ends in an array counted by a field: checked when
// the crate builds, not when a file is read.
const _: usize = XL_CONFIG_FRAMING.fixed();

impl XlConfigFraming {
    /// The fixed part's size, the count field and the size of one
    /// counted element, from the layout's length rule.
    const fn counted(&self) -> (usize, &'static FieldLayout, usize) {
        match self.layout.length_rule() {
            LengthRule::Counted {
                fixed,
                field,
                element,
            } => (fixed, field_of(self.layout, field), element),
            _ => panic!("a framing layout ends in an array counted by a field"),
        }
    }

    /// Octets of the fixed part: where the counted octets (the
    /// configuration) start in the data.
    pub const fn fixed(&self) -> usize {
        self.counted().0
    }

    /// The field that counts the elements (`config_len`).
    pub const fn count_field(&self) -> &'static FieldLayout {
        self.counted().1
    }

    /// Octets of one counted element.
    pub const fn element(&self) -> usize {
        self.counted().2
    }

    /// The counted octets of `data` (integers in byte order `endian`),
    /// `None` when `data` is empty, or why `data` breaks the rule.
    ///
    /// ```
    /// use format_spec::binrw::Endian;
    /// use format_spec::xl::{XlConfigError, XL_CONFIG_FRAMING};
    ///
    /// let data = [2, 0, 0, 0, b'a', b'b', b'c'];
    /// assert_eq!(XL_CONFIG_FRAMING.frame(&data, Endian::Little), Ok(Some(&b"ab"[..])));
    /// assert_eq!(XL_CONFIG_FRAMING.frame(&[], Endian::Little), Ok(None));
    /// assert_eq!(
    ///     XL_CONFIG_FRAMING.frame(&data[..5], Endian::Big),
    ///     Err(XlConfigError::TooLong { config_len: 0x0200_0000, available: 1 })
    /// );
    /// ```
    pub fn frame<'a>(
        &self,
        data: &'a [u8],
        endian: Endian,
    ) -> Result<Option<&'a [u8]>, XlConfigError> {
        if data.is_empty() {
            return Ok(None);
        }
        let (fixed, count_field, element) = self.counted();
        let count = match count_field.read_uint(data, endian) {
            Some(count) if data.len() >= fixed => count,
            _ => return Err(XlConfigError::NoLength { len: data.len() }),
        };
        let available = data.len() - fixed;
        match usize::try_from(count.saturating_mul(element as u64)) {
            Ok(octets) if octets <= available => Ok(Some(&data[fixed..fixed + octets])),
            _ => Err(XlConfigError::TooLong {
                config_len: count,
                available,
            }),
        }
    }
}

/// What a mandatory flag requires of the configuration in the optional
/// data (see [`XL_FLAG_RULES`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigRequirement {
    /// A configuration is there: the optional data is not empty. A file
    /// without one is reported at the `mandatory_flags` field.
    Present,
    /// A configuration that is there ends in this octet (its
    /// terminator; an empty one does not). A file whose configuration
    /// does not is reported at the configuration's first octet, after
    /// `config_len`.
    EndsWith(u8),
}

/// A rule a set mandatory flag makes on the configuration, and the KIND
/// a file breaking it reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XlFlagRule {
    /// The flag (a bit of `mandatory_flags`) whose being set makes the
    /// rule.
    pub flag: u32,
    /// What the rule requires.
    pub requires: ConfigRequirement,
    /// The KIND a breach reports.
    pub kind: OuterErrorKind,
    /// Whether lenient mode (what a restore checks) reports a breach too;
    /// otherwise only strict mode does.
    pub lenient: bool,
}

/// The rules the mandatory flags make on the configuration, in the order
/// they are checked (after the header's field rules and the framing of
/// the optional data). Both are the JSON flag's, and strict-only.
pub const XL_FLAG_RULES: &[XlFlagRule] = &[
    XlFlagRule {
        flag: XL_MANDATORY_FLAG_JSON,
        requires: ConfigRequirement::Present,
        kind: OuterErrorKind::MissingConfig,
        lenient: false,
    },
    XlFlagRule {
        flag: XL_MANDATORY_FLAG_JSON,
        requires: ConfigRequirement::EndsWith(0),
        kind: OuterErrorKind::ConfigNotTerminated,
        lenient: false,
    },
];

impl XlFlagRule {
    /// Whether `config` (the configuration octets, `None` when the
    /// optional data is empty) breaks the rule, the flag being set.
    pub fn broken_by(&self, config: Option<&[u8]>) -> bool {
        match (self.requires, config) {
            (ConfigRequirement::Present, c) => c.is_none(),
            (ConfigRequirement::EndsWith(b), Some(c)) => c.last() != Some(&b),
            (ConfigRequirement::EndsWith(_), None) => false,
        }
    }

    /// The octet [`XL_FLAG_RULES`] requires a configuration to end in
    /// when `flag` is set (its [`ConfigRequirement::EndsWith`] rule), if
    /// any; usable in a `const`.
    pub const fn terminator(flag: u32) -> Option<u8> {
        let mut i = 0;
        while i < XL_FLAG_RULES.len() {
            let rule = &XL_FLAG_RULES[i];
            if let ConfigRequirement::EndsWith(b) = rule.requires {
                if rule.flag == flag {
                    return Some(b);
                }
            }
            i += 1;
        }
        None
    }
}

/// The octet a JSON configuration ends in (NUL, for xl's C JSON parser):
/// the JSON flag's rule in [`XL_FLAG_RULES`].
pub const XL_JSON_TERMINATOR: u8 = match XlFlagRule::terminator(XL_MANDATORY_FLAG_JSON) {
    Some(b) => b,
    None => panic!("the JSON flag's rules say what a configuration ends in"),
};

/// Why the optional data does not hold a well-formed configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum XlConfigError {
    /// The optional data is too short for the `config_len` field.
    #[error(
        "optional data is {len} octets, too short for the {}-octet {}",
        XL_CONFIG_FRAMING.count_field().size(),
        XL_CONFIG_FRAMING.count_field().name
    )]
    NoLength {
        /// Length of the optional data.
        len: usize,
    },
    /// `config_len` runs past the end of the optional data.
    #[error(
        "{} {config_len} exceeds the {available} octets of optional data after it",
        XL_CONFIG_FRAMING.count_field().name
    )]
    TooLong {
        /// The field's value.
        config_len: u64,
        /// Octets available after the field.
        available: usize,
    },
}

/// The whole xl preamble: byte order, header fields and optional data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XlPreamble {
    /// Byte order of the header fields (and of `config_len`).
    pub endian: Endian,
    /// The fixed fields.
    pub header: XlHeader,
    /// The optional data, `header.optional_data_len` octets.
    pub optional_data: Vec<u8>,
}

impl XlPreamble {
    /// The preamble `xl save` writes for a domain whose configuration is
    /// `json` (without its terminating NUL, which this adds): the v2 and
    /// JSON flags, and the optional data holding `config_len` and the
    /// configuration. An empty `json` gives empty optional data and only
    /// the v2 flag, as xl does when it has no configuration.
    ///
    /// # Panics
    ///
    /// If `json` is 4 GiB or longer ([`XlConfig::new`]).
    pub fn with_json_config(endian: Endian, json: &str) -> Self {
        let mut optional_data = Vec::new();
        let mut flags = XL_MANDATORY_FLAG_STREAMV2;
        if !json.is_empty() {
            let config = XlConfig::new([json.as_bytes(), &[XL_JSON_TERMINATOR]].concat());
            optional_data = config
                .to_bytes(endian)
                .expect("config_len counts the configuration");
            flags |= XL_MANDATORY_FLAG_JSON;
        }
        XlPreamble {
            endian,
            header: XlHeader::new(flags, 0, optional_data.len() as u32),
            optional_data,
        }
    }

    /// Encodes the magic, the fields and the optional data. The
    /// `optional_data_len` field is written as stored in `header`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(XL_PREAMBLE_SIZE + self.optional_data.len());
        out.extend_from_slice(XL_MAGIC);
        out.extend_from_slice(&self.header.to_bytes(self.endian));
        out.extend_from_slice(&self.optional_data);
        out
    }

    /// The configuration octets (for JSON, the text and its NUL), or
    /// `None` when the optional data is empty ([`XL_CONFIG_FRAMING`]).
    pub fn config(&self) -> Result<Option<&[u8]>, XlConfigError> {
        XL_CONFIG_FRAMING.frame(&self.optional_data, self.endian)
    }

    /// The JSON configuration text without its NUL, when the JSON flag is
    /// set and the configuration is NUL-terminated UTF-8.
    pub fn json_config(&self) -> Option<&str> {
        if !self.header.json() {
            return None;
        }
        let config = self.config().ok()??;
        let text = config.strip_suffix(&[XL_JSON_TERMINATOR])?;
        std::str::from_utf8(text).ok()
    }
}

/// The type of guest an xl configuration describes: libxl's
/// `libxl_domain_type`, as its JSON spells it in `c_info.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XlGuestType {
    /// `"hvm"`: a fully virtualised guest, with a device model.
    Hvm,
    /// `"pv"`.
    Pv,
    /// `"pvh"`: an HVM container without a device model. Its libxc stream
    /// says X86_HVM, as an HVM guest's does.
    Pvh,
}

impl XlGuestType {
    /// Every type, in libxl's order.
    pub const ALL: [XlGuestType; 3] = [XlGuestType::Hvm, XlGuestType::Pv, XlGuestType::Pvh];

    /// The name libxl's JSON gives it (`c_info.type`).
    pub fn json_name(self) -> &'static str {
        match self {
            XlGuestType::Hvm => "hvm",
            XlGuestType::Pv => "pv",
            XlGuestType::Pvh => "pvh",
        }
    }

    /// Whether libxl's restore takes emulator records for this guest: only
    /// for HVM (`process_record` in `libxl_stream_read.c` refuses them when
    /// `b_info.type` is not `LIBXL_DOMAIN_TYPE_HVM`).
    pub fn takes_emulator_records(self) -> bool {
        self == XlGuestType::Hvm
    }
}

/// A forward-only walk over JSON text, enough to find one member of an
/// object: strings are compared undecoded, every other value is skipped.
struct JsonWalk<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> JsonWalk<'a> {
    fn ws(&mut self) {
        while self.s.get(self.i).is_some_and(|c| c.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        self.ws();
        (self.s.get(self.i) == Some(&c)).then(|| self.i += 1)
    }

    /// A string, as its raw octets between the quotes.
    fn string(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let start = self.i;
        loop {
            match self.s.get(self.i)? {
                b'"' => break,
                b'\\' => self.i += 2,
                _ => self.i += 1,
            }
        }
        self.i += 1;
        self.s.get(start..self.i - 1)
    }

    fn skip_value(&mut self, depth: u32) -> Option<()> {
        self.ws();
        match *self.s.get(self.i)? {
            b'"' => self.string().map(|_| ()),
            b'{' | b'[' if depth < 64 => {
                let close = if self.s[self.i] == b'{' { b'}' } else { b']' };
                self.i += 1;
                if self.eat(close).is_some() {
                    return Some(());
                }
                loop {
                    if close == b'}' {
                        self.string()?;
                        self.eat(b':')?;
                    }
                    self.skip_value(depth + 1)?;
                    if self.eat(close).is_some() {
                        return Some(());
                    }
                    self.eat(b',')?;
                }
            }
            c if c == b'-' || c.is_ascii_alphanumeric() => {
                while self
                    .s
                    .get(self.i)
                    .is_some_and(|&c| c.is_ascii_alphanumeric() || b"+-.".contains(&c))
                {
                    self.i += 1;
                }
                Some(())
            }
            _ => None,
        }
    }

    /// Positions the walk at the value of member `key` of the object that
    /// starts here.
    fn member(&mut self, key: &[u8]) -> Option<()> {
        self.eat(b'{')?;
        loop {
            let k = self.string()?;
            self.eat(b':')?;
            if k == key {
                return Some(());
            }
            self.skip_value(0)?;
            self.eat(b',')?;
        }
    }
}

impl XlPreamble {
    /// The type of guest the JSON configuration describes (`c_info.type`:
    /// `"hvm"`, `"pv"` or `"pvh"`), which decides what libxl's restore
    /// takes: emulator records only for HVM. `None` without a JSON
    /// configuration, when it is not well-formed JSON (as far as this
    /// reads it: structure, strings, scalars), or when it names no such
    /// type. Without it an HVM guest and a PVH one cannot be told apart:
    /// the libxc stream says X86_HVM for both.
    ///
    /// ```
    /// use format_spec::binrw::Endian;
    /// use format_spec::xl::{XlGuestType, XlPreamble};
    ///
    /// let json = r#"{"c_info": {"type": "pvh", "name": "guest"}, "b_info": {}}"#;
    /// let pre = XlPreamble::with_json_config(Endian::Little, json);
    /// assert_eq!(pre.guest_type(), Some(XlGuestType::Pvh));
    /// assert!(!XlGuestType::Pvh.takes_emulator_records());
    /// let pre = XlPreamble::with_json_config(Endian::Little, r#"{"c_info": {}}"#);
    /// assert_eq!(pre.guest_type(), None);
    /// ```
    pub fn guest_type(&self) -> Option<XlGuestType> {
        let json = self.json_config()?.as_bytes();
        let mut whole = JsonWalk { s: json, i: 0 };
        whole.skip_value(0)?;
        whole.ws();
        if whole.i != json.len() {
            return None;
        }
        let mut w = JsonWalk { s: json, i: 0 };
        w.member(b"c_info")?;
        w.member(b"type")?;
        let name = w.string()?;
        XlGuestType::ALL
            .into_iter()
            .find(|t| t.json_name().as_bytes() == name)
    }
}

/// Every wire struct of the xl layer (for generators and tests).
pub const XL_STRUCTS: &[&StructLayout] = &[&XlHeader::LAYOUT, &XlConfig::LAYOUT];

/// Which side of `xl migrate` sends a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrationSide {
    /// The sender (`xl migrate`), on the stream that carries the domain.
    Sender,
    /// The receiver (`xl migrate-receive`), on the stream going back.
    Receiver,
}

/// One of the fixed messages of xl's migration protocol.
///
/// `xl migrate` runs a command (usually `ssh HOST xl migrate-receive`)
/// with two pipes. Around the migration stream proper (the xl header and
/// the libxl stream, as in a save file) both sides exchange fixed texts,
/// defined in Xen's `tools/xl/xl.h` and used in `tools/xl/xl_migrate.c`:
///
/// 1. the receiver sends [`MIGRATE_RECEIVER_BANNER`] (without its NUL);
/// 2. the sender sends the xl header and the libxl stream;
/// 3. the receiver, having restored the domain paused, sends
///    [`MIGRATE_RECEIVER_READY`];
/// 4. the sender sends [`MIGRATE_PERMISSION_TO_GO`], the last octets on
///    the sender's stream: a capture of what `xl migrate` sends is a save
///    file followed by this message;
/// 5. the receiver sends [`MIGRATE_REPORT`] and one status octet (0: the
///    domain runs; otherwise it failed and the receiver then sends
///    [`MIGRATE_PERMISSION_TO_GO`] back, so that the sender resumes).
///
/// A Remus or COLO receiver sends nothing after the banner: its stream
/// ends at failover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MigrationMessage {
    /// The name of the C array in `xl.h`.
    pub name: &'static str,
    /// The text, without a terminating NUL.
    pub text: &'static [u8],
    /// Whether xl sends the terminating NUL too (it writes `sizeof` the
    /// array for every message but the banner).
    pub nul: bool,
    /// Whether one status octet follows the message.
    pub status_octet: bool,
    /// Who sends it.
    pub sides: &'static [MigrationSide],
}

impl MigrationMessage {
    /// The octets on the wire: the text, its NUL if sent, and the status
    /// octet `status` if the message has one.
    pub fn wire(&self, status: u8) -> Vec<u8> {
        let mut v = self.text.to_vec();
        if self.nul {
            v.push(0);
        }
        if self.status_octet {
            v.push(status);
        }
        v
    }

    /// The number of octets on the wire.
    pub fn wire_len(&self) -> usize {
        self.text.len() + usize::from(self.nul) + usize::from(self.status_octet)
    }
}

/// `migrate_receiver_banner`: the receiver is ready for the stream.
pub const MIGRATE_RECEIVER_BANNER: MigrationMessage = MigrationMessage {
    name: "migrate_receiver_banner",
    text: b"xl migration receiver ready, send binary domain data.\n",
    nul: false,
    status_octet: false,
    sides: &[MigrationSide::Receiver],
};

/// `migrate_receiver_ready`: the receiver has the domain, paused.
pub const MIGRATE_RECEIVER_READY: MigrationMessage = MigrationMessage {
    name: "migrate_receiver_ready",
    text: b"domain received, ready to unpause",
    nul: true,
    status_octet: false,
    sides: &[MigrationSide::Receiver],
};

/// `migrate_permission_to_go`: the other side may run the domain.
pub const MIGRATE_PERMISSION_TO_GO: MigrationMessage = MigrationMessage {
    name: "migrate_permission_to_go",
    text: b"domain is yours, you are cleared to unpause",
    nul: true,
    status_octet: false,
    sides: &[MigrationSide::Sender, MigrationSide::Receiver],
};

/// `migrate_report`: the receiver's result, in the status octet after it.
pub const MIGRATE_REPORT: MigrationMessage = MigrationMessage {
    name: "migrate_report",
    text: b"my copy unpause results are as follows",
    nul: true,
    status_octet: true,
    sides: &[MigrationSide::Receiver],
};

/// Every message of xl's migration protocol.
pub const MIGRATION_MESSAGES: &[MigrationMessage] = &[
    MIGRATE_RECEIVER_BANNER,
    MIGRATE_RECEIVER_READY,
    MIGRATE_PERMISSION_TO_GO,
    MIGRATE_REPORT,
];

/// The most octets a sequence of [`MIGRATION_MESSAGES`] after a stream is
/// looked at for (more is not xl's protocol).
pub const MIGRATION_TRAILER_MAX: usize = 256;

/// The messages `octets` consists of, one after the other, each in its
/// exact wire form (with the status octet of [`MIGRATE_REPORT`]), or
/// `None` if they are anything else (or nothing).
///
/// ```
/// use format_spec::xl::{migration_messages, MIGRATE_PERMISSION_TO_GO};
///
/// let wire = MIGRATE_PERMISSION_TO_GO.wire(0);
/// assert_eq!(wire.len(), 44);
/// assert_eq!(migration_messages(&wire), Some(vec![MIGRATE_PERMISSION_TO_GO]));
/// assert_eq!(migration_messages(&wire[..40]), None);
/// assert_eq!(migration_messages(b""), None);
/// ```
pub fn migration_messages(octets: &[u8]) -> Option<Vec<MigrationMessage>> {
    let mut found = Vec::new();
    let mut rest = octets;
    while !rest.is_empty() {
        let m = MIGRATION_MESSAGES.iter().find(|m| {
            rest.len() >= m.wire_len()
                && rest.starts_with(m.text)
                && (!m.nul || rest[m.text.len()] == 0)
        })?;
        found.push(*m);
        rest = &rest[m.wire_len()..];
    }
    (!found.is_empty()).then_some(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `config_len` (`n`, in byte order `e`) and then `body`.
    fn data(n: u32, body: &[u8], e: Endian) -> Vec<u8> {
        let mut v = match e {
            Endian::Big => n.to_be_bytes().to_vec(),
            Endian::Little => n.to_le_bytes().to_vec(),
        };
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn the_json_terminator_is_the_json_flags_rule() {
        assert_eq!(XL_JSON_TERMINATOR, 0);
        assert_eq!(XlFlagRule::terminator(XL_MANDATORY_FLAG_STREAMV2), None);
        let pre = XlPreamble::with_json_config(Endian::Big, "{}");
        assert_eq!(pre.config(), Ok(Some(&b"{}\0"[..])));
        assert_eq!(pre.json_config(), Some("{}"));
    }

    #[test]
    fn framing_comes_from_the_layout() {
        let count = XL_CONFIG_FRAMING.count_field();
        assert_eq!(count.name, "config_len");
        assert_eq!((count.offset, count.size()), (0, 4));
        assert_eq!(XL_CONFIG_FRAMING.fixed(), 4);
        assert_eq!(XL_CONFIG_FRAMING.element(), 1);
        assert_eq!(XL_CONFIG_FRAMING.kind, OuterErrorKind::BadConfig);
    }

    #[test]
    fn framing_at_its_boundaries_in_both_byte_orders() {
        for e in [Endian::Little, Endian::Big] {
            let f = &XL_CONFIG_FRAMING;
            // Empty: no configuration.
            assert_eq!(f.frame(&[], e), Ok(None));
            // config_len counting every octet after it, and fewer: the
            // rest is skipped.
            let d = data(5, b"hello", e);
            assert_eq!(f.frame(&d, e), Ok(Some(&b"hello"[..])));
            let d = data(2, b"hello", e);
            assert_eq!(f.frame(&d, e), Ok(Some(&b"he"[..])));
            let d = data(0, b"", e);
            assert_eq!(f.frame(&d, e), Ok(Some(&b""[..])));
            // One more than there are, and the largest.
            let d = data(6, b"hello", e);
            assert_eq!(
                f.frame(&d, e),
                Err(XlConfigError::TooLong {
                    config_len: 6,
                    available: 5
                })
            );
            let d = data(u32::MAX, b"hello", e);
            assert_eq!(
                f.frame(&d, e),
                Err(XlConfigError::TooLong {
                    config_len: u64::from(u32::MAX),
                    available: 5
                })
            );
            // 1 to 3 octets: too short for config_len.
            for len in 1..4 {
                assert_eq!(
                    f.frame(&[0; 3][..len], e),
                    Err(XlConfigError::NoLength { len })
                );
            }
        }
        // The byte order is the one given: 5 read big-endian is 5 << 24.
        let d = data(5, b"hello", Endian::Little);
        assert_eq!(
            XL_CONFIG_FRAMING.frame(&d, Endian::Big),
            Err(XlConfigError::TooLong {
                config_len: 5 << 24,
                available: 5
            })
        );
    }

    #[test]
    fn errors_name_the_count_field_and_its_width() {
        assert_eq!(
            XlConfigError::NoLength { len: 3 }.to_string(),
            "optional data is 3 octets, too short for the 4-octet config_len"
        );
        assert_eq!(
            XlConfigError::TooLong {
                config_len: 9,
                available: 8
            }
            .to_string(),
            "config_len 9 exceeds the 8 octets of optional data after it"
        );
    }

    #[test]
    fn config_encodes_in_both_byte_orders_and_frames_back() {
        for e in [Endian::Little, Endian::Big] {
            let bytes = XlConfig::new(b"{}\0".to_vec()).to_bytes(e).unwrap();
            assert_eq!(bytes, data(3, b"{}\0", e));
            assert_eq!(XL_CONFIG_FRAMING.frame(&bytes, e), Ok(Some(&b"{}\0"[..])));
            let pre = XlPreamble::with_json_config(e, "{}");
            assert_eq!(pre.optional_data, bytes);
            assert_eq!(pre.config(), Ok(Some(&b"{}\0"[..])));
        }
        // A config_len that does not count the configuration is refused.
        let bad = XlConfig {
            config_len: 2,
            config: b"abc".to_vec(),
        };
        assert!(bad.to_bytes(Endian::Little).is_err());
    }
}
