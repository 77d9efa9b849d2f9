//! Body checks driven by the layout descriptors: length rules, allowed
//! values and reserved fields, with absolute offsets for every field.

use binrw::Endian;

use super::error::{ErrorKind, FieldRef, Location, RecordInfo, StreamError};
use super::Mode;
use crate::bytes::{decode_u64s, u32_at};
use crate::layout::{
    first_broken, Constraint, FieldKind, FieldLayout, LengthRule, RecordLayout, StructLayout,
    ViolationRule, Wire,
};
use crate::libxc::{
    page_count_reason, LibxcRecord, PageData, PageDataError, PageDataHeader, PAGE_DATA_COUNT_AT,
    PAGE_DATA_RES1_AT, PAGE_DATA_TYPE_SHIFT, PFN_ENTRY_SIZE,
};

/// Which field rules a walk reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rules {
    /// Value rules only: exact values, allowed sets, enumerations and
    /// bounds (`BadValue` and the KINDs fields name). PAGE_DATA's
    /// reserved octets are checked with its pfns instead.
    Values,
    /// Value rules, and the reserved rules (`ReservedNonZero`) this mode
    /// checks: all of them in strict mode, those annotated `lenient` in
    /// lenient mode ([`FieldLayout::lenient`]).
    All(Mode),
}

impl Rules {
    /// Whether a broken `rule` of field `f` is reported.
    fn reports(self, f: &FieldLayout, rule: ViolationRule) -> bool {
        match self {
            Rules::Values => !rule.is_reserved(),
            // Value rules always; rules `reserved-zero` and
            // `msr-policy-flags-zero` (`rules::reserved_rule`) in strict
            // mode only, unless a field is annotated `lenient` (none of
            // the libxc layer is).
            Rules::All(mode) => mode.checks(f.lenient),
        }
    }
}

/// The field of `size` octets at `off`; every caller has checked that
/// `b` holds it (0 otherwise, which no caller reaches).
fn uint(b: &[u8], off: usize, size: usize, endian: Endian) -> u64 {
    crate::bytes::uint_at(b, off, size, endian).unwrap_or(0)
}

fn allowed(c: &Constraint) -> String {
    match c {
        Constraint::Equals(v) => format!("0x{v:x}"),
        Constraint::OneOf(vs) => vs
            .iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        Constraint::Enum(e) => e
            .variants
            .iter()
            .map(|v| format!("{} ({})", v.value, v.human))
            .collect::<Vec<_>>()
            .join(", "),
        Constraint::AtMost(max) => format!("at most {max}"),
        Constraint::None | Constraint::Reserved | Constraint::ReservedBits(_) => String::new(),
    }
}

/// The error of a broken value rule: the KIND the field's annotation
/// names (`#[wire(error = "BadMarker")]`), or `BadValue`.
pub(crate) fn value_error(
    error: Option<&str>,
    at: Location,
    value: u64,
    allowed: String,
) -> StreamError {
    // A value that broke its rule was read from a field of the KIND's
    // width; the casts only narrow the type.
    match error.and_then(ErrorKind::from_name) {
        Some(ErrorKind::BadMarker) => StreamError::BadMarker { at, found: value },
        Some(ErrorKind::BadId) => StreamError::BadId {
            at,
            found: value as u32,
        },
        Some(ErrorKind::UnsupportedVersion) => StreamError::UnsupportedVersion {
            at,
            found: value as u32,
        },
        Some(ErrorKind::BadDomainType) => StreamError::BadDomainType {
            at,
            found: value as u32,
        },
        Some(ErrorKind::BadPageShift) => StreamError::BadPageShift {
            at,
            found: value as u16,
        },
        _ => StreamError::BadValue { at, value, allowed },
    }
}

/// Checks the fields of `bytes` (a struct laid out as `layout`, starting
/// at absolute offset `base`) against their rules, trailing arrays
/// included, and reports the first broken one in field order
/// ([`first_broken`]). `bytes` must be at least `layout.size` long.
pub(crate) fn walk(
    layout: &'static StructLayout,
    bytes: &[u8],
    base: u64,
    endian: Endian,
    record: Option<RecordInfo>,
    rules: Rules,
) -> Result<(), StreamError> {
    let endian = crate::layout::resolve_endian(layout.byte_order, endian);
    let Some(b) = first_broken(layout, bytes, endian, &|f, rule| rules.reports(f, rule)) else {
        return Ok(());
    };
    let fref = FieldRef {
        structure: b.structure.rust_name,
        array: b.array,
        field: b.field.name,
        element: b.element,
    };
    let at = Location::field(record, base + b.offset as u64, fref);
    Err(if b.rule.is_reserved() {
        StreamError::ReservedNonZero { at, value: b.value }
    } else {
        value_error(b.field.error, at, b.value, allowed(&b.field.constraint))
    })
}

/// Checks a body length against a record's length rule (not PAGE_DATA).
pub(crate) fn length_rule(
    info: RecordInfo,
    layout: &RecordLayout,
    body: &[u8],
    endian: Endian,
) -> Result<(), StreamError> {
    let len = body.len();
    let bad = |reason: String| StreamError::BadLength {
        at: Location::record(info),
        length: info.length,
        reason,
    };
    match layout.length {
        LengthRule::Exact(n) if len != n => Err(bad(format!(
            "{} bodies are exactly {n} octets",
            layout.spec_name
        ))),
        LengthRule::Exact(_) => Ok(()),
        // Rules `hvm-context-not-empty`, `domain-context-not-empty`
        // (`rules::non_empty_rule`): both modes.
        LengthRule::NonEmpty if len == 0 => Err(bad(format!(
            "{} bodies must not be empty",
            layout.spec_name
        ))),
        LengthRule::NonEmpty => Ok(()),
        LengthRule::Rest { fixed, element } => {
            if len < fixed || (element != 0 && !(len - fixed).is_multiple_of(element)) {
                Err(bad(format!(
                    "{} bodies are {fixed} octets then whole {element}-octet elements",
                    layout.spec_name
                )))
            } else {
                Ok(())
            }
        }
        LengthRule::Counted {
            fixed,
            field,
            element,
        } => {
            if len < fixed {
                return Err(bad(format!(
                    "{} bodies are at least {fixed} octets",
                    layout.spec_name
                )));
            }
            let f = layout.body.and_then(|b| b.field(field));
            let count = match f.map(|f| (f.offset, f.kind)) {
                Some((off, FieldKind::Prim(p))) => uint(body, off, p.size(), endian),
                _ => return Ok(()),
            };
            let need = (fixed as u64).saturating_add(count.saturating_mul(element as u64));
            if len as u64 != need {
                Err(bad(format!(
                    "{field} = {count} needs {fixed} + {count} x {element} = {need} octets"
                )))
            } else {
                Ok(())
            }
        }
        LengthRule::PageData => Ok(()),
    }
}

/// Whether a body of this length is a variable-sized record with no
/// content (the spec errata: HVM_PARAMS with count 0, a vCPU record with
/// no context octets).
pub(crate) fn is_empty_content(layout: &RecordLayout, len: usize) -> bool {
    match layout.length {
        LengthRule::Rest { fixed, .. } | LengthRule::Counted { fixed, .. } => len == fixed,
        _ => false,
    }
}

/// Checks the reserved parts of a PAGE_DATA record: `_res1` and bits 59-52
/// of every pfn entry. Used by the verifier and by strict readers; a
/// restore ignores them.
pub fn check_page_reserved(info: RecordInfo, res1: u32, pfns: &[u64]) -> Result<(), StreamError> {
    if res1 != 0 {
        let off = PAGE_DATA_RES1_AT as u64;
        return Err(StreamError::ReservedNonZero {
            at: Location::field(
                Some(info),
                info.body_offset() + off,
                page_field("_res1", None),
            ),
            value: u64::from(res1),
        });
    }
    check_pfns_reserved(info, pfns)
}

/// Checks bits 59-52 of every pfn entry of a PAGE_DATA record.
pub(crate) fn check_pfns_reserved(info: RecordInfo, pfns: &[u64]) -> Result<(), StreamError> {
    match PageData::first_reserved(pfns) {
        Some((i, value)) => Err(StreamError::ReservedNonZero {
            at: pfn_location(info, i),
            value,
        }),
        None => Ok(()),
    }
}

/// A field of [`PageDataHeader`] (`element`: of the pfn array).
fn page_field(field: &'static str, element: Option<u64>) -> FieldRef {
    FieldRef {
        structure: PageDataHeader::LAYOUT.rust_name,
        array: None,
        field,
        element,
    }
}

/// Where pfn entry `i` of a PAGE_DATA record is.
fn pfn_location(info: RecordInfo, i: usize) -> Location {
    let fixed = PageDataHeader::LAYOUT.size as u64;
    Location::field(
        Some(info),
        info.body_offset() + fixed + (PFN_ENTRY_SIZE * i) as u64,
        page_field("pfn", Some(i as u64)),
    )
}

/// The error a broken PAGE_DATA framing rule of record `info` reports:
/// `BadLength`, `BadPageCount` (at `count`) or `BadPageType` (at the
/// entry).
pub(crate) fn page_data_error(info: RecordInfo, e: PageDataError) -> StreamError {
    match e {
        PageDataError::TooShort { .. } | PageDataError::Length { .. } => StreamError::BadLength {
            at: Location::record(info),
            length: info.length,
            reason: e.to_string(),
        },
        PageDataError::BadCount { count, .. } => StreamError::BadPageCount {
            at: Location::field(Some(info), info.body_offset(), page_field("count", None)),
            count,
            reason: page_count_reason(count),
        },
        PageDataError::BadType { index, entry } => StreamError::BadPageType {
            at: pfn_location(info, index),
            entry,
            ptype: (entry >> PAGE_DATA_TYPE_SHIFT) as u8,
        },
    }
}

/// Checks a whole PAGE_DATA body held in memory, the way the reader's
/// page batch does: its `_res1` field and its pfn entries.
fn page_data_in_memory(
    info: RecordInfo,
    body: &[u8],
    endian: Endian,
) -> Result<(u32, Vec<u64>), StreamError> {
    let framing = |e| page_data_error(info, e);
    let len = body.len() as u64;
    let count = u32_at(body, PAGE_DATA_COUNT_AT, endian).unwrap_or(0);
    let res1 = u32_at(body, PAGE_DATA_RES1_AT, endian).unwrap_or(0);
    let count = PageData::check_count(count, len).map_err(framing)?;
    let mut pfns = vec![0u64; count];
    decode_u64s(&body[PageDataHeader::LAYOUT.size..], endian, &mut pfns);
    let with_data = PageData::pages_with_data(&pfns).map_err(framing)?;
    PageData::check_length(count, with_data, len).map_err(framing)?;
    Ok((res1, pfns))
}

/// Checks one known record body without parsing it into a typed value:
/// length rule, allowed values and the reserved fields `mode` checks (all
/// in strict mode, those annotated `lenient` in lenient mode), in that
/// order. Allocates nothing but, for PAGE_DATA, its pfn entries decoded.
pub(crate) fn validate(
    info: RecordInfo,
    body: &[u8],
    endian: Endian,
    mode: Mode,
) -> Result<&'static RecordLayout, StreamError> {
    let Some(layout) = LibxcRecord::LAYOUT.by_code(info.rtype) else {
        return Err(StreamError::Misuse {
            at: Location::record(info),
            what: "not a record type of the table".into(),
        });
    };
    let mut page_data = None;
    if info.rtype == LibxcRecord::PAGE_DATA {
        page_data = Some(page_data_in_memory(info, body, endian)?);
    } else if !(mode == Mode::Lenient && layout.length == LengthRule::Exact(0)) {
        // Xen's restore never looks at the body of a record whose spec
        // body is empty (END, STATIC_DATA_END, CHECKPOINT, VERIFY): only
        // strict mode checks it (rule `empty-body`).
        length_rule(info, layout, body, endian)?;
    }
    if let Some(s) = layout.body {
        if body.len() >= s.size {
            // PAGE_DATA's reserved octets are checked with its pfns, below.
            let rules = if info.rtype == LibxcRecord::PAGE_DATA {
                Rules::Values
            } else {
                Rules::All(mode)
            };
            walk(s, body, info.body_offset(), endian, Some(info), rules)?;
        }
    }
    if let (Mode::Strict, Some((res1, pfns))) = (mode, page_data) {
        check_page_reserved(info, res1, &pfns)?;
    }
    Ok(layout)
}

/// Checks and parses one known record body (see [`validate`]).
pub(crate) fn body(
    info: RecordInfo,
    body: &[u8],
    endian: Endian,
    mode: Mode,
) -> Result<LibxcRecord, StreamError> {
    validate(info, body, endian, mode)?;
    LibxcRecord::parse_body(info.rtype, body, endian)
        .map_err(|e| StreamError::BadLength {
            at: Location::record(info),
            length: info.length,
            reason: e.to_string(),
        })?
        .ok_or_else(|| StreamError::Misuse {
            at: Location::record(info),
            what: "the table and the parser disagree".into(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::libxc::LIBXC_STRUCTS;

    #[test]
    fn every_value_annotation_of_the_libxc_structs_reports_its_kind() {
        let mut named = 0;
        for layout in LIBXC_STRUCTS {
            for f in layout.fields {
                let Some(kind) = f.error else { continue };
                let e = value_error(Some(kind), Location::at(0), 1, String::new());
                assert_eq!(e.kind().as_str(), kind, "{}.{}", layout.rust_name, f.name);
                named += 1;
            }
        }
        // The image and domain headers name five.
        assert!(named >= 5, "{named}");
        // A field with no annotation reports the generic kind.
        let e = value_error(None, Location::at(0), 1, String::new());
        assert_eq!(e.kind(), ErrorKind::BadValue);
    }

    #[test]
    fn lenient_mode_checks_exactly_the_reserved_rules_annotated_lenient() {
        use crate::libxc::{ImageHeader, IHDR_ID, IHDR_MARKER};
        let base = &ImageHeader::LAYOUT;
        // A good header with `_res1` (octets 18-19) set.
        let mut raw = [0u8; 24];
        raw[..8].copy_from_slice(&IHDR_MARKER.to_be_bytes());
        raw[8..12].copy_from_slice(&IHDR_ID.to_be_bytes());
        raw[12..16].copy_from_slice(&3u32.to_be_bytes());
        raw[19] = 1;
        let run = |layout: &'static StructLayout, pass| {
            walk(layout, &raw, 0, Endian::Big, None, pass).map_err(|e| e.kind())
        };
        let reserved = Err(ErrorKind::ReservedNonZero);
        assert_eq!(run(base, Rules::Values), Ok(()));
        assert_eq!(run(base, Rules::All(Mode::Strict)), reserved);
        assert_eq!(run(base, Rules::All(Mode::Lenient)), Ok(()));
        // The same header with `_res1` annotated `lenient`.
        let fields: Vec<FieldLayout> = base
            .fields
            .iter()
            .map(|f| FieldLayout {
                lenient: f.name == "_res1",
                ..*f
            })
            .collect();
        let annotated: &'static StructLayout = Box::leak(Box::new(StructLayout {
            fields: Box::leak(fields.into_boxed_slice()),
            ..*base
        }));
        assert_eq!(run(annotated, Rules::All(Mode::Strict)), reserved);
        assert_eq!(run(annotated, Rules::All(Mode::Lenient)), reserved);
    }

    #[test]
    fn no_libxc_reserved_rule_is_lenient_while_the_catalogue_says_strict_only() {
        // The catalogue states ReservedNonZero as a strict-only kind; a
        // libxc reserved field annotated `lenient` would make lenient mode
        // report it too, and the catalogue would need to say so.
        let strict_only =
            ErrorKind::ReservedNonZero.entry().modes == crate::stream::ErrorModes::StrictOnly;
        for layout in LIBXC_STRUCTS {
            for f in layout.fields {
                assert!(
                    !(strict_only && f.is_reserved() && f.lenient),
                    "{}.{} is lenient",
                    layout.rust_name,
                    f.name
                );
            }
        }
    }
}
