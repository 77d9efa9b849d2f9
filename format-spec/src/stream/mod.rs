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
//! * [`StreamError`]: one variant per rule (named after its KIND), with
//!   the record, offset and field it concerns.
//!
//! # Errors: order of checks and offsets
//!
//! The first error wins. Per record the checks run in this order: framing
//! (length limit, unknown mandatory / too new / obsolete / back-channel
//! type, then reading body and padding), then the body (length rule, page
//! count and types, allowed values, reserved fields), then the order
//! rules. A PAGE_DATA body error is reported after the rest of the record
//! has been consumed, so a truncated record reports `Truncated` first.
//!
//! [`StreamError::offset`] is absolute (it includes
//! [`ReaderOptions::base_offset`]) and points at:
//! * the field, for header fields, body fields and pfn entries
//!   (`BadMarker`, `BadValue`, `ReservedNonZero`, `BadPageCount` at the
//!   count, `BadPageType` at the entry, ...);
//! * the first non-zero padding octet (`PaddingNonZero`);
//! * the point where the input ended (`Truncated`);
//! * the first octet after END (`TrailingData`);
//! * otherwise the record header (`RecordTooLong`, `UnknownMandatory`,
//!   `BadLength`, the order rules, `MissingDomainContext` at the CHECKPOINT
//!   or END that closes the segment).
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
//! use format_spec::stream::{verify, StreamWriter, VerifyOptions, WriterOptions};
//!
//! // Write a version 4 HVM stream, then verify it strictly.
//! let mut w = StreamWriter::new(Vec::new(), WriterOptions::new(DomainType::X86Hvm))?;
//! w.write(&LibxcRecord::StaticDataEnd)?;
//! w.write_page_data(&[0x10, 0x11], &vec![0xaa; 2 * 4096])?;
//! w.write(&LibxcRecord::HvmParams(HvmParams {
//!     count: 1, _res1: 0, param: vec![HvmParamsEntry { index: 2, value: 3 }],
//! }))?;
//! w.write(&LibxcRecord::HvmContext(Opaque(vec![1, 2, 3])))?;
//! w.write(&LibxcRecord::DomainContext(Opaque(vec![4; 12])))?;
//! let bytes = w.finish()?;
//!
//! let report = verify(&bytes[..], VerifyOptions::strict())?;
//! assert_eq!(report.records, 6);
//! assert_eq!(report.data_pages, 2);
//! assert!(report.warnings.is_empty());
//! # Ok::<(), format_spec::stream::StreamError>(())
//! ```

mod check;
mod error;
mod reader;
mod verify;
mod writer;

pub use check::check_page_reserved;
pub use error::{ErrorKind, FieldRef, Location, RecordInfo, StreamError, Warning};
pub use reader::{parse_record, PageBatch, ReaderOptions, Record, StreamReader};
pub use verify::{verify, verify_seekable, Report, Verifier, VerifyOptions};
pub use writer::{StreamWriter, WriterOptions};

/// Which rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// What a restore must accept: padding and reserved fields are not
    /// looked at, and the order rules are not enforced.
    #[default]
    Lenient,
    /// What a verifier checks: everything, including padding and reserved
    /// fields zero, back-channel records and the order rules.
    Strict,
}
