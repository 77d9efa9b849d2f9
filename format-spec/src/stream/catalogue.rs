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
use super::rules::{OrderCheck, OrderRule, Scope, LAYOUT_HVM, LAYOUT_PV};
use crate::layout::{
    Constraint, FieldKind, RecordLayout, SpecEnum, StructLayout, VariantLayout, Wire,
};
use crate::libxc::{
    v2_static_data_end_at, DomainHeader, DomainType, ImageHeader, LibxcRecord, PageDataHeader,
    BACK_CHANNEL_RECORDS, DOMAIN_CONTEXT_SINCE, DYNAMIC_RECORDS, HVM_ONLY_RECORDS, IHDR_ID,
    IHDR_MARKER, LIBXC_STRUCTS, ORDER_RULES, PAGE_DATA_PFN_RESERVED_MASK, PAGE_SHIFT, PAGE_SIZE,
    PV_ONLY_RECORDS, PV_VCPU_RECORDS, REC_ALIGN, REC_LENGTH_MAX, STATIC_DATA_END_SINCE,
    SUPPORTED_VERSIONS,
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

/// The page types no [`PageType`](crate::libxc::PageType) has (5 to 8).
fn reserved_page_type_values() -> Vec<u64> {
    let all = crate::libxc::PAGE_DATA_TYPE_MASK >> crate::libxc::PAGE_DATA_TYPE_SHIFT;
    (0..=all)
        .filter(|&t| crate::libxc::PageType::LAYOUT.variant(t).is_none())
        .collect()
}

/// The reserved page types as alternatives (`5, 6, 7 or 8`).
fn reserved_page_types() -> String {
    let reserved: Vec<String> = reserved_page_type_values()
        .iter()
        .map(|t| t.to_string())
        .collect();
    or_list(&reserved)
}

/// The reserved page types as a range when they are one (`5 to 8`),
/// else listed (`5 and 7`).
fn reserved_page_type_range() -> String {
    let vs = reserved_page_type_values();
    match (vs.first(), vs.last()) {
        (Some(&a), Some(&b)) if b > a && b - a + 1 == vs.len() as u64 => format!("{a} to {b}"),
        _ => and_list(&vs.iter().map(|t| t.to_string()).collect::<Vec<_>>()),
    }
}

/// The lowest and highest bit of `mask`.
fn bit_span(mask: u64) -> (u32, u32) {
    (mask.trailing_zeros(), 63 - mask.leading_zeros())
}

/// The image header's first field as octets (`eight 0xff octets`), from
/// [`IHDR_MARKER`] and the field's size.
fn marker_text() -> String {
    let size = ImageHeader::LAYOUT
        .field("marker")
        .map_or(0, |f| f.kind.size());
    let octets = &IHDR_MARKER.to_be_bytes()[8 - size.min(8)..];
    let words = [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
    ];
    match octets {
        [first, rest @ ..] if rest.iter().all(|b| b == first) => {
            let count = words
                .get(octets.len())
                .map_or(octets.len().to_string(), |w| w.to_string());
            format!("{count} 0x{first:02x} octets")
        }
        _ => format!("its marker 0x{IHDR_MARKER:016X}"),
    }
}

/// The spec name of record `code`.
fn record_name(code: u32) -> String {
    LibxcRecord::LAYOUT
        .by_code(code)
        .map_or("?", |r| r.spec_name)
        .to_string()
}

/// The record sets a list of records names by their common prefix
/// (`X86_PV_*`, `X86_PV_VCPU_*`) when all of a set's records come in a
/// row, largest set first.
const RECORD_GROUPS: &[&[u32]] = &[PV_ONLY_RECORDS, PV_VCPU_RECORDS];

/// The name of a set of records: the prefix their names share, up to its
/// last `_`, and `*`.
fn group_name(codes: &[u32]) -> String {
    let names: Vec<String> = codes.iter().map(|&c| record_name(c)).collect();
    let first = names.first().cloned().unwrap_or_default();
    let common = names.iter().fold(first.len(), |n, name| {
        first
            .bytes()
            .zip(name.bytes())
            .take(n)
            .take_while(|(a, b)| a == b)
            .count()
    });
    let prefix = &first[..common];
    let cut = prefix.rfind('_').map_or(0, |i| i + 1);
    format!("{}*", &prefix[..cut])
}

/// The names of `codes`, each run that is a whole [`RECORD_GROUPS`] set
/// named as the set (`PAGE_DATA`, `X86_PV_VCPU_*`, ...).
fn record_names(codes: &[u32]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < codes.len() {
        let group = RECORD_GROUPS
            .iter()
            .find(|g| g.len() > 1 && codes[i..].starts_with(g));
        match group {
            Some(g) => {
                out.push(group_name(g));
                i += g.len();
            }
            None => {
                out.push(record_name(codes[i]));
                i += 1;
            }
        }
    }
    out
}

/// Each version's compatibility with the one before it, as the spec's
/// section heads them: `v3 compat with v2, v4 compat with v3`.
fn compat_pairs() -> String {
    let pairs: Vec<String> = SUPPORTED_VERSIONS
        .windows(2)
        .map(|w| format!("v{} compat with v{}", w[1], w[0]))
        .collect();
    pairs.join(", ")
}

/// What an order rule forbids, in words (`X86_PV_VCPU_* before the first
/// PAGE_DATA`).
fn forbidden_order(check: &OrderCheck) -> Option<String> {
    match *check {
        OrderCheck::After { first, records } => Some(format!(
            "{} before the first {}",
            or_list(&record_names(records)),
            record_name(first)
        )),
        OrderCheck::NotAfter {
            last,
            records,
            scope,
        } => Some(format!(
            "{} after {}{}",
            or_list(&record_names(records)),
            record_name(last),
            if scope == Scope::Segment {
                " in one segment"
            } else {
                ""
            }
        )),
        _ => None,
    }
}

/// The orders [`ORDER_RULES`] forbids with KIND `OutOfOrder`, grouped by
/// guest type and first version: `A before B; for x86 PV, C before the
/// first D; for x86 HVM in v4, E after F in one segment (v2/v3: a
/// warning, ...)`.
fn forbidden_orders() -> String {
    let rules: Vec<&OrderRule> = ORDER_RULES
        .iter()
        .filter(|r| r.rule.kind == ErrorKind::OutOfOrder)
        .collect();
    let mut groups: Vec<String> = Vec::new();
    let mut i = 0;
    while i < rules.len() {
        let (guest, since) = (rules[i].guest, rules[i].since);
        let mut items = Vec::new();
        let mut warns = false;
        while i < rules.len() && rules[i].guest == guest && rules[i].since == since {
            items.extend(forbidden_order(&rules[i].check));
            warns |= rules[i].warns_before && since > SUPPORTED_VERSIONS[0];
            i += 1;
        }
        let mut head = guest.map_or(String::new(), |g| format!("for {g}"));
        if since > SUPPORTED_VERSIONS[0] {
            head = format!("{head} in v{since}").trim_start().to_string();
        }
        let mut text = if head.is_empty() {
            items.join(", ")
        } else {
            format!("{head}, {}", items.join(", "))
        };
        if warns {
            text.push_str(&format!(
                " ({}: a warning, as Xen 4.17 writes that order)",
                before(since, "/")
            ));
        }
        groups.push(text);
    }
    groups.join("; ")
}

/// The records [`ORDER_RULES`] allows once (KIND `DuplicateRecord`).
fn once_records() -> Vec<String> {
    ORDER_RULES
        .iter()
        .filter(|r| r.rule.kind == ErrorKind::DuplicateRecord)
        .filter_map(|r| match r.check {
            OrderCheck::AtMostOnce { record } => Some(record_name(record)),
            _ => None,
        })
        .collect()
}

/// The records a version deprecates (DOMAIN_CONTEXT's version: SHARED_INFO
/// and X86_TSC_INFO; 0, the format's beginning: TOOLSTACK, never valid).
fn deprecated_by(version: u32) -> Vec<String> {
    LibxcRecord::LAYOUT
        .records
        .iter()
        .filter(|r| r.deprecated == Some(version))
        .map(|r| r.spec_name.to_string())
        .collect()
}

/// The rule behind `MissingDomainContext`: the spec's compatibility note
/// of the version DOMAIN_CONTEXT came with, and the records it replaces
/// (those deprecated in that version, if any).
fn domain_context_rule() -> String {
    let dc = LibxcRecord::LAYOUT.name_of(LibxcRecord::DOMAIN_CONTEXT);
    let v = DOMAIN_CONTEXT_SINCE;
    let mut rule = format!("{dc}; v{v} compat with v{}", v - 1);
    let replaced = deprecated_by(v);
    if !replaced.is_empty() {
        rule.push_str(&format!(": {dc} replaces {}", and_list(&replaced)));
    }
    rule.push('.');
    rule
}

/// The records whose body (`array` false) or whose body's trailing array
/// of structs (`array` true) has the layout `s`.
fn records_with(s: &StructLayout, array: bool) -> Vec<u32> {
    let is = |l: &StructLayout| l.rust_name == s.rust_name;
    let holds = |r: &&RecordLayout| match (r.body, array) {
        (Some(b), false) => is(b),
        (Some(b), true) => {
            matches!(b.trailing().map(|f| f.kind), Some(FieldKind::TrailingStruct(e)) if is(e))
        }
        (None, _) => false,
    };
    LibxcRecord::LAYOUT
        .records
        .iter()
        .filter(holds)
        .map(|r| r.code)
        .collect()
}

/// What the catalogue calls a struct of the libxc layouts: the two
/// stream headers by their place, a record body by its records (a whole
/// set by its prefix: `X86_PV_VCPU_*`), an element of a record body's
/// array as the records' `entry`, anything else by its Rust name.
fn struct_name(s: &StructLayout) -> String {
    if s.rust_name == ImageHeader::LAYOUT.rust_name {
        return "image header".to_string();
    }
    if s.rust_name == DomainHeader::LAYOUT.rust_name {
        return "domain header".to_string();
    }
    let bodies = records_with(s, false);
    if !bodies.is_empty() {
        return and_list(&record_names(&bodies));
    }
    let arrays = records_with(s, true);
    if !arrays.is_empty() {
        return format!("{} entry", and_list(&record_names(&arrays)));
    }
    s.rust_name.to_string()
}

/// The reserved fields and bits of a libxc struct, from its field table
/// (`options bits 1-15`, `_res1`), and for the PAGE_DATA body the
/// reserved bits of its pfn entries ([`PAGE_DATA_PFN_RESERVED_MASK`],
/// numbered from the top as the entry's layout is).
fn reserved_items(s: &StructLayout) -> Vec<String> {
    let mut items: Vec<String> = s
        .fields
        .iter()
        .filter_map(|f| match f.constraint {
            Constraint::Reserved => Some(f.name.to_string()),
            Constraint::ReservedBits(mask) => {
                let (lo, hi) = bit_span(mask);
                Some(format!("{} bits {lo}-{hi}", f.name))
            }
            _ => None,
        })
        .collect();
    if s.rust_name == PageDataHeader::LAYOUT.rust_name {
        if let Some(pfn) = s.trailing() {
            let (lo, hi) = bit_span(PAGE_DATA_PFN_RESERVED_MASK);
            items.push(format!("{} bits {hi}-{lo}", pfn.name));
        }
    }
    items
}

/// Every reserved field and reserved bits of the libxc layouts
/// ([`LIBXC_STRUCTS`]), by struct, structs with the same reserved fields
/// in a row named together: `image header options bits 1-15, _res1 and
/// _res2; domain header _res1; ...`.
fn reserved_fields() -> String {
    let mut groups: Vec<(Vec<String>, String)> = Vec::new();
    for s in LIBXC_STRUCTS {
        let items = reserved_items(s);
        if items.is_empty() {
            continue;
        }
        let items = and_list(&items);
        match groups.last_mut() {
            Some((names, last)) if *last == items => names.push(struct_name(s)),
            _ => groups.push((vec![struct_name(s)], items)),
        }
    }
    let parts: Vec<String> = groups
        .iter()
        .map(|(names, items)| format!("{} {items}", and_list(names)))
        .collect();
    parts.join("; ")
}

/// The fields of record bodies that allow a set of values and report
/// `BadValue` (no KIND of their own), each as `f` spells the field's name
/// and its values (`4 or 8`), by record: `X86_PV_INFO guest_width not 4
/// or 8, pt_levels not 3 or 4`.
fn allowed_values(f: impl Fn(&str, &str) -> String, sep: &str) -> String {
    let mut parts = Vec::new();
    for r in LibxcRecord::LAYOUT.records {
        let Some(body) = r.body else { continue };
        let fields: Vec<String> = body
            .fields
            .iter()
            .filter(|fl| fl.error.is_none())
            .filter_map(|fl| match fl.constraint {
                Constraint::OneOf(vs) => {
                    let vs: Vec<String> = vs.iter().map(|v| v.to_string()).collect();
                    Some(f(fl.name, &or_list(&vs)))
                }
                _ => None,
            })
            .collect();
        if !fields.is_empty() {
            parts.push(format!("{}{sep}{}", r.spec_name, fields.join(", ")));
        }
    }
    parts.join("; ")
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
                &format!("The image header does not start with {}: not a libxc stream (a legacy pre-Xen-4.5 image starts otherwise).", marker_text()),
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
                &format!("A reserved field or reserved bits are not zero: {}.", reserved_fields()),
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
                &format!("Domain Header: page_shift; Xen restores {} KiB pages only (xg_sr_restore.c refuses other shifts).", PAGE_SIZE >> 10),
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
                &format!("Records: bodies are padded with zeros to a multiple of {REC_ALIGN} octets."),
                StrictOnly, "the first non-zero padding octet", None, Some(StreamError),
            ),
            K::UnknownMandatory => e(
                "A record type the table does not hold, with bit 31 (optional) clear: a restore cannot skip it.",
                "Records: a type with bit 31 set may be skipped; any other unknown type is an error.",
                Both, "the record header", None, Some(StreamError),
            ),
            K::RecordTooNew => e(
                &format!("A record type introduced by a later version than the stream's ({}).", newer_records()),
                &format!("Compatibility with older versions: {}.", compat_pairs()),
                ByRule, "the record header", None, Some(StreamError),
            ),
            K::DeprecatedRecord => e(
                &format!("A {} record: deprecated since the stream format began and never valid in a stream.", or_list(&deprecated_by(0))),
                &format!("{} (deprecated): its data travels in the libxl stream instead.", deprecated_by(0).join("/")),
                Both, "the record header", None, Some(StreamError),
            ),
            K::BackChannelRecord => e(
                &format!("A {} record in a forward stream.", or_list(&record_names(BACK_CHANNEL_RECORDS))),
                &format!("{}: only the COLO back channel (secondary to primary) carries it.", record_names(BACK_CHANNEL_RECORDS).join("/")),
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
                &format!("A body field outside its allowed values ({}).", allowed_values(|f, vs| format!("{f} not {vs}"), " ")),
                &format!("{}.", allowed_values(|f, vs| format!("{f} ({vs})"), ": ")),
                Both, "the field", None, Some(RecordError),
            ),
            K::BadPageCount => e(
                "A PAGE_DATA record's count is zero, or its pfn array does not fit in the body.",
                "PAGE_DATA: count is the number of pfns (at least one); the pfn array follows the header.",
                Both, "the count field", None, Some(RecordError),
            ),
            K::BadPageType => e(
                &format!("A PAGE_DATA pfn entry has a reserved page type ({}).", reserved_page_types()),
                &format!("PAGE_DATA: the page types table (types {} are not defined).", reserved_page_type_range()),
                Both, "the pfn entry", None, Some(RecordError),
            ),
            K::MissingStaticDataEnd => e(
                &format!("In a v{STATIC_DATA_END_SINCE}+ stream, memory or register state ({}) comes before STATIC_DATA_END, or END comes without one.", record_names(DYNAMIC_RECORDS).join(", ")),
                "STATIC_DATA_END; Layout: static data first, then STATIC_DATA_END, then dynamic state.",
                ByRule, "the record header (the END record when none was seen)", None, Some(StreamError),
            ),
            K::DuplicateStaticDataEnd => e(
                &format!("A second STATIC_DATA_END (in {} the first {} of a PV guest or the first {} of an HVM guest stands for one).", before(STATIC_DATA_END_SINCE, "/"), record_name(v2_static_data_end_at(DomainType::X86Pv)), record_name(v2_static_data_end_at(DomainType::X86Hvm))),
                &format!("STATIC_DATA_END: sent once; v{STATIC_DATA_END_SINCE} compat with v{}: where a v{} receiver infers it.", STATIC_DATA_END_SINCE - 1, STATIC_DATA_END_SINCE - 1),
                Both, "the record header", None, Some(StreamError),
            ),
            K::WrongGuestType => e(
                &format!("A record for the other guest type: an {} record in an HVM stream, or {} in a PV stream.", or_list(&record_names(PV_ONLY_RECORDS)), record_names(HVM_ONLY_RECORDS).join("/")),
                &format!("{LAYOUT_PV}, {}.", LAYOUT_HVM.trim_start_matches("Layout: ")),
                Both, "the record header", None, Some(StreamError),
            ),
            K::OutOfOrder => e(
                &format!("Records in an order the layout forbids: {}.", forbidden_orders()),
                &format!("{LAYOUT_PV}, {}.", LAYOUT_HVM.trim_start_matches("Layout: ")),
                ByRule, "the record header", None, Some(StreamError),
            ),
            K::DuplicateRecord => e(
                &format!("A record that may come once came twice ({}).", and_list(&once_records())),
                "Xen's restore: handle_x86_pv_info refuses a second X86_PV_INFO.",
                Both, "the record header", None, Some(StreamError),
            ),
            K::MissingRecord => e(
                "A record the stream must hold is missing when it completes: vCPU 0's X86_PV_VCPU_BASIC (Xen's restore), or one of the PV records the layout requires (strict).",
                &format!("{LAYOUT_PV} (the following records must be present); Xen's restore: update_vcpu_context needs vCPU 0's basic state."),
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
                &format!("{LAYOUT_PV} (X86_PV_P2M_FRAMES before PAGE_DATA); Xen's restore: x86_pv_localise_page, pfn_to_mfn, handle_x86_pv_p2m_frames (see the rule table)."),
                Both, "the record header; for a page-table entry, the entry", None, Some(RecordError),
            ),
            K::MissingDomainContext => e(
                &format!("In a v{DOMAIN_CONTEXT_SINCE} stream, a segment (the records up to a CHECKPOINT or END) has no DOMAIN_CONTEXT record."),
                &domain_context_rule(),
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
    use super::super::rules;
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

    #[test]
    fn texts_name_the_descriptions_values() {
        use ErrorKind as K;
        let summary = |k: ErrorKind| k.entry().summary;
        let rule = |k: ErrorKind| k.entry().rule;
        for w in SUPPORTED_VERSIONS.windows(2) {
            let pair = format!("v{} compat with v{}", w[1], w[0]);
            assert!(rule(K::RecordTooNew).contains(&pair), "{pair}");
        }
        for v in SUPPORTED_VERSIONS {
            assert!(summary(K::UnsupportedVersion).contains(&v.to_string()));
        }
        let dc = format!(
            "v{DOMAIN_CONTEXT_SINCE} compat with v{}",
            DOMAIN_CONTEXT_SINCE - 1
        );
        assert!(rule(K::MissingDomainContext).contains(&dc));
        for r in LibxcRecord::LAYOUT.records {
            if r.deprecated == Some(DOMAIN_CONTEXT_SINCE) {
                assert!(rule(K::MissingDomainContext).contains(r.spec_name));
            }
        }
        let never: Vec<&str> = LibxcRecord::LAYOUT
            .records
            .iter()
            .filter(|r| r.deprecated == Some(0))
            .map(|r| r.spec_name)
            .collect();
        assert!(!never.is_empty());
        for name in never {
            assert!(summary(K::DeprecatedRecord).contains(name), "{name}");
            assert!(rule(K::DeprecatedRecord).contains(name), "{name}");
        }
        for k in [K::WrongGuestType, K::OutOfOrder] {
            assert_eq!(rule(k), "Layout: x86 PV Guest, x86 HVM Guest.");
        }
        assert!(summary(K::BadMarker).contains("eight 0xff octets"));
        let (lo, hi) = bit_span(u64::from(crate::libxc::IHDR_OPT_RESERVED_MASK));
        assert!(summary(K::ReservedNonZero).contains(&format!("options bits {lo}-{hi}")));
        let (lo, hi) = bit_span(PAGE_DATA_PFN_RESERVED_MASK);
        assert!(summary(K::ReservedNonZero).contains(&format!("pfn bits {hi}-{lo}")));
        // Every reserved field of the libxc layouts is named, after the
        // name of its struct.
        let reserved = summary(K::ReservedNonZero);
        let mut named = 0;
        for s in LIBXC_STRUCTS {
            for f in s.fields {
                if matches!(
                    f.constraint,
                    Constraint::Reserved | Constraint::ReservedBits(_)
                ) {
                    let at = reserved.find(&struct_name(s)).expect(s.rust_name);
                    assert!(
                        reserved[at..].contains(f.name),
                        "{}.{}",
                        s.rust_name,
                        f.name
                    );
                    named += 1;
                }
            }
        }
        assert!(named >= 9, "{named}");
        for (s, name) in [
            (&crate::libxc::X86PvVcpu::LAYOUT, "X86_PV_VCPU_*"),
            (&crate::libxc::XenMsrEntry::LAYOUT, "X86_MSR_POLICY entry"),
            (&ImageHeader::LAYOUT, "image header"),
            (&crate::libxc::HvmParams::LAYOUT, "HVM_PARAMS"),
        ] {
            assert_eq!(struct_name(s), name);
        }
        // The allowed values of X86_PV_INFO, from its field table.
        for field in ["guest_width", "pt_levels"] {
            let f = crate::libxc::X86PvInfo::LAYOUT.field(field).expect(field);
            let Constraint::OneOf(vs) = f.constraint else {
                panic!("{field}")
            };
            let vs: Vec<String> = vs.iter().map(|v| v.to_string()).collect();
            let text = format!("{field} not {}", or_list(&vs));
            assert!(summary(K::BadValue).contains(&text), "{text}");
        }
        assert!(rule(K::BadPageShift).contains(&format!("{} KiB", PAGE_SIZE >> 10)));
        assert!(rule(K::PaddingNonZero).contains(&format!("multiple of {REC_ALIGN} octets")));
        let reserved = reserved_page_type_values();
        for t in [reserved[0], reserved[reserved.len() - 1]] {
            assert!(rule(K::BadPageType).contains(&t.to_string()));
        }
        // Every record of a set is named, alone or by its set's prefix.
        let named = |text: &str, codes: &[u32]| {
            codes.iter().all(|&c| {
                let name = record_name(c);
                text.contains(&name)
                    || RECORD_GROUPS.iter().any(|g| {
                        g.contains(&c)
                            && name.starts_with(group_name(g).trim_end_matches('*'))
                            && text.contains(&group_name(g))
                    })
            })
        };
        assert!(named(&summary(K::MissingStaticDataEnd), DYNAMIC_RECORDS));
        assert!(named(&summary(K::WrongGuestType), PV_ONLY_RECORDS));
        assert!(named(&summary(K::WrongGuestType), HVM_ONLY_RECORDS));
        assert!(named(&summary(K::BackChannelRecord), BACK_CHANNEL_RECORDS));
        assert_eq!(group_name(PV_VCPU_RECORDS), "X86_PV_VCPU_*");
        assert_eq!(group_name(PV_ONLY_RECORDS), "X86_PV_*");
        for r in ORDER_RULES {
            match r.check {
                OrderCheck::After { first, records } if r.rule.kind == K::OutOfOrder => {
                    assert!(named(&summary(K::OutOfOrder), records), "{}", r.rule.name);
                    assert!(summary(K::OutOfOrder).contains(&record_name(first)));
                }
                OrderCheck::NotAfter { last, records, .. } if r.rule.kind == K::OutOfOrder => {
                    assert!(named(&summary(K::OutOfOrder), records), "{}", r.rule.name);
                    assert!(summary(K::OutOfOrder).contains(&record_name(last)));
                }
                OrderCheck::AtMostOnce { record } if r.rule.kind == K::DuplicateRecord => {
                    assert!(summary(K::DuplicateRecord).contains(&record_name(record)));
                }
                _ => {}
            }
        }
        let hvm_since = crate::libxc::order_since(&rules::HVM_PARAMS_FIRST);
        assert!(summary(K::OutOfOrder).contains(&format!("in v{hvm_since}")));
        for domain in [DomainType::X86Pv, DomainType::X86Hvm] {
            let at = record_name(v2_static_data_end_at(domain));
            assert!(summary(K::DuplicateStaticDataEnd).contains(&at));
        }
    }
}
