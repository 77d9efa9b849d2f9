//! Whole save files: the xl header, the libxl stream and the libxc stream
//! nested inside it, read and written forward-only.
//!
//! A file made by `xl save` is three layers deep: the xl header
//! ([`crate::xl`]), a libxl stream ([`crate::libxl`]) and, inline after the
//! libxl LIBXC_CONTEXT record, a libxc stream ([`crate::libxc`]). After the
//! libxc END record the libxl layer resumes (emulator records, then the
//! libxl END). Tools also meet bare libxl streams (what `libxl` sends over
//! a migration socket after xl's header) and bare libxc streams.
//!
//! [`OuterReader`] reads the outer layers and hands the stream over to the
//! caller whenever the libxc layer has it: the caller reads the libxc
//! stream from [`OuterReader::inner`] (the same reader, which keeps
//! counting offsets) up to its END record, or up to a CHECKPOINT record in
//! a checkpointed stream, then tells the reader with
//! [`OuterReader::libxc_finished`] and goes on with [`OuterReader::next`].
//! In a checkpointed stream the libxc reader is paused at each CHECKPOINT
//! with [`StreamReader::suspend`](crate::stream::StreamReader::suspend)
//! and, at the next handover ([`Handover::resume`] set), goes on with
//! [`StreamReader::resume`](crate::stream::StreamReader::resume) at
//! [`Handover::offset`].
//! Nothing here needs `Seek`, so pipes and sockets work; memory is bounded
//! by one record.
//!
//! # Rules
//!
//! Each rule has a stable kind name ([`OuterError::kind`]). "Both" rules
//! are what a restore checks ([`Mode::Lenient`]); "strict" rules are what a
//! verifier adds ([`Mode::Strict`]). The first error ends the read.
//!
//! | kind | rule | modes |
//! |---|---|---|
//! | `UnknownFormat` | (auto) the first 8 octets are not "Xen save", "LibxlFmt" or all ones | both |
//! | `BadXlMagic` | the first 32 octets are not [`XL_MAGIC`] | both |
//! | `BadByteOrderMarker` | xl `byteorder` is not 0x01020304 in either byte order | both |
//! | `UnknownMandatoryFlags` | xl mandatory flags outside JSON and STREAMv2 | both |
//! | `UnknownOptionalFlags` | xl optional flags not zero | strict |
//! | `OptionalDataTooLong` | xl `optional_data_len` over [`XL_OPTIONAL_DATA_MAX`](crate::xl::XL_OPTIONAL_DATA_MAX) | both |
//! | `BadConfig` | optional data neither empty nor holding [`XlConfig`](crate::xl::XlConfig)'s `config_len` and at least that many octets after it ([`XL_CONFIG_FRAMING`]) | both |
//! | `MissingConfig` | JSON flag set, optional data empty | strict |
//! | `ConfigNotTerminated` | JSON flag set, configuration not ending in NUL | strict |
//! | `LegacyStream` | no STREAMv2 flag and no libxc marker after the xl header | both |
//! | `BadIdent` | libxl ident is not "LibxlFmt" | both |
//! | `UnsupportedVersion` | libxl version is not 2 | both |
//! | `ReservedNonZero` | libxl options bits 2-31 set | strict |
//! | `UnknownMandatory` | unknown libxl record type with bit 31 clear | both |
//! | `UnknownOptional` | unknown libxl record type with bit 31 set: libxl's reader refuses every type it does not know (`process_record` in `libxl_stream_read.c`), the optional ones too | both |
//! | `RecordTooLong` | record length over [`REC_LENGTH_MAX`] (checked before reading) | strict (libxl has no limit: lenient reads on with bounded memory, an EMULATOR_CONTEXT blob skipped, EMULATOR_XENSTORE_DATA's pairs checked as they stream past with [`XenstoreScan`]) |
//! | `BadLength` | body length breaks the record's length rule | both, except (lenient) a body of END, LIBXC_CONTEXT or CHECKPOINT_END, which libxl reads and ignores |
//! | `CrashesXenRestore` | a CHECKPOINT_STATE with an empty body, on which libxl's restore dereferences a null pointer | both |
//! | `PaddingNonZero` | a padding octet is not zero | strict |
//! | `UnknownEmulator` | emulator id not 0, 1 or 2 | strict |
//! | `Xenstore` | key/value data: string not NUL-terminated, odd number of strings, empty or absolute key | both |
//! | `Xenstore` | a key character outside `[A-Za-z0-9-/_@]` | strict |
//! | `BadValue` | CHECKPOINT_STATE id not 0 to 3 | strict |
//! | `BadValue` | CHECKPOINT_STATE id not 0 (CHECKPOINT_NEW, the only state sent forward; `colo_stream_read_done` refuses the others) | both |
//! | `UnexpectedRecord` | a second LIBXC_CONTEXT; CHECKPOINT_END outside a checkpoint; END inside one | both |
//! | `UnexpectedRecord` | CHECKPOINT_STATE anywhere but right after a CHECKPOINT_END (Xen's COLO layout: libxl reads it alone there, `libxl__stream_read_checkpoint_state`, and refuses it elsewhere) | both |
//! | `WrongGuestType` | EMULATOR_XENSTORE_DATA or EMULATOR_CONTEXT in the stream of a guest that is not HVM: libxl's `process_record` refuses them unless `b_info.type` is HVM. The guest type is the xl configuration's `c_info.type` (PV, PVH or HVM, [`XlPreamble::guest_type`]) where there is one, else the libxc domain header's, which says X86_HVM for PVH too: without the configuration (a bare libxl stream, or no JSON) a PVH guest's emulator records cannot be told from an HVM guest's and are taken. Checked by [`crate::save::SaveReader`], which knows the guest type | both |
//! | `UnexpectedRecord` | END with no LIBXC_CONTEXT before it: nothing to restore (libxl's reader takes it) | strict |
//! | `TrailingData` | octets after the final END (libxl, or libxc for a bare libxc stream), unless they are xl's migration messages ([`OuterReader::migration_trailer`]) | strict |
//! | `Truncated` | the input ends inside the libxl records of a checkpoint, between a libxc CHECKPOINT and its CHECKPOINT_END: libxl does not fail over there, its reader hangs ([`CUT_IN_CHECKPOINT`]) | both |
//! | `Truncated` | the input ends inside a header, body or padding, or before END | both, except (lenient) after the libxc END of a checkpointed stream: libxl's reader reads nothing after the libxc stream of a Remus or COLO restore (`libxl__xc_domain_restore_done` completes the stream), so lenient mode stops there and what follows (the libxl END or anything else) is not read |
//!
//! Xen's own C restore and Python verifier differ in places: neither
//! checks the emulator id on restore, and the Python verifier only checks
//! options bits 2-15. Both refuse unknown optional records, as this reader
//! does (the spec reserves the range for optional records, but no reader
//! takes them).
//!
//! In Xen's COLO layout a CHECKPOINT_STATE follows each CHECKPOINT_END
//! (libxc's `handle_checkpoint` asks libxl for it before the next
//! segment); the reader recognises it there by its header (type 5 with a
//! body shorter than 8 octets, which no libxc record at the start of a
//! segment has) and hands the stream to the libxc layer after it.
//!
//! ```
//! use format_spec::binrw::Endian;
//! use format_spec::outer::{FormatChoice, LibxcStop, Mode, OuterEvent, OuterReader, OuterWriter};
//! use format_spec::xl::XlPreamble;
//!
//! // A save file whose "libxc stream" is left empty for the example.
//! let mut w = OuterWriter::xl(Vec::new(), &XlPreamble::with_json_config(Endian::Little, "{}")).unwrap();
//! w.libxc_context().unwrap();
//! let file = w.finish().unwrap();
//!
//! let mut r = OuterReader::open(&file[..], FormatChoice::Auto, Mode::Strict).unwrap();
//! assert_eq!(r.xl_preamble().unwrap().json_config(), Some("{}"));
//! let Some(OuterEvent::Libxc(h)) = r.next().unwrap() else { panic!() };
//! assert_eq!(h.offset, r.offset());
//! // ... a real caller reads the libxc stream from r.inner() here ...
//! r.libxc_finished(LibxcStop::End).unwrap();
//! assert!(matches!(r.next().unwrap(), Some(OuterEvent::End(_))));
//! assert!(r.next().unwrap().is_none());
//! ```

use std::fmt;
use std::io::{self, Read, Seek, SeekFrom, Write};

use crate::drive::{now, read_full, Input};

use binrw::Endian;

use crate::body::{read_wire, write_wire, BodyError};
use crate::layout::{
    field_of, first_broken, Constraint, FieldLayout, StructLayout, Violation, Wire,
};
use crate::libxc::IHDR_MARKER;
use crate::libxl::{
    CheckpointState, CheckpointStateId, EmulatorContext, EmulatorHeader, EmulatorId,
    EmulatorXenstoreData, LibxlHeader, LibxlRecord, LibxlRecordHeader, XenstoreError, XenstoreScan,
    REC_LENGTH_MAX, REC_TYPE_OPTIONAL,
};
use crate::xl::{
    migration_messages, ConfigRequirement, MigrationMessage, XlConfigError, XlHeader, XlPreamble,
    MIGRATION_TRAILER_MAX, XL_CONFIG_FRAMING, XL_FLAG_RULES, XL_HEADER_OFFSET, XL_HEADER_SIZE,
    XL_MAGIC,
};

/// The octets format detection reads ([`FormatChoice::detect`]), which is
/// also the most the look-ahead of a [`Source`] holds: as many as the
/// libxc image header's marker and the libxl header's ident each have. An
/// xl file is told by as many octets of its magic.
pub const DETECT_SIZE: usize = LIBXC_MARKER_BYTES.len();

const _: () = assert!(LIBXL_IDENT_BYTES.len() == DETECT_SIZE && XL_MAGIC.len() >= DETECT_SIZE);

/// The first octets of a stream, as format detection reads them.
pub type Signature = [u8; DETECT_SIZE];

/// The first octets of a libxl stream ("LibxlFmt").
const LIBXL_IDENT_BYTES: [u8; 8] = crate::libxl::HDR_IDENT.to_be_bytes();

/// The libxl ident as the text it spells.
fn ident_text() -> String {
    String::from_utf8_lossy(&LIBXL_IDENT_BYTES).into_owned()
}

/// The first octets of a libxc stream (the all-ones marker).
const LIBXC_MARKER_BYTES: [u8; 8] = IHDR_MARKER.to_be_bytes();

/// Which layer a stream starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// An xl save file: xl header, libxl stream, libxc stream.
    Xl,
    /// A bare libxl stream ("LibxlFmt"), wrapping a libxc stream.
    Libxl,
    /// A bare libxc stream (all-ones marker, "XENF").
    Libxc,
}

impl Format {
    /// The name used on command lines (`xl`, `libxl`, `libxc`).
    pub fn name(self) -> &'static str {
        match self {
            Format::Xl => "xl",
            Format::Libxl => "libxl",
            Format::Libxc => "libxc",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the caller says the stream is: `--format auto|xl|libxl|libxc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FormatChoice {
    /// Detect the format from the first [`DETECT_SIZE`] octets.
    #[default]
    Auto,
    /// Expect this format (and report its header as wrong otherwise).
    Exactly(Format),
}

impl std::str::FromStr for FormatChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(FormatChoice::Auto),
            "xl" => Ok(FormatChoice::Exactly(Format::Xl)),
            "libxl" => Ok(FormatChoice::Exactly(Format::Libxl)),
            "libxc" => Ok(FormatChoice::Exactly(Format::Libxc)),
            _ => Err(format!(
                "unknown stream format `{s}`: expected auto, xl, libxl or libxc"
            )),
        }
    }
}

impl fmt::Display for FormatChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormatChoice::Auto => f.write_str("auto"),
            FormatChoice::Exactly(format) => format.fmt(f),
        }
    }
}

impl FormatChoice {
    /// Detects the format from the first [`DETECT_SIZE`] octets of a
    /// stream.
    pub fn detect(first: &Signature) -> Option<Format> {
        if first[..] == XL_MAGIC[..DETECT_SIZE] {
            Some(Format::Xl)
        } else if *first == LIBXL_IDENT_BYTES {
            Some(Format::Libxl)
        } else if *first == LIBXC_MARKER_BYTES {
            Some(Format::Libxc)
        } else {
            None
        }
    }
}

/// How much the reader checks: the crate's one [`Mode`],
/// re-exported here. [`Mode::Strict`] is what a verifier checks,
/// [`Mode::Lenient`] (the default) what a restore checks.
pub use crate::stream::Mode;

/// A reader that counts the octets read through it and can hand back a
/// few octets already read (format detection reads ahead
/// [`DETECT_SIZE`]).
#[derive(Debug)]
pub struct Source<R> {
    inner: R,
    look: Lookahead,
}

/// The offset count and look-ahead of a source, whatever it reads from.
#[derive(Debug, Default)]
pub(crate) struct Lookahead {
    offset: u64,
    pending: Signature,
    pending_pos: usize,
    pending_len: usize,
}

impl Lookahead {
    /// Octets consumed so far.
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// Octets pushed back and not read again yet.
    fn ahead(&self) -> usize {
        self.pending_len - self.pending_pos
    }

    /// Hands out pushed-back octets into `buf`, if any: how many.
    pub(crate) fn take(&mut self, buf: &mut [u8]) -> Option<usize> {
        if self.pending_pos >= self.pending_len {
            return None;
        }
        let avail = &self.pending[self.pending_pos..self.pending_len];
        let n = avail.len().min(buf.len());
        buf[..n].copy_from_slice(&avail[..n]);
        self.pending_pos += n;
        self.offset += n as u64;
        Some(n)
    }

    /// Counts `n` octets read from the input itself.
    pub(crate) fn count(&mut self, n: usize) {
        self.offset += n as u64;
    }

    /// Pushes back octets just read (at most [`DETECT_SIZE`], none
    /// pending).
    pub(crate) fn unread(&mut self, octets: &[u8]) {
        debug_assert!(self.pending_pos == self.pending_len && octets.len() <= DETECT_SIZE);
        let n = octets.len().min(DETECT_SIZE);
        self.pending[..n].copy_from_slice(&octets[..n]);
        self.pending_pos = 0;
        self.pending_len = n;
        self.offset -= n as u64;
    }
}

/// What the outer layers read from: an input that counts the octets read
/// through it and can take back a few ([`Source`], and its async twin).
pub(crate) trait SourceIo: Input {
    /// Octets consumed so far.
    fn offset(&self) -> u64;
    /// Pushes back octets just read (at most [`DETECT_SIZE`]).
    fn unread(&mut self, octets: &[u8]);
}

impl<R> Source<R> {
    /// Wraps a reader positioned at the start of a stream.
    pub fn new(inner: R) -> Self {
        Source {
            inner,
            look: Lookahead::default(),
        }
    }

    /// Octets consumed so far: the offset of the next octet in the stream.
    pub fn offset(&self) -> u64 {
        self.look.offset()
    }

    /// The wrapped reader (which may be ahead of [`offset`](Self::offset)
    /// by up to [`DETECT_SIZE`] octets of look-ahead).
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// Unwraps the reader, dropping any look-ahead.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read> Read for Source<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(n) = self.look.take(buf) {
            return Ok(n);
        }
        let n = self.inner.read(buf)?;
        self.look.count(n);
        Ok(n)
    }
}

impl<R: Read> Input for Source<R> {
    async fn fill(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        read_full(self, dst)
    }

    async fn skip(&mut self, n: u64, scratch: &mut Vec<u8>) -> io::Result<u64> {
        let mut done = 0u64;
        while done < n {
            let want = crate::drive::scratch_chunk(scratch, n, done);
            let got = read_full(self, &mut scratch[..want])?;
            done += got as u64;
            if got < want {
                break;
            }
        }
        Ok(done)
    }
}

impl<R: Read> SourceIo for Source<R> {
    fn offset(&self) -> u64 {
        self.look.offset()
    }

    fn unread(&mut self, octets: &[u8]) {
        self.look.unread(octets);
    }
}

/// Seeking keeps [`Source::offset`] meaningful: positions are stream
/// offsets (`SeekFrom::Start(0)` is the first octet the source read), and
/// the look-ahead is accounted for.
/// Octets passed by the input count as read; pushed-back octets cannot
/// be passed (they are only ever the first few of the input).
impl<R: crate::drive::Pass> crate::drive::Pass for Source<R> {
    fn pass(&mut self, n: u64) -> Option<crate::drive::Passed> {
        if self.look.ahead() > 0 {
            return None;
        }
        let passed = self.inner.pass(n)?;
        self.look.offset += passed.moved;
        Some(passed)
    }
}

impl<R: Read + Seek> Seek for Source<R> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let ahead = self.look.ahead() as i64;
        let target = match pos {
            SeekFrom::Current(d) => self.look.offset as i128 + d as i128,
            SeekFrom::Start(s) => s as i128,
            SeekFrom::End(d) => {
                let here = self.inner.stream_position()? as i128;
                let end = self.inner.seek(SeekFrom::End(d))? as i128;
                self.inner.seek(SeekFrom::Start(here as u64))?;
                self.look.offset as i128 + (end - (here - ahead as i128))
            }
        };
        if target < 0 || target > u64::MAX as i128 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the stream",
            ));
        }
        let delta = target - self.look.offset as i128 - ahead as i128;
        if delta != 0 || ahead != 0 {
            self.inner.seek(SeekFrom::Current(delta as i64))?;
        }
        self.look.pending_pos = self.look.pending_len;
        self.look.offset = target as u64;
        Ok(self.look.offset)
    }
}

/// Why a save file could not be read. Every variant names where: the
/// absolute `offset` in the input of the offending octets and, for
/// records, the libxl record `index` (0 for the first record after the
/// libxl header).
#[derive(Debug, thiserror::Error)]
pub enum OuterError {
    /// Reading the input failed.
    #[error("I/O error at offset {offset}: {source}")]
    Io {
        /// Where the read started.
        offset: u64,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// The input ends too early.
    #[error("stream truncated: the input ends at offset {offset}, inside {what}")]
    Truncated {
        /// Where the input ends.
        offset: u64,
        /// What was being read.
        what: &'static str,
    },
    /// Format detection found no known magic.
    #[error("unknown stream format at offset 0: the first octets {found:02x?} are neither an xl header, \"{}\" nor a libxc marker", ident_text())]
    UnknownFormat {
        /// The first octets.
        found: Signature,
    },
    /// The 32 octets at the start are not the xl magic.
    #[error(
        "bad xl magic at offset {offset}: {:?}",
        String::from_utf8_lossy(found)
    )]
    BadXlMagic {
        /// Offset of the magic.
        offset: u64,
        /// What is there instead.
        found: [u8; 32],
    },
    /// The xl `byteorder` field is not 0x01020304 in either byte order.
    #[error("bad xl byte-order marker {found:02x?} at offset {offset}: expected 0x{:08x} in either byte order", crate::xl::XL_BYTEORDER_MARKER)]
    BadByteOrderMarker {
        /// Offset of the field.
        offset: u64,
        /// Its octets.
        found: [u8; 4],
    },
    /// The xl header has mandatory flags this reader does not understand.
    #[error("xl mandatory_flags at offset {offset} has unknown bits 0x{flags:x}; a newer reader is needed")]
    UnknownMandatoryFlags {
        /// Offset of the field.
        offset: u64,
        /// The unknown bits.
        flags: u32,
    },
    /// The xl header has optional flags set, none being defined (strict).
    #[error("xl optional_flags at offset {offset} has unknown bits 0x{flags:x}")]
    UnknownOptionalFlags {
        /// Offset of the field.
        offset: u64,
        /// The bits.
        flags: u32,
    },
    /// The xl optional data is longer than this reader accepts.
    #[error(
        "xl optional_data_len at offset {offset} is {len}, more than the {max} octets accepted"
    )]
    OptionalDataTooLong {
        /// Offset of the field.
        offset: u64,
        /// The field's value.
        len: u32,
        /// The bound of the field's `at_most` rule,
        /// [`XL_OPTIONAL_DATA_MAX`](crate::xl::XL_OPTIONAL_DATA_MAX).
        max: u32,
    },
    /// The configuration in the xl optional data is malformed.
    #[error("xl optional data at offset {offset}: {source}")]
    BadConfig {
        /// Offset of the optional data.
        offset: u64,
        /// What is wrong.
        #[source]
        source: XlConfigError,
    },
    /// The JSON flag is set but there is no configuration (strict).
    #[error("xl mandatory_flags at offset {offset} says the configuration is JSON, but the file holds none")]
    MissingConfig {
        /// Offset of the flags field.
        offset: u64,
    },
    /// The JSON configuration does not end with a NUL (strict).
    #[error("xl JSON configuration at offset {offset} is not NUL-terminated")]
    ConfigNotTerminated {
        /// Offset of the configuration.
        offset: u64,
    },
    /// The xl header announces a legacy (pre Xen 4.6) stream, which this
    /// reader does not read.
    #[error("the xl header lacks the stream-v2 flag and no libxc v2 stream follows at offset {offset} (found {found:02x?}): a legacy stream")]
    LegacyStream {
        /// Where the stream after the xl header starts.
        offset: u64,
        /// Its first octets.
        found: Signature,
    },
    /// The libxl header ident is not "LibxlFmt".
    #[error(
        "bad libxl ident 0x{found:016x} at offset {offset}: expected \"{}\"",
        ident_text()
    )]
    BadIdent {
        /// Offset of the field.
        offset: u64,
        /// The field's value.
        found: u64,
    },
    /// The libxl header version is not 2.
    #[error("unsupported libxl stream version {version} at offset {offset}")]
    UnsupportedVersion {
        /// Offset of the field.
        offset: u64,
        /// The version.
        version: u32,
    },
    /// Reserved bits are set (strict).
    #[error("reserved bits 0x{value:x} set in {field} at offset {offset}")]
    ReservedNonZero {
        /// Offset of the field.
        offset: u64,
        /// The field.
        field: &'static str,
        /// The reserved bits that are set.
        value: u64,
    },
    /// A record type this reader does not know, with bit 31 clear.
    #[error("libxl record {index} at offset {offset}: unknown mandatory record type 0x{code:08x}")]
    UnknownMandatory {
        /// Record index.
        index: u64,
        /// Offset of the record header.
        offset: u64,
        /// The type.
        code: u32,
    },
    /// A record type this reader does not know, with bit 31 (optional)
    /// set: libxl's reader refuses it all the same.
    #[error("libxl record {index} at offset {offset}: unknown optional record type 0x{code:08x}: libxl's reader refuses every record type it does not know, the optional ones too (process_record in libxl_stream_read.c)")]
    UnknownOptional {
        /// Record index.
        index: u64,
        /// Offset of the record header.
        offset: u64,
        /// The type.
        code: u32,
    },
    /// An emulator record in the stream of a guest without emulators (a
    /// PV guest, or a PVH one as the xl configuration says), which libxl's
    /// restore refuses.
    #[error("libxl record {index} at offset {offset}: {record} in the stream of {guest}: libxl's restore takes emulator records only for an HVM guest (process_record in libxl_stream_read.c)")]
    WrongGuestType {
        /// Record index.
        index: u64,
        /// Offset of the record header.
        offset: u64,
        /// The record's spec name.
        record: &'static str,
        /// The guest, and how it is known ("an x86 PV guest", "a PVH
        /// guest (the xl configuration's c_info.type)").
        guest: &'static str,
    },
    /// A record body longer than [`REC_LENGTH_MAX`].
    #[error("libxl record {index} at offset {offset} (type 0x{code:08x}): length {length} exceeds the maximum {max}")]
    RecordTooLong {
        /// Record index.
        index: u64,
        /// Offset of the record header.
        offset: u64,
        /// The type.
        code: u32,
        /// The length field.
        length: u32,
        /// The limit.
        max: u32,
    },
    /// A record on which Xen's restore crashes: a CHECKPOINT_STATE with
    /// no body, whose missing body libxl's `process_record` reads the id
    /// from (a null pointer).
    #[error(
        "libxl record {index} at offset {offset} ({record}): {what}{}{crash}",
        crate::stream::XEN_RESTORE_WOULD
    )]
    CrashesXenRestore {
        /// Record index.
        index: u64,
        /// Offset of the record header.
        offset: u64,
        /// The record's spec name.
        record: &'static str,
        /// What the stream holds.
        what: &'static str,
        /// What Xen's restore would do.
        crash: &'static str,
    },
    /// A record body breaks its length rule.
    #[error("libxl record {index} at offset {offset} ({record}): {source}")]
    BadLength {
        /// Record index.
        index: u64,
        /// Offset of the record header.
        offset: u64,
        /// The record's spec name.
        record: &'static str,
        /// What is wrong.
        #[source]
        source: BodyError,
    },
    /// A padding octet is not zero (strict).
    #[error("libxl record {index}: non-zero padding octet at offset {offset}")]
    PaddingNonZero {
        /// Record index.
        index: u64,
        /// Offset of the first non-zero padding octet.
        offset: u64,
    },
    /// An emulator record names an unknown emulator (strict).
    #[error("libxl record {index}: unknown emulator id 0x{id:x} at offset {offset}")]
    UnknownEmulator {
        /// Record index.
        index: u64,
        /// Offset of the emulator id.
        offset: u64,
        /// The id.
        id: u32,
    },
    /// A field outside its allowed values (strict), such as an unknown
    /// checkpoint state.
    #[error("libxl record {index} at offset {offset}: {violation}")]
    BadValue {
        /// Record index.
        index: u64,
        /// Offset of the field.
        offset: u64,
        /// The broken constraint.
        violation: Violation,
    },
    /// EMULATOR_XENSTORE_DATA holds malformed key/value data.
    #[error("libxl record {index}: {source} (offset {offset})")]
    Xenstore {
        /// Record index.
        index: u64,
        /// Absolute offset of the offending string.
        offset: u64,
        /// What is wrong.
        #[source]
        source: XenstoreError,
    },
    /// A record where the stream's structure does not allow it.
    #[error("libxl record {index} at offset {offset}: unexpected {record}: {why}")]
    UnexpectedRecord {
        /// Record index.
        index: u64,
        /// Offset of the record header.
        offset: u64,
        /// The record's spec name.
        record: &'static str,
        /// Why it is not allowed there.
        why: &'static str,
    },
    /// Octets follow the final END record (strict).
    #[error("data after the end of the stream at offset {offset}")]
    TrailingData {
        /// Offset of the first extra octet.
        offset: u64,
    },
    /// [`OuterReader::next`] was called while the libxc layer has the
    /// stream; call [`OuterReader::libxc_finished`] first.
    #[error(
        "at offset {offset} the libxc stream has not been read yet (call libxc_finished first)"
    )]
    LibxcPending {
        /// Current offset.
        offset: u64,
    },
    /// [`OuterReader::libxc_finished`] was called while the libxc layer
    /// does not have the stream.
    #[error("at offset {offset} the libxc layer does not have the stream")]
    NotInLibxc {
        /// Current offset.
        offset: u64,
    },
    /// [`OuterReader::next`] was called again after it returned a stream
    /// error; the reader does not guess where the next record starts.
    #[error("the stream already failed at offset {offset}; nothing more is read")]
    AfterError {
        /// Where the first error was reported.
        offset: u64,
    },
}

kind_names! {
    /// The kind of an [`OuterError`], without its details: the KIND
    /// strings of the libxl and xl layers.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub enum OuterErrorKind {
        /// See [`OuterError::Io`].
        Io,
        /// See [`OuterError::Truncated`].
        Truncated,
        /// See [`OuterError::UnknownFormat`].
        UnknownFormat,
        /// See [`OuterError::BadXlMagic`].
        BadXlMagic,
        /// See [`OuterError::BadByteOrderMarker`].
        BadByteOrderMarker,
        /// See [`OuterError::UnknownMandatoryFlags`].
        UnknownMandatoryFlags,
        /// See [`OuterError::UnknownOptionalFlags`].
        UnknownOptionalFlags,
        /// See [`OuterError::OptionalDataTooLong`].
        OptionalDataTooLong,
        /// See [`OuterError::BadConfig`].
        BadConfig,
        /// See [`OuterError::MissingConfig`].
        MissingConfig,
        /// See [`OuterError::ConfigNotTerminated`].
        ConfigNotTerminated,
        /// See [`OuterError::LegacyStream`].
        LegacyStream,
        /// See [`OuterError::BadIdent`].
        BadIdent,
        /// See [`OuterError::UnsupportedVersion`].
        UnsupportedVersion,
        /// See [`OuterError::ReservedNonZero`].
        ReservedNonZero,
        /// See [`OuterError::UnknownMandatory`].
        UnknownMandatory,
        /// See [`OuterError::UnknownOptional`].
        UnknownOptional,
        /// See [`OuterError::WrongGuestType`].
        WrongGuestType,
        /// See [`OuterError::RecordTooLong`].
        RecordTooLong,
        /// See [`OuterError::BadLength`].
        BadLength,
        /// See [`OuterError::CrashesXenRestore`].
        CrashesXenRestore,
        /// See [`OuterError::PaddingNonZero`].
        PaddingNonZero,
        /// See [`OuterError::UnknownEmulator`].
        UnknownEmulator,
        /// See [`OuterError::BadValue`].
        BadValue,
        /// See [`OuterError::Xenstore`].
        Xenstore,
        /// See [`OuterError::UnexpectedRecord`].
        UnexpectedRecord,
        /// See [`OuterError::TrailingData`].
        TrailingData,
        /// See [`OuterError::LibxcPending`].
        LibxcPending,
        /// See [`OuterError::NotInLibxc`].
        NotInLibxc,
        /// See [`OuterError::AfterError`].
        AfterError,
    }
}

impl OuterError {
    /// A stable name for the kind of error (the variant name), shared with
    /// the test vectors and the other verifiers: [`OuterError::error_kind`]'s
    /// name.
    pub fn kind(&self) -> &'static str {
        self.error_kind().as_str()
    }

    /// The kind of error, without its details.
    pub fn error_kind(&self) -> OuterErrorKind {
        match self {
            OuterError::Io { .. } => OuterErrorKind::Io,
            OuterError::Truncated { .. } => OuterErrorKind::Truncated,
            OuterError::UnknownFormat { .. } => OuterErrorKind::UnknownFormat,
            OuterError::BadXlMagic { .. } => OuterErrorKind::BadXlMagic,
            OuterError::BadByteOrderMarker { .. } => OuterErrorKind::BadByteOrderMarker,
            OuterError::UnknownMandatoryFlags { .. } => OuterErrorKind::UnknownMandatoryFlags,
            OuterError::UnknownOptionalFlags { .. } => OuterErrorKind::UnknownOptionalFlags,
            OuterError::OptionalDataTooLong { .. } => OuterErrorKind::OptionalDataTooLong,
            OuterError::BadConfig { .. } => OuterErrorKind::BadConfig,
            OuterError::MissingConfig { .. } => OuterErrorKind::MissingConfig,
            OuterError::ConfigNotTerminated { .. } => OuterErrorKind::ConfigNotTerminated,
            OuterError::LegacyStream { .. } => OuterErrorKind::LegacyStream,
            OuterError::BadIdent { .. } => OuterErrorKind::BadIdent,
            OuterError::UnsupportedVersion { .. } => OuterErrorKind::UnsupportedVersion,
            OuterError::ReservedNonZero { .. } => OuterErrorKind::ReservedNonZero,
            OuterError::UnknownMandatory { .. } => OuterErrorKind::UnknownMandatory,
            OuterError::UnknownOptional { .. } => OuterErrorKind::UnknownOptional,
            OuterError::WrongGuestType { .. } => OuterErrorKind::WrongGuestType,
            OuterError::RecordTooLong { .. } => OuterErrorKind::RecordTooLong,
            OuterError::BadLength { .. } => OuterErrorKind::BadLength,
            OuterError::CrashesXenRestore { .. } => OuterErrorKind::CrashesXenRestore,
            OuterError::PaddingNonZero { .. } => OuterErrorKind::PaddingNonZero,
            OuterError::UnknownEmulator { .. } => OuterErrorKind::UnknownEmulator,
            OuterError::BadValue { .. } => OuterErrorKind::BadValue,
            OuterError::Xenstore { .. } => OuterErrorKind::Xenstore,
            OuterError::UnexpectedRecord { .. } => OuterErrorKind::UnexpectedRecord,
            OuterError::TrailingData { .. } => OuterErrorKind::TrailingData,
            OuterError::LibxcPending { .. } => OuterErrorKind::LibxcPending,
            OuterError::NotInLibxc { .. } => OuterErrorKind::NotInLibxc,
            OuterError::AfterError { .. } => OuterErrorKind::AfterError,
        }
    }

    /// The absolute offset the error points at.
    pub fn offset(&self) -> u64 {
        match self {
            OuterError::UnknownFormat { .. } => 0,
            OuterError::Io { offset, .. }
            | OuterError::Truncated { offset, .. }
            | OuterError::BadXlMagic { offset, .. }
            | OuterError::BadByteOrderMarker { offset, .. }
            | OuterError::UnknownMandatoryFlags { offset, .. }
            | OuterError::UnknownOptionalFlags { offset, .. }
            | OuterError::OptionalDataTooLong { offset, .. }
            | OuterError::BadConfig { offset, .. }
            | OuterError::MissingConfig { offset }
            | OuterError::ConfigNotTerminated { offset }
            | OuterError::LegacyStream { offset, .. }
            | OuterError::BadIdent { offset, .. }
            | OuterError::UnsupportedVersion { offset, .. }
            | OuterError::ReservedNonZero { offset, .. }
            | OuterError::UnknownMandatory { offset, .. }
            | OuterError::UnknownOptional { offset, .. }
            | OuterError::WrongGuestType { offset, .. }
            | OuterError::RecordTooLong { offset, .. }
            | OuterError::BadLength { offset, .. }
            | OuterError::CrashesXenRestore { offset, .. }
            | OuterError::PaddingNonZero { offset, .. }
            | OuterError::UnknownEmulator { offset, .. }
            | OuterError::BadValue { offset, .. }
            | OuterError::Xenstore { offset, .. }
            | OuterError::UnexpectedRecord { offset, .. }
            | OuterError::TrailingData { offset }
            | OuterError::LibxcPending { offset }
            | OuterError::NotInLibxc { offset }
            | OuterError::AfterError { offset } => *offset,
        }
    }
}

impl OuterError {
    /// The index of the libxl record the error concerns (0 for the first
    /// record after the libxl header), for the errors found inside a
    /// record.
    pub fn index(&self) -> Option<u64> {
        match self {
            OuterError::UnknownMandatory { index, .. }
            | OuterError::UnknownOptional { index, .. }
            | OuterError::WrongGuestType { index, .. }
            | OuterError::RecordTooLong { index, .. }
            | OuterError::BadLength { index, .. }
            | OuterError::PaddingNonZero { index, .. }
            | OuterError::UnknownEmulator { index, .. }
            | OuterError::BadValue { index, .. }
            | OuterError::Xenstore { index, .. }
            | OuterError::UnexpectedRecord { index, .. } => Some(*index),
            _ => None,
        }
    }

    /// The field the error concerns, for the header fields and the checked
    /// record fields (`BadIdent`: `ident`).
    pub fn field(&self) -> Option<&'static str> {
        match self {
            OuterError::BadXlMagic { .. } => Some("magic"),
            OuterError::BadByteOrderMarker { .. } => Some("byteorder"),
            OuterError::UnknownMandatoryFlags { .. } | OuterError::MissingConfig { .. } => {
                Some("mandatory_flags")
            }
            OuterError::UnknownOptionalFlags { .. } => Some("optional_flags"),
            OuterError::OptionalDataTooLong { .. } => Some("optional_data_len"),
            OuterError::BadIdent { .. } => Some("ident"),
            OuterError::UnsupportedVersion { .. } => Some("version"),
            OuterError::ReservedNonZero { field, .. } => Some(field),
            OuterError::UnknownEmulator { .. } => Some("id"),
            OuterError::BadValue { violation, .. } => Some(violation.field),
            OuterError::RecordTooLong { .. } | OuterError::BadLength { .. } => Some("length"),
            _ => None,
        }
    }
}

/// A libxl record as read, with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OuterRecord {
    /// Index among the libxl records (0 for the first after the header).
    pub index: u64,
    /// Absolute offset of the record header.
    pub offset: u64,
    /// The body length field.
    pub length: u32,
    /// The decoded record.
    pub record: LibxlRecord,
}

/// The stream is handed to the libxc layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handover {
    /// Absolute offset where the libxc octets start (or resume).
    pub offset: u64,
    /// `false` when the libxc stream starts (its image header comes
    /// next); `true` when it resumes after a checkpoint.
    pub resume: bool,
    /// The libxl record that handed over (LIBXC_CONTEXT or
    /// CHECKPOINT_END, or the CHECKPOINT_STATE after it in Xen's COLO
    /// layout); `None` in a bare libxc stream.
    pub record: Option<OuterRecord>,
}

/// An optional libxl record this reader does not know, skipped. The
/// reader no longer skips any (libxl's reader refuses them, and so does
/// this one: [`OuterError::UnknownOptional`]); kept for the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SkippedRecord {
    /// Record index.
    pub index: u64,
    /// Absolute offset of the record header.
    pub offset: u64,
    /// The type (bit 31 set).
    pub code: u32,
    /// The body length.
    pub length: u32,
}

/// What [`OuterReader::next`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OuterEvent {
    /// A libxl record after which the libxl layer keeps the stream
    /// (emulator records, CHECKPOINT_STATE).
    Record(OuterRecord),
    /// An unknown optional libxl record, skipped (no longer produced:
    /// see [`SkippedRecord`]).
    Skipped(SkippedRecord),
    /// The libxc layer has the stream now: read it from
    /// [`OuterReader::inner`], then call [`OuterReader::libxc_finished`].
    Libxc(Handover),
    /// The end: the libxl END record, or `None` after a bare libxc stream.
    /// [`OuterReader::next`] returns `Ok(None)` from then on.
    End(Option<OuterRecord>),
}

/// Where the libxc stream stopped, as the caller reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LibxcStop {
    /// After the libxc END record.
    End,
    /// After a libxc CHECKPOINT record (checkpointed streams).
    Checkpoint,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading libxl records outside a checkpoint.
    Libxl,
    /// Reading libxl records between a libxc CHECKPOINT and CHECKPOINT_END.
    Checkpoint,
    /// After a CHECKPOINT_END that a CHECKPOINT_STATE follows (Xen's COLO
    /// layout): that record comes next, then the libxc stream resumes.
    ColoControl,
    /// The libxc layer has the stream; `announced` once the handover was
    /// returned by `next`.
    Libxc { resume: bool, announced: bool },
    /// A bare libxc stream ended; `next` returns `End(None)`.
    BareEnd,
    /// A stream error was returned at this offset; nothing more is read.
    Failed(u64),
    /// Nothing more.
    Done,
}

/// Forward-only reader of the outer layers of a save file.
#[derive(Debug)]
pub struct OuterReader<R> {
    core: OuterCore<Source<R>>,
}

/// The outer layers' framing and rules, with the input `S` it reads from
/// (see [`crate::drive`]): driven by [`OuterReader`] and by the async
/// readers of [`crate::asynchronous`].
#[derive(Debug)]
pub(crate) struct OuterCore<S> {
    pub(crate) src: S,
    mode: Mode,
    format: Format,
    xl: Option<XlPreamble>,
    libxl: Option<LibxlHeader>,
    endian: Endian,
    state: State,
    next_index: u64,
    libxc_seen: bool,
    /// CHECKPOINT_END records read: the stream is checkpointed.
    checkpoint_ends: u64,
    /// The libxc stream has ended (its END was reported).
    libxc_ended: bool,
    trailer: Option<MigrationTrailer>,
}

/// xl's migration messages found after the end of a stream (strict mode
/// reads to the end of the input; see [`crate::xl::MigrationMessage`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationTrailer {
    /// Absolute offset of the first message.
    pub offset: u64,
    /// The messages, in order.
    pub messages: Vec<MigrationMessage>,
    /// The octets (the messages' wire form).
    pub octets: Vec<u8>,
}

/// What an input that ends inside the libxl records of a checkpoint (after
/// a libxc CHECKPOINT, before its CHECKPOINT_END) ends inside. It is
/// `Truncated` in both modes: libxl's reader does not fail over there. Its
/// datacopier (`libxl_aoutils.c`) reports the end of the input as a
/// completed read, so the octets missing from a record header read as
/// zeros, a record of type 0 (END) and length 0; in the buffering phase of
/// a checkpoint `stream_continue` (`libxl_stream_read.c`) queues it and
/// reads the next header, and so on without end: the restore hangs
/// instead of failing over (`checkpoint_done` fails over only on a read
/// error). An input that ends right after CHECKPOINT_END is a checkpoint
/// boundary, where libxc's own reader fails over.
pub const CUT_IN_CHECKPOINT: &str = "the libxl records of a checkpoint (Xen's restore does not fail over here: libxl's reader takes the end of its input for zero octets, a record header of type END, and in the buffering phase of a checkpoint (stream_continue in libxl_stream_read.c) queues it and reads on without end)";

/// Why an `UnexpectedRecord` CHECKPOINT_STATE is refused: it is not right
/// after a CHECKPOINT_END of a COLO stream. The generated Python verifier
/// (`libxl.py`) says the same; so for the other structure messages below.
pub const STATE_OUTSIDE_COLO: &str = "libxl reads CHECKPOINT_STATE only right after a CHECKPOINT_END of a COLO stream (libxl__stream_read_checkpoint_state) and refuses it elsewhere";

/// Why an `UnexpectedRecord` CHECKPOINT_END is refused.
pub const NOT_IN_CHECKPOINT: &str = "not inside a checkpoint";

/// Why an `UnexpectedRecord` LIBXC_CONTEXT is refused: it is the second.
pub const LIBXC_READ: &str = "the libxc stream was already read";

/// Why an `UnexpectedRecord` END is refused inside a checkpoint.
pub const END_IN_CHECKPOINT: &str = "a checkpoint is open (CHECKPOINT_END missing)";

/// Why an `UnexpectedRecord` END is refused in strict mode when no
/// LIBXC_CONTEXT came before it.
pub const END_WITHOUT_LIBXC: &str =
    "no LIBXC_CONTEXT came before it: the stream holds no guest to restore";

/// What a `CrashesXenRestore` CHECKPOINT_STATE with an empty body is (its
/// `what`), and what Xen's restore would do with it (its `crash`).
pub const EMPTY_STATE: (&str, &str) = (
    "CHECKPOINT_STATE with an empty body",
    "crash: libxl reads its id through a null body pointer (process_record in libxl_stream_read.c)",
);

/// Octets of a body over [`REC_LENGTH_MAX`] that the reader keeps: the
/// parts it parses, the emulator header or the checkpoint state.
const PARSED_PREFIX: u32 = {
    let (a, b) = (
        EmulatorHeader::LAYOUT.size as u32,
        CheckpointState::LAYOUT.size as u32,
    );
    if a > b {
        a
    } else {
        b
    }
};

/// Offset of a field of a wire struct that starts at `base`.
fn field_at<T: Wire>(base: u64, name: &str) -> u64 {
    base + T::LAYOUT.field(name).map_or(0, |f| f.offset) as u64
}

/// The rules of a header's fields as their `#[wire]` annotations state
/// them (the rule, the KIND it reports, whether lenient mode checks it;
/// see [`FieldLayout::lenient`](crate::layout::FieldLayout::lenient)), in
/// field order: the first broken one that `mode` checks. `raw` holds the
/// header in byte order `endian`, from absolute offset `base`.
fn header_rules(
    layout: &'static StructLayout,
    raw: &[u8],
    endian: Endian,
    base: u64,
    mode: Mode,
) -> Result<(), OuterError> {
    match first_broken(layout, raw, endian, &|f, _| mode.checks(f.lenient)) {
        Some(b) => Err(header_error(b.field, raw, base + b.offset as u64, b.value)),
        None => Ok(()),
    }
}

/// The error of a broken header rule of field `f` (of the header `raw`),
/// by the KIND its annotation names (`#[wire(error = "BadIdent")]`);
/// `ReservedNonZero` for a reserved field that names none. `value` is the
/// offending value (the reserved bits set, for a reserved rule).
fn header_error(f: &'static FieldLayout, raw: &[u8], offset: u64, value: u64) -> OuterError {
    // The casts only narrow to the field's width, which the value came from.
    match f.error.and_then(OuterErrorKind::from_name) {
        Some(OuterErrorKind::BadIdent) => OuterError::BadIdent {
            offset,
            found: value,
        },
        Some(OuterErrorKind::UnsupportedVersion) => OuterError::UnsupportedVersion {
            offset,
            version: value as u32,
        },
        Some(OuterErrorKind::BadByteOrderMarker) => {
            let mut found = [0u8; 4];
            let octets = raw.get(f.offset..f.offset + f.size()).unwrap_or(&[]);
            for (d, s) in found.iter_mut().zip(octets) {
                *d = *s;
            }
            OuterError::BadByteOrderMarker { offset, found }
        }
        Some(OuterErrorKind::UnknownMandatoryFlags) => OuterError::UnknownMandatoryFlags {
            offset,
            flags: value as u32,
        },
        Some(OuterErrorKind::UnknownOptionalFlags) => OuterError::UnknownOptionalFlags {
            offset,
            flags: value as u32,
        },
        Some(OuterErrorKind::OptionalDataTooLong) => OuterError::OptionalDataTooLong {
            offset,
            len: value as u32,
            // The KIND goes with an `at_most` rule (the tests below check
            // it); the bound is that rule's.
            max: match f.constraint {
                Constraint::AtMost(max) => max as u32,
                _ => u32::MAX,
            },
        },
        _ => OuterError::ReservedNonZero {
            offset,
            field: f.name,
            value,
        },
    }
}

/// The error of a broken rule of the flag table (`XL_FLAG_RULES`) at
/// `offset`, by the KIND the rule names: one arm per kind and no default,
/// `None` for the kinds whose error holds more than an offset, which no
/// flag rule may name (checked at compile time below).
const fn flag_rule_error(kind: OuterErrorKind, offset: u64) -> Option<OuterError> {
    use OuterErrorKind as K;
    match kind {
        K::MissingConfig => Some(OuterError::MissingConfig { offset }),
        K::ConfigNotTerminated => Some(OuterError::ConfigNotTerminated { offset }),
        K::Io
        | K::Truncated
        | K::UnknownFormat
        | K::BadXlMagic
        | K::BadByteOrderMarker
        | K::UnknownMandatoryFlags
        | K::UnknownOptionalFlags
        | K::OptionalDataTooLong
        | K::BadConfig
        | K::LegacyStream
        | K::BadIdent
        | K::UnsupportedVersion
        | K::ReservedNonZero
        | K::UnknownMandatory
        | K::UnknownOptional
        | K::WrongGuestType
        | K::RecordTooLong
        | K::BadLength
        | K::CrashesXenRestore
        | K::PaddingNonZero
        | K::UnknownEmulator
        | K::BadValue
        | K::Xenstore
        | K::UnexpectedRecord
        | K::TrailingData
        | K::LibxcPending
        | K::NotInLibxc
        | K::AfterError => None,
    }
}

/// Every rule of the flag table names a KIND [`flag_rule_error`] makes an
/// error of, and the optional data's framing names the one `read_xl`
/// reports: a table naming another fails the build.
const _: () = {
    let mut i = 0;
    while i < XL_FLAG_RULES.len() {
        let e = flag_rule_error(XL_FLAG_RULES[i].kind, 0);
        let known = e.is_some();
        std::mem::forget(e);
        assert!(known, "a flag rule names a KIND read_xl cannot report");
        i += 1;
    }
    assert!(
        matches!(XL_CONFIG_FRAMING.kind, OuterErrorKind::BadConfig),
        "read_xl reports a broken framing of the optional data as BadConfig"
    );
};

impl<S: SourceIo> OuterCore<S> {
    /// See [`OuterReader::open`].
    pub(crate) async fn open(src: S, format: FormatChoice, mode: Mode) -> Result<Self, OuterError> {
        let mut r = OuterCore {
            src,
            mode,
            format: Format::Libxc,
            xl: None,
            libxl: None,
            endian: Endian::Little,
            state: State::Libxl,
            next_index: 0,
            libxc_seen: false,
            checkpoint_ends: 0,
            libxc_ended: false,
            trailer: None,
        };
        let format = match format {
            FormatChoice::Exactly(f) => f,
            FormatChoice::Auto => {
                let mut first: Signature = Default::default();
                r.fill(&mut first, "the first octets of the stream").await?;
                r.src.unread(&first);
                FormatChoice::detect(&first).ok_or(OuterError::UnknownFormat { found: first })?
            }
        };
        r.format = format;
        let mut libxl = true;
        if format == Format::Xl {
            let pre = r.read_xl().await?;
            if !pre.header.stream_v2() {
                // Without the v2 flag only a libxc v2 stream is readable
                // (Xen's verifier makes the same choice).
                let at = r.src.offset();
                let mut first: Signature = Default::default();
                r.fill(&mut first, "the stream after the xl header").await?;
                r.src.unread(&first);
                if first != LIBXC_MARKER_BYTES {
                    return Err(OuterError::LegacyStream {
                        offset: at,
                        found: first,
                    });
                }
                libxl = false;
            }
            r.xl = Some(pre);
        } else if format == Format::Libxc {
            libxl = false;
        }
        if libxl {
            r.read_libxl_header().await?;
        } else {
            r.state = State::Libxc {
                resume: false,
                announced: false,
            };
        }
        Ok(r)
    }

    /// See [`OuterReader::format`].
    pub(crate) fn format(&self) -> Format {
        self.format
    }

    /// See [`OuterReader::xl_preamble`].
    pub(crate) fn xl_preamble(&self) -> Option<&XlPreamble> {
        self.xl.as_ref()
    }

    /// See [`OuterReader::migration_trailer`].
    pub(crate) fn migration_trailer(&self) -> Option<&MigrationTrailer> {
        self.trailer.as_ref()
    }

    /// See [`OuterReader::libxl_header`].
    pub(crate) fn libxl_header(&self) -> Option<&LibxlHeader> {
        self.libxl.as_ref()
    }

    /// See [`OuterReader::endian`].
    pub(crate) fn endian(&self) -> Endian {
        self.endian
    }

    /// See [`OuterReader::mode`].
    pub(crate) fn mode(&self) -> Mode {
        self.mode
    }

    /// See [`OuterReader::offset`].
    pub(crate) fn offset(&self) -> u64 {
        self.src.offset()
    }

    /// Gives the input to the libxc layer, which starts (or, `resume`,
    /// goes on) here: the handover `next` returns, after `record` (none in
    /// a bare libxc stream).
    fn hand_over(&mut self, resume: bool, record: Option<OuterRecord>) -> OuterEvent {
        self.state = State::Libxc {
            resume,
            announced: true,
        };
        OuterEvent::Libxc(Handover {
            offset: self.offset(),
            resume,
            record,
        })
    }

    /// See [`OuterReader::in_libxc`].
    pub(crate) fn in_libxc(&self) -> bool {
        matches!(
            self.state,
            State::Libxc {
                announced: true,
                ..
            }
        )
    }

    /// See [`OuterReader::libxc_finished`].
    pub(crate) fn libxc_finished(&mut self, stop: LibxcStop) -> Result<(), OuterError> {
        if !self.in_libxc() {
            return Err(OuterError::NotInLibxc {
                offset: self.offset(),
            });
        }
        self.libxc_ended |= stop == LibxcStop::End;
        self.state = match (self.libxl.is_some(), stop) {
            (true, LibxcStop::End) => State::Libxl,
            (true, LibxcStop::Checkpoint) => State::Checkpoint,
            (false, LibxcStop::End) => State::BareEnd,
            (false, LibxcStop::Checkpoint) => State::Libxc {
                resume: true,
                announced: false,
            },
        };
        Ok(())
    }

    /// See [`OuterReader::next`].
    pub(crate) async fn next(&mut self) -> Result<Option<OuterEvent>, OuterError> {
        let result = self.step().await;
        if let Err(e) = &result {
            if !matches!(
                e,
                OuterError::LibxcPending { .. } | OuterError::AfterError { .. }
            ) {
                self.state = State::Failed(e.offset());
            }
        }
        result
    }

    async fn step(&mut self) -> Result<Option<OuterEvent>, OuterError> {
        match self.state {
            State::Done => Ok(None),
            State::Failed(offset) => Err(OuterError::AfterError { offset }),
            State::Libxc {
                announced: true, ..
            } => Err(OuterError::LibxcPending {
                offset: self.offset(),
            }),
            State::Libxc {
                resume,
                announced: false,
            } => Ok(Some(self.hand_over(resume, None))),
            State::BareEnd => {
                self.finish_stream().await?;
                Ok(Some(OuterEvent::End(None)))
            }
            State::Checkpoint => match self.read_record().await {
                // Both modes: Xen's restore does not fail over on an input
                // that ends here (see [`CUT_IN_CHECKPOINT`]).
                Err(OuterError::Truncated { offset, .. }) => Err(OuterError::Truncated {
                    offset,
                    what: CUT_IN_CHECKPOINT,
                }),
                other => other.map(Some),
            },
            State::Libxl | State::ColoControl => self.read_record().await.map(Some),
        }
    }

    /// Reads exactly `buf.len()` octets; `Truncated` names where the input
    /// ended.
    async fn fill(&mut self, buf: &mut [u8], what: &'static str) -> Result<(), OuterError> {
        match self.src.fill(buf).await {
            Ok(n) if n == buf.len() => {}
            Ok(_) => {
                return Err(OuterError::Truncated {
                    offset: self.src.offset(),
                    what,
                })
            }
            Err(e) => {
                return Err(OuterError::Io {
                    offset: self.src.offset(),
                    source: e,
                })
            }
        }
        Ok(())
    }

    /// Reads `len` octets into a vector that grows only as octets arrive,
    /// so a hostile length cannot force a large allocation up front.
    async fn read_vec(&mut self, len: usize, what: &'static str) -> Result<Vec<u8>, OuterError> {
        const STEP: usize = 64 << 10;
        let mut out = Vec::new();
        while out.len() < len {
            let chunk = (len - out.len()).min(STEP);
            let start = out.len();
            out.resize(start + chunk, 0);
            self.fill(&mut out[start..], what).await?;
        }
        Ok(out)
    }

    /// Skips `len` octets without keeping them.
    async fn skip(&mut self, len: u64, what: &'static str) -> Result<(), OuterError> {
        let mut buf = [0u8; 8192];
        let mut left = len;
        while left > 0 {
            let n = left.min(buf.len() as u64) as usize;
            self.fill(&mut buf[..n], what).await?;
            left -= n as u64;
        }
        Ok(())
    }

    /// Reads `len` octets of EMULATOR_XENSTORE_DATA key/value data through
    /// a [`XenstoreScan`], a piece at a time, so that memory stays bounded
    /// whatever the length. The restore's verdict on the data comes back
    /// once all of it was read (libxl reads the whole body before it
    /// looks at it); a read error or the end of the input is the outer
    /// error.
    async fn scan_xenstore(
        &mut self,
        len: u64,
    ) -> Result<Result<usize, XenstoreError>, OuterError> {
        let mut buf = [0u8; 8192];
        let mut scan = XenstoreScan::default();
        let mut broken = None;
        let mut left = len;
        while left > 0 {
            let n = left.min(buf.len() as u64) as usize;
            self.fill(&mut buf[..n], "the body of a libxl record")
                .await?;
            if broken.is_none() {
                broken = scan.feed(&buf[..n]).err();
            }
            left -= n as u64;
        }
        Ok(broken.map_or_else(|| scan.finish(), Err))
    }

    /// Reads the record padding and, in strict mode, checks it is zero.
    async fn padding(&mut self, index: u64, length: u32) -> Result<(), OuterError> {
        let pad = crate::libxc::padding_after(length) as usize;
        let at = self.offset();
        let mut buf = crate::libxc::ZERO_PADDING;
        self.fill(&mut buf[..pad], "the padding of a libxl record")
            .await?;
        if self.mode == Mode::Strict {
            if let Some(i) = buf[..pad].iter().position(|&b| b != 0) {
                return Err(OuterError::PaddingNonZero {
                    index,
                    offset: at + i as u64,
                });
            }
        }
        Ok(())
    }

    /// In strict mode, checks that nothing follows the end of the stream
    /// but xl's migration messages ([`OuterReader::migration_trailer`]).
    async fn finish_stream(&mut self) -> Result<(), OuterError> {
        self.state = State::Done;
        if self.mode == Mode::Strict {
            let at = self.offset();
            let mut tail = [0u8; MIGRATION_TRAILER_MAX + 1];
            let n = match self.src.fill(&mut tail).await {
                Ok(n) => n,
                Err(e) => {
                    return Err(OuterError::Io {
                        offset: self.src.offset(),
                        source: e,
                    })
                }
            };
            if n == 0 {
                return Ok(());
            }
            match migration_messages(&tail[..n]).filter(|_| n <= MIGRATION_TRAILER_MAX) {
                Some(messages) => {
                    self.trailer = Some(MigrationTrailer {
                        offset: at,
                        messages,
                        octets: tail[..n].to_vec(),
                    })
                }
                None => return Err(OuterError::TrailingData { offset: at }),
            }
        }
        Ok(())
    }

    async fn read_xl(&mut self) -> Result<XlPreamble, OuterError> {
        let start = self.offset();
        let mut magic = [0u8; XL_MAGIC.len()];
        self.fill(&mut magic, "the xl magic").await?;
        if magic != *XL_MAGIC {
            return Err(OuterError::BadXlMagic {
                offset: start,
                found: magic,
            });
        }
        let base = start + XL_HEADER_OFFSET as u64;
        let mut raw = [0u8; XL_HEADER_SIZE];
        self.fill(&mut raw, "the xl header").await?;
        // The byte order is the one in which the marker reads right; in
        // neither, the marker's rule below reports it.
        let endian = crate::xl::marker_endian(XlHeader::marker_of(&raw)).unwrap_or(Endian::Big);
        header_rules(&XlHeader::LAYOUT, &raw, endian, base, self.mode)?;
        let header = XlHeader::from_bytes(raw, endian);
        let flags_at = field_at::<XlHeader>(base, "mandatory_flags");
        let data_at = self.offset();
        let optional_data = self
            .read_vec(header.optional_data_len as usize, "the xl optional data")
            .await?;
        let pre = XlPreamble {
            endian,
            header,
            optional_data,
        };
        // The framing's KIND, BadConfig (checked at compile time above).
        let config = pre.config().map_err(|source| OuterError::BadConfig {
            offset: data_at,
            source,
        })?;
        // The rules of the set flags, as the description's table states
        // them.
        for rule in XL_FLAG_RULES {
            if !self.mode.checks(rule.lenient)
                || header.mandatory_flags & rule.flag == 0
                || !rule.broken_by(config)
            {
                continue;
            }
            let offset = match rule.requires {
                ConfigRequirement::Present => flags_at,
                ConfigRequirement::EndsWith(_) => data_at + XL_CONFIG_FRAMING.fixed() as u64,
            };
            return Err(flag_rule_error(rule.kind, offset)
                .expect("every flag rule's KIND has an error (checked at compile time)"));
        }
        Ok(pre)
    }

    async fn read_libxl_header(&mut self) -> Result<(), OuterError> {
        let start = self.offset();
        let mut raw = [0u8; LibxlHeader::LAYOUT.size];
        self.fill(&mut raw, "the libxl header").await?;
        let header: LibxlHeader =
            read_wire(&raw, Endian::Big).map_err(|source| OuterError::BadLength {
                index: 0,
                offset: start,
                record: "libxl header",
                source,
            })?;
        let layout = &LibxlHeader::LAYOUT;
        let endian = crate::layout::resolve_endian(layout.byte_order, Endian::Big);
        header_rules(layout, &raw, endian, start, self.mode)?;
        self.endian = header.endian();
        self.libxl = Some(header);
        self.state = State::Libxl;
        Ok(())
    }

    async fn read_record(&mut self) -> Result<OuterEvent, OuterError> {
        let offset = self.offset();
        let index = self.next_index;
        let mut raw = [0u8; LibxlRecordHeader::LAYOUT.size];
        let what = "a libxl record header (the stream ends before END)";
        if self.mode == Mode::Lenient && self.libxc_ended && self.checkpoint_ends > 0 {
            // A checkpointed (Remus, COLO) restore: once libxc's restore
            // returns, libxl completes the stream without reading another
            // octet (libxl__xc_domain_restore_done in libxl_stream_read.c
            // calls stream_complete, or COLO's completion callback, instead
            // of stream_continue), so whatever follows the libxc END (a
            // libxl END, other records, nothing) is not read.
            self.state = State::Done;
            return Ok(OuterEvent::End(None));
        }
        self.fill(&mut raw, what).await?;
        let rh: LibxlRecordHeader =
            read_wire(&raw, self.endian).map_err(|source| OuterError::BadLength {
                index,
                offset,
                record: "record header",
                source,
            })?;
        self.next_index += 1;
        let (code, length) = (rh.r#type, rh.length);
        let layout = LibxlRecord::LAYOUT.by_code(code);
        if layout.is_none() {
            return Err(if code & REC_TYPE_OPTIONAL == 0 {
                OuterError::UnknownMandatory {
                    index,
                    offset,
                    code,
                }
            } else {
                OuterError::UnknownOptional {
                    index,
                    offset,
                    code,
                }
            });
        }
        let lenient = self.mode == Mode::Lenient;
        // Records whose spec body is empty: libxl reads a body and ignores
        // it, so lenient mode skips it (any length: nothing is kept).
        let bodyless = matches!(
            code,
            LibxlRecord::END | LibxlRecord::LIBXC_CONTEXT | LibxlRecord::CHECKPOINT_END
        );
        // libxl has no length limit; lenient mode reads on, holding at most
        // REC_LENGTH_MAX octets of a body (see `keep` below).
        if length > REC_LENGTH_MAX && !lenient {
            return Err(OuterError::RecordTooLong {
                index,
                offset,
                code,
                length,
                max: REC_LENGTH_MAX,
            });
        }
        let Some(layout) = layout else {
            return Err(OuterError::UnknownMandatory {
                index,
                offset,
                code,
            });
        };
        if code == LibxlRecord::CHECKPOINT_STATE && length == 0 {
            // Both modes: libxl reads the id through the body pointer it
            // never set for an empty body (libxl_stream_read.c,
            // process_record).
            return Err(OuterError::CrashesXenRestore {
                index,
                offset,
                record: layout.spec_name,
                what: EMPTY_STATE.0,
                crash: EMPTY_STATE.1,
            });
        }
        // How much of the body is kept: all of it, or (lenient) nothing of
        // a body libxl ignores, and of a body over the limit the part that
        // is parsed (the emulator header, the checkpoint state's id).
        let keep = if lenient && bodyless {
            0
        } else if length > REC_LENGTH_MAX {
            PARSED_PREFIX
        } else {
            length
        };
        let what = "the body of a libxl record";
        let mut body = self.read_vec(keep as usize, what).await?;
        let rest = u64::from(length - keep);
        let over_limit = length > REC_LENGTH_MAX;
        if over_limit && code == LibxlRecord::EMULATOR_XENSTORE_DATA {
            // The key/value data, checked as it streams past.
            let data_at = offset + (LibxlRecordHeader::LAYOUT.size + body.len()) as u64;
            let scanned = self.scan_xenstore(rest).await?;
            self.padding(index, length).await?;
            scanned.map_err(|source| OuterError::Xenstore {
                index,
                offset: data_at + source.offset as u64,
                source,
            })?;
        } else {
            self.skip(rest, what).await?;
            self.padding(index, length).await?;
        }
        if lenient && code == LibxlRecord::CHECKPOINT_STATE {
            // Only its id is read (libxl reads no more).
            body.truncate(CheckpointState::LAYOUT.size);
        }
        let bad_length = |source| OuterError::BadLength {
            index,
            offset,
            record: layout.spec_name,
            source,
        };
        let record = LibxlRecord::parse_body(code, &body, self.endian)
            .map_err(bad_length)?
            .ok_or(OuterError::UnknownMandatory {
                index,
                offset,
                code,
            })?;
        let body_at = offset + LibxlRecordHeader::LAYOUT.size as u64;
        self.check_body(index, body_at, &record)?;
        let rec = OuterRecord {
            index,
            offset,
            length,
            record,
        };
        self.transition(rec).await
    }

    /// Checks a record body beyond its length.
    fn check_body(&self, index: u64, body_at: u64, record: &LibxlRecord) -> Result<(), OuterError> {
        let strict = self.mode == Mode::Strict;
        let emulator = match record {
            LibxlRecord::EmulatorXenstoreData(d) => Some(&d.header),
            LibxlRecord::EmulatorContext(c) => Some(&c.header),
            _ => None,
        };
        if let Some(h) = emulator {
            if strict && h.emulator().is_none() {
                return Err(OuterError::UnknownEmulator {
                    index,
                    offset: field_at::<EmulatorHeader>(body_at, "id"),
                    id: h.id,
                });
            }
        }
        match record {
            LibxlRecord::EmulatorXenstoreData(d) => {
                let data_at = body_at + EmulatorHeader::LAYOUT.size as u64;
                let xs = |source: XenstoreError| OuterError::Xenstore {
                    index,
                    offset: data_at + source.offset as u64,
                    source,
                };
                d.pairs().map_err(xs)?;
                if strict {
                    d.check_key_characters().map_err(xs)?;
                }
            }
            LibxlRecord::CheckpointState(s) if strict => {
                s.check().map_err(|violation| OuterError::BadValue {
                    index,
                    offset: body_at + violation.offset as u64,
                    violation,
                })?;
            }
            _ => {}
        }
        Ok(())
    }

    /// After a CHECKPOINT_END: whether a CHECKPOINT_STATE comes next (Xen's
    /// COLO layout), told by its record header: type CHECKPOINT_STATE with
    /// a body shorter than 8 octets, which no libxc record starting a
    /// segment has (X86_PV_VCPU_EXTENDED, the libxc type 5, needs 8). The
    /// octets looked at are given back.
    async fn checkpoint_state_follows(&mut self) -> Result<bool, OuterError> {
        let mut raw = [0u8; LibxlRecordHeader::LAYOUT.size];
        let n = self.src.fill(&mut raw).await.map_err(|e| OuterError::Io {
            offset: self.src.offset(),
            source: e,
        })?;
        self.src.unread(&raw[..n]);
        if n < raw.len() {
            return Ok(false);
        }
        let rh: LibxlRecordHeader = match read_wire(&raw, self.endian) {
            Ok(rh) => rh,
            Err(_) => return Ok(false),
        };
        Ok(rh.r#type == LibxlRecord::CHECKPOINT_STATE
            && (rh.length as usize) < crate::libxc::RecordHeader::LAYOUT.size)
    }

    /// Applies the structure rules and moves the state on.
    async fn transition(&mut self, rec: OuterRecord) -> Result<OuterEvent, OuterError> {
        let in_checkpoint = self.state == State::Checkpoint;
        let unexpected = |why| OuterError::UnexpectedRecord {
            index: rec.index,
            offset: rec.offset,
            record: rec.record.layout().spec_name,
            why,
        };
        match rec.record {
            LibxlRecord::LibxcContext => {
                if self.libxc_seen {
                    return Err(unexpected(LIBXC_READ));
                }
                self.libxc_seen = true;
                Ok(self.hand_over(false, Some(rec)))
            }
            LibxlRecord::CheckpointEnd => {
                if !in_checkpoint {
                    return Err(unexpected(NOT_IN_CHECKPOINT));
                }
                self.checkpoint_ends += 1;
                if self.checkpoint_state_follows().await? {
                    self.state = State::ColoControl;
                    return Ok(OuterEvent::Record(rec));
                }
                Ok(self.hand_over(true, Some(rec)))
            }
            LibxlRecord::CheckpointState(st) => {
                if self.state != State::ColoControl {
                    return Err(unexpected(STATE_OUTSIDE_COLO));
                }
                let new = CheckpointStateId::New as u32;
                if st.id != new {
                    return Err(OuterError::BadValue {
                        index: rec.index,
                        offset: rec.offset + LibxlRecordHeader::LAYOUT.size as u64,
                        violation: Violation {
                            structure: CheckpointState::LAYOUT.rust_name,
                            field: field_of(&CheckpointState::LAYOUT, "id").name,
                            offset: field_of(&CheckpointState::LAYOUT, "id").offset,
                            value: u64::from(st.id),
                            rule: crate::layout::ViolationRule::WrongValue,
                        },
                    });
                }
                Ok(self.hand_over(true, Some(rec)))
            }
            LibxlRecord::End => {
                if in_checkpoint {
                    return Err(unexpected(END_IN_CHECKPOINT));
                }
                // libxl's reader takes END there, but nothing is restored:
                // strict mode refuses a stream that holds no guest.
                if !self.libxc_seen && self.mode == Mode::Strict {
                    return Err(unexpected(END_WITHOUT_LIBXC));
                }
                self.finish_stream().await?;
                Ok(OuterEvent::End(Some(rec)))
            }
            _ => Ok(OuterEvent::Record(rec)),
        }
    }
}

impl<R: Read> OuterReader<R> {
    /// Starts reading a stream: detects or checks its format and reads the
    /// xl header and the libxl header, as far as the format has them.
    pub fn open(reader: R, format: FormatChoice, mode: Mode) -> Result<Self, OuterError> {
        let core = now(OuterCore::open(Source::new(reader), format, mode))?;
        Ok(OuterReader { core })
    }

    /// The format the stream starts with.
    pub fn format(&self) -> Format {
        self.core.format()
    }

    /// The xl preamble, for an xl save file.
    pub fn xl_preamble(&self) -> Option<&XlPreamble> {
        self.core.xl_preamble()
    }

    /// xl's migration messages after the end of the stream: the last
    /// octets of a capture of `xl migrate`, which a strict reader
    /// recognises instead of calling them `TrailingData` (a lenient
    /// reader, like a restore, reads nothing after the end). Set once
    /// [`next`](Self::next) has returned [`OuterEvent::End`].
    pub fn migration_trailer(&self) -> Option<&MigrationTrailer> {
        self.core.migration_trailer()
    }

    /// The libxl header, unless the stream is a bare libxc stream.
    pub fn libxl_header(&self) -> Option<&LibxlHeader> {
        self.core.libxl_header()
    }

    /// Byte order of the libxl records.
    pub fn endian(&self) -> Endian {
        self.core.endian()
    }

    /// The checking mode.
    pub fn mode(&self) -> Mode {
        self.core.mode()
    }

    /// Absolute offset of the next octet to read.
    pub fn offset(&self) -> u64 {
        self.core.offset()
    }

    /// The underlying reader, for reading the libxc stream in place. It
    /// counts what is read through it, so [`offset`](Self::offset) stays
    /// right.
    pub fn inner(&mut self) -> &mut Source<R> {
        &mut self.core.src
    }

    /// Unwraps the reader.
    pub fn into_inner(self) -> Source<R> {
        self.core.src
    }

    /// Whether the libxc layer has the stream.
    pub fn in_libxc(&self) -> bool {
        self.core.in_libxc()
    }

    /// Reports that the caller has read the libxc stream up to its END
    /// record or up to a CHECKPOINT record; the outer layer continues.
    pub fn libxc_finished(&mut self, stop: LibxcStop) -> Result<(), OuterError> {
        self.core.libxc_finished(stop)
    }

    /// Reads on to the next event; `Ok(None)` after the end. After a
    /// stream error every further call fails with
    /// [`OuterError::AfterError`].
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<OuterEvent>, OuterError> {
        now(self.core.next())
    }
}

/// Why the writer could not write.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The output failed.
    #[error("write failed: {0}")]
    Io(#[from] io::Error),
    /// A record body could not be encoded.
    #[error("cannot encode {record}: {source}")]
    Body {
        /// The record's spec name.
        record: &'static str,
        /// What went wrong.
        #[source]
        source: BodyError,
    },
    /// A record body is longer than [`REC_LENGTH_MAX`].
    #[error("record body of {length} octets exceeds the maximum {max}")]
    TooLong {
        /// The body length.
        length: usize,
        /// The limit.
        max: u32,
    },
    /// The call does not fit where the stream is (see
    /// [`OuterWriter::libxc_finished`]).
    #[error("at output offset {offset}: {what}")]
    State {
        /// The output offset.
        offset: u64,
        /// What was refused.
        what: &'static str,
    },
    /// The xl preamble's optional_data_len disagrees with its data.
    #[error("xl optional_data_len is {field} but the optional data holds {actual} octets")]
    OptionalDataLength {
        /// The field.
        field: u32,
        /// The data length.
        actual: usize,
    },
    /// The xl header breaks a value rule of its description (such as an
    /// `optional_data_len` over [`XL_OPTIONAL_DATA_MAX`](crate::xl::XL_OPTIONAL_DATA_MAX)), which the reader
    /// checks in both modes: the file would be refused.
    #[error("xl header: {0}")]
    XlHeader(Violation),
}

/// Writer of the outer layers: an xl header and libxl stream around a
/// libxc stream the caller writes through [`libxc`](Self::libxc) (or,
/// uncounted, [`inner`](Self::inner)).
///
/// For a plain save: [`xl`](Self::xl) (or [`libxl`](Self::libxl)),
/// [`libxc_context`](Self::libxc_context), the libxc stream up to its END,
/// [`libxc_finished`](Self::libxc_finished), emulator records,
/// [`finish`](Self::finish). For a checkpointed stream, after each libxc
/// CHECKPOINT record: [`libxc_finished`](Self::libxc_finished) with
/// [`LibxcStop::Checkpoint`], emulator records, then
/// [`checkpoint_end`](Self::checkpoint_end), then the next part of the
/// libxc stream. [`offset`](Self::offset) is the absolute offset of the
/// next octet, the same offsets the reader reports
/// ([`OuterReader::offset`], [`Handover::offset`]).
///
/// `libxc_finished` is the counterpart of [`OuterReader::libxc_finished`]:
/// once called, the writer refuses what the reader would refuse next (a
/// CHECKPOINT_END after the libxc END, the libxl END inside a
/// checkpoint, a second LIBXC_CONTEXT).
///
/// ```
/// use format_spec::binrw::Endian;
/// use format_spec::domain_context::{self as dc, DcEntry, DcHeader};
/// use format_spec::libxc::{DomainType, LibxcRecord};
/// use format_spec::outer::{LibxcStop, OuterWriter};
/// use format_spec::stream::{StreamWriter, WriterOptions};
///
/// let mut w = OuterWriter::libxl(Vec::new(), Endian::Little)?;
/// w.libxc_context()?;
/// let at = w.offset(); // where the libxc stream starts
/// let mut s = StreamWriter::new(w.libxc(), WriterOptions::new(DomainType::X86Hvm))?;
/// s.write(&LibxcRecord::StaticDataEnd)?;
/// let mut blob = Vec::new();
/// dc::write(&[DcEntry::Header(DcHeader::new(4, 17)), DcEntry::End], Endian::Little, &mut blob)?;
/// s.write(&LibxcRecord::DomainContext(format_spec::body::Opaque(blob)))?;
/// s.finish()?;
/// w.libxc_finished(LibxcStop::End)?;
/// assert!(w.checkpoint_end().is_err()); // no checkpoint is open
/// let end = w.offset();
/// let file = w.finish()?;
/// assert_eq!(&file[at as usize..at as usize + 8], &[0xff; 8]);
/// assert_eq!(file.len() as u64, end + 8); // the libxl END record
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct OuterWriter<W> {
    out: W,
    endian: Endian,
    /// Octets written through the writer (and [`OuterWriter::libxc`]).
    pos: u64,
    state: WriterState,
}

/// Where the writer is, as far as the caller has said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WriterState {
    /// Before LIBXC_CONTEXT.
    Start,
    /// The libxc layer has the stream.
    Libxc,
    /// After the libxc END.
    AfterLibxc,
    /// Between a libxc CHECKPOINT and CHECKPOINT_END.
    Checkpoint,
}

/// The output as the libxc layer writes it, counted into the
/// [`OuterWriter`]'s offset.
#[derive(Debug)]
pub struct LibxcOut<'a, W> {
    out: &'a mut W,
    pos: &'a mut u64,
}

impl<W: Write> Write for LibxcOut<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        *self.pos += n as u64;
        Ok(n)
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let n = self.out.write_vectored(bufs)?;
        *self.pos += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl<W: Write> OuterWriter<W> {
    /// Starts an xl save file: writes the xl preamble and a libxl header in
    /// the preamble's byte order.
    pub fn xl(mut out: W, preamble: &XlPreamble) -> Result<Self, WriteError> {
        let field = preamble.header.optional_data_len;
        if field as usize != preamble.optional_data.len() {
            return Err(WriteError::OptionalDataLength {
                field,
                actual: preamble.optional_data.len(),
            });
        }
        // The header rules every mode reads it by, those lenient mode
        // checks: the value rules and the reserved rules annotated
        // `lenient` (unknown mandatory flags). Strict-only reserved rules
        // are the caller's to break, for test files.
        let raw = preamble.header.to_bytes(preamble.endian);
        if let Some(b) = first_broken(&XlHeader::LAYOUT, &raw, preamble.endian, &|f, _| {
            Mode::Lenient.checks(f.lenient)
        }) {
            return Err(WriteError::XlHeader(b.violation()));
        }
        let pre = preamble.to_bytes();
        out.write_all(&pre)?;
        let mut w = Self::libxl(out, preamble.endian)?;
        w.pos += pre.len() as u64;
        Ok(w)
    }

    /// Starts a bare libxl stream whose records are in byte order `endian`.
    pub fn libxl(mut out: W, endian: Endian) -> Result<Self, WriteError> {
        let mut hdr = Vec::new();
        write_wire(&LibxlHeader::new(endian), &mut hdr, Endian::Big).map_err(|source| {
            WriteError::Body {
                record: "libxl header",
                source,
            }
        })?;
        out.write_all(&hdr)?;
        Ok(OuterWriter {
            out,
            endian,
            pos: hdr.len() as u64,
            state: WriterState::Start,
        })
    }

    /// Absolute offset of the next octet: what the writer wrote, and what
    /// was written through [`libxc`](Self::libxc) (not what was written
    /// straight to [`inner`](Self::inner)).
    pub fn offset(&self) -> u64 {
        self.pos
    }

    /// The output, for writing the libxc stream, counted into
    /// [`offset`](Self::offset).
    pub fn libxc(&mut self) -> LibxcOut<'_, W> {
        LibxcOut {
            out: &mut self.out,
            pos: &mut self.pos,
        }
    }

    /// Reports that the libxc stream has been written up to its END
    /// record, or up to a CHECKPOINT record (a checkpoint's libxl records
    /// and CHECKPOINT_END come next); the counterpart of
    /// [`OuterReader::libxc_finished`]. Fails when the libxc layer does
    /// not have the stream (no LIBXC_CONTEXT or CHECKPOINT_END before).
    pub fn libxc_finished(&mut self, stop: LibxcStop) -> Result<(), WriteError> {
        if self.state != WriterState::Libxc {
            return Err(WriteError::State {
                offset: self.pos,
                what: "libxc_finished, but the libxc layer does not have the stream",
            });
        }
        self.state = match stop {
            LibxcStop::End => WriterState::AfterLibxc,
            LibxcStop::Checkpoint => WriterState::Checkpoint,
        };
        Ok(())
    }

    fn refuse(&self, bad: &[WriterState], what: &'static str) -> Result<(), WriteError> {
        if bad.contains(&self.state) {
            return Err(WriteError::State {
                offset: self.pos,
                what,
            });
        }
        Ok(())
    }

    /// Byte order of the records.
    pub fn endian(&self) -> Endian {
        self.endian
    }

    /// The output itself. Octets written straight to it are not counted
    /// in [`offset`](Self::offset); write the libxc stream through
    /// [`libxc`](Self::libxc) to keep the offset right.
    pub fn inner(&mut self) -> &mut W {
        &mut self.out
    }

    /// Writes one record: header, body and zero padding.
    pub fn record(&mut self, record: &LibxlRecord) -> Result<(), WriteError> {
        let mut body = Vec::new();
        record
            .write_body(&mut body, self.endian)
            .map_err(|source| WriteError::Body {
                record: record.layout().spec_name,
                source,
            })?;
        self.raw_record(record.code(), &body)
    }

    /// Writes a record of any type with this body, unchecked (for proxies
    /// and test vectors).
    pub fn raw_record(&mut self, code: u32, body: &[u8]) -> Result<(), WriteError> {
        if body.len() > REC_LENGTH_MAX as usize {
            return Err(WriteError::TooLong {
                length: body.len(),
                max: REC_LENGTH_MAX,
            });
        }
        let pad = crate::libxc::padding_after(body.len() as u32) as usize;
        let mut buf = Vec::with_capacity(LibxlRecordHeader::LAYOUT.size + body.len() + pad);
        let rh = LibxlRecordHeader {
            r#type: code,
            length: body.len() as u32,
        };
        write_wire(&rh, &mut buf, self.endian).map_err(|source| WriteError::Body {
            record: "record header",
            source,
        })?;
        buf.extend_from_slice(body);
        buf.extend_from_slice(&crate::libxc::ZERO_PADDING[..pad]);
        self.out.write_all(&buf)?;
        self.pos += buf.len() as u64;
        Ok(())
    }

    /// Writes LIBXC_CONTEXT; the libxc stream goes to
    /// [`inner`](Self::inner) next.
    pub fn libxc_context(&mut self) -> Result<&mut W, WriteError> {
        self.refuse(
            &[WriterState::AfterLibxc, WriterState::Checkpoint],
            "a second LIBXC_CONTEXT",
        )?;
        self.record(&LibxlRecord::LibxcContext)?;
        self.state = WriterState::Libxc;
        Ok(&mut self.out)
    }

    /// Writes EMULATOR_XENSTORE_DATA with these key/value pairs.
    pub fn emulator_xenstore_data<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &mut self,
        id: EmulatorId,
        index: u32,
        pairs: &[(K, V)],
    ) -> Result<(), WriteError> {
        let header = EmulatorHeader {
            id: id as u32,
            index,
        };
        let data =
            EmulatorXenstoreData::from_pairs(header, pairs).map_err(|e| WriteError::Body {
                record: LibxlRecord::LAYOUT
                    .by_code(LibxlRecord::EMULATOR_XENSTORE_DATA)
                    .map_or("?", |l| l.spec_name),
                source: BodyError::Other(e.to_string()),
            })?;
        self.record(&LibxlRecord::EmulatorXenstoreData(data))
    }

    /// Writes EMULATOR_CONTEXT with this blob.
    pub fn emulator_context(
        &mut self,
        id: EmulatorId,
        index: u32,
        blob: &[u8],
    ) -> Result<(), WriteError> {
        self.record(&LibxlRecord::EmulatorContext(EmulatorContext {
            header: EmulatorHeader {
                id: id as u32,
                index,
            },
            blob: blob.to_vec(),
        }))
    }

    /// Writes CHECKPOINT_END; the next part of the libxc stream follows.
    pub fn checkpoint_end(&mut self) -> Result<&mut W, WriteError> {
        self.refuse(
            &[WriterState::AfterLibxc],
            "CHECKPOINT_END after the libxc END (no checkpoint is open)",
        )?;
        self.record(&LibxlRecord::CheckpointEnd)?;
        self.state = WriterState::Libxc;
        Ok(&mut self.out)
    }

    /// Writes CHECKPOINT_STATE.
    pub fn checkpoint_state(&mut self, state: CheckpointStateId) -> Result<(), WriteError> {
        self.record(&LibxlRecord::CheckpointState(CheckpointState {
            id: state as u32,
        }))
    }

    /// Writes the libxl END record, flushes and returns the output.
    pub fn finish(mut self) -> Result<W, WriteError> {
        self.refuse(
            &[WriterState::Checkpoint],
            "the libxl END inside a checkpoint (CHECKPOINT_END missing)",
        )?;
        self.record(&LibxlRecord::End)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xl::XL_OPTIONAL_DATA_MAX;

    #[test]
    fn every_header_annotation_reports_its_kind() {
        for layout in [&XlHeader::LAYOUT, &LibxlHeader::LAYOUT] {
            for f in layout.fields.iter() {
                let e = header_error(f, &[0; 16], 0, 1);
                let want = f.error.unwrap_or("ReservedNonZero");
                if f.error.is_some() || f.is_reserved() {
                    assert_eq!(e.kind(), want, "{}.{}", layout.rust_name, f.name);
                }
            }
        }
    }

    /// Every rule of the flag table names a KIND the reader reports as
    /// its own (a new rule with a new KIND needs a new arm in
    /// `flag_rule_error`), and every error `flag_rule_error` makes is of
    /// the kind it was asked for, at the offset given.
    #[test]
    fn every_flag_rule_reports_its_kind() {
        for rule in XL_FLAG_RULES {
            let e = flag_rule_error(rule.kind, 7).expect("an error for the rule's KIND");
            assert_eq!((e.error_kind(), e.offset()), (rule.kind, 7));
        }
        for &kind in OuterErrorKind::ALL {
            if let Some(e) = flag_rule_error(kind, 9) {
                assert_eq!((e.error_kind(), e.offset()), (kind, 9));
            }
        }
    }

    #[test]
    fn optional_data_too_long_takes_the_bound_of_its_rule() {
        let f = XlHeader::LAYOUT.field("optional_data_len").unwrap();
        let e = header_error(f, &[0; 16], 44, u64::from(XL_OPTIONAL_DATA_MAX) + 1);
        assert!(
            matches!(
                e,
                OuterError::OptionalDataTooLong { offset: 44, len, max }
                    if len == XL_OPTIONAL_DATA_MAX + 1 && max == XL_OPTIONAL_DATA_MAX
            ),
            "{e:?}"
        );
    }
}
