//! The libxenlight ("libxl") domain image format, revision 2.
//!
//! Items follow the order of the specification
//! (`docs/specs/libxl-migration-stream.pandoc` in Xen): the stream header,
//! the record header, the emulator sub-header shared by the emulator
//! records, then the records themselves. As for [`crate::libxc`], every
//! name, value and rule is written here once; the C header
//! `libxl_sr_stream_format.h`, the Python module `xen/migration/libxl.py`
//! and the reader in [`crate::outer`] are derived from it.
//!
//! A libxl stream wraps a libxc stream: the LIBXC_CONTEXT record has an
//! empty body and announces that the libxc image follows inline, directly
//! after it. The libxl layer resumes after the libxc END record (or, in a
//! checkpointed stream, after each libxc CHECKPOINT record, until the
//! libxl CHECKPOINT_END record hands the stream back to libxc).

use binrw::Endian;

use crate::body::{BodyError, RecordBody};
use crate::layout::{LengthRule, SpecEnum, StructLayout, TextConstLayout, Wire};
use crate::{spec_consts, RecordSet, SpecEnum, Wire};

spec_consts! {
    /// Named constants of the libxl stream, with their C and Python names.
    LIBXL_CONSTANTS;

    /// The stream identifier, "LibxlFmt" in ASCII, read as a big-endian
    /// 64-bit integer.
    HDR_IDENT: u64 = 0x4c69_6278_6c46_6d74,
        c: Some("RESTORE_STREAM_IDENT"), c_expr: Some("0x4c6962786c466d74UL"),
        py: Some("HDR_IDENT"), py_expr: None;
    /// The version of the specification this description follows, and the
    /// only one a libxl stream header may carry.
    HDR_VERSION: u32 = 2,
        c: Some("RESTORE_STREAM_VERSION"), c_expr: Some("0x00000002U"),
        py: Some("HDR_VERSION"), py_expr: None;
    /// Bit number of the endianness flag in the header options.
    HDR_OPT_ENDIAN_BIT: u32 = 0,
        c: None, c_expr: None,
        py: Some("HDR_OPT_BIT_ENDIAN"), py_expr: None;
    /// Bit number of the legacy flag in the header options.
    HDR_OPT_LEGACY_BIT: u32 = 1,
        c: None, c_expr: None,
        py: Some("HDR_OPT_BIT_LEGACY"), py_expr: None;
    /// Options value of a little-endian stream.
    HDR_OPT_LITTLE_ENDIAN: u32 = 0 << HDR_OPT_ENDIAN_BIT,
        c: None, c_expr: None,
        py: Some("HDR_OPT_LE"), py_expr: Some("(0 << HDR_OPT_BIT_ENDIAN)");
    /// Options bit of a big-endian stream: the records after the header
    /// are big-endian.
    HDR_OPT_BIG_ENDIAN: u32 = 1 << HDR_OPT_ENDIAN_BIT,
        c: Some("RESTORE_OPT_BIG_ENDIAN"), c_expr: Some("(1u << 0)"),
        py: Some("HDR_OPT_BE"), py_expr: Some("(1 << HDR_OPT_BIT_ENDIAN)");
    /// Options bit set by the tool that converts a legacy (pre Xen 4.6)
    /// image into this format.
    HDR_OPT_LEGACY: u32 = 1 << HDR_OPT_LEGACY_BIT,
        c: Some("RESTORE_OPT_LEGACY"), c_expr: Some("(1u << 1)"),
        py: Some("HDR_OPT_LEGACY"), py_expr: Some("(1 << HDR_OPT_BIT_LEGACY)");
    /// Options bits 2 to 31: reserved, zero in a valid stream. This is the
    /// mask the checks use.
    HDR_OPT_RESERVED_MASK: u32 = 0xffff_fffc,
        c: None, c_expr: None,
        py: None, py_expr: None;
    /// The reserved-bits mask of Xen's Python verifier, which covers only
    /// bits 2 to 15 of the 32-bit options field. Kept under its Python
    /// name so that the generated module is a drop-in; checks use
    /// [`HDR_OPT_RESERVED_MASK`], which covers the spec's bits 2 to 31.
    PY_HDR_OPT_RESZ_MASK: u32 = 0xfffc,
        c: None, c_expr: None,
        py: Some("HDR_OPT_RESZ_MASK"), py_expr: None;
    /// Every record, header and padding included, is a multiple of this
    /// many octets (the same rule as the libxc stream).
    REC_ALIGN: u32 = crate::libxc::REC_ALIGN,
        c: Some("REC_ALIGN"), c_expr: None,
        py: None, py_expr: None;
    /// Bit 31 of a record type: set for optional records. The spec reserves
    /// types 0x80000000 and above for future optional records, which a
    /// reader that does not know them skips.
    REC_TYPE_OPTIONAL: u32 = crate::libxc::REC_TYPE_OPTIONAL,
        c: None, c_expr: None,
        py: None, py_expr: None;
}

/// The largest record body the reader accepts. The libxl spec sets no
/// limit (Xen's libxl allocates whatever the header asks for); the reader
/// applies the same bound as the libxc layer so that memory stays bounded
/// by one record.
pub const REC_LENGTH_MAX: u32 = crate::libxc::REC_LENGTH_MAX;

/// The signature that starts the QEMU record of a *legacy* (pre Xen 4.6)
/// libxl image. Xen's legacy-stream converter looks for it; a version 2
/// stream carries the emulator state in EMULATOR_CONTEXT instead.
pub const LIBXL_QEMU_SIGNATURE: &[u8; 21] = b"DeviceModelRecord0002";

/// The Python `struct` format of the legacy QEMU record header: the
/// [`LIBXL_QEMU_SIGNATURE`] octets, then the length of the QEMU blob as a
/// 32-bit integer in the saving machine's byte order, unpadded.
pub const LIBXL_QEMU_RECORD_HDR: &[u8] = b"=21sI";

/// The text constants of the libxl layer (for the generators).
pub const LIBXL_TEXT_CONSTANTS: &[TextConstLayout] = &[
    TextConstLayout {
        rust_name: "LIBXL_QEMU_SIGNATURE",
        value: LIBXL_QEMU_SIGNATURE,
        c_name: None,
        py_name: Some("LIBXL_QEMU_SIGNATURE"),
        py_expr: None,
        doc: "Signature starting the QEMU record of a legacy (pre Xen 4.6) libxl image.",
    },
    TextConstLayout {
        rust_name: "LIBXL_QEMU_RECORD_HDR",
        value: LIBXL_QEMU_RECORD_HDR,
        c_name: None,
        py_name: Some("LIBXL_QEMU_RECORD_HDR"),
        py_expr: Some("\"=%dsI\" % (len(LIBXL_QEMU_SIGNATURE), )"),
        doc: "Python struct format of the legacy QEMU record header: the signature, then the blob length (native byte order, unpadded).",
    },
];

/// Stream header: identifies a libxl stream and the version of this
/// specification it follows. Always big-endian, whatever its endianness
/// bit says about the records after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Wire)]
#[wire(c_name = "libxl__sr_hdr", c_typedef, py_format = "HDR_FORMAT", byte_order = big)]
pub struct LibxlHeader {
    /// "LibxlFmt".
    #[wire(equals = HDR_IDENT, error = "BadIdent")]
    pub ident: u64,
    /// Version of this specification: 2.
    #[wire(equals = HDR_VERSION, error = "UnsupportedVersion")]
    pub version: u32,
    /// Bit 0: byte order of the records (1 = big-endian; x86 and ARM hosts
    /// write 0). Bit 1: the stream was made by the legacy conversion tool.
    /// Bits 2-31: reserved.
    #[wire(reserved_bits = HDR_OPT_RESERVED_MASK)]
    pub options: u32,
}

impl LibxlHeader {
    /// A header for a stream whose records are in byte order `endian`.
    pub fn new(endian: Endian) -> Self {
        LibxlHeader {
            ident: HDR_IDENT,
            version: HDR_VERSION,
            options: match endian {
                Endian::Big => HDR_OPT_BIG_ENDIAN,
                Endian::Little => HDR_OPT_LITTLE_ENDIAN,
            },
        }
    }

    /// The byte order of the records.
    pub fn endian(&self) -> Endian {
        if self.options & HDR_OPT_BIG_ENDIAN != 0 {
            Endian::Big
        } else {
            Endian::Little
        }
    }

    /// Whether the stream was converted from the legacy format.
    pub fn is_legacy(&self) -> bool {
        self.options & HDR_OPT_LEGACY != 0
    }
}

/// Record header: type code and body length. The body follows, then zero
/// padding up to the next multiple of [`REC_ALIGN`] octets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Wire)]
#[wire(c_name = "libxl__sr_rec_hdr", c_typedef, py_format = "RH_FORMAT")]
pub struct LibxlRecordHeader {
    /// Record type; types 0x80000000 and above are optional.
    pub r#type: u32,
    /// Body length in octets, padding excluded.
    #[wire(spec = "body_length")]
    pub length: u32,
}

/// The emulators a domain may have (`emulator_id` of the emulator
/// sub-header). Ids 3 and above are reserved for future emulators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, SpecEnum)]
#[spec(py_table = "emulator_id_to_str")]
pub enum EmulatorId {
    /// Not known: only in a stream converted from the legacy format.
    #[spec(c = "EMULATOR_UNKNOWN", py = "EMULATOR_ID_unknown", human = "Unknown")]
    Unknown = 0x0,
    /// The old QEMU fork maintained with Xen (dropped in Xen 4.21).
    #[spec(
        c = "EMULATOR_QEMU_TRADITIONAL",
        py = "EMULATOR_ID_qemu_trad",
        human = "Qemu Traditional",
        c_note = "Dropped in Xen 4.21"
    )]
    QemuTraditional = 0x1,
    /// Upstream QEMU (the `qemu-xen` device model).
    #[spec(
        c = "EMULATOR_QEMU_UPSTREAM",
        py = "EMULATOR_ID_qemu_upstream",
        human = "Qemu Upstream"
    )]
    QemuUpstream = 0x2,
}

/// Emulator sub-header: the first eight octets of every emulator record,
/// naming the emulator the rest of the body belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Wire)]
#[wire(
    c_name = "libxl__sr_emulator_hdr",
    c_typedef,
    py_format = "EMULATOR_HEADER_FORMAT"
)]
pub struct EmulatorHeader {
    /// Which emulator ([`EmulatorId`]).
    #[wire(values = EmulatorId, spec = "emulator_id", error = "UnknownEmulator")]
    pub id: u32,
    /// Index of this emulator among the domain's emulators.
    pub index: u32,
}

impl EmulatorHeader {
    /// The emulator, if its id is known.
    pub fn emulator(&self) -> Option<EmulatorId> {
        EmulatorId::from_value(u64::from(self.id))
    }
}

/// Parses the emulator sub-header at the start of an emulator record body.
fn read_emulator_header(body: &[u8], endian: Endian) -> Result<EmulatorHeader, BodyError> {
    let fixed = EmulatorHeader::LAYOUT.size;
    if body.len() < fixed {
        return Err(BodyError::TooShort {
            len: body.len(),
            min: fixed,
        });
    }
    crate::body::read_wire(&body[..fixed], endian)
}

/// Length rule of the emulator records: the sub-header, then any number of
/// octets.
const EMULATOR_BODY_LENGTH: LengthRule = LengthRule::Rest {
    fixed: EmulatorHeader::LAYOUT.size,
    element: 1,
};

kind_names! {
    /// What is wrong with the key/value data of an EMULATOR_XENSTORE_DATA record.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum XenstoreErrorKind {
        /// A string runs to the end of the data without a NUL terminator.
        NotNulTerminated,
        /// The data ends after a key: the strings do not pair up into
        /// (key, value) tuples.
        OddStringCount,
        /// A key is the empty string.
        EmptyKey,
        /// A key starts with `/`; keys are relative to the device model's
        /// xenstore directory.
        AbsoluteKey,
        /// A key holds a character outside ASCII letters, digits and `-/_@`
        /// (checked in strict mode only).
        KeyCharacter,
        /// A key or value handed to the encoder holds a NUL octet, which would
        /// split it in two.
        EmbeddedNul,
    }
}

/// Malformed xenstore key/value data, with the position of the offending
/// string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("xenstore data: {} at data offset {offset} (string {string})", describe_xenstore(self.kind))]
pub struct XenstoreError {
    /// What is wrong.
    pub kind: XenstoreErrorKind,
    /// Offset of the offending string within the key/value data (the body
    /// after the emulator sub-header).
    pub offset: usize,
    /// Index of the offending string (keys are even, values odd).
    pub string: usize,
}

fn describe_xenstore(kind: XenstoreErrorKind) -> &'static str {
    match kind {
        XenstoreErrorKind::NotNulTerminated => "string not NUL-terminated",
        XenstoreErrorKind::OddStringCount => "key without a value (odd number of strings)",
        XenstoreErrorKind::EmptyKey => "empty key",
        XenstoreErrorKind::AbsoluteKey => "key is an absolute path",
        XenstoreErrorKind::KeyCharacter => "key holds a character outside [A-Za-z0-9-/_@]",
        XenstoreErrorKind::EmbeddedNul => "string holds a NUL octet",
    }
}

/// Whether `c` may appear in a xenstore key (ASCII letters, digits, `-/_@`).
pub fn is_xenstore_key_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'/' | b'_' | b'@')
}

/// The restore's rules on EMULATOR_XENSTORE_DATA key/value data, checked
/// as the data arrives in pieces of any size, in constant memory: every
/// string NUL-terminated, an even number of strings, keys non-empty and
/// relative (libxl's `libxl__restore_emulator_xenstore_data`, in that
/// order). [`EmulatorXenstoreData::pairs`] applies it to data in memory;
/// the libxl reader applies it to records too long to hold.
///
/// ```
/// use format_spec::libxl::{XenstoreErrorKind, XenstoreScan};
///
/// let mut scan = XenstoreScan::default();
/// scan.feed(b"na").unwrap();
/// scan.feed(b"me\0guest\0/abs").unwrap();
/// assert_eq!(scan.pairs(), 1);
/// // The last string has no NUL: the data is not complete.
/// let e = scan.finish().unwrap_err();
/// assert_eq!((e.kind, e.offset, e.string), (XenstoreErrorKind::NotNulTerminated, 11, 2));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct XenstoreScan {
    /// Octets fed so far.
    pos: usize,
    /// Index of the string being read.
    string: usize,
    /// Where it starts.
    start: usize,
    /// Its octets so far.
    len: usize,
    /// Its first octet, once it has one.
    first: u8,
    /// Where the last key started (its index is `string - 1` once it is
    /// complete).
    key_at: usize,
}

impl XenstoreScan {
    /// Checks the next `chunk` of the data; the first broken rule is an
    /// error (feed no more after it).
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), XenstoreError> {
        let mut rest = chunk;
        while let Some(&head) = rest.first() {
            if self.len == 0 {
                self.first = head;
            }
            let Some(nul) = rest.iter().position(|&b| b == 0) else {
                self.len += rest.len();
                self.pos += rest.len();
                return Ok(());
            };
            self.len += nul;
            if self.string.is_multiple_of(2) {
                let kind = if self.len == 0 {
                    Some(XenstoreErrorKind::EmptyKey)
                } else if self.first == b'/' {
                    Some(XenstoreErrorKind::AbsoluteKey)
                } else {
                    None
                };
                if let Some(kind) = kind {
                    return Err(XenstoreError {
                        kind,
                        offset: self.start,
                        string: self.string,
                    });
                }
                self.key_at = self.start;
            }
            self.pos += nul + 1;
            self.string += 1;
            self.start = self.pos;
            self.len = 0;
            rest = &rest[nul + 1..];
        }
        Ok(())
    }

    /// Complete (key, value) pairs so far.
    pub fn pairs(&self) -> usize {
        self.string / 2
    }

    /// The data ended: checks that its last string was terminated and
    /// paired; returns the number of pairs.
    pub fn finish(&self) -> Result<usize, XenstoreError> {
        if self.len > 0 {
            return Err(XenstoreError {
                kind: XenstoreErrorKind::NotNulTerminated,
                offset: self.start,
                string: self.string,
            });
        }
        if !self.string.is_multiple_of(2) {
            return Err(XenstoreError {
                kind: XenstoreErrorKind::OddStringCount,
                offset: self.key_at,
                string: self.string - 1,
            });
        }
        Ok(self.pairs())
    }
}

/// One decoded xenstore entry: the key and the value, without their NULs.
pub type XenstorePair<'a> = (&'a [u8], &'a [u8]);

/// EMULATOR_XENSTORE_DATA body: the emulator sub-header, then a packed
/// sequence of (key, value) pairs, each string NUL-terminated. Keys are
/// relative to the device model's xenstore directory of the new domain
/// (at the time of writing `/local/domain/$dm_domid/device-model/$domid/`,
/// which a reader must not assume).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmulatorXenstoreData {
    /// The emulator the keys belong to.
    pub header: EmulatorHeader,
    /// The key/value data exactly as in the stream.
    pub data: Vec<u8>,
}

impl EmulatorXenstoreData {
    /// Encodes key/value pairs; refuses pairs the decoder would reject
    /// (empty or absolute keys, strings holding a NUL).
    pub fn from_pairs<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        header: EmulatorHeader,
        pairs: &[(K, V)],
    ) -> Result<Self, XenstoreError> {
        let mut data = Vec::new();
        for (i, (k, v)) in pairs.iter().enumerate() {
            let (k, v) = (k.as_ref(), v.as_ref());
            let bad = |kind, offset, string| XenstoreError {
                kind,
                offset,
                string,
            };
            if k.is_empty() {
                return Err(bad(XenstoreErrorKind::EmptyKey, data.len(), 2 * i));
            }
            if k[0] == b'/' {
                return Err(bad(XenstoreErrorKind::AbsoluteKey, data.len(), 2 * i));
            }
            if k.contains(&0) {
                return Err(bad(XenstoreErrorKind::EmbeddedNul, data.len(), 2 * i));
            }
            data.extend_from_slice(k);
            data.push(0);
            if v.contains(&0) {
                return Err(bad(XenstoreErrorKind::EmbeddedNul, data.len(), 2 * i + 1));
            }
            data.extend_from_slice(v);
            data.push(0);
        }
        Ok(EmulatorXenstoreData { header, data })
    }

    /// Decodes the key/value pairs, applying the rules a restore applies:
    /// every string NUL-terminated, an even number of strings, keys
    /// non-empty and relative. Empty data is valid (no pairs).
    pub fn pairs(&self) -> Result<Vec<XenstorePair<'_>>, XenstoreError> {
        let mut scan = XenstoreScan::default();
        scan.feed(&self.data)?;
        let n = scan.finish()?;
        // Every string is NUL-terminated and they pair up.
        let mut strings = self.data.split(|&b| b == 0);
        Ok((0..n)
            .filter_map(|_| Some((strings.next()?, strings.next()?)))
            .collect())
    }

    /// The strict check the spec adds: keys only hold ASCII letters,
    /// digits and `-/_@`. Call after [`pairs`](Self::pairs) succeeded.
    pub fn check_key_characters(&self) -> Result<(), XenstoreError> {
        let mut pos = 0usize;
        for (i, s) in self.data.split(|&b| b == 0).enumerate() {
            if i % 2 == 0 {
                if let Some(j) = s.iter().position(|&c| !is_xenstore_key_char(c)) {
                    return Err(XenstoreError {
                        kind: XenstoreErrorKind::KeyCharacter,
                        offset: pos + j,
                        string: i,
                    });
                }
            }
            pos += s.len() + 1;
        }
        Ok(())
    }
}

impl RecordBody for EmulatorXenstoreData {
    const BODY_LAYOUT: Option<&'static StructLayout> = Some(&EmulatorHeader::LAYOUT);
    const BODY_LENGTH: LengthRule = EMULATOR_BODY_LENGTH;

    fn read_body(body: &[u8], endian: Endian) -> Result<Self, BodyError> {
        let header = read_emulator_header(body, endian)?;
        Ok(EmulatorXenstoreData {
            header,
            data: body[EmulatorHeader::LAYOUT.size..].to_vec(),
        })
    }

    fn write_body(&self, out: &mut Vec<u8>, endian: Endian) -> Result<(), BodyError> {
        crate::body::write_wire(&self.header, out, endian)?;
        out.extend_from_slice(&self.data);
        Ok(())
    }

    fn check_body(&self) -> Result<(), crate::layout::Violation> {
        self.header.check()
    }
}

/// EMULATOR_CONTEXT body: the emulator sub-header, then the emulator's
/// saved state, a blob whose format only that emulator knows (for upstream
/// QEMU, QEMU's own migration stream).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmulatorContext {
    /// The emulator the blob belongs to.
    pub header: EmulatorHeader,
    /// The emulator's state.
    pub blob: Vec<u8>,
}

impl EmulatorContext {
    /// Length of the emulator's blob in octets.
    pub fn blob_len(&self) -> usize {
        self.blob.len()
    }
}

impl RecordBody for EmulatorContext {
    const BODY_LAYOUT: Option<&'static StructLayout> = Some(&EmulatorHeader::LAYOUT);
    const BODY_LENGTH: LengthRule = EMULATOR_BODY_LENGTH;

    fn read_body(body: &[u8], endian: Endian) -> Result<Self, BodyError> {
        let header = read_emulator_header(body, endian)?;
        Ok(EmulatorContext {
            header,
            blob: body[EmulatorHeader::LAYOUT.size..].to_vec(),
        })
    }

    fn write_body(&self, out: &mut Vec<u8>, endian: Endian) -> Result<(), BodyError> {
        crate::body::write_wire(&self.header, out, endian)?;
        out.extend_from_slice(&self.blob);
        Ok(())
    }

    fn check_body(&self) -> Result<(), crate::layout::Violation> {
        self.header.check()
    }
}

/// COLO checkpoint states (`control_id` of CHECKPOINT_STATE). The primary
/// sends [`New`](Self::New); the secondary answers on the back channel
/// with the other three.
#[derive(Debug, Clone, Copy, PartialEq, Eq, SpecEnum)]
pub enum CheckpointStateId {
    /// The secondary is out of sync: a new checkpoint starts (primary to
    /// secondary).
    #[spec(c = "CHECKPOINT_NEW", py = "CHECKPOINT_NEW", human = "New checkpoint")]
    New = 0x0,
    /// The secondary VM is suspended (secondary to primary).
    #[spec(
        c = "CHECKPOINT_SVM_SUSPENDED",
        py = "CHECKPOINT_SVM_SUSPENDED",
        human = "Secondary VM suspended"
    )]
    SvmSuspended = 0x1,
    /// The secondary VM is ready (secondary to primary).
    #[spec(
        c = "CHECKPOINT_SVM_READY",
        py = "CHECKPOINT_SVM_READY",
        human = "Secondary VM ready"
    )]
    SvmReady = 0x2,
    /// The secondary VM is resumed (secondary to primary).
    #[spec(
        c = "CHECKPOINT_SVM_RESUMED",
        py = "CHECKPOINT_SVM_RESUMED",
        human = "Secondary VM resumed"
    )]
    SvmResumed = 0x3,
}

/// CHECKPOINT_STATE body: COLO control information. The four octets after
/// it in the spec's diagram are the record padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Wire)]
#[wire(c_name = "libxl_sr_checkpoint_state", c_typedef)]
pub struct CheckpointState {
    /// The state ([`CheckpointStateId`]).
    #[wire(values = CheckpointStateId, spec = "control_id")]
    pub id: u32,
}

impl CheckpointState {
    /// The state, if its id is known.
    pub fn state(&self) -> Option<CheckpointStateId> {
        CheckpointStateId::from_value(u64::from(self.id))
    }
}

/// The record types of the libxl stream, in code order.
#[derive(Debug, Clone, PartialEq, Eq, RecordSet)]
#[records(c_prefix = "REC_TYPE_", py_prefix = "REC_TYPE_")]
pub enum LibxlRecord {
    /// Marks the end of the stream; it is the last record.
    #[record(code = 0x00, name = "END", human = "End")]
    End,
    /// The libxc image follows inline, directly after this record; libxc
    /// reads it itself (the sender cannot know its length in advance).
    #[record(code = 0x01, name = "LIBXC_CONTEXT", human = "Libxc context")]
    LibxcContext,
    /// Xenstore key/value pairs of one of the domain's emulators.
    #[record(
        code = 0x02,
        name = "EMULATOR_XENSTORE_DATA",
        human = "Emulator xenstore data",
        spec_body = "xenstore key/value data",
        spec_body_doc = "Packed pairs of NUL-terminated key and value strings."
    )]
    EmulatorXenstoreData(EmulatorXenstoreData),
    /// The saved state of one of the domain's emulators.
    #[record(
        code = 0x03,
        name = "EMULATOR_CONTEXT",
        human = "Emulator context",
        spec_body = "emulator_ctx",
        spec_body_doc = "The emulator's saved state, in a format only that emulator knows."
    )]
    EmulatorContext(EmulatorContext),
    /// Ends the libxl part of a checkpoint; the stream goes back to libxc.
    #[record(code = 0x04, name = "CHECKPOINT_END", human = "Checkpoint end")]
    CheckpointEnd,
    /// COLO checkpoint control information.
    #[record(code = 0x05, name = "CHECKPOINT_STATE", human = "Checkpoint state")]
    CheckpointState(CheckpointState),
}

/// Every wire struct of the libxl layer, in spec order (for generators and tests).
pub const LIBXL_STRUCTS: &[&StructLayout] = &[
    &LibxlHeader::LAYOUT,
    &LibxlRecordHeader::LAYOUT,
    &EmulatorHeader::LAYOUT,
    &CheckpointState::LAYOUT,
];
