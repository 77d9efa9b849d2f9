//! Body checks driven by the layout descriptors: length rules, allowed
//! values and reserved fields, with absolute offsets for every field.

use binrw::Endian;

use super::error::{ErrorKind, FieldRef, Location, RecordInfo, StreamError};
use super::Mode;
use crate::layout::{
    Constraint, FieldKind, FieldLayout, LengthRule, RecordLayout, StructLayout, Wire,
};
use crate::libxc::{
    LibxcRecord, PageDataHeader, PageType, PAGE_DATA_PFN_RESERVED_MASK, PAGE_DATA_TYPE_SHIFT,
    PAGE_SIZE,
};

/// Which constraints a walk checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pass {
    /// Exact values, allowed sets and enumerations (`BadValue`).
    Values,
    /// Reserved fields and bits (`ReservedNonZero`).
    Reserved,
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
        _ => String::new(),
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

fn check_one(pass: Pass, f: &FieldLayout, value: u64, at: Location) -> Result<(), StreamError> {
    let c = &f.constraint;
    let broken = match c {
        Constraint::Equals(v) => value != *v,
        Constraint::OneOf(vs) => !vs.contains(&value),
        Constraint::Enum(e) => e.variant(value).is_none(),
        _ => false,
    };
    match (pass, c) {
        (Pass::Values, _) if broken => Err(value_error(f.error, at, value, allowed(c))),
        // Rules `reserved-zero` and `msr-policy-flags-zero`
        // (`rules::reserved_rule`): strict mode only.
        (Pass::Reserved, Constraint::Reserved) if value != 0 => {
            Err(StreamError::ReservedNonZero { at, value })
        }
        (Pass::Reserved, Constraint::ReservedBits(mask)) if value & mask != 0 => {
            Err(StreamError::ReservedNonZero {
                at,
                value: value & mask,
            })
        }
        _ => Ok(()),
    }
}

/// Checks every field of `bytes` (a struct laid out as `layout`, starting
/// at absolute offset `base`) against its constraint, trailing arrays
/// included. `bytes` must be at least `layout.size` long.
pub(crate) fn walk(
    layout: &'static StructLayout,
    bytes: &[u8],
    base: u64,
    endian: Endian,
    record: Option<RecordInfo>,
    pass: Pass,
) -> Result<(), StreamError> {
    walk_in(layout, bytes, base, endian, record, pass, None)
}

fn walk_in(
    layout: &'static StructLayout,
    bytes: &[u8],
    base: u64,
    endian: Endian,
    record: Option<RecordInfo>,
    pass: Pass,
    array: Option<(&'static str, u64)>,
) -> Result<(), StreamError> {
    let endian = crate::layout::resolve_endian(layout.byte_order, endian);
    for f in layout.fields {
        let fref = |element| FieldRef {
            structure: layout.rust_name,
            array,
            field: f.name,
            element,
        };
        match f.kind {
            FieldKind::Prim(p) => {
                if matches!(f.constraint, Constraint::None) {
                    continue;
                }
                let v = uint(bytes, f.offset, p.size(), endian);
                let at = Location::field(record, base + f.offset as u64, fref(None));
                check_one(pass, f, v, at)?;
            }
            FieldKind::Array(p, n) => {
                if matches!(f.constraint, Constraint::None) {
                    continue;
                }
                // The offset is the array's: a field is reported by its
                // first octet, whichever element breaks the rule.
                for i in 0..n {
                    let off = f.offset + i * p.size();
                    let v = uint(bytes, off, p.size(), endian);
                    let at = Location::field(record, base + f.offset as u64, fref(Some(i as u64)));
                    check_one(pass, f, v, at)?;
                }
            }
            FieldKind::TrailingPrim(p) => {
                if matches!(f.constraint, Constraint::None) {
                    continue;
                }
                let mut off = layout.size;
                let mut i = 0u64;
                while off + p.size() <= bytes.len() {
                    let v = uint(bytes, off, p.size(), endian);
                    let at = Location::field(record, base + off as u64, fref(Some(i)));
                    check_one(pass, f, v, at)?;
                    off += p.size();
                    i += 1;
                }
            }
            FieldKind::TrailingStruct(s) => {
                if s.size == 0 {
                    continue;
                }
                let mut off = layout.size;
                let mut i = 0u64;
                while off + s.size <= bytes.len() {
                    walk_in(
                        s,
                        &bytes[off..off + s.size],
                        base + off as u64,
                        endian,
                        record,
                        pass,
                        Some((f.name, i)),
                    )?;
                    off += s.size;
                    i += 1;
                }
            }
        }
    }
    Ok(())
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
    let body = info.body_offset();
    let fref = |field, element| FieldRef {
        structure: PageDataHeader::LAYOUT.rust_name,
        array: None,
        field,
        element,
    };
    if res1 != 0 {
        let off = PageDataHeader::LAYOUT
            .field("_res1")
            .map_or(4, |f| f.offset) as u64;
        return Err(StreamError::ReservedNonZero {
            at: Location::field(Some(info), body + off, fref("_res1", None)),
            value: u64::from(res1),
        });
    }
    let fixed = PageDataHeader::LAYOUT.size as u64;
    if let Some((i, e)) = pfns
        .iter()
        .enumerate()
        .find(|(_, e)| *e & PAGE_DATA_PFN_RESERVED_MASK != 0)
    {
        return Err(StreamError::ReservedNonZero {
            at: Location::field(
                Some(info),
                body + fixed + 8 * i as u64,
                fref("pfn", Some(i as u64)),
            ),
            value: e & PAGE_DATA_PFN_RESERVED_MASK,
        });
    }
    Ok(())
}

/// Checks a whole PAGE_DATA body held in memory, the way the reader's
/// page batch does.
fn page_data_in_memory(
    info: RecordInfo,
    body: &[u8],
    endian: Endian,
) -> Result<(u32, usize), StreamError> {
    let fixed = PageDataHeader::LAYOUT.size;
    if body.len() < fixed {
        return Err(StreamError::BadLength {
            at: Location::record(info),
            length: info.length,
            reason: format!("PAGE_DATA needs at least {fixed} octets"),
        });
    }
    let count = uint(body, 0, 4, endian) as u32;
    let res1 = uint(body, 4, 4, endian) as u32;
    let reason = if count == 0 {
        Some("a PAGE_DATA record must hold at least one pfn")
    } else if u64::from(count) * 8 > (body.len() - fixed) as u64 {
        Some("the pfn array does not fit in the body")
    } else {
        None
    };
    if let Some(reason) = reason {
        return Err(StreamError::BadPageCount {
            at: Location::field(
                Some(info),
                info.body_offset(),
                FieldRef {
                    structure: PageDataHeader::LAYOUT.rust_name,
                    array: None,
                    field: "count",
                    element: None,
                },
            ),
            count,
            reason,
        });
    }
    let mut with_data = 0usize;
    for i in 0..count as usize {
        let e = uint(body, fixed + 8 * i, 8, endian);
        match PageType::of_entry(e) {
            Some(t) if t.has_data() => with_data += 1,
            Some(_) => {}
            None => {
                return Err(StreamError::BadPageType {
                    at: Location::field(
                        Some(info),
                        info.body_offset() + (fixed + 8 * i) as u64,
                        FieldRef {
                            structure: PageDataHeader::LAYOUT.rust_name,
                            array: None,
                            field: "pfn",
                            element: Some(i as u64),
                        },
                    ),
                    entry: e,
                    ptype: (e >> PAGE_DATA_TYPE_SHIFT) as u8,
                })
            }
        }
    }
    let expected = fixed + 8 * count as usize + with_data * PAGE_SIZE;
    if expected != body.len() {
        return Err(StreamError::BadLength {
            at: Location::record(info),
            length: info.length,
            reason: format!(
                "{count} pfn entries with {with_data} pages of contents make {expected} octets"
            ),
        });
    }
    Ok((res1, with_data))
}

/// Checks one known record body without parsing it into a typed value:
/// length rule, allowed values and (strict mode) reserved fields, in that
/// order. Allocates nothing.
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
    let mut res1 = 0;
    if info.rtype == LibxcRecord::PAGE_DATA {
        res1 = page_data_in_memory(info, body, endian)?.0;
    } else if !(mode == Mode::Lenient && layout.length == LengthRule::Exact(0)) {
        // Xen's restore never looks at the body of a record whose spec
        // body is empty (END, STATIC_DATA_END, CHECKPOINT, VERIFY): only
        // strict mode checks it (rule `empty-body`).
        length_rule(info, layout, body, endian)?;
    }
    if let Some(s) = layout.body {
        if body.len() >= s.size {
            walk(
                s,
                body,
                info.body_offset(),
                endian,
                Some(info),
                Pass::Values,
            )?;
            if mode == Mode::Strict && info.rtype != LibxcRecord::PAGE_DATA {
                walk(
                    s,
                    body,
                    info.body_offset(),
                    endian,
                    Some(info),
                    Pass::Reserved,
                )?;
            }
        }
    }
    if mode == Mode::Strict && info.rtype == LibxcRecord::PAGE_DATA {
        let fixed = PageDataHeader::LAYOUT.size;
        let count = uint(body, 0, 4, endian) as usize;
        let pfns: Vec<u64> = (0..count)
            .map(|i| uint(body, fixed + 8 * i, 8, endian))
            .collect();
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
