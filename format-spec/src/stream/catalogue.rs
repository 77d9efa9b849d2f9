//! The error catalogue: for every [`ErrorKind`], what it means, the rule
//! of the spec (or of Xen's restore code) behind it, the modes that report
//! it, where its offset points and the exception class the generated
//! Python verifier raises.
//!
//! This is the one place those facts live: `cargo xtask codegen` writes
//! the Markdown catalogue (`generated/docs/verifier-errors.md`) from it,
//! and the Python generator takes its exception classes from it.
//! [`ErrorKind::entry`] matches exhaustively, so a new kind does not
//! compile without its entry.

use super::error::{ErrorKind, StreamError};
use super::rules;
use crate::layout::{Constraint, SpecEnum, VariantLayout, Wire};
use crate::libxc::{
    order_since, DomainType, LibxcRecord, X86PvInfo, DOMAIN_CONTEXT_SINCE, IHDR_ID, IHDR_MARKER,
    PAGE_SHIFT, REC_LENGTH_MAX, STATIC_DATA_END_SINCE, SUPPORTED_VERSIONS,
};

/// Which verification modes report an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Modes {
    /// Strict and lenient: a restore must refuse the stream too.
    Both,
    /// Strict only: a restore does not look (padding, reserved fields,
    /// order rules, trailing data).
    StrictOnly,
    /// Some rules of the kind in both modes, others in strict mode only
    /// (see the rule table, [`super::rules`]).
    ByRule,
    /// Not a rule of the format (I/O failures, API misuse).
    NotARule,
}

impl Modes {
    /// How the catalogue spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Modes::Both => "strict and lenient",
            Modes::StrictOnly => "strict only",
            Modes::ByRule => "by rule (see its rules)",
            Modes::NotARule => "not a format rule",
        }
    }
}

/// The exception class the generated Python verifier raises for a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PythonClass {
    /// `xen.migration.verify.StreamError`: headers, framing, order.
    StreamError,
    /// `xen.migration.verify.RecordError`: the body of one record.
    RecordError,
    /// `xen.migration.verify.TruncatedError` (an `IOError`/`OSError` too),
    /// raised by `VerifyBase.rdexact` when the input ends early.
    TruncatedError,
}

impl PythonClass {
    /// The class name as Python reports it (`type(e).__name__`).
    pub fn as_str(self) -> &'static str {
        match self {
            PythonClass::StreamError => "StreamError",
            PythonClass::RecordError => "RecordError",
            PythonClass::TruncatedError => "TruncatedError",
        }
    }
}

/// One entry of the error catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueEntry {
    /// The kind described.
    pub kind: ErrorKind,
    /// What the error means, in one sentence.
    pub summary: String,
    /// The rule behind it: a section of the libxc stream specification
    /// (`docs/specs/libxc-migration-stream.pandoc`) or what Xen's restore
    /// code does.
    pub rule: String,
    /// Which modes report it.
    pub modes: Modes,
    /// Where [`StreamError::offset`] (and the Python exception's `offset`)
    /// points.
    pub offset: &'static str,
    /// The Python class when the error is about the image or domain header
    /// or the end of the stream (`None`: never raised there).
    pub python_outside_record: Option<PythonClass>,
    /// The Python class when the error is about a record (`None`: never
    /// raised there).
    pub python_in_record: Option<PythonClass>,
}

const HEADER: &str = "the header field";

/// The image identifier as the ASCII text it spells ("XENF").
fn ihdr_id_text() -> String {
    IHDR_ID
        .to_be_bytes()
        .iter()
        .map(|&b| char::from(b))
        .collect()
}

/// `a`, `a or b`, `a, b or c`.
fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// The page types no [`PageType`](crate::libxc::PageType) has
/// (`5, 6, 7 or 8`).
fn reserved_page_types() -> String {
    let all = crate::libxc::PAGE_DATA_TYPE_MASK >> crate::libxc::PAGE_DATA_TYPE_SHIFT;
    let reserved: Vec<String> = (0..=all)
        .filter(|&t| crate::libxc::PageType::LAYOUT.variant(t).is_none())
        .map(|t| t.to_string())
        .collect();
    or_list(&reserved)
}

/// The values an X86_PV_INFO field allows (`4 or 8`).
fn pv_info_allowed(field: &str) -> String {
    match X86PvInfo::LAYOUT.field(field).map(|f| f.constraint) {
        Some(Constraint::OneOf(vs)) => {
            or_list(&vs.iter().map(|v| v.to_string()).collect::<Vec<_>>())
        }
        _ => String::new(),
    }
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(items: &[String]) -> String {
    or_list(items).replacen(" or ", " and ", 1)
}

/// The supported versions before `v`, as `v2/v3` (joined by `sep`).
fn before(v: u32, sep: &str) -> String {
    let vs: Vec<String> = SUPPORTED_VERSIONS
        .iter()
        .filter(|&&x| x < v)
        .map(|x| format!("v{x}"))
        .collect();
    if sep == " and " {
        and_list(&vs)
    } else {
        vs.join(sep)
    }
}

/// The records each version after the first adds, from the record table:
/// `v3 adds A, B and C, v4 adds D`.
fn added_by_version() -> String {
    let parts: Vec<String> = SUPPORTED_VERSIONS[1..]
        .iter()
        .filter_map(|&v| {
            let names: Vec<String> = LibxcRecord::LAYOUT
                .records
                .iter()
                .filter(|r| r.since == v)
                .map(|r| r.spec_name.to_string())
                .collect();
            (!names.is_empty()).then(|| format!("v{v} adds {}", and_list(&names)))
        })
        .collect();
    parts.join(", ")
}

/// The records newer than some supported version, with the versions too
/// old for them: `A and B in v2; C in v2 and v3`.
fn newer_records() -> String {
    let mut parts = Vec::new();
    for &v in &SUPPORTED_VERSIONS[1..] {
        let names: Vec<String> = LibxcRecord::LAYOUT
            .records
            .iter()
            .filter(|r| r.since == v)
            .map(|r| r.spec_name.to_string())
            .collect();
        if !names.is_empty() {
            parts.push(format!("{} in {}", and_list(&names), before(v, " and ")));
        }
    }
    parts.join("; ")
}

/// The guest types of the domain header, each as `f` spells it, joined.
fn domain_types(f: impl Fn(&VariantLayout) -> String, sep: &str) -> String {
    let all: Vec<String> = DomainType::LAYOUT.variants.iter().map(f).collect();
    all.join(sep)
}

impl ErrorKind {
    /// The catalogue entry of this kind.
    pub fn entry(self) -> CatalogueEntry {
        use ErrorKind as K;
        use Modes::*;
        use PythonClass::*;
        let e = |summary: &str, rule: &str, modes, offset: &'static str, outside, inside| {
            CatalogueEntry {
                kind: self,
                summary: summary.to_string(),
                rule: rule.to_string(),
                modes,
                offset,
                python_outside_record: outside,
                python_in_record: inside,
            }
        };
        match self {
            K::BadMarker => e(
                "The image header does not start with eight 0xff octets: not a libxc stream (a legacy pre-Xen-4.5 image starts otherwise).",
                &format!("Image Header: marker is 0x{IHDR_MARKER:016X}."),
                Both, HEADER, Some(StreamError), None,
            ),
            K::BadId => e(
                &format!("The image identifier is not \"{}\" (0x{IHDR_ID:08X}).", ihdr_id_text()),
                &format!("Image Header: id is 0x{IHDR_ID:08X}."),
                Both, HEADER, Some(StreamError), None,
            ),
            K::UnsupportedVersion => e(
                &format!("The image version is not {}.", or_list(&SUPPORTED_VERSIONS.map(|v| v.to_string()))),
                &format!("Image Header: version; Compatibility with older versions (v{} from Xen 4.6, {}).", SUPPORTED_VERSIONS[0], added_by_version()),
                Both, HEADER, Some(StreamError), None,
            ),
            K::ReservedNonZero => e(
                "A reserved field or reserved bits are not zero: image header options bits 1-15, _res1/_res2; domain header _res1; PAGE_DATA _res1 and pfn bits 59-52; X86_PV_INFO _res; vCPU, X86_TSC_INFO and HVM_PARAMS _res1; MSR policy entry flags.",
                "Fields: reserved fields must be zero (each record's field table marks them).",
                StrictOnly, "the field's first octet (of the whole field for an array such as X86_PV_INFO _res; the entry for pfn bits)", Some(StreamError), Some(RecordError),
            ),
            K::BadDomainType => e(
                &format!("The domain header's type is neither {}.", domain_types(|v| format!("{} ({})", v.human, v.value), " nor ")),
                &format!("Domain Header: type ({}; others reserved).", domain_types(|v| format!("0x{:04X} {}", v.value, v.human), ", ")),
                Both, HEADER, Some(StreamError), None,
            ),
            K::BadPageShift => e(
                &format!("The domain header's page_shift is not {PAGE_SHIFT}."),
                "Domain Header: page_shift; Xen restores 4 KiB pages only (xg_sr_restore.c refuses other shifts).",
                Both, HEADER, Some(StreamError), None,
            ),
            K::Truncated => e(
                "The input ended inside a header, a record body or its padding, or before the END record.",
                "Records: the stream is a sequence of whole records terminated by END.",
                Both, "the point where the input ended", Some(TruncatedError), Some(TruncatedError),
            ),
            K::RecordTooLong => e(
                &format!("A record header announces a body longer than REC_LENGTH_MAX ({} MiB).", REC_LENGTH_MAX >> 20),
                "Xen behaviour: read_record() in xg_sr_common.c refuses bodies over REC_LENGTH_MAX; the spec sets no limit.",
                Both, "the record header", None, Some(StreamError),
            ),
            K::PaddingNonZero => e(
                "An octet of the padding after a record body is not zero.",
                "Records: bodies are padded with zeros to a multiple of 8 octets.",
                StrictOnly, "the first non-zero padding octet", None, Some(StreamError),
            ),
            K::UnknownMandatory => e(
                "A record type the table does not hold, with bit 31 (optional) clear: a restore cannot skip it.",
                "Records: a type with bit 31 set may be skipped; any other unknown type is an error.",
                Both, "the record header", None, Some(StreamError),
            ),
            K::RecordTooNew => e(
                &format!("A record type introduced by a later version than the stream's ({}).", newer_records()),
                "Compatibility with older versions: v3 compat with v2, v4 compat with v3.",
                ByRule, "the record header", None, Some(StreamError),
            ),
            K::DeprecatedRecord => e(
                "A TOOLSTACK record: deprecated since the stream format began and never valid in a stream.",
                "TOOLSTACK (deprecated): its data travels in the libxl stream instead.",
                Both, "the record header", None, Some(StreamError),
            ),
            K::BackChannelRecord => e(
                "A CHECKPOINT_DIRTY_PFN_LIST record in a forward stream.",
                "CHECKPOINT_DIRTY_PFN_LIST: only the COLO back channel (secondary to primary) carries it.",
                Both, "the record header", None, Some(StreamError),
            ),
            K::TrailingData => e(
                "Octets follow the END record of a bare libxc stream.",
                "END: the last record of the stream.",
                StrictOnly, "the first octet after END", Some(StreamError), None,
            ),
            K::BadLength => e(
                "A record body's length breaks the record's length rule (exact size, fixed part plus whole elements, a count field's total, non-empty, or PAGE_DATA's pfns plus pages).",
                "Records: each record's section fixes its body layout; Errata: variable-sized records may have no content.",
                ByRule, "the record header", None, Some(RecordError),
            ),
            K::BadValue => e(
                &format!("A body field outside its allowed values (X86_PV_INFO guest_width not {}, pt_levels not {}).", pv_info_allowed("guest_width"), pv_info_allowed("pt_levels")),
                &format!("X86_PV_INFO: guest_width ({}), pt_levels ({}).", pv_info_allowed("guest_width"), pv_info_allowed("pt_levels")),
                Both, "the field", None, Some(RecordError),
            ),
            K::BadPageCount => e(
                "A PAGE_DATA record's count is zero, or its pfn array does not fit in the body.",
                "PAGE_DATA: count is the number of pfns (at least one); the pfn array follows the header.",
                Both, "the count field", None, Some(RecordError),
            ),
            K::BadPageType => e(
                &format!("A PAGE_DATA pfn entry has a reserved page type ({}).", reserved_page_types()),
                "PAGE_DATA: the page types table (types 5 to 8 are not defined).",
                Both, "the pfn entry", None, Some(RecordError),
            ),
            K::MissingStaticDataEnd => e(
                &format!("In a v{STATIC_DATA_END_SINCE}+ stream, memory or register state (PAGE_DATA, X86_PV_P2M_FRAMES, X86_PV_VCPU_*, SHARED_INFO, X86_TSC_INFO, HVM_CONTEXT, HVM_PARAMS, DOMAIN_CONTEXT) comes before STATIC_DATA_END, or END comes without one."),
                "STATIC_DATA_END; Layout: static data first, then STATIC_DATA_END, then dynamic state.",
                ByRule, "the record header (the END record when none was seen)", None, Some(StreamError),
            ),
            K::DuplicateStaticDataEnd => e(
                &format!("A second STATIC_DATA_END (in {} the first X86_PV_P2M_FRAMES of a PV guest or the first PAGE_DATA of an HVM guest stands for one).", before(STATIC_DATA_END_SINCE, "/")),
                &format!("STATIC_DATA_END: sent once; v{STATIC_DATA_END_SINCE} compat with v{}: where a v{} receiver infers it.", STATIC_DATA_END_SINCE - 1, STATIC_DATA_END_SINCE - 1),
                Both, "the record header", None, Some(StreamError),
            ),
            K::WrongGuestType => e(
                "A record for the other guest type: an X86_PV_* record in an HVM stream, or HVM_CONTEXT/HVM_PARAMS in a PV stream.",
                "Layout: x86 PV Guest, x86 HVM Guest.",
                Both, "the record header", None, Some(StreamError),
            ),
            K::OutOfOrder => e(
                &format!("Records in an order the layout forbids: for PV, X86_PV_P2M_FRAMES before X86_PV_INFO, PAGE_DATA before X86_PV_P2M_FRAMES, vCPU records before the first PAGE_DATA; for HVM in v{}, HVM_PARAMS after HVM_CONTEXT in one segment ({}: a warning, as Xen 4.17 writes that order).", order_since(&rules::HVM_PARAMS_FIRST), before(order_since(&rules::HVM_PARAMS_FIRST), "/")),
                "Layout: x86 PV Guest, x86 HVM Guest.",
                ByRule, "the record header", None, Some(StreamError),
            ),
            K::DuplicateRecord => e(
                "A record that may come once came twice (X86_PV_INFO).",
                "Xen's restore: handle_x86_pv_info refuses a second X86_PV_INFO.",
                Both, "the record header", None, Some(StreamError),
            ),
            K::MissingRecord => e(
                "A record the stream must hold is missing when it completes: vCPU 0's X86_PV_VCPU_BASIC (Xen's restore), or one of the PV records the layout requires (strict).",
                "Layout: x86 PV Guest (the following records must be present); Xen's restore: update_vcpu_context needs vCPU 0's basic state.",
                ByRule, "the END record (the CHECKPOINT of a COLO stream; the end of the input on failover)", Some(StreamError), Some(StreamError),
            ),
            K::PfnBeyondP2m => e(
                "A PV guest's PAGE_DATA names a pfn above the highest end_pfn of the X86_PV_P2M_FRAMES records so far.",
                "Xen's restore: handle_page_data refuses pfns outside the domain's P2M (pfn_is_valid).",
                Both, "the pfn entry", None, Some(RecordError),
            ),
            K::UnexpectedCheckpoint => e(
                "A CHECKPOINT in a stream the caller said is not checkpointed.",
                "Xen's restore: handle_checkpoint refuses a CHECKPOINT in a plain stream.",
                Both, "the record header", None, Some(StreamError),
            ),
            K::UnknownInCheckpoint => e(
                "An unknown record (optional or not) in a checkpoint segment after the first, closed by a CHECKPOINT: Xen buffers the segment and fails when it replays it.",
                "Xen's restore: handle_checkpoint replays buffered records with process_record and fails on one it does not process.",
                Both, "the unknown record's header", None, Some(StreamError),
            ),
            K::CrashesXenRestore => e(
                "A stream on which Xen's own restore code crashes: a PV page-table entry naming a pfn beyond the P2M (an assert), PAGE_DATA before the P2M exists, or a first X86_PV_P2M_FRAMES with end_pfn 0 (segfaults). The message says what Xen's restore would do.",
                "Layout: x86 PV Guest (X86_PV_P2M_FRAMES before PAGE_DATA); Xen's restore: x86_pv_localise_page, pfn_to_mfn, handle_x86_pv_p2m_frames (see the rule table).",
                Both, "the record header; for a page-table entry, the entry", None, Some(RecordError),
            ),
            K::MissingDomainContext => e(
                &format!("In a v{DOMAIN_CONTEXT_SINCE} stream, a segment (the records up to a CHECKPOINT or END) has no DOMAIN_CONTEXT record."),
                "DOMAIN_CONTEXT; v4 compat with v3: DOMAIN_CONTEXT replaces SHARED_INFO and X86_TSC_INFO.",
                StrictOnly, "the CHECKPOINT or END record closing the segment", None, Some(StreamError),
            ),
            K::DomainContext => e(
                "The blob inside a DOMAIN_CONTEXT record breaks a rule of the blob format (the detail names which: HEADER first, magic, version, alignment, padding, lengths, type codes, an END; octets after END are only a warning, as a loader never reads them).",
                "DOMAIN_CONTEXT: the blob returned by XEN_DOMCTL_getdomaincontext (layout of the v9 domain context series).",
                StrictOnly, "the offending octets inside the blob", None, Some(RecordError),
            ),
            K::HvmContext => e(
                "The blob inside an HVM_CONTEXT record breaks a rule of the blob format (the detail names which: framing, HEADER first with its magic and version, known type codes, each type's body size, CPU_MSR count, END last).",
                "HVM_CONTEXT: the blob returned by XEN_DOMCTL_gethvmcontext (Xen's public/arch-x86/hvm/save.h; sizes as Xen 4.17 writes them).",
                StrictOnly, "the offending octets inside the blob", None, Some(RecordError),
            ),
            K::Io => e(
                "The input failed with an I/O error other than ending early.",
                "None: not a property of the stream.",
                NotARule, "how far the input was read", None, None,
            ),
            K::Misuse => e(
                "The reader or writer API was used out of order (a body read twice, pages that do not match their pfns, ...): a bug in the caller.",
                "None: not a property of the stream.",
                NotARule, "where the reader or writer was", None, None,
            ),
        }
    }

    /// The Python exception class for this kind, about a record
    /// (`in_record`) or about the headers or the end of the stream.
    pub fn python_class(self, in_record: bool) -> Option<PythonClass> {
        let e = self.entry();
        if in_record {
            e.python_in_record
        } else {
            e.python_outside_record
        }
    }
}

impl StreamError {
    /// The exception class the generated Python verifier raises for this
    /// error (`None` for [`StreamError::Io`] and [`StreamError::Misuse`]).
    pub fn python_class(&self) -> Option<PythonClass> {
        let e = self.kind().entry();
        if self.record().is_some() {
            e.python_in_record.or(e.python_outside_record)
        } else {
            e.python_outside_record.or(e.python_in_record)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_full_entry() {
        let mut names: Vec<&str> = ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ErrorKind::ALL.len(), "duplicate KIND names");
        for &k in ErrorKind::ALL {
            let e = k.entry();
            assert_eq!(e.kind, k);
            assert!(e.summary.ends_with('.') && e.summary.len() > 20, "{k}");
            assert!(e.rule.ends_with('.') && !e.offset.is_empty(), "{k}");
            assert_eq!(ErrorKind::from_name(k.as_str()), Some(k));
            // A format rule is raised by Python somewhere; I/O and misuse
            // are not format rules.
            let raised = e.python_in_record.is_some() || e.python_outside_record.is_some();
            assert_eq!(raised, e.modes != Modes::NotARule, "{k}");
        }
    }
}
