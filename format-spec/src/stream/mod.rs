//! Reading, writing and verifying libxc streams, forward only.
//!
//! The stream layer frames records by hand, the way Xen's own restore code
//! does: it reads the 8-octet record header, refuses lengths over
//! [`REC_LENGTH_MAX`](crate::libxc::REC_LENGTH_MAX), reads body and padding,
//! then parses the body from memory with the code derived from the
//! description ([`LibxcRecord::parse_body`](crate::libxc::LibxcRecord::parse_body)).
//! Nothing needs [`std::io::Seek`], so pipes and sockets work; an input that
//! can seek lets the reader skip page contents instead of reading them.
//!
//! * [`StreamReader`]: headers, then records in order; PAGE_DATA contents
//!   go straight into caller buffers ([`PageBatch`]).
//! * [`StreamWriter`]: computes lengths and padding, writes PAGE_DATA with
//!   vectored writes, refuses anything the strict verifier would refuse.
//! * [`verify`], [`verify_seekable`], [`Verifier`]: every rule of the
//!   shared verifier rule list, strict or lenient, with warnings and a
//!   [`Report`].
//! * [`StreamReader::suspend`], [`StreamReader::resume`]: a checkpointed
//!   stream nested in a libxl stream pauses after each CHECKPOINT while
//!   the libxl layer reads its records, then goes on with the next
//!   segment on the same input, offsets staying absolute ([`Suspended`]).
//! * [`StreamError`]: one variant per rule (named after its KIND), with
//!   the record, offset and field it concerns.
//!
//! The framing and the rules are written once, in a core that does no I/O
//! of its own; these types drive it with blocking I/O, and with the cargo
//! feature `tokio` the module `format_spec::asynchronous` drives the same
//! core over `tokio::io::AsyncRead` and `AsyncWrite` (same events, errors
//! and offsets).
//!
//! # The verifier rules
//!
//! This section is the reference both verifiers implement: the Rust one
//! here and the Python one `cargo xtask codegen` writes
//! (`xen.migration.libxc.VerifyLibxc`, strict mode). For every stream they
//! give the same verdict, the same KIND and the same offset; the tests
//! `generated-tests/tests/agree.rs` (every shared vector) and
//! `generated-tests/tests/differential.rs` (thousands of mutated streams)
//! check it. What each KIND means, the spec rule behind it, its modes and
//! its Python exception class are in the error catalogue
//! ([`ErrorKind::entry`], rendered as `generated/docs/verifier-errors.md`).
//!
//! Lenient mode is what Xen's restore does (`xc_domain_restore()` in
//! the kit's `tools/libs/guest`): the differential test
//! `generated-tests/tests/xen_restore.rs` runs Xen's own restore code on
//! the vectors, thousands of mutants and the real save files and finds
//! the same verdicts, except for the checks Xen leaves to the hypervisor
//! ([`rules::HYPERVISOR_CHECKS`]). Strict mode is the spec plus the
//! project's named rules. Every rule beyond the framing and the field
//! constraints is an entry of the rule table ([`rules::RULES`]) with its
//! modes and its source (spec section, Xen's check by file and function,
//! or "project" with the reason); the error catalogue lists them.
//!
//! The rules, by stage (strict-only ones marked *S*):
//!
//! 1. Image header: `BadMarker`, `BadId`, `UnsupportedVersion` (not one
//!    of [`SUPPORTED_VERSIONS`](crate::libxc::SUPPORTED_VERSIONS)), then
//!    `ReservedNonZero` (*S*: the options bits other than the byte order,
//!    `_res1`, `_res2`).
//!    Both byte orders are valid (options bit 0).
//! 2. Domain header: `BadDomainType` (not a
//!    [`DomainType`](crate::libxc::DomainType)), `BadPageShift` (not
//!    [`PAGE_SHIFT`](crate::libxc::PAGE_SHIFT)), then `ReservedNonZero`
//!    (*S*: `_res1`).
//! 3. Each record, framing: `RecordTooLong` (over
//!    [`REC_LENGTH_MAX`](crate::libxc::REC_LENGTH_MAX)); then the type:
//!    unknown with bit 31 clear is `UnknownMandatory` (unknown with bit 31
//!    set is skipped with a warning, its padding still checked),
//!    `RecordTooNew` (the record's `since`
//!    is above the stream version; leniently not for the records of
//!    [`EARLY_RECORDS_XEN_HANDLES`](crate::libxc::EARLY_RECORDS_XEN_HANDLES)),
//!    `DeprecatedRecord` (TOOLSTACK), `BackChannelRecord` (the records of
//!    [`BACK_CHANNEL_RECORDS`](crate::libxc::BACK_CHANNEL_RECORDS)). These
//!    are decided from the record header alone, before the body is read,
//!    so a record of such a type whose body is cut short reports the type
//!    error, not `Truncated`. Then body and padding are read (`Truncated`
//!    if the input ends) and the padding checked (`PaddingNonZero`, *S*).
//! 4. The body: the length rule (`BadLength`; for PAGE_DATA: a body
//!    shorter than its 8-octet header is `BadLength`, then `BadPageCount`
//!    for a zero count or a pfn array that does not fit, then `BadPageType`
//!    at the first entry with type 5 to 8, then `BadLength` when the body
//!    is not exactly the pfns plus one page per entry with data); then
//!    the field rules in field order ([`crate::layout::first_broken`]):
//!    allowed values (`BadValue`) and reserved fields (`ReservedNonZero`,
//!    *S*), the fixed part before the trailing elements (in every libxc
//!    struct the value rules come before the reserved ones); for
//!    PAGE_DATA `_res1` then pfn bits 59-52 (*S*); then, in strict
//!    mode, the rules of the DOMAIN_CONTEXT blob (`DomainContext`, whose
//!    source names the blob rule; see [`crate::domain_context::verify`])
//!    and of the HVM_CONTEXT blob (`HvmContext`, likewise; see
//!    [`crate::hvm_context::verify`]).
//! 5. The order rules and the rules of Xen's record handlers, after the
//!    body, each in the modes its entry of [`rules::RULES`] names:
//!    `WrongGuestType` (records of
//!    [`PV_ONLY_RECORDS`](crate::libxc::PV_ONLY_RECORDS) in an HVM stream,
//!    of [`HVM_ONLY_RECORDS`](crate::libxc::HVM_ONLY_RECORDS) in a PV one);
//!    then STATIC_DATA_END: `DuplicateStaticDataEnd` for a second one, or
//!    `MissingStaticDataEnd` for a record of
//!    [`DYNAMIC_RECORDS`](crate::libxc::DYNAMIC_RECORDS) before it (v3+;
//!    in v2 it is inferred at
//!    [`v2_static_data_end_at`](crate::libxc::v2_static_data_end_at));
//!    then `OutOfOrder` (PV: X86_PV_P2M_FRAMES or SHARED_INFO before
//!    X86_PV_INFO, *S* vCPU records before the first PAGE_DATA, *S* static
//!    records after STATIC_DATA_END; *S* HVM v4: HVM_PARAMS after HVM_CONTEXT in one segment, only
//!    a warning in v2/v3, whose Xen 4.17 saver writes that order); then,
//!    at END, `MissingStaticDataEnd` (v3+, none seen), and at END or
//!    CHECKPOINT, `MissingDomainContext` (v4, none in the segment).
//!    Then the rules on values Xen's handlers check: X86_PV_INFO once
//!    (`DuplicateRecord`) with a guest_width/pt_levels pair Xen takes
//!    (`BadValue`); X86_PV_P2M_FRAMES ranges (`BadValue`) and frame
//!    counts (`BadLength`); PV pfns within the P2M (`PfnBeyondP2m`);
//!    vCPU context sizes and non-empty CPU policies (`BadLength`); vCPU 0's
//!    basic state and (*S*) the PV records the layout requires, at END
//!    (`MissingRecord`); a CHECKPOINT where the caller said the stream is
//!    not checkpointed (`UnexpectedCheckpoint`); and, in both modes, the
//!    streams on which Xen's restore crashes (`CrashesXenRestore`): PV
//!    memory before the P2M, a first P2M with end_pfn 0, a PV stream that
//!    completes without a P2M, and present entries of PV page-table pages
//!    naming pfns beyond the P2M (the verifier reads those pages' contents,
//!    one page at a time, even where it otherwise seeks past page data).
//! 6. After END of a bare stream: `TrailingData` (*S*).
//!
//! # Checkpointed streams
//!
//! After the first CHECKPOINT of a checkpointed stream (Remus or COLO;
//! [`VerifyOptions::checkpointed`]) Xen's restore buffers each segment and
//! replays it at the next CHECKPOINT. Lenient mode follows: an error in
//! such a segment is reported when its CHECKPOINT comes (an unknown
//! record, even an optional one, is `UnknownInCheckpoint` there), and a
//! stream that breaks off inside a segment, or ends with END after one,
//! is valid: [`Report::failover`] names the segment dropped and why
//! ([`Failover`], whose `Display` is the sentence to print). In both
//! modes a stream whose input ends right after a CHECKPOINT is valid:
//! "N checkpoints, ending at a checkpoint boundary". Strict mode refuses a
//! segment that breaks off (`Truncated`).
//!
//! The first error wins. Warnings (never errors): SHARED_INFO and
//! X86_TSC_INFO in v4 (deprecated); a variable-sized record (a length rule
//! with trailing elements) with none of them, which the spec errata allow;
//! an unknown optional record skipped; HVM_PARAMS after HVM_CONTEXT in v2
//! and v3.
//!
//! # Offsets
//!
//! [`StreamError::offset`] is absolute (it includes
//! [`ReaderOptions::base_offset`]; the Python verifier counts from where
//! it started reading, the same thing for a bare stream) and points at:
//! * the field, for header and body fields (`BadMarker`, `BadValue`,
//!   `ReservedNonZero`, ...): its first octet, for an array field the
//!   array's first octet whichever element is bad (the message names the
//!   element); for an element of a trailing array (a pfn entry, an MSR
//!   entry's flags), that element's field: `BadPageCount` points at the
//!   count, `BadPageType` and pfn `ReservedNonZero` at the entry;
//! * the first non-zero padding octet (`PaddingNonZero`);
//! * the offending octets inside the blob (`DomainContext`, `HvmContext`);
//! * the point where the input ended (`Truncated`);
//! * the first octet after END (`TrailingData`);
//! * otherwise the record header: `RecordTooLong`, the type errors,
//!   `BadLength`, and the order rules (`MissingStaticDataEnd` at END when
//!   none was seen, `MissingDomainContext` at the CHECKPOINT or END that
//!   closes the segment).
//!
//! After a body error (`BadLength`, `BadValue`, `ReservedNonZero`,
//! `BadPageCount`, `BadPageType`, `PaddingNonZero`) or a record-type error
//! the reader has consumed (or will skip) the record and can go on, which
//! a tool listing a broken stream may want. After `Truncated`, an I/O error
//! or `RecordTooLong` it refuses further calls.
//!
//! Memory stays bounded by one record: the reader keeps one body buffer
//! (grown only as octets arrive) and one pfn array, both reused.
//!
//! ```
//! use format_spec::libxc::{DomainType, LibxcRecord, HvmParams, HvmParamsEntry};
//! use format_spec::body::Opaque;
//! use format_spec::binrw::Endian;
//! use format_spec::domain_context::{self as dc, DcEntry, DcHeader};
//! use format_spec::hvm_context::{self as hvm, HvmHeader, HvmType};
//! use format_spec::stream::{verify, StreamWriter, VerifyOptions, WriterOptions};
//!
//! // Write a version 4 HVM stream, then verify it strictly.
//! let mut w = StreamWriter::new(Vec::new(), WriterOptions::new(DomainType::X86Hvm))?;
//! w.write(&LibxcRecord::StaticDataEnd)?;
//! w.write_page_data(&[0x10, 0x11], &vec![0xaa; 2 * 4096])?;
//! w.write(&LibxcRecord::HvmParams(HvmParams {
//!     count: 1, _res1: 0, param: vec![HvmParamsEntry { index: 2, value: 3 }],
//! }))?;
//! // An HVM_CONTEXT blob (HEADER, one PIC, END): strict verification
//! // checks its rules too.
//! let ctx = hvm::write(&HvmHeader::new(0x60fb1, 2_000_000), &[(HvmType::Pic, 0, &[0; 8])], Endian::Little)
//!     .unwrap();
//! w.write(&LibxcRecord::HvmContext(Opaque(ctx)))?;
//! // A DOMAIN_CONTEXT blob: strict verification checks its rules too.
//! let mut blob = Vec::new();
//! dc::write(&[DcEntry::Header(DcHeader::new(4, 17)), DcEntry::End], Endian::Little, &mut blob)
//!     .unwrap();
//! w.write(&LibxcRecord::DomainContext(Opaque(blob)))?;
//! let bytes = w.finish()?;
//!
//! let report = verify(&bytes[..], VerifyOptions::strict())?;
//! assert_eq!(report.records, 6);
//! assert_eq!(report.data_pages, 2);
//! assert!(report.warnings.is_empty());
//! # Ok::<(), format_spec::stream::StreamError>(())
//! ```

mod catalogue;
mod check;
mod error;
pub(crate) use error::versions_in_words;
pub(crate) mod reader;
pub mod rules;
mod verify;
mod writer;

pub use catalogue::{CatalogueEntry, Modes as ErrorModes, PythonClass};
pub use check::check_page_reserved;
pub use error::{
    ErrorKind, FieldRef, Location, RecordInfo, StreamError, Warning, XEN_RESTORE_WOULD,
};
pub(crate) use reader::check_record;
#[cfg(feature = "tokio")]
pub(crate) use reader::Core;
pub use reader::{parse_record, PageBatch, ReaderOptions, Record, StreamReader, Suspended};
pub use verify::{
    verify, verify_seekable, Checkpointed, Failover, FailoverReason, Note, Noted, Report, Verifier,
    VerifyOptions,
};
#[cfg(feature = "tokio")]
pub(crate) use writer::WriterCore;
pub use writer::{StreamWriter, WriterOptions};

/// Which rules apply, in every layer: the libxc stream here, the xl
/// header and libxl stream in [`crate::outer`], whole inputs in
/// [`crate::save`] (this is the one `Mode` of the crate; `outer::Mode`
/// is the same type).
///
/// The default is [`Mode::Lenient`], what a restore checks: a reader
/// opened without options accepts every stream Xen's restore accepts.
/// Verifiers ask for [`Mode::Strict`] ([`VerifyOptions::strict`] does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// What Xen's restore accepts: padding and reserved fields are not
    /// looked at, and only the order rules Xen's restore checks apply
    /// (see [`rules`]).
    #[default]
    Lenient,
    /// What a verifier checks: everything, including padding and reserved
    /// fields zero, back-channel records and the order rules; in the outer
    /// layers also no unknown optional xl flags, known emulator and
    /// checkpoint-state ids, xenstore key characters, a NUL-terminated
    /// JSON configuration, and nothing after the final END record.
    Strict,
}

impl Mode {
    /// Whether this mode checks a rule whose annotation says `lenient`
    /// (lenient mode checks it too) or not: strict mode checks every rule,
    /// lenient mode those annotated so ([`FieldLayout::lenient`](crate::layout::FieldLayout::lenient),
    /// which every value rule is, and the xl flag rules' `lenient`).
    pub const fn checks(self, lenient: bool) -> bool {
        matches!(self, Mode::Strict) || lenient
    }
}
